/* test-outbound-ratelimit.c: per-key token buckets on synthetic time. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "outbound/ratelimit.h"

#define MIN_MS 60000ull

START_TEST(new_arguments)
{
	struct outbound_ratelimit *rl = (struct outbound_ratelimit *)&rl;

	ck_assert_int_eq(outbound_ratelimit_new(0, 1, 1, &rl), -EINVAL);
	ck_assert_int_eq(outbound_ratelimit_new(1, 0, 1, &rl), -EINVAL);
	ck_assert_int_eq(outbound_ratelimit_new(1, 1, 0, &rl), -EINVAL);
	ck_assert_int_eq(
	    outbound_ratelimit_new(OUTBOUND_RATELIMIT_MAX_RATE + 1, 1, 1, &rl),
	    -EINVAL);
	ck_assert_int_eq(
	    outbound_ratelimit_new(1, OUTBOUND_RATELIMIT_MAX_BURST + 1, 1, &rl),
	    -EINVAL);
	ck_assert_int_eq(
	    outbound_ratelimit_new(1, 1, OUTBOUND_RATELIMIT_MAX_KEYS + 1, &rl),
	    -EINVAL);
	ck_assert_ptr_eq(rl, (struct outbound_ratelimit *)&rl);
	ck_assert_int_eq(outbound_ratelimit_new(1, 1, 1, &rl), 0);
	outbound_ratelimit_free(rl);
	outbound_ratelimit_free(NULL);
}
END_TEST

/* Six a minute with a burst of three: three at once, then one every ten
 * seconds, to the millisecond. */
START_TEST(burst_then_rate)
{
	struct outbound_ratelimit *rl;
	uint64_t t = 5000;

	ck_assert_int_eq(outbound_ratelimit_new(6, 3, 16, &rl), 0);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 7, t), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t), -EAGAIN);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 7, t), 10000);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t + 9999), -EAGAIN);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 7, t + 9999),
			  1);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t + 10000), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t + 10000), -EAGAIN);
	/* A refused take spends nothing: the next token is still due at
	 * +20 s. */
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 7, t + 15000),
			  5000);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t + 20000), 0);
	/* An hour later the bucket holds the burst, not sixty tokens. */
	t += 3600 * 1000;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 7, t), -EAGAIN);
	outbound_ratelimit_free(rl);
}
END_TEST

/* A rate that does not divide a minute: 7 a minute is one every 8571.43
 * ms, so after the burst the first token is due at 8572 ms and the seventh
 * at 60000 ms, with no rounding drift. (With a burst of 1, a bucket that
 * refills between two polls would lose the fraction above its cap.) */
START_TEST(uneven_rate)
{
	struct outbound_ratelimit *rl;
	int taken = 0;

	ck_assert_int_eq(outbound_ratelimit_new(7, 2, 4, &rl), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), 0);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 1, 0), 8572);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 8571), -EAGAIN);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 8572), 0);
	for (uint64_t t = 8573; t <= MIN_MS; t++)
		taken += outbound_ratelimit_take(rl, 1, t) == 0;
	ck_assert_int_eq(taken, 6);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 1, MIN_MS),
			  8572);
	outbound_ratelimit_free(rl);
}
END_TEST

START_TEST(keys_are_independent)
{
	struct outbound_ratelimit *rl;

	ck_assert_int_eq(outbound_ratelimit_new(1, 1, 8, &rl), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), -EAGAIN);
	ck_assert_int_eq(outbound_ratelimit_take(rl, -1, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, INT64_MIN, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, INT64_MAX, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, INT64_MAX, 0), -EAGAIN);
	ck_assert_uint_eq(outbound_ratelimit_count(rl), 4);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 2, 0), 0);
	outbound_ratelimit_free(rl);
}
END_TEST

/* Huge times neither overflow nor give more than the burst; a time before
 * the last one seen gives no tokens. */
START_TEST(extreme_times)
{
	struct outbound_ratelimit *rl;

	ck_assert_int_eq(outbound_ratelimit_new(OUTBOUND_RATELIMIT_MAX_RATE,
						OUTBOUND_RATELIMIT_MAX_BURST, 1,
						&rl),
			 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, UINT64_MAX), 0);
	outbound_ratelimit_free(rl);

	ck_assert_int_eq(outbound_ratelimit_new(1, 2, 1, &rl), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, UINT64_MAX), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, UINT64_MAX), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, UINT64_MAX), -EAGAIN);
	outbound_ratelimit_free(rl);

	ck_assert_int_eq(outbound_ratelimit_new(1, 1, 1, &rl), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 10 * MIN_MS), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), -EAGAIN);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 1, 0),
			  11 * MIN_MS);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 11 * MIN_MS - 1),
			 -EAGAIN);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 11 * MIN_MS), 0);
	outbound_ratelimit_free(rl);
}
END_TEST

