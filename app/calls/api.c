/* api.c: live calls over HTTP (from the call registry), their recordings
 * (from ARI's stored recordings) and their routing decisions (from
 * PostgreSQL); a call that has ended is read from its record (cdr/api.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "api/page.h"
#include "api/reply.h"
#include "ari/rest.h"
#include "calls/api.h"
#include "calls/calls.h"
#include "campaigns/campaigns.h"
#include "cdr/api.h"
#include "link/link.h"
#include "outbound/guard.h"
#include "util/log.h"

/* The dialplan context blind transfers continue in (asterisk-conf). */
#define CALLS_TRANSFER_CONTEXT "welcomedly-transfer"

static bool have_calls(struct api_ctx *ctx)
{
	if (ctx->deps->calls)
		return true;
	api_problem(ctx, 503, "unavailable", "calls are not handled here");
	return false;
}

void calls_api_list(struct api_ctx *ctx)
{
	json_t *items;

	if (!have_calls(ctx))
		return;
	items = calls_list_json(ctx->deps->calls, api_server_scope(ctx));
	api_reply_items(ctx, items ? items : json_array(), "id");
}

/* An agent token may see a call it is or was on only. */
static bool may_see(struct api_ctx *ctx, const json_t *call)
{
	return api_server_own(
	    ctx, json_integer_value(json_object_get(call, "agent_id")),
	    "an agent token sees only its own calls");
}

void calls_api_get(struct api_ctx *ctx)
{
	json_t *call = ctx->deps->calls
			   ? calls_get_json(ctx->deps->calls, ctx->params[0])
			   : NULL;

	if (!call) {
		cdr_api_get(ctx);
		return;
	}
	if (may_see(ctx, call))
		api_reply_json(ctx, 200, call);
	else
		json_decref(call);
}

/* For the actions: the live call, checked against an agent token. */
static bool live_call_ok(struct api_ctx *ctx)
{
	json_t *call;
	bool ok;

	if (!have_calls(ctx))
		return false;
	call = calls_get_json(ctx->deps->calls, ctx->params[0]);
	if (!call) {
		api_problem(ctx, 404, "not-found",
			    "no live call %.64s (it may have ended)",
			    ctx->params[0]);
		return false;
	}
	ok = may_see(ctx, call);
	json_decref(call);
	return ok;
}

void calls_api_hangup(struct api_ctx *ctx)
{
	if (!live_call_ok(ctx))
		return;
	calls_hangup(ctx->deps->calls, ctx->params[0]);
	log_notice("api call=%s hangup by %s", ctx->params[0],
		   api_role_name(ctx->who.role));
	api_reply_json(ctx, 202,
		       json_pack("{s:s, s:s}", "id", ctx->params[0], "status",
				 "hanging_up"));
}

