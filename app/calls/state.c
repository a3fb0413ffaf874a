/* state.c: transitions of a call, as one table per direction. */
#include "calls/state.h"

#define ROUTE CALL_STATE_ROUTING
#define PROMPT CALL_STATE_PROMPTING
#define QUEUED CALL_STATE_QUEUED
#define RAGENT CALL_STATE_RINGING_AGENT
#define RCUST CALL_STATE_RINGING_CUSTOMER
#define CONN CALL_STATE_CONNECTING
#define TALK CALL_STATE_TALKING
#define HUP CALL_STATE_HANGING_UP
#define GONE CALL_STATE_GONE

#define I(x) CALL_INPUT_##x
#define A(x) CALL_DO(x)
#define T(state, input, to, acts) [state][I(input)] = {to, acts}

/* What leaves a queue or a talk takes down with it. */
#define LEAVE_Q (A(CANCEL_OFFERS) | A(LEAVE_QUEUE))
#define BY_SYS A(BY_SYSTEM)

/* Unlisted pairs are {0, 0}: filled in as "stay" by step(). */
static const struct call_transition
    inbound[CALL_STATE__COUNT][CALL_INPUT__COUNT] = {
	T(ROUTE, QUEUE, QUEUED, 0),
	T(ROUTE, REFUSE, PROMPT, 0),
	T(ROUTE, FAILED, HUP, BY_SYS),
	T(ROUTE, TIMEOUT, HUP, BY_SYS),
	T(ROUTE, HANGUP, HUP, BY_SYS),
	T(ROUTE, LEFT, GONE, A(BY_CALLER)),

	T(PROMPT, PROMPT_DONE, HUP, BY_SYS),
	T(PROMPT, FAILED, HUP, BY_SYS),
	T(PROMPT, TIMEOUT, HUP, BY_SYS),
	T(PROMPT, HANGUP, HUP, BY_SYS),
	T(PROMPT, LEFT, GONE, A(BY_CALLER)),
	T(PROMPT, AGENT_ANSWERED, PROMPT, A(LATE)),
	T(PROMPT, AGENT_FAILED, PROMPT, A(MISSED)),

	T(QUEUED, REFUSE, PROMPT, LEAVE_Q),
	T(QUEUED, AGENT_ANSWERED, CONN, A(WIN) | LEAVE_Q),
	T(QUEUED, AGENT_FAILED, QUEUED, A(MISSED) | A(RETRY)),
	T(QUEUED, FAILED, HUP, BY_SYS | LEAVE_Q),
	T(QUEUED, HANGUP, HUP, BY_SYS | LEAVE_Q),
	T(QUEUED, LEFT, GONE, A(BY_CALLER) | LEAVE_Q),

	T(CONN, BRIDGED, TALK, 0),
	T(CONN, AGENT_LEFT, HUP, A(BY_AGENT) | A(END_TALK)),
	T(CONN, FAILED, HUP, BY_SYS | A(END_TALK)),
	T(CONN, TIMEOUT, HUP, BY_SYS | A(END_TALK)),
	T(CONN, HANGUP, HUP, BY_SYS | A(END_TALK)),
	T(CONN, LEFT, GONE, A(BY_CALLER) | A(END_TALK)),
	T(CONN, AGENT_ANSWERED, CONN, A(LATE)),
	T(CONN, AGENT_FAILED, CONN, A(MISSED)),

	T(TALK, AGENT_LEFT, HUP, A(BY_AGENT) | A(END_TALK)),
	T(TALK, FAILED, HUP, BY_SYS | A(END_TALK)),
	T(TALK, HANGUP, HUP, BY_SYS | A(END_TALK)),
	T(TALK, LEFT, GONE, A(BY_CALLER) | A(END_TALK)),
	T(TALK, AGENT_ANSWERED, TALK, A(LATE)),
	T(TALK, AGENT_FAILED, TALK, A(MISSED)),

	T(HUP, TIMEOUT, HUP, A(REENTER)),
	T(HUP, LEFT, GONE, 0),
	T(HUP, AGENT_ANSWERED, HUP, A(LATE)),
	T(HUP, AGENT_FAILED, HUP, A(MISSED)),
};

/* The agent's leg holds an outbound call from the start and the customer's
 * once dialed: LEFT means both are gone. */
