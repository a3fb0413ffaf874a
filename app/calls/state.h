/* state.h: the state machine of a call, one table per direction. */
#ifndef APP_CALLS_STATE_H
#define APP_CALLS_STATE_H

#include <stdint.h>

/*
 * Inbound (a caller from the trunk, queued for an agent):
 *
 *   ROUTING --queue--> QUEUED --agent_answered--> CONNECTING --bridged-->
 *      |                 |                              |      TALKING
 *    refuse            refuse (overflow, max wait)      |         |
 *      v                 v                              |         |
 *   PROMPTING <----------+                              |         |
 *      |                                                |         |
 *   prompt_done                                         |         |
 *      v                                                |         |
 *   HANGING_UP <-------failed/timeout/agent_left--------+---------+
 *
 * Outbound (an agent calls a customer; the agent's phone rings first):
 *
 *   RINGING_AGENT --agent_answered--> RINGING_CUSTOMER --customer_answered-->
 *        |                                  |
 *   agent_failed, timeout          customer_failed, customer_left, timeout
 *        v                                  v
 *   HANGING_UP <----------------------------+   CONNECTING --bridged--> TALKING
 *
 *   (any) --hangup (the API)--> HANGING_UP
 *   (any) --left (every leg that holds the call is gone)--> GONE
 *
 * ROUTING decides at once where a new caller goes; QUEUED and PROMPTING
 * answer the caller on entry, QUEUED after its first offers went out, so
 * an agent's phone rings without waiting for the caller's answer (a failed
 * answer is FAILED there). HANGING_UP hangs up
 * every leg still up; a timeout there enters it again, which sends the
 * hangups again (a 404 then says a leg is gone).
 */
enum call_direction {
	CALL_INBOUND = 0,
	CALL_OUTBOUND,
	CALL_DIRECTION__COUNT,
};

enum call_state {
	CALL_STATE_ROUTING = 0,
	CALL_STATE_PROMPTING,
	CALL_STATE_QUEUED,
	CALL_STATE_RINGING_AGENT,
	CALL_STATE_RINGING_CUSTOMER,
	CALL_STATE_CONNECTING,
	CALL_STATE_TALKING,
	CALL_STATE_HANGING_UP,
	CALL_STATE_GONE,
	CALL_STATE__COUNT,
};

enum call_input {
	CALL_INPUT_QUEUE = 0,
	CALL_INPUT_REFUSE,
	CALL_INPUT_AGENT_ANSWERED, /* an agent's leg answered */
	CALL_INPUT_BRIDGED,
	CALL_INPUT_PROMPT_DONE,
	CALL_INPUT_AGENT_LEFT, /* the agent's leg left (answered or not) */
	CALL_INPUT_FAILED,     /* a request the call needed failed */
	CALL_INPUT_TIMEOUT,
	CALL_INPUT_LEFT,         /* every leg that holds the call is gone */
	CALL_INPUT_AGENT_FAILED, /* an offer ended unanswered */
	CALL_INPUT_CUSTOMER_ANSWERED,
	CALL_INPUT_CUSTOMER_FAILED, /* busy, no answer, unreachable */
	CALL_INPUT_CUSTOMER_LEFT,
	CALL_INPUT_HANGUP, /* asked for (the API) */
	CALL_INPUT__COUNT,
	CALL_INPUT_NONE = CALL_INPUT__COUNT, /* an entry leads nowhere */
};

/*
 * What a transition does before entering its state, in this order. The
 * state is already the new one when they run: what they release (agents)
 * may dispatch again and must not see the old state. A transition holds a
 * set of them as bits: CALL_DO(WIN) | CALL_DO(CANCEL_OFFERS).
 */
enum call_action {
	CALL_ACT_BY_CALLER = 0, /* hung up by: unless already known */
	CALL_ACT_BY_AGENT,
	CALL_ACT_BY_SYSTEM,
	CALL_ACT_CAUSE,    /* the input's Q.850 cause, if unset */
	CALL_ACT_CAUSE_19, /* no answer (19), if unset */
	CALL_ACT_LATE,     /* the answering leg lost: hung up */
	CALL_ACT_WIN,      /* the answering agent gets the call */
	/* Before MISSED: the agent the miss frees may be offered calls at
	 * once, and must not be offered this one again too soon. */
	CALL_ACT_RETRY,       /* remember the decline, wait, retry */
	CALL_ACT_MISSED,      /* the leg's offer ended unanswered */
	CALL_ACT_CUSTOMER_UP, /* the customer answered */
	CALL_ACT_CUSTOMER_FAILED,
	CALL_ACT_CANCEL_OFFERS, /* legs still ringing hung up */
	CALL_ACT_LEAVE_QUEUE,
	CALL_ACT_END_TALK, /* agent to wrap-up, bridge destroyed */
	CALL_ACT_REENTER,  /* run the entry of the same state again */
	CALL_ACT__COUNT,
};
#define CALL_DO(action) (1u << CALL_ACT_##action)

struct call_transition {
	enum call_state next;
	uint32_t actions; /* CALL_DO() bits */
};

/* Returns what input does in state for a call of direction; pure. An input
 * a state does not handle leaves it where it is with no action. Out of
 * range arguments give GONE. */
struct call_transition calls_state_step(enum call_direction direction,
					enum call_state state,
					enum call_input input);

/* The next state only (calls_state_step()'s next). */
enum call_state calls_state_next(enum call_direction direction,
				 enum call_state state, enum call_input input);

/* Returns how long a call may stay in state before CALL_INPUT_TIMEOUT, in
 * milliseconds (0: no limit, or a limit the entry sets). */
unsigned calls_state_timeout_ms(enum call_direction direction,
				enum call_state state);

/* The longest a state entered again after its timeout waits. */
#define CALLS_STATE_RETRY_MAX_MS 60000u

/* The limit of state entered for the (retries + 1)th time in a row, each
 * entry after a timeout (REENTER): the state's own, doubled with every
 * retry, up to CALLS_STATE_RETRY_MAX_MS. What such an entry sends again (a
 * hangup) timed out because Asterisk answers late, under load; sending it
 * as often as before would only add to that load. 0 for a state with no
 * limit of its own. */
unsigned calls_state_retry_ms(enum call_direction direction,
			      enum call_state state, unsigned retries);

const char *calls_state_name(enum call_state state);
/* The state as the API shows it ("connecting" until both sides talk). */
const char *calls_state_api_name(enum call_state state);
const char *calls_input_name(enum call_input input);
const char *calls_action_name(enum call_action action);
const char *calls_direction_name(enum call_direction direction);

#endif /* APP_CALLS_STATE_H */
