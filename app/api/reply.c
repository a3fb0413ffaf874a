/* reply.c: answers: JSON, problem+json (RFC 9457), and the mapping of
 * database errors to problems. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "api/reply.h"
#include "util/log.h"
#include "util/utf8.h"

/* Room for a detail once escaped: each byte may become four. */
#define REPLY_MAX_DETAIL 2048

static const char *const problem_titles[][2] = {
    {"bad-request", "Bad request"},
    {"invalid-json", "Body is not valid JSON"},
    {"unauthorized", "Authentication required"},
    {"forbidden", "Not allowed"},
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"conflict", "Conflict"},
    {"body-too-large", "Body too large"},
    {"unsupported-media-type", "Unsupported media type"},
    {"invalid-body", "Invalid body"},
    {"range-not-satisfiable", "Range not satisfiable"},
    {"rate-limited", "Too many requests"},
    {"internal", "Internal error"},
    {"unavailable", "Service unavailable"},
};

static const char *problem_title(const char *slug)
{
	for (size_t i = 0; i < sizeof(problem_titles) / sizeof(*problem_titles);
	     i++)
		if (strcmp(problem_titles[i][0], slug) == 0)
			return problem_titles[i][1];
	return "Error";
}

void api_ctx_free(struct api_ctx *ctx)
{
	if (!ctx)
		return;
	api__unref(ctx->api);
	json_decref(ctx->body);
	if (ctx->data_free)
		ctx->data_free(ctx->data);
	free(ctx);
}

void api_reply_raw(struct api_ctx *ctx, int status, const char *content_type,
		   const char *headers, char *body, size_t len)
{
	ctx->api->count(ctx->api, status);
	http_server_request_respond_take(ctx->req, status, content_type,
					 headers, body, len);
	api_ctx_free(ctx);
}

void api_reply_json(struct api_ctx *ctx, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	api_reply_raw(ctx, status, "application/json", NULL, text,
		      strlen(text));
}

void api_reply_empty(struct api_ctx *ctx, int status)
{
	ctx->api->count(ctx->api, status);
	http_server_request_respond(ctx->req, status, NULL, NULL, NULL, 0);
	api_ctx_free(ctx);
}

/* The problem object (RFC 9457) of status, slug and detail, or NULL for
 * lack of memory only. detail often quotes what the client sent, cut to a
 * length: bytes that are not UTF-8 (or a sequence cut short) are escaped,
 * since jansson refuses them. */
static json_t *problem_json(int status, const char *slug, const char *detail)
{
	char type[96], clean[REPLY_MAX_DETAIL];

	snprintf(type, sizeof(type), "urn:welcomedly:problem:%s", slug);
	utf8_escape(clean, sizeof(clean), detail ? detail : "");
	return json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title",
			 problem_title(slug), "status", status, "detail",
			 clean);
}

char *api_problem_text(int status, const char *slug, const char *detail,
		       size_t *ret_len)
{
	json_t *p = problem_json(status, slug, detail);
	char *text;

	text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (text)
		*ret_len = strlen(text);
	return text;
}

static void reply_problem_h(struct api_ctx *ctx, int status, const char *slug,
			    const char *headers, const char *detail,
			    json_t *errors)
{
	json_t *p = problem_json(status, slug, detail);
	char *text;

	if (p && errors)
		json_object_set_new(p, "errors", errors);
	else
		json_decref(errors);
	text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	if (status == 401)
		headers = "WWW-Authenticate: Bearer realm=\"welcomedly\"\r\n";
	if (status >= 500)
		log_warning("api %s %s -> %d %s",
			    http_server_request_method(ctx->req),
			    http_server_request_path(ctx->req), status, detail);
	else
		log_debug("api %s %s -> %d %s",
			  http_server_request_method(ctx->req),
			  http_server_request_path(ctx->req), status, detail);
	if (!text) {
		http_server_request_respond(ctx->req, 500, NULL, NULL, NULL, 0);
		api_ctx_free(ctx);
		return;
	}
	api_reply_raw(ctx, status, "application/problem+json", headers, text,
		      strlen(text));
}

static void reply_problem(struct api_ctx *ctx, int status, const char *slug,
			  const char *detail, json_t *errors)
{
	reply_problem_h(ctx, status, slug, NULL, detail, errors);
}

