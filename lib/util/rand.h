/* rand.h: random numbers for jitter, random choices and identifiers (not
 * for secrets: those come from getrandom(2) directly). */
#ifndef UTIL_RAND_H
#define UTIL_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Largest request rand_bytes() serves from its pool; larger ones go to the
 * kernel each time. */
#define RAND_POOL_SIZE 256

/* Returns 64 random bits from the kernel; never blocks. Should the kernel
 * refuse, the result is derived from the clock, which is still good enough
 * to spread retries apart. */
uint64_t rand_u64(void);

/* Fills buf with len random bytes from the kernel, through a per-thread
 * pool that one getrandom(2) refills: a busy daemon makes one system call
 * per RAND_POOL_SIZE bytes instead of one per identifier. Blocks only
 * while the kernel's generator is not yet seeded (early boot). Bytes are
 * never handed out twice. Returns 0 or a negative errno. */
int rand_bytes(void *buf, size_t len);

#endif /* UTIL_RAND_H */
