/* api.h: the REST side of dispositions: a campaign's codes (rows) and a
 * call's disposition. */
#ifndef APP_DISPOSITIONS_API_H
#define APP_DISPOSITIONS_API_H

struct api_ctx;
struct api_resource;

/* /campaigns/{id}/dispositions[/{code}], served by api/crud.h. */
extern const struct api_resource dispositions_api_codes;

/* POST /calls/{id}/disposition: records it through dispositions_record();
 * answers 200 with the disposition, or 403, 404, 409 or 422. */
void dispositions_api_record(struct api_ctx *ctx);

#endif /* APP_DISPOSITIONS_API_H */
