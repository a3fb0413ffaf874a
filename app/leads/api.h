/* api.h: the REST handlers of leads. */
#ifndef APP_LEADS_API_H
#define APP_LEADS_API_H

struct api_ctx;

/* POST /campaigns/{id}/leads: imports application/json or text/csv leads;
 * answers 200 with {"imported", "errors"}. */
void leads_api_import(struct api_ctx *ctx);

/* GET /leads: a page of leads, by ?campaign_id= and ?status=. */
void leads_api_list(struct api_ctx *ctx);

#endif /* APP_LEADS_API_H */
