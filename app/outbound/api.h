/* api.h: the REST handler that places outbound calls. */
#ifndef APP_OUTBOUND_API_H
#define APP_OUTBOUND_API_H

struct api_ctx;

/* POST /calls: places a call from {agent_id, campaign_id, lead_id | number}
 * through outbound_place(); answers 202 with the call, or the refusal as a
 * 4xx problem. */
void outbound_api_place(struct api_ctx *ctx);

#endif /* APP_OUTBOUND_API_H */
