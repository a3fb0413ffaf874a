/* ratelimit.c: token buckets in an open-addressing, linear-probing table. */
#include "outbound/ratelimit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/*
 * Tokens are counted in units of 1/60000: a bucket gains per_minute units
 * every millisecond and a token costs UNIT units, so refilling is exact
 * integer arithmetic with no rounding drift between takes.
 */
#define UNIT 60000u

struct slot {
	int64_t key;
	uint64_t units;   /* at last_ms */
	uint64_t last_ms; /* the latest time seen for this key */
	bool used;
};

struct outbound_ratelimit {
	uint64_t rate; /* units a millisecond: the rate a minute */
	uint64_t cap;  /* units in a full bucket */
	size_t max_keys;
	size_t count;
	size_t mask; /* slots - 1; slots is a power of two, >= 2 * max_keys */
	struct slot *slots;
};

int outbound_ratelimit_new(uint32_t per_minute, uint32_t burst, size_t max_keys,
			   struct outbound_ratelimit **ret_rl)
{
	struct outbound_ratelimit *rl;
	size_t slots = 2;

	if (per_minute == 0 || per_minute > OUTBOUND_RATELIMIT_MAX_RATE ||
	    burst == 0 || burst > OUTBOUND_RATELIMIT_MAX_BURST ||
	    max_keys == 0 || max_keys > OUTBOUND_RATELIMIT_MAX_KEYS)
		return -EINVAL;
	/* At most half the slots are used, which keeps probe runs short. */
	while (slots < 2 * max_keys)
		slots *= 2;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->slots = calloc(slots, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return -ENOMEM;
	}
	rl->rate = per_minute;
	rl->cap = (uint64_t)burst * UNIT;
	rl->max_keys = max_keys;
	rl->mask = slots - 1;
	*ret_rl = rl;
	return 0;
}

void outbound_ratelimit_free(struct outbound_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}

/* Spreads agent ids, which are small and dense, over the table
 * (the splitmix64 finalizer). */
static size_t home(const struct outbound_ratelimit *rl, int64_t key)
{
	uint64_t x = (uint64_t)key;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(x ^ (x >> 31)) & rl->mask;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct outbound_ratelimit *rl, int64_t key)
{
	size_t i = home(rl, key);

	while (rl->slots[i].used && rl->slots[i].key != key)
		i = (i + 1) & rl->mask;
	return i;
}

/* The units in s's bucket at now_ms. */
static uint64_t units_at(const struct outbound_ratelimit *rl,
			 const struct slot *s, uint64_t now_ms)
{
	uint64_t elapsed = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
	uint64_t missing = rl->cap - s->units;

	/* Comparing with the time a refill takes avoids multiplying a huge
	 * elapsed time by the rate. */
	if (elapsed >= (missing + rl->rate - 1) / rl->rate)
		return rl->cap;
	return s->units + elapsed * rl->rate;
}

/* Milliseconds until s's bucket holds `want` units, from now_ms. Refilling
 * starts no earlier than the latest time seen, even if now_ms is before it. */
static uint64_t wait_for(const struct outbound_ratelimit *rl,
			 const struct slot *s, uint64_t now_ms, uint64_t want)
{
	uint64_t from = now_ms > s->last_ms ? now_ms : s->last_ms;
	uint64_t units = units_at(rl, s, from);

	if (units >= want)
		return from - now_ms;
	return from - now_ms + (want - units + rl->rate - 1) / rl->rate;
}

/*
 * Empties slot i and moves later members of its probe run back, so that
 * lookups never meet a hole inside a run (deletion without tombstones).
 */
static void remove_at(struct outbound_ratelimit *rl, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t h;

		j = (j + 1) & rl->mask;
		if (!rl->slots[j].used)
			break;
		h = home(rl, rl->slots[j].key);
		/* The entry at j may move to i only if its home is not in the
		 * cyclic range (i, j]. */
		if ((j > i && (h <= i || h > j)) ||
		    (j < i && h <= i && h > j)) {
			rl->slots[i] = rl->slots[j];
			i = j;
		}
	}
	rl->slots[i].used = false;
	rl->count--;
}

/* The stalest slot whose bucket is full at now_ms, or SIZE_MAX. */
static size_t stalest_full(const struct outbound_ratelimit *rl, uint64_t now_ms)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i <= rl->mask; i++) {
		const struct slot *s = &rl->slots[i];

		if (!s->used || units_at(rl, s, now_ms) < rl->cap)
			continue;
		if (best == SIZE_MAX || s->last_ms < rl->slots[best].last_ms)
			best = i;
	}
	return best;
}

/* Finds or makes key's slot; returns its index, or SIZE_MAX when the table
 * is full of buckets in force. */
static size_t slot_for(struct outbound_ratelimit *rl, int64_t key,
		       uint64_t now_ms)
{
	size_t i = probe(rl, key);

	if (rl->slots[i].used)
		return i;
	if (rl->count == rl->max_keys) {
		size_t victim = stalest_full(rl, now_ms);

		if (victim == SIZE_MAX)
			return SIZE_MAX;
		remove_at(rl, victim);
		i = probe(rl, key);
	}
	rl->slots[i] = (struct slot){
	    .key = key, .units = rl->cap, .last_ms = now_ms, .used = true};
	rl->count++;
	return i;
}

int outbound_ratelimit_take(struct outbound_ratelimit *rl, int64_t key,
			    uint64_t now_ms)
{
	size_t i = slot_for(rl, key, now_ms);
	struct slot *s;
	uint64_t units;

	if (i == SIZE_MAX)
		return -EAGAIN;
	s = &rl->slots[i];
	units = units_at(rl, s, now_ms);
	if (now_ms > s->last_ms)
		s->last_ms = now_ms;
	s->units = units;
	if (units < UNIT)
		return -EAGAIN;
	s->units -= UNIT;
	return 0;
}

/* For a key without a slot in a full table: the wait until some bucket is
 * full and may be forgotten to make room. */
static uint64_t wait_for_room(const struct outbound_ratelimit *rl,
			      uint64_t now_ms)
{
	uint64_t best = UINT64_MAX;

	for (size_t i = 0; i <= rl->mask; i++) {
		uint64_t w;

		if (!rl->slots[i].used)
			continue;
		w = wait_for(rl, &rl->slots[i], now_ms, rl->cap);
		if (w < best)
			best = w;
	}
	return best;
}

uint64_t outbound_ratelimit_retry_after_ms(const struct outbound_ratelimit *rl,
					   int64_t key, uint64_t now_ms)
{
	size_t i = probe(rl, key);

	if (rl->slots[i].used)
		return wait_for(rl, &rl->slots[i], now_ms, UNIT);
	if (rl->count < rl->max_keys)
		return 0;
	return wait_for_room(rl, now_ms);
}

size_t outbound_ratelimit_count(const struct outbound_ratelimit *rl)
{
	return rl->count;
}
