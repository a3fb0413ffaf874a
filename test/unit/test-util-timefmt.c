/* test-util-timefmt.c: instants as RFC 3339 text, and their limits. */
#include <check.h>
#include <errno.h>

#include "testlib.h"
#include "util/timefmt.h"

START_TEST(formats_with_milliseconds)
{
	char buf[TIMEFMT_SIZE];

	ck_assert_int_eq(timefmt_rfc3339(1795553816273863, buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, "2026-11-24T20:56:56.273Z");
	ck_assert_int_eq(timefmt_rfc3339(0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
	/* Before 1970 the instant rounds down, not toward zero. */
	ck_assert_int_eq(timefmt_rfc3339(-1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(refuses_what_does_not_fit)
{
	char buf[TIMEFMT_SIZE], small[TIMEFMT_SIZE - 1] = "x";

	ck_assert_int_eq(timefmt_rfc3339(0, small, sizeof(small)), -EINVAL);
	ck_assert_str_eq(small, "");
	/* Year 10000 and year 999. */
	ck_assert_int_eq(timefmt_rfc3339(253402300800000000, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(timefmt_rfc3339(-30610224000000001, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-timefmt");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, formats_with_milliseconds);
	tcase_add_test(tc, refuses_what_does_not_fit);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
