/* test-outbound-guard.c: number normalization and the toll-fraud checks, as
 * tables of numbers and the verdicts they get. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "outbound/guard.h"

static const struct guard_plan nanp = {"1", "1", "011", 10, 10};
static const struct guard_plan uk = {"44", "0", NULL, 9, 10};
static const struct guard_plan co = {"57", NULL, NULL, 10, 10};
static const struct guard_plan broken = {"0", "0", NULL, 9, 10};

static const struct {
	const struct guard_plan *plan;
	const char *input;
	const char *out; /* NULL: refused */
	enum guard_verdict verdict;
} normalize_rows[] = {
    /* NANP, in every way people write it. */
    {&nanp, "+1 (212) 555-0100", "+12125550100", GUARD_ALLOWED},
    {&nanp, "1-212-555-0100", "+12125550100", GUARD_ALLOWED},
    {&nanp, "212.555.0100", "+12125550100", GUARD_ALLOWED},
    {&nanp, "(212) 555 0100", "+12125550100", GUARD_ALLOWED},
    {&nanp, " \t2125550100 ", "+12125550100", GUARD_ALLOWED},
    {&nanp, "011 44 20 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&nanp, "00 44 20 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&nanp, "(+1) 212 555 0100", "+12125550100", GUARD_ALLOWED},
    {&nanp, "+881 6 3145 6789", "+881631456789", GUARD_ALLOWED},
    {&nanp, "212 555 010", NULL, GUARD_TOO_SHORT},
    {&nanp, "212 555 01000", NULL, GUARD_TOO_LONG},
    {&nanp, "+1 212 555 010", NULL, GUARD_TOO_SHORT},
    {&nanp, "+1 911", NULL, GUARD_TOO_SHORT},
    {&nanp, "911", NULL, GUARD_TOO_SHORT},
    {&nanp, "1-800-FLOWERS", NULL, GUARD_LETTERS},
    {&nanp, "2125550100x12", NULL, GUARD_LETTERS},
    {&nanp, "", NULL, GUARD_EMPTY},
    {&nanp, " - ( ) ", NULL, GUARD_EMPTY},
    {&nanp, "+", NULL, GUARD_EMPTY},
    {&nanp, NULL, NULL, GUARD_EMPTY},
    {&nanp, "212*555*0100", NULL, GUARD_BAD_CHARACTER},
    {&nanp, "212+5550100", NULL, GUARD_BAD_CHARACTER},
    {&nanp, "++12125550100", NULL, GUARD_BAD_CHARACTER},
    {&nanp, "212/555/0100", NULL, GUARD_BAD_CHARACTER},
    {&nanp, "2125550100\n", NULL, GUARD_BAD_CHARACTER},
    {&nanp, "+0 123 456 789", NULL, GUARD_BAD_COUNTRY_CODE},
    {&nanp, "000 123 456 789", NULL, GUARD_BAD_COUNTRY_CODE},
    {&nanp, "+1", NULL, GUARD_TOO_SHORT},
    {&nanp, "+44", NULL, GUARD_TOO_SHORT},
    {&nanp, "011", NULL, GUARD_TOO_SHORT},
    {&nanp, "+33 1234 5678 9012 3", "+331234567890123", GUARD_ALLOWED},
    {&nanp, "+33 1234 5678 9012 34", NULL, GUARD_TOO_LONG},
    /* UK: trunk prefix 0, international prefix 00. */
    {&uk, "020 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&uk, "07700 900123", "+447700900123", GUARD_ALLOWED},
    {&uk, "20 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&uk, "+44 20 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&uk, "0044 20 7946 0018", "+442079460018", GUARD_ALLOWED},
    {&uk, "00 1 212 555 0100", "+12125550100", GUARD_ALLOWED},
    {&uk, "0 20", NULL, GUARD_TOO_SHORT},
    {&uk, "0 1234 5678", NULL, GUARD_TOO_SHORT},
    {&uk, "0 20 7946 00180", NULL, GUARD_TOO_LONG},
    {&uk, "112", NULL, GUARD_TOO_SHORT},
    /* Colombia: no trunk prefix. */
    {&co, "310 234 5678", "+573102345678", GUARD_ALLOWED},
    {&co, "601 234 5678", "+576012345678", GUARD_ALLOWED},
    {&co, "+57 310 234 5678", "+573102345678", GUARD_ALLOWED},
    {&co, "0057 310 234 5678", "+573102345678", GUARD_ALLOWED},
    {&co, "0310 234 5678", NULL, GUARD_TOO_LONG},
    /* No plan, or one that cannot be used: only international forms. */
    {NULL, "+33 1 23 45 67 89", "+33123456789", GUARD_ALLOWED},
    {NULL, "0033 1 23 45 67 89", "+33123456789", GUARD_ALLOWED},
    {NULL, "01 23 45 67 89", NULL, GUARD_NO_PLAN},
    {&broken, "020 7946 0018", NULL, GUARD_NO_PLAN},
    {&broken, "+44 20 7946 0018", "+442079460018", GUARD_ALLOWED},
};

START_TEST(normalize_table)
{
	for (size_t i = 0; i < sizeof(normalize_rows) / sizeof(*normalize_rows);
	     i++) {
		const char *want = normalize_rows[i].out;
		char out[GUARD_NUMBER_SIZE] = "untouched";
		enum guard_verdict v = GUARD_VERDICT__COUNT;
		int r;

		r = outbound_guard_normalize(normalize_rows[i].plan,
					     normalize_rows[i].input, out,
					     sizeof(out), &v);
		ck_assert_msg(
		    v == normalize_rows[i].verdict, "row %zu (%s): verdict %s",
		    i, normalize_rows[i].input, outbound_guard_verdict_name(v));
		if (want) {
			ck_assert_int_eq(r, (int)strlen(want));
			ck_assert_str_eq(out, want);
		} else {
			ck_assert_int_eq(r, -EINVAL);
			ck_assert_str_eq(out, "untouched");
		}
	}
}
END_TEST

/* Input past GUARD_INPUT_MAX characters is refused unread, even when its
 * digits alone would make a fine number. */
START_TEST(normalize_input_cap)
{
	char input[GUARD_INPUT_MAX + 2];
	char out[GUARD_NUMBER_SIZE];
	enum guard_verdict v;

	memset(input, ' ', sizeof(input));
	memcpy(input + GUARD_INPUT_MAX - 10, "2125550100", 10);
	input[GUARD_INPUT_MAX] = '\0';
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, input, out, sizeof(out), &v), 12);
	memcpy(input + GUARD_INPUT_MAX - 9, "2125550100", 11);
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, input, out, sizeof(out), &v),
	    -EINVAL);
	ck_assert_int_eq(v, GUARD_TOO_LONG);
	memset(input, '1', GUARD_INPUT_MAX);
	input[GUARD_INPUT_MAX] = '\0';
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, input, out, sizeof(out), &v),
	    -EINVAL);
	ck_assert_int_eq(v, GUARD_TOO_LONG);
}
END_TEST

