/* resync.c: reconciling owned calls with Asterisk after a (re)connect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"

static bool array_has(const json_t *ids, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return true;
	}
	return false;
}

/* Calls whose channel left our application while we were not listening. */
static void end_missing(struct calls *calls, const json_t *channel_ids)
{
	size_t n = strmap_count(calls->by_channel), k = 0, cursor = 0;
	struct call **gone = calloc(n ? n : 1, sizeof(*gone));
	const char *key;
	void *value;

	if (!gone)
		return;
	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		if (!array_has(channel_ids, key))
			gone[k++] = value;
	}
	for (size_t i = 0; i < k; i++) {
		log_notice("call=%s ended while ARI was away",
			   gone[i]->channel_id);
		calls__input(gone[i], CALL_INPUT_LEFT);
	}
	free(gone);
}

static const json_t *find_channel(const json_t *channels, const char *id)
{
	size_t i;
	json_t *ch;

	json_array_foreach(channels, i, ch)
	{
		const char *cid = json_string_value(json_object_get(ch, "id"));
		if (cid && strcmp(cid, id) == 0)
			return ch;
	}
	return NULL;
}

static void adopt(struct calls *calls, const char *id, const json_t *ch)
{
	const json_t *caller = json_object_get(ch, "caller");
	const json_t *dialplan = json_object_get(ch, "dialplan");
	int64_t start_us = 0;

	ari_event_timestamp_parse(
	    json_string_value(json_object_get(ch, "creationtime")), &start_us);
	calls__add(
	    calls, id, json_string_value(json_object_get(caller, "number")),
	    json_string_value(json_object_get(dialplan, "exten")), start_us);
}

/* Channels in our application that we do not know: calls that entered
 * while another process (or an earlier run of this one) owned them. */
static void adopt_unknown(struct calls *calls, const json_t *channel_ids,
			  const json_t *channels)
{
	size_t i;
	json_t *v;

	json_array_foreach(channel_ids, i, v)
	{
		const char *id = json_string_value(v);
		const json_t *ch;

		if (!id || calls__find(calls, id) || ids_is_ours(id, NULL))
			continue;
		ch = find_channel(channels, id);
		log_notice("call=%s adopted after resync", id);
		adopt(calls, id, ch);
	}
}

static void on_bridge_deleted(const struct ari_response *resp, void *userdata)
{
	if (resp->error < 0 && resp->error != -ENOENT &&
	    resp->error != -ECANCELED)
		log_warning("orphan bridge delete failed error=%s, ignoring",
			    strerror(-resp->error));
}

/* Bridges we created and no call owns any more. Nothing owns a bridge yet
 * at this stage, so every bridge of ours is an orphan. */
static void destroy_orphan_bridges(struct calls *calls, const json_t *bridges)
{
	char path[256];
	size_t i;
	json_t *b;

	json_array_foreach(bridges, i, b)
	{
		const char *id = json_string_value(json_object_get(b, "id"));

		if (!id || !ids_is_ours(id, NULL))
			continue;
		log_notice("bridge=%s orphaned, destroying", id);
		snprintf(path, sizeof(path), "/bridges/%s", id);
		ari_rest_request(calls->rest, "DELETE", path, NULL,
				 on_bridge_deleted, NULL);
	}
}

void calls_resync(struct calls *calls, const json_t *channel_ids,
		  const json_t *channels, const json_t *bridges)
{
	/* Without the application's list we cannot tell who left. */
	if (json_is_array(channel_ids)) {
		end_missing(calls, channel_ids);
		adopt_unknown(calls, channel_ids, channels);
	}
	destroy_orphan_bridges(calls, bridges);
}
