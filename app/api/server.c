/* server.c: the API's front door: listening, authentication, roles and
 * dispatch to the route's handler. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"
#include "api/internal.h"
#include "api/reply.h"
#include "cdr/cdr.h"
#include "db/pool.h"
#include "metrics/metrics.h"
#include "outbound/service.h"
#include "util/log.h"
#include "util/utf8.h"

bool api_server_own(struct api_ctx *ctx, int64_t agent_id, const char *detail)
{
	if (ctx->who.role != API_ROLE_AGENT || agent_id == ctx->who.agent_id)
		return true;
	api_problem(ctx, 403, "forbidden", "%s", detail);
	return false;
}

int64_t api_server_scope(const struct api_ctx *ctx)
{
	return ctx->who.role == API_ROLE_AGENT ? ctx->who.agent_id : 0;
}

const char *api_server_sip_server(const struct api_ctx *ctx)
{
	return ctx->api->sip_server;
}

struct outbound *api_server_outbound(const struct api_ctx *ctx)
{
	return ctx->api->outbound;
}

/* Answers the 401 or 403 that the route's role and self rule demand;
 * returns true when the request may go on. */
static bool authorize(struct api_ctx *ctx)
{
	const struct api_route *route = ctx->route;
	const struct api_principal *who;
	int64_t id;

	if (route->role == API_ROLE_NONE)
		return true;
	who = api__authenticate(ctx->api, ctx->req, false);
	if (!who) {
		api_problem(
		    ctx, 401, "unauthorized",
		    http_server_request_header(ctx->req, "authorization")
			? "the token is not valid (unknown or revoked)"
			: "send a token: Authorization: Bearer <token>");
		return false;
	}
	ctx->who = *who;
	if (!api_role_at_least(who->role, route->role)) {
		api_problem(ctx, 403, "forbidden",
			    "this needs the %s role; the token has %s",
			    api_role_name(route->role),
			    api_role_name(who->role));
		return false;
	}
	if (who->role != API_ROLE_AGENT || route->self != API_SELF_AGENT)
		return true;
	/* An agent acts on its own agent only. */
	if (!api_param_id(ctx, 0, &id))
		return false;
	if (id != who->agent_id) {
		api_problem(ctx, 403, "forbidden",
			    "an agent token acts only on its own agent (%lld)",
			    (long long)who->agent_id);
		return false;
	}
	return true;
}

static void method_not_allowed(struct api_ctx *ctx, const char *path)
{
	char allow[128] = "Allow: ", params[API_MAX_PARAMS][API_MAX_PARAM];
	char *text;
	size_t len;

	for (size_t i = 0; i < ctx->api->nroutes; i++) {
		const char *m = ctx->api->routes[i].method;
		bool known;

		if (!api__match(ctx->api->routes, ctx->api->nroutes, m, path,
				params, &known) ||
		    strstr(allow, m))
			continue;
		strncat(allow, m, sizeof(allow) - strlen(allow) - 4);
		strcat(allow, ", ");
	}
	strcpy(allow + strlen(allow) - 2, "\r\n");
	text = api_problem_text(405, "method-not-allowed",
				"this path does not take that method", &len);
	if (!text) {
		api_reply_empty(ctx, 500);
		return;
	}
	api_reply_raw(ctx, 405, "application/problem+json", allow, text, len);
}

/* True when the path and the query, as the server decoded them, are text:
 * a byte that is not UTF-8 or a control character in a path parameter or
 * a query value would reach a problem's detail or PostgreSQL, which both
 * refuse it. */
static bool request_is_text(const struct http_request *req)
{
	const char *path = http_server_request_path(req);
	const char *query = http_server_request_query(req);

	return utf8_text(path, strlen(path)) && utf8_text(query, strlen(query));
}

static void on_request(struct http_request *req, void *userdata)
{
	struct api *api = userdata;
	struct api_ctx *ctx = calloc(1, sizeof(*ctx));
	const char *path = http_server_request_path(req);
	bool known;

	if (!ctx) {
		http_server_request_respond(req, 503, NULL, NULL, NULL, 0);
		return;
	}
	ctx->api = api;
	ctx->deps = &api->deps;
	api__ref(api); /* the api outlives its requests' queries */
	ctx->req = req;
	if (!request_is_text(req)) {
		api_problem(ctx, 400, "bad-request",
			    "the path or the query is not UTF-8 text");
		return;
	}
	ctx->route = api__match(api->routes, api->nroutes,
				http_server_request_method(req), path,
				ctx->params, &known);
	if (!ctx->route && known) {
		method_not_allowed(ctx, path);
		return;
	}
	if (!ctx->route && !api__standby_refuses(ctx) && api__pages_serve(ctx))
		return;
	if (!ctx->route || !ctx->route->handler) {
		api_problem(ctx, 404, "not-found", "no route for %s %.200s",
			    http_server_request_method(req), path);
		return;
	}
	if (api__standby_refuses(ctx))
		return;
	if (!authorize(ctx))
		return;
	ctx->route->handler(ctx);
}

static int on_ws_open(struct http_ws *ws, const struct http_request *req,
		      const char **ret_detail, void *userdata)
{
	struct api *api = userdata;

	if (api->role && strcmp(api->role, "standby") == 0) {
		*ret_detail = "this welcomedlyd is the standby: the active one "
			      "serves the feed";
		return 503;
	}
	return api__feed_open(userdata, ws, req, ret_detail);
}

static void on_ws_closed(struct http_ws *ws, void *userdata)
{
	api__feed_closed(userdata, ws);
}

static const struct http_server_callbacks http_callbacks = {
    .request = on_request,
    .ws_open = on_ws_open,
    .ws_closed = on_ws_closed,
};

