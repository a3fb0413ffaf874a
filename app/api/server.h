/* server.h: what every API handler gets: the request context, the caller's
 * role and the server's dependencies. The server itself (listening,
 * authentication, dispatch) is private to app/api. */
#ifndef APP_API_SERVER_H
#define APP_API_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "api/role.h"
#include "http/server.h"

/* Named caps. */
#define API_MAX_PARAMS 2  /* {placeholders} in one route */
#define API_MAX_PARAM 128 /* bytes of one path parameter */

struct api_principal {
	enum api_role role;
	int64_t agent_id; /* agent tokens: the agent; else 0 */
	int64_t token_id; /* 0 for the bootstrap token */
};

struct api_route;
struct outbound;

/* One request being handled: freed by the reply (api/reply.h). */
struct api_ctx {
	struct api *api;
	/* What the server reads and drives (borrowed; any may be NULL). */
	const struct api_deps *deps;
	struct http_request *req;
	const struct api_route *route;
	char params[API_MAX_PARAMS][API_MAX_PARAM];
	struct api_principal who;
	json_t *body; /* the parsed JSON body, or NULL */
	/* The column that path parameter 0 fills in an insert (set by
	 * api_crud_create for nested rows), or NULL: a foreign-key failure on
	 * it means the path names a missing parent, answered 404. */
	const char *path_parent;
	void *data; /* a handler's state, freed by data_free with the reply */
	void (*data_free)(void *data);
};

/* For rows that belong to an agent: true when the caller may act on one of
 * agent_id's; otherwise answers 403 with detail and returns false. Only
 * agent tokens are restricted, to their own agent. */
bool api_server_own(struct api_ctx *ctx, int64_t agent_id, const char *detail);

/* The agent's id that an agent token is restricted to, else 0. */
int64_t api_server_scope(const struct api_ctx *ctx);

/* The SIP server stored with new agents' accounts (lives as long as the
 * server). */
const char *api_server_sip_server(const struct api_ctx *ctx);

/* The outbound placement service the server keeps for its requests (it
 * lives as long as the server and its requests). */
struct outbound *api_server_outbound(const struct api_ctx *ctx);

#endif /* APP_API_SERVER_H */
