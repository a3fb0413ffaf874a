/* test-http-parser.c: the strict HTTP/1.1 request head parser, the
 * percent-decoding of targets, and WebSocket frames. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/frame.h"
#include "http/parser.h"
#include "testlib.h"

#define H "Host: x\r\n"

/* Whole heads and what parsing them gives: 0 or the refusal's status. */
static const struct {
	const char *head;
	size_t len; /* 0: strlen(head) */
	int status;
} heads[] = {
    {"GET / HTTP/1.1\r\n" H "\r\n", 0, 0},
    {"GET /a?b=c HTTP/1.0\r\n\r\n", 0, 0},
    {"\r\n\r\nGET / HTTP/1.1\r\n" H "\r\n", 0, 0},
    {"DELETE /x HTTP/1.1\r\n" H "X-Empty:\r\n\r\n", 0, 0},
    {"GET http://x/abs?q=1 HTTP/1.1\r\n" H "\r\n", 0, 0},
    {"OPTIONS * HTTP/1.1\r\n" H "\r\n", 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-A: a\tb  \r\n\r\n", 0, 0},
    {"GET / HTTP/1.1\r\n" H "X-Obs: caf\xc3\xa9\r\n\r\n", 0, 0},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
     "Content-Length: 5\r\n\r\n",
     0, 0},
    /* The request line. */
    {"GET /a\r\n" H "\r\n", 0, 400},
    {"GET  / HTTP/1.1\r\n" H "\r\n", 0, 400},
    {"GET / HTTP/1.1 \r\n" H "\r\n", 0, 400},
    {"G(T / HTTP/1.1\r\n" H "\r\n", 0, 400},
    {" GET / HTTP/1.1\r\n" H "\r\n", 0, 400},
    {"GET /a\x01 HTTP/1.1\r\n" H "\r\n", 0, 400},
    {"GET /\xc3\xa9 HTTP/1.1\r\n" H "\r\n", 0, 400},
    {"GET / HTTP/9.9\r\n" H "\r\n", 0, 505},
    {"GET / HTTP/2.0\r\n" H "\r\n", 0, 505},
    {"GET / HTTP/1.10\r\n" H "\r\n", 0, 400},
    {"GET / http/1.1\r\n" H "\r\n", 0, 400},
    {"GET / HTTP/1\r\n" H "\r\n", 0, 400},
    {"VERYLONGMETHODNAME / HTTP/1.1\r\n" H "\r\n", 0, 501},
    {"GET http://x HTTP/1.1\r\n" H "\r\n", 0, 400},
    /* Header fields. */
    {"GET / HTTP/1.1\r\n" H "X-A: a\r\n b\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "X-A: a\r\n\tb\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "X-A : a\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "X A: a\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H ": a\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "NoColon\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "X-A: a\0b\r\n\r\n", 37, 400},
    {"GET / HTTP/1.1\r\n" H "X-A: a\rb\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H "X-A: a\x7f\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n\r\n", 0, 400},
    {"GET / HTTP/1.1\r\n" H H "\r\n", 0, 400},
    /* Framing. */
    {"POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n", 0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5 5\r\n\r\n", 0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n", 0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 0x10\r\n\r\n", 0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n", 0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n", 0,
     400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
     "Content-Length: 6\r\n\r\n",
     0, 400},
    {"POST / HTTP/1.1\r\n" H "Content-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     0, 400},
};

START_TEST(heads_by_table)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t len =
		    heads[i].len ? heads[i].len : strlen(heads[i].head);
		char *buf = malloc(len + 1);
		struct http_head h;
		const char *detail = NULL;
		int r;

		ck_assert_ptr_nonnull(buf);
		memcpy(buf, heads[i].head, len);
		buf[len] = '\0';
		ck_assert_int_eq(http_parser_head_end(buf, len, 8192),
				 (long)len);
		r = http_parser_parse(buf, len, &h, &detail);
		ck_assert_msg(r == heads[i].status, "case %zu: %d, want %d", i,
			      r, heads[i].status);
		ck_assert_msg(r == 0 || detail, "case %zu has no detail", i);
		free(buf);
	}
}
END_TEST

START_TEST(head_fields_read)
{
	char buf[] = "POST http://h/p?q HTTP/1.0\r\nConnection: Keep-Alive\r\n"
		     "Content-Length: 12\r\nEXPECT: 100-continue\r\n"
		     "Upgrade: h2c, WebSocket\r\nAuthorization:  Bearer x \r\n"
		     "\r\n";
	struct http_head h;
	const char *detail;

	ck_assert_int_eq(http_parser_parse(buf, strlen(buf), &h, &detail), 0);
	ck_assert_str_eq(h.method, "POST");
	ck_assert_str_eq(h.target, "/p?q");
	ck_assert_uint_eq(h.target_len, 4);
	ck_assert_int_eq(h.minor, 0);
	ck_assert(h.keep_alive);
	ck_assert(h.has_length);
	ck_assert_uint_eq(h.length, 12);
	ck_assert(h.expect_continue);
	ck_assert(h.upgrade_ws);
	ck_assert(!h.connection_upgrade);
	ck_assert_str_eq(http_parser_field(&h, "authorization"), "Bearer x");
	ck_assert_ptr_null(http_parser_field(&h, "host"));
}
END_TEST

