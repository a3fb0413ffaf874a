/* api.h: the REST handlers of agents, their SIP accounts and their states.
 * The database holds who they are; the live registry says what they are
 * doing now, and wins wherever both speak. */
#ifndef APP_AGENTS_API_H
#define APP_AGENTS_API_H

struct api_ctx;
struct api_resource;

/* GET /agents and /agents/{id}, served by api/crud.h with the registry's
 * view laid over each row. */
extern const struct api_resource agents_api_resource;

/* POST /agents: the agent and its SIP account; answers 201 with the SIP
 * password, shown this once. */
void agents_api_create(struct api_ctx *ctx);
/* PATCH /agents/{id}. */
void agents_api_update(struct api_ctx *ctx);
/* DELETE /agents/{id}: refused (409) while the agent is on a call. */
void agents_api_delete(struct api_ctx *ctx);
/* POST /agents/{id}/state: asks the registry for available, paused or
 * offline; 202 when deferred until wrap-up ends. */
void agents_api_state(struct api_ctx *ctx);

#endif /* APP_AGENTS_API_H */
