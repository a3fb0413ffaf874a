/* stasis.h: the one table that maps ARI events to calls and their legs. */
#ifndef APP_CALLS_STASIS_H
#define APP_CALLS_STASIS_H

#include "ari/event.h"
#include "calls/call.h"

/* Feeds ev (borrowed) to the call or leg it concerns; a new caller's
 * StasisStart makes an inbound call. */
void calls__stasis_event(struct calls *calls, const struct ari_event *ev);

#endif /* APP_CALLS_STASIS_H */
