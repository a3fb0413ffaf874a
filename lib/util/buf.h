/* buf.h: growing a byte buffer under a hard cap, for what peers send. */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stddef.h>

/* The first allocation; the buffer doubles from there. */
#define BUF_INITIAL_CAPACITY 1024u

/*
 * Appends n bytes of in to the buffer *data holding *len bytes in *cap
 * allocated ones, and writes a NUL after them (not counted in *len), so
 * that text can be read in place. The buffer never grows past max + 1
 * bytes: a peer costs at most max. Returns 0, -EMSGSIZE when *len + n
 * would pass max, or -ENOMEM; on failure the content is unchanged.
 */
int buf_append(char **data, size_t *len, size_t *cap, const void *in, size_t n,
	       size_t max);

#endif /* UTIL_BUF_H */
