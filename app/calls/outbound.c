/* outbound.c: calls an agent places to a customer. The agent's phone is
 * rung first; once the agent answers they hear ringback while the
 * customer's leg is dialed through the campaign's dial template; when the
 * customer answers both are bridged and recorded. A customer who is busy,
 * does not answer or cannot be reached ends the call, and the agent goes
 * to after-call work for a disposition either way.
 *
 * Both legs are channels we create, with our ids: the agent's leg id is
 * the call id. Each leg is in the map calls->outbound; the call lives
 * until both legs have left Stasis (or were never created). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"

/* Seconds the customer's phone rings before the call is given up. */
#define OUT_CUSTOMER_RING_S 45
/* Grace past a ring time before a call whose events were lost is ended. */
#define OUT_GRACE_MS 15000

enum out_state {
	OUT_AGENT_RINGING = 0, /* the agent's leg is created and rung */
	OUT_CUSTOMER_RINGING,  /* the agent answered; the customer rings */
	OUT_CONNECTING,        /* the customer answered; bridging */
	OUT_TALKING,
	OUT_ENDING, /* hanging up what is left */
};

/* As the API names call states: until both legs talk, "connecting". */
static const char *const out_state_names[] = {
    "connecting", "connecting", "connecting", "talking", "hanging_up"};

struct out_leg {
	char id[IDS_MAX];
	bool created;   /* the create request succeeded */
	bool in_stasis; /* its StasisStart arrived: only then may it dial */
	bool dialed;
	bool ready;   /* set up to be dialed (the customer's caller id) */
	bool gone;    /* left Stasis, or never made it */
	bool hung_up; /* we sent the DELETE */
};

struct outcall {
	struct calls *calls;
	struct out_leg agent_leg, cust_leg;
	char bridge_id[IDS_MAX];
	char ringback_id[IDS_MAX];
	struct agent *agent;
	struct campaign *campaign;
	char *endpoint;  /* the customer's dial string */
	char *caller_id; /* shown to the customer; NULL: the trunk's */
	struct cdr cdr;
	enum out_state state;
	const char *failure; /* BUSY, NO ANSWER, CONGESTION, FAILED */
	int cause;
	uint64_t deadline_ms;
	bool agent_answered;
	bool agent_missed; /* rang out: counts toward max_no_answer */
	bool ended;
	unsigned refs;
};

static struct outcall *out_ref(struct outcall *oc)
{
	oc->refs++;
	return oc;
}

static void out_unref(struct outcall *oc)
{
	if (--oc->refs > 0)
		return;
	free(oc->endpoint);
	free(oc->caller_id);
	cdr_clear(&oc->cdr);
	free(oc);
}

static uint64_t now_ms(const struct outcall *oc)
{
	return uv_now(oc->calls->loop);
}

static void write_cdr(struct outcall *oc)
{
	json_t *snapshot;

	if (!oc->calls->cdr)
		return;
	snapshot = cdr_snapshot(&oc->cdr);
	if (snapshot)
		cdr_writer_submit(oc->calls->cdr, snapshot);
}

static void emit(struct outcall *oc, const char *type, json_t *data)
{
	calls__emit_event(oc->calls, type, oc->agent->id, oc->campaign->id,
			  data);
}

static void on_reply(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;

	if (resp->error < 0 && resp->error != -ENOENT &&
	    resp->error != -ECANCELED)
		log_warning("outbound call=%s request failed error=%s http=%ld",
			    oc->agent_leg.id, strerror(-resp->error),
			    resp->http_status);
	out_unref(oc);
}

static int request(struct outcall *oc, const char *method, const char *path,
		   const json_t *body, ari_rest_cb cb)
{
	int r = ari_rest_request(oc->calls->rest, method, path, body,
				 cb ? cb : on_reply, out_ref(oc));

	if (r < 0) {
		out_unref(oc);
		log_warning("outbound call=%s %s %s not sent error=%s",
			    oc->agent_leg.id, method, path, strerror(-r));
	}
	return r;
}

