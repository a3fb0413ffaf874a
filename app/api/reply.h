/* reply.h: answers: JSON, problem+json (RFC 9457), and database errors as
 * problems. Every function taking a ctx answers the request and frees ctx:
 * the caller must not touch ctx afterwards. */
#ifndef APP_API_REPLY_H
#define APP_API_REPLY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

struct api_ctx;

/* Answers body (stolen) as JSON; 500 when it cannot be encoded. */
void api_reply_json(struct api_ctx *ctx, int status, json_t *body);
void api_reply_empty(struct api_ctx *ctx, int status);
/* Answers body (stolen, malloc'd) of len bytes with extra header lines. */
void api_reply_raw(struct api_ctx *ctx, int status, const char *content_type,
		   const char *headers, char *body, size_t len);
void api_problem(struct api_ctx *ctx, int status, const char *slug,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A problem with extra header lines (e.g. Retry-After). */
void api_problem_headers(struct api_ctx *ctx, int status, const char *slug,
			 const char *headers, const char *detail);
/* 422 with one entry per offending field (errors stolen). */
void api_problem_fields(struct api_ctx *ctx, json_t *errors);
/* Maps a failed query (db_result_cb's error and res, res may be NULL) to a
 * problem. */
void api_problem_db(struct api_ctx *ctx, int error, const PGresult *res);
/* The problem body as text, for replies outside a ctx (malloc'd). */
char *api_problem_text(int status, const char *slug, const char *detail,
		       size_t *ret_len);
/* Frees ctx without answering (the answer went out another way). NULL is a
 * no-op. */
void api_ctx_free(struct api_ctx *ctx);

#endif /* APP_API_REPLY_H */
