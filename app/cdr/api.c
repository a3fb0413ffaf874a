/* api.c: call detail records over HTTP: one ended call, and the list,
 * filtered, as JSON pages or as CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/page.h"
#include "api/reply.h"
#include "cdr/api.h"
#include "util/csv.h"

/* Named cap on the rows of one CSV answer. */
#define CDR_CSV_MAX_ROWS 100000

#define CDR_JSON                                                               \
	"(to_jsonb(c) - 'id' - 'revision' - 'created_at' - 'updated_at' - "    \
	"'caller_channel_id' - 'agent_channel_id' - 'bridge_id')"

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
	if (!api_server_own(
		ctx, json_integer_value(json_object_get(row, "agent_id")),
		"an agent token sees only its own calls")) {
		json_decref(row);
		return;
	}
	api_reply_json(ctx, 200, row);
}

void cdr_api_get(struct api_ctx *ctx)
{
	static const char sql[] =
	    "SELECT (" CDR_JSON " || jsonb_build_object('id', c.call_id,"
	    " 'state', 'ended'))::text FROM calls c WHERE c.call_id = $1";
	const char *params[1] = {ctx->params[0]};

	api_db(ctx, sql, 1, params, on_cdr_row);
}

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
	if (api_server_scope(ctx))
		api_sql_add(sql, " AND c.agent_id = $%d",
			    api_sql_param_int(sql, api_server_scope(ctx)));
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

/* One CSV field, quoted and neutralized as csv_cell_flags() says: a cell
 * that a spreadsheet would run as a formula gets a leading '. */
static void csv_field(struct api_sql *out, const char *v)
{
	unsigned flags = csv_cell_flags(v);
	bool quote = flags & CSV_CELL_QUOTE;

	api_sql_add(out, "%s%s", quote ? "\"" : "",
		    flags & CSV_CELL_NEUTRALIZE ? "'" : "");
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

void cdr_api_list(struct api_ctx *ctx)
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
			    CDR_CSV_MAX_ROWS);
		api_sql_run(ctx, &sql, on_cdr_csv);
		return;
	}
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}
