/* utf8.c: checking and escaping UTF-8 text that a peer sent. */
#include "util/utf8.h"

#include <stdio.h>
#include <string.h>

/* The length of the UTF-8 sequence that byte c starts; 0 when c cannot
 * start one (a continuation byte, or a lead that is always overlong or
 * beyond U+10FFFF). */
static size_t lead_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return c < 0xf5 ? 4 : 0;
}

/* The length of the valid sequence at s[0..n) (n > 0), 0 when there is
 * none: a NUL, a bad lead, a cut or bad continuation, an overlong form, a
 * surrogate or a code point above U+10FFFF. */
static size_t seq_len(const unsigned char *s, size_t n)
{
	static const unsigned long min_cp[5] = {0, 1, 0x80, 0x800, 0x10000};
	size_t len = lead_len(s[0]);
	unsigned long cp;

	if (len == 0 || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0xffu >> (len + 1));
	for (size_t k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3fu);
	}
	if (cp < min_cp[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0, len; i < n; i += len) {
		len = seq_len(u + i, n - i);
		if (len == 0)
			return false;
	}
	return true;
}

bool utf8_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (is_control((unsigned char)s[i]))
			return false;
	}
	return utf8_valid(s, n);
}

size_t utf8_escape(char *out, size_t size, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), pos = 0, len;

	for (size_t i = 0; i < n; i += len) {
		len = seq_len(u + i, n - i);
		if (len == 0 || (len == 1 && is_control(u[i]))) {
			if (pos + 4 >= size)
				break;
			snprintf(out + pos, size - pos, "\\x%02x", u[i]);
			pos += 4;
			len = 1;
			continue;
		}
		if (pos + len >= size)
			break;
		memcpy(out + pos, s + i, len);
		pos += len;
	}
	out[pos] = '\0';
	return pos;
}
