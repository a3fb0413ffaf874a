/* parser.c: a strict HTTP/1.1 request head parser (RFC 9112). */
#include "http/parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The most digits of a Content-Length: 19 always fit in 63 bits. */
#define MAX_LENGTH_DIGITS 19

/* tchar of RFC 9110 5.6.2. */
static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* What a field value may hold: VCHAR, obs-text, SP and HTAB. */
static bool is_value_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

long http_parser_head_end(const char *buf, size_t len, size_t max)
{
	size_t start = 0, line_start, n = len < max ? len : max;
	bool first = true;

	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (start + 1 < n && buf[start] == '\r' && buf[start + 1] == '\n')
		start += 2;
	line_start = start;
	for (size_t i = start; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			return -400; /* a bare LF */
		if (i - 1 == line_start && !first)
			return (long)(i + 1);
		first = false;
		line_start = i + 1;
	}
	if (len < max)
		return 0;
	return first ? -414 : -431;
}

/* Cuts the next line (ending in CRLF, which head_end checked) off *pos;
 * returns it NUL-terminated. */
static char *next_line(char **pos)
{
	char *line = *pos, *cr = strstr(line, "\r\n");

	*cr = '\0';
	*pos = cr + 2;
	return line;
}

static int parse_version(const char *v, int *ret_minor, const char **ret_detail)
{
	if (strncmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9' || v[8]) {
		*ret_detail = "The request line has no valid HTTP version.";
		return 400;
	}
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
		*ret_detail = "Use HTTP/1.1 or HTTP/1.0.";
		return 505;
	}
	*ret_minor = v[7] - '0';
	return 0;
}

/* Strips the scheme and authority of an absolute-form target (RFC 9112
 * 3.2.2), which a server must accept; returns the path's start or NULL. */
static const char *absolute_path(const char *t)
{
	const char *p;

	if (strncasecmp(t, "http://", 7) == 0)
		p = t + 7;
	else if (strncasecmp(t, "https://", 8) == 0)
		p = t + 8;
	else
		return t;
	p = strchr(p, '/');
	return p;
}

/* method SP request-target SP HTTP-version */
static int parse_request_line(char *line, struct http_head *head,
			      const char **ret_detail)
{
	char *sp1 = strchr(line, ' '), *sp2, *target;
	size_t mlen;

	*ret_detail = "The request line is malformed.";
	if (!sp1 || sp1 == line)
		return 400;
	mlen = (size_t)(sp1 - line);
	for (size_t i = 0; i < mlen; i++) {
		if (!is_tchar((unsigned char)line[i]))
			return 400;
	}
	if (mlen > HTTP_PARSER_MAX_METHOD) {
		*ret_detail = "This method is not supported.";
		return 501;
	}
	memcpy(head->method, line, mlen);
	head->method[mlen] = '\0';
	target = sp1 + 1;
	sp2 = strchr(target, ' ');
	if (!sp2) {
		*ret_detail = "The request line has no HTTP version.";
		return 400;
	}
	if (sp2 == target)
		return 400;
	for (char *p = target; p < sp2; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return 400;
	}
	*sp2 = '\0';
	head->target = absolute_path(target);
	if (!head->target)
		return 400;
	head->target_len = (size_t)(sp2 - head->target);
	return parse_version(sp2 + 1, &head->minor, ret_detail);
}

/* field-name ":" OWS field-value OWS; no obs-fold, no whitespace before
 * the colon, no control characters but HTAB in the value. */
static int parse_field(char *line, struct http_field *f,
		       const char **ret_detail)
{
	char *colon = strchr(line, ':'), *v, *end;

	*ret_detail = "A header field is malformed.";
	if (is_ows(line[0])) {
		*ret_detail =
		    "Folded header lines (obs-fold) are not accepted.";
		return 400;
	}
	if (!colon || colon == line)
		return 400;
	for (char *p = line; p < colon; p++) {
		if (!is_tchar((unsigned char)*p))
			return 400;
	}
	*colon = '\0';
	v = colon + 1;
	while (is_ows(*v))
		v++;
	end = v + strlen(v);
	for (char *p = v; p < end; p++) {
		if (!is_value_char((unsigned char)*p))
			return 400;
	}
	while (end > v && is_ows(end[-1]))
		*--end = '\0';
	f->name = line;
	f->value = v;
	return 0;
}

/* True when the comma-separated list s holds token, case-insensitively. */
static bool list_has(const char *s, const char *token)
{
	size_t tlen = strlen(token);

	while (*s) {
		while (*s == ',' || is_ows(*s))
			s++;
		if (strncasecmp(s, token, tlen) == 0) {
			const char *after = s + tlen;

			while (is_ows(*after))
				after++;
			if (*after == ',' || *after == '\0')
				return true;
		}
		s += strcspn(s, ",");
	}
	return false;
}

