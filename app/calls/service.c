/* service.c: the operations on a call, run as its state machine moves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"

/* Period of the sweep that fires state timeouts and queue timers. */
#define CALLS_SWEEP_MS 250
/* Named cap on calls handled by one sweep; the rest wait for the next. */
#define CALLS_SWEEP_BATCH 256

struct call *calls__ref(struct call *call)
{
	call->refs++;
	return call;
}

void calls__unref(struct call *call)
{
	if (--call->refs > 0)
		return;
	free(call->channel_id);
	free(call->route_arg);
	cdr_clear(&call->cdr);
	free(call);
}

void calls__write_cdr(struct call *call)
{
	json_t *snapshot;

	if (!call->calls->cdr)
		return;
	snapshot = cdr_snapshot(&call->cdr);
	if (!snapshot) {
		log_error("call=%s CDR snapshot: out of memory",
			  call->channel_id);
		return;
	}
	cdr_writer_submit(call->calls->cdr, snapshot);
}

/* The reply to a request made on behalf of call: drives the machine unless
 * the call has moved on or the registry is shutting down. */
static void on_reply(struct call *call, const struct ari_response *resp,
		     enum call_state expected, enum call_input on_success)
{
	if (resp->error != -ECANCELED && call->state == expected) {
		if (resp->error == 0) {
			calls__input(call, on_success);
		} else if (resp->error == -ENOENT) {
			/* The channel is already gone: StasisEnd follows. */
			log_debug("call=%s gone during %s", call->channel_id,
				  calls_state_name(expected));
		} else {
			log_warning("call=%s %s failed error=%s http=%ld",
				    call->channel_id,
				    calls_state_name(expected),
				    strerror(-resp->error), resp->http_status);
			calls__input(call, CALL_INPUT_FAILED);
		}
	}
	calls__unref(call);
}

static void on_answer(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	call->answered_ns = uv_hrtime();
	on_reply(call, resp, CALL_STATE_ANSWERING, CALL_INPUT_ANSWERED);
}

static void on_play(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	/* Success only means the playback started; PlaybackFinished ends it. */
	if (resp->error == 0) {
		calls__unref(call);
		return;
	}
	on_reply(call, resp, CALL_STATE_PROMPTING, CALL_INPUT_PROMPT_DONE);
}

static void on_hangup(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	/* "Already gone" is success: StasisEnd may have raced the reply, or
	 * been lost. Other failures leave the call in HANGING_UP, and its
	 * timeout sends the hangup again. */
	if (resp->error == -ENOENT && call->state == CALL_STATE_HANGING_UP)
		calls__input(call, CALL_INPUT_LEFT);
	else if (resp->error < 0 && resp->error != -ENOENT &&
		 resp->error != -ECANCELED)
		log_warning("call=%s hangup failed error=%s, retrying",
			    call->channel_id, strerror(-resp->error));
	calls__unref(call);
}

/* Replies nobody waits for: a failure is worth a line, no more. */
static void on_side_reply(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error < 0 && resp->error != -ENOENT &&
	    resp->error != -ECANCELED)
		log_warning(
		    "call=%s request failed error=%s http=%ld, ignoring",
		    call->channel_id, strerror(-resp->error),
		    resp->http_status);
	calls__unref(call);
}

void calls__request(struct call *call, const char *method, const char *path,
		    const json_t *body, ari_rest_cb cb)
{
	int r = ari_rest_request(call->calls->rest, method, path, body,
				 cb ? cb : on_side_reply, calls__ref(call));

	if (r < 0) {
		calls__unref(call);
		log_warning("call=%s %s %s not sent error=%s", call->channel_id,
			    method, path, strerror(-r));
		if (cb && call->state != CALL_STATE_HANGING_UP)
			calls__input(call, CALL_INPUT_FAILED);
	}
}

static void start_prompt(struct call *call)
{
	char path[512];
	int r = ids_new(call->playback_id, sizeof(call->playback_id), "pb");

	if (r < 0) {
		calls__input(call, CALL_INPUT_FAILED);
		return;
	}
	if (!call->cdr.answer_us)
		call->cdr.answer_us = cdr_now_us();
	calls__write_cdr(call);
	snprintf(path, sizeof(path), "/channels/%s/play/%s?media=%s",
		 call->channel_id, call->playback_id,
		 call->prompt ? call->prompt : call->calls->prompt_sound);
	calls__request(call, "POST", path, NULL, on_play);
}