START_TEST(keep_alive_by_version)
{
	char a[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	char b[] = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char c[] = "GET / HTTP/1.0\r\n\r\n";
	char d[] = "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		   "\r\n";
	char e[] = "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
		   "chunked\r\n\r\n";
	struct http_head h;
	const char *detail;

	ck_assert_int_eq(http_parser_parse(a, strlen(a), &h, &detail), 0);
	ck_assert(h.keep_alive);
	ck_assert_int_eq(http_parser_parse(b, strlen(b), &h, &detail), 0);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(http_parser_parse(c, strlen(c), &h, &detail), 0);
	ck_assert(!h.keep_alive);
	ck_assert_int_eq(http_parser_parse(d, strlen(d), &h, &detail), 0);
	ck_assert_int_eq(h.te, HTTP_PARSER_TE_CHUNKED);
	ck_assert_int_eq(http_parser_parse(e, strlen(e), &h, &detail), 0);
	ck_assert_int_eq(h.te, HTTP_PARSER_TE_OTHER);
}
END_TEST

/* Partial heads, limits, and bare LF. */
static const struct {
	const char *data;
	size_t max;
	long end;
} ends[] = {
    {"", 100, 0},
    {"GET / HTTP/1.1\r\n", 100, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r", 100, 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 100, 27},
    {"\r\n", 100, 0},
    {"GET / HTTP/1.1\nHost: x\r\n\r\n", 100, -400},
    {"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 16, -414},
    {"GET / HTTP/1.1\r\nX-Big: aaaaaaaaaaaaaaaaaaaaaaa", 24, -431},
    {"GET / HTTP/1.1\r\nX: 1\r\n\r\n", 24, 24},
};

START_TEST(head_ends_by_table)
{
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		ck_assert_msg(http_parser_head_end(ends[i].data,
						   strlen(ends[i].data),
						   ends[i].max) == ends[i].end,
			      "case %zu", i);
}
END_TEST

static const struct {
	const char *target;
	const char *path; /* NULL: -EINVAL */
} paths[] = {
    {"/", "/"},
    {"/a%20b/c?x=%00", "/a b/c"},
    {"/caf%C3%A9", "/caf\xc3\xa9"},
    {"/a+b", "/a+b"},
    {"/a%00b", NULL},
    {"/a%0a", NULL},
    {"/a%0D", NULL},
    {"/a%7f", NULL},
    {"/a%09", NULL},
    {"/a%", NULL},
    {"/a%4", NULL},
    {"/a%zz", NULL},
};

START_TEST(paths_by_table)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *out = NULL;
		int r = http_parser_path(paths[i].target,
					 strlen(paths[i].target), &out);

		if (!paths[i].path) {
			ck_assert_msg(r == -EINVAL, "case %zu: %d", i, r);
			continue;
		}
		ck_assert_msg(r == 0, "case %zu: %d", i, r);
		ck_assert_str_eq(out, paths[i].path);
		free(out);
	}
}
END_TEST

static const struct {
	const char *target;
	int r;
	const char *query;
} queries[] = {
    {"/", 0, ""},
    {"/?", 0, ""},
    {"/?limit=5&name=a%20b&q=x%26y+z", 0, "limit=5&name=a b&q=x&y z"},
    {"/?a&&b=", 0, "a&b="},
    {"/?q=%00", -EINVAL, NULL},
    {"/?q=%0a", -EINVAL, NULL},
    {"/?q=%g0", -EINVAL, NULL},
};

START_TEST(queries_by_table)
{
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		char *args = NULL, *query = NULL;
		size_t len = 0;
		int r = http_parser_query(queries[i].target,
					  strlen(queries[i].target), &args,
					  &len, &query);

		ck_assert_msg(r == queries[i].r, "case %zu: %d", i, r);
		if (r)
			continue;
		ck_assert_str_eq(query, queries[i].query);
		free(args);
		free(query);
	}
}
END_TEST

START_TEST(too_many_params)
{
	size_t n = HTTP_PARSER_MAX_PARAMS + 1, len = 1 + 4 * n;
	char *t = malloc(len + 1), *args, *query;
	size_t args_len;

	ck_assert_ptr_nonnull(t);
	t[0] = '/';
	t[1] = '?';
	for (size_t i = 0; i < n; i++)
		memcpy(t + 2 + 4 * i, "a=1&", 4);
	t[len] = '\0';
	ck_assert_int_eq(http_parser_query(t, len, &args, &args_len, &query),
			 -E2BIG);
	/* One fewer fits. */
	t[len - 4] = '\0';
	ck_assert_int_eq(
	    http_parser_query(t, len - 4, &args, &args_len, &query), 0);
	free(args);
	free(query);
	free(t);
}
END_TEST

