/* service.c: campaigns loaded from PostgreSQL, kept in memory. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "util/log.h"
#include "util/strmap.h"

/* Named caps on what the database may hand us. */
#define CAMPAIGNS_MAX 10000
#define CAMPAIGNS_MAX_SKILL_NAMES 4096

struct campaigns {
	struct db_pool *db;
	struct agents *agents;
	struct campaign **list;
	uint32_t count;
	struct strmap *by_id;  /* decimal id -> campaign */
	struct strmap *dids;   /* number -> campaign */
	struct strmap *skills; /* name -> id + 1 */
	uint16_t nskills;
	unsigned generation; /* of the load in progress */
	void (*cb)(int error, void *userdata);
	void *userdata;
	bool loading; /* a load's statements are in flight */
	bool closing; /* freed when the load in flight ends */
};

static void free_campaigns(struct campaigns *campaigns);

static const char campaigns_sql[] =
    "SELECT id, name, strategy, ring_timeout, retry_delay, max_queue_length,"
    " wrapup_time, announce_frequency, moh_class, coalesce(max_wait_time, 0),"
    " no_agents_action = 'overflow', coalesce(overflow_campaign_id, 0),"
    " max_no_answer, skill_requirements::text, skill_relax_seconds,"
    " service_level_seconds, dial_template, caller_id,"
    " array_to_json(allowed_prefixes)::text, country_code, trunk_prefix,"
    " intl_prefix, national_min, national_max, allow_international,"
    " allow_premium"
    " FROM campaigns ORDER BY id";
static const char members_sql[] =
    "SELECT campaign_id, agent_id, penalty, skills::text FROM campaign_agents"
    " ORDER BY campaign_id, agent_id";
static const char dids_sql[] =
    "SELECT number, campaign_id FROM dids WHERE campaign_id IS NOT NULL";

struct campaign *campaigns_by_id(const struct campaigns *campaigns, int64_t id)
{
	char key[24];

	snprintf(key, sizeof(key), "%lld", (long long)id);
	return strmap_get(campaigns->by_id, key);
}

static struct campaign *by_name(const struct campaigns *campaigns,
				const char *name)
{
	for (uint32_t i = 0; i < campaigns->count; i++) {
		if (!campaigns->list[i]->gone &&
		    strcmp(campaigns->list[i]->name, name) == 0)
			return campaigns->list[i];
	}
	return NULL;
}

struct campaign *campaigns_route(const struct campaigns *campaigns,
				 const char *arg, const char *dialed)
{
	struct campaign *c = NULL;
	char *end;

	if (arg && *arg) {
		long long id = strtoll(arg, &end, 10);
		c = *end == '\0' ? campaigns_by_id(campaigns, id)
				 : by_name(campaigns, arg);
		if (c)
			return c;
	}
	return dialed ? strmap_get(campaigns->dids, dialed) : NULL;
}

bool campaigns_has_member(const struct campaign *campaign, uint32_t agent)
{
	for (uint32_t i = 0; i < campaign->nmembers; i++) {
		if (campaign->members[i].agent == agent)
			return true;
	}
	return false;
}

void campaigns_foreach(struct campaigns *campaigns,
		       void (*fn)(struct campaign *campaign, void *userdata),
		       void *userdata)
{
	for (uint32_t i = 0; i < campaigns->count; i++)
		if (!campaigns->list[i]->gone)
			fn(campaigns->list[i], userdata);
}

/* Returns the id of a skill name, assigning one the first time. */
static int skill_id(struct campaigns *campaigns, const char *name,
		    uint16_t *ret_id)
{
	uintptr_t v = (uintptr_t)strmap_get(campaigns->skills, name);

	if (!v) {
		if (campaigns->nskills >= CAMPAIGNS_MAX_SKILL_NAMES)
			return -E2BIG;
		v = ++campaigns->nskills;
		if (strmap_put(campaigns->skills, name, (void *)v) < 0)
			return -ENOMEM;
	}
	*ret_id = (uint16_t)(v - 1);
	return 0;
}

/* Fills reqs from {"skill": level}; unknown shapes are skipped. */
static uint8_t parse_skills(struct campaigns *campaigns, const char *text,
			    struct acd_requirement *reqs)
{
	json_t *obj = json_loads(text, 0, NULL);
	const char *name;
	json_t *level;
	uint8_t n = 0;

