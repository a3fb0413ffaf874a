/* crud.c: resources that are rows of one table (campaigns, numbers,
 * memberships, dispositions), listed, read, created, changed and deleted
 * by one set of handlers driven by a field table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "calls/calls.h"

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

static const struct api_field campaign_fields[] = {
    {"name", API_TEXT, API_F_REQUIRED, 1, 100, NULL, NULL},
    {"strategy", API_TEXT, 0, 1, 20, strategies, NULL},
    {"ring_timeout", API_INT, 0, 1, 3600, NULL, NULL},
    {"retry_delay", API_INT, 0, 0, 3600, NULL, NULL},
    {"max_queue_length", API_INT, 0, 0, 100000, NULL, NULL},
    {"wrapup_time", API_INT, 0, 0, 3600, NULL, NULL},
    {"announce_frequency", API_INT, 0, 0, 3600, NULL, NULL},
    {"moh_class", API_TEXT, 0, 1, 80, NULL, NULL},
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

const struct api_resource api_res_campaigns = {
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

const struct api_resource api_res_dids = {
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

const struct api_resource api_res_members = {
    .table = "campaign_agents",
    .key = "agent_id",
    .key_is_int = true,
    .parent = "campaign_id",
    .fields = member_fields,
    .row_json = "to_jsonb(t)",
    .noun = "member",
    .upsert = true,
};

static const struct api_field disposition_fields[] = {
    {"code", API_TEXT, API_F_REQUIRED | API_F_CREATE_ONLY, 1, 40, NULL,
     api_check_slug},
    {"label", API_TEXT, API_F_REQUIRED, 1, 100, NULL, NULL},
    {"is_sale", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_callback", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_do_not_call", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_final", API_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource api_res_dispositions = {
    .table = "dispositions",
    .key = "code",
    .parent = "campaign_id",
    .fields = disposition_fields,
    .row_json = "to_jsonb(t) - 'id'",
    .noun = "disposition",
};

static const struct api_resource *res_of(const struct api_ctx *ctx)
{
	return ctx->route->data;
}

/* The row key from the path: the last parameter. */
static unsigned key_index(const struct api_ctx *ctx)
{
	return res_of(ctx)->parent ? 1 : 0;
}

/* Checks the path's ids and adds "t.parent = $n AND t.key = $m" as far as
 * the route names them. Returns false when it answered. */
static bool where_path(struct api_ctx *ctx, struct api_sql *sql, bool key)
{
	const struct api_resource *res = res_of(ctx);
	int64_t id;

	api_sql_add(sql, " WHERE true");
	if (res->parent) {
		if (!api_param_id(ctx, 0, &id))
			return false;
		api_sql_add(sql, " AND t.%s = $%d", res->parent,
			    api_sql_param_int(sql, id));
	}
	if (!key)
		return true;
	if (res->key_is_int) {
		if (!api_param_id(ctx, key_index(ctx), &id))
			return false;
		api_sql_add(sql, " AND t.%s = $%d", res->key,
			    api_sql_param_int(sql, id));
	} else {
		api_sql_add(sql, " AND t.%s = $%d", res->key,
			    api_sql_param(sql, ctx->params[key_index(ctx)]));
	}
	return true;
}

/* The resource's live view over its rows (e.g. agents' states), as new
 * JSON text; NULL when the resource has none or out of memory. */
static char *decorated(const struct api_ctx *ctx, const char *text)
{
	const struct api_resource *r = ctx->route->data;
	json_t *v = r && r->decorate ? json_loads(text, 0, NULL) : NULL, *item;
	char *out;
	size_t i;

	if (!v)
		return NULL;
	if (json_is_array(v))
		json_array_foreach(v, i, item) r->decorate(ctx->api, item);
	else
		r->decorate(ctx->api, v);
	out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return out;
}

