/* test-leads-csv.c: lead CSV parsing, its good rows, bad rows and caps. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leads/csv.h"

#define MAX_KEPT 8

/* What the callback saw: the first MAX_KEPT rows in full, and a count. */
struct seen {
	size_t count;
	size_t line[MAX_KEPT];
	char phone[MAX_KEPT][64];
	char name[MAX_KEPT][64]; /* "(null)" for NULL */
	char *data[MAX_KEPT];    /* compact JSON, sorted keys */
	int fail_at;             /* 1-based row to fail with -ECANCELED */
};

static int on_row(void *userdata, size_t line, const char *phone,
		  const char *name, json_t *data)
{
	struct seen *s = userdata;
	size_t i = s->count++;

	ck_assert_ptr_nonnull(phone);
	ck_assert(phone[0] != '\0');
	ck_assert(json_is_object(data));
	if (s->fail_at && s->count == (size_t)s->fail_at)
		return -ECANCELED;
	if (i >= MAX_KEPT)
		return 0;
	s->line[i] = line;
	snprintf(s->phone[i], sizeof(s->phone[i]), "%s", phone);
	snprintf(s->name[i], sizeof(s->name[i]), "%s", name ? name : "(null)");
	s->data[i] = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
	return 0;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; i < s->count && i < MAX_KEPT; i++)
		free(s->data[i]);
	memset(s, 0, sizeof(*s));
}

/* Parses a NUL-terminated text; the report is kept in the fixture. */
struct fix {
	struct seen seen;
	struct leads_csv_error *errors;
	size_t nerrors;
};

static int parse_len(struct fix *f, const char *text, size_t len)
{
	seen_clear(&f->seen);
	free(f->errors);
	f->errors = NULL;
	f->nerrors = 0;
	return leads_csv_parse(text, len, on_row, &f->seen, &f->errors,
			       &f->nerrors);
}

static int parse(struct fix *f, const char *text)
{
	return parse_len(f, text, strlen(text));
}

static void fix_clear(struct fix *f)
{
	seen_clear(&f->seen);
	free(f->errors);
	memset(f, 0, sizeof(*f));
}

static void assert_row(const struct fix *f, size_t i, size_t line,
		       const char *phone, const char *name, const char *data)
{
	ck_assert_uint_eq(f->seen.line[i], line);
	ck_assert_str_eq(f->seen.phone[i], phone);
	ck_assert_str_eq(f->seen.name[i], name);
	ck_assert_str_eq(f->seen.data[i], data);
}

static void assert_error(const struct fix *f, size_t i, size_t line,
			 const char *message)
{
	ck_assert_uint_lt(i, f->nerrors);
	ck_assert_uint_eq(f->errors[i].line, line);
	ck_assert_str_eq(f->errors[i].message, message);
}

START_TEST(simple)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "phone,name,email\n"
				   "+1 212 555 0100,Ann,ann@example.org\n"
				   " 3102345678 ,  ,\n"),
			 2);
	ck_assert_uint_eq(f.nerrors, 0);
	ck_assert_ptr_null(f.errors);
	assert_row(&f, 0, 2, "+1 212 555 0100", "Ann",
		   "{\"email\":\"ann@example.org\"}");
	assert_row(&f, 1, 3, "3102345678", "(null)", "{\"email\":\"\"}");
	fix_clear(&f);
}
END_TEST

/* Quoted commas, quotes and line breaks; lines counted across them. */
START_TEST(quoted)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "\"phone\",name,\"the notes\"\r\n"
				   "\"3102345678\",\"Doe, Jane\",\"said "
				   "\"\"hi\"\"\r\nthen left\"\r\n"
				   "5550100,Bob,\"\"\r\n"),
			 2);
	ck_assert_uint_eq(f.nerrors, 0);
	assert_row(&f, 0, 2, "3102345678", "Doe, Jane",
		   "{\"the notes\":\"said \\\"hi\\\"\\r\\nthen left\"}");
	assert_row(&f, 1, 4, "5550100", "Bob", "{\"the notes\":\"\"}");
	fix_clear(&f);
}
END_TEST

/* A byte order mark, header names matched without case or spaces, and
 * lines ended by CRLF, LF or a lone CR, with no final line break. */
START_TEST(bom_and_line_ends)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "\xef\xbb\xbf Phone ,NAME, City \r\n"
				   "1,A,Bogotá\n"
				   "2,\"B\rC\",Cali\r"
				   "3,D,Lyon"),
			 3);
	ck_assert_uint_eq(f.nerrors, 0);
	assert_row(&f, 0, 2, "1", "A", "{\"City\":\"Bogotá\"}");
	assert_row(&f, 1, 3, "2", "B\rC", "{\"City\":\"Cali\"}");
	assert_row(&f, 2, 5, "3", "D", "{\"City\":\"Lyon\"}");
	fix_clear(&f);
}
END_TEST

START_TEST(empty_lines_skipped)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "\n\r\nphone\n\n123\n   \n\t\n456\n\n"), 2);
	ck_assert_uint_eq(f.nerrors, 0);
	assert_row(&f, 0, 5, "123", "(null)", "{}");
	assert_row(&f, 1, 8, "456", "(null)", "{}");
	fix_clear(&f);
}
END_TEST

