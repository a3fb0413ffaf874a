/* ids.c: random identifiers with a recognizable prefix. */
#include "util/ids.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/rand.h"

#define IDS_KIND_MAX 16
#define IDS_RANDOM_CHARS 26

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool kind_valid(const char *kind)
{
	size_t len = strlen(kind);

	if (len == 0 || len > IDS_KIND_MAX)
		return false;
	return strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789") == len;
}

int ids_new(char *buf, size_t size, const char *kind)
{
	uint8_t rnd[IDS_RANDOM_CHARS];
	char out[IDS_MAX];
	int len, r;

	if (!kind || !kind_valid(kind))
		return -EINVAL;
	r = rand_bytes(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	len = snprintf(out, sizeof(out), IDS_PREFIX "%s-", kind);
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[len++] = alphabet[rnd[i] & 31];
	out[len] = '\0';
	if ((size_t)len >= size)
		return -ENOBUFS;
	memcpy(buf, out, (size_t)len + 1);
	return len;
}

bool ids_is_ours(const char *id, const char *kind)
{
	size_t plen = strlen(IDS_PREFIX);

	if (!id || strncmp(id, IDS_PREFIX, plen) != 0)
		return false;
	if (!kind)
		return true;
	id += plen;
	return strncmp(id, kind, strlen(kind)) == 0 && id[strlen(kind)] == '-';
}
