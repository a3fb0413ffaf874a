/* backoff.h: capped exponential backoff with jitter, as a pure calculation. */
#ifndef UTIL_BACKOFF_H
#define UTIL_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t min_ms;
	uint32_t max_ms;
	uint32_t attempt;
};

/* Sets the bounds and clears the attempt count. min_ms must be > 0 and
 * max_ms >= min_ms; otherwise they are clamped to make it so. */
void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms);

/*
 * Returns the delay before the next attempt and counts the attempt. The
 * ceiling doubles from min_ms per attempt up to max_ms; the delay is half the
 * ceiling plus a random part of the other half ("equal jitter"), so retries
 * spread out yet never come faster than half the ceiling. rnd is any 32-bit
 * random value; the caller supplies it so that tests are deterministic.
 */
uint32_t backoff_next(struct backoff *b, uint32_t rnd);

/* The ceiling the next call will use, without counting an attempt. */
uint32_t backoff_ceiling(const struct backoff *b);

/* Forgets past attempts, after a success. */
void backoff_reset(struct backoff *b);

#endif /* UTIL_BACKOFF_H */