void api_problem_headers(struct api_ctx *ctx, int status, const char *slug,
			 const char *headers, const char *detail)
{
	reply_problem_h(ctx, status, slug, headers, detail, NULL);
}

void api_problem(struct api_ctx *ctx, int status, const char *slug,
		 const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	reply_problem(ctx, status, slug, detail, NULL);
}

void api_problem_fields(struct api_ctx *ctx, json_t *errors)
{
	char detail[512] = "the body has invalid fields";
	json_t *first = json_array_get(errors, 0);

	if (first)
		snprintf(detail, sizeof(detail), "%s: %s",
			 json_string_value(json_object_get(first, "field")),
			 json_string_value(json_object_get(first, "detail")));
	reply_problem(ctx, 422, "invalid-body", detail, errors);
}

/* The field a constraint is about: its name is <table>_<column>_<kind>
 * (PostgreSQL's default names), or the column PostgreSQL names. */
static void constraint_field(const PGresult *res, char *out, size_t size)
{
	const char *col = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
	const char *name = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	const char *table = PQresultErrorField(res, PG_DIAG_TABLE_NAME);
	size_t n;

	snprintf(out, size, "%s", col ? col : name ? name : "");
	if (col || !name)
		return;
	n = table ? strlen(table) : 0;
	if (n && strncmp(name, table, n) == 0 && name[n] == '_')
		memmove(out, out + n + 1, strlen(out + n + 1) + 1);
	for (const char *const *k =
		 (const char *const[]){"_fkey", "_check", "_key", NULL};
	     *k; k++) {
		size_t len = strlen(out), kl = strlen(*k);

		if (len > kl && strcmp(out + len - kl, *k) == 0) {
			out[len - kl] = '\0';
			break;
		}
	}
}

/* A refused value named by its field, without the server's wording. */
static void problem_constraint(struct api_ctx *ctx, int status,
			       const char *slug, const PGresult *res,
			       const char *what)
{
	char field[128];

	constraint_field(res, field, sizeof(field));
	if (status == 422 && *field) {
		json_t *errors =
		    json_pack("[{s:s, s:s}]", "field", field, "detail", what);
		char detail[256];

		snprintf(detail, sizeof(detail), "%s: %s", field, what);
		reply_problem(ctx, status, slug, detail, errors);
		return;
	}
	if (*field)
		api_problem(ctx, status, slug, "%s: %s", field, what);
	else
		api_problem(ctx, status, slug, "%s", what);
}

/* A nested resource whose parent in the path does not exist: the path is
 * at fault, not the body. */
static bool parent_missing(const struct api_ctx *ctx, const PGresult *res)
{
	char field[128];

	if (!ctx->path_parent)
		return false;
	constraint_field(res, field, sizeof(field));
	return strcmp(field, ctx->path_parent) == 0;
}

void api_problem_db(struct api_ctx *ctx, int error, const PGresult *res)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (error == -ENOTCONN || error == -ECONNRESET || error == -ENOBUFS ||
	    error == -ECANCELED) {
		api_problem(ctx, 503, "unavailable",
			    "the database is not reachable (%s); try again",
			    strerror(-error));
		return;
	}
	if (!state) {
		api_problem(ctx, 500, "internal", "database error (%s)",
			    strerror(-error));
		return;
	}
	if (strcmp(state, "23505") == 0)
		problem_constraint(ctx, 409, "conflict", res, "already exists");
	else if (strcmp(state, "23503") == 0 &&
		 strcmp(http_server_request_method(ctx->req), "DELETE") == 0)
		problem_constraint(ctx, 409, "conflict", res, "still in use");
	else if (strcmp(state, "23503") == 0 && parent_missing(ctx, res))
		api_problem(ctx, 404, "not-found", "no such campaign %.64s",
			    ctx->params[0]);
	else if (strcmp(state, "23503") == 0)
		problem_constraint(ctx, 422, "invalid-body", res,
				   "refers to something that does not exist");
	else if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		problem_constraint(ctx, 422, "invalid-body", res,
				   "value refused");
	else {
		log_error("api query failed sqlstate=%s error=%s", state,
			  PQresultErrorMessage(res));
		api_problem(ctx, 500, "internal",
			    "the database refused the request (SQLSTATE %s)",
			    state);
	}
}