static int parse_length(const char *v, uint64_t *ret)
{
	size_t n = strlen(v);
	uint64_t x = 0;

	if (n == 0 || n > MAX_LENGTH_DIGITS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*ret = x;
	return 0;
}

/* Reads one field's meaning for framing and the connection. */
static int apply_field(struct http_head *head, const struct http_field *f,
		       unsigned *hosts, const char **ret_detail)
{
	uint64_t len;

	if (strcasecmp(f->name, "content-length") == 0) {
		*ret_detail = "The Content-Length is not a number.";
		if (parse_length(f->value, &len) < 0 ||
		    (head->has_length && len != head->length))
			return 400;
		head->has_length = true;
		head->length = len;
	} else if (strcasecmp(f->name, "transfer-encoding") == 0) {
		head->te = head->te == HTTP_PARSER_TE_NONE &&
				   strcasecmp(f->value, "chunked") == 0
			       ? HTTP_PARSER_TE_CHUNKED
			       : HTTP_PARSER_TE_OTHER;
	} else if (strcasecmp(f->name, "connection") == 0) {
		if (list_has(f->value, "close"))
			head->keep_alive = false;
		else if (list_has(f->value, "keep-alive"))
			head->keep_alive = true;
		if (list_has(f->value, "upgrade"))
			head->connection_upgrade = true;
	} else if (strcasecmp(f->name, "expect") == 0) {
		head->expect_continue =
		    strcasecmp(f->value, "100-continue") == 0;
	} else if (strcasecmp(f->name, "upgrade") == 0) {
		head->upgrade_ws = list_has(f->value, "websocket");
	} else if (strcasecmp(f->name, "host") == 0) {
		(*hosts)++;
	}
	return 0;
}

static int parse_fields(char **pos, struct http_head *head,
			const char **ret_detail)
{
	unsigned hosts = 0;
	char *line;
	int r;

	while (*(line = next_line(pos))) {
		if (head->n_fields == HTTP_PARSER_MAX_FIELDS) {
			*ret_detail = "The request has too many header fields.";
			return 431;
		}
		r = parse_field(line, &head->fields[head->n_fields],
				ret_detail);
		if (r == 0)
			r = apply_field(head, &head->fields[head->n_fields],
					&hosts, ret_detail);
		if (r)
			return r;
		head->n_fields++;
	}
	if (head->has_length && head->te != HTTP_PARSER_TE_NONE) {
		*ret_detail = "Content-Length and Transfer-Encoding together.";
		return 400;
	}
	if (head->minor == 1 && hosts != 1) {
		*ret_detail = "An HTTP/1.1 request needs exactly one Host.";
		return 400;
	}
	return 0;
}

int http_parser_parse(char *buf, size_t len, struct http_head *head,
		      const char **ret_detail)
{
	char *pos = buf;
	int r;

	memset(head, 0, sizeof(*head));
	if (len < 4 || buf[len] || memcmp(buf + len - 4, "\r\n\r\n", 4) ||
	    memchr(buf, '\0', len)) {
		*ret_detail = "The request head holds a NUL or is cut short.";
		return 400;
	}
	while (pos[0] == '\r' && pos[1] == '\n')
		pos += 2;
	r = parse_request_line(next_line(&pos), head, ret_detail);
	if (r)
		return r;
	head->keep_alive = head->minor == 1;
	return parse_fields(&pos, head, ret_detail);
}

const char *http_parser_field(const struct http_head *head, const char *name)
{
	for (size_t i = 0; i < head->n_fields; i++) {
		if (strcasecmp(head->fields[i].name, name) == 0)
			return head->fields[i].value;
	}
	return NULL;
}

static int hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into out (room for len + 1); returns the decoded
 * length or -EINVAL. */
static long decode(const char *s, size_t len, bool plus, char *out)
{
	size_t o = 0;
	int hi, lo;
	unsigned char ch;

	for (size_t i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '%') {
			if (i + 2 >= len)
				return -EINVAL;
			hi = hex(s[i + 1]);
			lo = hex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			ch = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (plus && ch == '+') {
			ch = ' ';
		}
		if (ch < 0x20 || ch == 0x7f)
			return -EINVAL;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return (long)o;
}

int http_parser_path(const char *target, size_t len, char **ret_path)
{
	const char *q = memchr(target, '?', len);
	size_t plen = q ? (size_t)(q - target) : len;
	char *out = malloc(plen + 1);

	if (!out)
		return -ENOMEM;
	if (decode(target, plen, false, out) < 0) {
		free(out);
		return -EINVAL;
	}
	*ret_path = out;
	return 0;
}

/* Decodes the parameters of query (qlen bytes) into args, NUL-separated;
 * returns their total length with the NULs, -EINVAL or -E2BIG. */
static long split_query(const char *query, size_t qlen, char *args)
{
	size_t pos = 0, n = 0, plen;
	long r;

	for (size_t i = 0; i < qlen; i += plen + 1) {
		const char *amp = memchr(query + i, '&', qlen - i);

		plen = amp ? (size_t)(amp - (query + i)) : qlen - i;
		if (plen == 0)
			continue;
		if (++n > HTTP_PARSER_MAX_PARAMS)
			return -E2BIG;
		r = decode(query + i, plen, true, args + pos);
		if (r < 0)
			return r;
		pos += (size_t)r + 1;
	}
	return (long)pos;
}

int http_parser_query(const char *target, size_t len, char **ret_args,
		      size_t *ret_args_len, char **ret_query)
{
	const char *q = memchr(target, '?', len);
	size_t qlen = q ? len - (size_t)(q + 1 - target) : 0;
	char *args = malloc(qlen + 1), *query = malloc(qlen + 1);
	long n;

	if (!args || !query) {
		n = -ENOMEM;
		goto err;
	}
	n = split_query(q ? q + 1 : "", qlen, args);
	if (n < 0)
		goto err;
	query[0] = '\0';
	for (long off = 0; off < n; off += (long)strlen(args + off) + 1) {
		if (off)
			strcat(query, "&");
		strcat(query, args + off);
	}
	*ret_args = args;
	*ret_args_len = (size_t)n;
	*ret_query = query;
	return 0;
err:
	free(args);
	free(query);
	return (int)n;
}