static void hang_up_leg(struct outcall *oc, struct out_leg *leg)
{
	char path[256];

	if (!leg->id[0] || leg->gone || leg->hung_up)
		return;
	leg->hung_up = true;
	if (!leg->created) {
		/* Not created yet (or never): when the create answers, the
		 * leg is hung up there. */
		return;
	}
	snprintf(path, sizeof(path), "/channels/%s?reason_code=16", leg->id);
	request(oc, "DELETE", path, NULL, NULL);
}

/* The lead's attempt: its status says how the customer's leg ended. */
static void update_lead(struct outcall *oc)
{
	char lead[24];
	const char *status, *params[2];

	if (!oc->cdr.lead_id || !oc->calls->db || !oc->cust_leg.id[0])
		return;
	status = oc->cdr.answer_us                             ? "contacted"
		 : oc->failure && !strcmp(oc->failure, "BUSY") ? "busy"
		 : oc->failure && !strcmp(oc->failure, "NO ANSWER")
		     ? "no_answer"
		     : "failed";
	snprintf(lead, sizeof(lead), "%lld", (long long)oc->cdr.lead_id);
	params[0] = lead;
	params[1] = status;
	calls__db_write(oc->calls,
			"UPDATE leads SET attempts = attempts + 1, status = $2"
			" WHERE id = $1",
			2, params);
}

/* Both legs are gone: the record is complete. */
static void finish(struct outcall *oc)
{
	struct calls *calls = oc->calls;
	int64_t end_us = cdr_now_us();

	if (oc->ended || !oc->agent_leg.gone ||
	    (oc->cust_leg.id[0] && !oc->cust_leg.gone))
		return;
	oc->ended = true;
	if (oc->bridge_id[0]) {
		char path[256];

		snprintf(path, sizeof(path), "/bridges/%s", oc->bridge_id);
		request(oc, "DELETE", path, NULL, NULL);
	}
	cdr_finish(&oc->cdr, end_us, oc->cause, NULL,
		   oc->cdr.hangup_by ? oc->cdr.hangup_by : "system");
	/* What the agent was told is what the record says. */
	if (!oc->cdr.answer_us && oc->failure)
		oc->cdr.disposition = oc->failure;
	write_cdr(oc);
	update_lead(oc);
	calls->handled++;
	/* The agent: in a call (answered) goes to after-call work for a
	 * disposition; still ringing had not taken it. */
	if (oc->agent_answered)
		agents_input(calls->agents, oc->agent, AGENTS_INPUT_CALL_END,
			     NULL, oc->campaign->wrapup_s);
	else if (agents_state(calls->agents, oc->agent) == ACD_AGENT_RINGING) {
		if (oc->agent_missed)
			oc->agent->no_answer_streak++;
		agents_input(calls->agents, oc->agent,
			     calls__offer_outcome(oc->campaign, oc->agent,
						  oc->agent_missed),
			     NULL, 0);
	}
	log_info("outbound call=%s ended agent=%lld number=%s disposition=%s",
		 oc->agent_leg.id, (long long)oc->agent->id,
		 oc->cdr.callee_number, oc->cdr.disposition);
	emit(oc, "call.ended",
	     json_pack(
		 "{s:s, s:I, s:I, s:s, s:s, s:b, s:I, s:I}", "call_id",
		 oc->cdr.call_id, "agent_id", (json_int_t)oc->agent->id,
		 "campaign_id", (json_int_t)oc->campaign->id, "direction",
		 "outbound", "disposition", oc->cdr.disposition, "abandoned", 0,
		 "duration",
		 (json_int_t)((oc->cdr.end_us - oc->cdr.start_us) / 1000000),
		 "billsec",
		 (json_int_t)(oc->cdr.answer_us
				  ? (oc->cdr.end_us - oc->cdr.answer_us) /
					1000000
				  : 0)));
	if (strmap_get(calls->outbound, oc->agent_leg.id) == oc) {
		strmap_remove(calls->outbound, oc->agent_leg.id);
		out_unref(oc);
	}
	if (oc->cust_leg.id[0] &&
	    strmap_get(calls->outbound, oc->cust_leg.id) == oc) {
		strmap_remove(calls->outbound, oc->cust_leg.id);
		out_unref(oc);
	}
}

/* Ends the call: every leg still up is hung up; finish() runs once both
 * have left. */
