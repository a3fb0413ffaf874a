/* fuzz-api-fields.c: libFuzzer harness for the API's field checks: any
 * text as a date-time, a number, a slug, a SIP user name or a dial
 * template, each check held to what it promises (app/api/body.h), since
 * what passes goes to PostgreSQL and to Asterisk as it is. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longer text teaches the checks nothing more. */
#define FUZZ_TEXT_MAX 256

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int number(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool date_exists(int y, int m, int d)
{
	static const int days[] = {31, 29, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return y >= 1 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= (m == 2 && !leap ? 28 : days[m - 1]);
}

/* What an accepted date-time must be: "YYYY-MM-DDTHH:MM:SS", a date that
 * exists, a time of day, then ".digits" maybe, then "Z" or "+HH:MM" up
 * to 15:59 (PostgreSQL's widest offset). */
static bool time_promise(const char *s)
{
	const char *z = s + 19;

	if (strlen(s) < 20 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':' ||
	    !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	if (!date_exists(number(s, 4), number(s + 5, 2), number(s + 8, 2)) ||
	    number(s + 11, 2) > 23 || number(s + 14, 2) > 59 ||
	    number(s + 17, 2) > 60)
		return false;
	if (*z == '.') {
		size_t n = strspn(z + 1, "0123456789");

		if (n == 0)
			return false;
		z += 1 + n;
	}
	return strcmp(z, "Z") == 0 ||
	       ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 &&
		digits(z + 1, 2) && z[3] == ':' && digits(z + 4, 2) &&
		number(z + 1, 2) <= 15 && number(z + 4, 2) <= 59);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[FUZZ_TEXT_MAX + 1];
	size_t n;

	if (size > FUZZ_TEXT_MAX)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (api_time_valid(s) && !time_promise(s))
		abort();
	n = strlen(s);
	if (!api_check_digits(s) && !digits(s + (*s == '+'), n - (*s == '+')))
		abort();
	(void)api_check_slug(s);
	(void)api_check_sipuser(s);
	if (!api_check_template(s) && strpbrk(s, "\r\n"))
		abort();
	return 0;
}
