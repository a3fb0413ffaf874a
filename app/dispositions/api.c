/* api.c: a campaign's disposition codes as rows, and a call's disposition
 * translated to dispositions_record() and back. */
#include <stdio.h>

#include "api/crud.h"
#include "api/reply.h"
#include "dispositions/api.h"
#include "dispositions/service.h"

static const struct api_field code_fields[] = {
    {"code", API_TEXT, API_F_REQUIRED | API_F_CREATE_ONLY, 1, 40, NULL,
     api_check_slug},
    {"label", API_TEXT, API_F_REQUIRED, 1, 100, NULL, NULL},
    {"is_sale", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_callback", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_do_not_call", API_BOOL, 0, 0, 0, NULL, NULL},
    {"is_final", API_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource dispositions_api_codes = {
    .table = "dispositions",
    .key = "code",
    .parent = "campaign_id",
    .fields = code_fields,
    .row_json = "to_jsonb(t) - 'id'",
    .noun = "disposition",
};

static const struct api_field record_fields[] = {
    {"code", API_TEXT, API_F_REQUIRED, 1, 40, NULL, api_check_slug},
    {"notes", API_TEXT, API_F_NULLABLE, 0, 2000, NULL, NULL},
    {"callback_at", API_TIME, API_F_NULLABLE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static void reply_recorded(struct api_ctx *ctx,
			   const struct dispositions_result *r)
{
	json_t *notes = json_object_get(ctx->body, "notes");
	json_t *callback = json_object_get(ctx->body, "callback_at");

	api_reply_json(
	    ctx, 200,
	    json_pack("{s:s, s:O, s:O, s:O, s:o}", "call_id", ctx->params[0],
		      "code", json_object_get(ctx->body, "code"), "notes",
		      notes ? notes : json_null(), "callback_at",
		      callback ? callback : json_null(), "lead_id",
		      r->lead_id ? json_integer(r->lead_id) : json_null()));
}

static void on_recorded(const struct dispositions_result *r, void *userdata)
{
	struct api_ctx *ctx = userdata;
	const char *code =
	    json_string_value(json_object_get(ctx->body, "code"));

	switch (r->outcome) {
	case DISPOSITIONS_RECORDED:
		reply_recorded(ctx, r);
		break;
	case DISPOSITIONS_NO_CALL:
		api_problem(ctx, 404, "not-found",
			    "no record of call %.64s (yet)", ctx->params[0]);
		break;
	case DISPOSITIONS_NOT_OWN:
		api_problem(ctx, 403, "forbidden",
			    "this call is not the agent's own");
		break;
	case DISPOSITIONS_UNKNOWN_CODE:
		api_problem(ctx, 422, "invalid-body",
			    "code: \"%s\" is not a disposition of this call's "
			    "campaign",
			    code);
		break;
	case DISPOSITIONS_ALREADY_SET:
		api_problem(ctx, 409, "conflict",
			    "call %.64s already has the disposition %s",
			    ctx->params[0], r->existing_code);
		break;
	case DISPOSITIONS_NEEDS_CALLBACK:
		api_problem(
		    ctx, 422, "invalid-body",
		    "callback_at: a callback disposition needs the time "
		    "to call back");
		break;
	case DISPOSITIONS_FAILED:
		api_problem_db(ctx, r->error, r->db_res);
		break;
	}
}

void dispositions_api_record(struct api_ctx *ctx)
{
	struct dispositions_request req = {0};
	int r;

	if (!api_body_parse(ctx) || !api_body_check(ctx, record_fields, true))
		return;
	if (!ctx->deps->db) {
		api_problem(ctx, 503, "unavailable",
			    "this daemon runs without a database");
		return;
	}
	req.call_id = ctx->params[0];
	req.code = json_string_value(json_object_get(ctx->body, "code"));
	req.notes = json_string_value(json_object_get(ctx->body, "notes"));
	req.callback_at =
	    json_string_value(json_object_get(ctx->body, "callback_at"));
	req.only_agent_id = api_server_scope(ctx);
	r = dispositions_record(ctx->deps->db, ctx->deps->agents, &req,
				on_recorded, ctx);
	if (r < 0)
		api_problem_db(ctx, r, NULL);
}
