/* test-util-backoff.c: bounds, growth and jitter of the backoff. */
#include <check.h>

#include "testlib.h"
#include "util/backoff.h"

START_TEST(grows_to_cap)
{
	static const uint32_t ceilings[] = {100,  200,  400, 800,
					    1600, 3000, 3000};
	struct backoff b;

	backoff_init(&b, 100, 3000);
	for (size_t i = 0; i < sizeof(ceilings) / sizeof(ceilings[0]); i++) {
		ck_assert_uint_eq(backoff_ceiling(&b), ceilings[i]);
		/* rnd 0 gives the low edge: half the ceiling, rounded up. */
		ck_assert_uint_eq(backoff_next(&b, 0),
				  ceilings[i] - ceilings[i] / 2);
	}
}
END_TEST

START_TEST(jitter_stays_in_window)
{
	struct backoff b;

	backoff_init(&b, 500, 30000);
	for (uint32_t i = 0; i < 40; i++) {
		uint32_t ceiling = backoff_ceiling(&b);
		uint32_t d = backoff_next(&b, i * 2654435761u);
		ck_assert_uint_ge(d, ceiling - ceiling / 2);
		ck_assert_uint_le(d, ceiling);
	}
	ck_assert_uint_eq(backoff_ceiling(&b), 30000);
}
END_TEST

START_TEST(reset_and_clamp)
{
	struct backoff b;

	backoff_init(&b, 0, 0);
	ck_assert_uint_eq(b.min_ms, 1);
	ck_assert_uint_eq(b.max_ms, 1);
	backoff_init(&b, 1000, 60000);
	for (int i = 0; i < 1000; i++)
		backoff_next(&b, 7);
	ck_assert_uint_eq(backoff_ceiling(&b), 60000);
	backoff_reset(&b);
	ck_assert_uint_eq(backoff_ceiling(&b), 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-backoff");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, grows_to_cap);
	tcase_add_test(tc, jitter_stays_in_window);
	tcase_add_test(tc, reset_and_clamp);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
