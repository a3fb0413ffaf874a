/* state.h: the state machine of a caller's call. */
#ifndef APP_CALLS_STATE_H
#define APP_CALLS_STATE_H

/*
 *   ANSWERING --answered--> ROUTING --queue--> QUEUED --agent_answered-->
 *                              |                 |
 *                            refuse            refuse (overflow, max wait)
 *                              v                 v
 *                           PROMPTING <----------+
 *                              |
 *                         prompt_done         CONNECTING --bridged--> TALKING
 *                              v                  |                      |
 *                          HANGING_UP <--failed/timeout/agent_left-------+
 *
 *   (any) --left (StasisEnd)--> GONE
 *
 * ROUTING decides at once where an answered call goes: a campaign queue,
 * or a prompt (unknown number, full queue, no agents). A timeout in
 * HANGING_UP stays there, so the hangup is sent again.
 */
enum call_state {
	CALL_STATE_ANSWERING = 0,
	CALL_STATE_ROUTING,
	CALL_STATE_PROMPTING,
	CALL_STATE_QUEUED,
	CALL_STATE_CONNECTING,
	CALL_STATE_TALKING,
	CALL_STATE_HANGING_UP,
	CALL_STATE_GONE,
	CALL_STATE__COUNT,
};

enum call_input {
	CALL_INPUT_ANSWERED = 0,
	CALL_INPUT_QUEUE,
	CALL_INPUT_REFUSE,
	CALL_INPUT_AGENT_ANSWERED,
	CALL_INPUT_BRIDGED,
	CALL_INPUT_PROMPT_DONE,
	CALL_INPUT_AGENT_LEFT,
	CALL_INPUT_FAILED,
	CALL_INPUT_TIMEOUT,
	CALL_INPUT_LEFT,
	CALL_INPUT__COUNT,
};

/* Returns the state that follows state on input; pure. An input a state
 * does not handle leaves it where it is. */
enum call_state calls_state_next(enum call_state state, enum call_input input);

/* Returns how long a call may stay in state before CALL_INPUT_TIMEOUT, in
 * milliseconds (0: no limit). */
unsigned calls_state_timeout_ms(enum call_state state);

const char *calls_state_name(enum call_state state);
const char *calls_input_name(enum call_input input);

#endif /* APP_CALLS_STATE_H */
