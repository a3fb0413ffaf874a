/* test-campaigns-stats.c: a queue's figures for the day and for the last 15
 * minutes, with the clock given: calls counted in both, minutes sliding out
 * of the window, a bucket reused by a later minute, the day starting again
 * at local midnight. */
#include <check.h>

#include "testlib.h"
#include <stdlib.h>
#include <time.h>

#include "campaigns/stats.h"

#define MIN_US 60000000LL

/* 2026-03-10 10:00:00 in TZ=UTC. */
static const int64_t t0 = 1773136800LL * 1000000;

static void setup(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

START_TEST(counts_in_both)
{
	struct campaign_stats st;
	struct campaign_figures f;
	int64_t since;

	campaigns_stats_init(&st, t0);
	campaigns_stats_answered(&st, 5.0, 20, t0 + 1000);
	campaigns_stats_answered(&st, 30.0, 20, t0 + 2000);
	campaigns_stats_abandoned(&st, t0 + 3000);
	ck_assert(st.dirty);
	campaigns_stats_day(&st, t0 + 4000, &f, &since);
	ck_assert_int_eq(since, t0);
	ck_assert_uint_eq(f.answered, 2);
	ck_assert_uint_eq(f.abandoned, 1);
	ck_assert_uint_eq(f.answered_in_sl, 1);
	ck_assert_double_eq_tol(f.wait_sum_s, 35.0, 1e-9);
	campaigns_stats_recent(&st, t0 + 4000, &f);
	ck_assert_uint_eq(f.answered, 2);
	ck_assert_uint_eq(f.abandoned, 1);
}
END_TEST

START_TEST(window_slides)
{
	struct campaign_stats st;
	struct campaign_figures f;
	int64_t since;

	campaigns_stats_init(&st, t0);
	for (int m = 0; m < 20; m++) /* one answer a minute */
		campaigns_stats_answered(&st, 1.0, 20, t0 + m * MIN_US);
	campaigns_stats_recent(&st, t0 + 19 * MIN_US, &f);
	ck_assert_uint_eq(f.answered, 15); /* minutes 5..19 */
	campaigns_stats_recent(&st, t0 + 25 * MIN_US, &f);
	ck_assert_uint_eq(f.answered, 9); /* minutes 11..19 */
	campaigns_stats_recent(&st, t0 + 40 * MIN_US, &f);
	ck_assert_uint_eq(f.answered, 0);
	/* A bucket reused 15 minutes later starts from zero. */
	campaigns_stats_abandoned(&st, t0 + 34 * MIN_US);
	campaigns_stats_recent(&st, t0 + 34 * MIN_US, &f);
	ck_assert_uint_eq(f.answered, 0);
	ck_assert_uint_eq(f.abandoned, 1);
	campaigns_stats_day(&st, t0 + 34 * MIN_US, &f, &since);
	ck_assert_uint_eq(f.answered, 20);
	ck_assert_uint_eq(f.abandoned, 1);
}
END_TEST

START_TEST(day_starts_at_midnight)
{
	const int64_t midnight = t0 + 14 * 60 * MIN_US; /* 2026-03-11 00:00 */
	struct campaign_stats st;
	struct campaign_figures f;
	int64_t since;

	campaigns_stats_init(&st, t0);
	campaigns_stats_answered(&st, 3.0, 20, t0 + 13 * 60 * MIN_US);
	/* Past midnight with no call yet: the new day shows zero. */
	campaigns_stats_day(&st, midnight + MIN_US, &f, &since);
	ck_assert_uint_eq(f.answered, 0);
	ck_assert_int_eq(since, midnight);
	/* The call of 23:00 is an hour old: out of the window too. */
	campaigns_stats_recent(&st, midnight + MIN_US, &f);
	ck_assert_uint_eq(f.answered, 0);
	campaigns_stats_abandoned(&st, midnight + 2 * MIN_US);
	campaigns_stats_day(&st, midnight + 3 * MIN_US, &f, &since);
	ck_assert_uint_eq(f.answered, 0);
	ck_assert_uint_eq(f.abandoned, 1);
	ck_assert_int_eq(since, midnight);
}
END_TEST

START_TEST(time_alone_marks_dirty)
{
	struct campaign_stats st;

	campaigns_stats_init(&st, t0);
	ck_assert(!campaigns_stats_tick(&st, t0 + 1000)); /* nothing counted */
	campaigns_stats_answered(&st, 1.0, 20, t0 + 2000);
	st.dirty = false;
	ck_assert(!campaigns_stats_tick(&st, t0 + 3000)); /* same minute */
	ck_assert(campaigns_stats_tick(&st, t0 + MIN_US));
	ck_assert(st.dirty);
	ck_assert(!campaigns_stats_tick(&st, t0 + MIN_US + 1000));
	st.dirty = false;
	/* Once the call has left the window, minutes change nothing... */
	ck_assert(campaigns_stats_tick(&st, t0 + 16 * MIN_US));
	ck_assert(!campaigns_stats_tick(&st, t0 + 18 * MIN_US));
	/* ... until midnight. */
	ck_assert(campaigns_stats_tick(&st, t0 + 14 * 60 * MIN_US));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("campaigns-stats");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, counts_in_both);
	tcase_add_test(tc, window_slides);
	tcase_add_test(tc, day_starts_at_midnight);
	tcase_add_test(tc, time_alone_marks_dirty);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
