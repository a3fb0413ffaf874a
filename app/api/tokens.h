/* tokens.h: the bearer-token resource (an admin's business: tokens are the
 * API's own authentication). */
#ifndef APP_API_TOKENS_H
#define APP_API_TOKENS_H

#include "api/crud.h"

/* GET /tokens lists rows of api_tokens, without their hashes. */
extern const struct api_resource api_res_tokens;

/* POST /tokens: answers 201 with the new token, shown this once. */
void api_tokens_create(struct api_ctx *ctx);
/* DELETE /tokens/{id}: revokes a live token; it stops working at once. */
void api_tokens_revoke(struct api_ctx *ctx);

/* GET /me: who the token speaks for, {"role", "agent_id", "token_id"}
 * (agent_id null but for agent tokens): how a page signed in with a
 * token learns its agent. */
void api_tokens_me(struct api_ctx *ctx);

#endif /* APP_API_TOKENS_H */