START_TEST(normalize_buffer)
{
	char out[13];
	enum guard_verdict v = GUARD_VERDICT__COUNT;

	memcpy(out, "untouched", 10);
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, "212 555 0100", out, 12, &v),
	    -ENOBUFS);
	ck_assert_int_eq(v, GUARD_ALLOWED);
	ck_assert_str_eq(out, "untouched");
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, "212 555 0100", NULL, 0, &v),
	    -ENOBUFS);
	ck_assert_int_eq(
	    outbound_guard_normalize(&nanp, "212 555 0100", out, 13, NULL), 12);
	ck_assert_str_eq(out, "+12125550100");
}
END_TEST

static const char *const co_prefixes[] = {"+57 3", "57601", "", "+", "5x7"};
static const char *const us_prefixes[] = {"+1"};

static const struct guard_policy home_nanp = {.plan = &nanp};
static const struct guard_policy home_uk_intl = {.plan = &uk,
						 .allow_international = true};
static const struct guard_policy home_uk_all = {
    .plan = &uk, .allow_international = true, .allow_premium = true};
static const struct guard_policy home_co = {
    .plan = &co, .allowed_prefixes = co_prefixes, .allowed_count = 5};
static const struct guard_policy home_co_us = {
    .plan = &co, .allowed_prefixes = us_prefixes, .allowed_count = 1};
static const struct guard_policy home_co_us_intl = {
    .plan = &co,
    .allowed_prefixes = us_prefixes,
    .allowed_count = 1,
    .allow_international = true};
static const struct guard_policy uk_n11 = {.plan = &uk};
static const struct guard_policy nowhere = {.plan = NULL};
static const struct guard_policy nowhere_intl = {.allow_international = true};

