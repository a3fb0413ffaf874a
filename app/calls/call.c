/* call.c: one call model for both directions: the machine that runs the
 * transition tables, legs (origination, dialing, hang-up), the bridge, the
 * call's recorder, and the call's end (record and call.ended). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/call.h"
#include "util/log.h"
#include "util/timefmt.h"

uint64_t calls__now_ms(const struct calls *calls)
{
	return uv_now(calls->loop);
}

/* Calls ------------------------------------------------------------------ */

struct call *calls__ref(struct call *call)
{
	call->refs++;
	return call;
}

void calls__unref(struct call *call)
{
	if (--call->refs > 0)
		return;
	free(call->route_arg);
	free(call->endpoint);
	free(call->caller_id);
	cdr_clear(&call->cdr);
	free(call);
}

struct call *calls__find(struct calls *calls, const char *id)
{
	return id ? strmap_get(calls->by_id, id) : NULL;
}

struct leg *calls__leg_find(struct calls *calls, const char *id)
{
	return id ? strmap_get(calls->by_channel, id) : NULL;
}

struct call *calls__new(struct calls *calls, const struct call_machine *machine,
			const char *id, const char *caller, const char *callee,
			const char *channel_id, int64_t start_us)
{
	struct call *call;

	if (strlen(id) >= CALL_MAX_ID || strmap_get(calls->by_id, id))
		return NULL;
	call = calloc(1, sizeof(*call));
	if (!call)
		return NULL;
	call->calls = calls;
	call->machine = machine;
	call->refs = 1;
	call->entered_ns = uv_hrtime();
	if (cdr_init_inbound(&call->cdr, id, caller, callee, channel_id,
			     start_us ? start_us : cdr_now_us()) < 0 ||
	    strmap_put(calls->by_id, id, call) < 0) {
		calls__unref(call);
		return NULL;
	}
	call->cdr.direction = calls_direction_name(machine->direction);
	return call;
}

void calls__write_cdr(struct call *call)
{
	json_t *snapshot;

	if (!call->calls->cdr)
		return;
	snapshot = cdr_snapshot(&call->cdr);
	if (!snapshot) {
		log_error("call=%s CDR snapshot: out of memory",
			  call->cdr.call_id);
		return;
	}
	cdr_writer_submit(call->calls->cdr, snapshot);
}

void calls__write_record(struct call *call, enum cdr_kind kind, json_t *record,
			 const char *what)
{
	int r;

	if (!call->calls->cdr) {
		json_decref(record);
		return;
	}
	/* A NULL record (its pack failed) is refused with -EINVAL. */
	r = cdr_writer_submit_kind(call->calls->cdr, kind, record);
	if (r < 0)
		log_warning("call=%s %s not stored error=%s, ignoring",
			    call->cdr.call_id, what, strerror(-r));
}

static int64_t campaign_id(const struct call *call)
{
	return call->campaign ? call->campaign->id : call->cdr.campaign_id;
}

void calls__emit(struct call *call, const char *type, int64_t agent_id,
		 json_t *data)
{
	struct calls *calls = call->calls;

	if (!data)
		return;
	if (!calls->event_cb) {
		json_decref(data);
		return;
	}
	calls->event_cb(type, agent_id, campaign_id(call), data,
			calls->event_data);
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

void calls__emit_answered(struct call *call, int64_t agent_id, int wait_s)
{
	calls__emit(
	    call, "call.answered", agent_id,
	    json_pack("{s:s, s:I, s:I, s:i}", "call_id", call->cdr.call_id,
		      "agent_id", (json_int_t)agent_id, "campaign_id",
		      (json_int_t)campaign_id(call), "wait_seconds", wait_s));
}

void calls__emit_offered(struct call *call, int64_t agent_id,
			 const char *number, int wait_s)
{
	calls__emit(call, "call.offered", agent_id,
		    json_pack("{s:s, s:I, s:I, s:s, s:s?, s:i}", "call_id",
			      call->cdr.call_id, "agent_id",
			      (json_int_t)agent_id, "campaign_id",
			      (json_int_t)campaign_id(call), "campaign_name",
			      call->campaign ? call->campaign->name : "",
			      "caller_number", number, "wait_seconds", wait_s));
}

/* Best-effort writes: a lost row is logged; the call itself goes on. */
static void on_db_reply(int error, const PGresult *res, void *userdata)
{
	(void)userdata;
	if (error < 0 && error != -ECANCELED)
		log_warning("call row not stored error=%s %s, ignoring",
			    strerror(-error),
			    res ? PQresultErrorMessage(res) : "");
}

void calls__db_write(struct calls *calls, const char *sql, int n,
		     const char *const *params)
{
	int r;

	if (!calls->db)
		return;
	r = db_pool_query(calls->db, sql, n, params, on_db_reply, NULL);
	if (r < 0)
		log_warning("call row not stored error=%s, ignoring",
			    strerror(-r));
}

/* Replies nobody waits for: a failure is worth a line, no more. */
static void on_side_reply(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error < 0 && resp->error != -ENOENT &&
	    resp->error != -ECANCELED)
		log_warning(
		    "call=%s request failed error=%s http=%ld, ignoring",
		    call->cdr.call_id, strerror(-resp->error),
		    resp->http_status);
	calls__unref(call);
}

static void on_orphan_gone(const struct ari_response *resp, void *userdata)
{
	if (resp->error < 0 && resp->error != -ENOENT &&
	    resp->error != -ECANCELED)
		log_warning("orphan %s not removed error=%s, ignoring",
			    (const char *)userdata, strerror(-resp->error));
}

/* Deletes a channel or bridge of ours that nothing owns any more; kind is
 * "channels" or "bridges" (a static string). */
void calls__delete_orphan(struct calls *calls, const char *kind, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/%s/%s", kind, id);
	ari_rest_request(calls->rest, "DELETE", path, NULL, on_orphan_gone,
			 (void *)kind);
}

int calls__request(struct call *call, const char *method, const char *path,
		   const json_t *body, ari_rest_cb cb)
{
	int r = ari_rest_request(call->calls->rest, method, path, body,
				 cb ? cb : on_side_reply, calls__ref(call));

	if (r < 0) {
		calls__unref(call);
		log_warning("call=%s %s %s not sent error=%s",
			    call->cdr.call_id, method, path, strerror(-r));
	}
	return r;
}

