/* test-util-csv.c: which CSV cells are quoted and which are neutralized. */
#include <check.h>

#include "testlib.h"
#include "util/csv.h"

#define Q CSV_CELL_QUOTE
#define N CSV_CELL_NEUTRALIZE

static const struct {
	const char *cell;
	unsigned flags;
} rows[] = {
    {"", 0},
    {"ANSWERED", 0},
    {"a,b", Q},
    {"say \"hi\"", Q},
    {"two\nlines", Q},
    {"=1+2", N},
    {"+cmd|' /C calc'!A0", N},
    {"-2+3", N},
    {"@SUM(A1)", N},
    {"=HYPERLINK(\"http://x\",\"y\")", Q | N},
    /* Signed numbers stay numbers. */
    {"+12125550100", 0},
    {"-5", 0},
    {"=", 0},
    /* Spreadsheets skip a leading TAB or CR before reading a formula. */
    {"\t=1+2", N},
    {"\t", N},
    {"\t123", N},
    {"\r=1+2", Q | N},
    {"\r", Q | N},
    {"a\t=1", 0},
    {" =1", 0},
};

START_TEST(cell_table)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		ck_assert_msg(csv_cell_flags(rows[i].cell) == rows[i].flags,
			      "row %zu: flags %u, want %u", i,
			      csv_cell_flags(rows[i].cell), rows[i].flags);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-csv");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, cell_table);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
