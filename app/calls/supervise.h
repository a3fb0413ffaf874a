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

/* A supervision an earlier process left up, as resync.c found it in
 * Asterisk: the supervisor's phone answered and, listening or whispering,
 * in a bridge of its own with a snoop on the call's agent leg, or barging,
 * in the call's bridge (snoop_id and bridge_id NULL). Strings borrowed. */
struct calls_supervising {
	struct agent *agent;
	enum calls_supervise_mode mode;
	const char *phone_id;
	const char *snoop_id;
	const char *bridge_id;
};

/* Takes the supervision s over on call (adopted talking): its legs and
 * bridge are the call's again, it is active in its mode, and nothing is
 * rung, set up or announced. Returns 0, -EEXIST (the supervisor already
 * has one on the call), -ENOSPC or -ENOMEM (nothing taken: its parts are
 * then orphans). */
int calls__supervise_adopt(struct call *call,
			   const struct calls_supervising *s);

/* After calls__supervise_adopt() on call: reads the supervisions of the
 * call's record back from the database, so that each adopted supervision
 * goes on in its open entry and the entries of supervisions not adopted
 * end now. Until the record is read, the supervisions' changes wait (the
 * record then takes the state they left). */
void calls__supervise_load_record(struct call *call);

#endif /* APP_CALLS_SUPERVISE_H */
