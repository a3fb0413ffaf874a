/* buf.c: growing a byte buffer under a hard cap. */
#include "util/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int reserve(char **data, size_t *cap, size_t need, size_t limit)
{
	size_t c = *cap ? *cap : BUF_INITIAL_CAPACITY;
	char *d;

	if (need <= *cap)
		return 0;
	while (c < need)
		c = c > limit / 2 ? limit : c * 2;
	if (c > limit)
		c = limit;
	d = realloc(*data, c);
	if (!d)
		return -ENOMEM;
	*data = d;
	*cap = c;
	return 0;
}

int buf_append(char **data, size_t *len, size_t *cap, const void *in, size_t n,
	       size_t max)
{
	int r;

	if (n > max - *len)
		return -EMSGSIZE;
	r = reserve(data, cap, *len + n + 1, max + 1);
	if (r < 0)
		return r;
	if (n)
		memcpy(*data + *len, in, n);
	*len += n;
	(*data)[*len] = '\0';
	return 0;
}
