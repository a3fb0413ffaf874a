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

#endif /* APP_API_TOKENS_H */