static void end_call(struct outcall *oc, const char *hangup_by, int cause)
{
	if (!oc->cdr.hangup_by)
		oc->cdr.hangup_by = hangup_by;
	if (cause && !oc->cause)
		oc->cause = cause;
	oc->state = OUT_ENDING;
	oc->deadline_ms = now_ms(oc) + OUT_GRACE_MS;
	if (!oc->agent_leg.created && !oc->agent_leg.in_stasis)
		oc->agent_leg.gone =
		    oc->agent_leg.gone || oc->agent_leg.hung_up;
	hang_up_leg(oc, &oc->agent_leg);
	hang_up_leg(oc, &oc->cust_leg);
	finish(oc);
}

/* The customer's leg ended before answering. */
static void customer_failed(struct outcall *oc, const char *reason, int cause)
{
	if (oc->state != OUT_CUSTOMER_RINGING)
		return;
	oc->failure = strcmp(reason, "CONGESTION") == 0 ? "FAILED" : reason;
	log_info("outbound call=%s customer %s reason=%s", oc->agent_leg.id,
		 oc->cdr.callee_number, reason);
	emit(oc, "call.customer_failed",
	     json_pack("{s:s, s:I, s:s}", "call_id", oc->cdr.call_id,
		       "agent_id", (json_int_t)oc->agent->id, "reason",
		       reason));
	end_call(oc, "system", cause);
}

static void dial(struct outcall *oc, struct out_leg *leg, unsigned timeout_s)
{
	char path[256];

	if (!leg->created || !leg->in_stasis || !leg->ready || leg->dialed ||
	    leg->hung_up)
		return;
	leg->dialed = true;
	snprintf(path, sizeof(path), "/channels/%s/dial?timeout=%u", leg->id,
		 timeout_s);
	request(oc, "POST", path, NULL, NULL);
}

static void dial_agent(struct outcall *oc)
{
	dial(oc, &oc->agent_leg, oc->campaign->ring_timeout_s);
}

static void dial_customer(struct outcall *oc)
{
	dial(oc, &oc->cust_leg, OUT_CUSTOMER_RING_S);
}

static void on_caller_id(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;

	if (resp->error != -ECANCELED) {
		if (resp->error < 0)
			log_warning(
			    "outbound call=%s caller id not set error=%s",
			    oc->agent_leg.id, strerror(-resp->error));
		oc->cust_leg.ready = true;
		dial_customer(oc);
	}
	out_unref(oc);
}

/* The customer sees the campaign's number: chan_pjsip builds an outgoing
 * INVITE's From from the channel's connected line (which Dial() would set
 * from its caller), so it is set before the dial; channels/create takes
 * no caller id. */
static void set_caller_id(struct outcall *oc)
{
	char path[512], *value = NULL, all[128];

	snprintf(all, sizeof(all), "\"%s\" <%s>", oc->caller_id, oc->caller_id);
	if (ari_rest_escape(all, &value) == 0) {
		snprintf(path, sizeof(path),
			 "/channels/%s/"
			 "variable?variable=CONNECTEDLINE(all)&value=%s",
			 oc->cust_leg.id, value);
		free(value);
		if (request(oc, "POST", path, NULL, on_caller_id) == 0)
			return;
	}
	oc->cust_leg.ready = true;
	dial_customer(oc);
}

static void on_leg_created(struct outcall *oc, struct out_leg *leg,
			   const struct ari_response *resp)
{
	if (resp->error == -ECANCELED)
		return;
	if (resp->error < 0) {
		log_warning("outbound call=%s leg=%s not created error=%s",
			    oc->agent_leg.id, leg->id, strerror(-resp->error));
		leg->gone = true;
		if (leg == &oc->cust_leg)
			customer_failed(oc, "FAILED", 38);
		else
			end_call(oc, "system", 38);
		return;
	}
	leg->created = true;
	if (leg->hung_up) {
		leg->hung_up = false;
		hang_up_leg(oc, leg);
		return;
	}
	if (leg == &oc->agent_leg)
		dial_agent(oc);
	else if (!leg->ready)
		set_caller_id(oc);
	else
		dial_customer(oc);
}

static void on_agent_created(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;

	on_leg_created(oc, &oc->agent_leg, resp);
	out_unref(oc);
}

static void on_customer_created(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;

	on_leg_created(oc, &oc->cust_leg, resp);
	out_unref(oc);
}

