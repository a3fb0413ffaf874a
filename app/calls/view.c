/* view.c: the calls as the API shows them, what it may do to them, and
 * the events the live feed reports about them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"
#include "util/timefmt.h"

void calls_set_event_cb(struct calls *calls, calls_event_cb cb, void *userdata)
{
	calls->event_cb = cb;
	calls->event_data = userdata;
}

static int64_t campaign_of(const struct call *call)
{
	return call->campaign ? call->campaign->id : call->cdr.campaign_id;
}

void calls__emit_event(struct calls *calls, const char *type, int64_t agent_id,
		       int64_t campaign_id, json_t *data)
{
	if (!data)
		return;
	if (!calls->event_cb) {
		json_decref(data);
		return;
	}
	calls->event_cb(type, agent_id, campaign_id, data, calls->event_data);
}

void calls__emit(struct call *call, const char *type, int64_t agent_id,
		 json_t *data)
{
	calls__emit_event(call->calls, type, agent_id, campaign_of(call), data);
}

static json_t *id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

json_t *calls__str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *calls__time_or_null(int64_t us)
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
	if (call->winner)
		return call->winner->agent->id;
	return call->nlegs ? call->legs[0]->agent->id : 0;
}

static bool involves(const struct call *call, int64_t agent_id)
{
	if (call->cdr.agent_id == agent_id)
		return true;
	for (unsigned i = 0; i < call->nlegs; i++)
		if (call->legs[i]->agent->id == agent_id)
			return true;
	return false;
}

static int wait_seconds(const struct call *call)
{
	if (call->state == CALL_STATE_QUEUED && call->joined_us)
		return (int)((cdr_now_us() - call->joined_us) / 1000000);
	return call->cdr.queue_wait_seconds > 0 ? call->cdr.queue_wait_seconds
						: 0;
}

static json_t *call_json(const struct call *call)
{
	const char *agent_channel =
	    call->winner ? call->winner->id : call->cdr.agent_channel_id;

	return json_pack(
	    "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:s, s:o}, s:o, s:o, s:o,"
	    " s:i}",
	    "id", call->cdr.call_id, "direction", call->cdr.direction, "state",
	    calls_state_name(call->state), "caller_number",
	    calls__str_or_null(call->cdr.caller_number), "callee_number",
	    calls__str_or_null(call->cdr.callee_number), "campaign_id",
	    id_or_null(campaign_of(call)), "agent_id",
	    id_or_null(agent_of(call)), "channels", "caller", call->channel_id,
	    "agent", calls__str_or_null(agent_channel), "bridge_id",
	    calls__str_or_null(call->bridge_id), "started_at",
	    calls__time_or_null(call->cdr.start_us), "answered_at",
	    calls__time_or_null(call->cdr.answer_us), "wait_seconds",
	    wait_seconds(call));
}

json_t *calls_list_json(struct calls *calls, int64_t agent_id)
{
	json_t *list = json_array();
	size_t cursor = 0;
	const char *key;
	void *value;

	while (list && strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;

		if (agent_id && !involves(call, agent_id))
			continue;
		json_array_append_new(list, call_json(call));
	}
	if (list)
		calls__outbound_list(calls, list, agent_id);
	return list;
}

static struct call *by_call_id(struct calls *calls, const char *call_id)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;

		if (strcmp(call->cdr.call_id, call_id) == 0)
			return call;
	}
	return NULL;
}

json_t *calls_get_json(struct calls *calls, const char *call_id)
{
	struct call *call = by_call_id(calls, call_id);

	return call ? call_json(call) : calls__outbound_get(calls, call_id);
}

int calls_hangup(struct calls *calls, const char *call_id)
{
	struct call *call = by_call_id(calls, call_id);

	if (!call)
		return calls__outbound_hangup(calls, call_id);
	if (!call->hangup_by)
		call->hangup_by = "system";
	log_notice("call=%s hangup requested through the API",
		   call->channel_id);
	calls__input(call, CALL_INPUT_FAILED);
	return 0;
}

int calls_transfer(struct calls *calls, const char *call_id,
		   const char *context, const char *exten)
{
	struct call *call = by_call_id(calls, call_id);
	char path[512];

	if (!call)
		return -ENOENT;
	if (call->state != CALL_STATE_TALKING || call->transferred)
		return -EBUSY;
	call->transferred = true;
	call->hangup_by = "agent";
	/* context and exten are checked by the caller: letters, digits and
	 * "+_.-" only, so they need no escaping. */
	snprintf(path, sizeof(path),
		 "/channels/%s/continue?context=%s&extension=%s&priority=1",
		 call->channel_id, context, exten);
	log_notice("call=%s blind transfer to %s@%s", call->channel_id, exten,
		   context);
	calls__request(call, "POST", path, NULL, NULL);
	return 0;
}

void calls_queue_numbers(struct calls *calls, int64_t campaign_id,
			 unsigned *ret_waiting, unsigned *ret_longest_s)
{
	int64_t now = cdr_now_us(), oldest = now;
	size_t cursor = 0;
	const char *key;
	void *value;
	unsigned n = 0;

	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;

		if (call->state != CALL_STATE_QUEUED || !call->campaign ||
		    call->campaign->id != campaign_id)
			continue;
		n++;
		if (call->joined_us && call->joined_us < oldest)
			oldest = call->joined_us;
	}
	*ret_waiting = n;
	*ret_longest_s = (unsigned)((now - oldest) / 1000000);
}
