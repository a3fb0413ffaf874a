/* test-agents-state.c: the agent state machine, as a table. */
#include <check.h>
#include <errno.h>

#include "agents/state.h"
#include "testlib.h"

#define OFF ACD_AGENT_OFFLINE
#define AVAIL ACD_AGENT_AVAILABLE
#define RING ACD_AGENT_RINGING
#define CALL ACD_AGENT_IN_CALL
#define ACW ACD_AGENT_AFTER_CALL_WORK
#define PAUSED ACD_AGENT_PAUSED

START_TEST(transitions)
{
	static const struct {
		enum acd_agent_state from;
		enum agents_input input;
		int to;
	} rows[] = {
	    {OFF, AGENTS_INPUT_LOGIN, AVAIL},
	    {OFF, AGENTS_INPUT_OFFER, -EINVAL},
	    {AVAIL, AGENTS_INPUT_OFFER, RING},
	    {AVAIL, AGENTS_INPUT_PAUSE, PAUSED},
	    {AVAIL, AGENTS_INPUT_LOGOUT, OFF},
	    {RING, AGENTS_INPUT_ANSWER, CALL},
	    {RING, AGENTS_INPUT_NO_ANSWER, AVAIL},
	    {RING, AGENTS_INPUT_NO_ANSWER_MAX, PAUSED},
	    {RING, AGENTS_INPUT_CANCEL, AVAIL},
	    /* Never offered a second call while ringing or talking. */
	    {RING, AGENTS_INPUT_OFFER, -EINVAL},
	    {CALL, AGENTS_INPUT_OFFER, -EINVAL},
	    {CALL, AGENTS_INPUT_PAUSE, -EINVAL},
	    {CALL, AGENTS_INPUT_CALL_END, ACW},
	    /* Nor during wrap-up. */
	    {ACW, AGENTS_INPUT_OFFER, -EINVAL},
	    {ACW, AGENTS_INPUT_WRAPUP_DONE, AVAIL},
	    {PAUSED, AGENTS_INPUT_OFFER, -EINVAL},
	    {PAUSED, AGENTS_INPUT_LOGIN, AVAIL},
	    {PAUSED, AGENTS_INPUT_LOGOUT, OFF},
	    {ACD_AGENT__COUNT, AGENTS_INPUT_LOGIN, -EINVAL},
	    {AVAIL, AGENTS_INPUT__COUNT, -EINVAL},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(agents_state_next(rows[i].from, rows[i].input) ==
				  rows[i].to,
			      "row %zu", i);
}
END_TEST

START_TEST(only_available_takes_offers)
{
	for (int s = 0; s < ACD_AGENT__COUNT; s++) {
		int next = agents_state_next((enum acd_agent_state)s,
					     AGENTS_INPUT_OFFER);
		ck_assert_int_eq(next >= 0, s == AVAIL);
		ck_assert_int_eq(agents_state_busy((enum acd_agent_state)s),
				 s == RING || s == CALL || s == ACW);
	}
	ck_assert_str_eq(agents_input_name(AGENTS_INPUT_WRAPUP_DONE),
			 "wrapup_done");
	ck_assert_str_eq(agents_input_name(AGENTS_INPUT__COUNT), "?");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agents-state");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, transitions);
	tcase_add_test(tc, only_available_takes_offers);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