static void forget(struct call *call)
{
	struct calls *calls = call->calls;

	if (strmap_remove(calls->by_channel, call->channel_id) != call)
		return;
	calls->handled++;
	cdr_finish(&call->cdr, cdr_now_us(), call->cause, NULL,
		   call->hangup_by ? call->hangup_by : "caller");
	calls__write_cdr(call);
	log_info("call=%s ended caller=%s by=%s cause=%d disposition=%s",
		 call->channel_id,
		 call->cdr.caller_number ? call->cdr.caller_number : "",
		 call->cdr.hangup_by, call->cause, call->cdr.disposition);
	calls__emit(
	    call, "call.ended", call->cdr.agent_id,
	    json_pack(
		"{s:s, s:o, s:o, s:s, s:s, s:b, s:I, s:I}", "call_id",
		call->cdr.call_id, "agent_id",
		call->cdr.agent_id ? json_integer(call->cdr.agent_id)
				   : json_null(),
		"campaign_id",
		call->cdr.campaign_id ? json_integer(call->cdr.campaign_id)
				      : json_null(),
		"direction", call->cdr.direction, "disposition",
		call->cdr.disposition, "abandoned", call->cdr.abandoned,
		"duration",
		(json_int_t)((call->cdr.end_us - call->cdr.start_us) / 1000000),
		"billsec",
		(json_int_t)(call->cdr.answer_us
				 ? (call->cdr.end_us - call->cdr.answer_us) /
				       1000000
				 : 0)));
	calls__unref(call);
}

/* What leaving a state takes down with it. */
static void leave(struct call *call, enum call_state from, enum call_state to)
{
	if (from == CALL_STATE_QUEUED)
		calls__queue_leave(call, to == CALL_STATE_GONE);
	if ((from == CALL_STATE_CONNECTING || from == CALL_STATE_TALKING) &&
	    to != CALL_STATE_TALKING)
		calls__end_talk(call);
}

static void hang_up(struct call *call)
{
	char path[512];

	if (!call->hangup_by)
		call->hangup_by = "system";
	snprintf(path, sizeof(path), "/channels/%s?reason_code=16",
		 call->channel_id);
	calls__request(call, "DELETE", path, NULL, on_hangup);
}

static void enter(struct call *call, enum call_state state)
{
	unsigned timeout = calls_state_timeout_ms(state);
	char path[512];

	call->state = state;
	call->deadline_ms = timeout ? uv_now(call->calls->loop) + timeout : 0;
	switch (state) {
	case CALL_STATE_ANSWERING:
		snprintf(path, sizeof(path), "/channels/%s/answer",
			 call->channel_id);
		calls__request(call, "POST", path, NULL, on_answer);
		call->answer_sent_ns = uv_hrtime();
		break;
	case CALL_STATE_ROUTING:
		calls__route(call);
		break;
	case CALL_STATE_PROMPTING:
		start_prompt(call);
		break;
	case CALL_STATE_QUEUED:
		calls__queue_enter(call);
		break;
	case CALL_STATE_CONNECTING:
		calls__connect(call);
		break;
	case CALL_STATE_TALKING:
		break;
	case CALL_STATE_HANGING_UP:
		hang_up(call);
		break;
	case CALL_STATE_GONE:
	case CALL_STATE__COUNT:
		forget(call);
		break;
	}
}

void calls__input(struct call *call, enum call_input input)
{
	enum call_state from = call->state;
	enum call_state next = calls_state_next(from, input);

	if (next == from &&
	    !(input == CALL_INPUT_TIMEOUT && from == CALL_STATE_HANGING_UP))
		return;
	log_debug("call=%s %s --%s--> %s", call->channel_id,
		  calls_state_name(from), calls_input_name(input),
		  calls_state_name(next));
	calls__ref(call);
	/* The new state first: what leaving does (cancelling offers frees
	 * agents, who dispatch again) must not see the call still waiting. */
	call->state = next;
	if (next != from)
		leave(call, from, next);
	/* A timeout in HANGING_UP re-enters it, which re-sends the hangup. */
	enter(call, next);
	calls__unref(call);
}

struct call *calls__find(struct calls *calls, const char *channel_id)
{
	return channel_id ? strmap_get(calls->by_channel, channel_id) : NULL;
}

void calls__hangup_cause(struct call *call, int cause)
{
	if (cause && !call->cause)
		call->cause = cause;
	/* A hangup request before ours comes from the caller's side. */
	if (!call->hangup_by && call->state != CALL_STATE_HANGING_UP)
		call->hangup_by = "caller";
}

