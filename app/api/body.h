/* body.h: JSON bodies checked against field tables, and path and query
 * parameters. Every function that returns false has answered the request
 * (400, 415 or 422, naming the field and why) and freed ctx. */
#ifndef APP_API_BODY_H
#define APP_API_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "api/server.h"

/* Named caps. */
#define API_LIST_DEFAULT 100 /* items per page */
#define API_LIST_MAX 500
#define API_MAX_TEXT_CURSOR 80 /* bytes of a text key's cursor, with NUL */

enum api_type {
	API_INT = 0,
	API_TEXT,
	API_BOOL,
	API_TEXTS,  /* array of strings */
	API_LEVELS, /* object {string: int 0..10} */
	API_TIME,   /* RFC 3339 text */
};

#define API_F_REQUIRED 1u /* on create */
#define API_F_NULLABLE 2u
#define API_F_CREATE_ONLY 4u /* not in PATCH bodies */

struct api_field {
	const char *name; /* JSON name = column name */
	enum api_type type;
	unsigned flags;
	long long min, max;         /* INT: value; TEXT: length */
	const char *const *choices; /* TEXT: allowed values, NULL-ended */
	/* TEXT: returns NULL when fine, else why not (a sentence part). */
	const char *(*check)(const char *value);
};

/* Checks ctx->body against fields (ended by a NULL name); create demands
 * the required fields. */
bool api_body_check(struct api_ctx *ctx, const struct api_field *fields,
		    bool create);
/* Parses the request's JSON body into ctx->body (an object). */
bool api_body_parse(struct api_ctx *ctx);
/* True for an RFC 3339 date-time with a zone, "YYYY-MM-DDTHH:MM:SS", an
 * optional fraction, then "Z" or an offset up to +-15:59, whose date
 * exists: one that PostgreSQL stores as it is. */
bool api_time_valid(const char *s);
/* Field value checks used by the tables: NULL when fine, else why not. */
const char *api_check_digits(const char *value);   /* "+"? digits 3..20 */
const char *api_check_slug(const char *value);     /* [a-z0-9_]{1,40} */
const char *api_check_sipuser(const char *value);  /* [a-z0-9_.-]{3,40} */
const char *api_check_template(const char *value); /* has {number} */

/* Path parameter i as an id (a positive integer). */
bool api_param_id(struct api_ctx *ctx, unsigned i, int64_t *ret_id);
/* ?limit=, API_LIST_DEFAULT when absent. */
bool api_query_limit(struct api_ctx *ctx, unsigned *ret_limit);
/* ?name= as a positive integer; *ret_set tells whether it was given. */
bool api_query_int(struct api_ctx *ctx, const char *name, int64_t *ret_v,
		   bool *ret_set);
/* The ?cursor= of a list keyed by id, as its decimal text ("" when
 * absent). */
bool api_query_cursor(struct api_ctx *ctx, char cursor[API_MAX_PARAM]);

#endif /* APP_API_BODY_H */
