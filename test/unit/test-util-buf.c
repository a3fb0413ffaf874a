/* test-util-buf.c: appends grow the buffer, keep a NUL, honour the cap. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "util/buf.h"

START_TEST(appends_keep_a_nul)
{
	char *data = NULL;
	size_t len = 0, cap = 0;

	ck_assert_int_eq(buf_append(&data, &len, &cap, "", 0, 100), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(data, "");
	ck_assert_int_eq(buf_append(&data, &len, &cap, "abc", 3, 100), 0);
	ck_assert_int_eq(buf_append(&data, &len, &cap, "de", 2, 100), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(data, "abcde");
	free(data);
}
END_TEST

/* Growth doubles but stops at the cap plus the NUL: a peer costs at most
 * max bytes. */
START_TEST(growth_stops_at_the_cap)
{
	char *data = NULL, chunk[700];
	size_t len = 0, cap = 0, max = 3000;

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(
		    buf_append(&data, &len, &cap, chunk, sizeof(chunk), max),
		    0);
	ck_assert_uint_eq(len, 2800);
	ck_assert_uint_le(cap, max + 1);
	ck_assert_int_eq(buf_append(&data, &len, &cap, chunk, 200, max), 0);
	ck_assert_uint_eq(len, max);
	ck_assert_uint_eq(cap, max + 1);
	ck_assert_int_eq(data[max], '\0');
	free(data);
}
END_TEST

START_TEST(past_the_cap_changes_nothing)
{
	char *data = NULL;
	size_t len = 0, cap = 0;

	ck_assert_int_eq(buf_append(&data, &len, &cap, "12345", 5, 8), 0);
	ck_assert_int_eq(buf_append(&data, &len, &cap, "6789", 4, 8),
			 -EMSGSIZE);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(data, "12345");
	ck_assert_int_eq(buf_append(&data, &len, &cap, "678", 3, 8), 0);
	ck_assert_str_eq(data, "12345678");
	free(data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, appends_keep_a_nul);
	tcase_add_test(tc, growth_stops_at_the_cap);
	tcase_add_test(tc, past_the_cap_changes_nothing);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
