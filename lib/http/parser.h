/* parser.h: a strict HTTP/1.1 request head parser (RFC 9112), and the
 * percent-decoding of a request target's path and query. */
#ifndef HTTP_PARSER_H
#define HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header fields one request may carry; 431 past it. */
#define HTTP_PARSER_MAX_FIELDS 100u
/* Query parameters one request may carry; 414 past it. */
#define HTTP_PARSER_MAX_PARAMS 128u
/* The longest method token; 501 past it. */
#define HTTP_PARSER_MAX_METHOD 15u

struct http_field {
	const char *name;  /* NUL-terminated in the parsed buffer */
	const char *value; /* without surrounding whitespace; NUL-terminated */
};

enum http_parser_te {
	HTTP_PARSER_TE_NONE,
	HTTP_PARSER_TE_CHUNKED, /* only "chunked" */
	HTTP_PARSER_TE_OTHER,
};

/* A parsed request head; its strings point into the buffer given to
 * http_parser_parse(), which must outlive it. */
struct http_head {
	char method[HTTP_PARSER_MAX_METHOD + 1];
	const char *target; /* as sent, NUL-terminated */
	size_t target_len;
	int minor; /* HTTP/1.<minor>: 0 or 1 */
	struct http_field fields[HTTP_PARSER_MAX_FIELDS];
	size_t n_fields;
	bool has_length;
	uint64_t length;
	enum http_parser_te te;
	bool keep_alive;         /* by version and Connection */
	bool expect_continue;    /* Expect: 100-continue */
	bool upgrade_ws;         /* Upgrade: websocket */
	bool connection_upgrade; /* Connection names "upgrade" */
};

/*
 * Finds the end of a request head at the start of buf (len bytes): returns
 * the head's length with its final empty line, 0 when more bytes are
 * needed, or a negative HTTP status when the head cannot become valid:
 * -414 when the request line alone is past max bytes, -431 when the head
 * is. Empty lines before the request line are counted in the head.
 */
long http_parser_head_end(const char *buf, size_t len, size_t max);

/*
 * Parses the head that http_parser_head_end() found: len bytes and a NUL
 * after them (NUL bytes are written into buf at the end of each token). Returns 0 and fills *head,
 * or an HTTP status and a static *ret_detail: 400 for a malformed request
 * line, field, Content-Length (not digits, or two that differ), or both
 * Content-Length and Transfer-Encoding, or an HTTP/1.1 request without
 * exactly one Host; 505 for a version other than HTTP/1.0 and HTTP/1.1;
 * 501 for a method token longer than HTTP_PARSER_MAX_METHOD; 431 past
 * HTTP_PARSER_MAX_FIELDS. The target must be origin-form (start with
 * '/'), else 400.
 */
int http_parser_parse(char *buf, size_t len, struct http_head *head,
		      const char **ret_detail);

/* The first value of a field, by case-insensitive name; NULL if absent.
 * Borrowed from head. */
const char *http_parser_field(const struct http_head *head, const char *name);

/*
 * Percent-decodes the path of target (up to '?', at most len bytes) into a
 * new string. Returns 0 and sets *ret_path (owned by the caller), -EINVAL
 * for a bad escape or a decoded control character (%00 to %1f, %7f), or
 * -ENOMEM.
 */
int http_parser_path(const char *target, size_t len, char **ret_path);

/*
 * Splits the query of target (after '?') at '&' and percent-decodes each
 * parameter, '+' as a space. *ret_args gets them NUL-separated (the
 * caller owns it; *ret_args_len bytes, every one NUL-terminated), *ret_query
 * the same joined with '&' (owned by the caller). Returns 0, -EINVAL for a
 * bad escape or a control character, -E2BIG past HTTP_PARSER_MAX_PARAMS,
 * or -ENOMEM.
 */
int http_parser_query(const char *target, size_t len, char **ret_args,
		      size_t *ret_args_len, char **ret_query);

#endif /* HTTP_PARSER_H */