	json_object_foreach(obj, name, level)
	{
		uint16_t id;
		if (n == ACD_MAX_SKILLS || !json_is_integer(level) ||
		    skill_id(campaigns, name, &id) < 0)
			continue;
		reqs[n++] = (struct acd_requirement){
		    id, (uint8_t)json_integer_value(level)};
	}
	json_decref(obj);
	return n;
}

static unsigned uval(const PGresult *res, int row, int col)
{
	return (unsigned)strtoul(PQgetvalue(res, row, col), NULL, 10);
}

/* A campaign seen for the first time; it keeps its address for good. */
static int campaign_add(struct campaigns *campaigns, int64_t id,
			struct campaign **ret_c)
{
	struct campaign **list;
	struct campaign *c;
	char key[24];

	if (campaigns->count >= CAMPAIGNS_MAX)
		return -E2BIG;
	list = realloc(campaigns->list, (campaigns->count + 1) * sizeof(*list));
	if (!list)
		return -ENOMEM;
	campaigns->list = list;
	c = calloc(1, sizeof(*c));
	snprintf(key, sizeof(key), "%lld", (long long)id);
	if (!c || strmap_put(campaigns->by_id, key, c) < 0) {
		free(c);
		return -ENOMEM;
	}
	campaigns->list[campaigns->count++] = c;
	c->id = id;
	c->acd.id = id;
	c->acd.rr_last = UINT32_MAX;
	campaigns_stats_init(&c->stats, cdr_now_us());
	*ret_c = c;
	return 0;
}

static char *dup_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
					  : strdup(PQgetvalue(res, row, col));
}

static void outbound_clear(struct campaign *c)
{
	free(c->dial_template);
	free(c->caller_id);
	for (size_t i = 0; i < c->nprefixes; i++)
		free(c->prefixes[i]);
	free(c->prefixes);
	free(c->plan_country);
	free(c->plan_trunk);
	free(c->plan_intl);
	c->dial_template = c->caller_id = NULL;
	c->prefixes = NULL;
	c->nprefixes = 0;
	c->plan_country = c->plan_trunk = c->plan_intl = NULL;
}

/* What outbound calls of the campaign need: columns 16 to 25. */
static int outbound_row(struct campaign *c, const PGresult *res, int row)
{
	json_t *prefixes = json_loads(PQgetvalue(res, row, 18), 0, NULL), *v;
	size_t i;

	outbound_clear(c);
	c->dial_template = dup_value(res, row, 16);
	c->caller_id = dup_value(res, row, 17);
	c->plan_country = dup_value(res, row, 19);
	c->plan_trunk = dup_value(res, row, 20);
	c->plan_intl = dup_value(res, row, 21);
	c->plan.national_min = uval(res, row, 22);
	c->plan.national_max = uval(res, row, 23);
	c->policy.allow_international = PQgetvalue(res, row, 24)[0] == 't';
	c->policy.allow_premium = PQgetvalue(res, row, 25)[0] == 't';
	c->prefixes = calloc(json_array_size(prefixes) + 1, sizeof(char *));
	json_array_foreach(prefixes, i, v)
	{
		if (c->prefixes && json_is_string(v))
			c->prefixes[c->nprefixes++] =
			    strdup(json_string_value(v));
	}
	json_decref(prefixes);
	c->plan.country_code = c->plan_country;
	c->plan.trunk_prefix = c->plan_trunk;
	c->plan.intl_prefix = c->plan_intl;
	c->policy.plan = &c->plan;
	c->policy.allowed_prefixes = (const char *const *)c->prefixes;
	c->policy.allowed_count = c->nprefixes;
	return c->dial_template && c->plan_country && c->prefixes ? 0 : -ENOMEM;
}

