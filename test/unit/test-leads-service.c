/* test-leads-service.c: lead import before the database: which rows are
 * kept, and how the bad ones are reported. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "campaigns/campaigns.h"
#include "leads/service.h"

/* The North American plan, as a campaign's defaults have it. */
static struct campaign campaign = {.id = 7, .plan = {"1", "1", "011", 10, 10}};

static struct leads_import *import_new(void)
{
	struct leads_import *im = NULL;

	ck_assert_int_eq(leads_import_new(&campaign, &im), 0);
	ck_assert_ptr_nonnull(im);
	return im;
}

/* How many rows were kept and how many reported. */
static void assert_counts(struct leads_import *im, size_t kept, size_t bad)
{
	ck_assert_uint_eq(leads_import_count(im), kept);
	ck_assert_uint_eq(json_array_size(leads_import_errors(im)), bad);
}

/* Error i's line and detail. */
static void assert_error(struct leads_import *im, size_t i, size_t line,
			 const char *detail_part)
{
	json_t *e = json_array_get(leads_import_errors(im), i);

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(json_integer_value(json_object_get(e, "line")),
			 (json_int_t)line);
	ck_assert_ptr_nonnull(strstr(
	    json_string_value(json_object_get(e, "detail")), detail_part));
}

START_TEST(json_rows)
{
	static const char text[] =
	    "[{\"phone\": \"(212) 555-0100\", \"name\": \"Ann\"},"
	    " {\"phone\": \"2125550101\", \"data\": {\"k\": \"v\"}},"
	    " {\"phone\": \"12\"},"
	    " {\"name\": \"no phone\"},"
	    " {\"phone\": \"2125550102\", \"extra\": 1},"
	    " {\"phone\": \"2125550103\", \"data\": []},"
	    " \"2125550104\"]";
	struct leads_import *im = import_new();

	ck_assert_int_eq(leads_import_json(im, text, strlen(text)), 0);
	assert_counts(im, 2, 5);
	assert_error(im, 0, 3, "phone: ");
	assert_error(im, 1, 4, "a lead is");
	assert_error(im, 2, 5, "no other fields");
	assert_error(im, 3, 6, "a lead is");
	assert_error(im, 4, 7, "a lead is");
	leads_import_free(im);
}
END_TEST

START_TEST(json_not_an_array)
{
	struct leads_import *im = import_new();

	ck_assert_int_eq(leads_import_json(im, "{}", 2), -EINVAL);
	ck_assert_int_eq(leads_import_json(im, "[", 1), -EINVAL);
	assert_counts(im, 0, 0);
	leads_import_free(im);
}
END_TEST

START_TEST(csv_rows)
{
	static const char text[] = "phone,name\n"
				   "2125550100,Ann\n"
				   "abc,Bob\n"
				   ",Cy\n"
				   "+442079460000,Dee\n";
	struct leads_import *im = import_new();

	ck_assert_int_eq(leads_import_csv(im, text, strlen(text)), 0);
	assert_counts(im, 2, 2);
	assert_error(im, 0, 3, "phone: ");
	assert_error(im, 1, 4, "");
	leads_import_free(im);
}
END_TEST

/* One lead per number: a row whose normalized number an earlier row had is
 * skipped, not reported as an error, whatever its form or source. */
START_TEST(duplicates_skipped)
{
	static const char csv[] = "phone,name\n"
				  "2125550100,Ann\n"
				  "1 (212) 555-0100,Ann again\n"
				  "+12125550101,Bob\n"
				  "2125550100,Ann thrice\n";
	static const char json[] = "[{\"phone\": \"212.555.0101\"},"
				   " {\"phone\": \"2125550102\"}]";
	struct leads_import *im = import_new();

	ck_assert_int_eq(leads_import_csv(im, csv, strlen(csv)), 0);
	assert_counts(im, 2, 0);
	ck_assert_uint_eq(leads_import_skipped(im), 2);
	ck_assert_int_eq(leads_import_json(im, json, strlen(json)), 0);
	assert_counts(im, 3, 0);
	ck_assert_uint_eq(leads_import_skipped(im), 3);
	leads_import_free(im);
}
END_TEST

START_TEST(csv_without_phones)
{
	struct leads_import *im = import_new();

	ck_assert_int_eq(leads_import_csv(im, NULL, 1), -EINVAL);
	ck_assert_int_eq(leads_import_csv(im, "name\nAnn\n", 9), 0);
	assert_counts(im, 0, 1);
	leads_import_free(im);
	leads_import_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leads-service");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, json_rows);
	tcase_add_test(tc, json_not_an_array);
	tcase_add_test(tc, csv_rows);
	tcase_add_test(tc, csv_without_phones);
	tcase_add_test(tc, duplicates_skipped);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
