/* presence.c: which phones are registered, merged from the sources that know. */
#include "agents/presence.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

/* A phone's sources are a bit set stored as the map's value; a phone that
 * no source reports online leaves the map. */
struct agents_presence {
	struct strmap *phones;
	unsigned trusted;
};

int agents_presence_new(struct agents_presence **ret_presence)
{
	struct agents_presence *p = calloc(1, sizeof(*p));

	if (!p || !(p->phones = strmap_new())) {
		free(p);
		return -ENOMEM;
	}
	p->trusted = AGENTS_PRESENCE_ARI | AGENTS_PRESENCE_CONTACTS;
	*ret_presence = p;
	return 0;
}

void agents_presence_free(struct agents_presence *presence)
{
	if (!presence)
		return;
	strmap_free(presence->phones);
	free(presence);
}

static unsigned bits_of(const struct agents_presence *p, const char *username)
{
	return (unsigned)(uintptr_t)strmap_get(p->phones, username);
}

bool agents_presence_online(const struct agents_presence *presence,
			    const char *username)
{
	return username && (bits_of(presence, username) & presence->trusted);
}

unsigned agents_presence_trusted(const struct agents_presence *presence)
{
	return presence->trusted;
}

int agents_presence_trust(struct agents_presence *presence, unsigned trusted,
			  void (*cb)(const char *username, bool online,
				     void *userdata),
			  void *userdata)
{
	unsigned was = presence->trusted;
	size_t cursor = 0;
	const char *key;
	void *value;
	int changes = 0;

	presence->trusted = trusted;
	/* cb does not change the map: iterating while it runs is safe. */
	while (strmap_next(presence->phones, &cursor, &key, &value)) {
		unsigned bits = (unsigned)(uintptr_t)value;

		if (!(bits & was) != !(bits & trusted)) {
			changes++;
			cb(key, (bits & trusted) != 0, userdata);
		}
	}
	return changes;
}

int agents_presence_set(struct agents_presence *presence, const char *username,
			unsigned source, bool online)
{
	unsigned was = bits_of(presence, username);
	unsigned now = online ? was | source : was & ~source;

	if (now == was)
		return 0;
	if (was == 0 && strmap_count(presence->phones) >= AGENTS_PRESENCE_MAX)
		return -E2BIG;
	strmap_remove(presence->phones, username);
	if (now != 0 && strmap_put(presence->phones, username,
				   (void *)(uintptr_t)now) < 0) {
		if (was != 0)
			strmap_put(presence->phones, username,
				   (void *)(uintptr_t)was);
		return -ENOMEM;
	}
	return !(was & presence->trusted) != !(now & presence->trusted);
}

void agents_endpoint_from_json(const json_t *endpoint,
			       struct agents_endpoint *ret_endpoint)
{
	ret_endpoint->technology =
	    json_string_value(json_object_get(endpoint, "technology"));
	ret_endpoint->resource =
	    json_string_value(json_object_get(endpoint, "resource"));
	ret_endpoint->state =
	    json_string_value(json_object_get(endpoint, "state"));
}

int agents_presence_endpoint(struct agents_presence *presence,
			     const struct agents_endpoint *endpoint,
			     const char **ret_username)
{
	const char *tech = endpoint->technology;
	const char *name = endpoint->resource;
	const char *state = endpoint->state;

	if (!tech || strcmp(tech, "PJSIP") != 0 || !name || !*name || !state)
		return -EINVAL;
	*ret_username = name;
	return agents_presence_set(presence, name, AGENTS_PRESENCE_ARI,
				   strcmp(state, "online") == 0);
}

/* The phones source says are online but usernames does not list. */
static int collect_gone(const struct agents_presence *p, unsigned source,
			const struct strmap *listed, char ***ret_gone,
			size_t *ret_n)
{
	size_t cursor = 0, n = 0;
	const char *key;
	void *value;
	char **gone = calloc(strmap_count(p->phones) + 1, sizeof(*gone));

	if (!gone)
		return -ENOMEM;
	while (strmap_next(p->phones, &cursor, &key, &value)) {
		if (((uintptr_t)value & source) && !strmap_get(listed, key) &&
		    !(gone[n++] = strdup(key))) {
			while (n > 0)
				free(gone[--n]);
			free(gone);
			return -ENOMEM;
		}
	}
	*ret_gone = gone;
	*ret_n = n;
	return 0;
}

int agents_presence_replace(struct agents_presence *presence, unsigned source,
			    const char *const *usernames, size_t count,
			    agents_presence_cb cb, void *userdata)
{
	struct strmap *listed = strmap_new();
	char **gone = NULL;
	size_t ngone = 0;
	int changes = 0, r;

	if (!listed)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++)
		if (strmap_put(listed, usernames[i], listed) == -ENOMEM)
			goto nomem;
	if (collect_gone(presence, source, listed, &gone, &ngone) < 0)
		goto nomem;
	for (size_t i = 0; i < ngone; i++) {
		if (agents_presence_set(presence, gone[i], source, false) > 0) {
			changes++;
			cb(gone[i], false, userdata);
		}
		free(gone[i]);
	}
	free(gone);
	for (size_t i = 0; i < count; i++) {
		r = agents_presence_set(presence, usernames[i], source, true);
		if (r > 0) {
			changes++;
			cb(usernames[i], true, userdata);
		}
	}
	strmap_free(listed);
	return changes;
nomem:
	strmap_free(listed);
	return -ENOMEM;
}
