/* api.h: the REST handlers of calls: live calls and what can be done to
 * them, their recordings and their routing decisions. Each answers the
 * request; agent tokens see and act on their own calls only. */
#ifndef APP_CALLS_API_H
#define APP_CALLS_API_H

struct api_ctx;

/* GET /calls: the live calls, a page at a time. */
void calls_api_list(struct api_ctx *ctx);
/* GET /calls/{id}: the live call, else its record once it has ended. */
void calls_api_get(struct api_ctx *ctx);
/* DELETE /calls/{id}: hangs up a live call (202). */
void calls_api_hangup(struct api_ctx *ctx);
/* POST /calls/{id}/transfer: to an available agent or a number (202). */
void calls_api_transfer(struct api_ctx *ctx);
/* POST /calls/{id}/supervise {"mode", "supervisor_agent_id"}: rings the
 * supervisor's phone (202). */
void calls_api_supervise(struct api_ctx *ctx);
/* PATCH /calls/{id}/supervise {"mode", "supervisor_agent_id"}: switches
 * the mode without ringing again (200). */
void calls_api_supervise_mode(struct api_ctx *ctx);
/* DELETE /calls/{id}/supervise?supervisor_agent_id=: ends it (204). */
void calls_api_supervise_end(struct api_ctx *ctx);
/* GET /calls/{id}/recording: the WAV from ARI, with Range support. */
void calls_api_recording(struct api_ctx *ctx);
/* GET /calls/{id}/routing: the routing decisions taken for the call. */
void calls_api_routing(struct api_ctx *ctx);

#endif /* APP_CALLS_API_H */
