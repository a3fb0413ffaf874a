/* test-util-rand.c: random values vary and cover every bit. */
#include <check.h>

#include "testlib.h"
#include "util/rand.h"

START_TEST(values_vary_and_cover_bits)
{
	uint64_t seen_one = 0, seen_zero = 0, prev = rand_u64();
	int repeats = 0;

	for (int i = 0; i < 1000; i++) {
		uint64_t r = rand_u64();
		repeats += r == prev;
		seen_one |= r;
		seen_zero |= ~r;
		prev = r;
	}
	ck_assert_int_eq(repeats, 0);
	ck_assert(seen_one == UINT64_MAX);
	ck_assert(seen_zero == UINT64_MAX);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-rand");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, values_vary_and_cover_bits);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
