/* queue.h: inbound calls: answered, routed to a campaign queue, offered to
 * agents by the dispatcher, and connected to the one who answers. */
#ifndef APP_CALLS_QUEUE_H
#define APP_CALLS_QUEUE_H

#include "calls/call.h"

/* The inbound machine: its entries and actions over the inbound table. */
extern const struct call_machine calls__inbound;

/*
 * Takes a caller's channel that entered Stasis: the call is named after the
 * channel (Asterisk makes the id unique, and a restarted daemon finds the
 * same one), routed and answered. route_arg names a campaign (or NULL);
 * start_us 0 means now. adopted: an earlier process had queued the caller,
 * whose place (join time, priority) is read back before anyone is offered
 * it. Returns the call (borrowed) or NULL (logged).
 */
struct call *calls__inbound_add(struct calls *calls, const char *channel_id,
				const char *caller, const char *callee,
				const char *route_arg, int64_t start_us,
				bool adopted);

/* Takes over an inbound call an earlier process left talking, as it is
 * (calls__take_over), so that the conversation goes on across a restart.
 * Returns the call (borrowed) or NULL (logged). */
struct call *calls__inbound_adopt_talking(struct calls *calls,
					  const struct calls_talking *t);

/* Offers waiting calls to available agents. */
void calls__dispatch(struct calls *calls);

/* Fires max waits and announcements due at now (loop ms), then
 * dispatches. */
void calls__queue_sweep(struct calls *calls, uint64_t now);

#endif /* APP_CALLS_QUEUE_H */
