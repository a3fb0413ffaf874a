/* supervise.h: supervisors on a call: listen, whisper and barge (the API's
 * operations are in calls.h). */
#ifndef APP_CALLS_SUPERVISE_H
#define APP_CALLS_SUPERVISE_H

#include "calls/call.h"

/* struct calls' side_leg hook: what happened to a supervisor's phone or a
 * snoop. */
void calls__supervise_side_leg(struct leg *leg, enum side_event ev);

/* struct calls' talk_ended hook: every supervision of call ends. */
void calls__supervise_talk_ended(struct call *call);

#endif /* APP_CALLS_SUPERVISE_H */
