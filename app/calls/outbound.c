/* outbound.c: calls an agent places to a customer. The agent's phone is
 * rung first; once the agent answers they hear ringback (unless their phone
 * plays its own: a browser's echo canceller, fed a ringback tone, muted
 * the agent's first words after the customer answered) while the
 * customer's leg is dialed through the campaign's dial template; when the
 * customer answers both are bridged and recorded (call.c). A customer who
 * is busy, does not answer or cannot be reached ends the call, and the
 * agent goes to after-call work for a disposition either way.
 *
 * Both legs are channels we create, with our ids: the agent's leg id is
 * the call id. Both hold the call: it ends once both have left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/outbound.h"
#include "util/log.h"

/* Seconds the customer's phone rings before the call is given up. */
#define OUT_CUSTOMER_RING_S 45
/* Grace past the agent's ring time before a call whose events were lost
 * is ended. */
#define OUT_GRACE_MS 15000

/* The lead's attempt: its status says how the customer's leg ended. */
static void update_lead(struct call *call)
{
	const char *failure = call->failure;
	char lead[24];
	const char *status, *params[2];

	if (!call->cdr.lead_id || !call->calls->db ||
	    !call->cdr.caller_channel_id)
		return;
	status = call->cdr.answer_us                        ? "contacted"
		 : failure && !strcmp(failure, "BUSY")      ? "busy"
		 : failure && !strcmp(failure, "NO ANSWER") ? "no_answer"
							    : "failed";
	snprintf(lead, sizeof(lead), "%lld", (long long)call->cdr.lead_id);
	params[0] = lead;
	params[1] = status;
	calls__db_write(call->calls,
			"UPDATE leads SET attempts = attempts + 1, status = $2"
			" WHERE id = $1",
			2, params);
}

static enum call_input enter_gone(struct call *call)
{
	bool ending = calls__find(call->calls, call->cdr.call_id) == call;

	calls__enter_gone(call);
	if (ending)
		update_lead(call);
	return CALL_INPUT_NONE;
}

/* The agent's phone rings; the call is theirs once answered. */
static enum call_input enter_ringing_agent(struct call *call)
{
	struct leg *leg = call->legs[0];
	char campaign[24];

	call->deadline_ms = calls__now_ms(call->calls) +
			    call->campaign->ring_timeout_s * 1000ull +
			    OUT_GRACE_MS;
	/* The agent's phone shows the number it is about to call; the leg's
	 * arguments name the campaign for a process that takes the call over
	 * (resync.c). */
	snprintf(campaign, sizeof(campaign), "%lld",
		 (long long)call->campaign->id);
	calls__leg_ring_phone(leg, leg->agent->sip_username, "outbound",
			      campaign, call->cdr.callee_number);
	return CALL_INPUT_NONE;
}

/* Plays ringback to the agent's leg (call->winner) while the customer
 * rings, unless the agent's phone plays its own (call->local_ringback). */
static void start_ringback(struct call *call)
{
	char path[256];

	if (call->local_ringback)
		return;
	if (ids_new(call->ringback_id, sizeof(call->ringback_id), "pb") < 0 ||
	    !call->winner)
		return;
	snprintf(path, sizeof(path), "/channels/%s/play/%s?media=tone:ring",
		 call->winner->id, call->ringback_id);
	calls__request(call, "POST", path, NULL, NULL);
}

/* The agent answered: ringback for them (start_ringback), and the customer
 * is dialed. */
static enum call_input enter_ringing_customer(struct call *call)
{
	struct call_event failed = {NULL, "CHANUNAVAIL", 38};
	char id[IDS_MAX], args[CALL_MAX_ID + 16], *endpoint = NULL;
	struct leg *leg;

	log_info("call=%s agent=%lld answered, dialing %s", call->cdr.call_id,
		 (long long)call->cdr.agent_id, call->cdr.callee_number);
	start_ringback(call);
	if (ids_new(id, sizeof(id), "cust") < 0 ||
	    ari_rest_escape(call->endpoint, &endpoint) < 0 ||
	    !(leg = calls__leg_add(call, LEG_CUSTOMER, id))) {
		free(endpoint);
		calls__input(call, CALL_INPUT_CUSTOMER_FAILED, &failed);
		return CALL_INPUT_NONE;
	}
	leg->holds = true;
	leg->ring_s = OUT_CUSTOMER_RING_S;
	leg->connected = call->caller_id ? strdup(call->caller_id) : NULL;
	call->peer = leg;
	free(call->cdr.caller_channel_id);
	call->cdr.caller_channel_id = strdup(leg->id);
	snprintf(args, sizeof(args), "customer,%s", call->cdr.call_id);
	calls__leg_originate(leg, endpoint, args, NULL);
	free(endpoint);
	return CALL_INPUT_NONE;
}

static void act_customer_up(struct call *call, const struct call_event *ev)
{
	char path[256];

	(void)ev;
	call->cdr.answer_us = cdr_now_us();
	if (call->peer)
		call->peer->state = LEG_UP;
	if (call->ringback_id[0]) {
		snprintf(path, sizeof(path), "/playbacks/%s",
			 call->ringback_id);
		calls__request(call, "DELETE", path, NULL, NULL);
	}
	log_info("call=%s customer %s answered", call->cdr.call_id,
		 call->cdr.callee_number);
	calls__emit_answered(call, call->cdr.agent_id, 0);
}

/* The Q.850 cause a customer's leg ended with before answering, as the
 * failure reported to the agent: busy, congestion, a number that cannot
 * be reached or is refused, else no answer. */
