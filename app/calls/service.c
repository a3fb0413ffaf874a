/* service.c: the call registry and what others may do with its calls:
 * feed it events, list and read calls, hang up, transfer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/queue.h"
#include "calls/stasis.h"
#include "calls/supervise.h"
#include "util/log.h"

/* Period of the sweep that fires state timeouts and queue timers. */
#define CALLS_SWEEP_MS 250
/* Named cap on calls handled by one sweep; the rest wait for the next. */
#define CALLS_SWEEP_BATCH 256

static void sweep(uv_timer_t *timer)
{
	struct calls *calls = timer->data;
	uint64_t now = calls__now_ms(calls);
	struct call_event timeout = {NULL, NULL, 19};
	struct call *expired[CALLS_SWEEP_BATCH];
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	/* Collect first: inputs may remove calls from the map. */
	while (n < CALLS_SWEEP_BATCH &&
	       strmap_next(calls->by_id, &cursor, &key, &value)) {
		struct call *call = value;
		if (call->deadline_ms && call->deadline_ms <= now)
			expired[n++] = calls__ref(call);
	}
	for (size_t i = 0; i < n; i++) {
		log_warning("call=%s timed out in %s", expired[i]->cdr.call_id,
			    calls_state_name(expired[i]->state));
		calls__input(expired[i], CALL_INPUT_TIMEOUT, &timeout);
		calls__unref(expired[i]);
	}
	calls__queue_sweep(calls, now);
}

int calls_init(uv_loop_t *loop, const struct calls_deps *deps,
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
	calls->by_id = strmap_new();
	calls->by_channel = strmap_new();
	calls->orphans_closed = strmap_new();
	calls->prompt_sound = strdup(cfg->prompt_sound);
	calls->app = strdup(cfg->app ? cfg->app : "welcomedly");
	if (!calls->by_id || !calls->by_channel || !calls->orphans_closed ||
	    !calls->prompt_sound || !calls->app) {
		free(calls->app);
		strmap_free(calls->by_id);
		strmap_free(calls->by_channel);
		strmap_free(calls->orphans_closed);
		free(calls->prompt_sound);
		free(calls);
		return -ENOMEM;
	}
	calls->side_leg = calls__supervise_side_leg;
	calls->talk_ended = calls__supervise_talk_ended;
	uv_timer_init(loop, &calls->sweep);
	calls->sweep.data = calls;
	uv_timer_start(&calls->sweep, sweep, CALLS_SWEEP_MS, CALLS_SWEEP_MS);
	*ret_calls = calls;
	return 0;
}

void calls_handle_event(struct calls *calls, const struct ari_event *ev)
{
	calls__stasis_event(calls, ev);
}

size_t calls_count(const struct calls *calls)
{
	return strmap_count(calls->by_id);
}

unsigned long calls_handled(const struct calls *calls)
{
	return calls->handled;
}

void calls_set_event_cb(struct calls *calls, calls_event_cb cb, void *userdata)
{
	calls->event_cb = cb;
	calls->event_data = userdata;
}

static bool involves(const struct call *call, int64_t agent_id)
{
	if (call->cdr.agent_id == agent_id)
		return true;
	for (unsigned i = 0; i < call->nlegs; i++)
		if (call->legs[i]->role == LEG_AGENT &&
		    call->legs[i]->agent->id == agent_id)
			return true;
	return false;
}

json_t *calls_list_json(struct calls *calls, int64_t agent_id)
{
	json_t *list = json_array();
	size_t cursor = 0;
	const char *key;
	void *value;

	while (list && strmap_next(calls->by_id, &cursor, &key, &value)) {
		const struct call *call = value;

		if (agent_id && !involves(call, agent_id))
			continue;
		json_array_append_new(list, calls__json(call));
	}
	return list;
}

json_t *calls_get_json(struct calls *calls, const char *call_id)
{
	const struct call *call = calls__find(calls, call_id);

	return call ? calls__json(call) : NULL;
}

int calls_hangup(struct calls *calls, const char *call_id)
{
	struct call *call = calls__find(calls, call_id);
	struct call_event ev = {NULL, NULL, 16};

	if (!call)
		return -ENOENT;
	calls__input(call, CALL_INPUT_HANGUP, &ev);
	return 0;
}

/* The dialplan's transfer context goes on only to the extension the
 * daemon named in WELCOMEDLY_TRANSFER, which is set first: a channel that
 * reaches the context any other way is hung up there. */
static void on_transfer_allowed(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;
	struct leg *rec;
	char path[512];

	if (resp->error == -ECANCELED)
		goto out;
	if (resp->error < 0 || call->state != CALL_STATE_TALKING ||
	    !call->peer) {
		log_warning("call=%s transfer not made error=%s",
			    call->cdr.call_id, strerror(-resp->error));
		call->transferred = false;
		call->hangup_by = NULL;
		goto out;
	}
	/* The recorder goes first: it snoops on the caller, who lives on. */
	rec = calls__recorder(call);
	if (rec)
		calls__leg_hang_up(rec);
	snprintf(path, sizeof(path),
		 "/channels/%s/continue?context=%s&extension=%s&priority=1",
		 call->peer->id, call->transfer_context, call->transfer_exten);
	calls__request(call, "POST", path, NULL, NULL);
out:
	calls__unref(call);
}

int calls_transfer(struct calls *calls, const char *call_id,
		   const char *context, const char *exten)
{
	struct call *call = calls__find(calls, call_id);
	bool plus = exten[0] == '+';
	char path[512];

	/* Only a caller from the trunk can be sent on to the dialplan. */
	if (!call || call->machine != &calls__inbound || !call->peer)
		return -ENOENT;
	if (call->state != CALL_STATE_TALKING || call->transferred)
		return -EBUSY;
	if (strlen(context) >= sizeof(call->transfer_context) ||
	    strlen(exten) + 2 >= sizeof(call->transfer_exten))
		return -EINVAL;
	call->transferred = true;
	call->hangup_by = "agent";
	snprintf(call->transfer_context, sizeof(call->transfer_context), "%s",
		 context);
	/* context and exten are checked by the caller: letters, digits and
	 * "+_.-" only; a '+' would read as a space in a query. */
	snprintf(call->transfer_exten, sizeof(call->transfer_exten), "%s%s",
		 plus ? "%2B" : "", plus ? exten + 1 : exten);
	snprintf(path, sizeof(path),
		 "/channels/%s/variable?variable=WELCOMEDLY_TRANSFER&value=%s",
		 call->peer->id, call->transfer_exten);
	log_notice("call=%s blind transfer to %s@%s", call->cdr.call_id, exten,
		   context);
	calls__request(call, "POST", path, NULL, on_transfer_allowed);
	return 0;
}

static void on_sweep_closed(uv_handle_t *handle)
{
	struct calls *calls = handle->data;
	size_t cursor = 0;
	const char *key;
	void *value;

	/* Legs first: each holds its call. */
	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct leg *leg = value;
		leg->state = LEG_GONE;
		calls__leg_unref(leg);
	}
	cursor = 0;
	while (strmap_next(calls->by_id, &cursor, &key, &value)) {
		struct call *call = value;
		call->state = CALL_STATE_GONE;
		calls__unref(call);
	}
	strmap_free(calls->by_channel);
	strmap_free(calls->by_id);
	strmap_free(calls->orphans_closed);
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