#define RAGENT_END (A(CAUSE) | A(CAUSE_19) | A(CANCEL_OFFERS))
#define CUST_FAIL (A(CUSTOMER_FAILED) | A(END_TALK))

static const struct call_transition
    outbound[CALL_STATE__COUNT][CALL_INPUT__COUNT] = {
	T(RAGENT, AGENT_ANSWERED, RCUST, A(WIN)),
	T(RAGENT, AGENT_FAILED, HUP, A(BY_AGENT) | A(CAUSE_19) | A(MISSED)),
	T(RAGENT, AGENT_LEFT, HUP, A(BY_AGENT) | RAGENT_END),
	T(RAGENT, LEFT, GONE, A(BY_AGENT) | RAGENT_END),
	T(RAGENT, TIMEOUT, HUP, BY_SYS | A(CAUSE_19) | A(CANCEL_OFFERS)),
	T(RAGENT, HANGUP, HUP, BY_SYS | A(CAUSE) | A(CANCEL_OFFERS)),
	T(RAGENT, FAILED, HUP, BY_SYS | A(CAUSE) | A(CANCEL_OFFERS)),

	T(RCUST, CUSTOMER_ANSWERED, CONN, A(CUSTOMER_UP)),
	T(RCUST, CUSTOMER_FAILED, HUP, CUST_FAIL),
	T(RCUST, CUSTOMER_LEFT, HUP, CUST_FAIL),
	T(RCUST, TIMEOUT, HUP, CUST_FAIL),
	T(RCUST, AGENT_LEFT, HUP, A(BY_AGENT) | A(CAUSE_19) | A(END_TALK)),
	T(RCUST, LEFT, GONE, A(BY_AGENT) | A(CAUSE_19) | A(END_TALK)),
	T(RCUST, HANGUP, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),
	T(RCUST, FAILED, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),

	T(CONN, BRIDGED, TALK, 0),
	T(CONN, AGENT_LEFT, HUP, A(BY_AGENT) | A(CAUSE) | A(END_TALK)),
	T(CONN, CUSTOMER_LEFT, HUP, A(BY_CALLER) | A(CAUSE) | A(END_TALK)),
	T(CONN, LEFT, GONE, BY_SYS | A(END_TALK)),
	T(CONN, FAILED, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),
	T(CONN, HANGUP, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),
	T(CONN, TIMEOUT, HUP, BY_SYS | A(CAUSE_19) | A(END_TALK)),

	T(TALK, AGENT_LEFT, HUP, A(BY_AGENT) | A(CAUSE) | A(END_TALK)),
	T(TALK, CUSTOMER_LEFT, HUP, A(BY_CALLER) | A(CAUSE) | A(END_TALK)),
	T(TALK, LEFT, GONE, BY_SYS | A(END_TALK)),
	T(TALK, FAILED, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),
	T(TALK, HANGUP, HUP, BY_SYS | A(CAUSE) | A(END_TALK)),

	T(HUP, TIMEOUT, HUP, A(REENTER)),
	T(HUP, LEFT, GONE, 0),
	T(HUP, AGENT_ANSWERED, HUP, A(LATE)),
	T(HUP, AGENT_FAILED, HUP, A(MISSED)),
};

static const struct call_transition (
	*const tables[CALL_DIRECTION__COUNT])[CALL_INPUT__COUNT] = {
    [CALL_INBOUND] = inbound,
    [CALL_OUTBOUND] = outbound,
};

static const unsigned timeouts_ms[CALL_DIRECTION__COUNT][CALL_STATE__COUNT] = {
    [CALL_INBOUND] =
	{
	    [ROUTE] = 10000,
	    /* A prompt is a few seconds; this only catches a lost event. */
	    [PROMPT] = 30000,
	    /* Waiting callers are bounded by their campaign's max wait. */
	    [CONN] = 10000,
	    [HUP] = 5000,
	},
    [CALL_OUTBOUND] =
	{
	    /* RINGING_AGENT: the campaign's ring time, set on entry. The
	     * customer rings 45 s; 15 s more catch a lost event. */
	    [RCUST] = 60000,
	    [CONN] = 10000,
	    [HUP] = 5000,
	},
};

static const char *const state_names[CALL_STATE__COUNT] = {
    [ROUTE] = "routing",
    [PROMPT] = "prompting",
    [QUEUED] = "queued",
    [RAGENT] = "ringing_agent",
    [RCUST] = "ringing_customer",
    [CONN] = "connecting",
    [TALK] = "talking",
    [HUP] = "hanging_up",
    [GONE] = "gone",
};

