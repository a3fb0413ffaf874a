/* api.c: POST /calls, translated to outbound_place() and back: the body is
 * checked here, every rule is the service's, and each named refusal maps
 * to one status. */
#include <stdio.h>
#include <string.h>

#include "api/body.h"
#include "api/reply.h"
#include "outbound/api.h"
#include "outbound/guard.h"
#include "outbound/service.h"

static const struct api_field call_fields[] = {
    {"agent_id", API_INT, API_F_REQUIRED, 1, 0, NULL, NULL},
    {"campaign_id", API_INT, API_F_REQUIRED, 1, 0, NULL, NULL},
    {"lead_id", API_INT, 0, 1, 0, NULL, NULL},
    {"number", API_TEXT, 0, 1, GUARD_INPUT_MAX, NULL, NULL},
    {"local_ringback", API_BOOL, 0, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* The status and problem slug of each refusal. */
static const struct {
	int status;
	const char *slug;
} refusals[] = {
    [OUTBOUND_NO_AGENT] = {422, "invalid-body"},
    [OUTBOUND_NO_CAMPAIGN] = {422, "invalid-body"},
    [OUTBOUND_NOT_MEMBER] = {422, "invalid-body"},
    [OUTBOUND_NO_LEAD] = {422, "invalid-body"},
    [OUTBOUND_REFUSED_NUMBER] = {422, "invalid-body"},
    [OUTBOUND_DO_NOT_CALL] = {422, "invalid-body"},
    [OUTBOUND_NO_DIAL_STRING] = {422, "invalid-body"},
    [OUTBOUND_AGENT_GONE] = {409, "conflict"},
    [OUTBOUND_AGENT_UNREACHABLE] = {409, "conflict"},
    [OUTBOUND_AGENT_BUSY] = {409, "conflict"},
};

static void on_placed(const struct outbound_result *r, void *userdata)
{
	struct api_ctx *ctx = userdata;
	char headers[64];

	switch (r->reason) {
	case OUTBOUND_PLACED:
		api_reply_json(
		    ctx, 202,
		    json_pack("{s:s, s:s, s:I, s:I, s:s}", "id", r->call_id,
			      "status", "ringing_agent", "agent_id",
			      (json_int_t)r->agent_id, "campaign_id",
			      (json_int_t)r->campaign_id, "number", r->number));
		return;
	case OUTBOUND_RATE_LIMITED:
		snprintf(headers, sizeof(headers), "Retry-After: %u\r\n",
			 r->retry_after_s);
		api_problem_headers(ctx, 429, "rate-limited", headers,
				    r->detail);
		return;
	case OUTBOUND_NO_DATABASE:
		api_problem(ctx, 503, "unavailable",
			    "this daemon runs without a database");
		return;
	case OUTBOUND_DB_FAILED:
		api_problem_db(ctx, r->error, r->db_res);
		return;
	case OUTBOUND_NOT_PLACED:
		api_problem(ctx, 503, "unavailable",
			    "the call was not placed (%s)",
			    strerror(-r->error));
		return;
	default:
		api_problem(ctx, refusals[r->reason].status,
			    refusals[r->reason].slug, "%s", r->detail);
	}
}

/* The request of a checked body; answers and returns false when it names
 * both or neither of lead and number, or another agent. */
static bool request_of(struct api_ctx *ctx, struct outbound_request *req)
{
	json_t *lead = json_object_get(ctx->body, "lead_id");
	json_t *number = json_object_get(ctx->body, "number");

	if (!lead == !number) {
		api_problem_fields(
		    ctx, json_pack("[{s:s, s:s}]", "field", "number", "detail",
				   "give exactly one of lead_id and number"));
		return false;
	}
	req->agent_id =
	    json_integer_value(json_object_get(ctx->body, "agent_id"));
	req->campaign_id =
	    json_integer_value(json_object_get(ctx->body, "campaign_id"));
	req->lead_id = json_integer_value(lead);
	req->number = json_string_value(number);
	req->local_ringback =
	    json_is_true(json_object_get(ctx->body, "local_ringback"));
	return api_server_own(ctx, req->agent_id,
			      "an agent token places calls for its own agent "
			      "only");
}

void outbound_api_place(struct api_ctx *ctx)
{
	struct outbound_request req = {0};

	if (!ctx->deps->calls || !ctx->deps->agents || !ctx->deps->campaigns) {
		api_problem(ctx, 503, "unavailable",
			    "calls are not handled here");
		return;
	}
	if (!api_body_parse(ctx) || !api_body_check(ctx, call_fields, true) ||
	    !request_of(ctx, &req))
		return;
	if (outbound_place(api_server_outbound(ctx), &req, on_placed, ctx) < 0)
		api_problem(ctx, 500, "internal", "out of memory");
}