static const struct api_field transfer_fields[] = {
    {"agent_id", API_INT, 0, 1, 0, NULL, NULL},
    {"number", API_TEXT, 0, 3, 21, NULL, api_check_digits},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Where a transfer goes: the target agent's phone or a number. Answers
 * and returns false when the target is not acceptable. */
static void refuse_not_talking(struct api_ctx *ctx)
{
	api_problem(ctx, 409, "conflict",
		    "only a call talking to an agent can be transferred");
}

/*
 * A number leaves through the trunk: it passes the same guard as a placed
 * call, with the plan and policy of the call's campaign, and goes on in its
 * E.164 form (into number, GUARD_NUMBER_SIZE bytes). Answers and returns
 * false when refused; a call not talking is refused first, as always.
 */
static bool transfer_number(struct api_ctx *ctx, const char *raw, char *number)
{
	json_t *call = calls_get_json(ctx->deps->calls, ctx->params[0]);
	const char *state = json_string_value(json_object_get(call, "state"));
	int64_t campaign_id =
	    json_integer_value(json_object_get(call, "campaign_id"));
	struct campaign *c =
	    ctx->deps->campaigns && campaign_id
		? campaigns_by_id(ctx->deps->campaigns, campaign_id)
		: NULL;
	bool talking = state && strcmp(state, "talking") == 0;
	enum guard_verdict v = GUARD_NO_PLAN;

	json_decref(call);
	if (!talking) {
		refuse_not_talking(ctx);
		return false;
	}
	if (c)
		v = outbound_guard_screen(&c->plan, &c->policy, raw, number,
					  GUARD_NUMBER_SIZE);
	if (v == GUARD_ALLOWED)
		return true;
	log_notice("api call=%s transfer to %.64s refused: %s", ctx->params[0],
		   raw, outbound_guard_verdict_name(v));
	api_problem(
	    ctx, 422, "invalid-body", "number \"%.64s\" refused (%s): %s", raw,
	    outbound_guard_verdict_name(v), outbound_guard_verdict_text(v));
	return false;
}

static bool transfer_target(struct api_ctx *ctx, char *e164,
			    const char **ret_exten)
{
	json_t *agent_id = json_object_get(ctx->body, "agent_id");
	json_t *number = json_object_get(ctx->body, "number");
	struct agent *agent;
	enum acd_agent_state st;

	if (!agent_id == !number) {
		api_problem_fields(
		    ctx,
		    json_pack("[{s:s, s:s}]", "field", "agent_id", "detail",
			      "give exactly one of agent_id and number"));
		return false;
	}
	if (number) {
		*ret_exten = e164;
		return transfer_number(ctx, json_string_value(number), e164);
	}
	agent = ctx->deps->agents ? agents_by_id(ctx->deps->agents,
						 json_integer_value(agent_id))
				  : NULL;
	if (!agent || !agent->sip_username) {
		api_problem(ctx, 422, "invalid-body",
			    "agent_id: no such agent with a phone");
		return false;
	}
	st = agents_state(ctx->deps->agents, agent);
	if (st != ACD_AGENT_AVAILABLE) {
		api_problem(ctx, 409, "conflict",
			    "agent %lld is %s, not available",
			    (long long)agent->id, acd_agent_state_name(st));
		return false;
	}
	*ret_exten = agent->sip_username;
	return true;
}

void calls_api_transfer(struct api_ctx *ctx)
{
	char number[GUARD_NUMBER_SIZE];
	const char *exten = NULL;
	int r;

	if (!api_body_parse(ctx) ||
	    !api_body_check(ctx, transfer_fields, true) || !live_call_ok(ctx) ||
	    !transfer_target(ctx, number, &exten))
		return;
	r = calls_transfer(ctx->deps->calls, ctx->params[0],
			   CALLS_TRANSFER_CONTEXT, exten);
	if (r == -EBUSY) {
		refuse_not_talking(ctx);
		return;
	}
	if (r < 0) {
		api_problem(ctx, 404, "not-found", "no live call %.64s",
			    ctx->params[0]);
		return;
	}
	api_reply_json(ctx, 202,
		       json_pack("{s:s, s:s, s:s}", "id", ctx->params[0],
				 "status", "transferring", "to", exten));
}

/* Supervision ---------------------------------------------------------- */

static const char *const supervise_modes[] = {"listen", "whisper", "barge",
					      NULL};

static const struct api_field supervise_fields[] = {
    {"mode", API_TEXT, API_F_REQUIRED, 1, 10, supervise_modes, NULL},
    {"supervisor_agent_id", API_INT, API_F_REQUIRED, 1, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static enum calls_supervise_mode mode_of(const json_t *body)
{
	const char *m = json_string_value(json_object_get(body, "mode"));

	for (int i = 0; i < CALLS_SUPERVISE__COUNT; i++)
		if (strcmp(m, supervise_modes[i]) == 0)
			return (enum calls_supervise_mode)i;
	return CALLS_SUPERVISE_LISTEN;
}

static json_t *supervision_json(struct api_ctx *ctx, int64_t supervisor_id,
				enum calls_supervise_mode mode,
				const char *status)
{
	return json_pack("{s:s, s:I, s:s, s:s}", "call_id", ctx->params[0],
			 "supervisor_agent_id", (json_int_t)supervisor_id,
			 "mode", calls_supervise_mode_name(mode), "status",
			 status);
}

/* The body of a supervise request, checked; answers and returns false
 * when it is not fit. */
static bool supervise_body(struct api_ctx *ctx, int64_t *ret_supervisor,
			   enum calls_supervise_mode *ret_mode)
{
	if (!have_calls(ctx) || !api_body_parse(ctx) ||
	    !api_body_check(ctx, supervise_fields, true))
		return false;
	*ret_supervisor = json_integer_value(
	    json_object_get(ctx->body, "supervisor_agent_id"));
	*ret_mode = mode_of(ctx->body);
	return true;
}

void calls_api_supervise(struct api_ctx *ctx)
{
	enum calls_supervise_mode mode;
	struct agent *supervisor;
	int64_t id;
	int r;

	if (!supervise_body(ctx, &id, &mode))
		return;
	supervisor =
	    ctx->deps->agents ? agents_by_id(ctx->deps->agents, id) : NULL;
	if (!supervisor || !supervisor->sip_username) {
		api_problem(ctx, 422, "invalid-body",
			    "supervisor_agent_id: no such agent with a phone");
		return;
	}
	r = calls_supervise(ctx->deps->calls, ctx->params[0], supervisor, mode);
	if (r == -ENOENT)
		api_problem(ctx, 404, "not-found",
			    "no live call %.64s (it may have ended)",
			    ctx->params[0]);
	else if (r == -EBUSY)
		api_problem(ctx, 409, "conflict",
			    "only a call talking to an agent can be "
			    "supervised");
	else if (r == -EINVAL)
		api_problem(ctx, 409, "conflict",
			    "agent %lld is this call's agent", (long long)id);
	else if (r == -EEXIST)
		api_problem(ctx, 409, "conflict",
			    "agent %lld already supervises this call",
			    (long long)id);
	else if (r == -ENOSPC)
		api_problem(ctx, 409, "conflict",
			    "this call has as many supervisors as it may");
	else if (r < 0)
		api_problem(ctx, 500, "internal", "%s", strerror(-r));
	else
		api_reply_json(ctx, 202,
			       supervision_json(ctx, id, mode, "ringing"));
}

void calls_api_supervise_mode(struct api_ctx *ctx)
{
	enum calls_supervise_mode mode;
	int64_t id;

	if (!supervise_body(ctx, &id, &mode))
		return;
	if (calls_supervise_mode(ctx->deps->calls, ctx->params[0], id, mode) <
	    0) {
		api_problem(ctx, 404, "not-found",
			    "agent %lld does not supervise call %.64s",
			    (long long)id, ctx->params[0]);
		return;
	}
	api_reply_json(ctx, 200, supervision_json(ctx, id, mode, "switched"));
}

void calls_api_supervise_end(struct api_ctx *ctx)
{
	int64_t id;
	bool set;

	if (!have_calls(ctx) ||
	    !api_query_int(ctx, "supervisor_agent_id", &id, &set))
		return;
	if (!set) {
		api_problem(ctx, 400, "bad-request",
			    "supervisor_agent_id: give the supervisor whose "
			    "supervision ends");
		return;
	}
	if (calls_supervise_end(ctx->deps->calls, ctx->params[0], id) < 0) {
		api_problem(ctx, 404, "not-found",
			    "agent %lld does not supervise call %.64s",
			    (long long)id, ctx->params[0]);
		return;
	}
	api_reply_empty(ctx, 204);
}

/* Range ------------------------------------------------------------------ */

/* Parses "bytes=a-b", "bytes=a-" or "bytes=-n" against size. Returns 1
 * with the inclusive range, 0 when absent or not a single byte range
 * (the whole body is sent, as RFC 9110 allows), -ERANGE when
 * unsatisfiable. */
static int parse_range(const char *h, size_t size, size_t *ret_from,
		       size_t *ret_to)
{
	unsigned long long a = 0, b = 0;
	char *end;

	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoull(h + 1, &end, 10);
		if (*end || end == h + 1)
			return 0;
		if (b == 0 || size == 0)
			return -ERANGE;
		*ret_from = b >= size ? 0 : size - b;
		*ret_to = size - 1;
		return 1;
	}
	a = strtoull(h, &end, 10);
	if (end == h || *end != '-')
		return 0;
	h = end + 1;
	b = *h ? strtoull(h, &end, 10) : size - 1;
	if (*h && (*end || b < a))
		return 0;
	if (a >= size)
		return -ERANGE;
	*ret_from = a;
	*ret_to = b >= size ? size - 1 : b;
	return 1;
}

static void on_recording(const struct ari_response *resp, void *userdata)
{
	struct api_ctx *ctx = userdata;
	size_t from = 0, to = 0;
	char headers[160];
	int r;

	if (resp->error == -ENOENT) {
		api_problem(ctx, 404, "not-found",
			    "no recording for this call");
		return;
	}
	if (resp->error < 0 || !resp->body) {
		api_problem(ctx, 503, "unavailable",
			    "Asterisk did not hand over the recording (%s)",
			    strerror(-resp->error));
		return;
	}
	r = parse_range(http_server_request_header(ctx->req, "range"),
			resp->body_len, &from, &to);
	if (r < 0) {
		snprintf(headers, sizeof(headers),
			 "Content-Range: bytes */%zu\r\n", resp->body_len);
		api_problem_headers(ctx, 416, "range-not-satisfiable", headers,
				    "the range is outside the recording");
		return;
	}
	if (r == 0) {
		from = 0;
		to = resp->body_len ? resp->body_len - 1 : 0;
		snprintf(headers, sizeof(headers), "Accept-Ranges: bytes\r\n");
	} else {
		snprintf(headers, sizeof(headers),
			 "Accept-Ranges: bytes\r\nContent-Range: bytes "
			 "%zu-%zu/%zu\r\n",
			 from, to, resp->body_len);
	}
	http_server_request_respond(ctx->req, r ? 206 : 200, "audio/wav",
				    headers, resp->body + from,
				    resp->body_len ? to - from + 1 : 0);
	api_ctx_free(ctx);
}

void calls_api_recording(struct api_ctx *ctx)
{
	struct ari_rest *rest =
	    ctx->deps->link ? link_rest(ctx->deps->link) : NULL;
	char *name = NULL, path[512];
	int r;

	if (!rest) {
		api_problem(ctx, 503, "unavailable", "ARI is not configured");
		return;
	}
	r = ari_rest_escape(ctx->params[0], &name);
	if (r < 0) {
		api_problem(ctx, 500, "internal", "out of memory");
		return;
	}
	snprintf(path, sizeof(path), "/recordings/stored/%s/file", name);
	free(name);
	r = ari_rest_request(rest, "GET", path, NULL, on_recording, ctx);
	if (r < 0)
		api_problem(ctx, 503, "unavailable",
			    "ARI cannot take the request (%s)", strerror(-r));
}

void calls_api_routing(struct api_ctx *ctx)
{
	struct api_sql sql = {0};
	struct api_page page = {.key = "t.id"};
	char cursor[API_MAX_PARAM];
	unsigned limit;

	if (!api_query_limit(ctx, &limit) || !api_query_cursor(ctx, cursor))
		return;
	api_page_open(&sql, &page, limit);
	api_page_rows(&sql, &page,
		      "jsonb_build_object('at', t.at, 'campaign_id', "
		      "t.campaign_id, 'strategy', t.strategy, 'chosen', "
		      "to_jsonb(t.chosen), 'candidates', t.candidates)",
		      "routing_decisions t");
	api_sql_add(&sql, " WHERE t.call_id = $%d",
		    api_sql_param(&sql, ctx->params[0]));
	api_page_close(&sql, &page, *cursor ? cursor : NULL, "bigint");
	api_sql_run(ctx, &sql, api_reply_page);
}