static int campaign_row(struct campaigns *campaigns, const PGresult *res,
			int row)
{
	int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	struct campaign *c = campaigns_by_id(campaigns, id);
	int r;

	if (!c) {
		r = campaign_add(campaigns, id, &c);
		if (r < 0)
			return r;
	}
	free(c->name);
	free(c->moh_class);
	c->name = strdup(PQgetvalue(res, row, 1));
	if (acd_strategy_parse(PQgetvalue(res, row, 2), &c->acd.strategy) < 0)
		c->acd.strategy = ACD_RRMEMORY;
	c->ring_timeout_s = uval(res, row, 3);
	c->retry_delay_s = uval(res, row, 4);
	c->max_queue_length = uval(res, row, 5);
	c->wrapup_s = uval(res, row, 6);
	c->announce_s = uval(res, row, 7);
	c->moh_class = strdup(PQgetvalue(res, row, 8));
	c->max_wait_s = uval(res, row, 9);
	c->overflow_on_no_agents = PQgetvalue(res, row, 10)[0] == 't';
	c->overflow_id = strtoll(PQgetvalue(res, row, 11), NULL, 10);
	c->max_no_answer = uval(res, row, 12);
	c->acd.nreqs =
	    parse_skills(campaigns, PQgetvalue(res, row, 13), c->acd.reqs);
	c->acd.relax_step_s = uval(res, row, 14);
	c->service_level_s = uval(res, row, 15);
	r = outbound_row(c, res, row);
	if (r < 0)
		return r;
	c->seen = campaigns->generation;
	/* Members are read into a staging list and swapped in whole once
	 * read: a call routed meanwhile sees the old list, never none. */
	c->next_nmembers = 0;
	return c->name && c->moh_class ? 0 : -ENOMEM;
}

static int member_row(struct campaigns *campaigns, const PGresult *res, int row)
{
	struct campaign *c = campaigns_by_id(
	    campaigns, strtoll(PQgetvalue(res, row, 0), NULL, 10));
	struct agent *agent = agents_by_id(
	    campaigns->agents, strtoll(PQgetvalue(res, row, 1), NULL, 10));
	struct acd_requirement skills[ACD_MAX_SKILLS];
	struct acd_member *members;
	uint8_t n;

	if (!c || !agent)
		return 0; /* added since the agents were loaded: next reload */
	members =
	    realloc(c->next_members, (c->next_nmembers + 1) * sizeof(*members));
	if (!members)
		return -ENOMEM;
	c->next_members = members;
	c->next_members[c->next_nmembers++] =
	    (struct acd_member){agent->index, (uint16_t)uval(res, row, 2)};
	n = parse_skills(campaigns, PQgetvalue(res, row, 3), skills);
	for (uint8_t i = 0; i < n; i++)
		agents_set_skill(campaigns->agents, agent, skills[i].skill,
				 skills[i].min_level);
	return 0;
}

static int did_row(struct campaigns *campaigns, const PGresult *res, int row)
{
	struct campaign *c = campaigns_by_id(
	    campaigns, strtoll(PQgetvalue(res, row, 1), NULL, 10));
	const char *number = PQgetvalue(res, row, 0);

	if (!c)
		return 0;
	strmap_remove(campaigns->dids, number);
	return strmap_put(campaigns->dids, number, c);
}

typedef int (*row_fn)(struct campaigns *campaigns, const PGresult *res,
		      int row);

static void load_step(struct campaigns *campaigns, int step);

static int each_row(struct campaigns *campaigns, const PGresult *res, row_fn fn)
{
	int r = 0;

	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = fn(campaigns, res, i);
	return r;
}

static void finish(struct campaigns *campaigns, int error)
{
	if (error == 0)
		log_info("campaigns loaded count=%u numbers=%zu",
			 campaigns->count, strmap_count(campaigns->dids));
	campaigns->loading = false;
	campaigns->cb(campaigns->closing ? -ECANCELED : error,
		      campaigns->userdata);
	if (campaigns->closing)
		free_campaigns(campaigns);
}

/* A campaign deleted from the database keeps its memory (calls may point
 * at it) but leaves the maps, loses its members and routes nothing. */
static void drop_gone(struct campaigns *campaigns)
{
	char key[24];

	for (uint32_t i = 0; i < campaigns->count; i++) {
		struct campaign *c = campaigns->list[i];

		if (c->gone || c->seen == campaigns->generation)
			continue;
		c->gone = true;
		c->nmembers = 0;
		c->acd.nmembers = 0;
		snprintf(key, sizeof(key), "%lld", (long long)c->id);
		strmap_remove(campaigns->by_id, key);
		log_notice("campaign id=%lld deleted: dropped",
			   (long long)c->id);
	}
}

