/* api.c: campaigns over HTTP: their rows, their numbers (DIDs) and
 * members, and their queues' live numbers, read from memory, never from
 * the database, so that dashboards polling them cost nothing there. */
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "api/crud.h"
#include "api/page.h"
#include "api/reply.h"
#include "calls/calls.h"
#include "campaigns/api.h"
#include "campaigns/campaigns.h"
#include "util/timefmt.h"

static const char *const strategies[] = {
    "ringall", "leastrecent", "fewestcalls",  "random", "rrmemory",
    "linear",  "wrandom",     "longest_idle", NULL};
static const char *const no_agents_actions[] = {"hangup", "overflow", NULL};

static const char *check_prefix(const char *value)
{
	const char *p = value + (*value == '+');
	size_t n = strlen(p);

	if (n < 1 || n > 15 || strspn(p, "0123456789") != n)
		return "entries must be digits, optionally after a '+'";
	return NULL;
}

static const char *check_digits_or_empty(const char *value)
{
	return strspn(value, "0123456789") == strlen(value)
		   ? NULL
		   : "must be digits (or empty)";
}

/* A class name goes into an ARI query as it is: musiconhold.conf section
 * names, no character that would need escaping. Empty: callers wait in
 * silence. */
static const char *check_moh_class(const char *value)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";

	return strspn(value, ok) == strlen(value)
		   ? NULL
		   : "must be letters, digits, '-', '_' or '.' (empty: "
		     "callers wait in silence)";
}

