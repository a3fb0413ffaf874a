/* state.h: the state machine of an agent, one record for every kind of call. */
#ifndef APP_AGENTS_STATE_H
#define APP_AGENTS_STATE_H

#include "acd/dispatcher.h"

/*
 * An agent is offered a call only when available. Every call, whatever its
 * kind (queue, outbound, direct), moves the same record:
 *
 *   offline --login--> available --offer--> ringing --answer--> in_call
 *      ^                 ^  ^  |               |                   |
 *      |                 |  |  pause      no_answer            call_end
 *      +----logout-------+  |  v               |                   v
 *                           +-paused <---------+ (streak)   after_call_work
 *                           |                                      |
 *                           +------------wrapup_done/disposition---+
 *
 * Requests an agent makes while busy (pause, logout) do not interrupt the
 * call: they wait until after-call work ends (see agents_request()).
 */
enum agents_input {
	AGENTS_INPUT_LOGIN = 0, /* to available */
	AGENTS_INPUT_PAUSE,
	AGENTS_INPUT_LOGOUT,
	AGENTS_INPUT_OFFER,         /* a call rings the agent */
	AGENTS_INPUT_ANSWER,        /* the agent answered */
	AGENTS_INPUT_NO_ANSWER,     /* rang out, rejected, or unreachable */
	AGENTS_INPUT_NO_ANSWER_MAX, /* ... and the streak hit the limit */
	AGENTS_INPUT_CANCEL,        /* the offer went to someone else or the
				       caller left: not the agent's fault */
	AGENTS_INPUT_CALL_END,
	AGENTS_INPUT_WRAPUP_DONE, /* wrap-up time over, or a disposition */
	AGENTS_INPUT__COUNT,
};

/* Returns the next state, or -EINVAL when input is not allowed in state. */
int agents_state_next(enum acd_agent_state state, enum agents_input input);

/* True when the agent is busy with a call in state (ringing, in a call or
 * in wrap-up): requests then wait for the call to end. */
bool agents_state_busy(enum acd_agent_state state);

const char *agents_input_name(enum agents_input input);

#endif /* APP_AGENTS_STATE_H */
