/* service.c: placing outbound calls: the checks in order, the queries they
 * need (the lead's phone, the do-not-call list) and the origination. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "calls/calls.h"
#include "campaigns/campaigns.h"
#include "db/pool.h"
#include "outbound/guard.h"
#include "outbound/ratelimit.h"
#include "outbound/service.h"
#include "util/ids.h"
#include "util/log.h"

struct outbound {
	struct outbound_deps deps;
	struct outbound_ratelimit *rl; /* placements per agent */
};

/* One placement between its queries. */
struct place {
	struct outbound *ob;
	outbound_place_cb cb;
	void *userdata;
	struct agent *agent;
	struct campaign *campaign;
	int64_t lead_id;
	bool local_ringback;
	char number[GUARD_NUMBER_SIZE]; /* E.164, once screened */
};

int outbound_new(const struct outbound_deps *deps, struct outbound **ret_ob)
{
	struct outbound *ob = calloc(1, sizeof(*ob));
	int r;

	if (!ob)
		return -ENOMEM;
	ob->deps = *deps;
	r = outbound_ratelimit_new(OUTBOUND_PER_MINUTE, OUTBOUND_BURST,
				   OUTBOUND_MAX_KEYS, &ob->rl);
	if (r < 0) {
		free(ob);
		return r;
	}
	*ret_ob = ob;
	return 0;
}

void outbound_free(struct outbound *ob)
{
	if (!ob)
		return;
	outbound_ratelimit_free(ob->rl);
	free(ob);
}

/* Hands result to the caller and ends the placement. */
static void finish(struct place *p, struct outbound_result *result)
{
	result->agent_id = p->agent ? p->agent->id : 0;
	result->campaign_id = p->campaign ? p->campaign->id : 0;
	result->number = *p->number ? p->number : NULL;
	p->cb(result, p->userdata);
	free(p);
}

static void refuse(struct place *p, enum outbound_reason reason,
		   const char *why)
{
	struct outbound_result result = {.reason = reason, .detail = why};

	log_notice("outbound refused agent=%lld campaign=%lld: %s",
		   p->agent ? (long long)p->agent->id : 0LL,
		   p->campaign ? (long long)p->campaign->id : 0LL, why);
	finish(p, &result);
}

static void fail(struct place *p, enum outbound_reason reason, int error,
		 const PGresult *res)
{
	struct outbound_result result = {
	    .reason = reason, .error = error, .db_res = res};

	finish(p, &result);
}

/* The agent still free to take the call, checked again after each wait;
 * refuses and returns false when not. */
static bool agent_ready(struct place *p)
{
	struct agents *agents = p->ob->deps.agents;
	enum acd_agent_state st;
	char why[96];

	if (p->agent->gone) {
		refuse(p, OUTBOUND_AGENT_GONE, "the agent was deleted");
		return false;
	}
	st = agents_state(agents, p->agent);
	if (st == ACD_AGENT_AVAILABLE && !agents_reachable(agents, p->agent)) {
		refuse(p, OUTBOUND_AGENT_UNREACHABLE,
		       "the agent's phone is not registered");
		return false;
	}
	if (st != ACD_AGENT_AVAILABLE) {
		snprintf(why, sizeof(why), "agent %lld is %s, not available",
			 (long long)p->agent->id, acd_agent_state_name(st));
		refuse(p, OUTBOUND_AGENT_BUSY, why);
		return false;
	}
	return true;
}

