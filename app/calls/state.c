/* state.c: transitions of a handled call, as a table. */
#include "calls/state.h"

#define ANSWERING CALL_STATE_ANSWERING
#define PROMPTING CALL_STATE_PROMPTING
#define HANGING_UP CALL_STATE_HANGING_UP
#define GONE CALL_STATE_GONE

/* transitions[state][input] */
static const enum call_state transitions[CALL_STATE__COUNT][CALL_INPUT__COUNT] =
    {
	/*               answered   prompt_done  failed      timeout     left */
	[ANSWERING] = {PROMPTING, ANSWERING, HANGING_UP, HANGING_UP, GONE},
	[PROMPTING] = {PROMPTING, HANGING_UP, HANGING_UP, HANGING_UP, GONE},
	[HANGING_UP] = {HANGING_UP, HANGING_UP, HANGING_UP, HANGING_UP, GONE},
	[GONE] = {GONE, GONE, GONE, GONE, GONE},
};

static const unsigned timeouts_ms[CALL_STATE__COUNT] = {
    [ANSWERING] = 10000,
    /* A prompt is a few seconds; this only catches a lost event. */
    [PROMPTING] = 30000,
    [HANGING_UP] = 5000,
    [GONE] = 0,
};

static const char *const state_names[CALL_STATE__COUNT] = {
    [ANSWERING] = "answering",
    [PROMPTING] = "prompting",
    [HANGING_UP] = "hanging_up",
    [GONE] = "gone",
};

static const char *const input_names[CALL_INPUT__COUNT] = {
    [CALL_INPUT_ANSWERED] = "answered",
    [CALL_INPUT_PROMPT_DONE] = "prompt_done",
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
