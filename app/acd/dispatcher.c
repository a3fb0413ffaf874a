/* dispatcher.c: eligibility, penalty tiers and strategies, as in app_queue. */
#include "acd/dispatcher.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const strategy_names[ACD_STRATEGY__COUNT] = {
    [ACD_RINGALL] = "ringall",         [ACD_LEASTRECENT] = "leastrecent",
    [ACD_FEWESTCALLS] = "fewestcalls", [ACD_RANDOM] = "random",
    [ACD_RRMEMORY] = "rrmemory",       [ACD_LINEAR] = "linear",
    [ACD_WRANDOM] = "wrandom",         [ACD_LONGEST_IDLE] = "longest_idle",
};

static const char *const state_names[ACD_AGENT__COUNT] = {
    [ACD_AGENT_OFFLINE] = "offline",
    [ACD_AGENT_AVAILABLE] = "available",
    [ACD_AGENT_RINGING] = "ringing",
    [ACD_AGENT_IN_CALL] = "in_call",
    [ACD_AGENT_AFTER_CALL_WORK] = "after_call_work",
    [ACD_AGENT_PAUSED] = "paused",
};

static const char *const skip_names[ACD_SKIP__COUNT] = {
    [ACD_SKIP_NONE] = "chosen",     [ACD_SKIP_OFFLINE] = "offline",
    [ACD_SKIP_PAUSED] = "paused",   [ACD_SKIP_WRAPUP] = "wrapup",
    [ACD_SKIP_BUSY] = "busy",       [ACD_SKIP_UNREACHABLE] = "unreachable",
    [ACD_SKIP_RETRY] = "retry",     [ACD_SKIP_SKILLS] = "skills",
    [ACD_SKIP_PENALTY] = "penalty", [ACD_SKIP_NOT_CHOSEN] = "not_chosen",
};

/* The running state of one acd_choose() call. */
struct run {
	const struct acd_agent *agents;
	const struct acd_campaign *c;
	const struct acd_caller *caller;
	int64_t now_us;
	int64_t retry_delay_us;
	uint64_t rnd;
	unsigned relax;
	bool tiers;           /* penalties form tiers (all but wrandom) */
	bool fresh_left;      /* someone eligible has not rung this caller */
	uint32_t tier;        /* lowest eligible penalty; UINT32_MAX none */
	uint32_t best;        /* member index picked so far; UINT32_MAX none */
	uint64_t best_metric; /* its metric */
};

static int parse(const char *const *names, int count, const char *name)
{
	for (int i = 0; name && i < count; i++) {
		if (strcmp(names[i], name) == 0)
			return i;
	}
	return -EINVAL;
}

int acd_strategy_parse(const char *name, enum acd_strategy *ret)
{
	int i = parse(strategy_names, ACD_STRATEGY__COUNT, name);

	if (i < 0 || !ret)
		return -EINVAL;
	*ret = (enum acd_strategy)i;
	return 0;
}

const char *acd_strategy_name(enum acd_strategy strategy)
{
	return (unsigned)strategy < ACD_STRATEGY__COUNT
		   ? strategy_names[strategy]
		   : "?";
}

int acd_agent_state_parse(const char *name, enum acd_agent_state *ret)
{
	int i = parse(state_names, ACD_AGENT__COUNT, name);

	if (i < 0 || !ret)
		return -EINVAL;
	*ret = (enum acd_agent_state)i;
	return 0;
}

const char *acd_agent_state_name(enum acd_agent_state state)
{
	return (unsigned)state < ACD_AGENT__COUNT ? state_names[state] : "?";
}

const char *acd_skip_name(enum acd_skip skip)
{
	return (unsigned)skip < ACD_SKIP__COUNT ? skip_names[skip] : "?";
}

/* The index-th output of a splitmix64 stream seeded with seed: members get
 * independent, well-mixed values from the caller's single random value. */
