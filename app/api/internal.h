/* internal.h: what the files of the API share: the request context, the
 * route table, replies, body validation and SQL-backed resources. */
#ifndef APP_API_INTERNAL_H
#define APP_API_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "http/server.h"
#include "util/strmap.h"

/* Named caps. */
#define API_MAX_PARAMS 2     /* {placeholders} in one route */
#define API_MAX_PARAM 128    /* bytes of one path parameter */
#define API_LIST_DEFAULT 100 /* items per page */
#define API_LIST_MAX 500
#define API_MAX_TEXT_CURSOR 80 /* bytes of a text key's cursor, with NUL */
#define API_CSV_MAX_ROWS 100000
#define API_MAX_TOKENS 100000 /* live tokens cached */

enum api_role {
	API_ROLE_NONE = 0, /* no token needed */
	API_ROLE_AGENT,
	API_ROLE_SUPERVISOR,
	API_ROLE_ADMIN,
};

struct api_ctx;
typedef void (*api_handler)(struct api_ctx *ctx);

/* How a route treats agent tokens beyond the minimum role. */
enum api_self {
	API_SELF_NO = 0,
	API_SELF_AGENT,  /* {id} is an agent id: an agent token only its own */
	API_SELF_CALL,   /* {id} is a call: an agent token only its own calls */
	API_SELF_SCOPED, /* lists: agent tokens see only their own rows */
};

struct api_route {
	const char *method;
	const char *path; /* full path; {name} matches one segment */
	enum api_role role;
	enum api_self self;
	api_handler handler;
	const void *data; /* for generic handlers, e.g. a resource */
};

struct api_principal {
	enum api_role role;
	int64_t agent_id; /* agent tokens: the agent; else 0 */
	int64_t token_id; /* 0 for the bootstrap token */
};

struct api {
	uv_loop_t *loop;
	struct http_server *http;
	struct api_deps deps;
	struct strmap *tokens; /* hash -> struct api_principal */
	char bootstrap_hash[65];
	char sip_server[64]; /* stored with new agents' SIP accounts */
	bool tokens_loading;
	bool tokens_dirty; /* changed again while loading */
	bool closing;
	unsigned refs; /* 1 until closed, plus queries of its own */
	int64_t started_us;
	struct feed *feed;
	char epoch[24]; /* this process start, in every feed message */
	struct metrics *metrics;
	struct api_families *fam;
	uv_timer_t tick; /* loop lag and queue.stats, every API_TICK_MS */
	uint64_t tick_due_ns;
	struct outbound_ratelimit *outbound_rl; /* place-call rate per agent */
	unsigned ari_reconnects_seen;
	unsigned open_handles;
};

/* One request being handled: freed by the reply. */
struct api_ctx {
	struct api *api;
	struct http_request *req;
	const struct api_route *route;
	char params[API_MAX_PARAMS][API_MAX_PARAM];
	struct api_principal who;
	json_t *body; /* the parsed JSON body, or NULL */
	void *data;   /* a handler's state, freed with free() by the reply */
	void (*data_free)(void *data);
};

/* routes.c */
extern const struct api_route api_routes[];
extern const size_t api_nroutes;
const struct api_route *api__match(const char *method, const char *path,
				   char params[API_MAX_PARAMS][API_MAX_PARAM],
				   bool *ret_path_known);

/* reply.c: every function here answers and frees ctx. */
void api_reply_json(struct api_ctx *ctx, int status, json_t *body);
void api_reply_empty(struct api_ctx *ctx, int status);
void api_reply_raw(struct api_ctx *ctx, int status, const char *content_type,
		   const char *headers, char *body, size_t len);
