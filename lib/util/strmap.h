/* strmap.h: a hash map from strings to pointers (open addressing). */
#ifndef UTIL_STRMAP_H
#define UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap; /* opaque */

/* Returns a new empty map, or NULL when out of memory. */
struct strmap *strmap_new(void);

/* Frees the map and its copies of the keys; values are the caller's.
 * NULL is a no-op. */
void strmap_free(struct strmap *map);

/* Returns the value stored under key, or NULL. */
void *strmap_get(const struct strmap *map, const char *key);

/* Stores value (not NULL) under a copy of key. Returns 0, -EEXIST when key
 * is present (the map is unchanged), -EINVAL for a NULL value, or -ENOMEM. */
int strmap_put(struct strmap *map, const char *key, void *value);

/* Removes key and returns its value, or NULL when absent. */
void *strmap_remove(struct strmap *map, const char *key);

/* Number of entries. */
size_t strmap_count(const struct strmap *map);

/*
 * Iterates: start with *cursor = 0; each call that returns true sets
 * *ret_key (borrowed) and *ret_value and advances the cursor. The map must
 * not change during an iteration: collect keys first, then remove.
 */
bool strmap_next(const struct strmap *map, size_t *cursor, const char **ret_key,
		 void **ret_value);

#endif /* UTIL_STRMAP_H */