static uint64_t splitmix64(uint64_t seed, uint32_t index)
{
	uint64_t z = seed + ((uint64_t)index + 1) * 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Maps a signed time to an unsigned key of the same order, so that every
 * strategy minimizes one uint64_t. */
static uint64_t time_key(int64_t t)
{
	return (uint64_t)t ^ (UINT64_C(1) << 63);
}

static uint8_t skill_level(const struct acd_agent *a, uint16_t skill)
{
	for (uint8_t i = 0; i < a->nskills && i < ACD_MAX_SKILLS; i++) {
		if (a->skills[i].id == skill)
			return a->skills[i].level;
	}
	return 0;
}

static bool skills_ok(const struct acd_agent *a, const struct acd_campaign *c,
		      unsigned relax)
{
	for (uint8_t i = 0; i < c->nreqs && i < ACD_MAX_SKILLS; i++) {
		unsigned need = c->reqs[i].min_level;

		need = need > relax ? need - relax : 0;
		if (skill_level(a, c->reqs[i].skill) < need)
			return false;
	}
	return true;
}

/* How agent id fared with this caller: 0 it never rang it, 1 it rang it
 * without an answer but has rested retry_delay_us since, 2 it is still
 * resting. A decline stamped after now_us (a clock step) counts as recent.
 * The difference is taken unsigned so that no timestamp can overflow it. */
static int declined(const struct run *r, int64_t id)
{
	const struct acd_caller *caller = r->caller;
	int rang = 0;

	for (uint32_t i = 0; i < caller->ndeclined; i++) {
		int64_t at = caller->declined_at_us[i];

		if (caller->declined_agent_ids[i] != id)
			continue;
		if (r->retry_delay_us > 0 &&
		    (at > r->now_us || (uint64_t)r->now_us - (uint64_t)at <
					   (uint64_t)r->retry_delay_us))
			return 2;
		rang = 1;
	}
	return rang;
}

/*
 * The first reason agent a cannot take the call, or ACD_SKIP_NONE. An agent
 * that rang this caller without an answer rests retry_delay_us, and after
 * that still comes after everyone eligible who has not rung it yet: "ring
 * timeout, then retry delay, then the next agent".
 */
static enum acd_skip check(const struct run *r, const struct acd_agent *a)
{
	int rang;

	switch (a->state) {
	case ACD_AGENT_OFFLINE:
		return ACD_SKIP_OFFLINE;
	case ACD_AGENT_PAUSED:
		return ACD_SKIP_PAUSED;
	case ACD_AGENT_AFTER_CALL_WORK:
		return ACD_SKIP_WRAPUP;
	case ACD_AGENT_RINGING:
	case ACD_AGENT_IN_CALL:
		return ACD_SKIP_BUSY;
	case ACD_AGENT_AVAILABLE:
		break;
	default:
		/* A state this module does not know cannot take calls. */
		return ACD_SKIP_OFFLINE;
	}
	if (!a->reachable)
		return ACD_SKIP_UNREACHABLE;
	rang = declined(r, a->id);
	if (rang == 2 || (rang == 1 && r->fresh_left))
		return ACD_SKIP_RETRY;
	if (!skills_ok(a, r->c, r->relax))
		return ACD_SKIP_SKILLS;
	return ACD_SKIP_NONE;
}

/* The value the strategy minimizes for member m; linear and ringall use the
 * member order itself. */
static uint64_t metric(const struct run *r, uint32_t m)
{
	const struct acd_campaign *c = r->c;
	const struct acd_agent *a = &r->agents[c->members[m].agent];
	uint32_t n = c->nmembers;

	switch (c->strategy) {
	case ACD_LEASTRECENT:
		return time_key(a->last_call_end_us);
	case ACD_FEWESTCALLS:
		return a->calls_taken;
	case ACD_LONGEST_IDLE:
		return time_key(a->state_since_us);
	case ACD_RANDOM:
		return splitmix64(r->rnd, m);
	case ACD_WRANDOM:
		return splitmix64(r->rnd, m) %
		       (((uint64_t)c->members[m].penalty + 1) * 1000);
	case ACD_RRMEMORY:
		/* How far after the member last offered, wrapping. */
		return c->rr_last >= n ? m : (m + n - c->rr_last - 1) % n;
	default:
		return m;
	}
}

static bool valid(const struct acd_agent *agents, uint32_t nagents,
		  const struct acd_campaign *c, const struct acd_caller *caller,
		  const struct acd_decision *d)
{
	if (!agents || !c || !caller || !d ||
	    (unsigned)c->strategy >= ACD_STRATEGY__COUNT ||
	    (c->nmembers && !c->members) ||
	    (caller->ndeclined &&
	     (!caller->declined_agent_ids || !caller->declined_at_us)) ||
	    (d->max_candidates && !d->candidates))
		return false;
	for (uint32_t i = 0; i < c->nmembers; i++) {
		if (c->members[i].agent >= nagents)
			return false;
	}
	return true;
}

/* Skill relaxation steps for a caller who has waited since joined_us. */
static unsigned relax_steps(const struct acd_campaign *c, int64_t joined_us,
			    int64_t now_us)
{
	int64_t waited_s, steps;

	if (!c->relax_step_s || now_us <= joined_us)
		return 0;
	waited_s =
	    (int64_t)(((uint64_t)now_us - (uint64_t)joined_us) / 1000000u);
	steps = waited_s / c->relax_step_s;
	/* Past ACD_MAX_LEVEL steps every requirement is already 0. */
	return steps > 255 ? 255 : (unsigned)steps;
}

static void note(struct acd_decision *d, uint32_t m, uint32_t agent,
		 enum acd_skip skip, uint16_t penalty)
{
	if (m < d->max_candidates)
		d->candidates[m] = (struct acd_candidate){agent, skip, penalty};
}

/* Takes eligible member m into the running pick. A lower penalty starts a
 * new tier and forgets the previous one. */
static void consider(struct run *r, struct acd_decision *d, uint32_t m)
{
	const struct acd_member *mb = &r->c->members[m];
	uint64_t v;

	if (r->tiers && mb->penalty > r->tier)
		return;
	if (r->tiers && mb->penalty < r->tier) {
		r->tier = mb->penalty;
		r->best = UINT32_MAX;
		r->best_metric = UINT64_MAX;
		d->nchosen = 0;
	}
	if (r->c->strategy == ACD_RINGALL) {
		if (d->nchosen < ACD_MAX_RING)
			d->chosen[d->nchosen++] = mb->agent;
		return;
	}
	v = metric(r, m);
	if (r->best == UINT32_MAX || v < r->best_metric) {
		r->best = m;
		r->best_metric = v;
	}
}

/* Turns the provisional rows (every eligible member was written as
 * NOT_CHOSEN) into final reasons, now that the tier and pick are known.
 * Ringall chose the first nchosen members of the tier in member order. */
static void settle(const struct run *r, struct acd_decision *d)
{
	uint32_t in_tier = 0;

	for (uint32_t m = 0; m < d->ncandidates; m++) {
		struct acd_candidate *row = &d->candidates[m];

		if (row->skip != ACD_SKIP_NOT_CHOSEN)
			continue;
		if (r->tiers && row->penalty > r->tier)
			row->skip = ACD_SKIP_PENALTY;
		else if (r->c->strategy == ACD_RINGALL)
			row->skip = in_tier++ < d->nchosen
					? ACD_SKIP_NONE
					: ACD_SKIP_NOT_CHOSEN;
		else if (m == r->best)
			row->skip = ACD_SKIP_NONE;
	}
}

int acd_choose(const struct acd_agent *agents, uint32_t nagents,
	       const struct acd_campaign *c, const struct acd_caller *caller,
	       int64_t now_us, int64_t retry_delay_us, uint64_t rnd,
	       struct acd_decision *d)
{
	struct run r;

	if (!valid(agents, nagents, c, caller, d))
		return -EINVAL;
	r = (struct run){
	    .agents = agents,
	    .c = c,
	    .caller = caller,
	    .now_us = now_us,
	    .retry_delay_us = retry_delay_us,
	    .rnd = rnd,
	    .relax = relax_steps(c, caller->joined_us, now_us),
	    /* app_queue's wrandom weighs by penalty instead of tiering. */
	    .tiers = c->strategy != ACD_WRANDOM,
	    .tier = UINT32_MAX,
	    .best = UINT32_MAX,
	    .best_metric = UINT64_MAX,
	};
	/* Whether anyone eligible has not rung this caller yet: checked with
	 * fresh_left false, so that rested decliners count as eligible. */
	for (uint32_t m = 0; m < c->nmembers && !r.fresh_left; m++) {
		const struct acd_agent *a = &agents[c->members[m].agent];
		r.fresh_left =
		    check(&r, a) == ACD_SKIP_NONE && declined(&r, a->id) == 0;
	}
	d->relax_level = (uint8_t)r.relax;
	d->nchosen = 0;
	d->ncandidates_total = c->nmembers;
	d->ncandidates =
	    c->nmembers < d->max_candidates ? c->nmembers : d->max_candidates;
	for (uint32_t m = 0; m < c->nmembers; m++) {
		const struct acd_member *mb = &c->members[m];
		enum acd_skip skip = check(&r, &agents[mb->agent]);

		if (skip == ACD_SKIP_NONE) {
			skip = ACD_SKIP_NOT_CHOSEN;
			consider(&r, d, m);
		}
		note(d, m, mb->agent, skip, mb->penalty);
	}
	if (r.best != UINT32_MAX)
		d->chosen[d->nchosen++] = c->members[r.best].agent;
	settle(&r, d);
	return (int)d->nchosen;
}

void acd_note_offer(struct acd_campaign *c, uint32_t agent)
{
	for (uint32_t m = 0; c && m < c->nmembers; m++) {
		if (c->members[m].agent == agent) {
			c->rr_last = m;
			return;
		}
	}
}

int acd_caller_cmp(const struct acd_caller *a, const struct acd_caller *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->joined_us != b->joined_us)
		return a->joined_us < b->joined_us ? -1 : 1;
	return strcmp(a->call_id ? a->call_id : "",
		      b->call_id ? b->call_id : "");
}