/* "host:port" into its parts; host must be an IP address. */
static int parse_listen(const char *listen, char *host, size_t size,
			int *ret_port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long port;

	if (!colon || colon == listen || (size_t)(colon - listen) >= size)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || end == colon + 1)
		return -EINVAL;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	*ret_port = (int)port;
	return 0;
}

/* The placement service that POST /calls uses: the server keeps it so that
 * it outlives every request in flight (see api__unref). */
static int outbound_init(struct api *api)
{
	struct outbound_deps od = {
	    .loop = api->loop,
	    .db = api->deps.db,
	    .agents = api->deps.agents,
	    .campaigns = api->deps.campaigns,
	    .calls = api->deps.calls,
	};

	return outbound_new(&od, &api->outbound);
}

static void destroy(struct api *api);

/* Answered even when the connection caps are hit, so that monitoring sees
 * a busy daemon as busy rather than dead. */
static const char *const cap_exempt_paths[] = {"/healthz", "/metrics", NULL};

int api_new(uv_loop_t *loop, const struct api_config *cfg,
	    const struct api_deps *deps, struct api **ret_api)
{
	struct http_server_config hc = {
	    .ws_path = "/api/v1/events",
	    .ws_shed_reason = API_FEED_SHED_REASON,
	    .cap_exempt = cap_exempt_paths,
	};
	struct api *api;
	char host[64];
	int r;

	r = parse_listen(cfg->listen, host, sizeof(host), &hc.port);
	if (r < 0)
		return r;
	hc.host = host;
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->loop = loop;
	api->refs = 1;
	api->destroy = destroy;
	api->count = api__count;
	api->tokens_lost = api__feed_recheck;
	api->deps = *deps;
	api->routes = cfg->routes;
	api->nroutes = cfg->nroutes;
	api->queue_json = cfg->queue_json;
	api->started_us = cdr_now_us();
	api->tokens = strmap_new();
	snprintf(api->sip_server, sizeof(api->sip_server), "%s",
		 cfg->sip_server ? cfg->sip_server : host);
	if (cfg->bootstrap_token && *cfg->bootstrap_token &&
	    api_token_hash(cfg->bootstrap_token, api->bootstrap_hash) < 0)
		r = -EIO;
	if (r == 0 && !api->tokens)
		r = -ENOMEM;
	if (r == 0)
		r = api__observe_init(api);
	if (r == 0)
		r = outbound_init(api);
	if (r == 0 && cfg->pages_dir && *cfg->pages_dir)
		api__pages_load(cfg->pages_dir, &api->pages); /* optional */
	if (r == 0)
		r = http_server_new(loop, &hc, &http_callbacks, api,
				    &api->http);
	if (r < 0) {
		api_close(api);
		return r;
	}
	log_notice("api listening on %s:%d", host, http_server_port(api->http));
	*ret_api = api;
	return 0;
}

static void on_bootstrap_stored(int error, const PGresult *res, void *userdata)
{
	api__unref(userdata);
	if (error < 0 && error != -ECANCELED)
		log_warning("bootstrap token not stored error=%s",
			    res ? PQresultErrorMessage(res) : strerror(-error));
}

void api_db_up(struct api *api)
{
	const char *params[1] = {api->bootstrap_hash};

	if (!api || api->closing)
		return;
	if (*api->bootstrap_hash &&
	    db_pool_query(api->deps.db,
			  "INSERT INTO api_tokens (token_hash, role) VALUES "
			  "($1, 'admin') ON CONFLICT (token_hash) DO NOTHING",
			  1, params, on_bootstrap_stored, api) == 0)
		api__ref(api);
	api__tokens_load(api);
}

static void on_bootstrap_revoked(int error, const PGresult *res, void *userdata)
{
	api__unref(userdata);
	if (error < 0 && error != -ECANCELED)
		log_warning("old bootstrap token not revoked error=%s",
			    res ? PQresultErrorMessage(res) : strerror(-error));
}

int api_set_bootstrap_token(struct api *api, const char *token)
{
	char hash[65] = "";
	const char *params[1] = {api->bootstrap_hash};

	if (token && *token && api_token_hash(token, hash) < 0)
		return -EIO;
	if (strcmp(hash, api->bootstrap_hash) == 0)
		return 0;
	/* The trigger on api_tokens notifies welcomedly_tokens: the cache
	 * drops the old token when the revocation is in. */
	if (api->deps.db && *api->bootstrap_hash &&
	    db_pool_query(api->deps.db,
			  "UPDATE api_tokens SET revoked_at = now() WHERE "
			  "token_hash = $1 AND revoked_at IS NULL",
			  1, params, on_bootstrap_revoked, api) == 0)
		api__ref(api);
	memcpy(api->bootstrap_hash, hash, sizeof(hash));
	if (api->deps.db)
		api_db_up(api);
	return 0;
}

void api_tokens_changed(struct api *api)
{
	if (api)
		api__tokens_load(api);
}

int api_port(const struct api *api)
{
	return http_server_port(api->http);
}

void api_close(struct api *api)
{
	if (!api)
		return;
	api->closing = true;
	/* Runs api__feed_closed for every feed socket before it returns. */
	http_server_close(api->http);
	api->http = NULL;
	api__observe_close(api);
	api__unref(api);
}

/* The API is freed once closed and no query of its own is pending (their
 * callbacks run with -ECANCELED when the pool closes, after the API): the
 * last api__unref calls this. */
static void destroy(struct api *api)
{
	api__tokens_free(api);
	api__observe_free(api);
	outbound_free(api->outbound);
	api__pages_free(api->pages);
	free(api);
}
