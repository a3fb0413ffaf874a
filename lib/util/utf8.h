/* utf8.h: checking and escaping UTF-8 text that a peer sent. */
#ifndef UTIL_UTF8_H
#define UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is UTF-8 with no NUL, no overlong form, no surrogate
 * and nothing above U+10FFFF: what jansson and PostgreSQL accept. */
bool utf8_valid(const char *s, size_t n);

/* True when s[0..n) is valid (as above) and holds no control character
 * (U+0001 to U+001F, U+007F). */
bool utf8_text(const char *s, size_t n);

/*
 * Copies the NUL-terminated s into out (size bytes, at least 1) so that
 * the copy is valid UTF-8 without control characters: each byte that is
 * not part of a valid sequence, and each control character, is written as
 * the four characters "\xNN". A copy that does not fit is cut between
 * sequences, never inside one. Returns the length written (without the
 * NUL, which is always written).
 */
size_t utf8_escape(char *out, size_t size, const char *s);

#endif /* UTIL_UTF8_H */