int acd_caller_first(const struct acd_caller *callers, uint32_t n,
		     uint32_t *ret_index)
{
	uint32_t first = 0;

	if (!callers || !ret_index)
		return -EINVAL;
	if (n == 0)
		return -ENOENT;
	for (uint32_t i = 1; i < n; i++) {
		if (acd_caller_cmp(&callers[i], &callers[first]) < 0)
			first = i;
	}
	*ret_index = first;
	return 0;
}

/* A snprintf that appends at *len and keeps counting past size. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < size ? buf + *len : NULL,
		      *len < size ? size - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

static void format_candidates(const struct acd_decision *d,
			      enum acd_decision_form form,
			      const struct acd_agent *agents, char *buf,
			      size_t size, size_t *len)
{
	bool json = form == ACD_DECISION_JSON;

	if (json)
		append(buf, size, len, "[");
	for (uint32_t i = 0; i < d->ncandidates; i++) {
		const struct acd_candidate *row = &d->candidates[i];
		long long id = (long long)agents[row->agent].id;
		const char *skip = acd_skip_name(row->skip);

		if (json)
			append(buf, size, len,
			       "%s{\"agent\":%lld,\"skip\":\"%s\","
			       "\"penalty\":%u}",
			       i ? "," : "", id, skip, (unsigned)row->penalty);
		else if (row->skip == ACD_SKIP_PENALTY)
			append(buf, size, len, "%s%lld:%s(%u)", i ? " " : "",
			       id, skip, (unsigned)row->penalty);
		else
			append(buf, size, len, "%s%lld:%s", i ? " " : "", id,
			       skip);
	}
	if (json)
		append(buf, size, len, "]");
	else if (d->ncandidates_total > d->ncandidates)
		append(buf, size, len, "%s+%u more", d->ncandidates ? " " : "",
		       (unsigned)(d->ncandidates_total - d->ncandidates));
}

static void format_chosen(const struct acd_decision *d,
			  const struct acd_agent *agents, char *buf,
			  size_t size, size_t *len)
{
	append(buf, size, len, "{");
	for (uint32_t i = 0; i < d->nchosen; i++)
		append(buf, size, len, "%s%lld", i ? "," : "",
		       (long long)agents[d->chosen[i]].id);
	append(buf, size, len, "}");
}

int acd_decision_format(const struct acd_decision *d,
			const struct acd_agent *agents, uint32_t nagents,
			enum acd_decision_form form, char *buf, size_t size)
{
	size_t len = 0;

	if (!d || !agents || (size && !buf) ||
	    (d->ncandidates && !d->candidates) || d->nchosen > ACD_MAX_RING ||
	    (unsigned)form > ACD_DECISION_CHOSEN)
		return -EINVAL;
	for (uint32_t i = 0; i < d->ncandidates; i++)
		if (d->candidates[i].agent >= nagents)
			return -EINVAL;
	for (uint32_t i = 0; i < d->nchosen; i++)
		if (d->chosen[i] >= nagents)
			return -EINVAL;
	if (size)
		buf[0] = '\0';
	if (form == ACD_DECISION_CHOSEN)
		format_chosen(d, agents, buf, size, &len);
	else
		format_candidates(d, form, agents, buf, size, &len);
	return len > INT32_MAX ? -EOVERFLOW : (int)len;
}