/* Puts a leg in the map: events about its channel find the call. */
static int map_leg(struct outcall *oc, const char *id)
{
	int r = strmap_put(oc->calls->outbound, id, oc);

	if (r == 0)
		out_ref(oc);
	return r;
}

static void start_customer(struct outcall *oc)
{
	char path[1024], *endpoint = NULL;
	int r;

	if (ids_new(oc->cust_leg.id, sizeof(oc->cust_leg.id), "cust") < 0 ||
	    map_leg(oc, oc->cust_leg.id) < 0 ||
	    ari_rest_escape(oc->endpoint, &endpoint) < 0) {
		free(endpoint);
		oc->cust_leg.gone = true;
		customer_failed(oc, "FAILED", 38);
		return;
	}
	snprintf(path, sizeof(path),
		 "/channels/create?endpoint=%s&app=%s&appArgs=customer,%s"
		 "&channelId=%s",
		 endpoint, oc->calls->app, oc->agent_leg.id, oc->cust_leg.id);
	free(endpoint);
	oc->cust_leg.ready = !oc->caller_id;
	free(oc->cdr.caller_channel_id);
	oc->cdr.caller_channel_id = strdup(oc->cust_leg.id);
	oc->deadline_ms =
	    now_ms(oc) + OUT_CUSTOMER_RING_S * 1000ull + OUT_GRACE_MS;
	r = request(oc, "POST", path, NULL, on_customer_created);
	if (r < 0) {
		oc->cust_leg.gone = true;
		customer_failed(oc, "FAILED", 38);
	}
}

static void agent_answered(struct outcall *oc)
{
	char path[256];

	if (oc->state != OUT_AGENT_RINGING)
		return;
	oc->agent_answered = true;
	oc->agent->no_answer_streak = 0;
	oc->state = OUT_CUSTOMER_RINGING;
	agents_input(oc->calls->agents, oc->agent, AGENTS_INPUT_ANSWER, NULL,
		     0);
	log_info("outbound call=%s agent=%lld answered, dialing %s",
		 oc->agent_leg.id, (long long)oc->agent->id,
		 oc->cdr.callee_number);
	/* Ringback while the customer's phone rings. */
	if (ids_new(oc->ringback_id, sizeof(oc->ringback_id), "pb") > 0) {
		snprintf(path, sizeof(path),
			 "/channels/%s/play/%s?media=tone:ring",
			 oc->agent_leg.id, oc->ringback_id);
		request(oc, "POST", path, NULL, NULL);
	}
	start_customer(oc);
}

static void on_recording(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;

	if (resp->error < 0 && resp->error != -ECANCELED)
		log_warning("outbound call=%s recording not started error=%s",
			    oc->agent_leg.id, strerror(-resp->error));
	out_unref(oc);
}

static void on_added(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;
	char path[512];

	if (resp->error == 0 && oc->state == OUT_CONNECTING) {
		oc->state = OUT_TALKING;
		oc->deadline_ms = 0;
		snprintf(path, sizeof(path),
			 "/bridges/%s/record?name=%s&format=wav&ifExists="
			 "overwrite&terminateOn=none&beep=false",
			 oc->bridge_id, oc->agent_leg.id);
		request(oc, "POST", path, NULL, on_recording);
		snprintf(path, sizeof(path), "/api/v1/calls/%s/recording",
			 oc->agent_leg.id);
		free(oc->cdr.recording_url);
		oc->cdr.recording_url = strdup(path);
		write_cdr(oc);
	} else if (resp->error < 0 && resp->error != -ECANCELED &&
		   oc->state == OUT_CONNECTING) {
		log_warning("outbound call=%s bridge join failed error=%s",
			    oc->agent_leg.id, strerror(-resp->error));
		end_call(oc, "system", 38);
	}
	out_unref(oc);
}

static void on_bridge(const struct ari_response *resp, void *userdata)
{
	struct outcall *oc = userdata;
	char path[512];

	if (resp->error == 0 && oc->state == OUT_CONNECTING) {
		snprintf(path, sizeof(path),
			 "/bridges/%s/addChannel?channel=%s,%s", oc->bridge_id,
			 oc->agent_leg.id, oc->cust_leg.id);
		request(oc, "POST", path, NULL, on_added);
	} else if (resp->error < 0 && resp->error != -ECANCELED &&
		   oc->state == OUT_CONNECTING) {
		log_warning("outbound call=%s bridge not created error=%s",
			    oc->agent_leg.id, strerror(-resp->error));
		end_call(oc, "system", 38);
	}
	out_unref(oc);
}

