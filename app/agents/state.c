/* state.c: agent transitions, as a table. */
#include "agents/state.h"

#include <errno.h>

#define OFF ACD_AGENT_OFFLINE
#define AVAIL ACD_AGENT_AVAILABLE
#define RING ACD_AGENT_RINGING
#define CALL ACD_AGENT_IN_CALL
#define ACW ACD_AGENT_AFTER_CALL_WORK
#define PAUSED ACD_AGENT_PAUSED
#define NO (-1)

/* transitions[state][input]; NO marks an input the state refuses. */
static const int transitions[ACD_AGENT__COUNT][AGENTS_INPUT__COUNT] = {
    /*          login  pause   logout offer answer noans  noans_max cancel end  wrapup */
    [OFF] = {AVAIL, PAUSED, OFF, NO, NO, NO, NO, NO, NO, NO},
    [AVAIL] = {AVAIL, PAUSED, OFF, RING, NO, NO, NO, NO, NO, NO},
    [RING] = {NO, NO, NO, NO, CALL, AVAIL, PAUSED, AVAIL, NO, NO},
    [CALL] = {NO, NO, NO, NO, NO, NO, NO, NO, ACW, NO},
    [ACW] = {NO, NO, NO, NO, NO, NO, NO, NO, NO, AVAIL},
    [PAUSED] = {AVAIL, PAUSED, OFF, NO, NO, NO, NO, NO, NO, NO},
};

static const char *const input_names[AGENTS_INPUT__COUNT] = {
    [AGENTS_INPUT_LOGIN] = "login",
    [AGENTS_INPUT_PAUSE] = "pause",
    [AGENTS_INPUT_LOGOUT] = "logout",
    [AGENTS_INPUT_OFFER] = "offer",
    [AGENTS_INPUT_ANSWER] = "answer",
    [AGENTS_INPUT_NO_ANSWER] = "no_answer",
    [AGENTS_INPUT_NO_ANSWER_MAX] = "no_answer_max",
    [AGENTS_INPUT_CANCEL] = "cancel",
    [AGENTS_INPUT_CALL_END] = "call_end",
    [AGENTS_INPUT_WRAPUP_DONE] = "wrapup_done",
};

int agents_state_next(enum acd_agent_state state, enum agents_input input)
{
	int next;

	if ((unsigned)state >= ACD_AGENT__COUNT ||
	    (unsigned)input >= AGENTS_INPUT__COUNT)
		return -EINVAL;
	next = transitions[state][input];
	return next == NO ? -EINVAL : next;
}

bool agents_state_busy(enum acd_agent_state state)
{
	return state == RING || state == CALL || state == ACW;
}

const char *agents_input_name(enum agents_input input)
{
	return (unsigned)input < AGENTS_INPUT__COUNT ? input_names[input] : "?";
}