void api_reply_page(struct api_ctx *ctx, const PGresult *res)
{
	char *live = decorated(ctx, PQgetvalue(res, 0, 0));
	const char *items = live ? live : PQgetvalue(res, 0, 0);
	bool more = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	json_t *cursor =
	    more ? json_string(PQgetvalue(res, 0, 2)) : json_null();
	char *c = json_dumps(cursor, JSON_ENCODE_ANY);
	size_t size = strlen(items) + (c ? strlen(c) : 0) + 40;
	char *text = malloc(size);

	json_decref(cursor);
	if (!c || !text) {
		free(c);
		free(text);
		free(live);
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	snprintf(text, size, "{\"items\":%s,\"next_cursor\":%s}", items, c);
	free(c);
	free(live);
	api_reply_raw(ctx, 200, "application/json", NULL, text, strlen(text));
}

static void on_list(struct api_ctx *ctx, const PGresult *res)
{
	if (PQntuples(res) == 1 && PQnfields(res) == 4 &&
	    strcmp(PQgetvalue(res, 0, 3), "f") == 0) {
		api_problem(ctx, 404, "not-found", "no such campaign");
		return;
	}
	api_reply_page(ctx, res);
}

void api_page_open(struct api_sql *sql, struct api_page *page, unsigned limit)
{
	page->limit_param = api_sql_param_int(sql, limit);
	api_sql_add(sql,
		    "SELECT coalesce(jsonb_agg(j ORDER BY k%s), '[]')::text, "
		    "count(*) >= $%d::int AND count(*) > 0, %s(k)::text",
		    page->newest_first ? " DESC" : "", page->limit_param,
		    page->newest_first ? "min" : "max");
}

void api_page_rows(struct api_sql *sql, const struct api_page *page,
		   const char *row_json, const char *from)
{
	api_sql_add(sql, " FROM (SELECT %s AS j, %s AS k FROM %s", row_json,
		    page->key, from);
}

void api_page_close(struct api_sql *sql, const struct api_page *page,
		    const char *cursor, const char *key_type)
{
	if (cursor)
		api_sql_add(sql, " AND %s %s $%d::%s", page->key,
			    page->newest_first ? "<" : ">",
			    api_sql_param(sql, cursor), key_type);
	api_sql_add(sql, " ORDER BY %s%s LIMIT $%d::int) s", page->key,
		    page->newest_first ? " DESC" : "", page->limit_param);
}

/* The ?cursor= of a list keyed by text ("" when absent). */
static bool text_cursor(struct api_ctx *ctx, char cursor[API_MAX_PARAM])
{
	int n = http_server_request_param(ctx->req, "cursor", cursor,
					  API_MAX_TEXT_CURSOR);

	if (n == -ENOSPC) {
		api_problem(ctx, 400, "bad-request",
			    "cursor is not one this server gave out");
		return false;
	}
	if (n < 0)
		cursor[0] = '\0';
	return true;
}

void api_crud_list(struct api_ctx *ctx)
{
	const struct api_resource *r = res_of(ctx);
	struct api_sql sql = {0};
	char cursor[API_MAX_PARAM], key[64], from[512];
	struct api_page page = {.key = key};
	unsigned limit;
	int64_t parent;

	if (!api_query_limit(ctx, &limit))
		return;
	if (r->key_is_int ? !api_query_cursor(ctx, cursor)
			  : !text_cursor(ctx, cursor))
		return;
	if (r->parent && !api_param_id(ctx, 0, &parent))
		return;
	snprintf(key, sizeof(key), "t.%s", r->key);
	snprintf(from, sizeof(from), "%s t", r->table);
	api_page_open(&sql, &page, limit);
	/* A nested list says whether its parent exists (on_list). */
	if (r->parent)
		api_sql_add(&sql,
			    ", EXISTS (SELECT 1 FROM campaigns WHERE id = $%d)",
			    api_sql_param_int(&sql, parent));
	api_page_rows(&sql, &page, r->row_json, from);
	if (!where_path(ctx, &sql, false)) {
		api_sql_clear(&sql);
		return;
	}
	api_page_close(&sql, &page, *cursor ? cursor : NULL,
		       r->key_is_int ? "bigint" : "text");
	api_sql_run(ctx, &sql, on_list);
}

static void on_row(struct api_ctx *ctx, const PGresult *res)
{
	const char *headers = ctx->data;
	int status = 200;
	char *live;

	if (PQntuples(res) == 0) {
		api_problem(ctx, 404, "not-found", "no such %s",
			    res_of(ctx)->noun);
		return;
	}
	if (strcmp(http_server_request_method(ctx->req), "POST") == 0 &&
	    (PQnfields(res) < 3 || strcmp(PQgetvalue(res, 0, 2), "t") == 0))
		status = 201;
	live = decorated(ctx, PQgetvalue(res, 0, 0));
	http_server_request_respond(
	    ctx->req, status, "application/json",
	    status == 201 ? headers : NULL, live ? live : PQgetvalue(res, 0, 0),
	    live ? strlen(live) : (size_t)PQgetlength(res, 0, 0));
	free(live);
	api_ctx_free(ctx);
}

void api_crud_get(struct api_ctx *ctx)
{
	const struct api_resource *r = res_of(ctx);
	struct api_sql sql = {0};

	api_sql_add(&sql, "SELECT %s::text FROM %s t", r->row_json, r->table);
	if (!where_path(ctx, &sql, true)) {
		api_sql_clear(&sql);
		return;
	}
	api_sql_run(ctx, &sql, on_row);
}

/* The Location of a created row, kept in ctx->data until the reply. */
static void set_location(struct api_ctx *ctx, const char *key)
{
	size_t size =
	    strlen(http_server_request_path(ctx->req)) + strlen(key) + 32;
	char *h = malloc(size);

	if (h)
		snprintf(h, size, "Location: %s/%s\r\n",
			 http_server_request_path(ctx->req), key);
	ctx->data = h;
	ctx->data_free = free;
}

static void on_created(struct api_ctx *ctx, const PGresult *res)
{
	if (PQntuples(res) == 1)
		set_location(ctx, PQgetvalue(res, 0, 1));
	on_row(ctx, res);
}

void api_crud_create(struct api_ctx *ctx)
{
	const struct api_resource *r = res_of(ctx);
	struct api_sql sql = {0};
	const struct api_field *f;
	int64_t parent = 0;
	bool first = true;

	if (!api_body_parse(ctx) || !api_body_check(ctx, r->fields, true))
		return;
	if (r->parent && !api_param_id(ctx, 0, &parent))
		return;
	api_sql_add(&sql, "INSERT INTO %s AS t (", r->table);
	if (r->parent) {
		api_sql_add(&sql, "%s", r->parent);
		first = false;
	}
	for (f = r->fields; f->name; f++)
		if (json_object_get(ctx->body, f->name)) {
			api_sql_add(&sql, "%s%s", first ? "" : ", ", f->name);
			first = false;
		}
	api_sql_add(&sql, ") VALUES (");
	first = true;
	if (r->parent) {
		api_sql_add(&sql, "$%d", api_sql_param_int(&sql, parent));
		first = false;
	}
	for (f = r->fields; f->name; f++) {
		json_t *v = json_object_get(ctx->body, f->name);

		if (!v)
			continue;
		api_sql_add(&sql, "%s", first ? "" : ", ");
		api_sql_value(&sql, f, v);
		first = false;
	}
	api_sql_add(&sql, ")");
	if (r->upsert) {
		api_sql_add(&sql,
			    " ON CONFLICT (%s, %s) DO UPDATE SET %s = "
			    "EXCLUDED.%s",
			    r->parent, r->key, r->key, r->key);
		for (f = r->fields; f->name; f++)
			if (json_object_get(ctx->body, f->name) &&
			    strcmp(f->name, r->key) != 0)
				api_sql_add(&sql, ", %s = EXCLUDED.%s", f->name,
					    f->name);
	}
	api_sql_add(&sql, " RETURNING %s::text, t.%s::text, xmax = 0",
		    r->row_json, r->key);
	api_sql_run(ctx, &sql, on_created);
}

void api_crud_update(struct api_ctx *ctx)
{
	const struct api_resource *r = res_of(ctx);
	struct api_sql sql = {0};
	const struct api_field *f;

	if (!api_body_parse(ctx) || !api_body_check(ctx, r->fields, false))
		return;
	api_sql_add(&sql, "UPDATE %s AS t SET %s = t.%s", r->table, r->key,
		    r->key);
	for (f = r->fields; f->name; f++) {
		json_t *v = json_object_get(ctx->body, f->name);

		if (!v)
			continue;
		api_sql_add(&sql, ", %s = ", f->name);
		api_sql_value(&sql, f, v);
	}
	if (!where_path(ctx, &sql, true)) {
		api_sql_clear(&sql);
		return;
	}
	api_sql_add(&sql, " RETURNING %s::text", r->row_json);
	api_sql_run(ctx, &sql, on_row);
}

static void on_deleted(struct api_ctx *ctx, const PGresult *res)
{
	if (strcmp(PQcmdTuples((PGresult *)res), "0") == 0) {
		api_problem(ctx, 404, "not-found", "no such %s",
			    res_of(ctx)->noun);
		return;
	}
	api_reply_empty(ctx, 204);
}

void api_crud_delete(struct api_ctx *ctx)
{
	const struct api_resource *r = res_of(ctx);
	struct api_sql sql = {0};

	api_sql_add(&sql, "DELETE FROM %s t", r->table);
	if (!where_path(ctx, &sql, true)) {
		api_sql_clear(&sql);
		return;
	}
	api_sql_run(ctx, &sql, on_deleted);
}

/* A campaign with callers waiting is not deleted under them. */
void api_campaigns_delete(struct api_ctx *ctx)
{
	unsigned waiting = 0, longest = 0;
	int64_t id;

	if (!api_param_id(ctx, 0, &id))
		return;
	if (ctx->api->deps.calls)
		calls_queue_numbers(ctx->api->deps.calls, id, &waiting,
				    &longest);
	if (waiting) {
		api_problem(ctx, 409, "conflict",
			    "campaign %lld has %u callers waiting; delete it "
			    "once its queue is empty",
			    (long long)id, waiting);
		return;
	}
	api_crud_delete(ctx);
}

static json_t *cursor_of(json_t *item, const char *key)
{
	json_t *v = json_object_get(item, key);
	char buf[32];

	if (json_is_string(v))
		return json_string(json_string_value(v));
	snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
	return json_string(buf);
}

/* Lists built in memory (live calls, queues) page like the others: ordered
 * by key, from after the cursor, at most limit items. */
static int key_cmp(const void *a, const void *b, void *key)
{
	json_t *x = json_object_get(*(json_t *const *)a, key);
	json_t *y = json_object_get(*(json_t *const *)b, key);

	if (json_is_integer(x) && json_is_integer(y))
		return (json_integer_value(x) > json_integer_value(y)) -
		       (json_integer_value(x) < json_integer_value(y));
	return strcmp(json_string_value(x) ? json_string_value(x) : "",
		      json_string_value(y) ? json_string_value(y) : "");
}

static bool after_cursor(json_t *item, const char *key, const char *cursor)
{
	json_t *v = json_object_get(item, key);

	if (!cursor)
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) > strtoll(cursor, NULL, 10);
	return strcmp(json_string_value(v) ? json_string_value(v) : "",
		      cursor) > 0;
}

