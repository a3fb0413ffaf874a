/* db.c: queries run for a request, and SQL built from validated bodies. The
 * text of a statement only ever holds column names from field tables and
 * $n placeholders: values travel as parameters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/db.h"
#include "api/reply.h"
#include "db/pool.h"

struct api_query {
	struct api_ctx *ctx;
	api_db_cb cb;
};

static void on_result(int error, const PGresult *res, void *userdata)
{
	struct api_query *q = userdata;
	struct api_ctx *ctx = q->ctx;
	api_db_cb cb = q->cb;

	free(q);
	if (error < 0) {
		api_problem_db(ctx, error, res);
		return;
	}
	cb(ctx, res);
}

void api_db(struct api_ctx *ctx, const char *sql, int nparams,
	    const char *const *params, api_db_cb cb)
{
	struct api_query *q;
	int r;

	if (!ctx->deps->db) {
		api_problem(ctx, 503, "unavailable",
			    "this daemon runs without a database");
		return;
	}
	q = malloc(sizeof(*q));
	if (!q) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	q->ctx = ctx;
	q->cb = cb;
	r = db_pool_query(ctx->deps->db, sql, nparams, params, on_result, q);
	if (r < 0) {
		free(q);
		api_problem_db(ctx, r, NULL);
	}
}

void api_sql_add(struct api_sql *sql, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sql->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(sql->text ? sql->text + sql->len : NULL,
			      sql->text ? sql->cap - sql->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sql->failed = true;
			return;
		}
		if (sql->text && sql->len + (size_t)n < sql->cap) {
			sql->len += (size_t)n;
			return;
		}
		size_t cap = (sql->cap ? sql->cap * 2 : 512) + (size_t)n;
		char *text = realloc(sql->text, cap);

		if (!text) {
			sql->failed = true;
			return;
		}
		if (!sql->text)
			text[0] = '\0';
		sql->text = text;
		sql->cap = cap;
	}
}

int api_sql_param(struct api_sql *sql, const char *value)
{
	char *copy = NULL;

	if (sql->nparams >= (int)(sizeof(sql->params) / sizeof(*sql->params))) {
		sql->failed = true;
		return 1;
	}
	if (value && !(copy = strdup(value)))
		sql->failed = true;
	sql->params[sql->nparams++] = copy;
	return sql->nparams;
}

int api_sql_param_int(struct api_sql *sql, long long value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", value);
	return api_sql_param(sql, buf);
}

void api_sql_value(struct api_sql *sql, const struct api_field *f,
		   const json_t *value)
{
	char *text = NULL;
	int n;

	if (json_is_null(value)) {
		n = api_sql_param(sql, NULL);
	} else if (f->type == API_INT) {
		n = api_sql_param_int(sql, json_integer_value(value));
	} else if (f->type == API_TEXT || f->type == API_TIME) {
		n = api_sql_param(sql, json_string_value(value));
	} else if (f->type == API_BOOL) {
		n = api_sql_param(sql, json_is_true(value) ? "true" : "false");
	} else {
		text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text)
			sql->failed = true;
		n = api_sql_param(sql, text);
		free(text);
	}
	switch (f->type) {
	case API_INT:
		api_sql_add(sql, "$%d::bigint", n);
		break;
	case API_BOOL:
		api_sql_add(sql, "$%d::boolean", n);
		break;
	case API_TIME:
		api_sql_add(sql, "$%d::timestamptz", n);
		break;
	case API_TEXTS:
		api_sql_add(
		    sql,
		    "CASE WHEN $%d::jsonb IS NULL THEN NULL ELSE "
		    "ARRAY(SELECT jsonb_array_elements_text($%d::jsonb))"
		    " END",
		    n, n);
		break;
	case API_LEVELS:
		api_sql_add(sql, "$%d::jsonb", n);
		break;
	case API_TEXT:
		api_sql_add(sql, "$%d::text", n);
		break;
	}
}

void api_sql_clear(struct api_sql *sql)
{
	for (int i = 0; i < sql->nparams; i++)
		free(sql->params[i]);
	free(sql->text);
	memset(sql, 0, sizeof(*sql));
}

void api_sql_run(struct api_ctx *ctx, struct api_sql *sql, api_db_cb cb)
{
	if (sql->failed || !sql->text) {
		api_sql_clear(sql);
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	api_db(ctx, sql->text, sql->nparams, (const char *const *)sql->params,
	       cb);
	api_sql_clear(sql);
}
