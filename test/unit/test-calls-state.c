/* test-calls-state.c: the call state machine, one table per direction. */
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
	    {CALL_STATE_ROUTING, CALL_INPUT_TIMEOUT, CALL_STATE_HANGING_UP},
	    /* An input ROUTING does not take leaves it there: the empty
	     * slot of the table is no transition to it. */
	    {CALL_STATE_ROUTING, CALL_INPUT_AGENT_ANSWERED, CALL_STATE_ROUTING},
	    {CALL_STATE_QUEUED, CALL_INPUT_FAILED, CALL_STATE_HANGING_UP},
	    {CALL_STATE_PROMPTING, CALL_INPUT_FAILED, CALL_STATE_HANGING_UP},
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
		ck_assert_msg(calls_state_next(CALL_INBOUND, rows[i].from,
					       rows[i].input) == rows[i].to,
			      "row %zu", i);
}
END_TEST

START_TEST(every_state_ends_on_left)
{
	for (int s = 0; s < CALL_STATE__COUNT; s++) {
		ck_assert_int_eq(calls_state_next(CALL_INBOUND,
						  (enum call_state)s,
						  CALL_INPUT_LEFT),
				 CALL_STATE_GONE);
		ck_assert_int_eq(calls_state_next(CALL_OUTBOUND,
						  (enum call_state)s,
						  CALL_INPUT_LEFT),
				 CALL_STATE_GONE);
		ck_assert_str_ne(calls_state_name((enum call_state)s), "?");
	}
	ck_assert_uint_eq(
	    calls_state_timeout_ms(CALL_INBOUND, CALL_STATE_QUEUED), 0);
	ck_assert_uint_gt(
	    calls_state_timeout_ms(CALL_INBOUND, CALL_STATE_HANGING_UP), 0);
	ck_assert_str_eq(calls_input_name(CALL_INPUT_AGENT_ANSWERED),
			 "agent_answered");
}
END_TEST

/* A hangup that timed out is sent again after 5, 10, 20, 40, 60, 60 s:
 * an Asterisk answering late is not asked faster than it answers. */
START_TEST(retries_back_off)
{
	static const unsigned hup_ms[] = {5000,  10000, 20000,
					  40000, 60000, 60000};
	enum call_direction d;

	for (d = CALL_INBOUND; d <= CALL_OUTBOUND; d++) {
		for (unsigned i = 0; i < sizeof(hup_ms) / sizeof(hup_ms[0]);
		     i++)
			ck_assert_uint_eq(
			    calls_state_retry_ms(d, CALL_STATE_HANGING_UP, i),
			    hup_ms[i]);
		ck_assert_uint_eq(
		    calls_state_retry_ms(d, CALL_STATE_HANGING_UP, ~0u),
		    CALLS_STATE_RETRY_MAX_MS);
	}
	ck_assert_uint_eq(
	    calls_state_retry_ms(CALL_INBOUND, CALL_STATE_QUEUED, 3), 0);
	ck_assert_uint_eq(
	    calls_state_retry_ms(CALL_INBOUND, CALL_STATE_ROUTING, 0),
	    calls_state_timeout_ms(CALL_INBOUND, CALL_STATE_ROUTING));
}
END_TEST

