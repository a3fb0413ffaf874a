/* calls.h: the calls the daemon owns in Stasis, and what it does with them. */
#ifndef APP_CALLS_H
#define APP_CALLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "ari/event.h"
#include "ari/rest.h"
#include "cdr/cdr.h"

struct calls; /* opaque */

struct calls_config {
	const char
	    *prompt_sound; /* media URI, e.g. "sound:vm-goodbye"; copied */
	const char *app;   /* the Stasis application; copied */
};

struct agents;
struct campaigns;

/* What the registry works with; all borrowed, and all must outlive it. */
struct calls_deps {
	struct ari_rest *rest;
	struct cdr_writer *cdr;      /* NULL: no CDRs */
	struct db_pool *db;          /* NULL: queue entries not stored */
	struct agents *agents;       /* NULL: no queues, every call prompted */
	struct campaigns *campaigns; /* NULL: likewise */
};

/* Creates the call registry, which owns a timer (the sweep of deadlines
 * and queue timers): release it with calls_close(). Returns 0 or a
 * negative errno; *ret_calls untouched on failure. */
int calls_init(uv_loop_t *loop, const struct calls_deps *deps,
	       const struct calls_config *cfg, struct calls **ret_calls);

/* Offers waiting calls to available agents; call after agent changes. */
void calls_dispatch(struct calls *calls);

/* Feeds one ARI event (borrowed) to the calls it concerns. */
void calls_handle_event(struct calls *calls, const struct ari_event *ev);

/* The event types calls_handle_event() uses, *ret_count of them, for the
 * link's event filter: the others are not worth Asterisk building them.
 * Static storage. */
const enum ari_event_type *calls_event_types(size_t *ret_count);

/* Reconciles after a (re)connect: calls whose channel is gone are ended
 * (their record saying "asterisk_restart" when restarted: Asterisk started
 * again meanwhile), legs that entered Stasis or were answered meanwhile
 * go on from there, channels in our application that we do not know are
 * adopted, and bridges with our id prefix that nothing owns are
 * destroyed. All arguments borrowed; any may be NULL. */
void calls_resync(struct calls *calls, const json_t *channel_ids,
		  const json_t *channels, const json_t *bridges,
		  bool restarted);

/* Number of calls currently owned. */
size_t calls_count(const struct calls *calls);

/* Number of calls handled since start (for tests and metrics). */
unsigned long calls_handled(const struct calls *calls);

/*
 * What happens to calls, for the live event feed: type is "call.queued",
 * "call.offered", "call.answered" or "call.ended"; agent_id and
 * campaign_id are 0 when none; data is the event's object (stolen).
 */
typedef void (*calls_event_cb)(const char *type, int64_t agent_id,
			       int64_t campaign_id, json_t *data,
			       void *userdata);
void calls_set_event_cb(struct calls *calls, calls_event_cb cb, void *userdata);

/* The live calls as a JSON array of objects (new reference; NULL when out
 * of memory); agent_id other than 0 keeps only that agent's calls. */
json_t *calls_list_json(struct calls *calls, int64_t agent_id);
/* One live call by its call id, or NULL. */
json_t *calls_get_json(struct calls *calls, const char *call_id);
struct agent;

/* How a supervisor takes part in a call. */
enum calls_supervise_mode {
	CALLS_SUPERVISE_LISTEN = 0, /* hears both sides; nobody hears them */
	CALLS_SUPERVISE_WHISPER,    /* hears both sides; only the agent hears
				       them */
	CALLS_SUPERVISE_BARGE,      /* in the call: everybody hears everybody */
	CALLS_SUPERVISE__COUNT,
};

/* The mode's name as the API spells it ("listen", ...), or NULL. */
const char *calls_supervise_mode_name(enum calls_supervise_mode mode);

/*
 * Rings the supervisor's phone to supervise a call talking to an agent;
 * once answered they join it in mode (call.supervised on the feed). The
 * supervision ends with calls_supervise_end(), when the supervisor hangs
 * up, or with the call's talk (call.supervision_ended). Returns 0, -ENOENT
 * (no such call), -EBUSY (not talking to an agent), -EINVAL (the
 * supervisor has no phone, or is the call's agent), -EEXIST (already
 * supervising it), -ENOSPC (CALL_MAX_SUPERVISORS already) or -ENOMEM.
 */
int calls_supervise(struct calls *calls, const char *call_id,
		    struct agent *supervisor, enum calls_supervise_mode mode);
/* Switches a supervision's mode without ringing again. Returns 0 or
 * -ENOENT (no such call or supervision). */
int calls_supervise_mode(struct calls *calls, const char *call_id,
			 int64_t supervisor_id, enum calls_supervise_mode mode);
/* Ends a supervision. Returns 0 or -ENOENT. */
int calls_supervise_end(struct calls *calls, const char *call_id,
			int64_t supervisor_id);

/* Hangs up a live call (every leg). Returns 0 or -ENOENT. */
int calls_hangup(struct calls *calls, const char *call_id);
/*
 * Blind transfer: the caller leaves Stasis for the dialplan at
 * context,exten,1 (the agent's leg is hung up and the agent goes to
 * wrap-up). Only calls talking to an agent can be transferred. Returns 0,
 * -ENOENT (no such call) or -EBUSY (not talking).
 */
int calls_transfer(struct calls *calls, const char *call_id,
		   const char *context, const char *exten);
struct campaign;

/* An outbound call to place; all borrowed for the call only. */
struct calls_outbound {
	struct agent *agent;       /* available, with a phone */
	struct campaign *campaign; /* its ring time and wrap-up apply */
	const char *number;        /* E.164, checked by the caller */
	const char *endpoint;      /* dial string, e.g. PJSIP/+1555@trunk */
	const char *caller_id;     /* NULL: the trunk's */
	int64_t lead_id;           /* 0: none */
	bool local_ringback;       /* the agent's phone plays its own */
};

/*
 * Places an outbound call: the agent's phone rings first; once answered
 * the customer is dialed, then both are bridged and recorded. Writes the
 * call id into ret_call_id. Returns 0 (progress is reported through the
 * event callback and the CDR), -EINVAL (agent without a phone) or
 * -ENOMEM.
 */
int calls_originate(struct calls *calls, const struct calls_outbound *req,
		    char *ret_call_id, size_t size);

/* Callers waiting in campaign_id's queue now, and the longest wait. */
void calls_queue_numbers(struct calls *calls, int64_t campaign_id,
			 unsigned *ret_waiting, unsigned *ret_longest_s);

/* Forgets every call without touching Asterisk (the calls stay in Stasis
 * for the next process to adopt) and frees the registry once its timer has
 * closed; the loop must run. NULL is a no-op. */
void calls_close(struct calls *calls);

#endif /* APP_CALLS_H */
