/* test-util-envfile.c: the KEY=VALUE format, line by line. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/envfile.h"

struct seen {
	char text[1024]; /* "KEY=[value]" lines */
};

static int collect(const char *key, const char *value, void *userdata)
{
	struct seen *s = userdata;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s=[%s]\n", key, value);
	return 0;
}

static const char *parse(const char *text, struct seen *s)
{
	unsigned line = 0;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(envfile_parse(text, collect, s, &line), 0);
	ck_assert_uint_eq(line, 0);
	return s->text;
}

START_TEST(settings_comments_and_blanks)
{
	struct seen s;

	ck_assert_str_eq(parse("# comment\n"
			       "\n"
			       "  ; another\n"
			       "A=1\n"
			       "  B = two words  \n"
			       "export C=3\n"
			       "EMPTY=\n"
			       "D_4=x=y\r\n"
			       "LAST=no newline",
			       &s),
			 "A=[1]\nB=[two words]\nC=[3]\nEMPTY=[]\nD_4=[x=y]\n"
			 "LAST=[no newline]\n");
}
END_TEST

START_TEST(quotes)
{
	struct seen s;

	ck_assert_str_eq(parse("S='a \"b\" \\n #c'\n"
			       "D=\"say \\\"hi\\\" \\\\ 'x'\"  \n"
			       "H=\"#not a comment\"\n"
			       "P='  padded  '\n",
			       &s),
			 "S=[a \"b\" \\n #c]\nD=[say \"hi\" \\ 'x']\n"
			 "H=[#not a comment]\nP=[  padded  ]\n");
}
END_TEST

START_TEST(bad_lines_are_named)
{
	static const char *const bad[] = {
	    "A=1\nnot a setting\n", "A=1\n=value\n",    "A=1\n1A=x\n",
	    "A=1\nQ='open\n",       "A=1\nQ=\"x\" y\n", "A=1\nA B=c\n",
	};
	struct seen s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned line = 0;

		memset(&s, 0, sizeof(s));
		ck_assert_int_eq(envfile_parse(bad[i], collect, &s, &line),
				 -EINVAL);
		ck_assert_uint_eq(line, 2);
		ck_assert_str_eq(s.text, "A=[1]\n");
	}
}
END_TEST

static int stop_at_b(const char *key, const char *value, void *userdata)
{
	return strcmp(key, "B") == 0 ? -ECANCELED
				     : collect(key, value, userdata);
}

START_TEST(callback_stops_the_parse)
{
	struct seen s = {{0}};
	unsigned line = 7;

	ck_assert_int_eq(envfile_parse("A=1\nB=2\nC=3\n", stop_at_b, &s, &line),
			 -ECANCELED);
	ck_assert_uint_eq(line, 7);
	ck_assert_str_eq(s.text, "A=[1]\n");
}
END_TEST

START_TEST(reads_files_with_a_cap)
{
	char path[] = "/tmp/envfile-XXXXXX";
	int fd = mkstemp(path);
	struct seen s = {{0}};
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("LOG_LEVEL=debug\n", f);
	fflush(f);
	ck_assert_int_eq(envfile_read(path, collect, &s, NULL), 0);
	ck_assert_str_eq(s.text, "LOG_LEVEL=[debug]\n");
	for (unsigned i = 0; i < ENVFILE_MAX_SIZE / 16; i++)
		fputs("# padding......\n", f);
	fclose(f);
	ck_assert_int_eq(envfile_read(path, collect, &s, NULL), -EFBIG);
	unlink(path);
	ck_assert_int_eq(envfile_read(path, collect, &s, NULL), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-envfile");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, settings_comments_and_blanks);
	tcase_add_test(tc, quotes);
	tcase_add_test(tc, bad_lines_are_named);
	tcase_add_test(tc, callback_stops_the_parse);
	tcase_add_test(tc, reads_files_with_a_cap);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