static void customer_answered(struct outcall *oc)
{
	char path[256];

	if (oc->state != OUT_CUSTOMER_RINGING)
		return;
	oc->state = OUT_CONNECTING;
	oc->cdr.answer_us = cdr_now_us();
	free(oc->cdr.agent_channel_id);
	oc->cdr.agent_channel_id = strdup(oc->agent_leg.id);
	if (oc->ringback_id[0]) {
		snprintf(path, sizeof(path), "/playbacks/%s", oc->ringback_id);
		request(oc, "DELETE", path, NULL, NULL);
	}
	log_info("outbound call=%s customer %s answered", oc->agent_leg.id,
		 oc->cdr.callee_number);
	emit(oc, "call.answered",
	     json_pack("{s:s, s:I, s:I, s:i}", "call_id", oc->cdr.call_id,
		       "agent_id", (json_int_t)oc->agent->id, "campaign_id",
		       (json_int_t)oc->campaign->id, "wait_seconds", 0));
	if (ids_new(oc->bridge_id, sizeof(oc->bridge_id), "br") < 0) {
		end_call(oc, "system", 38);
		return;
	}
	free(oc->cdr.bridge_id);
	oc->cdr.bridge_id = strdup(oc->bridge_id);
	snprintf(path, sizeof(path), "/bridges/%s?type=mixing&name=%s",
		 oc->bridge_id, oc->agent_leg.id);
	request(oc, "POST", path, NULL, on_bridge);
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
static const char *failure_of(const char *status, int *ret_cause)
{
	static const struct {
		const char *status, *reason;
		int cause;
	} table[] = {
	    {"BUSY", "BUSY", 17},
	    {"NOANSWER", "NO ANSWER", 19},
	    {"CONGESTION", "CONGESTION", 34},
	    {"CHANUNAVAIL", "FAILED", 27},
	    {"CANCEL", "NO ANSWER", 19},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
		if (strcmp(status, table[i].status) == 0) {
			*ret_cause = table[i].cause;
			return table[i].reason;
		}
	return NULL;
}

static void on_dial(struct outcall *oc, const char *channel, const char *status)
{
	const char *reason;
	int cause = 0;

	if (strcmp(status, "ANSWER") == 0) {
		if (strcmp(channel, oc->agent_leg.id) == 0)
			agent_answered(oc);
		else
			customer_answered(oc);
		return;
	}
	reason = failure_of(status, &cause);
	if (!reason)
		return; /* RINGING, PROGRESS, ... */
	if (strcmp(channel, oc->agent_leg.id) == 0) {
		if (oc->state == OUT_AGENT_RINGING) {
			oc->agent_missed = strcmp(status, "NOANSWER") == 0;
			log_info("outbound call=%s agent=%lld did not answer "
				 "(%s)",
				 oc->agent_leg.id, (long long)oc->agent->id,
				 status);
			end_call(oc, "agent", 19);
		}
		return;
	}
	customer_failed(oc, reason, cause);
}

/* A leg left Stasis (hung up, or by our hangup). */
static void on_left(struct outcall *oc, const char *channel, int cause)
{
	bool agent = strcmp(channel, oc->agent_leg.id) == 0;
	struct out_leg *leg = agent ? &oc->agent_leg : &oc->cust_leg;

	if (leg->gone)
		return;
	leg->gone = true;
	switch (oc->state) {
	case OUT_AGENT_RINGING:
		end_call(oc, "agent", cause ? cause : 19);
		break;
	case OUT_CUSTOMER_RINGING:
		/* StasisEnd carries no cause: the hangup request before it
		 * did. */
		cause = cause ? cause : oc->cause;
		if (agent)
			end_call(oc, "agent", 19);
		else
			customer_failed(oc, failure_of_cause(cause),
					cause ? cause : 19);
		break;
	case OUT_CONNECTING:
	case OUT_TALKING:
		end_call(oc, agent ? "agent" : "caller", cause);
		break;
	case OUT_ENDING:
		finish(oc);
		break;
	}
}

bool calls__outbound_event(struct calls *calls, const struct ari_event *ev)
{
	struct outcall *oc;

	if (!ev->channel_id ||
	    !(oc = strmap_get(calls->outbound, ev->channel_id)))
		return false;
	out_ref(oc);
	switch (ev->type) {
	case ARI_EVENT_STASIS_START: {
		bool agent = strcmp(ev->channel_id, oc->agent_leg.id) == 0;
		struct out_leg *leg = agent ? &oc->agent_leg : &oc->cust_leg;

		leg->in_stasis = true;
		if (agent)
			dial_agent(oc);
		else
			dial_customer(oc);
		break;
	}
	case ARI_EVENT_DIAL:
		if (ev->dial_status && *ev->dial_status)
			on_dial(oc, ev->channel_id, ev->dial_status);
		break;
	case ARI_EVENT_STASIS_END:
	case ARI_EVENT_CHANNEL_DESTROYED:
		on_left(oc, ev->channel_id, ev->cause);
		break;
	case ARI_EVENT_CHANNEL_HANGUP_REQUEST:
		if (ev->cause && !oc->cause)
			oc->cause = ev->cause;
		break;
	default:
		break;
	}
	out_unref(oc);
	return true;
}

bool calls__is_outbound(struct calls *calls, const char *id)
{
	return strmap_get(calls->outbound, id) != NULL;
}

bool calls__outbound_owns_bridge(struct calls *calls, const char *bridge_id)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->outbound, &cursor, &key, &value)) {
		const struct outcall *oc = value;

		if (strcmp(oc->bridge_id, bridge_id) == 0)
			return true;
	}
	return false;
}

