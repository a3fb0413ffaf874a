/* internal.h: what only the files of app/api share: the server object, the
 * route table lookup, tokens, the feed sockets and the metrics hooks.
 * Features see app/api through server.h, role.h, routes.h, reply.h, body.h,
 * db.h, crud.h and page.h. */
#ifndef APP_API_INTERNAL_H
#define APP_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api/routes.h"
#include "util/strmap.h"

#define API_MAX_TOKENS 100000 /* live tokens cached */
#define API_TICK_MS 250       /* loop lag and queue.stats */
/* The close reason of a feed socket shed for the server's queue caps (code
 * 1013): like a feed.gap, the client resumes with ?since=. */
#define API_FEED_SHED_REASON                                                   \
	"feed.gap: too far behind; reconnect with ?since=<last seq>"

struct api {
	uv_loop_t *loop;
	struct http_server *http;
	struct api_deps deps;
	const struct api_route *routes; /* the table (borrowed) */
	size_t nroutes;
	/* api_config.queue_json, or NULL. */
	json_t *(*queue_json)(const struct api_deps *deps,
			      const struct campaign *c);
	struct strmap *tokens; /* hash -> struct api_principal */
	char bootstrap_hash[65];
	char sip_server[64]; /* stored with new agents' SIP accounts */
	bool tokens_loading;
	bool tokens_dirty; /* changed again while loading */
	bool closing;
	unsigned refs; /* 1 until closed, plus queries of its own */
	/* Set by the server, so that the layers below it need not call up:
	 * destroy frees api after the last api__unref; count counts a
	 * response by status for the metrics; tokens_lost runs when the token
	 * cache lost tokens (api__feed_recheck). */
	void (*destroy)(struct api *api);
	void (*count)(struct api *api, int status);
	void (*tokens_lost)(struct api *api);
	int64_t started_us;
	struct feed *feed;
	struct api_feed_sock *feed_socks; /* open feed WebSockets */
	char epoch[24]; /* this process start, in every feed message */
	struct metrics *metrics;
	struct api_families *fam;
	uv_timer_t tick; /* loop lag and queue.stats, every API_TICK_MS */
	uint64_t tick_due_ns;
	struct outbound *outbound; /* placement, with its per-agent rate */
	struct api_pages *pages;   /* the browser pages, or NULL */
	unsigned ari_reconnects_seen;
	unsigned open_handles;
	/* Under hot standby, "active" or "standby" (api_set_role); NULL: not
	 * run that way. A standby serves only /healthz and /metrics. */
	const char *role;
};

/* routes.c: the route of a request. */
/* The route of method and path in routes[0..n), filling params; NULL when
 * none, with *ret_path_known telling whether some other method takes the
 * path. */
const struct api_route *api__match(const struct api_route *routes, size_t n,
				   const char *method, const char *path,
				   char params[API_MAX_PARAMS][API_MAX_PARAM],
				   bool *ret_path_known);

/* pages.c: the browser pages, read once from a directory. */
struct api_pages;
struct api_ctx;
/* Reads the files below dir. Returns 0 and sets *ret, or a negative errno
 * (logged) when dir cannot be read or is too big. */
int api__pages_load(const char *dir, struct api_pages **ret);
/* Answers ctx with the page its GET or HEAD names (or a redirect to a
 * directory's slash form) and returns true; false when no page is there
 * (ctx untouched). */
bool api__pages_serve(struct api_ctx *ctx);
/* NULL is a no-op. */
void api__pages_free(struct api_pages *pages);

/* ref.c: the reference count of struct api. */
/* Takes a reference: api outlives a callback of its own. */
void api__ref(struct api *api);
/* Drops a reference; the last one calls api->destroy. */
void api__unref(struct api *api);

/* tokens.c: the cache of live tokens, and the principal of a request. */
const struct api_principal *api__token_find(struct api *api, const char *token);
/* The live token whose SHA-256 is hash (hex), or NULL. Borrowed: valid
 * until the cache changes (a reload, a revocation). */
const struct api_principal *api__token_lookup(struct api *api,
					      const char *hash);
void api__tokens_load(struct api *api);
void api__tokens_free(struct api *api);

/* Authenticates a request's token (header, or access_token in the query
 * when allow_query). Returns the principal (borrowed) or NULL. */
const struct api_principal *api__authenticate(struct api *api,
					      const struct http_request *req,
					      bool allow_query);
/* Hashes a request's token (as api__authenticate finds it) into hash.
 * Returns 0, -ENOENT when there is none, -EINVAL or -EIO. */
int api__request_token_hash(const struct http_request *req, bool allow_query,
			    char hash[65]);

/* observe.c: the event feed, the metrics and the periodic tick. */
/* Under hot standby, a standby answers ctx with 503 and returns true
 * unless ctx is /healthz or /metrics; false otherwise (ctx untouched). */
bool api__standby_refuses(struct api_ctx *ctx);
int api__observe_init(struct api *api);
void api__observe_close(struct api *api);
void api__observe_free(struct api *api);
/* Counts a response by status for the metrics. */
void api__count(struct api *api, int status);

/* feed.c: the event-feed WebSocket. */
int api__feed_open(struct api *api, struct http_ws *ws,
		   const struct http_request *req, const char **ret_detail);
void api__feed_closed(struct api *api, struct http_ws *ws);
/* Closes (1008, policy violation) every feed socket whose token is no
 * longer live: to call whenever the token cache lost tokens. */
void api__feed_recheck(struct api *api);

#endif /* APP_API_INTERNAL_H */
