/* memtrim.h: the heap's free pages handed back to the kernel after a peak.
 *
 * glibc keeps what free() returns inside the heap: after 2,000 held callers
 * or 200 stalled feed subscribers have gone, the process stays as large as
 * at the peak. malloc_trim() gives the whole free pages back. A timer on the
 * loop looks at the heap's free bytes (mallinfo2) and trims only once they
 * have grown by MEMTRIM_GROWTH since the last trim, so a steady load costs
 * one mallinfo2() a period and no page faults. */
#ifndef UTIL_MEMTRIM_H
#define UTIL_MEMTRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Free heap bytes that must have appeared since the last trim. */
#define MEMTRIM_GROWTH (1024 * 1024)

struct memtrim {
	uv_timer_t timer;
	size_t baseline; /* free bytes after the last trim, or fewer since */
	unsigned long trims;
	bool started;
};

/* The decision, without touching the heap: true when free_bytes exceed
 * the baseline by MEMTRIM_GROWTH. The baseline follows the free bytes down
 * (the heap reused them) and is set to free_bytes when it answers true. */
bool memtrim_due(struct memtrim *m, size_t free_bytes);

/* One look at the heap, trimming it when due. Returns true when it trimmed.
 * Under an allocator other than glibc's (sanitizers, valgrind) the heap
 * reports nothing free and nothing is done. */
bool memtrim_check(struct memtrim *m);

/* Checks every period_ms from a timer on loop that does not keep the loop
 * alive. Returns 0 or a negative errno. */
int memtrim_start(struct memtrim *m, uv_loop_t *loop, uint64_t period_ms);

/* Closes the timer; safe when memtrim_start was not called or failed. */
void memtrim_close(struct memtrim *m);

#endif /* UTIL_MEMTRIM_H */
