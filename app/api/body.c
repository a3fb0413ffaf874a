/* body.c: request bodies checked against field tables, and path and query
 * parameters. Every refusal names the field and why. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/reply.h"

bool api_body_parse(struct api_ctx *ctx)
{
	const char *type = http_server_request_header(ctx->req, "content-type");
	json_error_t err;
	size_t len;
	const char *text = http_server_request_body(ctx->req, &len);

	if (type && strncmp(type, "application/json", 16) != 0) {
		api_problem(ctx, 415, "unsupported-media-type",
			    "send the body as application/json, not %s", type);
		return false;
	}
	/* NUL inside strings is valid JSON: the field checks refuse it with
	 * the field's name. */
	ctx->body = json_loadb(text, len,
			       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (!ctx->body) {
		api_problem(ctx, 400, "invalid-json",
			    "the body is not valid JSON: %s (line %d, column "
			    "%d)",
			    err.text, err.line, err.column);
		return false;
	}
	if (!json_is_object(ctx->body)) {
		api_problem(ctx, 400, "invalid-json",
			    "the body must be a JSON object");
		return false;
	}
	return true;
}

static void field_error(json_t *errors, const char *field, const char *detail)
{
	json_array_append_new(
	    errors, json_pack("{s:s, s:s}", "field", field, "detail", detail));
}

static bool in_choices(const char *const *choices, const char *v)
{
	for (; *choices; choices++)
		if (strcmp(*choices, v) == 0)
			return true;
	return false;
}

static const char *check_int(const struct api_field *f, const json_t *v)
{
	json_int_t i;

	if (!json_is_integer(v))
		return "must be an integer";
	i = json_integer_value(v);
	if (i < f->min)
		return "is below the minimum";
	if (f->max && i > f->max)
		return "is above the maximum";
	return NULL;
}

static const char *check_text(const struct api_field *f, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (!s)
		return "must be a string";
	if (strlen(s) != len)
		return "must not contain NUL characters";
	if ((long long)len < f->min)
		return f->min == 1 ? "must not be empty" : "is too short";
	if (f->max && (long long)len > f->max)
		return "is too long";
	if (f->choices && !in_choices(f->choices, s))
		return "is not one of the allowed values";
	return f->check ? f->check(s) : NULL;
}

static const char *check_texts(const struct api_field *f, const json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return "must be an array of strings";
	if (json_array_size(v) > 100)
		return "has more than 100 entries";
	json_array_foreach(v, i, e)
	{
		const char *why = check_text(f, e);

		if (why)
			return why;
	}
	return NULL;
}

static const char *check_levels(const json_t *v)
{
	const char *k;
	json_t *e;

	if (!json_is_object(v))
		return "must be an object of skill levels";
	if (json_object_size(v) > 32)
		return "has more than 32 skills";
	json_object_foreach((json_t *)v, k, e)
	{
		if (!*k || strlen(k) > 40)
			return "has a skill name that is empty or too long";
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > 10)
			return "levels must be integers from 0 to 10";
	}
	return NULL;
}

