/* test-util-log.c: level parsing and filtering, plain and journal lines. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Runs fn with standard error on a fresh file; returns what was written
 * (static storage) and the file's "dev:ino" in stream. */
static const char *capture(void (*fn)(const char *stream), char *stream,
			   size_t size)
{
	static char out[1024];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	struct stat st;
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	snprintf(stream, size, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	fflush(stderr);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	fn(stream);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

static void journal_lines(const char *stream)
{
	log_set_level(LOG_LEVEL_DEBUG);
	log_set_journal(log_stderr_is(stream));
	log_error("call=c1 failed error=%s", "x");
	log_warning("queue=q full, ignoring");
	log_notice("ready");
	log_info("detail=\"two\nlines\"\n");
	log_debug("d=1");
	log_set_journal(false);
}

START_TEST(journal_lines_carry_priorities_and_no_time)
{
	char stream[64];

	ck_assert_str_eq(capture(journal_lines, stream, sizeof(stream)),
			 "<3>call=c1 failed error=x\n"
			 "<4>queue=q full, ignoring\n"
			 "<5>ready\n"
			 "<6>detail=\"two lines\"\n"
			 "<7>d=1\n");
}
END_TEST

static void plain_line(const char *stream)
{
	log_set_level(LOG_LEVEL_INFO);
	log_set_journal(false);
	log_warning("queue=q full, ignoring");
}

START_TEST(plain_lines_keep_time_and_level)
{
	char stream[64];
	const char *out = capture(plain_line, stream, sizeof(stream));

	/* 2024-11-24T17:00:00.123Z warning ... */
	ck_assert_int_eq(strlen(out), 24 + strlen(" warning queue=q full, "
						  "ignoring\n"));
	ck_assert_int_eq(out[4], '-');
	ck_assert_int_eq(out[23], 'Z');
	ck_assert_str_eq(out + 24, " warning queue=q full, ignoring\n");
}
END_TEST

/* Each write to a SOCK_SEQPACKET socket is one packet, so the first packet
 * read back is whatever the first write carried. */
static void check_one_write(size_t message_len)
{
	char *message = malloc(message_len + 1);
	char *got = malloc(message_len + 128);
	int sv[2];
	int saved = dup(STDERR_FILENO);
	ssize_t n;

	ck_assert_ptr_nonnull(message);
	ck_assert_ptr_nonnull(got);
	memset(message, 'm', message_len);
	message[message_len] = '\0';
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	fflush(stderr);
	ck_assert_int_ge(dup2(sv[0], STDERR_FILENO), 0);
	log_set_level(LOG_LEVEL_INFO);
	log_set_journal(false);
	log_info("x=%s", message);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = recv(sv[1], got, message_len + 128, MSG_DONTWAIT);
	ck_assert_int_eq(n,
			 (ssize_t)(24 + strlen(" info x=") + message_len + 1));
	ck_assert_int_eq(got[n - 1], '\n');
	ck_assert_int_eq(memcmp(got + 24, " info x=", 8), 0);
	ck_assert_int_eq(memcmp(got + 32, message, message_len), 0);
	close(sv[0]);
	close(sv[1]);
	free(message);
	free(got);
}

START_TEST(a_line_is_one_write)
{
	check_one_write(20);
	check_one_write(LOG_LINE_STACK - 40); /* just fits the stack buffer */
	check_one_write(LOG_LINE_STACK);      /* does not */
	check_one_write(64 * 1024);
}
END_TEST

static void detect(const char *stream)
{
	char other[80];

	ck_assert(log_stderr_is(stream));
	snprintf(other, sizeof(other), "%s1", stream);
	ck_assert(!log_stderr_is(other));
	snprintf(other, sizeof(other), "%s:", stream);
	ck_assert(!log_stderr_is(other));
	ck_assert(!log_stderr_is("1:2"));
	ck_assert(!log_stderr_is("not a stream"));
	ck_assert(!log_stderr_is(""));
	ck_assert(!log_stderr_is(NULL));
}

START_TEST(stderr_is_the_journal_only_when_dev_and_ino_match)
{
	char stream[64];

	capture(detect, stream, sizeof(stream));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, parse_known_levels);
	tcase_add_test(tc, parse_rejects_unknown_and_leaves_output);
	tcase_add_test(tc, enabled_follows_level);
	tcase_add_test(tc, journal_lines_carry_priorities_and_no_time);
	tcase_add_test(tc, plain_lines_keep_time_and_level);
	tcase_add_test(tc, a_line_is_one_write);
	tcase_add_test(tc, stderr_is_the_journal_only_when_dev_and_ino_match);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
