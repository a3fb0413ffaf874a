/* timefmt.c: instants as RFC 3339 text. */
#include "util/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int timefmt_rfc3339(int64_t us, char *buf, size_t size)
{
	int64_t secs = us / 1000000, rem = us % 1000000;
	time_t t;
	struct tm tm;

	if (size > 0)
		buf[0] = '\0';
	if (size < TIMEFMT_SIZE)
		return -EINVAL;
	/* Division truncates toward zero; times before 1970 round down. */
	if (rem < 0) {
		rem += 1000000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || tm.tm_year < 1000 - 1900 ||
	    tm.tm_year > 9999 - 1900)
		return -EINVAL;
	/* Four-digit years make the date part exactly 19 bytes. */
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		buf[0] = '\0';
		return -EINVAL;
	}
	snprintf(buf + 19, size - 19, ".%03dZ", (int)(rem / 1000));
	return 0;
}
