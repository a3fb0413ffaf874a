/* calls.c: live calls (from the call registry), their recordings (from
 * ARI's stored recordings), their routing decisions and the call detail
 * records (from PostgreSQL). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "api/internal.h"
#include "ari/rest.h"
#include "calls/calls.h"
#include "link/link.h"
#include "util/log.h"

/* The dialplan context blind transfers continue in (asterisk-conf). */
#define API_TRANSFER_CONTEXT "welcomedly-transfer"

static bool have_calls(struct api_ctx *ctx)
{
	if (ctx->api->deps.calls)
		return true;
	api_problem(ctx, 503, "unavailable", "calls are not handled here");
	return false;
}

static int64_t agent_scope(const struct api_ctx *ctx)
{
	return ctx->who.role == API_ROLE_AGENT ? ctx->who.agent_id : 0;
}

void api_calls_list(struct api_ctx *ctx)
{
	json_t *items;

	if (!have_calls(ctx))
		return;
	items = calls_list_json(ctx->api->deps.calls, agent_scope(ctx));
	api_reply_items(ctx, items ? items : json_array(), "id");
}

/* An agent token may see a call it is or was on only. */
static bool may_see(struct api_ctx *ctx, const json_t *call)
{
	json_int_t agent =
	    json_integer_value(json_object_get(call, "agent_id"));

	if (ctx->who.role != API_ROLE_AGENT || agent == ctx->who.agent_id)
		return true;
	api_problem(ctx, 403, "forbidden",
		    "an agent token sees only its own calls");
	return false;
}

static void on_cdr_row(struct api_ctx *ctx, const PGresult *res)
{
	json_t *row;

	if (PQntuples(res) == 0) {
		api_problem(ctx, 404, "not-found", "no such call");
		return;
	}
	row = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!row) {
		api_problem(ctx, 500, "internal", "cannot read the record");
		return;
	}
	if (!may_see(ctx, row)) {
		json_decref(row);
		return;
	}
	api_reply_json(ctx, 200, row);
}

#define CDR_JSON                                                               \
	"(to_jsonb(c) - 'id' - 'revision' - 'created_at' - 'updated_at' - "    \
	"'caller_channel_id' - 'agent_channel_id' - 'bridge_id')"

void api_calls_get(struct api_ctx *ctx)
{
	static const char sql[] =
	    "SELECT (" CDR_JSON " || jsonb_build_object('id', c.call_id,"
	    " 'state', 'ended'))::text FROM calls c WHERE c.call_id = $1";
	const char *params[1] = {ctx->params[0]};
	json_t *call;

	call = ctx->api->deps.calls
		   ? calls_get_json(ctx->api->deps.calls, ctx->params[0])
		   : NULL;
	if (call) {
		if (may_see(ctx, call))
			api_reply_json(ctx, 200, call);
		else
			json_decref(call);
		return;
	}
	api_db(ctx, sql, 1, params, on_cdr_row);
}

/* For the actions: the live call, checked against an agent token. */
static bool live_call_ok(struct api_ctx *ctx)
{
	json_t *call;
	bool ok;

	if (!have_calls(ctx))
		return false;
	call = calls_get_json(ctx->api->deps.calls, ctx->params[0]);
	if (!call) {
		api_problem(ctx, 404, "not-found",
			    "no live call %.64s (it may have ended)",
			    ctx->params[0]);
		return false;
	}
	ok = may_see(ctx, call);
	json_decref(call);
	return ok;
}

void api_calls_hangup(struct api_ctx *ctx)
{
	if (!live_call_ok(ctx))
		return;
	calls_hangup(ctx->api->deps.calls, ctx->params[0]);
	log_notice("api call=%s hangup by %s", ctx->params[0],
		   api_role_name(ctx->who.role));
	api_reply_json(ctx, 202,
		       json_pack("{s:s, s:s}", "id", ctx->params[0], "status",
				 "hanging_up"));
}

