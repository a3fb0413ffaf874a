/* testlib.h: the shared tail of every Check test program. */
#ifndef TEST_TESTLIB_H
#define TEST_TESTLIB_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs every case of s and returns the process exit status. */
static inline int testlib_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Reads a file of test/data into a malloc'd NUL-terminated buffer. */
static inline char *testlib_read_data(const char *name, size_t *ret_len)
{
	const char *dir = getenv("WELCOMEDLY_TEST_DATA");
	char path[4096];
	char *buf = NULL;
	long len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "test/data", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	ck_assert(buf != NULL);
	ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	*ret_len = (size_t)len;
	return buf;
}

#endif /* TEST_TESTLIB_H */