void api_reply_items(struct api_ctx *ctx, json_t *items, const char *key)
{
	size_t n = json_array_size(items), i, taken = 0;
	json_t **sorted, *page = json_array(), *last = NULL;
	char cursor_buf[API_MAX_PARAM], *cursor = NULL;
	unsigned limit;

	if (!api_query_limit(ctx, &limit)) {
		json_decref(items);
		json_decref(page);
		return;
	}
	if (http_server_request_param(ctx->req, "cursor", cursor_buf,
				      sizeof(cursor_buf)) >= 0)
		cursor = cursor_buf;
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (!sorted || !page) {
		free(sorted);
		json_decref(items);
		json_decref(page);
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	for (i = 0; i < n; i++)
		sorted[i] = json_array_get(items, i);
	qsort_r(sorted, n, sizeof(*sorted), key_cmp, (void *)key);
	for (i = 0; i < n && taken < limit; i++) {
		if (!after_cursor(sorted[i], key, cursor))
			continue;
		json_array_append(page, sorted[i]);
		last = sorted[i];
		taken++;
	}
	free(sorted);
	api_reply_json(ctx, 200,
		       json_pack("{s:o, s:o}", "items", page, "next_cursor",
				 taken == limit && i < n && last
				     ? cursor_of(last, key)
				     : json_null()));
	json_decref(items);
}
