/* rand.c: getrandom(2) with a clock fallback. */
#include "util/rand.h"

#include <sys/random.h>
#include <uv.h>

uint64_t rand_u64(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* splitmix64 of the clock: distinct values for distinct instants. */
	r = uv_hrtime() + 0x9e3779b97f4a7c15ull;
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
	return r ^ (r >> 31);
}