static bool has_holders(const struct call *call)
{
	for (unsigned i = 0; i < call->nlegs; i++)
		if (call->legs[i]->holds && call->legs[i]->state != LEG_GONE)
			return true;
	return false;
}

unsigned calls__ringing(const struct call *call, const struct leg *except)
{
	unsigned n = 0;

	for (unsigned i = 0; i < call->nlegs; i++) {
		const struct leg *leg = call->legs[i];

		n += leg != except && leg->role == LEG_AGENT && !leg->settled;
	}
	return n;
}

/* The machine ------------------------------------------------------------ */

static void run_actions(struct call *call, uint32_t actions,
			const struct call_event *ev);
static call_enter_fn entry_of(const struct call *call, enum call_state state);

/* Takes the next waiting input, if any, into *ret_input and *ret_ev (the
 * caller drops the leg reference it carries). */
static bool next_pending(struct call *call, enum call_input *ret_input,
			 struct call_event *ret_ev)
{
	if (call->npending == 0)
		return false;
	*ret_input = call->pending[0].input;
	*ret_ev = call->pending[0].ev;
	memmove(&call->pending[0], &call->pending[1],
		(call->npending - 1) * sizeof(call->pending[0]));
	call->npending--;
	return true;
}

static void defer(struct call *call, enum call_input input,
		  const struct call_event *ev)
{
	struct call_event copy = {0};

	if (call->npending == CALL_MAX_PENDING) {
		log_error("call=%s input=%s dropped: %d inputs waiting",
			  call->cdr.call_id, calls_input_name(input),
			  CALL_MAX_PENDING);
		return;
	}
	if (ev)
		copy = *ev;
	if (copy.leg)
		calls__leg_ref(copy.leg);
	call->pending[call->npending].input = input;
	call->pending[call->npending++].ev = copy;
}

static void set_deadline(struct call *call, enum call_state state)
{
	unsigned timeout = calls_state_retry_ms(call->machine->direction, state,
						call->retries);

	call->deadline_ms = timeout ? calls__now_ms(call->calls) + timeout : 0;
}

/* Runs the entry of state; returns the input it leads to. */
static enum call_input enter(struct call *call, enum call_state state,
			     bool again)
{
	call_enter_fn fn = entry_of(call, state);

	call->retries = again ? call->retries + 1 : 0;
	set_deadline(call, state);
	return fn ? fn(call) : CALL_INPUT_NONE;
}

/* One transition; returns the input the new state's entry leads to. */
static enum call_input step(struct call *call, enum call_input input,
			    const struct call_event *ev)
{
	enum call_state from = call->state;
	struct call_transition t =
	    calls_state_step(call->machine->direction, from, input);

	if (t.next == from && t.actions == 0)
		return CALL_INPUT_NONE;
	log_debug("call=%s %s --%s--> %s actions=%#x", call->cdr.call_id,
		  calls_state_name(from), calls_input_name(input),
		  calls_state_name(t.next), t.actions);
	call->state = t.next;
	run_actions(call, t.actions, ev);
	if (t.next == from && !(t.actions & CALL_DO(REENTER)))
		return CALL_INPUT_NONE;
	return enter(call, t.next, t.next == from);
}

void calls__input(struct call *call, enum call_input input,
		  const struct call_event *ev)
{
	struct call_event pending_ev = {0};

	if (call->running) {
		defer(call, input, ev);
		return;
	}
	calls__ref(call);
	call->running = true;
	for (;;) {
		while (input != CALL_INPUT_NONE) {
			input = step(call, input, ev);
			ev = NULL;
		}
		if (pending_ev.leg)
			calls__leg_unref(pending_ev.leg);
		pending_ev.leg = NULL;
		if (!next_pending(call, &input, &pending_ev))
			break;
		ev = &pending_ev;
	}
	call->running = false;
	calls__unref(call);
}

void calls__start(struct call *call, enum call_state state)
{
	enum call_input next;

	calls__ref(call);
	call->state = state;
	call->running = true;
	next = enter(call, state, false);
	call->running = false;
	if (next != CALL_INPUT_NONE || call->npending)
		calls__input(call, next, NULL);
	calls__unref(call);
}

/* Legs ------------------------------------------------------------------- */

void calls__leg_ref(struct leg *leg)
{
	leg->refs++;
}

static void detach(struct call *call, struct leg *leg)
{
	for (unsigned i = 0; i < call->nlegs; i++) {
		if (call->legs[i] == leg) {
			call->legs[i] = call->legs[--call->nlegs];
			break;
		}
	}
	if (call->winner == leg)
		call->winner = NULL;
	if (call->peer == leg)
		call->peer = NULL;
}

void calls__leg_unref(struct leg *leg)
{
	struct call *call = leg->call;

	if (--leg->refs > 0)
		return;
	detach(call, leg);
	free(leg->connected);
	free(leg);
	calls__unref(call);
}

struct leg *calls__leg_add(struct call *call, enum leg_role role,
			   const char *id)
{
	struct leg *leg;

	/* The last slot is the recorder's: offers and supervisors cannot
	 * leave a talk unrecorded. */
	if (call->nlegs + (role == LEG_RECORDER ? 0 : 1) >= CALL_MAX_LEGS ||
	    strlen(id) >= CALL_MAX_ID ||
	    strmap_get(call->calls->by_channel, id))
		return NULL;
	leg = calloc(1, sizeof(*leg));
	if (!leg)
		return NULL;
	snprintf(leg->id, sizeof(leg->id), "%s", id);
	if (strmap_put(call->calls->by_channel, leg->id, leg) < 0) {
		free(leg);
		return NULL;
	}
	leg->call = calls__ref(call);
	leg->role = role;
	leg->ready = true;
	leg->refs = 1; /* the map's */
	call->legs[call->nlegs++] = leg;
	return leg;
}

/* Takes the leg out of the channel map: it has left, or never came. */
static void leg_gone(struct leg *leg)
{
	struct calls *calls = leg->call->calls;

	leg->state = LEG_GONE;
	if (strmap_get(calls->by_channel, leg->id) == leg) {
		strmap_remove(calls->by_channel, leg->id);
		calls__leg_unref(leg);
	}
}