static const char *failure_of_cause(int cause)
{
	switch (cause) {
	case 17: /* user busy */
		return "BUSY";
	case 34: /* no circuit available */
	case 38: /* network out of order */
	case 41: /* temporary failure */
	case 42: /* switching equipment congestion */
		return "CONGESTION";
	case 1:  /* unallocated number */
	case 3:  /* no route to destination */
	case 21: /* call rejected */
	case 27: /* destination out of order */
	case 28: /* invalid number format */
		return "FAILED";
	default:
		return "NO ANSWER";
	}
}

/* Dial statuses of a customer leg, as the failure they mean. */
static const char *failure_of_status(const char *status)
{
	static const struct {
		const char *status, *reason;
	} table[] = {
	    {"BUSY", "BUSY"},
	    {"NOANSWER", "NO ANSWER"},
	    {"CONGESTION", "CONGESTION"},
	    {"CHANUNAVAIL", "FAILED"},
	    {"CANCEL", "NO ANSWER"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
		if (strcmp(status, table[i].status) == 0)
			return table[i].reason;
	return "NO ANSWER";
}

/* The customer's leg ended before answering (or rang too long). */
static void act_customer_failed(struct call *call, const struct call_event *ev)
{
	const char *reason;
	int cause = ev ? ev->cause : 0;

	if (ev && ev->status)
		reason = failure_of_status(ev->status);
	else if (ev)
		reason = failure_of_cause(cause);
	else
		reason = "NO ANSWER";
	call->failure = strcmp(reason, "CONGESTION") == 0 ? "FAILED" : reason;
	log_info("call=%s customer %s reason=%s", call->cdr.call_id,
		 call->cdr.callee_number, reason);
	calls__emit(call, "call.customer_failed", call->cdr.agent_id,
		    json_pack("{s:s, s:I, s:s}", "call_id", call->cdr.call_id,
			      "agent_id", (json_int_t)call->cdr.agent_id,
			      "reason", reason));
	if (!call->hangup_by)
		call->hangup_by = "system";
	if (!call->cause)
		call->cause = cause ? cause : 19;
}

const struct call_machine calls__outbound = {
    .direction = CALL_OUTBOUND,
    .enter =
	{
	    [CALL_STATE_RINGING_AGENT] = enter_ringing_agent,
	    [CALL_STATE_RINGING_CUSTOMER] = enter_ringing_customer,
	    [CALL_STATE_GONE] = enter_gone,
	},
    .act =
	{
	    [CALL_ACT_CUSTOMER_UP] = act_customer_up,
	    [CALL_ACT_CUSTOMER_FAILED] = act_customer_failed,
	},
};

struct call *calls__outbound_adopt_talking(struct calls *calls,
					   const struct calls_talking *t)
{
	struct call *call =
	    calls__new(calls, &calls__outbound, t->agent_leg_id,
		       t->agent->sip_username, t->callee, NULL, t->start_us);

	if (!call)
		return NULL;
	free(call->cdr.caller_channel_id);
	call->cdr.caller_channel_id = strdup(t->peer_id);
	if (!call->cdr.caller_channel_id ||
	    calls__take_over(call, t, LEG_CUSTOMER, true) < 0) {
		calls__discard(call);
		return NULL;
	}
	return call;
}

/* The call and the agent's leg, before anything is sent. */
static struct call *outbound_new(struct calls *calls,
				 const struct calls_outbound *req)
{
	char id[IDS_MAX];
	struct call *call;
	struct leg *leg;

	if (ids_new(id, sizeof(id), "out") < 0 ||
	    !(call =
		  calls__new(calls, &calls__outbound, id,
			     req->agent->sip_username, req->number, NULL, 0)))
		return NULL;
	call->endpoint = strdup(req->endpoint);
	call->caller_id = req->caller_id ? strdup(req->caller_id) : NULL;
	call->cdr.agent_channel_id = strdup(id);
	leg = calls__leg_add(call, LEG_AGENT, id);
	if (!leg || !call->endpoint || !call->cdr.agent_channel_id ||
	    (req->caller_id && !call->caller_id)) {
		call->state = CALL_STATE_GONE;
		if (leg)
			calls__leg_left(leg, 0);
		strmap_remove(calls->by_id, id);
		calls__unref(call);
		return NULL;
	}
	leg->agent = req->agent;
	leg->holds = true;
	leg->ring_s = req->campaign->ring_timeout_s;
	call->campaign = req->campaign;
	call->cdr.agent_id = req->agent->id;
	call->cdr.campaign_id = req->campaign->id;
	call->cdr.lead_id = req->lead_id;
	call->local_ringback = req->local_ringback;
	return call;
}

int calls_originate(struct calls *calls, const struct calls_outbound *req,
		    char *ret_call_id, size_t size)
{
	struct call *call;

	if (!req->agent->sip_username || !req->campaign)
		return -EINVAL;
	call = outbound_new(calls, req);
	if (!call)
		return -ENOMEM;
	agents_set_call(req->agent, call->cdr.call_id);
	agents_input(calls->agents, req->agent, AGENTS_INPUT_OFFER, NULL, 0);
	calls__write_cdr(call);
	log_info("outbound call=%s agent=%lld campaign=%lld number=%s "
		 "endpoint=%s",
		 call->cdr.call_id, (long long)req->agent->id,
		 (long long)req->campaign->id, req->number, req->endpoint);
	calls__emit_offered(call, req->agent->id, req->number, 0);
	snprintf(ret_call_id, size, "%s", call->cdr.call_id);
	calls__start(call, CALL_STATE_RINGING_AGENT);
	return 0;
}
