/* strmap.c: open addressing with linear probing and backward-shift delete. */
#include "util/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STRMAP_MIN_SLOTS 16

struct slot {
	char *key; /* NULL when the slot is empty */
	void *value;
	uint64_t hash;
};

struct strmap {
	struct slot *slots;
	size_t nslots; /* a power of two */
	size_t count;
};

/* FNV-1a: short keys, no adversary able to pick them cheaply (ids come from
 * Asterisk or from our own random generator). */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *map = calloc(1, sizeof(*map));

	if (!map)
		return NULL;
	map->slots = calloc(STRMAP_MIN_SLOTS, sizeof(*map->slots));
	if (!map->slots) {
		free(map);
		return NULL;
	}
	map->nslots = STRMAP_MIN_SLOTS;
	return map;
}

void strmap_free(struct strmap *map)
{
	if (!map)
		return;
	for (size_t i = 0; i < map->nslots; i++)
		free(map->slots[i].key);
	free(map->slots);
	free(map);
}

static size_t find(const struct strmap *map, const char *key, uint64_t hash)
{
	size_t mask = map->nslots - 1;
	size_t i = hash & mask;

	while (map->slots[i].key) {
		if (map->slots[i].hash == hash &&
		    strcmp(map->slots[i].key, key) == 0)
			return i;
		i = (i + 1) & mask;
	}
	return i;
}

void *strmap_get(const struct strmap *map, const char *key)
{
	size_t i = find(map, key, hash_str(key));

	return map->slots[i].key ? map->slots[i].value : NULL;
}

static int grow(struct strmap *map)
{
	size_t old_n = map->nslots;
	struct slot *old = map->slots;
	struct slot *slots = calloc(old_n * 2, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	map->slots = slots;
	map->nslots = old_n * 2;
	for (size_t i = 0; i < old_n; i++) {
		if (old[i].key)
			map->slots[find(map, old[i].key, old[i].hash)] = old[i];
	}
	free(old);
	return 0;
}

int strmap_put(struct strmap *map, const char *key, void *value)
{
	uint64_t hash = hash_str(key);
	size_t i;
	char *copy;

	if (!value)
		return -EINVAL;
	if (map->slots[find(map, key, hash)].key)
		return -EEXIST;
	/* Keep the load under 3/4 so probes stay short. */
	if ((map->count + 1) * 4 > map->nslots * 3 && grow(map) < 0)
		return -ENOMEM;
	copy = strdup(key);
	if (!copy)
		return -ENOMEM;
	i = find(map, key, hash);
	map->slots[i] = (struct slot){copy, value, hash};
	map->count++;
	return 0;
}

/* Shifts later members of the probe run back into the hole at i, so lookups
 * never stop early at an empty slot that used to be occupied. */
static void close_hole(struct strmap *map, size_t i)
{
	size_t mask = map->nslots - 1;
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!map->slots[j].key)
			break;
		home = map->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			map->slots[i] = map->slots[j];
			map->slots[j].key = NULL;
			i = j;
		}
	}
}

void *strmap_remove(struct strmap *map, const char *key)
{
	size_t i = find(map, key, hash_str(key));
	void *value;

	if (!map->slots[i].key)
		return NULL;
	value = map->slots[i].value;
	free(map->slots[i].key);
	map->slots[i].key = NULL;
	map->count--;
	close_hole(map, i);
	return value;
}

size_t strmap_count(const struct strmap *map)
{
	return map->count;
}

bool strmap_next(const struct strmap *map, size_t *cursor, const char **ret_key,
		 void **ret_value)
{
	for (size_t i = *cursor; i < map->nslots; i++) {
		if (map->slots[i].key) {
			*ret_key = map->slots[i].key;
			*ret_value = map->slots[i].value;
			*cursor = i + 1;
			return true;
		}
	}
	*cursor = map->nslots;
	return false;
}