static int leg_request(struct leg *leg, const char *method, const char *path,
		       const json_t *body, ari_rest_cb cb)
{
	int r;

	calls__leg_ref(leg);
	r = ari_rest_request(leg->call->calls->rest, method, path, body, cb,
			     leg);
	if (r < 0) {
		log_warning("call=%s leg=%s %s %s not sent error=%s",
			    leg->call->cdr.call_id, leg->id, method, path,
			    strerror(-r));
		calls__leg_unref(leg);
	}
	return r;
}

static void settle(struct leg *leg, enum agents_input input)
{
	if (leg->settled || !leg->agent)
		return;
	leg->settled = true;
	agents_input(leg->call->calls->agents, leg->agent, input, "no_answer",
		     0);
}

static enum agents_input offer_outcome(const struct campaign *c,
				       const struct agent *agent,
				       bool no_answer)
{
	if (!no_answer)
		return AGENTS_INPUT_CANCEL;
	if (c && c->max_no_answer &&
	    agent->no_answer_streak >= c->max_no_answer)
		return AGENTS_INPUT_NO_ANSWER_MAX;
	return AGENTS_INPUT_NO_ANSWER;
}

/* Dial statuses that end a leg unanswered, with the Q.850 cause each
 * stands for; 0 for the others (RINGING, PROGRESS, ...). */
