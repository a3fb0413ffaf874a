/* api.h: the admin REST API and the live event feed of welcomedlyd. */
#ifndef APP_API_H
#define APP_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

struct api; /* opaque */
struct api_deps;
struct agents;
struct calls;
struct campaigns;
struct cdr_writer;
struct db_pool;
struct link;
struct webrtc_config;
struct agent;
struct campaign;
struct api_route;

struct api_config {
	const char *listen; /* "host:port"; copied */
	/* An admin token accepted from the start, stored hashed in
	 * api_tokens once the database is up; NULL or "": none. Copied. */
	const char *bootstrap_token;
	/* The SIP server new agents' phones register with, as stored in
	 * sip_peers.sip_server; copied. */
	const char *sip_server;
	/* The directory of the browser pages served at /agent/, /wallboard/,
	 * /common/ and /vendor/ (read once, at start), or NULL: none. */
	const char *pages_dir;
	/* The route table, routes[0..nroutes) (api/routes.h), borrowed: it
	 * must outlive the API. The daemon's is app/routes.h's. */
	const struct api_route *routes;
	size_t nroutes;
	/* The queue object of campaign c that the feed publishes as
	 * queue.stats (the daemon's is campaigns_api_queue_json): a new
	 * reference, or NULL. NULL: no queue.stats. */
	json_t *(*queue_json)(const struct api_deps *deps,
			      const struct campaign *c);
};

/* What the API reads and drives; all borrowed, all must outlive it. Any
 * may be NULL: routes needing a missing one answer 503. */
struct api_deps {
	struct db_pool *db;
	struct agents *agents;
	struct campaigns *campaigns;
	struct calls *calls;
	struct link *link;
	struct cdr_writer *cdr;
	/* What browser softphones are handed (GET /agents/{id}/webrtc). */
	const struct webrtc_config *webrtc;
	/* Loads the configuration (agents, campaigns) again: done runs once
	 * a load that started after the call has ended, with -ECANCELED when
	 * the daemon stops first. Returns 0 or a negative errno (done never
	 * runs). NULL: no loads on demand. */
	int (*reload)(void *reload_data,
		      void (*done)(int error, void *userdata), void *userdata);
	void *reload_data;
};

/* Starts serving at cfg->listen. Returns 0 and sets *ret_api, -EINVAL (bad
 * listen address), -EADDRINUSE, -ENOMEM or -EIO. */
int api_new(uv_loop_t *loop, const struct api_config *cfg,
	    const struct api_deps *deps, struct api **ret_api);

/* What the feed and the metrics hear about (the daemon forwards them). */
void api_agent_transition(struct api *api, const struct agent *agent, int from,
			  int to, const char *reason);
void api_call_event(struct api *api, const char *type, int64_t agent_id,
		    int64_t campaign_id, json_t *data);

/* The database is up again: reload tokens, store the bootstrap token. */
void api_db_up(struct api *api);

/* A new bootstrap admin token (API_TOKEN; NULL or "" for none): the old one
 * is revoked in the database and stops working, the new one is stored.
 * Returns 0 or -EIO (hashing failed; the old token then stays). */
int api_set_bootstrap_token(struct api *api, const char *token);

/* Tokens changed in the database (NOTIFY welcomedly_tokens). */
void api_tokens_changed(struct api *api);

/* The process's part under hot standby: "active" or "standby" (a static
 * string); NULL, the default, when it runs alone. /healthz names it and
 * /metrics has welcomedly_role. A standby answers every route but
 * /healthz and /metrics with 503 and refuses feed sockets: the active
 * process serves them, from the state it owns. */
void api_set_role(struct api *api, const char *role);

/* Counts one takeover (welcomedly_takeovers_total): this process became
 * the active one. */
void api_count_takeover(struct api *api);

/* The port bound (for API_LISTEN ports of 0). */
int api_port(const struct api *api);

/* Stops serving; requests in flight are dropped. NULL is a no-op. */
void api_close(struct api *api);

/* Prints the route table routes[0..n), one "METHOD PATH ROLE" line per
 * route. */
void api_print_routes(FILE *out, const struct api_route *routes, size_t n);

/* Hashes token as stored in api_tokens.token_hash (lower-case hex
 * SHA-256) into hex, which must hold 65 bytes. Returns 0 or -EIO. */
int api_token_hash(const char *token, char hex[65]);

/* Makes a new random token (64 hex chars + NUL). Returns 0 or -EIO. */
int api_token_generate(char token[65]);

#endif /* APP_API_H */
