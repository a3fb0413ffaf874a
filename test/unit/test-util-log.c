/* test-util-log.c: level parsing and filtering. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdlib.h>

#include "util/log.h"

START_TEST(parse_known_levels)
{
	static const struct {
		const char *name;
		enum log_level level;
	} rows[] = {
	    {"error", LOG_LEVEL_ERROR},   {"warning", LOG_LEVEL_WARNING},
	    {"notice", LOG_LEVEL_NOTICE}, {"info", LOG_LEVEL_INFO},
	    {"debug", LOG_LEVEL_DEBUG},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum log_level level = LOG_LEVEL_ERROR;
		ck_assert_int_eq(log_level_parse(rows[i].name, &level), 0);
		ck_assert_int_eq(level, rows[i].level);
		ck_assert_str_eq(log_level_name(level), rows[i].name);
	}
}
END_TEST

START_TEST(parse_rejects_unknown_and_leaves_output)
{
	enum log_level level = LOG_LEVEL_NOTICE;
	ck_assert_int_eq(log_level_parse("verbose", &level), -EINVAL);
	ck_assert_int_eq(log_level_parse("", &level), -EINVAL);
	ck_assert_int_eq(level, LOG_LEVEL_NOTICE);
}
END_TEST

START_TEST(enabled_follows_level)
{
	log_set_level(LOG_LEVEL_WARNING);
	ck_assert(log_enabled(LOG_LEVEL_ERROR));
	ck_assert(log_enabled(LOG_LEVEL_WARNING));
	ck_assert(!log_enabled(LOG_LEVEL_INFO));
	ck_assert(!log_enabled(LOG_LEVEL_DEBUG));
	log_set_level(LOG_LEVEL_DEBUG);
	ck_assert(log_enabled(LOG_LEVEL_DEBUG));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_known_levels);
	tcase_add_test(tc, parse_rejects_unknown_and_leaves_output);
	tcase_add_test(tc, enabled_follows_level);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
