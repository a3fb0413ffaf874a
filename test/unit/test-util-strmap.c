/* test-util-strmap.c: the string map against a plain array model. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "util/strmap.h"

#define N 2000

START_TEST(put_get_remove_against_model)
{
	static int values[N];
	static bool present[N];
	struct strmap *map = strmap_new();
	char key[32];
	size_t expected = 0;

	ck_assert_ptr_nonnull(map);
	/* A fixed pseudo-random walk of puts and removes over N keys. */
	for (uint32_t step = 0, x = 12345; step < 20000; step++) {
		int k;

		x = x * 1103515245u + 12345u;
		k = (int)((x >> 8) % N);
		snprintf(key, sizeof(key), "%d.%d", k, k * 7);
		if (present[k]) {
			ck_assert_ptr_eq(strmap_remove(map, key), &values[k]);
			present[k] = false;
			expected--;
		} else {
			ck_assert_int_eq(strmap_put(map, key, &values[k]), 0);
			present[k] = true;
			expected++;
		}
		ck_assert_uint_eq(strmap_count(map), expected);
	}
	for (int k = 0; k < N; k++) {
		snprintf(key, sizeof(key), "%d.%d", k, k * 7);
		ck_assert_ptr_eq(strmap_get(map, key),
				 present[k] ? &values[k] : NULL);
	}
	strmap_free(map);
}
END_TEST

START_TEST(duplicates_and_iteration)
{
	struct strmap *map = strmap_new();
	int a = 1, b = 2, c = 3;
	const char *key;
	void *value;
	size_t cursor = 0, seen = 0;
	int sum = 0;

	ck_assert_int_eq(strmap_put(map, "a", &a), 0);
	ck_assert_int_eq(strmap_put(map, "a", &b), -EEXIST);
	ck_assert_int_eq(strmap_put(map, "b", NULL), -EINVAL);
	ck_assert_ptr_eq(strmap_get(map, "a"), &a);
	ck_assert_int_eq(strmap_put(map, "b", &b), 0);
	ck_assert_int_eq(strmap_put(map, "c", &c), 0);
	ck_assert_ptr_null(strmap_remove(map, "zzz"));
	while (strmap_next(map, &cursor, &key, &value)) {
		sum += *(int *)value;
		seen++;
	}
	ck_assert_uint_eq(seen, 3);
	ck_assert_int_eq(sum, 6);
	strmap_free(map);
	strmap_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-strmap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, put_get_remove_against_model);
	tcase_add_test(tc, duplicates_and_iteration);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
