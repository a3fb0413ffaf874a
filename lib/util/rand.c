/* rand.c: getrandom(2) through a per-thread pool, with a clock fallback
 * for rand_u64(). */
#include "util/rand.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <uv.h>

static _Thread_local struct {
	uint8_t bytes[RAND_POOL_SIZE];
	size_t left; /* unused bytes, at the end of bytes */
} pool;

/* Fills buf completely from the kernel. Returns 0 or a negative errno. */
static int kernel_fill(void *buf, size_t len, unsigned flags)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Takes len bytes from the pool, refilled when short (what was left is
 * dropped, not reused). */
static int pool_take(void *buf, size_t len, unsigned flags)
{
	int r;

	if (len > RAND_POOL_SIZE)
		return kernel_fill(buf, len, flags);
	if (pool.left < len) {
		r = kernel_fill(pool.bytes, sizeof(pool.bytes), flags);
		if (r < 0)
			return r;
		pool.left = sizeof(pool.bytes);
	}
	memcpy(buf, pool.bytes + sizeof(pool.bytes) - pool.left, len);
	pool.left -= len;
	return 0;
}

int rand_bytes(void *buf, size_t len)
{
	return pool_take(buf, len, 0);
}

uint64_t rand_u64(void)
{
	uint64_t r = 0;

	if (pool_take(&r, sizeof(r), GRND_NONBLOCK) == 0)
		return r;
	/* splitmix64 of the clock: distinct values for distinct instants. */
	r = uv_hrtime() + 0x9e3779b97f4a7c15ull;
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
	return r ^ (r >> 31);
}