int calls_originate(struct calls *calls, const struct calls_outbound *req,
		    char *ret_call_id, size_t size)
{
	struct outcall *oc;
	char path[1024], *caller = NULL;
	json_t *body;
	int r;

	if (!req->agent->sip_username || !req->campaign)
		return -EINVAL;
	oc = calloc(1, sizeof(*oc));
	if (!oc)
		return -ENOMEM;
	oc->calls = calls;
	oc->refs = 1;
	oc->agent = req->agent;
	oc->campaign = req->campaign;
	oc->endpoint = strdup(req->endpoint);
	oc->agent_leg.ready = true;
	oc->caller_id = req->caller_id ? strdup(req->caller_id) : NULL;
	r = ids_new(oc->agent_leg.id, sizeof(oc->agent_leg.id), "out");
	r = r < 0 ? r : 0;
	if (r == 0 && (!oc->endpoint || (req->caller_id && !oc->caller_id)))
		r = -ENOMEM;
	if (r == 0)
		r = cdr_init_inbound(&oc->cdr, oc->agent_leg.id,
				     req->agent->sip_username, req->number,
				     NULL, cdr_now_us());
	if (r == 0)
		r = map_leg(oc, oc->agent_leg.id);
	if (r < 0) {
		out_unref(oc);
		return r;
	}
	oc->cdr.direction = "outbound";
	oc->cdr.agent_id = req->agent->id;
	oc->cdr.campaign_id = req->campaign->id;
	oc->cdr.lead_id = req->lead_id;
	oc->cdr.agent_channel_id = strdup(oc->agent_leg.id);
	oc->state = OUT_AGENT_RINGING;
	oc->deadline_ms =
	    now_ms(oc) + req->campaign->ring_timeout_s * 1000ull + OUT_GRACE_MS;
	agents_set_call(req->agent, oc->agent_leg.id);
	agents_input(calls->agents, req->agent, AGENTS_INPUT_OFFER, NULL, 0);
	write_cdr(oc);
	log_info("outbound call=%s agent=%lld campaign=%lld number=%s "
		 "endpoint=%s",
		 oc->agent_leg.id, (long long)req->agent->id,
		 (long long)req->campaign->id, req->number, req->endpoint);
	emit(oc, "call.offered",
	     json_pack("{s:s, s:I, s:I}", "call_id", oc->cdr.call_id,
		       "agent_id", (json_int_t)req->agent->id, "campaign_id",
		       (json_int_t)req->campaign->id));
	if (ari_rest_escape(req->number, &caller) == 0) {
		snprintf(path, sizeof(path),
			 "/channels/create?endpoint=PJSIP/%s&app=%s&appArgs="
			 "outbound,%s&channelId=%s",
			 req->agent->sip_username, calls->app, oc->agent_leg.id,
			 oc->agent_leg.id);
		/* The agent's phone shows the number it is about to call. */
		body = json_pack("{s:{s:s}}", "variables", "CALLERID(num)",
				 req->number);
		r = request(oc, "POST", path, body, on_agent_created);
		json_decref(body);
		free(caller);
	} else {
		r = -ENOMEM;
	}
	snprintf(ret_call_id, size, "%s", oc->agent_leg.id);
	if (r < 0) {
		oc->agent_leg.gone = true;
		end_call(oc, "system", 38);
	}
	out_unref(oc);
	return 0;
}

