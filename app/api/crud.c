/* crud.c: resources that are rows of one table (campaigns, numbers,
 * memberships, dispositions, tokens), listed, read, created, changed and deleted
 * by one set of handlers driven by a field table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "api/page.h"
#include "api/reply.h"
#include "api/routes.h"

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

static void on_list(struct api_ctx *ctx, const PGresult *res)
{
	if (PQntuples(res) == 1 && PQnfields(res) == 4 &&
	    strcmp(PQgetvalue(res, 0, 3), "f") == 0) {
		api_problem(ctx, 404, "not-found", "no such campaign");
		return;
	}
	api_reply_page(ctx, res);
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
	live = api_page_decorated(ctx, PQgetvalue(res, 0, 0));
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

	ctx->path_parent = r->parent;
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