/* The value of the n digits at s, or -1 when any is not a digit. */
static int fixed_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* True when year y (1..9999) has a day d in month m. */
static bool date_exists(int y, int m, int d)
{
	static const int days[] = {31, 29, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return y >= 1 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= (m == 2 && !leap ? 28 : days[m - 1]);
}

/* "Z" or "+HH:MM" / "-HH:MM" up to 15:59, the widest offset PostgreSQL
 * stores. */
static bool zone_valid(const char *z)
{
	if (strcmp(z, "Z") == 0)
		return true;
	return (z[0] == '+' || z[0] == '-') && strlen(z) == 6 && z[3] == ':' &&
	       fixed_digits(z + 1, 2) >= 0 && fixed_digits(z + 1, 2) <= 15 &&
	       fixed_digits(z + 4, 2) >= 0 && fixed_digits(z + 4, 2) <= 59;
}

/* Every field has its exact digits (sscanf's %d took signs and spaces),
 * the date exists, and the zone is one PostgreSQL reads: what passes is
 * stored as it is, so a refusal here names the field rather than leaving
 * PostgreSQL to refuse the whole body. */
bool api_time_valid(const char *s)
{
	const char *zone;
	size_t frac;

	if (strnlen(s, 41) > 40 || strlen(s) < 20 || s[4] != '-' ||
	    s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return false;
	if (!date_exists(fixed_digits(s, 4), fixed_digits(s + 5, 2),
			 fixed_digits(s + 8, 2)) ||
	    fixed_digits(s + 11, 2) < 0 || fixed_digits(s + 11, 2) > 23 ||
	    fixed_digits(s + 14, 2) < 0 || fixed_digits(s + 14, 2) > 59 ||
	    fixed_digits(s + 17, 2) < 0 || fixed_digits(s + 17, 2) > 60)
		return false;
	zone = s + 19;
	if (*zone == '.') {
		frac = strspn(zone + 1, "0123456789");
		if (frac == 0)
			return false;
		zone += 1 + frac;
	}
	return zone_valid(zone);
}

static const char *check_time(const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || !api_time_valid(s))
		return "must be an RFC 3339 date-time, e.g. "
		       "2026-01-31T09:00:00Z";
	return NULL;
}

static const char *check_value(const struct api_field *f, const json_t *v)
{
	if (json_is_null(v))
		return (f->flags & API_F_NULLABLE) ? NULL : "must not be null";
	switch (f->type) {
	case API_INT:
		return check_int(f, v);
	case API_TEXT:
		return check_text(f, v);
	case API_BOOL:
		return json_is_boolean(v) ? NULL : "must be true or false";
	case API_TEXTS:
		return check_texts(f, v);
	case API_LEVELS:
		return check_levels(v);
	case API_TIME:
		return check_time(v);
	}
	return "has an unknown type";
}

static const struct api_field *field_find(const struct api_field *fields,
					  const char *name)
{
	for (; fields->name; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

bool api_body_check(struct api_ctx *ctx, const struct api_field *fields,
		    bool create)
{
	json_t *errors = json_array(), *v;
	const char *k;

	json_object_foreach(ctx->body, k, v)
	{
		const struct api_field *f = field_find(fields, k);
		const char *why;

		if (!f || (!create && (f->flags & API_F_CREATE_ONLY))) {
			field_error(errors, k,
				    f ? "cannot be changed after creation"
				      : "is not a known field");
			continue;
		}
		why = check_value(f, v);
		if (why)
			field_error(errors, k, why);
	}
	for (; create && fields->name; fields++)
		if ((fields->flags & API_F_REQUIRED) &&
		    !json_object_get(ctx->body, fields->name))
			field_error(errors, fields->name, "is required");
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return true;
	}
	api_problem_fields(ctx, errors);
	return false;
}

const char *api_check_digits(const char *value)
{
	const char *p = value + (*value == '+');
	size_t n = strlen(p);

	if (n < 3 || n > 20 || strspn(p, "0123456789") != n)
		return "must be digits, optionally after a '+', 3 to 20 of "
		       "them";
	return NULL;
}

const char *api_check_slug(const char *value)
{
	size_t n = strlen(value);

	if (n < 1 || n > 40 ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return "must be 1 to 40 of a-z, 0-9 and _";
	return NULL;
}

const char *api_check_sipuser(const char *value)
{
	size_t n = strlen(value);

	if (n < 3 || n > 40 ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n)
		return "must be 3 to 40 of a-z, 0-9, '_', '.' and '-'";
	return NULL;
}

const char *api_check_template(const char *value)
{
	if (!strstr(value, "{number}"))
		return "must contain {number}";
	if (strchr(value, '\n') || strchr(value, '\r'))
		return "must be one line";
	return NULL;
}

/* Parses a decimal int64 of the whole string, at least 1. Returns 0,
 * -EINVAL (not digits, or 0), or -ERANGE (digits past int64: no such id
 * can exist). */
static int parse_id(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 64)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end || v < 1)
		return -EINVAL;
	*ret = v;
	return 0;
}

bool api_param_id(struct api_ctx *ctx, unsigned i, int64_t *ret_id)
{
	int r = parse_id(ctx->params[i], ret_id);

	if (r == 0)
		return true;
	if (r == -ERANGE)
		api_problem(ctx, 404, "not-found", "no such id %.64s",
			    ctx->params[i]);
	else
		api_problem(ctx, 400, "bad-request",
			    "\"%.64s\" is not an id: ids are positive "
			    "integers",
			    ctx->params[i]);
	return false;
}

bool api_query_int(struct api_ctx *ctx, const char *name, int64_t *ret_v,
		   bool *ret_set)
{
	char buf[32];
	int r = http_server_request_param(ctx->req, name, buf, sizeof(buf));

	*ret_set = false;
	if (r == -ENOENT)
		return true;
	if (r < 0 || parse_id(buf, ret_v) < 0) {
		api_problem(ctx, 400, "bad-request",
			    "query parameter %s must be a positive integer",
			    name);
		return false;
	}
	*ret_set = true;
	return true;
}

bool api_query_cursor(struct api_ctx *ctx, char cursor[API_MAX_PARAM])
{
	char buf[32];
	int64_t v;
	int r = http_server_request_param(ctx->req, "cursor", buf, sizeof(buf));

	cursor[0] = '\0';
	if (r == -ENOENT)
		return true;
	if (r < 0 || parse_id(buf, &v) < 0) {
		api_problem(ctx, 400, "bad-request",
			    "cursor is not one this server gave out");
		return false;
	}
	snprintf(cursor, API_MAX_PARAM, "%lld", (long long)v);
	return true;
}

bool api_query_limit(struct api_ctx *ctx, unsigned *ret_limit)
{
	int64_t v;
	bool set;

	*ret_limit = API_LIST_DEFAULT;
	if (!api_query_int(ctx, "limit", &v, &set))
		return false;
	if (!set)
		return true;
	if (v > API_LIST_MAX) {
		api_problem(ctx, 400, "bad-request",
			    "limit must be from 1 to %d", API_LIST_MAX);
		return false;
	}
	*ret_limit = (unsigned)v;
	return true;
}
