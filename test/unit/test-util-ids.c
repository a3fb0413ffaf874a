/* test-util-ids.c: format, uniqueness and ownership of generated ids. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "util/ids.h"

START_TEST(format_and_ownership)
{
	char id[IDS_MAX];
	int len = ids_new(id, sizeof(id), "br");

	ck_assert_int_gt(len, 0);
	ck_assert_int_eq((int)strlen(id), len);
	ck_assert(strncmp(id, "wd-br-", 6) == 0);
	ck_assert_int_eq(strspn(id + 6, "abcdefghijklmnopqrstuvwxyz234567"),
			 len - 6);
	ck_assert(ids_is_ours(id, "br"));
	ck_assert(ids_is_ours(id, NULL));
	ck_assert(!ids_is_ours(id, "b"));
	ck_assert(!ids_is_ours(id, "chan"));
	ck_assert(!ids_is_ours("1700000000.42", NULL));
	ck_assert(!ids_is_ours(NULL, NULL));
}
END_TEST

START_TEST(unique)
{
	char a[IDS_MAX], b[IDS_MAX];

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_gt(ids_new(a, sizeof(a), "call"), 0);
		ck_assert_int_gt(ids_new(b, sizeof(b), "call"), 0);
		ck_assert_str_ne(a, b);
	}
}
END_TEST

START_TEST(rejects_bad_input_and_leaves_buffer)
{
	char small[8] = "keep";
	char id[IDS_MAX] = "keep";

	ck_assert_int_eq(ids_new(small, sizeof(small), "call"), -ENOBUFS);
	ck_assert_str_eq(small, "keep");
	ck_assert_int_eq(ids_new(id, sizeof(id), ""), -EINVAL);
	ck_assert_int_eq(ids_new(id, sizeof(id), "Bad-Kind"), -EINVAL);
	ck_assert_int_eq(ids_new(id, sizeof(id), "averyveryverylongkind"),
			 -EINVAL);
	ck_assert_str_eq(id, "keep");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-ids");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, format_and_ownership);
	tcase_add_test(tc, unique);
	tcase_add_test(tc, rejects_bad_input_and_leaves_buffer);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
