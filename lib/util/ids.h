/* ids.h: identifiers for the ARI objects the daemon creates. */
#ifndef UTIL_IDS_H
#define UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>

/* Every id we create starts with this, so that after a restart the daemon
 * can tell its own bridges and channels from anyone else's. */
#define IDS_PREFIX "wd-"

/* Room for any id made here; ARI accepts ids up to 149 characters. */
#define IDS_MAX 64

/*
 * Writes "wd-<kind>-<26 random base32 characters>" into buf, NUL-terminated.
 * kind is a short tag such as "call", "chan", "br", "pb" or "rec" (at most
 * 16 characters, [a-z0-9]). Ids come from the kernel's random source, so they
 * are unique across processes and restarts without coordination.
 * Returns the length written, -EINVAL for a bad kind, -ENOBUFS when size is
 * too small, or the negative errno from getrandom(); buf is untouched on
 * failure.
 */
int ids_new(char *buf, size_t size, const char *kind);

/* True when id was made by ids_new() (with any kind when kind is NULL). */
bool ids_is_ours(const char *id, const char *kind);

#endif /* UTIL_IDS_H */
