/* page.c: lists a page at a time: the page query that the row resources,
 * routing decisions, leads and CDR build around their own WHERE clause,
 * and the same paging over items built in memory (live calls, queues). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/crud.h"
#include "api/page.h"
#include "api/reply.h"
#include "api/routes.h"

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

char *api_page_decorated(const struct api_ctx *ctx, const char *text)
{
	const struct api_resource *r = ctx->route->data;
	json_t *v = r && r->decorate ? json_loads(text, 0, NULL) : NULL, *item;
	char *out;
	size_t i;

	if (!v)
		return NULL;
	if (json_is_array(v))
		json_array_foreach(v, i, item) r->decorate(ctx->deps, item);
	else
		r->decorate(ctx->deps, v);
	out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return out;
}

void api_reply_page(struct api_ctx *ctx, const PGresult *res)
{
	char *live = api_page_decorated(ctx, PQgetvalue(res, 0, 0));
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