/* Bad rows are reported by the line they start on and skipped; the rows
 * around them still arrive. */
START_TEST(bad_rows)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "phone,name\n"
				   "1,a\n"
				   "2\n"
				   "3,c,extra\n"
				   ",nobody\n"
				   " \t,blank\n"
				   "12\"3,q\n"
				   "\"4\"5,q\n"
				   "\"5\nfive\",e\n"
				   "6,f\n"),
			 3);
	ck_assert_uint_eq(f.seen.count, 3);
	assert_row(&f, 0, 2, "1", "a", "{}");
	assert_row(&f, 1, 9, "5\nfive", "e", "{}");
	assert_row(&f, 2, 11, "6", "f", "{}");
	ck_assert_uint_eq(f.nerrors, 6);
	assert_error(&f, 0, 3, "the row has 1 field where the header names 2");
	assert_error(&f, 1, 4, "the row has 3 fields where the header names 2");
	assert_error(&f, 2, 5, "the phone is empty");
	assert_error(&f, 3, 6, "the phone is empty");
	assert_error(&f, 4, 7,
		     "field 1 holds a quote but is not quoted as a whole");
	assert_error(&f, 5, 8, "field 1 has text after its closing quote");
	fix_clear(&f);
}
END_TEST

START_TEST(unterminated_quote)
{
	struct fix f = {0};

	ck_assert_int_eq(parse(&f, "phone,name\n1,a\n2,\"b\n3,c\n"), 1);
	ck_assert_uint_eq(f.nerrors, 1);
	assert_error(&f, 0, 3,
		     "a quoted field is not closed before the end of the file");
	fix_clear(&f);
}
END_TEST

START_TEST(not_utf8)
{
	struct fix f = {0};
	static const char nul[] = "phone,city\n1,a\0b\n2,ok\n";

	ck_assert_int_eq(parse(&f, "phone,city\n"
				   "1,\xff\n"
				   "2,\xc3\xa9\n"
				   "3,\xc0\xaf\n"
				   "4,\xed\xa0\x80\n"
				   "5,\xe2\x82\n"
				   "6,\xf0\x9f\x93\x9e\n"
				   "7,\xf4\x90\x80\x80\n"
				   "8,\xe0\x80\xaf\n"
				   "9,\x80\n"),
			 2);
	ck_assert_uint_eq(f.nerrors, 7);
	assert_error(&f, 0, 2, "field 2 (city) is not valid UTF-8 text");
	assert_error(&f, 1, 4, "field 2 (city) is not valid UTF-8 text");
	assert_error(&f, 2, 5, "field 2 (city) is not valid UTF-8 text");
	assert_error(&f, 3, 6, "field 2 (city) is not valid UTF-8 text");
	assert_error(&f, 6, 10, "field 2 (city) is not valid UTF-8 text");
	ck_assert_int_eq(parse_len(&f, nul, sizeof(nul) - 1), 1);
	assert_error(&f, 0, 2, "field 2 (city) is not valid UTF-8 text");
	fix_clear(&f);
}
END_TEST

START_TEST(field_cap)
{
	struct fix f = {0};
	size_t n = LEADS_CSV_MAX_FIELD;
	char *text = malloc(2 * n + 64);
	char *p = text;

	p += sprintf(p, "phone,note\n1,");
	memset(p, 'x', n);
	p += n;
	p += sprintf(p, "\n2,\"");
	memset(p, 'y', n);
	p += n;
	p += sprintf(p, "y\"\n3,z\n");
	ck_assert_int_eq(parse(&f, text), 2);
	ck_assert_uint_eq(f.nerrors, 1);
	assert_error(&f, 0, 3, "field 2 is longer than 1024 bytes");
	ck_assert_uint_eq(strlen(f.seen.data[0]),
			  n + strlen("{\"note\":\"\"}"));
	free(text);
	fix_clear(&f);
}
END_TEST

/* A line of LEADS_CSV_MAX_COLUMNS + 1 fields: fatal in the header, a bad
 * row elsewhere. */
START_TEST(column_cap)
{
	struct fix f = {0};
	char header[1024], row[1024], text[4096];
	char *h = header, *r = row;

	h += sprintf(h, "phone");
	r += sprintf(r, "1");
	for (int i = 1; i < LEADS_CSV_MAX_COLUMNS; i++) {
		h += sprintf(h, ",c%d", i);
		r += sprintf(r, ",%d", i);
	}
	snprintf(text, sizeof(text), "%s\n%s\n%s,x\n", header, row, row);
	ck_assert_int_eq(parse(&f, text), 1);
	ck_assert_uint_eq(f.nerrors, 1);
	assert_error(&f, 0, 3, "the row has more than 64 fields");
	snprintf(text, sizeof(text), "%s,c64\n%s\n", header, row);
	ck_assert_int_eq(parse(&f, text), 0);
	ck_assert_uint_eq(f.nerrors, 1);
	assert_error(&f, 0, 1,
		     "the header line is unusable: the row has more than 64 "
		     "fields");
	fix_clear(&f);
}
END_TEST