/* Calls whose events were lost end after their ring time and a grace. */
void calls__outbound_sweep(struct calls *calls, uint64_t now)
{
	struct outcall *expired[32];
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	while (n < 32 && strmap_next(calls->outbound, &cursor, &key, &value)) {
		struct outcall *oc = value;

		if (oc->deadline_ms && oc->deadline_ms <= now &&
		    strcmp(key, oc->agent_leg.id) == 0)
			expired[n++] = out_ref(oc);
	}
	for (size_t i = 0; i < n; i++) {
		struct outcall *oc = expired[i];

		log_warning("outbound call=%s timed out in %s",
			    oc->agent_leg.id, out_state_names[oc->state]);
		if (oc->state == OUT_ENDING) {
			/* Hangups sent, their events lost: give up. */
			oc->agent_leg.gone = oc->cust_leg.gone = true;
			finish(oc);
		} else if (oc->state == OUT_CUSTOMER_RINGING) {
			customer_failed(oc, "NO ANSWER", 19);
		} else {
			end_call(oc, "system", 19);
		}
		oc->deadline_ms = now + OUT_GRACE_MS;
		out_unref(oc);
	}
}

static json_t *outcall_json(const struct outcall *oc)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:{s:o, s:s}, s:o, s:o, s:o,"
	    " s:i}",
	    "id", oc->cdr.call_id, "direction", "outbound", "state",
	    out_state_names[oc->state], "caller_number",
	    oc->cdr.caller_number ? oc->cdr.caller_number : "", "callee_number",
	    oc->cdr.callee_number, "campaign_id", (json_int_t)oc->campaign->id,
	    "agent_id", (json_int_t)oc->agent->id, "channels", "caller",
	    calls__str_or_null(oc->cust_leg.id), "agent", oc->agent_leg.id,
	    "bridge_id", calls__str_or_null(oc->bridge_id), "started_at",
	    calls__time_or_null(oc->cdr.start_us), "answered_at",
	    calls__time_or_null(oc->cdr.answer_us), "wait_seconds", 0);
}

void calls__outbound_list(struct calls *calls, json_t *list, int64_t agent_id)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->outbound, &cursor, &key, &value)) {
		const struct outcall *oc = value;

		if (strcmp(key, oc->agent_leg.id) != 0 ||
		    (agent_id && oc->agent->id != agent_id))
			continue;
		json_array_append_new(list, outcall_json(oc));
	}
}

json_t *calls__outbound_get(struct calls *calls, const char *call_id)
{
	const struct outcall *oc = strmap_get(calls->outbound, call_id);

	return oc && strcmp(call_id, oc->agent_leg.id) == 0 ? outcall_json(oc)
							    : NULL;
}

int calls__outbound_hangup(struct calls *calls, const char *call_id)
{
	struct outcall *oc = strmap_get(calls->outbound, call_id);

	if (!oc || strcmp(call_id, oc->agent_leg.id) != 0)
		return -ENOENT;
	out_ref(oc);
	end_call(oc, "system", 16);
	out_unref(oc);
	return 0;
}

/* At close: forget every outbound call (their channels are ours and are
 * hung up by the next process's resync). */
void calls__outbound_free(struct calls *calls)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->outbound, &cursor, &key, &value))
		out_unref(value);
	strmap_free(calls->outbound);
	calls->outbound = NULL;
}