/* The campaign's dial template with {number} replaced. */
static int dial_string(const struct campaign *c, const char *number, char *out,
		       size_t size)
{
	const char *at = strstr(c->dial_template, "{number}");
	int n;

	if (!at)
		return -EINVAL;
	n = snprintf(out, size, "%.*s%s%s", (int)(at - c->dial_template),
		     c->dial_template, number, at + strlen("{number}"));
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Spends one of the agent's placements; refuses and returns false when
 * none is left. */
static bool rate_ok(struct place *p)
{
	struct outbound_result result = {.reason = OUTBOUND_RATE_LIMITED};
	uint64_t now = uv_now(p->ob->deps.loop), ms;
	char why[96];

	if (outbound_ratelimit_take(p->ob->rl, p->agent->id, now) == 0)
		return true;
	ms = outbound_ratelimit_retry_after_ms(p->ob->rl, p->agent->id, now);
	snprintf(why, sizeof(why),
		 "agent %lld places calls too fast: at most %d a minute",
		 (long long)p->agent->id, OUTBOUND_PER_MINUTE);
	log_notice("outbound refused: %s", why);
	result.detail = why;
	result.retry_after_s = (unsigned)((ms + 999) / 1000);
	finish(p, &result);
	return false;
}

static void place_now(struct place *p)
{
	struct outbound_result result = {.reason = OUTBOUND_PLACED};
	struct calls_outbound req = {0};
	char endpoint[OUTBOUND_MAX_DIAL], call_id[IDS_MAX];
	int r;

	if (!agent_ready(p))
		return;
	if (dial_string(p->campaign, p->number, endpoint, sizeof(endpoint)) <
	    0) {
		refuse(p, OUTBOUND_NO_DIAL_STRING,
		       "the campaign's dial template gives no dial string");
		return;
	}
	if (!rate_ok(p))
		return;
	req.agent = p->agent;
	req.campaign = p->campaign;
	req.number = p->number;
	req.endpoint = endpoint;
	req.caller_id = p->campaign->caller_id;
	req.lead_id = p->lead_id;
	req.local_ringback = p->local_ringback;
	r = calls_originate(p->ob->deps.calls, &req, call_id, sizeof(call_id));
	if (r < 0) {
		fail(p, OUTBOUND_NOT_PLACED, r, NULL);
		return;
	}
	log_notice("outbound call=%s agent=%lld number=%s", call_id,
		   (long long)p->agent->id, p->number);
	result.call_id = call_id;
	finish(p, &result);
}

/* Runs sql for p; on failure the placement ends with the error. */
static void query(struct place *p, const char *sql, int nparams,
		  const char *const *params, db_result_cb cb)
{
	int r;

	if (!p->ob->deps.db) {
		fail(p, OUTBOUND_NO_DATABASE, -ENOTCONN, NULL);
		return;
	}
	r = db_pool_query(p->ob->deps.db, sql, nparams, params, cb, p);
	if (r < 0)
		fail(p, OUTBOUND_DB_FAILED, r, NULL);
}

static void on_dnc(int error, const PGresult *res, void *userdata)
{
	struct place *p = userdata;
	char why[96];

	if (error < 0) {
		fail(p, OUTBOUND_DB_FAILED, error, res);
		return;
	}
	if (strcmp(db_pool_value(res, 0, "listed"), "t") == 0) {
		snprintf(why, sizeof(why), "%s is on the do-not-call list",
			 p->number);
		refuse(p, OUTBOUND_DO_NOT_CALL, why);
		return;
	}
	place_now(p);
}

/* Normalizes and screens raw into p->number; refuses and returns false
 * when the guard says no. */
static bool screen(struct place *p, const char *raw)
{
	enum guard_verdict v =
	    outbound_guard_screen(&p->campaign->plan, &p->campaign->policy, raw,
				  p->number, sizeof(p->number));
	char why[256];

	if (v != GUARD_ALLOWED) {
		snprintf(why, sizeof(why), "number \"%.64s\" refused (%s): %s",
			 raw, outbound_guard_verdict_name(v),
			 outbound_guard_verdict_text(v));
		refuse(p, OUTBOUND_REFUSED_NUMBER, why);
		return false;
	}
	return true;
}

static void screen_and_check(struct place *p, const char *raw)
{
	const char *params[1] = {p->number};

	if (!screen(p, raw))
		return;
	query(p,
	      "SELECT EXISTS (SELECT 1 FROM do_not_call WHERE number = $1)"
	      " AS listed",
	      1, params, on_dnc);
}

static void on_lead(int error, const PGresult *res, void *userdata)
{
	struct place *p = userdata;

	if (error < 0) {
		fail(p, OUTBOUND_DB_FAILED, error, res);
		return;
	}
	if (PQntuples(res) == 0) {
		refuse(p, OUTBOUND_NO_LEAD,
		       "lead_id: no such lead in this campaign");
		return;
	}
	screen_and_check(p, db_pool_value(res, 0, "phone"));
}

/* Finds the agent and campaign of req; refuses and returns false when
 * either is not fit. */
static bool parties(struct place *p, const struct outbound_request *req)
{
	p->agent = agents_by_id(p->ob->deps.agents, req->agent_id);
	p->campaign = campaigns_by_id(p->ob->deps.campaigns, req->campaign_id);
	if (!p->agent || !p->agent->sip_username) {
		p->agent = NULL;
		refuse(p, OUTBOUND_NO_AGENT,
		       "agent_id: no such agent with a phone");
		return false;
	}
	if (!p->campaign) {
		refuse(p, OUTBOUND_NO_CAMPAIGN,
		       "campaign_id: no such campaign");
		return false;
	}
	if (!campaigns_has_member(p->campaign, p->agent->index)) {
		refuse(p, OUTBOUND_NOT_MEMBER,
		       "agent_id: the agent is not a member of the campaign");
		return false;
	}
	return agent_ready(p);
}

int outbound_place(struct outbound *ob, const struct outbound_request *req,
		   outbound_place_cb cb, void *userdata)
{
	struct place *p = calloc(1, sizeof(*p));
	char lead_text[24], campaign_text[24];
	const char *params[2] = {lead_text, campaign_text};

	if (!p)
		return -ENOMEM;
	p->ob = ob;
	p->cb = cb;
	p->userdata = userdata;
	p->local_ringback = req->local_ringback;
	if (!parties(p, req))
		return 0;
	if (req->lead_id <= 0) {
		screen_and_check(p, req->number);
		return 0;
	}
	p->lead_id = req->lead_id;
	snprintf(lead_text, sizeof(lead_text), "%lld", (long long)p->lead_id);
	snprintf(campaign_text, sizeof(campaign_text), "%lld",
		 (long long)p->campaign->id);
	query(p, "SELECT phone FROM leads WHERE id = $1 AND campaign_id = $2",
	      2, params, on_lead);
	return 0;
}