static const struct {
	const struct guard_policy *policy;
	const char *e164;
	enum guard_verdict verdict;
} check_rows[] = {
    {&home_nanp, "+12125550100", GUARD_ALLOWED},
    {&home_nanp, "+14165550100", GUARD_ALLOWED},       /* Toronto */
    {&home_nanp, "+17875550100", GUARD_ALLOWED},       /* Puerto Rico */
    {&home_nanp, "+18765550100", GUARD_INTERNATIONAL}, /* Jamaica */
    {&home_nanp, "+12845550100", GUARD_INTERNATIONAL}, /* BVI */
    {&home_nanp, "+442079460018", GUARD_INTERNATIONAL},
    {&home_nanp, "+19005550100", GUARD_PREMIUM},
    {&home_nanp, "+19765550100", GUARD_PREMIUM},
    {&home_nanp, "+881631456789", GUARD_PREMIUM},
    {&home_nanp, "+8821234567", GUARD_PREMIUM},
    {&home_nanp, "+88312345678", GUARD_PREMIUM},
    {&home_nanp, "+8701234567", GUARD_PREMIUM},
    {&home_nanp, "+97912345678", GUARD_PREMIUM},
    {&home_nanp, "+1911", GUARD_SHORT_NUMBER},
    {&home_nanp, "+1555012", GUARD_SHORT_NUMBER},
    {&home_nanp, "+15550123", GUARD_ALLOWED},
    /* N11 codes are neither area codes nor exchange codes. */
    {&home_nanp, "+19115551234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+12115551234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+14115551234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+18115551234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+12129111234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+12123111234", GUARD_SHORT_NUMBER},
    {&home_nanp, "+12121111234", GUARD_ALLOWED},
    {&home_nanp, "+11115551234", GUARD_ALLOWED},
    {&home_nanp, "+12125121234", GUARD_ALLOWED},
    {&home_nanp, "+19125551234", GUARD_ALLOWED},
    {&home_nanp, "+449115551234", GUARD_PREMIUM},
    {&uk_n11, "+442079110018", GUARD_ALLOWED},
    {&home_nanp, "+44112", GUARD_SHORT_NUMBER},
    {&home_nanp, "+44118118", GUARD_SHORT_NUMBER},
    {&home_nanp, "+375123456", GUARD_SHORT_NUMBER}, /* 3-digit code */
    {&home_nanp, "+3751234567", GUARD_INTERNATIONAL},
    {&home_nanp, "12125550100", GUARD_NOT_E164},
    {&home_nanp, "+02125550100", GUARD_NOT_E164},
    {&home_nanp, "+1212555010a", GUARD_NOT_E164},
    {&home_nanp, "+1 2125550100", GUARD_NOT_E164},
    {&home_nanp, "+1234567890123456", GUARD_NOT_E164},
    {&home_nanp, "+", GUARD_NOT_E164},
    {&home_nanp, "", GUARD_NOT_E164},
    {&home_nanp, NULL, GUARD_NOT_E164},
    {NULL, "+12125550100", GUARD_NOT_E164},
    /* Premium ranges of each plan in the table, allowed once flagged. */
    {&home_uk_intl, "+449061234567", GUARD_PREMIUM},
    {&home_uk_intl, "+449112345678", GUARD_PREMIUM},
    {&home_uk_intl, "+449812345678", GUARD_PREMIUM},
    {&home_uk_intl, "+33891234567", GUARD_PREMIUM},
    {&home_uk_intl, "+499001234567", GUARD_PREMIUM},
    {&home_uk_intl, "+491371234567", GUARD_PREMIUM},
    {&home_uk_intl, "+34803123456", GUARD_PREMIUM},
    {&home_uk_intl, "+34806123456", GUARD_PREMIUM},
    {&home_uk_intl, "+34807123456", GUARD_PREMIUM},
    {&home_uk_intl, "+34905123456", GUARD_PREMIUM},
    {&home_uk_intl, "+571900123456", GUARD_PREMIUM},
    {&home_uk_intl, "+34912345678", GUARD_ALLOWED},
    {&home_uk_intl, "+4930123456", GUARD_ALLOWED},
    {&home_uk_intl, "+18765550100", GUARD_ALLOWED},
    {&home_uk_all, "+449061234567", GUARD_ALLOWED},
    {&home_uk_all, "+881631456789", GUARD_ALLOWED},
    {&home_uk_all, "+44999", GUARD_SHORT_NUMBER},
    /* Allowed prefixes, with and without '+'; entries without digits or
     * with other characters match nothing. */
    {&home_co, "+573102345678", GUARD_ALLOWED},
    {&home_co, "+576012345678", GUARD_ALLOWED},
    {&home_co, "+576042345678", GUARD_PREFIX_NOT_ALLOWED},
    {&home_co, "+571900123456", GUARD_PREMIUM},
    /* The list narrows, the flags widen: "+1" alone does not allow an
     * international call. */
    {&home_co_us, "+12125550100", GUARD_INTERNATIONAL},
    {&home_co_us, "+573102345678", GUARD_PREFIX_NOT_ALLOWED},
    {&home_co_us_intl, "+12125550100", GUARD_ALLOWED},
    {&home_co_us_intl, "+442079460018", GUARD_PREFIX_NOT_ALLOWED},
    /* No home plan: everything is international. */
    {&nowhere, "+12125550100", GUARD_INTERNATIONAL},
    {&nowhere_intl, "+12125550100", GUARD_ALLOWED},
};

