/* state.h: the state machine of a call the daemon handles. */
#ifndef APP_CALLS_STATE_H
#define APP_CALLS_STATE_H

/*
 * Until the queue exists, every call entering Stasis is answered, hears a
 * short prompt and is hung up:
 *
 *   ANSWERING --answered--> PROMPTING --prompt_done--> HANGING_UP
 *       |                      |                          |
 *       +------failed/timeout--+--------------------------+
 *                                                         v
 *   (any) --left (StasisEnd or destroyed)--> GONE
 *
 * A timeout in HANGING_UP stays there, so the hangup is sent again.
 */
enum call_state {
	CALL_STATE_ANSWERING = 0,
	CALL_STATE_PROMPTING,
	CALL_STATE_HANGING_UP,
	CALL_STATE_GONE,
	CALL_STATE__COUNT,
};

enum call_input {
	CALL_INPUT_ANSWERED = 0,
	CALL_INPUT_PROMPT_DONE,
	CALL_INPUT_FAILED,
	CALL_INPUT_TIMEOUT,
	CALL_INPUT_LEFT,
	CALL_INPUT__COUNT,
};

/* Returns the state that follows state on input; pure. */
enum call_state calls_state_next(enum call_state state, enum call_input input);

/* Returns how long a call may stay in state before CALL_INPUT_TIMEOUT, in
 * milliseconds (0: no limit). */
unsigned calls_state_timeout_ms(enum call_state state);

const char *calls_state_name(enum call_state state);
const char *calls_input_name(enum call_input input);

#endif /* APP_CALLS_STATE_H */