static const struct api_field campaign_fields[] = {
    {"name", API_TEXT, API_F_REQUIRED, 1, 100, NULL, NULL},
    {"strategy", API_TEXT, 0, 1, 20, strategies, NULL},
    {"ring_timeout", API_INT, 0, 1, 3600, NULL, NULL},
    {"retry_delay", API_INT, 0, 0, 3600, NULL, NULL},
    {"max_queue_length", API_INT, 0, 0, 100000, NULL, NULL},
    {"wrapup_time", API_INT, 0, 0, 3600, NULL, NULL},
    {"announce_frequency", API_INT, 0, 0, 3600, NULL, NULL},
    {"moh_class", API_TEXT, 0, 0, 80, NULL, check_moh_class},
    {"dial_template", API_TEXT, 0, 1, 200, NULL, api_check_template},
    {"caller_id", API_TEXT, API_F_NULLABLE, 0, 80, NULL, NULL},
    {"allowed_prefixes", API_TEXTS, 0, 1, 16, NULL, check_prefix},
    {"max_wait_time", API_INT, API_F_NULLABLE, 1, 86400, NULL, NULL},
    {"no_agents_action", API_TEXT, 0, 1, 20, no_agents_actions, NULL},
    {"overflow_campaign_id", API_INT, API_F_NULLABLE, 1, 0, NULL, NULL},
    {"service_level_seconds", API_INT, 0, 1, 3600, NULL, NULL},
    {"max_no_answer", API_INT, 0, 0, 100, NULL, NULL},
    {"skill_requirements", API_LEVELS, 0, 0, 0, NULL, NULL},
    {"skill_relax_seconds", API_INT, 0, 0, 3600, NULL, NULL},
    {"country_code", API_TEXT, 0, 1, 3, NULL, check_prefix},
    {"trunk_prefix", API_TEXT, 0, 0, 4, NULL, check_digits_or_empty},
    {"intl_prefix", API_TEXT, 0, 1, 4, NULL, check_prefix},
    {"national_min", API_INT, 0, 4, 14, NULL, NULL},
    {"national_max", API_INT, 0, 4, 14, NULL, NULL},
    {"allow_international", API_BOOL, 0, 0, 0, NULL, NULL},
    {"allow_premium", API_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource campaigns_api_resource = {
    .table = "campaigns",
    .key = "id",
    .key_is_int = true,
    .fields = campaign_fields,
    .row_json = "to_jsonb(t)",
    .noun = "campaign",
};

static const struct api_field did_fields[] = {
    {"number", API_TEXT, API_F_REQUIRED | API_F_CREATE_ONLY, 3, 21, NULL,
     api_check_digits},
    {"campaign_id", API_INT, API_F_NULLABLE, 1, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource campaigns_api_dids = {
    .table = "dids",
    .key = "number",
    .fields = did_fields,
    .row_json = "to_jsonb(t)",
    .noun = "number",
};

static const struct api_field member_fields[] = {
    {"agent_id", API_INT, API_F_REQUIRED | API_F_CREATE_ONLY, 1, 0, NULL, NULL},
    {"penalty", API_INT, 0, 0, 1000, NULL, NULL},
    {"skills", API_LEVELS, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource campaigns_api_members = {
    .table = "campaign_agents",
    .key = "agent_id",
    .key_is_int = true,
    .parent = "campaign_id",
    .fields = member_fields,
    .row_json = "to_jsonb(t)",
    .noun = "member",
    .upsert = true,
};

/* A campaign with callers waiting is not deleted under them. */
void campaigns_api_delete(struct api_ctx *ctx)
{
	unsigned waiting = 0, longest = 0;
	int64_t id;

	if (!api_param_id(ctx, 0, &id))
		return;
	if (ctx->deps->calls)
		calls_queue_numbers(ctx->deps->calls, id, &waiting, &longest);
	if (waiting) {
		api_problem(ctx, 409, "conflict",
			    "campaign %lld has %u callers waiting; delete it "
			    "once its queue is empty",
			    (long long)id, waiting);
		return;
	}
	api_crud_delete(ctx);
}

/* Answered within the threshold, of answered and abandoned: null with no
 * call yet. */
static json_t *service_level(const struct campaign_figures *f)
{
	unsigned long n = f->answered + f->abandoned;

	return n ? json_real(100.0 * (double)f->answered_in_sl / (double)n)
		 : json_null();
}

static json_t *speed_of_answer(const struct campaign_figures *f)
{
	return f->answered ? json_real(f->wait_sum_s / (double)f->answered)
			   : json_null();
}

json_t *campaigns_api_queue_json(const struct api_deps *deps,
				 const struct campaign *c)
{
	static const char *const names[ACD_AGENT__COUNT] = {
	    "offline", "available",       "ringing",
	    "in_call", "after_call_work", "paused"};
	unsigned waiting = 0, longest = 0, counts[ACD_AGENT__COUNT] = {0};
	const struct acd_agent *acd = NULL;
	const struct campaign_stats *st = &c->stats;
	struct campaign_figures day, recent;
	int64_t since_us, now = cdr_now_us();
	json_t *agents = json_object();
	uint32_t n = 0;
	char since[TIMEFMT_SIZE];

	if (deps->calls)
		calls_queue_numbers(deps->calls, c->id, &waiting, &longest);
	if (deps->agents)
		acd = agents_acd(deps->agents, &n);
	for (uint32_t i = 0; acd && i < c->nmembers; i++)
		if (c->members[i].agent < n)
			counts[acd[c->members[i].agent].state]++;
	for (int s = 0; s < ACD_AGENT__COUNT; s++)
		json_object_set_new(agents, names[s], json_integer(counts[s]));
	campaigns_stats_day(st, now, &day, &since_us);
	campaigns_stats_recent(st, now, &recent);
	timefmt_rfc3339(since_us, since, sizeof(since));
	return json_pack(
	    "{s:I, s:s, s:i, s:i, s:o, s:I, s:I, s:o, s:o, s:i, s:s, s:o}",
	    "campaign_id", (json_int_t)c->id, "name", c->name, "waiting",
	    (int)waiting, "longest_wait_seconds", (int)longest, "agents",
	    agents, "answered", (json_int_t)day.answered, "abandoned",
	    (json_int_t)day.abandoned, "service_level", service_level(&day),
	    "average_speed_of_answer", speed_of_answer(&day),
	    "service_level_seconds", (int)c->service_level_s, "stats_since",
	    since, "last_15_minutes",
	    json_pack("{s:I, s:I, s:o, s:o}", "answered",
		      (json_int_t)recent.answered, "abandoned",
		      (json_int_t)recent.abandoned, "service_level",
		      service_level(&recent), "average_speed_of_answer",
		      speed_of_answer(&recent)));
}

static void add_queue(struct campaign *c, void *userdata)
{
	struct api_ctx *ctx = userdata;

	json_array_append_new(ctx->data,
			      campaigns_api_queue_json(ctx->deps, c));
}

void campaigns_api_queues(struct api_ctx *ctx)
{
	json_t *items = json_array();

	if (!items) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	ctx->data = items;
	if (ctx->deps->campaigns)
		campaigns_foreach(ctx->deps->campaigns, add_queue, ctx);
	ctx->data = NULL;
	api_reply_items(ctx, items, "campaign_id");
}

/* A lookup waiting for a configuration load. */
struct find {
	struct api_ctx *ctx;
	campaigns_api_fn fn;
	int64_t id;
};

static struct campaign *loaded(const struct api_ctx *ctx, int64_t id)
{
	return ctx->deps->campaigns ? campaigns_by_id(ctx->deps->campaigns, id)
				    : NULL;
}

static void not_found(struct api_ctx *ctx, int64_t id)
{
	api_problem(ctx, 404, "not-found", "no campaign %lld", (long long)id);
}

static void on_reloaded(int error, void *userdata)
{
	struct find *f = userdata;
	struct campaign *c;

	/* -ECANCELED: stopping, and the request went with the API. */
	if (error != -ECANCELED) {
		c = loaded(f->ctx, f->id);
		if (c)
			f->fn(f->ctx, c);
		else
			not_found(f->ctx, f->id);
	}
	free(f);
}

void campaigns_api_find(struct api_ctx *ctx, campaigns_api_fn fn)
{
	const struct api_deps *deps = ctx->deps;
	struct campaign *c;
	struct find *f;
	int64_t id;

	if (!api_param_id(ctx, 0, &id))
		return;
	c = loaded(ctx, id);
	if (c) {
		fn(ctx, c);
		return;
	}
	f = deps->reload ? malloc(sizeof(*f)) : NULL;
	if (!f) {
		not_found(ctx, id);
		return;
	}
	*f = (struct find){ctx, fn, id};
	if (deps->reload(deps->reload_data, on_reloaded, f) < 0) {
		free(f);
		not_found(ctx, id);
	}
}

static void reply_queue(struct api_ctx *ctx, struct campaign *c)
{
	api_reply_json(ctx, 200, campaigns_api_queue_json(ctx->deps, c));
}

void campaigns_api_queue(struct api_ctx *ctx)
{
	campaigns_api_find(ctx, reply_queue);
}
