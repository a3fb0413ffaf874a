/* stasis.c: maps ARI events to the calls and legs they concern, through
 * one table; every event of every call comes this way. */
#include <string.h>

#include "calls/queue.h"
#include "calls/stasis.h"
#include "util/log.h"

static void on_stasis_start(struct calls *calls, const struct ari_event *ev)
{
	const char *kind = ari_event_arg(ev, 0);
	struct leg *leg = calls__leg_find(calls, ev->channel_id);

	/* Our own legs enter Stasis once created; only then can they dial,
	 * and this may come before or after the create reply. */
	if (leg) {
		if (leg->role == LEG_CALLER)
			log_debug("call=%s StasisStart for a known call",
				  ev->channel_id);
		else
			calls__leg_in_stasis(leg);
		return;
	}
	leg = calls__leg_find(calls, ev->replace_channel_id);
	if (leg) {
		calls__leg_rekey(leg, ev->channel_id);
		return;
	}
	/* A leg of ours that no call owns: its create failed here (a timeout)
	 * while Asterisk made it anyway, or its call ended first. It is no
	 * caller: hung up, with no call and no record. */
	if (ids_is_ours(ev->channel_id, NULL)) {
		log_warning("leg=%s (%s) unknown, hanging up", ev->channel_id,
			    kind ? kind : "no arguments");
		calls__delete_orphan(calls, "channels", ev->channel_id);
		return;
	}
	/* Stasis(app,inbound[,campaign]): the campaign argument wins over the
	 * dialed number. */
	calls__inbound_add(
	    calls, ev->channel_id, ev->caller_number, ev->dialed_exten,
	    kind && strcmp(kind, "inbound") == 0 ? ari_event_arg(ev, 1) : NULL,
	    0, false);
}

static void on_left(struct calls *calls, const struct ari_event *ev)
{
	struct leg *leg = calls__leg_find(calls, ev->channel_id);

	if (leg) {
		calls__leg_hangup_request(leg, ev->cause);
		calls__leg_left(leg, ev->cause);
	}
}

static void on_dial(struct calls *calls, const struct ari_event *ev)
{
	struct leg *leg = calls__leg_find(calls, ev->channel_id);

	if (leg)
		calls__leg_dial(leg, ev->dial_status);
}

static void on_playback_finished(struct calls *calls,
				 const struct ari_event *ev)
{
	static const char prefix[] = "channel:";
	struct leg *leg;

	if (!ev->target_uri ||
	    strncmp(ev->target_uri, prefix, sizeof(prefix) - 1) != 0)
		return;
	leg = calls__leg_find(calls, ev->target_uri + sizeof(prefix) - 1);
	if (leg && leg->call->machine->playback_done)
		leg->call->machine->playback_done(leg->call, ev->playback_id);
}

static void on_hangup_request(struct calls *calls, const struct ari_event *ev)
{
	struct leg *leg = calls__leg_find(calls, ev->channel_id);

	log_debug("channel=%s hangup requested cause=%d soft=%d",
		  ev->channel_id, ev->cause, ev->soft);
	if (!leg)
		return;
	/* Asterisk hangs up every channel as it stops: not the caller's
	 * doing, and the flags are no Q.850 cause. */
	if (ev->soft && (ev->cause & ARI_SOFTHANGUP_SHUTDOWN))
		calls__lost(leg->call, "asterisk_restart");
	else
		calls__leg_hangup_request(leg, ev->cause);
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

const enum ari_event_type *calls_event_types(size_t *ret_count)
{
	static enum ari_event_type
	    types[sizeof(handlers) / sizeof(handlers[0])];

	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		types[i] = handlers[i].type;
	*ret_count = sizeof(handlers) / sizeof(handlers[0]);
	return types;
}

void calls__stasis_event(struct calls *calls, const struct ari_event *ev)
{
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