/* ---- WebSocket frames ---- */

/* Masks payload into a client frame in out; returns its length. */
static size_t client_frame(unsigned char *out, unsigned char b0,
			   const char *payload, size_t len)
{
	static const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
	size_t n = http_frame_header(out, HTTP_FRAME_TEXT, len);

	out[0] = b0;
	out[1] |= 0x80;
	memcpy(out + n, mask, 4);
	for (size_t i = 0; i < len; i++)
		out[n + 4 + i] = (unsigned char)payload[i] ^ mask[i & 3];
	return n + 4 + len;
}

START_TEST(frames_parsed)
{
	unsigned char buf[70000];
	char big[66000];
	struct http_frame f;
	size_t n;

	n = client_frame(buf, 0x81, "hello", 5);
	ck_assert_int_eq(http_frame_parse(buf, n - 1, 100, &f), 0);
	ck_assert_int_eq(http_frame_parse(buf, n, 100, &f), (long)n);
	ck_assert(f.fin);
	ck_assert_int_eq(f.opcode, HTTP_FRAME_TEXT);
	ck_assert_uint_eq(f.len, 5);
	ck_assert(memcmp(f.payload, "hello", 5) == 0);
	memset(big, 'b', sizeof(big));
	n = client_frame(buf, 0x02, big, 300);
	ck_assert_int_eq(http_frame_parse(buf, n, 1000, &f), (long)n);
	ck_assert(!f.fin);
	ck_assert_uint_eq(f.len, 300);
	n = client_frame(buf, 0x82, big, sizeof(big));
	ck_assert_int_eq(http_frame_parse(buf, n, sizeof(big), &f), (long)n);
	ck_assert_int_eq(http_frame_parse(buf, n, 65536, &f),
			 -HTTP_FRAME_CLOSE_TOO_BIG);
	/* Unmasked, reserved bits, unknown opcode, fragmented control. */
	n = client_frame(buf, 0x81, "x", 1);
	buf[1] &= 0x7f;
	ck_assert_int_eq(http_frame_parse(buf, n, 100, &f),
			 -HTTP_FRAME_CLOSE_PROTOCOL);
	n = client_frame(buf, 0xc1, "x", 1);
	ck_assert_int_eq(http_frame_parse(buf, n, 100, &f),
			 -HTTP_FRAME_CLOSE_PROTOCOL);
	n = client_frame(buf, 0x83, "x", 1);
	ck_assert_int_eq(http_frame_parse(buf, n, 100, &f),
			 -HTTP_FRAME_CLOSE_PROTOCOL);
	n = client_frame(buf, 0x09, "x", 1);
	ck_assert_int_eq(http_frame_parse(buf, n, 100, &f),
			 -HTTP_FRAME_CLOSE_PROTOCOL);
	n = client_frame(buf, 0x89, big, 126);
	ck_assert_int_eq(http_frame_parse(buf, n, 1000, &f),
			 -HTTP_FRAME_CLOSE_PROTOCOL);
}
END_TEST

START_TEST(close_frames)
{
	unsigned char buf[HTTP_FRAME_MAX_HEADER + HTTP_FRAME_MAX_CONTROL];
	char reason[200];
	size_t n;

	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	n = http_frame_close(buf, 1013, reason);
	ck_assert_uint_eq(n, 2 + 2 + HTTP_FRAME_MAX_REASON);
	ck_assert_int_eq(buf[0], 0x88);
	ck_assert_int_eq(http_frame_close_code(buf + 2, n - 2), 1013);
	ck_assert_int_eq(http_frame_close_code(buf, 0), 1000);
}
END_TEST

START_TEST(accept_key)
{
	char out[HTTP_FRAME_ACCEPT_LEN + 1];

	/* The example of RFC 6455 1.3. */
	ck_assert_int_eq(http_frame_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(http_frame_accept("dGhlIHNhbXBsZSBub25jZQ", out),
			 -EINVAL);
	ck_assert_int_eq(http_frame_accept("dGhlIHNhbXBsZSBub25jZQ=x", out),
			 -EINVAL);
	ck_assert_int_eq(http_frame_accept("", out), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http-parser");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, heads_by_table);
	tcase_add_test(tc, head_fields_read);
	tcase_add_test(tc, keep_alive_by_version);
	tcase_add_test(tc, head_ends_by_table);
	tcase_add_test(tc, paths_by_table);
	tcase_add_test(tc, queries_by_table);
	tcase_add_test(tc, too_many_params);
	tcase_add_test(tc, frames_parsed);
	tcase_add_test(tc, close_frames);
	tcase_add_test(tc, accept_key);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
