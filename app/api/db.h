/* db.h: queries run for a request, and SQL built from validated bodies.
 * The text of a statement only ever holds column names from field tables
 * and $n placeholders: values travel as parameters. */
#ifndef APP_API_DB_H
#define APP_API_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/body.h"

/* Gets a successful result (borrowed for the call); it must answer ctx. */
typedef void (*api_db_cb)(struct api_ctx *ctx, const PGresult *res);

/* Runs sql with text params (copied by the pool); on success cb runs once
 * with the result, on failure the problem is answered and cb never runs. */
void api_db(struct api_ctx *ctx, const char *sql, int nparams,
	    const char *const *params, api_db_cb cb);

/* A growing SQL text with its text parameters. A failed allocation sets
 * failed, and api_sql_run() then answers 500. */
struct api_sql {
	char *text;
	size_t len, cap;
	char *params[64];
	int nparams;
	bool failed;
};
void api_sql_add(struct api_sql *sql, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds a parameter (copied; NULL is SQL NULL) and returns its number. */
int api_sql_param(struct api_sql *sql, const char *value);
int api_sql_param_int(struct api_sql *sql, long long value);
/* Appends "$n::cast" for a JSON value of a field. */
void api_sql_value(struct api_sql *sql, const struct api_field *f,
		   const json_t *value);
/* Frees the text and the parameters; sql may be used again. */
void api_sql_clear(struct api_sql *sql);
/* api_db() on the built statement; clears sql. */
void api_sql_run(struct api_ctx *ctx, struct api_sql *sql, api_db_cb cb);

#endif /* APP_API_DB_H */
