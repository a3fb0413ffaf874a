/* rand.h: random numbers for jitter and random choices (not for secrets). */
#ifndef UTIL_RAND_H
#define UTIL_RAND_H

#include <stdint.h>

/* Returns 64 random bits from the kernel; never blocks. Should the kernel
 * refuse, the result is derived from the clock, which is still good enough
 * to spread retries apart. */
uint64_t rand_u64(void);

#endif /* UTIL_RAND_H */
