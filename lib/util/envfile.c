/* envfile.c: KEY=VALUE files. */
#include "util/envfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

static bool key_char(char c, bool first)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (!first && c >= '0' && c <= '9');
}

/* The value from p to end of line into out (room for end - p + 1 bytes).
 * Returns 0, or -EINVAL for an unclosed quote or text after one. */
static int parse_value(const char *p, const char *end, char *out)
{
	char quote = 0;
	size_t n = 0;

	p = skip_blanks(p, end);
	if (p < end && (*p == '\'' || *p == '"'))
		quote = *p++;
	for (; p < end; p++) {
		if (quote && *p == quote)
			break;
		if (quote == '"' && *p == '\\' && p + 1 < end)
			p++;
		out[n++] = *p;
	}
	if (quote) {
		if (p >= end)
			return -EINVAL;
		if (skip_blanks(p + 1, end) != end)
			return -EINVAL;
	} else {
		while (n > 0 && is_blank(out[n - 1]))
			n--;
	}
	out[n] = '\0';
	return 0;
}

/* One line without its newline: a setting, a comment or nothing. */
static int parse_line(const char *p, const char *end, envfile_cb cb,
		      void *userdata, char *buf)
{
	const char *key;
	size_t klen;
	int r;

	p = skip_blanks(p, end);
	if (p == end || *p == '#' || *p == ';')
		return 0;
	if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 &&
	    is_blank(p[6]))
		p = skip_blanks(p + 7, end);
	key = p;
	while (p < end && key_char(*p, p == key))
		p++;
	klen = (size_t)(p - key);
	p = skip_blanks(p, end);
	if (klen == 0 || p == end || *p != '=')
		return -EINVAL;
	memcpy(buf, key, klen);
	buf[klen] = '\0';
	r = parse_value(p + 1, end, buf + klen + 1);
	if (r < 0)
		return r;
	return cb(buf, buf + klen + 1, userdata);
}

int envfile_parse(const char *text, envfile_cb cb, void *userdata,
		  unsigned *ret_line)
{
	/* A key and its value never take more room than their line. */
	char *buf = malloc(strlen(text) + 2);
	unsigned line = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	for (const char *p = text; *p && r == 0;) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl : p + strlen(p);

		line++;
		r = parse_line(p, end, cb, userdata, buf);
		p = nl ? nl + 1 : end;
	}
	free(buf);
	if (r == -EINVAL && ret_line)
		*ret_line = line;
	return r;
}

/* The whole file into a NUL-terminated buffer of at most the cap. */
static int slurp(const char *path, char **ret_text)
{
	char *text = malloc(ENVFILE_MAX_SIZE + 1);
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	if (!text)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	for (;;) {
		n = read(fd, text + len, ENVFILE_MAX_SIZE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		if (len > ENVFILE_MAX_SIZE) {
			r = -EFBIG;
			break;
		}
	}
	close(fd);
	if (r < 0) {
		free(text);
		return r;
	}
	text[len] = '\0';
	*ret_text = text;
	return 0;
}

int envfile_read(const char *path, envfile_cb cb, void *userdata,
		 unsigned *ret_line)
{
	char *text = NULL;
	int r = slurp(path, &text);

	if (r < 0)
		return r;
	r = envfile_parse(text, cb, userdata, ret_line);
	free(text);
	return r;
}