START_TEST(bad_headers)
{
	static const struct {
		const char *text;
		const char *message;
	} rows[] = {
	    {"", "the file is empty; its first line must name the columns"},
	    {"\r\n\n  \n", "the file is empty; its first line must name the "
			   "columns"},
	    {"name,email\nA,a@b\n",
	     "the header line is unusable: no column is named \"phone\""},
	    {"Phone,name,phone\n1,2,3\n",
	     "the header line is unusable: columns 1 and 3 are both named "
	     "\"phone\""},
	    {"phone,,email\n1,2,3\n",
	     "the header line is unusable: column 2 has no name"},
	    {"phone,\xff\n1,2\n", "the header line is unusable: column 2's "
				  "name is not valid UTF-8 text"},
	    {"phone,\"name\n", "the header line is unusable: a quoted field "
			       "is not closed before the end of the file"},
	};
	struct fix f = {0};

	for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		ck_assert_int_eq(parse(&f, rows[i].text), 0);
		ck_assert_uint_eq(f.seen.count, 0);
		ck_assert_uint_eq(f.nerrors, 1);
		ck_assert_msg(strcmp(f.errors[0].message, rows[i].message) == 0,
			      "row %zu: %s", i, f.errors[0].message);
	}
	ck_assert_int_eq(parse_len(&f, NULL, 0), 0);
	ck_assert_uint_eq(f.nerrors, 1);
	fix_clear(&f);
}
END_TEST

/* Builds "phone\n" and then rows of `line`, count times. */
static char *repeat(const char *line, size_t count)
{
	size_t n = strlen(line);
	char *text = malloc(6 + n * count + 1);

	memcpy(text, "phone\n", 6);
	for (size_t i = 0; i < count; i++)
		memcpy(text + 6 + i * n, line, n);
	text[6 + n * count] = '\0';
	return text;
}

START_TEST(row_cap)
{
	struct fix f = {0};
	char *text = repeat("5550100\n", LEADS_CSV_MAX_ROWS + 5);

	ck_assert_int_eq(parse(&f, text), LEADS_CSV_MAX_ROWS);
	ck_assert_uint_eq(f.nerrors, 1);
	assert_error(&f, 0, LEADS_CSV_MAX_ROWS + 2,
		     "the file has more than 100000 rows; the rest was not "
		     "read");
	free(text);
	text = repeat("5550100\n", LEADS_CSV_MAX_ROWS);
	ck_assert_int_eq(parse(&f, text), LEADS_CSV_MAX_ROWS);
	ck_assert_uint_eq(f.nerrors, 0);
	free(text);
	fix_clear(&f);
}
END_TEST

START_TEST(error_cap)
{
	struct fix f = {0};
	char *text = repeat("\"\"\n", LEADS_CSV_MAX_ERRORS + 10);

	ck_assert_int_eq(parse(&f, text), 0);
	ck_assert_uint_eq(f.nerrors, LEADS_CSV_MAX_ERRORS + 1);
	assert_error(&f, 0, 2, "the phone is empty");
	assert_error(&f, LEADS_CSV_MAX_ERRORS, LEADS_CSV_MAX_ERRORS + 2,
		     "more than 1000 rows are bad; the rest of the file was "
		     "not read");
	free(text);
	fix_clear(&f);
}
END_TEST

START_TEST(callback_stops)
{
	struct fix f = {0};
	struct leads_csv_error *errors = (struct leads_csv_error *)&f;
	size_t nerrors = 42;

	f.seen.fail_at = 2;
	ck_assert_int_eq(leads_csv_parse("phone\n\"\"\n1\n2\n3\n", 16, on_row,
					 &f.seen, &errors, &nerrors),
			 -ECANCELED);
	ck_assert_ptr_eq(errors, (struct leads_csv_error *)&f);
	ck_assert_uint_eq(nerrors, 42);
	ck_assert_uint_eq(f.seen.count, 2);
	ck_assert_int_eq(
	    leads_csv_parse("phone\n", 6, NULL, NULL, &errors, &nerrors),
	    -EINVAL);
	ck_assert_int_eq(
	    leads_csv_parse(NULL, 1, on_row, &f.seen, &errors, &nerrors),
	    -EINVAL);
	ck_assert_int_eq(
	    leads_csv_parse("phone\n", 6, on_row, &f.seen, NULL, &nerrors),
	    -EINVAL);
	fix_clear(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("leads-csv");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, simple);
	tcase_add_test(tc, quoted);
	tcase_add_test(tc, bom_and_line_ends);
	tcase_add_test(tc, empty_lines_skipped);
	tcase_add_test(tc, bad_rows);
	tcase_add_test(tc, unterminated_quote);
	tcase_add_test(tc, not_utf8);
	tcase_add_test(tc, field_cap);
	tcase_add_test(tc, column_cap);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, row_cap);
	tcase_add_test(tc, error_cap);
	tcase_add_test(tc, callback_stops);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