static const struct api_field transfer_fields[] = {
    {"agent_id", API_INT, 0, 1, 0, NULL, NULL},
    {"number", API_TEXT, 0, 3, 21, NULL, api_check_digits},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Where a transfer goes: the target agent's phone or a number. Answers
 * and returns false when the target is not acceptable. */
static bool transfer_target(struct api_ctx *ctx, const char **ret_exten)
{
	json_t *agent_id = json_object_get(ctx->body, "agent_id");
	json_t *number = json_object_get(ctx->body, "number");
	struct agent *agent;
	enum acd_agent_state st;

	if (!agent_id == !number) {
		api_problem_fields(
		    ctx,
		    json_pack("[{s:s, s:s}]", "field", "agent_id", "detail",
			      "give exactly one of agent_id and number"));
		return false;
	}
	if (number) {
		*ret_exten = json_string_value(number);
		return true;
	}
	agent = ctx->api->deps.agents
		    ? agents_by_id(ctx->api->deps.agents,
				   json_integer_value(agent_id))
		    : NULL;
	if (!agent || !agent->sip_username) {
		api_problem(ctx, 422, "invalid-body",
			    "agent_id: no such agent with a phone");
		return false;
	}
	st = agents_state(ctx->api->deps.agents, agent);
	if (st != ACD_AGENT_AVAILABLE) {
		api_problem(ctx, 409, "conflict",
			    "agent %lld is %s, not available",
			    (long long)agent->id, acd_agent_state_name(st));
		return false;
	}
	*ret_exten = agent->sip_username;
	return true;
}

void api_calls_transfer(struct api_ctx *ctx)
{
	const char *exten = NULL;
	int r;

	if (!api_body_parse(ctx) ||
	    !api_body_check(ctx, transfer_fields, true) || !live_call_ok(ctx) ||
	    !transfer_target(ctx, &exten))
		return;
	r = calls_transfer(ctx->api->deps.calls, ctx->params[0],
			   API_TRANSFER_CONTEXT, exten);
	if (r == -EBUSY) {
		api_problem(ctx, 409, "conflict",
			    "only a call talking to an agent can be "
			    "transferred");
		return;
	}
	if (r < 0) {
		api_problem(ctx, 404, "not-found", "no live call %.64s",
			    ctx->params[0]);
		return;
	}
	api_reply_json(ctx, 202,
		       json_pack("{s:s, s:s, s:s}", "id", ctx->params[0],
				 "status", "transferring", "to", exten));
}

/* Range ------------------------------------------------------------------ */

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against size. Returns 1
 * with the inclusive range, 0 when absent or not a single byte range
 * (the whole body is sent, as RFC 9110 allows), -ERANGE when
 * unsatisfiable. */
static int parse_range(const char *h, size_t size, size_t *ret_from,
		       size_t *ret_to)
{
	unsigned long long a = 0, b = 0;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (*end || end == h + 1)
			return 0;
		if (b == 0 || size == 0)
			return -ERANGE;
		*ret_from = b >= size ? 0 : size - b;
		*ret_to = size - 1;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	b = *h ? strtoull(h, &end, 10) : size - 1;
	if (*h && (*end || b < a))
		return 0;
	if (a >= size)
		return -ERANGE;
	*ret_from = a;
	*ret_to = b >= size ? size - 1 : b;
	return 1;
}

static void on_recording(const struct ari_response *resp, void *userdata)
{
	struct api_ctx *ctx = userdata;
	size_t from = 0, to = 0;
	char headers[160];
	int r;

	if (resp->error == -ENOENT) {
		api_problem(ctx, 404, "not-found",
			    "no recording for this call");
		return;
	}
	if (resp->error < 0 || !resp->body) {
		api_problem(ctx, 503, "unavailable",
			    "Asterisk did not hand over the recording (%s)",
			    strerror(-resp->error));
		return;
	}
	r = parse_range(http_server_request_header(ctx->req, "range"),
			resp->body_len, &from, &to);
	if (r < 0) {
		snprintf(headers, sizeof(headers),
			 "Content-Range: bytes */%zu\r\n", resp->body_len);
		api_problem_headers(ctx, 416, "range-not-satisfiable", headers,
				    "the range is outside the recording");
		return;
	}
	if (r == 0) {
		from = 0;
		to = resp->body_len ? resp->body_len - 1 : 0;
		snprintf(headers, sizeof(headers), "Accept-Ranges: bytes\r\n");
	} else {
		snprintf(headers, sizeof(headers),
			 "Accept-Ranges: bytes\r\nContent-Range: bytes "
			 "%zu-%zu/%zu\r\n",
			 from, to, resp->body_len);
	}
	http_server_request_respond(ctx->req, r ? 206 : 200, "audio/wav",
				    headers, resp->body + from,
				    resp->body_len ? to - from + 1 : 0);
	api_ctx_free(ctx);
}

void api_calls_recording(struct api_ctx *ctx)
{
	struct ari_rest *rest =
	    ctx->api->deps.link ? link_rest(ctx->api->deps.link) : NULL;
	char *name = NULL, path[512];
	int r;

	if (!rest) {
		api_problem(ctx, 503, "unavailable", "ARI is not configured");
		return;
	}
	r = ari_rest_escape(ctx->params[0], &name);
	if (r < 0) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	snprintf(path, sizeof(path), "/recordings/stored/%s/file", name);
	free(name);
	r = ari_rest_request(rest, "GET", path, NULL, on_recording, ctx);
	if (r < 0)
		api_problem(ctx, 503, "unavailable",
			    "ARI cannot take the request (%s)", strerror(-r));
}

void api_calls_routing(struct api_ctx *ctx)
{
	struct api_sql sql = {0};
	struct api_page page = {.key = "t.id"};
	char cursor[API_MAX_PARAM];
	unsigned limit;

	if (!api_query_limit(ctx, &limit) || !api_query_cursor(ctx, cursor))
		return;
	api_page_open(&sql, &page, limit);
	api_page_rows(&sql, &page,
		      "jsonb_build_object('at', t.at, 'campaign_id', "
		      "t.campaign_id, 'strategy', t.strategy, 'chosen', "
		      "to_jsonb(t.chosen), 'candidates', t.candidates)",
		      "routing_decisions t");
	api_sql_add(&sql, " WHERE t.call_id = $%d",
		    api_sql_param(&sql, ctx->params[0]));
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}

/* CDR ------------------------------------------------------------------ */

static const char *const cdr_columns[] = {
    "call_id",      "agent_id",          "campaign_id",        "lead_id",
    "direction",    "caller_number",     "callee_number",      "start_time",
    "answer_time",  "end_time",          "duration",           "billsec",
    "disposition",  "recording_url",     "queue_wait_seconds", "abandoned",
    "hangup_cause", "hangup_cause_text", "hangup_by",          NULL,
};

/* Adds the WHERE clause of the filters; answers and returns false on a
 * bad one. */
static bool cdr_filters(struct api_ctx *ctx, struct api_sql *sql)
{
	static const char *const times[][2] = {{"from", ">="}, {"to", "<"}};
	static const char *const ids[][2] = {{"agent", "agent_id"},
					     {"campaign", "campaign_id"}};
	char buf[64];
	int64_t v;
	bool set;

	api_sql_add(sql, " WHERE true");
	for (size_t i = 0; i < 2; i++) {
		if (http_server_request_param(ctx->req, times[i][0], buf,
					      sizeof(buf)) < 0)
			continue;
		if (!api_time_valid(buf)) {
			api_problem(ctx, 400, "bad-request",
				    "%s must be an RFC 3339 date-time",
				    times[i][0]);
			return false;
		}
		api_sql_add(sql, " AND c.start_time %s $%d::timestamptz",
			    times[i][1], api_sql_param(sql, buf));
	}
	for (size_t i = 0; i < 2; i++) {
		if (!api_query_int(ctx, ids[i][0], &v, &set))
			return false;
		if (set)
			api_sql_add(sql, " AND c.%s = $%d", ids[i][1],
				    api_sql_param_int(sql, v));
	}
	if (ctx->who.role == API_ROLE_AGENT)
		api_sql_add(sql, " AND c.agent_id = $%d",
			    api_sql_param_int(sql, ctx->who.agent_id));
	if (http_server_request_param(ctx->req, "direction", buf,
				      sizeof(buf)) >= 0) {
		if (strcmp(buf, "inbound") != 0 &&
		    strcmp(buf, "outbound") != 0) {
			api_problem(ctx, 400, "bad-request",
				    "direction must be inbound or outbound");
			return false;
		}
		api_sql_add(sql, " AND c.direction = $%d",
			    api_sql_param(sql, buf));
	}
	if (http_server_request_param(ctx->req, "disposition", buf,
				      sizeof(buf)) >= 0) {
		if (strcmp(buf, "ANSWERED") != 0 &&
		    strcmp(buf, "NO ANSWER") != 0 && strcmp(buf, "BUSY") != 0 &&
		    strcmp(buf, "FAILED") != 0) {
			api_problem(ctx, 400, "bad-request",
				    "disposition must be ANSWERED, NO ANSWER, "
				    "BUSY or FAILED");
			return false;
		}
		api_sql_add(sql, " AND c.disposition = $%d",
			    api_sql_param(sql, buf));
	}
	return true;
}

static bool wants_csv(struct api_ctx *ctx)
{
	char fmt[16];
	const char *accept = http_server_request_header(ctx->req, "accept");

	if (http_server_request_param(ctx->req, "format", fmt, sizeof(fmt)) >=
	    0)
		return strcmp(fmt, "csv") == 0;
	return accept && strstr(accept, "text/csv");
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break; a leading =, +, - or @ is prefixed with ' so that spreadsheets
 * do not run it as a formula. */
static void csv_field(struct api_sql *out, const char *v)
{
	bool quote = strpbrk(v, ",\"\r\n") != NULL;
	bool formula = *v && strchr("=+-@", *v) &&
		       strspn(v + 1, "0123456789") != strlen(v + 1);

	api_sql_add(out, "%s%s", quote ? "\"" : "", formula ? "'" : "");
	for (; *v; v++)
		api_sql_add(out, *v == '"' ? "\"\"" : "%c", *v);
	api_sql_add(out, "%s", quote ? "\"" : "");
}

static void on_cdr_csv(struct api_ctx *ctx, const PGresult *res)
{
	struct api_sql out = {0}; /* used as a growing buffer */
	int rows = PQntuples(res), cols = PQnfields(res);
	char *text;
	size_t len;

	for (int c = 0; c < cols; c++)
		api_sql_add(&out, "%s%s", c ? "," : "", PQfname(res, c));
	api_sql_add(&out, "\r\n");
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++) {
			if (c)
				api_sql_add(&out, ",");
			csv_field(&out, PQgetvalue(res, r, c));
		}
		api_sql_add(&out, "\r\n");
	}
	if (out.failed) {
		api_sql_clear(&out);
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	text = out.text;
	len = out.len;
	out.text = NULL;
	api_sql_clear(&out);
	api_reply_raw(ctx, 200, "text/csv; charset=utf-8",
		      "Content-Disposition: attachment; filename=cdr.csv\r\n",
		      text, len);
}

void api_cdr_list(struct api_ctx *ctx)
{
	struct api_sql sql = {0};
	struct api_page page = {.key = "c.id", .newest_first = true};
	char cursor[API_MAX_PARAM];
	bool csv = wants_csv(ctx);
	unsigned limit;

	if (!api_query_limit(ctx, &limit) || !api_query_cursor(ctx, cursor))
		return;
	if (csv) {
		api_sql_add(&sql, "SELECT ");
		for (size_t i = 0; cdr_columns[i]; i++)
			api_sql_add(&sql, "%sc.%s", i ? ", " : "",
				    cdr_columns[i]);
		api_sql_add(&sql, " FROM calls c");
	} else {
		api_page_open(&sql, &page, limit);
		api_page_rows(&sql, &page, CDR_JSON, "calls c");
	}
	if (!cdr_filters(ctx, &sql)) {
		api_sql_clear(&sql);
		return;
	}
	if (csv) {
		if (*cursor)
			api_sql_add(&sql, " AND c.id < $%d::bigint",
				    api_sql_param(&sql, cursor));
		api_sql_add(&sql, " ORDER BY c.id DESC LIMIT %d",
			    API_CSV_MAX_ROWS);
		api_sql_run(ctx, &sql, on_cdr_csv);
		return;
	}
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}