START_TEST(outbound_transitions)
{
	static const struct {
		enum call_state from;
		enum call_input input;
		enum call_state to;
		uint32_t actions;
	} rows[] = {
	    {CALL_STATE_RINGING_AGENT, CALL_INPUT_AGENT_ANSWERED,
	     CALL_STATE_RINGING_CUSTOMER, CALL_DO(WIN)},
	    {CALL_STATE_RINGING_AGENT, CALL_INPUT_AGENT_FAILED,
	     CALL_STATE_HANGING_UP,
	     CALL_DO(BY_AGENT) | CALL_DO(CAUSE_19) | CALL_DO(MISSED)},
	    {CALL_STATE_RINGING_CUSTOMER, CALL_INPUT_CUSTOMER_ANSWERED,
	     CALL_STATE_CONNECTING, CALL_DO(CUSTOMER_UP)},
	    {CALL_STATE_RINGING_CUSTOMER, CALL_INPUT_CUSTOMER_FAILED,
	     CALL_STATE_HANGING_UP,
	     CALL_DO(CUSTOMER_FAILED) | CALL_DO(END_TALK)},
	    {CALL_STATE_RINGING_CUSTOMER, CALL_INPUT_TIMEOUT,
	     CALL_STATE_HANGING_UP,
	     CALL_DO(CUSTOMER_FAILED) | CALL_DO(END_TALK)},
	    {CALL_STATE_CONNECTING, CALL_INPUT_BRIDGED, CALL_STATE_TALKING, 0},
	    {CALL_STATE_TALKING, CALL_INPUT_CUSTOMER_LEFT,
	     CALL_STATE_HANGING_UP,
	     CALL_DO(BY_CALLER) | CALL_DO(CAUSE) | CALL_DO(END_TALK)},
	    {CALL_STATE_TALKING, CALL_INPUT_TIMEOUT, CALL_STATE_TALKING, 0},
	    {CALL_STATE_HANGING_UP, CALL_INPUT_TIMEOUT, CALL_STATE_HANGING_UP,
	     CALL_DO(REENTER)},
	    /* The customer's answer after the call gave up changes nothing:
	     * the hangup takes the leg down. */
	    {CALL_STATE_HANGING_UP, CALL_INPUT_CUSTOMER_ANSWERED,
	     CALL_STATE_HANGING_UP, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct call_transition t = calls_state_step(
		    CALL_OUTBOUND, rows[i].from, rows[i].input);

		ck_assert_msg(t.next == rows[i].to, "row %zu", i);
		ck_assert_msg(t.actions == rows[i].actions,
			      "row %zu actions %#x", i, t.actions);
	}
}
END_TEST

/* The inbound table's actions: leaving the queue cancels the offers, and
 * a late answer is hung up wherever the call is. */
START_TEST(inbound_actions)
{
	struct call_transition t = calls_state_step(
	    CALL_INBOUND, CALL_STATE_QUEUED, CALL_INPUT_AGENT_ANSWERED);

	ck_assert_uint_eq(t.actions, CALL_DO(WIN) | CALL_DO(CANCEL_OFFERS) |
					 CALL_DO(LEAVE_QUEUE));
	t = calls_state_step(CALL_INBOUND, CALL_STATE_TALKING,
			     CALL_INPUT_AGENT_ANSWERED);
	ck_assert_uint_eq(t.actions, CALL_DO(LATE));
	t = calls_state_step(CALL_INBOUND, CALL_STATE_QUEUED,
			     CALL_INPUT_AGENT_FAILED);
	ck_assert_int_eq(t.next, CALL_STATE_QUEUED);
	ck_assert_uint_eq(t.actions, CALL_DO(RETRY) | CALL_DO(MISSED));
	/* Inbound calls never take outbound inputs. */
	t = calls_state_step(CALL_INBOUND, CALL_STATE_TALKING,
			     CALL_INPUT_CUSTOMER_LEFT);
	ck_assert_int_eq(t.next, CALL_STATE_TALKING);
	ck_assert_uint_eq(t.actions, 0);
	ck_assert_str_eq(calls_state_api_name(CALL_STATE_RINGING_AGENT),
			 "connecting");
	ck_assert_str_eq(calls_action_name(CALL_ACT_LEAVE_QUEUE),
			 "leave_queue");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calls-state");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, transitions);
	tcase_add_test(tc, every_state_ends_on_left);
	tcase_add_test(tc, outbound_transitions);
	tcase_add_test(tc, retries_back_off);
	tcase_add_test(tc, inbound_actions);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