static const char *const input_names[CALL_INPUT__COUNT] = {
    [I(QUEUE)] = "queue",
    [I(REFUSE)] = "refuse",
    [I(AGENT_ANSWERED)] = "agent_answered",
    [I(BRIDGED)] = "bridged",
    [I(PROMPT_DONE)] = "prompt_done",
    [I(AGENT_LEFT)] = "agent_left",
    [I(FAILED)] = "failed",
    [I(TIMEOUT)] = "timeout",
    [I(LEFT)] = "left",
    [I(AGENT_FAILED)] = "agent_failed",
    [I(CUSTOMER_ANSWERED)] = "customer_answered",
    [I(CUSTOMER_FAILED)] = "customer_failed",
    [I(CUSTOMER_LEFT)] = "customer_left",
    [I(HANGUP)] = "hangup",
};

static const char *const action_names[CALL_ACT__COUNT] = {
    [CALL_ACT_BY_CALLER] = "by_caller",
    [CALL_ACT_BY_AGENT] = "by_agent",
    [CALL_ACT_BY_SYSTEM] = "by_system",
    [CALL_ACT_CAUSE] = "cause",
    [CALL_ACT_CAUSE_19] = "cause_19",
    [CALL_ACT_LATE] = "late",
    [CALL_ACT_WIN] = "win",
    [CALL_ACT_RETRY] = "retry",
    [CALL_ACT_MISSED] = "missed",
    [CALL_ACT_CUSTOMER_UP] = "customer_up",
    [CALL_ACT_CUSTOMER_FAILED] = "customer_failed",
    [CALL_ACT_CANCEL_OFFERS] = "cancel_offers",
    [CALL_ACT_LEAVE_QUEUE] = "leave_queue",
    [CALL_ACT_END_TALK] = "end_talk",
    [CALL_ACT_REENTER] = "reenter",
};

struct call_transition calls_state_step(enum call_direction direction,
					enum call_state state,
					enum call_input input)
{
	struct call_transition t = {GONE, 0};

	if ((unsigned)direction >= CALL_DIRECTION__COUNT ||
	    (unsigned)state >= CALL_STATE__COUNT ||
	    (unsigned)input >= CALL_INPUT__COUNT)
		return t;
	t = tables[direction][state][input];
	/* Every state ends when the call's legs are gone. */
	if (input == CALL_INPUT_LEFT)
		t.next = GONE;
	else if (t.next == ROUTE && t.actions == 0)
		/* An empty slot (zero: nothing leads back to ROUTING): the
		 * input changes nothing. */
		t.next = state;
	return t;
}

enum call_state calls_state_next(enum call_direction direction,
				 enum call_state state, enum call_input input)
{
	return calls_state_step(direction, state, input).next;
}

unsigned calls_state_timeout_ms(enum call_direction direction,
				enum call_state state)
{
	if ((unsigned)direction >= CALL_DIRECTION__COUNT ||
	    (unsigned)state >= CALL_STATE__COUNT)
		return 0;
	return timeouts_ms[direction][state];
}

unsigned calls_state_retry_ms(enum call_direction direction,
			      enum call_state state, unsigned retries)
{
	uint64_t ms = calls_state_timeout_ms(direction, state);

	while (ms && retries-- && ms < CALLS_STATE_RETRY_MAX_MS)
		ms *= 2;
	return ms > CALLS_STATE_RETRY_MAX_MS ? CALLS_STATE_RETRY_MAX_MS
					     : (unsigned)ms;
}

const char *calls_state_name(enum call_state state)
{
	return (unsigned)state < CALL_STATE__COUNT ? state_names[state] : "?";
}

const char *calls_state_api_name(enum call_state state)
{
	if (state == RAGENT || state == RCUST)
		return "connecting";
	return calls_state_name(state);
}

const char *calls_input_name(enum call_input input)
{
	return (unsigned)input < CALL_INPUT__COUNT ? input_names[input] : "?";
}

const char *calls_action_name(enum call_action action)
{
	return (unsigned)action < CALL_ACT__COUNT ? action_names[action] : "?";
}

const char *calls_direction_name(enum call_direction direction)
{
	return direction == CALL_OUTBOUND ? "outbound" : "inbound";
}
