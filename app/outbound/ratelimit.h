/* ratelimit.h: token buckets per key (an agent id), in bounded memory. */
#ifndef APP_OUTBOUND_RATELIMIT_H
#define APP_OUTBOUND_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each key has a bucket of `burst` tokens that refills at `per_minute`
 * tokens a minute; a take spends one token. A key never seen, or whose
 * bucket has refilled, behaves like a full bucket, so full buckets can be
 * forgotten without changing any answer: that is what keeps memory bounded.
 * Nothing here reads a clock or does I/O: the caller passes a monotonic time
 * in milliseconds (uv_now() will do). A time earlier than the last one seen
 * for a key gives that key no tokens, as if no time had passed.
 */

struct outbound_ratelimit; /* opaque */

/* Named caps, so that a configuration error cannot overflow the arithmetic
 * or ask for unbounded memory. */
#define OUTBOUND_RATELIMIT_MAX_RATE 1000000u  /* tokens a minute */
#define OUTBOUND_RATELIMIT_MAX_BURST 1000000u /* tokens */
#define OUTBOUND_RATELIMIT_MAX_KEYS (1u << 20)

/*
 * Makes a limiter with per_minute tokens a minute (1 to
 * OUTBOUND_RATELIMIT_MAX_RATE), buckets of burst tokens (1 to
 * OUTBOUND_RATELIMIT_MAX_BURST) and room for max_keys buckets (1 to
 * OUTBOUND_RATELIMIT_MAX_KEYS), all allocated here. Returns 0 and sets
 * *ret_rl, -EINVAL for an argument out of range, or -ENOMEM; *ret_rl is
 * untouched on failure.
 */
int outbound_ratelimit_new(uint32_t per_minute, uint32_t burst, size_t max_keys,
			   struct outbound_ratelimit **ret_rl);

/* Frees rl; NULL is a no-op. */
void outbound_ratelimit_free(struct outbound_ratelimit *rl);

/*
 * Spends one of key's tokens at now_ms. Returns 0 when there was one, or
 * -EAGAIN when the bucket is empty. A new key needs a slot: when all
 * max_keys slots are taken, the stalest bucket that has refilled is
 * forgotten; when none has, the take fails with -EAGAIN rather than forget a
 * limit in force (the limiter fails closed), and
 * outbound_ratelimit_retry_after_ms() tells when a slot will free.
 */
int outbound_ratelimit_take(struct outbound_ratelimit *rl, int64_t key,
			    uint64_t now_ms);

/*
 * Milliseconds from now_ms until a take for key would succeed (0: it would
 * now), rounded up, for a Retry-After header (round up again to seconds).
 * Changes nothing.
 */
uint64_t outbound_ratelimit_retry_after_ms(const struct outbound_ratelimit *rl,
					   int64_t key, uint64_t now_ms);

/* Buckets held, at most max_keys; a held bucket may have refilled since. */
size_t outbound_ratelimit_count(const struct outbound_ratelimit *rl);

#endif /* APP_OUTBOUND_RATELIMIT_H */