void api_problem(struct api_ctx *ctx, int status, const char *slug,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A problem with extra header lines (e.g. Retry-After). */
void api_problem_headers(struct api_ctx *ctx, int status, const char *slug,
			 const char *headers, const char *detail);
/* 422 with one entry per offending field (errors stolen). */
void api_problem_fields(struct api_ctx *ctx, json_t *errors);
/* Maps a failed query (db_result_cb's error and res) to a problem. */
void api_problem_db(struct api_ctx *ctx, int error, const PGresult *res);
/* The problem body as text, for replies outside a ctx (malloc'd). */
char *api_problem_text(int status, const char *slug, const char *detail,
		       size_t *ret_len);
void api_ctx_free(struct api_ctx *ctx);

/* body.c: JSON bodies checked against a field table. */
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

/* Checks ctx->body against fields; on failure answers 422 (or 400) and
 * returns false. create demands the required fields. */
bool api_body_check(struct api_ctx *ctx, const struct api_field *fields,
		    bool create);
/* Parses the request's JSON body into ctx->body (object); answers 400/415
 * and returns false when it is not one. */
bool api_body_parse(struct api_ctx *ctx);
/* True for an RFC 3339 date-time with a zone. */
bool api_time_valid(const char *s);
/* Field value checks used by the tables. */
const char *api_check_digits(const char *value);   /* "+"? digits 3..20 */
const char *api_check_slug(const char *value);     /* [a-z0-9_]{1,40} */
const char *api_check_sipuser(const char *value);  /* [a-z0-9_.-]{3,40} */
const char *api_check_template(const char *value); /* has {number} */

/* Path and query helpers; on failure they answer 400 and return false. */
bool api_param_id(struct api_ctx *ctx, unsigned i, int64_t *ret_id);
bool api_query_limit(struct api_ctx *ctx, unsigned *ret_limit);
bool api_query_int(struct api_ctx *ctx, const char *name, int64_t *ret_v,
		   bool *ret_set);
/* The ?cursor= of a list keyed by id, as its decimal text ("" when
 * absent). */
bool api_query_cursor(struct api_ctx *ctx, char cursor[API_MAX_PARAM]);

/* db.c: queries on behalf of a request. */
typedef void (*api_db_cb)(struct api_ctx *ctx, const PGresult *res);
/* Runs sql; on success cb gets the result, on failure the problem is
 * answered. */
void api_db(struct api_ctx *ctx, const char *sql, int nparams,
	    const char *const *params, api_db_cb cb);

/* A growing SQL text with its text parameters. */
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
void api_sql_clear(struct api_sql *sql);
void api_sql_run(struct api_ctx *ctx, struct api_sql *sql, api_db_cb cb);

/* crud.c: resources that are rows of one table. */
struct api_resource {
	const char *table;
	const char *key;    /* primary key column */
	bool key_is_int;    /* else text */
	const char *parent; /* column set from path parameter 0, or NULL */
	const struct api_field *fields;
	const char *row_json; /* SQL giving the JSON of row alias t */
	const char *noun;     /* for messages, e.g. "campaign" */
	bool upsert;          /* create updates an existing row (nested) */
	/* Overlays live state on each object read, or NULL. */
	void (*decorate)(struct api *api, json_t *obj);
};
void api_crud_list(struct api_ctx *ctx);
void api_crud_get(struct api_ctx *ctx);
void api_crud_create(struct api_ctx *ctx);
void api_crud_update(struct api_ctx *ctx);
void api_crud_delete(struct api_ctx *ctx);
void api_campaigns_delete(struct api_ctx *ctx);
/* Answers a page of items (stolen) built in memory, ordered by key (an
 * integer or string field), honouring limit and cursor. */
void api_reply_items(struct api_ctx *ctx, json_t *items, const char *key);
/*
 * A page query in the shape api_reply_page() reads (the items as one JSON
 * array, whether more may follow, the cursor), in three steps around the
 * caller's own columns and WHERE clause:
 *   api_page_open():  SELECT <items>, <more>, <cursor>   (more columns may
 *                     follow: api_reply_page reads the first three)
 *   api_page_rows():  FROM (SELECT <row_json> AS j, <key> AS k FROM <from>
 *   (the caller's " WHERE ..." comes here)
 *   api_page_close(): AND <key> after the cursor, ORDER BY, LIMIT, ")"
 * key is an expression over from's alias (e.g. "t.id"); newest_first
 * orders by it descending.
 */
struct api_page {
	const char *key;
	bool newest_first;
	int limit_param;
};
void api_page_open(struct api_sql *sql, struct api_page *page, unsigned limit);
void api_page_rows(struct api_sql *sql, const struct api_page *page,
		   const char *row_json, const char *from);
/* cursor: NULL for the first page; key_type: its SQL type ("bigint"). */
void api_page_close(struct api_sql *sql, const struct api_page *page,
		    const char *cursor, const char *key_type);
/* Answers a page: rows of one column of JSON text, and the cursor. */
void api_reply_page(struct api_ctx *ctx, const PGresult *res);

extern const struct api_resource api_res_campaigns, api_res_dids,
    api_res_members, api_res_dispositions, api_res_tokens, api_res_agents;

/* agents.c */
void api_agents_create(struct api_ctx *ctx);
void api_agents_update(struct api_ctx *ctx);
void api_agents_delete(struct api_ctx *ctx);
void api_agents_state(struct api_ctx *ctx);

/* tokens.c */
void api_tokens_create(struct api_ctx *ctx);
void api_tokens_revoke(struct api_ctx *ctx);
const struct api_principal *api__token_find(struct api *api, const char *token);
void api__tokens_load(struct api *api);
void api__tokens_free(struct api *api);
void api__unref(struct api *api);

/* calls.c */
void api_calls_list(struct api_ctx *ctx);
void api_calls_get(struct api_ctx *ctx);
void api_calls_hangup(struct api_ctx *ctx);
void api_calls_transfer(struct api_ctx *ctx);
void api_calls_recording(struct api_ctx *ctx);
void api_calls_routing(struct api_ctx *ctx);
void api_cdr_list(struct api_ctx *ctx);

/* outbound.c */
void api_calls_place(struct api_ctx *ctx);
void api_calls_disposition(struct api_ctx *ctx);
void api_leads_import(struct api_ctx *ctx);
void api_leads_list(struct api_ctx *ctx);
int api__outbound_init(struct api *api);
void api__outbound_free(struct api *api);

/* queues.c */
void api_queues_list(struct api_ctx *ctx);
void api_queues_get(struct api_ctx *ctx);
void api_healthz(struct api_ctx *ctx);
void api_metrics(struct api_ctx *ctx);

/* observe.c: the event feed, the metrics and the periodic tick. */
#define API_TICK_MS 250
int api__observe_init(struct api *api);
void api__observe_close(struct api *api);
void api__observe_free(struct api *api);
/* Counts a response by status for the metrics. */
void api__count(struct api *api, int status);
/* The queue object of a campaign (api.md "Queues"). */
struct campaign;
json_t *api__queue_json(struct api *api, const struct campaign *c);

/* feed.c: the event-feed WebSocket. */
int api__feed_open(struct api *api, struct http_ws *ws,
		   const struct http_request *req, const char **ret_detail);
void api__feed_closed(struct api *api, struct http_ws *ws);
void api_events_plain(struct api_ctx *ctx);

/* server.c */
/* Authenticates a request's token (header, or access_token in the query
 * when allow_query). Returns the principal or NULL. */
const struct api_principal *api__authenticate(struct api *api,
					      const struct http_request *req,
					      bool allow_query);
bool api_role_at_least(enum api_role have, enum api_role need);
const char *api_role_name(enum api_role role);

#endif /* APP_API_INTERNAL_H */