/* With every slot in force a new key is refused (fail closed) until some
 * bucket refills; then the stalest full bucket makes room. */
START_TEST(eviction)
{
	struct outbound_ratelimit *rl;

	ck_assert_int_eq(outbound_ratelimit_new(1, 1, 2, &rl), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 0), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 2, 1000), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 3, 1000), -EAGAIN);
	ck_assert_uint_eq(outbound_ratelimit_count(rl), 2);
	ck_assert_uint_eq(outbound_ratelimit_retry_after_ms(rl, 3, 1000),
			  MIN_MS - 1000);
	/* Both buckets are full at 61 s; key 1's is the stalest. */
	ck_assert_int_eq(outbound_ratelimit_take(rl, 3, MIN_MS + 1000), 0);
	ck_assert_uint_eq(outbound_ratelimit_count(rl), 2);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 2, MIN_MS + 1000), 0);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 3, MIN_MS + 1000),
			 -EAGAIN);
	/* Key 1 was forgotten while full, so it comes back full once a slot
	 * frees. */
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, MIN_MS + 1000),
			 -EAGAIN);
	ck_assert_int_eq(outbound_ratelimit_take(rl, 1, 2 * MIN_MS + 1000), 0);
	outbound_ratelimit_free(rl);
}
END_TEST

/*
 * A plain model with the same rules, searched linearly: the table must give
 * the same answer to every take, through many evictions. Which of two full
 * buckets is forgotten does not change any answer, since a full bucket
 * behaves like an absent key.
 */
#define MODEL_KEYS 37
struct model {
	int64_t key[MODEL_KEYS];
	uint64_t units[MODEL_KEYS], last[MODEL_KEYS];
	size_t n;
	uint64_t rate, cap;
};

static uint64_t model_units(const struct model *m, size_t i, uint64_t now)
{
	uint64_t u = m->units[i] + (now - m->last[i]) * m->rate;

	return u < m->cap ? u : m->cap;
}

static int model_take(struct model *m, int64_t key, uint64_t now)
{
	size_t i = 0, victim = SIZE_MAX;

	while (i < m->n && m->key[i] != key)
		i++;
	if (i == m->n) {
		for (size_t j = 0; m->n == MODEL_KEYS && j < m->n; j++) {
			if (model_units(m, j, now) == m->cap &&
			    (victim == SIZE_MAX ||
			     m->last[j] < m->last[victim]))
				victim = j;
		}
		if (m->n == MODEL_KEYS && victim == SIZE_MAX)
			return -EAGAIN;
		if (m->n == MODEL_KEYS)
			i = victim;
		else
			m->n++;
		m->key[i] = key;
		m->units[i] = m->cap;
		m->last[i] = now;
	}
	m->units[i] = model_units(m, i, now);
	m->last[i] = now;
	if (m->units[i] < 60000)
		return -EAGAIN;
	m->units[i] -= 60000;
	return 0;
}

START_TEST(matches_model)
{
	struct model m = {.rate = 30, .cap = 2 * 60000};
	struct outbound_ratelimit *rl;
	uint64_t x = 88172645463325252ull, now = 0;
	int allowed = 0, refused = 0;

	ck_assert_int_eq(outbound_ratelimit_new(30, 2, MODEL_KEYS, &rl), 0);
	for (int step = 0; step < 200000; step++) {
		int64_t key;
		int r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		key = (int64_t)(x % 100) * 1000003;
		now += x % 97;
		r = model_take(&m, key, now);
		ck_assert_int_eq(outbound_ratelimit_take(rl, key, now), r);
		ck_assert_uint_le(outbound_ratelimit_count(rl), MODEL_KEYS);
		allowed += r == 0;
		refused += r != 0;
	}
	ck_assert_int_gt(allowed, 1000);
	ck_assert_int_gt(refused, 1000);
	ck_assert_uint_eq(outbound_ratelimit_count(rl), m.n);
	outbound_ratelimit_free(rl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("outbound-ratelimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, new_arguments);
	tcase_add_test(tc, burst_then_rate);
	tcase_add_test(tc, uneven_rate);
	tcase_add_test(tc, keys_are_independent);
	tcase_add_test(tc, extreme_times);
	tcase_add_test(tc, eviction);
	tcase_add_test(tc, matches_model);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
