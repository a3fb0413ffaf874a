/* stasis.c: maps ARI events to the calls and agent legs they concern. */
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"

static void on_stasis_start(struct calls *calls, const struct ari_event *ev)
{
	const char *kind = ari_event_arg(ev, 0);

	/* Our own agent legs enter Stasis once created; only then can they
	 * dial, and this may come before or after the create reply. */
	if (calls__is_leg(calls, ev->channel_id)) {
		calls__on_leg_stasis_start(calls, ev->channel_id);
		return;
	}
	if (ev->replace_channel_id &&
	    calls__find(calls, ev->replace_channel_id)) {
		calls__rekey(calls, ev->replace_channel_id, ev->channel_id);
		return;
	}
	if (calls__find(calls, ev->channel_id)) {
		log_debug("call=%s StasisStart for a known call",
			  ev->channel_id);
		return;
	}
	/* Stasis(app,inbound[,campaign]): the campaign argument wins over the
	 * dialed number. */
	calls__add(calls, ev->channel_id, ev->caller_number, ev->dialed_exten,
		   kind && strcmp(kind, "inbound") == 0 ? ari_event_arg(ev, 1)
							: NULL,
		   0);
}

static void on_left(struct calls *calls, const struct ari_event *ev)
{
	struct call *call = calls__find(calls, ev->channel_id);

	if (calls__is_leg(calls, ev->channel_id)) {
		calls__on_leg_left(calls, ev->channel_id, ev->cause);
		return;
	}
	if (call) {
		calls__hangup_cause(call, ev->cause);
		calls__input(call, CALL_INPUT_LEFT);
	}
}

static void on_dial(struct calls *calls, const struct ari_event *ev)
{
	calls__on_dial(calls, ev->channel_id, ev->dial_status);
}

static void on_playback_finished(struct calls *calls,
				 const struct ari_event *ev)
{
	static const char prefix[] = "channel:";
	struct call *call;

	if (!ev->target_uri ||
	    strncmp(ev->target_uri, prefix, sizeof(prefix) - 1) != 0)
		return;
	call = calls__find(calls, ev->target_uri + sizeof(prefix) - 1);
	if (call)
		calls__on_playback_finished(call, ev->playback_id);
}

static void on_hangup_request(struct calls *calls, const struct ari_event *ev)
{
	struct call *call = calls__find(calls, ev->channel_id);

	log_debug("call=%s hangup requested cause=%d", ev->channel_id,
		  ev->cause);
	if (call)
		calls__hangup_cause(call, ev->cause);
}

typedef void (*event_handler)(struct calls *calls, const struct ari_event *ev);

static const struct {
	enum ari_event_type type;
	bool needs_channel;
	event_handler handler;
} handlers[] = {
    {ARI_EVENT_STASIS_START, true, on_stasis_start},
    {ARI_EVENT_STASIS_END, true, on_left},
    {ARI_EVENT_CHANNEL_DESTROYED, true, on_left},
    {ARI_EVENT_CHANNEL_HANGUP_REQUEST, true, on_hangup_request},
    {ARI_EVENT_DIAL, true, on_dial},
    {ARI_EVENT_PLAYBACK_FINISHED, false, on_playback_finished},
};

void calls_handle_event(struct calls *calls, const struct ari_event *ev)
{
	if (calls__outbound_event(calls, ev))
		return;
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != ev->type)
			continue;
		if (handlers[i].needs_channel && !ev->channel_id) {
			log_warning(
			    "ARI event type=%s without a channel, ignoring",
			    ev->type_name);
			return;
		}
		handlers[i].handler(calls, ev);
		return;
	}
	log_debug("ARI event type=%s channel=%s not used", ev->type_name,
		  ev->channel_id ? ev->channel_id : "");
}
