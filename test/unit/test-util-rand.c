/* test-util-rand.c: random values vary and cover every bit; the pool
 * never hands the same bytes out twice. */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "testlib.h"
#include "util/rand.h"

START_TEST(values_vary_and_cover_bits)
{
	uint64_t seen_one = 0, seen_zero = 0, prev = rand_u64();
	int repeats = 0;

	for (int i = 0; i < 1000; i++) {
		uint64_t r = rand_u64();
		repeats += r == prev;
		seen_one |= r;
		seen_zero |= ~r;
		prev = r;
	}
	ck_assert_int_eq(repeats, 0);
	ck_assert(seen_one == UINT64_MAX);
	ck_assert(seen_zero == UINT64_MAX);
}
END_TEST

/* Chunks of an identifier's size, across many refills of the pool: no two
 * alike, and every byte value turns up (16 KiB of random bytes miss one
 * of the 256 values with a chance of 256 * (255/256)^16384, below 1e-25;
 * 2 KiB missed one about once in ten runs). */
START_TEST(pool_bytes_never_repeat)
{
	enum {
		CHUNK = 26,
		N = 64 * RAND_POOL_SIZE / CHUNK,
		NEAR = 3 * RAND_POOL_SIZE / CHUNK,
	};
	static uint8_t chunks[N][CHUNK];
	bool seen[256] = {false};
	unsigned values = 0;

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(rand_bytes(chunks[i], CHUNK), 0);
		for (int k = 0; k < CHUNK; k++) {
			values += !seen[chunks[i][k]];
			seen[chunks[i][k]] = true;
		}
		/* Against the chunks of this refill and the two before. */
		for (int j = i > NEAR ? i - NEAR : 0; j < i; j++)
			ck_assert(memcmp(chunks[i], chunks[j], CHUNK) != 0);
	}
	ck_assert_uint_eq(values, 256);
}
END_TEST

/* Requests larger than the pool, and mixed with small ones and with
 * rand_u64(), are served whole. */
START_TEST(large_and_mixed_requests)
{
	static uint8_t big[3 * RAND_POOL_SIZE + 7], zero[sizeof(big)];
	uint8_t small[5];

	ck_assert_int_eq(rand_bytes(small, sizeof(small)), 0);
	ck_assert_int_eq(rand_bytes(big, sizeof(big)), 0);
	ck_assert(memcmp(big + sizeof(big) - 64, zero, 64) != 0);
	ck_assert(rand_u64() != rand_u64());
	ck_assert_int_eq(rand_bytes(small, 0), 0);
	ck_assert_int_eq(rand_bytes(big, RAND_POOL_SIZE), 0);
	ck_assert(memcmp(big, zero, 64) != 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-rand");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, values_vary_and_cover_bits);
	tcase_add_test(tc, pool_bytes_never_repeat);
	tcase_add_test(tc, large_and_mixed_requests);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
