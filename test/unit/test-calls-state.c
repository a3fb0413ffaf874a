/* test-calls-state.c: the caller's call state machine, as a table. */
#include <check.h>

#include "calls/state.h"
#include "testlib.h"

START_TEST(transitions)
{
	static const struct {
		enum call_state from;
		enum call_input input;
		enum call_state to;
	} rows[] = {
	    {CALL_STATE_ANSWERING, CALL_INPUT_ANSWERED, CALL_STATE_ROUTING},
	    {CALL_STATE_ANSWERING, CALL_INPUT_TIMEOUT, CALL_STATE_HANGING_UP},
	    {CALL_STATE_ROUTING, CALL_INPUT_QUEUE, CALL_STATE_QUEUED},
	    {CALL_STATE_ROUTING, CALL_INPUT_REFUSE, CALL_STATE_PROMPTING},
	    {CALL_STATE_QUEUED, CALL_INPUT_AGENT_ANSWERED,
	     CALL_STATE_CONNECTING},
	    {CALL_STATE_QUEUED, CALL_INPUT_REFUSE, CALL_STATE_PROMPTING},
	    /* Waiting has no state timeout: max wait is the campaign's. */
	    {CALL_STATE_QUEUED, CALL_INPUT_TIMEOUT, CALL_STATE_QUEUED},
	    {CALL_STATE_QUEUED, CALL_INPUT_LEFT, CALL_STATE_GONE},
	    {CALL_STATE_CONNECTING, CALL_INPUT_BRIDGED, CALL_STATE_TALKING},
	    {CALL_STATE_CONNECTING, CALL_INPUT_FAILED, CALL_STATE_HANGING_UP},
	    {CALL_STATE_TALKING, CALL_INPUT_AGENT_LEFT, CALL_STATE_HANGING_UP},
	    {CALL_STATE_TALKING, CALL_INPUT_TIMEOUT, CALL_STATE_TALKING},
	    {CALL_STATE_TALKING, CALL_INPUT_LEFT, CALL_STATE_GONE},
	    {CALL_STATE_PROMPTING, CALL_INPUT_PROMPT_DONE,
	     CALL_STATE_HANGING_UP},
	    {CALL_STATE_HANGING_UP, CALL_INPUT_TIMEOUT, CALL_STATE_HANGING_UP},
	    {CALL_STATE_HANGING_UP, CALL_INPUT_LEFT, CALL_STATE_GONE},
	    {CALL_STATE_GONE, CALL_INPUT_QUEUE, CALL_STATE_GONE},
	    {CALL_STATE__COUNT, CALL_INPUT_QUEUE, CALL_STATE_GONE},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(calls_state_next(rows[i].from, rows[i].input) ==
				  rows[i].to,
			      "row %zu", i);
}
END_TEST

START_TEST(every_state_ends_on_left)
{
	for (int s = 0; s < CALL_STATE__COUNT; s++) {
		ck_assert_int_eq(
		    calls_state_next((enum call_state)s, CALL_INPUT_LEFT),
		    CALL_STATE_GONE);
		ck_assert_str_ne(calls_state_name((enum call_state)s), "?");
	}
	ck_assert_uint_eq(calls_state_timeout_ms(CALL_STATE_QUEUED), 0);
	ck_assert_uint_gt(calls_state_timeout_ms(CALL_STATE_HANGING_UP), 0);
	ck_assert_str_eq(calls_input_name(CALL_INPUT_AGENT_ANSWERED),
			 "agent_answered");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calls-state");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, transitions);
	tcase_add_test(tc, every_state_ends_on_left);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
