/* queues.c: queue numbers, health and metrics: read from memory, never
 * from the database, so that dashboards polling them cost nothing there. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "buildinfo.h"
#include "campaigns/campaigns.h"
#include "db/pool.h"
#include "link/link.h"
#include "metrics/metrics.h"

static void add_queue(struct campaign *c, void *userdata)
{
	struct api_ctx *ctx = userdata;

	json_array_append_new(ctx->data, api__queue_json(ctx->api, c));
}

void api_queues_list(struct api_ctx *ctx)
{
	json_t *items = json_array();

	if (!items) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	ctx->data = items;
	if (ctx->api->deps.campaigns)
		campaigns_foreach(ctx->api->deps.campaigns, add_queue, ctx);
	ctx->data = NULL;
	api_reply_items(ctx, items, "campaign_id");
}

void api_queues_get(struct api_ctx *ctx)
{
	struct campaign *c = NULL;
	int64_t id;

	if (!api_param_id(ctx, 0, &id))
		return;
	if (ctx->api->deps.campaigns)
		c = campaigns_by_id(ctx->api->deps.campaigns, id);
	if (!c) {
		api_problem(ctx, 404, "not-found", "no campaign %lld",
			    (long long)id);
		return;
	}
	api_reply_json(ctx, 200, api__queue_json(ctx->api, c));
}

void api_healthz(struct api_ctx *ctx)
{
	bool ari = ctx->api->deps.link && link_ready(ctx->api->deps.link);
	bool db = ctx->api->deps.db && db_pool_connected(ctx->api->deps.db) > 0;

	api_reply_json(ctx, ari ? 200 : 503,
		       json_pack("{s:s, s:s, s:s, s:s}", "status",
				 !ari ? "unavailable"
				 : db ? "ok"
				      : "degraded",
				 "ari", ari ? "up" : "down", "database",
				 db ? "up" : "down", "version",
				 WELCOMEDLY_VERSION));
}

void api_metrics(struct api_ctx *ctx)
{
	char *text = NULL;
	size_t len = 0;

	if (metrics_render(ctx->api->metrics, &text, &len) < 0) {
		api_problem(ctx, 500, "internal", "metrics not rendered");
		return;
	}
	api_reply_raw(ctx, 200, "text/plain; version=0.0.4; charset=utf-8",
		      NULL, text, len);
}