struct call *calls__add(struct calls *calls, const char *channel_id,
			const char *caller, const char *callee,
			const char *route_arg, int64_t start_us)
{
	struct call *call = calloc(1, sizeof(*call));

	if (!call)
		goto err;
	call->calls = calls;
	call->refs = 1;
	call->entered_ns = uv_hrtime();
	call->channel_id = strdup(channel_id);
	call->route_arg = route_arg ? strdup(route_arg) : NULL;
	/* The caller's channel id names the call: Asterisk makes it unique,
	 * and a restarted daemon finds the same one. */
	if (!call->channel_id || (route_arg && !call->route_arg) ||
	    cdr_init_inbound(&call->cdr, channel_id, caller, callee, channel_id,
			     start_us ? start_us : cdr_now_us()) < 0 ||
	    strmap_put(calls->by_channel, channel_id, call) < 0)
		goto err;
	log_info("call=%s entered caller=%s callee=%s", channel_id,
		 caller ? caller : "", callee ? callee : "");
	calls__write_cdr(call);
	enter(call, CALL_STATE_ANSWERING);
	return call;
err:
	log_error("call=%s cannot be tracked: out of memory", channel_id);
	if (call)
		calls__unref(call);
	return NULL;
}

void calls__rekey(struct calls *calls, const char *old_id, const char *new_id)
{
	struct call *call = strmap_remove(calls->by_channel, old_id);
	char *copy = strdup(new_id);

	if (!call || !copy || strmap_put(calls->by_channel, new_id, call) < 0) {
		free(copy);
		if (call)
			calls__unref(call);
		return;
	}
	log_info("call=%s replaced by channel=%s", old_id, new_id);
	free(call->channel_id);
	call->channel_id = copy;
}

static void sweep(uv_timer_t *timer)
{
	struct calls *calls = timer->data;
	uint64_t now = uv_now(calls->loop);
	struct call *expired[CALLS_SWEEP_BATCH];
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	/* Collect first: inputs may remove calls from the map. */
	while (n < CALLS_SWEEP_BATCH &&
	       strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;
		if (call->deadline_ms && call->deadline_ms <= now)
			expired[n++] = calls__ref(call);
	}
	for (size_t i = 0; i < n; i++) {
		log_warning("call=%s timed out in %s", expired[i]->channel_id,
			    calls_state_name(expired[i]->state));
		calls__input(expired[i], CALL_INPUT_TIMEOUT);
		calls__unref(expired[i]);
	}
	calls__queue_sweep(calls, now);
	calls__outbound_sweep(calls, now);
}

int calls_new(uv_loop_t *loop, const struct calls_deps *deps,
	      const struct calls_config *cfg, struct calls **ret_calls)
{
	struct calls *calls = calloc(1, sizeof(*calls));

	if (!calls)
		return -ENOMEM;
	calls->loop = loop;
	calls->rest = deps->rest;
	calls->cdr = deps->cdr;
	calls->db = deps->db;
	calls->agents = deps->agents;
	calls->campaigns = deps->campaigns;
	calls->by_channel = strmap_new();
	calls->legs = strmap_new();
	calls->outbound = strmap_new();
	calls->prompt_sound = strdup(cfg->prompt_sound);
	calls->app = strdup(cfg->app ? cfg->app : "welcomedly");
	if (!calls->by_channel || !calls->legs || !calls->prompt_sound ||
	    !calls->app || !calls->outbound) {
		free(calls->app);
		strmap_free(calls->outbound);
		strmap_free(calls->by_channel);
		strmap_free(calls->legs);
		free(calls->prompt_sound);
		free(calls);
		return -ENOMEM;
	}
	uv_timer_init(loop, &calls->sweep);
	calls->sweep.data = calls;
	uv_timer_start(&calls->sweep, sweep, CALLS_SWEEP_MS, CALLS_SWEEP_MS);
	*ret_calls = calls;
	return 0;
}

size_t calls_count(const struct calls *calls)
{
	return strmap_count(calls->by_channel);
}

unsigned long calls_handled(const struct calls *calls)
{
	return calls->handled;
}

static void on_sweep_closed(uv_handle_t *handle)
{
	struct calls *calls = handle->data;
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->legs, &cursor, &key, &value)) {
		struct leg *leg = value;
		calls__unref(leg->call);
		free(leg);
	}
	cursor = 0;
	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;
		call->state = CALL_STATE_GONE;
		calls__unref(call);
	}
	calls__outbound_free(calls);
	strmap_free(calls->legs);
	strmap_free(calls->by_channel);
	free(calls->prompt_sound);
	free(calls->app);
	free(calls);
}

void calls_close(struct calls *calls)
{
	if (!calls)
		return;
	uv_close((uv_handle_t *)&calls->sweep, on_sweep_closed);
}
