/* test-util-memtrim.c: when the heap is trimmed, and that a trim gives
 * freed pages back to the kernel. */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "util/memtrim.h"

START_TEST(due_on_growth_only)
{
	struct memtrim m = {0};

	ck_assert(!memtrim_due(&m, 0));
	ck_assert(!memtrim_due(&m, MEMTRIM_GROWTH - 1));
	ck_assert(memtrim_due(&m, MEMTRIM_GROWTH));
	/* The same free bytes again: trimmed already. */
	ck_assert(!memtrim_due(&m, MEMTRIM_GROWTH));
	ck_assert(!memtrim_due(&m, 2 * MEMTRIM_GROWTH - 1));
	ck_assert(memtrim_due(&m, 2 * MEMTRIM_GROWTH));
}
END_TEST

START_TEST(baseline_follows_reuse_down)
{
	struct memtrim m = {0};

	ck_assert(memtrim_due(&m, 3 * MEMTRIM_GROWTH));
	/* The heap reused most of it, then a new peak went. */
	ck_assert(!memtrim_due(&m, MEMTRIM_GROWTH / 2));
	ck_assert_uint_eq(m.baseline, MEMTRIM_GROWTH / 2);
	ck_assert(memtrim_due(&m, MEMTRIM_GROWTH / 2 + MEMTRIM_GROWTH));
}
END_TEST

/* Anonymous resident memory of this process, in KB. */
static long anon_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	ck_assert(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Anonymous: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* BLOCKS blocks of 16 pages, each followed by a small one that stays: what
 * the blocks' free() leaves is spread through the heap, not at its top,
 * where only a trim can give it back (all but one page of each block). */
#define BLOCKS 500

START_TEST(trim_gives_freed_pages_back)
{
	static void *big[BLOCKS], *small[BLOCKS];
	size_t block = 16 * (size_t)sysconf(_SC_PAGESIZE);
	struct memtrim m = {0};
	long before, peak, after;

	/* On the heap, not each in a mapping of its own. */
	mallopt(M_MMAP_THRESHOLD, (int)(2 * block));
	before = anon_kb();
	for (int i = 0; i < BLOCKS; i++) {
		big[i] = malloc(block);
		small[i] = malloc(16);
		ck_assert(big[i] && small[i]);
		memset(big[i], 0x5a, block);
	}
	peak = anon_kb();
	for (int i = 0; i < BLOCKS; i++)
		free(big[i]);
	if (mallinfo2().fordblks == 0) {
		/* Another allocator (ASan, valgrind): nothing to look at. */
		ck_assert(!memtrim_check(&m));
	} else {
		ck_assert_int_ge(anon_kb(), peak - 1024); /* kept by free() */
		ck_assert(memtrim_check(&m));
		after = anon_kb();
		ck_assert_msg(after <= before + (peak - before) / 2,
			      "before %ld peak %ld after trim %ld KB", before,
			      peak, after);
		ck_assert_uint_eq(m.trims, 1);
		ck_assert(!memtrim_check(&m)); /* nothing new to give back */
	}
	for (int i = 0; i < BLOCKS; i++)
		free(small[i]);
}
END_TEST

START_TEST(timer_closes)
{
	uv_loop_t loop;
	struct memtrim m = {0};

	memtrim_close(&m); /* never started */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(memtrim_start(&m, &loop, 10), 0);
	/* Unreferenced: the loop does not wait for it. */
	ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	memtrim_close(&m);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-memtrim");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, due_on_growth_only);
	tcase_add_test(tc, baseline_follows_reuse_down);
	tcase_add_test(tc, trim_gives_freed_pages_back);
	tcase_add_test(tc, timer_closes);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