START_TEST(check_table)
{
	for (size_t i = 0; i < sizeof(check_rows) / sizeof(*check_rows); i++) {
		enum guard_verdict v = outbound_guard_check(
		    check_rows[i].policy, check_rows[i].e164);

		ck_assert_msg(
		    v == check_rows[i].verdict,
		    "row %zu (%s): verdict %s, want %s", i, check_rows[i].e164,
		    outbound_guard_verdict_name(v),
		    outbound_guard_verdict_name(check_rows[i].verdict));
	}
}
END_TEST

START_TEST(normalize_then_check)
{
	char out[GUARD_NUMBER_SIZE];

	ck_assert_int_gt(outbound_guard_normalize(&nanp, "1 (900) 555-0100",
						  out, sizeof(out), NULL),
			 0);
	ck_assert_int_eq(outbound_guard_check(&home_nanp, out), GUARD_PREMIUM);
	ck_assert_int_gt(outbound_guard_normalize(&co, "310 234 5678", out,
						  sizeof(out), NULL),
			 0);
	ck_assert_int_eq(outbound_guard_check(&home_co, out), GUARD_ALLOWED);
}
END_TEST

/* The one gate: both steps, and nothing in out unless allowed. */
START_TEST(screen)
{
	char out[GUARD_NUMBER_SIZE] = "x";

	ck_assert_int_eq(outbound_guard_screen(&nanp, &home_nanp,
					       "1 (900) 555-0100", out,
					       sizeof(out)),
			 GUARD_PREMIUM);
	ck_assert_str_eq(out, "");
	ck_assert_int_ne(
	    outbound_guard_screen(&nanp, &home_nanp, "911", out, sizeof(out)),
	    GUARD_ALLOWED);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(outbound_guard_screen(&nanp, &home_nanp, "19115551234",
					       out, sizeof(out)),
			 GUARD_SHORT_NUMBER);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(outbound_guard_screen(&nanp, &home_nanp, "(212) ABC",
					       out, sizeof(out)),
			 GUARD_LETTERS);
	ck_assert_int_eq(outbound_guard_screen(&co, &home_co, "310 234 5678",
					       out, sizeof(out)),
			 GUARD_ALLOWED);
	ck_assert_str_eq(out, "+573102345678");
	ck_assert_int_eq(
	    outbound_guard_screen(&co, &home_co, "310 234 5678", out, 4),
	    GUARD_NOT_E164);
}
END_TEST

START_TEST(country_codes)
{
	static const struct {
		const char *digits;
		unsigned len;
	} rows[] = {
	    {"12125550100", 1},
	    {"74951234567", 1},
	    {"442079460018", 2},
	    {"20", 2},
	    {"212", 3},
	    {"881631456789", 3},
	    {"57", 2},
	    {"598", 3},
	    {"0", 0},
	    {"", 0},
	    {"+1", 0},
	    {NULL, 0},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		ck_assert_msg(outbound_guard_country_code_len(rows[i].digits) ==
				  rows[i].len,
			      "row %zu", i);
}
END_TEST

START_TEST(verdict_texts)
{
	for (int v = 0; v < GUARD_VERDICT__COUNT; v++) {
		const char *text =
		    outbound_guard_verdict_text((enum guard_verdict)v);
		const char *name =
		    outbound_guard_verdict_name((enum guard_verdict)v);

		ck_assert_ptr_nonnull(text);
		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(text[strlen(text) - 1], '.');
		ck_assert_str_ne(name, "unknown");
		for (int w = 0; w < v; w++)
			ck_assert_str_ne(name, outbound_guard_verdict_name(
						   (enum guard_verdict)w));
	}
	ck_assert_str_eq(outbound_guard_verdict_name(GUARD_VERDICT__COUNT),
			 "unknown");
	ck_assert_str_eq(outbound_guard_verdict_text((enum guard_verdict) - 1),
			 "The number was refused.");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("outbound-guard");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, normalize_table);
	tcase_add_test(tc, normalize_input_cap);
	tcase_add_test(tc, normalize_buffer);
	tcase_add_test(tc, check_table);
	tcase_add_test(tc, normalize_then_check);
	tcase_add_test(tc, screen);
	tcase_add_test(tc, country_codes);
	tcase_add_test(tc, verdict_texts);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
