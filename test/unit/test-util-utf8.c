/* test-util-utf8.c: checking and escaping UTF-8 text that a peer sent. */
#include <check.h>
#include <string.h>

#include "testlib.h"
#include "util/utf8.h"

static const struct {
	const char *s;
	bool valid, text;
} cases[] = {
    {"", true, true},
    {"plain ascii", true, true},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true, true},
    {"tab\there", true, false},
    {"del\x7f", true, false},
    {"\xff", false, false},
    {"cut \xc3", false, false},
    {"cut \xe2\x82", false, false},
    {"overlong \xc0\xaf", false, false},
    {"overlong \xe0\x80\xaf", false, false},
    {"surrogate \xed\xa0\x80", false, false},
    {"too high \xf4\x90\x80\x80", false, false},
    {"lone continuation \x80", false, false},
};

START_TEST(validates_by_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].s);

		ck_assert_msg(utf8_valid(cases[i].s, n) == cases[i].valid,
			      "valid: case %zu", i);
		ck_assert_msg(utf8_text(cases[i].s, n) == cases[i].text,
			      "text: case %zu", i);
	}
	/* A NUL inside the range is not text either. */
	ck_assert(!utf8_valid("a\0b", 3));
}
END_TEST

START_TEST(escapes_bad_bytes)
{
	char out[64];

	ck_assert_uint_eq(utf8_escape(out, sizeof(out),
				      "a\xff"
				      "b"),
			  6);
	ck_assert_str_eq(out, "a\\xffb");
	utf8_escape(out, sizeof(out), "caf\xc3\xa9\n\xc3");
	ck_assert_str_eq(out, "caf\xc3\xa9\\x0a\\xc3");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		utf8_escape(out, sizeof(out), cases[i].s);
		ck_assert_msg(utf8_text(out, strlen(out)), "case %zu", i);
	}
}
END_TEST

START_TEST(cuts_between_sequences)
{
	char out[6];

	/* "ab" + "é" (2 bytes) + "é" would need 7 bytes with the NUL. */
	ck_assert_uint_eq(utf8_escape(out, sizeof(out), "ab\xc3\xa9\xc3\xa9"),
			  4);
	ck_assert_str_eq(out, "ab\xc3\xa9");
	ck_assert_uint_eq(utf8_escape(out, sizeof(out), "abc\xff"), 3);
	ck_assert_str_eq(out, "abc");
	ck_assert_uint_eq(utf8_escape(out, 1, "abc"), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-utf8");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, validates_by_table);
	tcase_add_test(tc, escapes_bad_bytes);
	tcase_add_test(tc, cuts_between_sequences);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
