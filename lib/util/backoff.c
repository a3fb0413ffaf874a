/* backoff.c: capped exponential backoff with equal jitter. */
#include "util/backoff.h"

void backoff_init(struct backoff *b, uint32_t min_ms, uint32_t max_ms)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	b->attempt = 0;
}

uint32_t backoff_ceiling(const struct backoff *b)
{
	uint64_t ceiling = b->min_ms;

	/* Stop doubling once past the cap so the shift never overflows. */
	for (uint32_t i = 0; i < b->attempt && ceiling < b->max_ms; i++)
		ceiling <<= 1;
	return ceiling > b->max_ms ? b->max_ms : (uint32_t)ceiling;
}

uint32_t backoff_next(struct backoff *b, uint32_t rnd)
{
	uint32_t ceiling = backoff_ceiling(b);
	uint32_t half = ceiling / 2;

	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return (ceiling - half) + rnd % (half + 1);
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
