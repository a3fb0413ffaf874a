/* api.c: leads over HTTP: an upload handed to the import service, and the
 * list paged by the API's page query. */
#include <errno.h>
#include <string.h>

#include "api/page.h"
#include "api/reply.h"
#include "campaigns/api.h"
#include "leads/api.h"
#include "leads/service.h"

static void import_free(void *im)
{
	leads_import_free(im);
}

static void on_stored(const struct leads_stored *stored, void *userdata)
{
	struct api_ctx *ctx = userdata;

	if (stored->error < 0) {
		api_problem_db(ctx, stored->error, stored->db_res);
		return;
	}
	api_reply_json(ctx, 200,
		       json_pack("{s:I, s:I, s:O}", "imported",
				 (json_int_t)stored->imported, "skipped",
				 (json_int_t)stored->skipped, "errors",
				 leads_import_errors(ctx->data)));
}

/* Reads the upload into im by its type; answers and returns false when it
 * cannot be read. */
static bool read_upload(struct api_ctx *ctx, struct leads_import *im)
{
	const char *type = http_server_request_header(ctx->req, "content-type");
	size_t len;
	const char *text = http_server_request_body(ctx->req, &len);
	int r;

	if (type && strncmp(type, "text/csv", 8) == 0) {
		r = leads_import_csv(im, text, len);
		if (r < 0)
			api_problem(ctx, 400, "bad-request",
				    "the CSV was not read (%s)", strerror(-r));
		return r == 0;
	}
	if (type && strncmp(type, "application/json", 16) != 0) {
		api_problem(ctx, 415, "unsupported-media-type",
			    "send leads as application/json or text/csv");
		return false;
	}
	if (leads_import_json(im, text, len) < 0) {
		api_problem(ctx, 400, "invalid-json",
			    "send a JSON array of leads, or text/csv");
		return false;
	}
	return true;
}

static void import_into(struct api_ctx *ctx, struct campaign *campaign)
{
	struct leads_import *im;
	int r;

	if (leads_import_new(campaign, &im) < 0) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	ctx->data = im;
	ctx->data_free = import_free;
	if (!read_upload(ctx, im))
		return;
	if (!ctx->deps->db) {
		api_problem(ctx, 503, "unavailable",
			    "this daemon runs without a database");
		return;
	}
	r = leads_import_store(ctx->deps->db, im, on_stored, ctx);
	if (r == -ENOMEM)
		api_problem(ctx, 500, "internal", "out of memory");
	else if (r < 0)
		api_problem_db(ctx, r, NULL);
}

void leads_api_import(struct api_ctx *ctx)
{
	campaigns_api_find(ctx, import_into);
}

void leads_api_list(struct api_ctx *ctx)
{
	struct api_sql sql = {0};
	struct api_page page = {.key = "t.id"};
	char status[64], cursor[API_MAX_PARAM];
	unsigned limit;
	int64_t campaign;
	bool has_campaign;

	if (!api_query_limit(ctx, &limit) ||
	    !api_query_int(ctx, "campaign_id", &campaign, &has_campaign) ||
	    !api_query_cursor(ctx, cursor))
		return;
	api_page_open(&sql, &page, limit);
	/* With its campaign's name: agents may not read campaigns, and their
	 * page names the campaign of each lead. */
	api_page_rows(
	    &sql, &page,
	    "to_jsonb(t) || jsonb_build_object('campaign_name', c.name)",
	    "leads t JOIN campaigns c ON c.id = t.campaign_id");
	api_sql_add(&sql, " WHERE true");
	if (has_campaign)
		api_sql_add(&sql, " AND t.campaign_id = $%d",
			    api_sql_param_int(&sql, campaign));
	if (api_server_scope(ctx))
		api_sql_add(&sql,
			    " AND t.campaign_id IN (SELECT campaign_id FROM "
			    "campaign_agents WHERE agent_id = $%d)",
			    api_sql_param_int(&sql, api_server_scope(ctx)));
	if (http_server_request_param(ctx->req, "status", status,
				      sizeof(status)) >= 0)
		api_sql_add(&sql, " AND t.status = $%d",
			    api_sql_param(&sql, status));
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}