static void on_campaigns(int error, const PGresult *res, void *userdata)
{
	struct campaigns *campaigns = userdata;
	int r;

	if (campaigns->closing) {
		finish(campaigns, -ECANCELED);
		return;
	}
	campaigns->generation++;
	r = error ? error : each_row(campaigns, res, campaign_row);
	if (r == 0)
		drop_gone(campaigns);
	if (r < 0)
		finish(campaigns, r);
	else
		load_step(campaigns, 1);
}

/* The staged member lists become the live ones, all at once. */
static void swap_members(struct campaigns *campaigns)
{
	for (uint32_t i = 0; i < campaigns->count; i++) {
		struct campaign *c = campaigns->list[i];
		struct acd_member *old = c->members;

		if (c->gone)
			continue;
		c->members = c->next_members;
		c->nmembers = c->next_nmembers;
		c->next_members = old;
		c->next_nmembers = 0;
		c->acd.members = c->members;
		c->acd.nmembers = c->nmembers;
	}
}

static void on_members(int error, const PGresult *res, void *userdata)
{
	struct campaigns *campaigns = userdata;
	int r = error                ? error
		: campaigns->closing ? -ECANCELED
				     : each_row(campaigns, res, member_row);

	if (r == 0)
		swap_members(campaigns);
	if (r < 0)
		finish(campaigns, r);
	else
		load_step(campaigns, 2);
}

static void on_dids(int error, const PGresult *res, void *userdata)
{
	struct campaigns *campaigns = userdata;
	struct strmap *fresh;

	if (campaigns->closing) {
		finish(campaigns, -ECANCELED);
		return;
	}
	fresh = error ? NULL : strmap_new();

	/* Numbers are read whole each time, so that a deleted or moved one
	 * stops routing to its old campaign. */
	if (fresh) {
		strmap_free(campaigns->dids);
		campaigns->dids = fresh;
	}

	finish(campaigns, error ? error : each_row(campaigns, res, did_row));
}

static void load_step(struct campaigns *campaigns, int step)
{
	static const struct {
		const char *sql;
		db_result_cb cb;
	} steps[] = {
	    {campaigns_sql, on_campaigns},
	    {members_sql, on_members},
	    {dids_sql, on_dids},
	};
	int r = db_pool_query(campaigns->db, steps[step].sql, 0, NULL,
			      steps[step].cb, campaigns);

	if (r < 0)
		finish(campaigns, r);
}

int campaigns_load(struct campaigns *campaigns,
		   void (*cb)(int error, void *userdata), void *userdata)
{
	if (!campaigns->db)
		return -ENOTCONN;
	campaigns->cb = cb;
	campaigns->userdata = userdata;
	campaigns->loading = true;
	load_step(campaigns, 0);
	return 0;
}

int campaigns_new(struct db_pool *db, struct agents *agents,
		  struct campaigns **ret_campaigns)
{
	struct campaigns *campaigns = calloc(1, sizeof(*campaigns));

	if (!campaigns)
		return -ENOMEM;
	campaigns->db = db;
	campaigns->agents = agents;
	campaigns->by_id = strmap_new();
	campaigns->dids = strmap_new();
	campaigns->skills = strmap_new();
	if (!campaigns->by_id || !campaigns->dids || !campaigns->skills) {
		campaigns_free(campaigns);
		return -ENOMEM;
	}
	*ret_campaigns = campaigns;
	return 0;
}

/* A load in flight keeps the registry until its statement answers (the
 * pool cancels it when it closes). */
void campaigns_free(struct campaigns *campaigns)
{
	if (!campaigns)
		return;
	if (campaigns->loading) {
		campaigns->closing = true;
		return;
	}
	free_campaigns(campaigns);
}

static void free_campaigns(struct campaigns *campaigns)
{
	for (uint32_t i = 0; i < campaigns->count; i++) {
		free(campaigns->list[i]->name);
		free(campaigns->list[i]->moh_class);
		free(campaigns->list[i]->members);
		free(campaigns->list[i]->next_members);
		outbound_clear(campaigns->list[i]);
		free(campaigns->list[i]);
	}
	free(campaigns->list);
	strmap_free(campaigns->by_id);
	strmap_free(campaigns->dids);
	strmap_free(campaigns->skills);
	free(campaigns);
}
