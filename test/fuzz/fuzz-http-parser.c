/* fuzz-http-parser.c: libFuzzer harness for the HTTP request head parser,
 * the target's decoding and WebSocket frames: any bytes as a request
 * head, and as a client frame, checked for the parser's own promises (a
 * head it accepts has a method token, a target in the buffer, version 1.0
 * or 1.1; a decoded path or query holds no control character). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/frame.h"
#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A little past the server's default head cap. */
#define FUZZ_INPUT_MAX (8192 + 64)

static bool has_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

static void check_target(const struct http_head *h)
{
	char *path, *args, *query;
	size_t args_len;

	if (http_parser_path(h->target, h->target_len, &path) == 0) {
		if (has_ctl(path, strlen(path)))
			abort();
		free(path);
	}
	if (http_parser_query(h->target, h->target_len, &args, &args_len,
			      &query) == 0) {
		if (has_ctl(query, strlen(query)))
			abort();
		free(args);
		free(query);
	}
}

static void check_head(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct http_head h;
	const char *detail;
	long end;

	if (!buf)
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	end = http_parser_head_end(buf, size, 8192);
	if (end > 0) {
		buf[end] = '\0';
		if (http_parser_parse(buf, (size_t)end, &h, &detail) == 0) {
			if (!h.method[0] || h.minor < 0 || h.minor > 1 ||
			    h.target < buf ||
			    h.target + h.target_len > buf + end)
				abort();
			check_target(&h);
		}
	}
	free(buf);
}

static void check_frame(const uint8_t *data, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);
	struct http_frame f;
	long n;

	if (!buf)
		return;
	memcpy(buf, data, size);
	n = http_frame_parse(buf, size, 4096, &f);
	if (n > 0 &&
	    ((size_t)n > size || f.len > 4096 || f.payload + f.len != buf + n))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_INPUT_MAX)
		return 0;
	check_head(data, size);
	check_frame(data, size);
	return 0;
}
