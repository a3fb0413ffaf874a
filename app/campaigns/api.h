/* api.h: the REST side of campaigns: rows (campaigns, their numbers and
 * members, served by api/crud.h), deletion, and their queues' live
 * numbers. */
#ifndef APP_CAMPAIGNS_API_H
#define APP_CAMPAIGNS_API_H

#include <jansson.h>

struct api_ctx;
struct api_deps;
struct api_resource;
struct campaign;

extern const struct api_resource campaigns_api_resource; /* /campaigns */
extern const struct api_resource campaigns_api_dids;     /* /dids */
extern const struct api_resource campaigns_api_members;  /* .../agents */

/* DELETE /campaigns/{id}: refused (409) while callers wait in its queue. */
void campaigns_api_delete(struct api_ctx *ctx);
/* GET /queues: every campaign's queue object, a page at a time. */
void campaigns_api_queues(struct api_ctx *ctx);
/* GET /queues/{campaign_id}: one queue object. */
void campaigns_api_queue(struct api_ctx *ctx);

/* What a handler does with the campaign a path names (borrowed). */
typedef void (*campaigns_api_fn)(struct api_ctx *ctx, struct campaign *c);
/*
 * Runs fn with the campaign that path parameter 0 names: at once when it is
 * loaded, else after one configuration load (it may have been created a
 * moment ago, its change not yet read). Otherwise answers 400 (not an id)
 * or 404, and fn never runs.
 */
void campaigns_api_find(struct api_ctx *ctx, campaigns_api_fn fn);

/* The queue object of campaign c (api.md "Queues"): callers waiting, agents
 * by state and the service statistics. New reference, NULL when out of
 * memory. deps is borrowed. */
json_t *campaigns_api_queue_json(const struct api_deps *deps,
				 const struct campaign *c);

#endif /* APP_CAMPAIGNS_API_H */