static int failed_status_cause(const char *status)
{
	static const struct {
		const char *status;
		int cause;
	} table[] = {
	    {"BUSY", 17},        {"NOANSWER", 19}, {"CONGESTION", 34},
	    {"CHANUNAVAIL", 27}, {"CANCEL", 19},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
		if (strcmp(status, table[i].status) == 0)
			return table[i].cause;
	return 0;
}

/* The leg ended unanswered: an agent's offer failed, or the customer's
 * leg did. */
static bool is_side(const struct leg *leg)
{
	return leg->role == LEG_SUPERVISOR || leg->role == LEG_SNOOP ||
	       leg->role == LEG_RECORDER;
}

static void recorder_event(struct leg *leg, enum side_event ev);

/* A side leg's news goes to the recorder's or the supervisions, never to
 * the machine. */
static void side(struct leg *leg, enum side_event ev)
{
	if (leg->role == LEG_RECORDER)
		recorder_event(leg, ev);
	else if (leg->call->calls->side_leg)
		leg->call->calls->side_leg(leg, ev);
}

static void leg_failed(struct leg *leg, const char *status, int cause)
{
	struct call_event ev = {leg, status, cause};

	if (is_side(leg)) {
		side(leg, SIDE_FAILED);
		return;
	}

	calls__input(leg->call,
		     leg->role == LEG_CUSTOMER ? CALL_INPUT_CUSTOMER_FAILED
					       : CALL_INPUT_AGENT_FAILED,
		     &ev);
}

/* The create request failed: the leg never was. The agent's leg of an
 * outbound call is the call itself: it fails. */
static void leg_not_created(struct leg *leg)
{
	struct call_event ev = {leg, "CHANUNAVAIL", 38};

	calls__leg_ref(leg);
	leg_gone(leg);
	if (is_side(leg))
		side(leg, SIDE_FAILED);
	else if (leg->role == LEG_AGENT && leg->holds)
		calls__input(leg->call, CALL_INPUT_FAILED, &ev);
	else
		leg_failed(leg, "CHANUNAVAIL", 38);
	calls__leg_unref(leg);
}

static void on_dialed(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;
	bool failed = resp->error < 0 && resp->error != -ECANCELED &&
		      !leg->settled && leg->state == LEG_DIALING;

	if (failed && resp->error == -ECONNABORTED) {
		/* The phone may be ringing: failing the offer would hang up
		 * on it and count the agent unreachable for a blip. */
		leg->dial_unsure = true;
		log_notice("call=%s leg=%s dial's answer lost with the events "
			   "socket: the resync tells",
			   leg->call->cdr.call_id, leg->id);
	} else if (failed) {
		leg_failed(leg, "CHANUNAVAIL", 27);
	}
	calls__leg_unref(leg);
}

static void set_connected(struct leg *leg);

/* Rings the leg once it exists and is in Stasis, in either order, after
 * setting its connected line when it has one. */
static void try_dial(struct leg *leg)
{
	struct call *call = leg->call;
	char path[512];

	if (!leg->created || !leg->in_stasis || leg->state != LEG_CREATING)
		return;
	if (!leg->ready) {
		if (!leg->preparing) {
			leg->preparing = true;
			set_connected(leg);
		}
		return;
	}
	leg->state = LEG_DIALING;
	if (leg->dial_with_caller && call->peer)
		snprintf(path, sizeof(path),
			 "/channels/%s/dial?caller=%s&timeout=%u", leg->id,
			 call->peer->id, leg->ring_s);
	else
		snprintf(path, sizeof(path), "/channels/%s/dial?timeout=%u",
			 leg->id, leg->ring_s);
	if (leg_request(leg, "POST", path, NULL, on_dialed) < 0)
		leg_failed(leg, "CHANUNAVAIL", 27);
}

static void on_connected(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;

	if (resp->error != -ECANCELED) {
		if (resp->error < 0)
			log_warning("call=%s leg=%s connected line not set "
				    "error=%s",
				    leg->call->cdr.call_id, leg->id,
				    strerror(-resp->error));
		leg->ready = true;
		try_dial(leg);
	}
	calls__leg_unref(leg);
}

/* chan_pjsip builds an outgoing INVITE's From from the channel's connected
 * line (which Dial() would set from its caller), so it is set before the
 * dial; channels/create takes no caller id. It is set once the channel is
 * in Stasis: set between its creation and its StasisStart, it was lost now
 * and then (the trunk saw "Anonymous"). */
static void set_connected(struct leg *leg)
{
	char path[512], *value = NULL, all[128];

	snprintf(all, sizeof(all), "\"%s\" <%s>", leg->connected,
		 leg->connected);
	if (ari_rest_escape(all, &value) == 0) {
		snprintf(path, sizeof(path),
			 "/channels/%s/"
			 "variable?variable=CONNECTEDLINE(all)&value=%s",
			 leg->id, value);
		free(value);
		if (leg_request(leg, "POST", path, NULL, on_connected) == 0)
			return;
	}
	leg->ready = true;
	try_dial(leg);
}

static void send_hangup(struct leg *leg);

void calls__leg_created(struct leg *leg)
{
	leg->created = true;
	if (leg->state == LEG_ENDING) /* hung up while being created */
		send_hangup(leg);
	else
		try_dial(leg);
}

static void on_created(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;

	if (resp->error == -ECANCELED)
		goto out;
	if (resp->error < 0) {
		log_warning("call=%s leg=%s not created error=%s",
			    leg->call->cdr.call_id, leg->id,
			    strerror(-resp->error));
		if (leg->state != LEG_GONE)
			leg_not_created(leg);
		goto out;
	}
	calls__leg_created(leg);
out:
	calls__leg_unref(leg);
}

int calls__leg_originate(struct leg *leg, const char *endpoint,
			 const char *app_args, const json_t *body)
{
	struct call *call = leg->call;
	char path[1024];
	int r;

	leg->ready = !leg->connected;
	snprintf(path, sizeof(path),
		 "/channels/create?endpoint=%s&app=%s&appArgs=%s&channelId=%s",
		 endpoint, call->calls->app, app_args, leg->id);
	calls__leg_ref(leg);
	r = leg_request(leg, "POST", path, body, on_created);
	if (r < 0)
		leg_not_created(leg);
	calls__leg_unref(leg);
	return r;
}

int calls__leg_ring_phone(struct leg *leg, const char *sip_username,
			  const char *kind, const char *arg, const char *shown)
{
	char endpoint[128], args[CALL_MAX_ID + 64];
	json_t *body;
	int r;

	snprintf(endpoint, sizeof(endpoint), "PJSIP/%s", sip_username);
	snprintf(args, sizeof(args), "%s,%s", kind, arg);
	body = json_pack("{s:{s:s}}", "variables", "CALLERID(num)",
			 shown ? shown : "");
	r = calls__leg_originate(leg, endpoint, args, body);
	json_decref(body);
	return r;
}

void calls__leg_in_stasis(struct leg *leg)
{
	leg->in_stasis = true;
	if (is_side(leg))
		side(leg, SIDE_IN_STASIS);
	try_dial(leg);
}

static void on_hung_up(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;

	/* "Already gone" is success: StasisEnd may have raced the reply, or
	 * been lost. Other failures leave the leg ending; the call's timeout
	 * in HANGING_UP sends the hangup again. */
	if (resp->error == -ENOENT && leg->state != LEG_GONE)
		calls__leg_left(leg, 0);
	else if (resp->error < 0 && resp->error != -ENOENT &&
		 resp->error != -ECANCELED)
		log_warning("call=%s leg=%s hangup failed error=%s",
			    leg->call->cdr.call_id, leg->id,
			    strerror(-resp->error));
	calls__leg_unref(leg);
}

static void send_hangup(struct leg *leg)
{
	char path[256];

	snprintf(path, sizeof(path), "/channels/%s?reason_code=16", leg->id);
	leg_request(leg, "DELETE", path, NULL, on_hung_up);
}

void calls__leg_hang_up(struct leg *leg)
{
	if (leg->state == LEG_ENDING || leg->state == LEG_GONE)
		return;
	leg->state = LEG_ENDING;
	/* Not created yet: when the create answers, it is hung up there. */
	if (leg->created)
		send_hangup(leg);
}

void calls__leg_dial(struct leg *leg, const char *status)
{
	struct call_event ev = {leg, status, 0};

	if (!status || !*status || leg->state == LEG_GONE)
		return;
	if (is_side(leg)) {
		if (strcmp(status, "ANSWER") == 0)
			side(leg, SIDE_ANSWERED);
		else if (failed_status_cause(status))
			side(leg, SIDE_FAILED);
		return;
	}
	if (leg->settled)
		return;
	if (strcmp(status, "ANSWER") == 0) {
		calls__input(leg->call,
			     leg->role == LEG_CUSTOMER
				 ? CALL_INPUT_CUSTOMER_ANSWERED
				 : CALL_INPUT_AGENT_ANSWERED,
			     &ev);
		return;
	}
	ev.cause = failed_status_cause(status);
	if (ev.cause)
		leg_failed(leg, status, ev.cause);
}

void calls__leg_left(struct leg *leg, int cause)
{
	struct call *call = leg->call;
	struct call_event ev = {leg, NULL, cause};
	bool unsettled = leg->role == LEG_AGENT && !leg->settled;

	if (leg->state == LEG_GONE)
		return;
	calls__leg_ref(leg);
	leg_gone(leg);
	if (is_side(leg)) {
		side(leg, SIDE_LEFT);
		calls__leg_unref(leg);
		return;
	}
	if (!cause)
		cause = ev.cause = leg->cause;
	if (leg->holds && cause && !call->cause)
		call->cause = cause;
	/* Gone without a Dial status: a ring-out (/dial's timeout sends
	 * none), or a phone that was busy or unreachable. StasisEnd carries
	 * no cause; the hangup request before it did. */
	if (unsettled)
		leg_failed(leg,
			   call->end_reason ? "CANCEL"
			   : cause == 17    ? "BUSY"
					    : "NOANSWER",
			   cause);
	if (leg->holds && !has_holders(call)) {
		calls__input(call, CALL_INPUT_LEFT, &ev);
	} else if (leg->role == LEG_AGENT && leg == call->winner) {
		calls__input(call, CALL_INPUT_AGENT_LEFT, &ev);
	} else if (leg->role == LEG_CUSTOMER) {
		ev.cause = cause ? cause : call->cause;
		calls__input(call, CALL_INPUT_CUSTOMER_LEFT, &ev);
	}
	calls__leg_unref(leg);
}

void calls__leg_hangup_request(struct leg *leg, int cause)
{
	struct call *call = leg->call;

	if (cause && !leg->cause)
		leg->cause = cause;
	if (!leg->holds)
		return;
	if (cause && !call->cause)
		call->cause = cause;
	/* A hangup request on the caller before ours is the caller's. */
	if (leg->role == LEG_CALLER && !call->hangup_by &&
	    call->state != CALL_STATE_HANGING_UP)
		call->hangup_by = "caller";
}

void calls__lost(struct call *call, const char *reason)
{
	/* A call already ending keeps who ended it. */
	if (call->end_reason || call->hangup_by)
		return;
	call->end_reason = reason;
	call->hangup_by = "system";
	log_notice("call=%s lost reason=%s", call->cdr.call_id, reason);
}

int calls__leg_rekey(struct leg *leg, const char *new_id)
{
	struct calls *calls = leg->call->calls;

	if (strlen(new_id) >= CALL_MAX_ID ||
	    strmap_get(calls->by_channel, new_id))
		return -EEXIST;
	if (strmap_remove(calls->by_channel, leg->id) != leg)
		return -ENOENT;
	log_info("call=%s leg=%s replaced by channel=%s",
		 leg->call->cdr.call_id, leg->id, new_id);
	snprintf(leg->id, sizeof(leg->id), "%s", new_id);
	if (strmap_put(calls->by_channel, leg->id, leg) < 0) {
		leg->state = LEG_GONE;
		calls__leg_unref(leg);
		return -ENOMEM;
	}
	/* The record names the caller's channel as it is now. */
	if (leg == leg->call->peer && leg->role == LEG_CALLER) {
		free(leg->call->cdr.caller_channel_id);
		leg->call->cdr.caller_channel_id = strdup(new_id);
	}
	return 0;
}

/* Actions ---------------------------------------------------------------- */

static void set_by(struct call *call, const char *who)
{
	if (!call->hangup_by)
		call->hangup_by = who;
}

static void act_by_caller(struct call *call, const struct call_event *ev)
{
	(void)ev;
	set_by(call, "caller");
}

static void act_by_agent(struct call *call, const struct call_event *ev)
{
	(void)ev;
	set_by(call, "agent");
}

static void act_by_system(struct call *call, const struct call_event *ev)
{
	(void)ev;
	set_by(call, "system");
}

static void act_cause(struct call *call, const struct call_event *ev)
{
	if (ev && ev->cause && !call->cause)
		call->cause = ev->cause;
}

static void act_cause_19(struct call *call, const struct call_event *ev)
{
	(void)ev;
	if (!call->cause)
		call->cause = 19;
}

/* Two answered at once (ringall), or the call moved on: exactly one agent
 * gets the caller; this one is hung up cleanly. */
static void act_late(struct call *call, const struct call_event *ev)
{
	struct leg *leg = ev ? ev->leg : NULL;

	if (!leg || leg->settled)
		return;
	log_notice("call=%s agent=%lld answered too late, hanging up",
		   call->cdr.call_id,
		   leg->agent ? (long long)leg->agent->id : 0LL);
	calls__leg_hang_up(leg);
	settle(leg, AGENTS_INPUT_CANCEL);
}

void calls__act_win(struct call *call, const struct call_event *ev)
{
	struct leg *leg = ev->leg;

	call->winner = leg;
	leg->state = LEG_UP;
	leg->settled = true;
	leg->agent->no_answer_streak = 0;
	agents_input(call->calls->agents, leg->agent, AGENTS_INPUT_ANSWER, NULL,
		     0);
	call->cdr.agent_id = leg->agent->id;
	free(call->cdr.agent_channel_id);
	call->cdr.agent_channel_id = strdup(leg->id);
}

/* The offer of ev's leg ended unanswered: the leg goes, and the agent
 * learns it (a ring-out counts toward the campaign's auto-pause; busy or
 * unreachable is not the agent's doing). */
static void act_missed(struct call *call, const struct call_event *ev)
{
	struct leg *leg = ev ? ev->leg : NULL;
	struct agent *agent;
	bool no_answer;

	if (!leg || leg->settled || !leg->agent)
		return;
	agent = leg->agent;
	no_answer = ev->status && strcmp(ev->status, "NOANSWER") == 0;
	calls__leg_hang_up(leg);
	if (ev->status && strcmp(ev->status, "CHANUNAVAIL") == 0 &&
	    agent->sip_username)
		agents_set_reachable(call->calls->agents, agent->sip_username,
				     false);
	if (no_answer)
		agent->no_answer_streak++;
	log_info("call=%s agent=%lld offer ended status=%s streak=%u",
		 call->cdr.call_id, (long long)agent->id,
		 ev->status ? ev->status : "", agent->no_answer_streak);
	settle(leg, offer_outcome(call->campaign, agent, no_answer));
}

static void act_cancel_offers(struct call *call, const struct call_event *ev)
{
	struct leg *ringing[CALL_MAX_LEGS];
	unsigned n = 0;

	(void)ev;
	/* Collect first: settling frees agents, whose dispatch may add legs
	 * to other calls (never to this one: it left the queue). */
	for (unsigned i = 0; i < call->nlegs; i++) {
		struct leg *leg = call->legs[i];

		if (leg->role == LEG_AGENT && !leg->settled &&
		    leg != call->winner) {
			calls__leg_ref(leg);
			ringing[n++] = leg;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		calls__leg_hang_up(ringing[i]);
		settle(ringing[i], AGENTS_INPUT_CANCEL);
		calls__leg_unref(ringing[i]);
	}
}

/* The talk is over: the agent's leg is hung up and the agent goes to
 * after-call work; the bridge goes. The recorder is not hung up: the
 * talk ends with the peer gone or being hung up (HANGING_UP), and a snoop
 * goes with the channel it snoops on; a transfer hangs it up before the
 * caller moves on (service.c). */
static void act_end_talk(struct call *call, const struct call_event *ev)
{
	struct leg *leg = call->winner;
	char path[512];

	(void)ev;
	if (call->calls->talk_ended)
		call->calls->talk_ended(call);
	if (leg) {
		calls__leg_hang_up(leg);
		if (leg->agent && leg->settled)
			agents_input(call->calls->agents, leg->agent,
				     AGENTS_INPUT_CALL_END, NULL,
				     call->campaign ? call->campaign->wrapup_s
						    : 0);
		call->winner = NULL;
	}
	if (call->bridge_id[0]) {
		snprintf(path, sizeof(path), "/bridges/%s", call->bridge_id);
		calls__request(call, "DELETE", path, NULL, NULL);
		call->bridge_id[0] = '\0';
	}
}

/* Retry and leaving the queue are the queue's; the customer's are
 * outbound's; REENTER is the machine's own. */
static const call_action_fn generic_actions[CALL_ACT__COUNT] = {
    [CALL_ACT_BY_CALLER] = act_by_caller,
    [CALL_ACT_BY_AGENT] = act_by_agent,
    [CALL_ACT_BY_SYSTEM] = act_by_system,
    [CALL_ACT_CAUSE] = act_cause,
    [CALL_ACT_CAUSE_19] = act_cause_19,
    [CALL_ACT_LATE] = act_late,
    [CALL_ACT_WIN] = calls__act_win,
    [CALL_ACT_MISSED] = act_missed,
    [CALL_ACT_CANCEL_OFFERS] = act_cancel_offers,
    [CALL_ACT_END_TALK] = act_end_talk,
};

static void run_actions(struct call *call, uint32_t actions,
			const struct call_event *ev)
{
	for (unsigned i = 0; i < CALL_ACT__COUNT; i++) {
		call_action_fn fn;

		if (!(actions & (1u << i)) || i == CALL_ACT_REENTER)
			continue;
		fn = call->machine->act[i] ? call->machine->act[i]
					   : generic_actions[i];
		if (fn)
			fn(call, ev);
		else
			log_error("call=%s action=%s has no handler",
				  call->cdr.call_id,
				  calls_action_name((enum call_action)i));
	}
}

/* Entries ---------------------------------------------------------------- */

/* A 409 says a recording of that name runs: the recorder taken over
 * records on. An answer lost with the events socket leaves it to the
 * resync to ask again. */
static void on_recorder_recording(const struct ari_response *resp,
				  void *userdata)
{
	struct leg *rec = userdata;
	const char *id = rec->call->cdr.call_id;

	if (resp->error == -EEXIST) {
		log_info("call=%s recorder=%s records on", id, rec->id);
	} else if (resp->error == -ECONNABORTED) {
		rec->recording = false;
		log_notice("call=%s recorder=%s recording's answer lost with "
			   "the events socket: the resync asks again",
			   id, rec->id);
	} else if (resp->error < 0 && resp->error != -ECANCELED) {
		log_warning("call=%s recorder=%s recording not started "
			    "error=%s http=%ld",
			    id, rec->id, strerror(-resp->error),
			    resp->http_status);
	}
	calls__leg_unref(rec);
}

/* The recording is asked for once the recorder exists and is in Stasis
 * (a channel not yet in Stasis cannot be recorded), in either order. */
static void try_record(struct leg *rec)
{
	struct call *call = rec->call;
	char path[512];

	if (!rec->created || !rec->in_stasis || rec->recording ||
	    rec->state != LEG_UP)
		return;
	rec->recording = true;
	snprintf(path, sizeof(path),
		 "/channels/%s/record?name=%s&format=wav&ifExists=%s"
		 "&terminateOn=none&beep=false",
		 rec->id, call->cdr.call_id, call->record_if_exists);
	if (leg_request(rec, "POST", path, NULL, on_recorder_recording) < 0)
		rec->recording = false;
}

/* A recorder that leaves while both sides still talk was hung up by
 * someone else: what follows is not recorded (Asterisk hangs it up itself
 * once the peer hangs up, after the peer's hangup request). */
static void recorder_event(struct leg *leg, enum side_event ev)
{
	struct call *call = leg->call;
	const struct leg *peer = call->peer;

	if (ev == SIDE_IN_STASIS)
		try_record(leg);
	else if (ev == SIDE_LEFT && call->state == CALL_STATE_TALKING && peer &&
		 peer->state != LEG_GONE && !peer->cause)
		log_warning("call=%s recorder=%s gone while talking: the "
			    "recording stops",
			    call->cdr.call_id, leg->id);
}

/* The snoop's creation failed: the call talks on unrecorded. One that
 * entered Stasis all the same goes as an orphan; one whose answer went
 * with the events socket is for the resync to find and take over. */
static void recorder_not_made(struct leg *rec, const struct ari_response *resp)
{
	const char *id = rec->call->cdr.call_id;

	if (resp->error == -ECONNABORTED) {
		log_notice("call=%s recorder=%s answer lost with the events "
			   "socket: the resync looks for it",
			   id, rec->id);
	} else {
		log_warning("call=%s recorder=%s not made error=%s http=%ld: "
			    "not recorded",
			    id, rec->id, strerror(-resp->error),
			    resp->http_status);
		if (rec->in_stasis)
			calls__delete_orphan(rec->call->calls, "channels",
					     rec->id);
	}
	leg_not_created(rec);
}

/* The snoop's creation answered (it may enter Stasis before or after). */
static void on_recorder_made(const struct ari_response *resp, void *userdata)
{
	struct leg *rec = userdata;

	if (resp->error != -ECANCELED && rec->state != LEG_GONE) {
		if (resp->error < 0) {
			recorder_not_made(rec, resp);
		} else {
			calls__leg_created(rec);
			try_record(rec);
		}
	}
	calls__leg_unref(rec);
}

/* The record names the recording the API serves. */
static void name_recording(struct call *call, const char *if_exists)
{
	char path[512];

	call->record_if_exists = if_exists;
	snprintf(path, sizeof(path), "/api/v1/calls/%s/recording",
		 call->cdr.call_id);
	free(call->cdr.recording_url);
	call->cdr.recording_url = strdup(path);
}

/* A recorder of the call that no leg held (an earlier process's, or one
 * whose creation's answer was lost) goes on: asked to record again,
 * appending, it answers 409 while its recording runs, and starts again
 * should it have stopped. */
static void record_take_over(struct call *call, const char *id)
{
	struct leg *rec = calls__leg_take_over(call, LEG_RECORDER, id, false);

	name_recording(call, "append");
	if (!rec) {
		log_error("call=%s recorder=%s cannot be taken over: out of "
			  "memory",
			  call->cdr.call_id, id);
		return;
	}
	rec->settled = true;
	log_notice("call=%s recorder=%s taken over", call->cdr.call_id, id);
	try_record(rec);
}

struct leg *calls__recorder(const struct call *call)
{
	for (unsigned i = 0; i < call->nlegs; i++) {
		struct leg *leg = call->legs[i];

		if (leg->role == LEG_RECORDER && leg->state == LEG_UP)
			return leg;
	}
	return NULL;
}

void calls__record_resume(struct call *call, const char *recorder_id)
{
	struct leg *rec = calls__recorder(call);

	if (rec) {
		call->record_if_exists = "append";
		try_record(rec); /* once made and in Stasis, if not asked */
	} else if (recorder_id) {
		record_take_over(call, recorder_id);
	} else {
		log_notice("call=%s no recorder left: a new one appends",
			   call->cdr.call_id);
		calls__record(call, "append");
	}
}

void calls__discard(struct call *call)
{
	log_error("call=%s cannot be set up: out of memory", call->cdr.call_id);
	call->state = CALL_STATE_GONE;
	strmap_remove(call->calls->by_id, call->cdr.call_id);
	calls__unref(call);
}

struct leg *calls__leg_take_over(struct call *call, enum leg_role role,
				 const char *id, bool holds)
{
	struct leg *leg = calls__leg_add(call, role, id);

	if (!leg)
		return NULL;
	leg->holds = holds;
	leg->created = true;
	leg->in_stasis = true;
	leg->state = LEG_UP;
	return leg;
}

int calls__take_over(struct call *call, const struct calls_talking *t,
		     enum leg_role peer_role, bool agent_holds)
{
	struct calls *calls = call->calls;
	struct leg *peer =
	    calls__leg_take_over(call, peer_role, t->peer_id, true);
	struct leg *leg =
	    peer ? calls__leg_take_over(call, LEG_AGENT, t->agent_leg_id,
					agent_holds)
		 : NULL;

	if (!leg)
		return -ENOMEM;
	call->peer = peer;
	leg->agent = t->agent;
	leg->settled = true; /* the agent knows how the offer ended */
	call->winner = leg;
	call->cdr.agent_id = t->agent->id;
	free(call->cdr.agent_channel_id);
	call->cdr.agent_channel_id = strdup(t->agent_leg_id);
	snprintf(call->bridge_id, sizeof(call->bridge_id), "%s", t->bridge_id);
	call->campaign = t->campaign;
	if (t->campaign)
		call->cdr.campaign_id = t->campaign->id;
	/* Answered before: the record's own answer time stays (writer.c). */
	call->cdr.answer_us = cdr_now_us();
	calls__record_resume(call, t->recorder_id);
	agents_set_call(t->agent, call->cdr.call_id);
	agents_input(calls->agents, t->agent, AGENTS_INPUT_OFFER, NULL, 0);
	agents_input(calls->agents, t->agent, AGENTS_INPUT_ANSWER, NULL, 0);
	/* Entered as it is: TALKING's entry would record anew. */
	call->state = CALL_STATE_TALKING;
	log_notice("call=%s adopted talking agent=%lld leg=%s bridge=%s",
		   call->cdr.call_id, (long long)t->agent->id, t->agent_leg_id,
		   t->bridge_id);
	calls__write_cdr(call);
	return 0;
}

void calls__record(struct call *call, const char *if_exists)
{
	struct leg *rec;
	char id[IDS_MAX], path[512];

	name_recording(call, if_exists);
	if (!call->peer || call->peer->state == LEG_GONE)
		return;
	if (ids_new(id, sizeof(id), "rec") < 0 ||
	    !(rec = calls__leg_add(call, LEG_RECORDER, id))) {
		log_error("call=%s not recorded: out of memory or legs",
			  call->cdr.call_id);
		return;
	}
	rec->state = LEG_UP; /* never dialed */
	rec->settled = true;
	snprintf(path, sizeof(path),
		 "/channels/%s/snoop?spy=both&app=%s&appArgs=record,%s"
		 "&snoopId=%s",
		 call->peer->id, call->calls->app, call->cdr.call_id, id);
	calls__leg_ref(rec);
	if (leg_request(rec, "POST", path, NULL, on_recorder_made) < 0)
		leg_not_created(rec);
	calls__leg_unref(rec);
}

/* Both sides talk: the call is recorded as <call id>.wav. */
static enum call_input enter_talking(struct call *call)
{
	calls__record(call, "overwrite");
	calls__write_cdr(call);
	return CALL_INPUT_NONE;
}

static void connect_failed(struct call *call, const struct ari_response *resp)
{
	struct call_event ev = {NULL, NULL, 38};

	log_warning("call=%s bridge not set up error=%s http=%ld",
		    call->cdr.call_id, strerror(-resp->error),
		    resp->http_status);
	calls__input(call, CALL_INPUT_FAILED, &ev);
}

static void on_added(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error != -ECANCELED && call->state == CALL_STATE_CONNECTING) {
		if (resp->error == 0)
			calls__input(call, CALL_INPUT_BRIDGED, NULL);
		else
			connect_failed(call, resp);
	}
	calls__unref(call);
}

static void on_bridge(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;
	/* The caller (or the agent placing the call) first. */
	struct leg *first = call->machine->direction == CALL_INBOUND
				? call->peer
				: call->winner;
	struct leg *second = first == call->peer ? call->winner : call->peer;
	char path[512];

	if (resp->error != -ECANCELED && call->state == CALL_STATE_CONNECTING) {
		if (resp->error < 0 || !first || !second) {
			connect_failed(call, resp);
		} else {
			snprintf(path, sizeof(path),
				 "/bridges/%s/addChannel?channel=%s,%s",
				 call->bridge_id, first->id, second->id);
			if (calls__request(call, "POST", path, NULL, on_added) <
			    0)
				connect_failed(call, resp);
		}
	}
	calls__unref(call);
}

/* The agent and the other side meet in a mixing bridge of ours. */
static enum call_input enter_connecting(struct call *call)
{
	char path[512];

	if (ids_new(call->bridge_id, sizeof(call->bridge_id), "br") < 0)
		return CALL_INPUT_FAILED;
	free(call->cdr.bridge_id);
	call->cdr.bridge_id = strdup(call->bridge_id);
	snprintf(path, sizeof(path), "/bridges/%s?type=mixing&name=%s",
		 call->bridge_id, call->cdr.call_id);
	if (calls__request(call, "POST", path, NULL, on_bridge) < 0)
		return CALL_INPUT_FAILED;
	return CALL_INPUT_NONE;
}

/* Every leg still up is hung up; the call ends once the legs that hold it
 * are gone. Entered again after a timeout, the hangups are sent again. The
 * recorder goes with the peer it snoops on, hung up here too. */
static enum call_input enter_hanging_up(struct call *call)
{
	struct leg *up[CALL_MAX_LEGS];
	unsigned n = 0;

	if (!call->hangup_by)
		call->hangup_by = "system";
	for (unsigned i = 0; i < call->nlegs; i++) {
		struct leg *leg = call->legs[i];

		if (leg->state == LEG_GONE ||
		    (leg->state == LEG_ENDING && !call->retries) ||
		    (leg->role == LEG_RECORDER && call->peer))
			continue;
		calls__leg_ref(leg);
		up[n++] = leg;
	}
	for (unsigned i = 0; i < n; i++) {
		if (up[i]->state == LEG_ENDING && up[i]->created)
			send_hangup(up[i]);
		else
			calls__leg_hang_up(up[i]);
		calls__leg_unref(up[i]);
	}
	return has_holders(call) ? CALL_INPUT_NONE : CALL_INPUT_LEFT;
}

void calls__place_expect(struct call *call)
{
	struct calls *calls = call->calls;

	if (call->q.place_pending || !calls->db)
		return;
	call->q.place_pending = true;
	calls->places_pending++;
	calls->places_deadline_ms = calls__now_ms(calls) + CALLS_PLACES_WAIT_MS;
}

void calls__place_settled(struct call *call)
{
	struct calls *calls = call->calls;

	if (!call->q.place_pending)
		return;
	call->q.place_pending = false;
	if (calls->places_pending > 0)
		calls->places_pending--;
}

/* The call is over: its record is complete, the feed hears of it, and the
 * registry lets it go (legs still leaving keep it until they have). */
enum call_input calls__enter_gone(struct call *call)
{
	struct calls *calls = call->calls;
	struct cdr *cdr = &call->cdr;

	if (strmap_get(calls->by_id, cdr->call_id) != call)
		return CALL_INPUT_NONE;
	strmap_remove(calls->by_id, cdr->call_id);
	calls->handled++;
	calls__place_settled(call); /* an adopted caller who left first */
	if (calls->talk_ended)
		calls->talk_ended(call);
	call->deadline_ms = 0;
	cdr_finish(cdr, cdr_now_us(), call->cause, call->end_reason,
		   call->hangup_by ? call->hangup_by : "system");
	/* What the agent was told is what the record says. */
	if (!cdr->answer_us && call->failure)
		cdr->disposition = call->failure;
	calls__write_cdr(call);
	log_info("call=%s ended direction=%s caller=%s callee=%s by=%s "
		 "cause=%d disposition=%s",
		 cdr->call_id, cdr->direction,
		 cdr->caller_number ? cdr->caller_number : "",
		 cdr->callee_number ? cdr->callee_number : "", cdr->hangup_by,
		 call->cause, cdr->disposition);
	calls__emit(
	    call, "call.ended", cdr->agent_id,
	    json_pack(
		"{s:s, s:o, s:o, s:s, s:s, s:b, s:I, s:I}", "call_id",
		cdr->call_id, "agent_id", id_or_null(cdr->agent_id),
		"campaign_id", id_or_null(campaign_id(call)), "direction",
		cdr->direction, "disposition", cdr->disposition, "abandoned",
		cdr->abandoned, "duration",
		(json_int_t)((cdr->end_us - cdr->start_us) / 1000000),
		"billsec",
		(json_int_t)(cdr->answer_us
				 ? (cdr->end_us - cdr->answer_us) / 1000000
				 : 0)));
	calls__unref(call);
	return CALL_INPUT_NONE;
}

static const call_enter_fn generic_entries[CALL_STATE__COUNT] = {
    [CALL_STATE_CONNECTING] = enter_connecting,
    [CALL_STATE_TALKING] = enter_talking,
    [CALL_STATE_HANGING_UP] = enter_hanging_up,
    [CALL_STATE_GONE] = calls__enter_gone,
};

static call_enter_fn entry_of(const struct call *call, enum call_state state)
{
	if ((unsigned)state >= CALL_STATE__COUNT)
		return NULL;
	return call->machine->enter[state] ? call->machine->enter[state]
					   : generic_entries[state];
}

/* The view --------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t us)
{
	char buf[TIMEFMT_SIZE];

	if (!us || timefmt_rfc3339(us, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

/* The agent a call is with, or the first it rings. */
static int64_t agent_of(const struct call *call)
{
	if (call->cdr.agent_id)
		return call->cdr.agent_id;
	if (call->winner && call->winner->agent)
		return call->winner->agent->id;
	for (unsigned i = 0; i < call->nlegs; i++)
		if (call->legs[i]->role == LEG_AGENT)
			return call->legs[i]->agent->id;
	return 0;
}

static int wait_seconds(const struct call *call)
{
	if (call->state == CALL_STATE_QUEUED && call->q.joined_us)
		return (int)((cdr_now_us() - call->q.joined_us) / 1000000);
	return call->cdr.queue_wait_seconds > 0 ? call->cdr.queue_wait_seconds
						: 0;
}

json_t *calls__json(const struct call *call)
{
	const char *agent_channel =
	    call->winner ? call->winner->id : call->cdr.agent_channel_id;

	return json_pack(
	    "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:o, s:o, s:o,"
	    " s:i}",
	    "id", call->cdr.call_id, "direction", call->cdr.direction, "state",
	    calls_state_api_name(call->state), "caller_number",
	    str_or_null(call->cdr.caller_number), "callee_number",
	    str_or_null(call->cdr.callee_number), "campaign_id",
	    id_or_null(campaign_id(call)), "agent_id",
	    id_or_null(agent_of(call)), "channels", "caller",
	    str_or_null(call->peer ? call->peer->id : NULL), "agent",
	    str_or_null(agent_channel), "bridge_id",
	    str_or_null(call->bridge_id), "started_at",
	    time_or_null(call->cdr.start_us), "answered_at",
	    time_or_null(call->cdr.answer_us), "wait_seconds",
	    wait_seconds(call));
}
