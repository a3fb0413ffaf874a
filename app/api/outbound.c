/* outbound.c: placing calls from leads or numbers, dispositions, and lead
 * import. Every number passes the toll-fraud guard (normalized to E.164
 * with the campaign's plan, allowed prefixes, premium and international
 * ranges), the do-not-call list and a per-agent rate limit before anything
 * is dialed; every refusal is a 4xx with the reason, and is logged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "api/internal.h"
#include "calls/calls.h"
#include "campaigns/campaigns.h"
#include "leads/csv.h"
#include "outbound/guard.h"
#include "outbound/ratelimit.h"
#include "util/ids.h"
#include "util/log.h"

/* One place call of one agent after another: a burst, then a steady rate. */
#define API_OUTBOUND_PER_MINUTE 30
#define API_OUTBOUND_BURST 5
#define API_OUTBOUND_MAX_KEYS 100000
/* Named cap on the dial string built from a template. */
#define API_MAX_DIAL 256

static const struct api_field call_fields[] = {
    {"agent_id", API_INT, API_F_REQUIRED, 1, 0, NULL, NULL},
    {"campaign_id", API_INT, API_F_REQUIRED, 1, 0, NULL, NULL},
    {"lead_id", API_INT, 0, 1, 0, NULL, NULL},
    {"number", API_TEXT, 0, 1, GUARD_INPUT_MAX, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* What a place-call request carries between its queries. */
struct place {
	struct agent *agent;
	struct campaign *campaign;
	int64_t lead_id;
	char number[GUARD_NUMBER_SIZE];
};

static void refuse(struct api_ctx *ctx, int status, const char *slug,
		   const char *what)
{
	const struct place *p = ctx->data;

	log_notice("outbound refused agent=%lld campaign=%lld: %s",
		   p && p->agent ? (long long)p->agent->id : 0LL,
		   p && p->campaign ? (long long)p->campaign->id : 0LL, what);
	api_problem(ctx, status, slug, "%s", what);
}

/* The agent still free to take the call, checked again after each wait. */
static bool agent_ready(struct api_ctx *ctx)
{
	struct place *p = ctx->data;
	enum acd_agent_state st;

	if (p->agent->gone) {
		refuse(ctx, 409, "conflict", "the agent was deleted");
		return false;
	}
	st = agents_state(ctx->api->deps.agents, p->agent);
	if (st == ACD_AGENT_AVAILABLE &&
	    !agents_reachable(ctx->api->deps.agents, p->agent)) {
		refuse(ctx, 409, "conflict",
		       "the agent's phone is not registered");
		return false;
	}
	if (st != ACD_AGENT_AVAILABLE) {
		char why[96];

		snprintf(why, sizeof(why), "agent %lld is %s, not available",
			 (long long)p->agent->id, acd_agent_state_name(st));
		refuse(ctx, 409, "conflict", why);
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

static void place_now(struct api_ctx *ctx)
{
	struct place *p = ctx->data;
	struct calls_outbound req = {0};
	char endpoint[API_MAX_DIAL], call_id[IDS_MAX];
	uint64_t now = uv_now(ctx->api->loop);
	int r;

	if (!agent_ready(ctx))
		return;
	if (dial_string(p->campaign, p->number, endpoint, sizeof(endpoint)) <
	    0) {
		refuse(ctx, 422, "invalid-body",
		       "the campaign's dial template gives no dial string");
		return;
	}
	if (outbound_ratelimit_take(ctx->api->outbound_rl, p->agent->id, now) <
	    0) {
		char headers[64], why[96];
		uint64_t ms = outbound_ratelimit_retry_after_ms(
		    ctx->api->outbound_rl, p->agent->id, now);

		snprintf(headers, sizeof(headers), "Retry-After: %llu\r\n",
			 (unsigned long long)((ms + 999) / 1000));
		snprintf(why, sizeof(why),
			 "agent %lld places calls too fast: at most %d a "
			 "minute",
			 (long long)p->agent->id, API_OUTBOUND_PER_MINUTE);
		log_notice("outbound refused: %s", why);
		api_problem_headers(ctx, 429, "rate-limited", headers, why);
		return;
	}
	req.agent = p->agent;
	req.campaign = p->campaign;
	req.number = p->number;
	req.endpoint = endpoint;
	req.caller_id = p->campaign->caller_id;
	req.lead_id = p->lead_id;
	r = calls_originate(ctx->api->deps.calls, &req, call_id,
			    sizeof(call_id));
	if (r < 0) {
		api_problem(ctx, 503, "unavailable",
			    "the call was not placed (%s)", strerror(-r));
		return;
	}
	log_notice("api outbound call=%s agent=%lld number=%s by %s", call_id,
		   (long long)p->agent->id, p->number,
		   api_role_name(ctx->who.role));
	api_reply_json(ctx, 202,
		       json_pack("{s:s, s:s, s:I, s:I, s:s}", "id", call_id,
				 "status", "ringing_agent", "agent_id",
				 (json_int_t)p->agent->id, "campaign_id",
				 (json_int_t)p->campaign->id, "number",
				 p->number));
}

static void on_dnc(struct api_ctx *ctx, const PGresult *res)
{
	struct place *p = ctx->data;

	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		char why[96];

		snprintf(why, sizeof(why), "%s is on the do-not-call list",
			 p->number);
		refuse(ctx, 422, "invalid-body", why);
		return;
	}
	place_now(ctx);
}

/* Normalizes and screens raw; answers and returns false when refused. */
static bool screen(struct api_ctx *ctx, const char *raw)
{
	struct place *p = ctx->data;
	enum guard_verdict v = GUARD_ALLOWED;
	char why[256];

	if (outbound_guard_normalize(&p->campaign->plan, raw, p->number,
				     sizeof(p->number), &v) < 0 ||
	    (v = outbound_guard_check(&p->campaign->policy, p->number)) !=
		GUARD_ALLOWED) {
		snprintf(why, sizeof(why), "number \"%.64s\" refused (%s): %s",
			 raw, outbound_guard_verdict_name(v),
			 outbound_guard_verdict_text(v));
		refuse(ctx, 422, "invalid-body", why);
		return false;
	}
	return true;
}

static void check_dnc(struct api_ctx *ctx)
{
	struct place *p = ctx->data;
	const char *params[1] = {p->number};

	api_db(ctx,
	       "SELECT EXISTS (SELECT 1 FROM do_not_call WHERE number = $1)", 1,
	       params, on_dnc);
}

static void on_lead(struct api_ctx *ctx, const PGresult *res)
{
	if (PQntuples(res) == 0) {
		refuse(ctx, 422, "invalid-body",
		       "lead_id: no such lead in this campaign");
		return;
	}
	if (screen(ctx, PQgetvalue(res, 0, 0)))
		check_dnc(ctx);
}

/* Finds the agent and campaign of the body; answers and returns false when
 * either is not fit. */
static bool place_parties(struct api_ctx *ctx, struct place *p)
{
	int64_t agent_id =
	    json_integer_value(json_object_get(ctx->body, "agent_id"));
	int64_t campaign_id =
	    json_integer_value(json_object_get(ctx->body, "campaign_id"));

	if (ctx->who.role == API_ROLE_AGENT && agent_id != ctx->who.agent_id) {
		api_problem(ctx, 403, "forbidden",
			    "an agent token places calls for its own agent "
			    "only");
		return false;
	}
	p->agent = agents_by_id(ctx->api->deps.agents, agent_id);
	p->campaign = campaigns_by_id(ctx->api->deps.campaigns, campaign_id);
	if (!p->agent || !p->agent->sip_username) {
		refuse(ctx, 422, "invalid-body",
		       "agent_id: no such agent with a phone");
		return false;
	}
	if (!p->campaign) {
		refuse(ctx, 422, "invalid-body",
		       "campaign_id: no such campaign");
		return false;
	}
	if (!campaigns_has_member(p->campaign, p->agent->index)) {
		refuse(ctx, 422, "invalid-body",
		       "agent_id: the agent is not a member of the campaign");
		return false;
	}
	return agent_ready(ctx);
}

void api_calls_place(struct api_ctx *ctx)
{
	struct place *p;
	json_t *lead, *number;

	if (!ctx->api->deps.calls || !ctx->api->deps.agents ||
	    !ctx->api->deps.campaigns) {
		api_problem(ctx, 503, "unavailable",
			    "calls are not handled here");
		return;
	}
	if (!api_body_parse(ctx) || !api_body_check(ctx, call_fields, true))
		return;
	lead = json_object_get(ctx->body, "lead_id");
	number = json_object_get(ctx->body, "number");
	if (!lead == !number) {
		api_problem_fields(
		    ctx, json_pack("[{s:s, s:s}]", "field", "number", "detail",
				   "give exactly one of lead_id and number"));
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	ctx->data = p;
	ctx->data_free = free;
	if (!place_parties(ctx, p))
		return;
	if (number) {
		if (screen(ctx, json_string_value(number)))
			check_dnc(ctx);
		return;
	}
	{
		char lead_text[24], campaign_text[24];
		const char *params[2] = {lead_text, campaign_text};

		p->lead_id = json_integer_value(lead);
		snprintf(lead_text, sizeof(lead_text), "%lld",
			 (long long)p->lead_id);
		snprintf(campaign_text, sizeof(campaign_text), "%lld",
			 (long long)p->campaign->id);
		api_db(ctx,
		       "SELECT phone FROM leads WHERE id = $1 AND campaign_id "
		       "= $2",
		       2, params, on_lead);
	}
}

/* Dispositions ----------------------------------------------------------- */

static const struct api_field disposition_fields[] = {
    {"code", API_TEXT, API_F_REQUIRED, 1, 40, NULL, api_check_slug},
    {"notes", API_TEXT, API_F_NULLABLE, 0, 2000, NULL, NULL},
    {"callback_at", API_TIME, API_F_NULLABLE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/*
 * One statement: the call's record, the campaign's code, the disposition
 * written once (only by the call's agent when $5 is set), the lead updated
 * (status = the code, next_call_at for callbacks) and, for do-not-call
 * codes, the number listed. The counts tell which check failed.
 */
static const char disposition_sql[] =
    "WITH c AS (SELECT call_id, agent_id, campaign_id, lead_id,"
    " CASE WHEN direction = 'outbound' THEN callee_number"
    " ELSE caller_number END AS number, disposition_code"
    " FROM calls WHERE call_id = $1),"
    " d AS (SELECT * FROM dispositions WHERE code = $2"
    " AND campaign_id = (SELECT campaign_id FROM c)),"
    " u AS (UPDATE calls SET disposition_code = $2, disposition_notes = $3,"
    " callback_at = $4::timestamptz, disposition_at = now()"
    " WHERE call_id = $1 AND disposition_code IS NULL"
    " AND EXISTS (SELECT 1 FROM d)"
    " AND ($5::bigint IS NULL OR agent_id = $5::bigint)"
    " AND (NOT (SELECT is_callback FROM d) OR $4::timestamptz IS NOT NULL)"
    " RETURNING call_id),"
    " l AS (UPDATE leads SET status = $2, next_call_at = CASE WHEN"
    " (SELECT is_callback FROM d) THEN $4::timestamptz ELSE NULL END"
    " WHERE id = (SELECT lead_id FROM c) AND EXISTS (SELECT 1 FROM u)"
    " RETURNING id),"
    " n AS (INSERT INTO do_not_call (number, reason)"
    " SELECT c.number, 'disposition ' || $2 FROM c"
    " WHERE (SELECT is_do_not_call FROM d) AND c.number IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM u) ON CONFLICT (number) DO NOTHING"
    " RETURNING number)"
    " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM d),"
    " (SELECT count(*) FROM u), coalesce((SELECT agent_id FROM c), 0),"
    " (SELECT lead_id FROM c), (SELECT disposition_code FROM c),"
    " coalesce((SELECT is_callback FROM d), false),"
    " (SELECT count(*) FROM n)";

static void on_disposition(struct api_ctx *ctx, const PGresult *res)
{
	int64_t agent_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	const char *code =
	    json_string_value(json_object_get(ctx->body, "code"));
	json_t *notes = json_object_get(ctx->body, "notes");
	json_t *callback = json_object_get(ctx->body, "callback_at");
	struct agent *agent;

	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		api_problem(ctx, 404, "not-found",
			    "no record of call %.64s (yet)", ctx->params[0]);
		return;
	}
	if (ctx->who.role == API_ROLE_AGENT && agent_id != ctx->who.agent_id) {
		api_problem(ctx, 403, "forbidden",
			    "this call is not the agent's own");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
		api_problem(ctx, 422, "invalid-body",
			    "code: \"%s\" is not a disposition of this call's "
			    "campaign",
			    code);
		return;
	}
	if (!PQgetisnull(res, 0, 5)) {
		api_problem(ctx, 409, "conflict",
			    "call %.64s already has the disposition %s",
			    ctx->params[0], PQgetvalue(res, 0, 5));
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 2), "0") == 0) {
		api_problem(
		    ctx, 422, "invalid-body",
		    "callback_at: a callback disposition needs the time "
		    "to call back");
		return;
	}
	/* After-call work ends with the disposition. */
	agent = ctx->api->deps.agents
		    ? agents_by_id(ctx->api->deps.agents, agent_id)
		    : NULL;
	if (agent && agents_state(ctx->api->deps.agents, agent) ==
			 ACD_AGENT_AFTER_CALL_WORK)
		agents_input(ctx->api->deps.agents, agent,
			     AGENTS_INPUT_WRAPUP_DONE, NULL, 0);
	log_notice("api call=%s disposition=%s agent=%lld do_not_call=%s",
		   ctx->params[0], code, (long long)agent_id,
		   PQgetvalue(res, 0, 7));
	api_reply_json(
	    ctx, 200,
	    json_pack(
		"{s:s, s:s, s:O, s:O, s:o}", "call_id", ctx->params[0], "code",
		code, "notes", notes ? notes : json_null(), "callback_at",
		callback ? callback : json_null(), "lead_id",
		PQgetisnull(res, 0, 4)
		    ? json_null()
		    : json_integer(strtoll(PQgetvalue(res, 0, 4), NULL, 10))));
}

void api_calls_disposition(struct api_ctx *ctx)
{
	char self[24];
	const char *params[5];

	if (!api_body_parse(ctx) ||
	    !api_body_check(ctx, disposition_fields, true))
		return;
	snprintf(self, sizeof(self), "%lld", (long long)ctx->who.agent_id);
	params[0] = ctx->params[0];
	params[1] = json_string_value(json_object_get(ctx->body, "code"));
	params[2] = json_string_value(json_object_get(ctx->body, "notes"));
	params[3] =
	    json_string_value(json_object_get(ctx->body, "callback_at"));
	params[4] = ctx->who.role == API_ROLE_AGENT ? self : NULL;
	api_db(ctx, disposition_sql, 5, params, on_disposition);
}

/* Leads ------------------------------------------------------------------ */

/* Rows accepted so far, and the bad ones by line. */
struct import {
	struct campaign *campaign;
	json_t *rows;
	json_t *errors;
};

static void import_error(struct import *im, size_t line, const char *detail)
{
	json_array_append_new(im->errors,
			      json_pack("{s:I, s:s}", "line", (json_int_t)line,
					"detail", detail));
}

static void import_row(struct import *im, size_t line, const char *phone,
		       const char *name, json_t *data)
{
	char number[GUARD_NUMBER_SIZE], why[160];
	enum guard_verdict v = GUARD_ALLOWED;

	if (!phone ||
	    outbound_guard_normalize(&im->campaign->plan, phone, number,
				     sizeof(number), &v) < 0) {
		snprintf(why, sizeof(why), "phone: %s",
			 phone ? outbound_guard_verdict_text(v) : "is missing");
		import_error(im, line, why);
		return;
	}
	json_array_append_new(
	    im->rows,
	    json_pack("{s:s, s:s?, s:o}", "phone", number, "name", name, "data",
		      data ? json_incref(data) : json_object()));
}

static int on_csv_row(void *userdata, size_t line, const char *phone,
		      const char *name, json_t *data)
{
	import_row(userdata, line, phone, name, data);
	return 0;
}

static bool import_csv(struct api_ctx *ctx, struct import *im)
{
	struct leads_csv_error *errors = NULL;
	size_t len, nerrors = 0;
	const char *text = http_server_request_body(ctx->req, &len);
	int r = leads_csv_parse(text, len, on_csv_row, im, &errors, &nerrors);

	if (r < 0) {
		api_problem(ctx, 400, "bad-request",
			    "the CSV was not read (%s)", strerror(-r));
		return false;
	}
	for (size_t i = 0; i < nerrors; i++)
		import_error(im, errors[i].line, errors[i].message);
	free(errors);
	return true;
}

static bool import_json(struct api_ctx *ctx, struct import *im)
{
	size_t len, i;
	const char *text = http_server_request_body(ctx->req, &len);
	json_error_t err;
	json_t *list = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *v;

	if (!json_is_array(list)) {
		json_decref(list);
		api_problem(ctx, 400, "invalid-json",
			    "send a JSON array of leads, or text/csv");
		return false;
	}
	json_array_foreach(list, i, v)
	{
		json_t *phone = json_object_get(v, "phone");
		json_t *name = json_object_get(v, "name");
		json_t *data = json_object_get(v, "data");
		const char *k;
		json_t *x;
		bool ok = json_is_object(v);

		json_object_foreach(v, k, x) ok =
		    ok && (!strcmp(k, "phone") || !strcmp(k, "name") ||
			   !strcmp(k, "data"));
		if (!ok || !json_is_string(phone) ||
		    (name && !json_is_null(name) && !json_is_string(name)) ||
		    (data && !json_is_object(data))) {
			import_error(im, i + 1,
				     "a lead is {\"phone\": string, \"name\": "
				     "string, \"data\": object}, no other "
				     "fields");
			continue;
		}
		import_row(im, i + 1, json_string_value(phone),
			   json_string_value(name), data);
	}
	json_decref(list);
	return true;
}

static void import_free(void *data)
{
	struct import *im = data;

	json_decref(im->rows);
	json_decref(im->errors);
	free(im);
}

static void on_imported(struct api_ctx *ctx, const PGresult *res)
{
	struct import *im = ctx->data;

	api_reply_json(
	    ctx, 200,
	    json_pack("{s:I, s:O}", "imported",
		      (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		      "errors", im->errors));
}

void api_leads_import(struct api_ctx *ctx)
{
	const char *type = http_server_request_header(ctx->req, "content-type");
	struct import *im;
	char campaign[24], *rows;
	const char *params[2];
	int64_t id;
	bool ok;

	if (!api_param_id(ctx, 0, &id))
		return;
	im = calloc(1, sizeof(*im));
	if (!im || !(im->rows = json_array()) || !(im->errors = json_array())) {
		if (im)
			import_free(im);
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	ctx->data = im;
	ctx->data_free = import_free;
	im->campaign = ctx->api->deps.campaigns
			   ? campaigns_by_id(ctx->api->deps.campaigns, id)
			   : NULL;
	if (!im->campaign) {
		api_problem(ctx, 404, "not-found", "no campaign %lld",
			    (long long)id);
		return;
	}
	if (type && strncmp(type, "text/csv", 8) == 0)
		ok = import_csv(ctx, im);
	else if (!type || strncmp(type, "application/json", 16) == 0)
		ok = import_json(ctx, im);
	else {
		api_problem(ctx, 415, "unsupported-media-type",
			    "send leads as application/json or text/csv");
		return;
	}
	if (!ok)
		return;
	rows = json_dumps(im->rows, JSON_COMPACT);
	if (!rows) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	snprintf(campaign, sizeof(campaign), "%lld", (long long)id);
	params[0] = campaign;
	params[1] = rows;
	log_notice("api leads import campaign=%lld rows=%zu bad=%zu",
		   (long long)id, json_array_size(im->rows),
		   json_array_size(im->errors));
	api_db(ctx,
	       "WITH i AS (INSERT INTO leads (campaign_id, phone, name, data)"
	       " SELECT $1, x.phone, x.name, coalesce(x.data, '{}')"
	       " FROM json_to_recordset($2::json) AS x(phone text, name text,"
	       " data jsonb) RETURNING id) SELECT count(*) FROM i",
	       2, params, on_imported);
	free(rows);
}

void api_leads_list(struct api_ctx *ctx)
{
	struct api_sql sql = {0};
	struct api_page page = {.key = "t.id"};
	char status[64], cursor[API_MAX_PARAM];
	unsigned limit;
	int64_t campaign;
	bool has_campaign;

	if (!api_query_limit(ctx, &limit) ||
	    !api_query_int(ctx, "campaign_id", &campaign, &has_campaign) ||
	    !api_query_cursor(ctx, cursor))
		return;
	api_page_open(&sql, &page, limit);
	api_page_rows(&sql, &page, "to_jsonb(t)", "leads t");
	api_sql_add(&sql, " WHERE true");
	if (has_campaign)
		api_sql_add(&sql, " AND t.campaign_id = $%d",
			    api_sql_param_int(&sql, campaign));
	if (http_server_request_param(ctx->req, "status", status,
				      sizeof(status)) >= 0)
		api_sql_add(&sql, " AND t.status = $%d",
			    api_sql_param(&sql, status));
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}

int api__outbound_init(struct api *api)
{
	return outbound_ratelimit_new(API_OUTBOUND_PER_MINUTE,
				      API_OUTBOUND_BURST, API_OUTBOUND_MAX_KEYS,
				      &api->outbound_rl);
}

void api__outbound_free(struct api *api)
{
	outbound_ratelimit_free(api->outbound_rl);
	api->outbound_rl = NULL;
}
