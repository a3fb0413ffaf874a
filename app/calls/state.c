/* state.c: transitions of a caller's call, as a table. */
#include "calls/state.h"

#define ANS CALL_STATE_ANSWERING
#define ROUTE CALL_STATE_ROUTING
#define PROMPT CALL_STATE_PROMPTING
#define QUEUED CALL_STATE_QUEUED
#define CONN CALL_STATE_CONNECTING
#define TALK CALL_STATE_TALKING
#define HUP CALL_STATE_HANGING_UP
#define GONE CALL_STATE_GONE

/* transitions[state][input]; columns in enum call_input order:
 * answered queue refuse agent_answered bridged prompt_done agent_left
 * failed timeout left */
static const enum call_state transitions[CALL_STATE__COUNT][CALL_INPUT__COUNT] =
    {
	[ANS] = {ROUTE, ANS, ANS, ANS, ANS, ANS, ANS, HUP, HUP, GONE},
	[ROUTE] = {ROUTE, QUEUED, PROMPT, ROUTE, ROUTE, ROUTE, ROUTE, HUP, HUP,
		   GONE},
	[PROMPT] = {PROMPT, PROMPT, PROMPT, PROMPT, PROMPT, HUP, PROMPT, HUP,
		    HUP, GONE},
	[QUEUED] = {QUEUED, QUEUED, PROMPT, CONN, QUEUED, QUEUED, QUEUED, HUP,
		    QUEUED, GONE},
	[CONN] = {CONN, CONN, CONN, CONN, TALK, CONN, HUP, HUP, HUP, GONE},
	[TALK] = {TALK, TALK, TALK, TALK, TALK, TALK, HUP, HUP, TALK, GONE},
	[HUP] = {HUP, HUP, HUP, HUP, HUP, HUP, HUP, HUP, HUP, GONE},
	[GONE] = {GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE, GONE},
};

static const unsigned timeouts_ms[CALL_STATE__COUNT] = {
    [ANS] = 10000,
    [ROUTE] = 10000,
    /* A prompt is a few seconds; this only catches a lost event. */
    [PROMPT] = 30000,
    /* Waiting callers are bounded by their campaign's max wait. */
    [QUEUED] = 0,
    [CONN] = 10000,
    [TALK] = 0,
    [HUP] = 5000,
    [GONE] = 0,
};

static const char *const state_names[CALL_STATE__COUNT] = {
    [ANS] = "answering",  [ROUTE] = "routing",   [PROMPT] = "prompting",
    [QUEUED] = "queued",  [CONN] = "connecting", [TALK] = "talking",
    [HUP] = "hanging_up", [GONE] = "gone",
};

static const char *const input_names[CALL_INPUT__COUNT] = {
    [CALL_INPUT_ANSWERED] = "answered",
    [CALL_INPUT_QUEUE] = "queue",
    [CALL_INPUT_REFUSE] = "refuse",
    [CALL_INPUT_AGENT_ANSWERED] = "agent_answered",
    [CALL_INPUT_BRIDGED] = "bridged",
    [CALL_INPUT_PROMPT_DONE] = "prompt_done",
    [CALL_INPUT_AGENT_LEFT] = "agent_left",
    [CALL_INPUT_FAILED] = "failed",
    [CALL_INPUT_TIMEOUT] = "timeout",
    [CALL_INPUT_LEFT] = "left",
};

enum call_state calls_state_next(enum call_state state, enum call_input input)
{
	if ((unsigned)state >= CALL_STATE__COUNT ||
	    (unsigned)input >= CALL_INPUT__COUNT)
		return GONE;
	return transitions[state][input];
}

unsigned calls_state_timeout_ms(enum call_state state)
{
	return (unsigned)state < CALL_STATE__COUNT ? timeouts_ms[state] : 0;
}

const char *calls_state_name(enum call_state state)
{
	return (unsigned)state < CALL_STATE__COUNT ? state_names[state] : "?";
}

const char *calls_input_name(enum call_input input)
{
	return (unsigned)input < CALL_INPUT__COUNT ? input_names[input] : "?";
}
