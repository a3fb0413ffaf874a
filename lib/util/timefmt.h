/* timefmt.h: instants as RFC 3339 text, the one format the daemon shows. */
#ifndef UTIL_TIMEFMT_H
#define UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and its NUL. */
#define TIMEFMT_SIZE 25

/*
 * Writes Unix microseconds us as RFC 3339 UTC with milliseconds
 * ("2026-11-24T19:35:20.123Z") into buf. Times before 1970 round down to
 * the millisecond before. Returns 0, or -EINVAL when the year is outside
 * 1000..9999 or size is below TIMEFMT_SIZE; buf is then "" (when size
 * allows).
 */
int timefmt_rfc3339(int64_t us, char *buf, size_t size);

#endif /* UTIL_TIMEFMT_H */
