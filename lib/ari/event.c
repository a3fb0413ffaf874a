/* event.c: ARI event decoding, by a table of type names. */
#include "ari/event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const type_names[ARI_EVENT__COUNT] = {
    [ARI_EVENT_UNKNOWN] = "Unknown",
    [ARI_EVENT_STASIS_START] = "StasisStart",
    [ARI_EVENT_STASIS_END] = "StasisEnd",
    [ARI_EVENT_CHANNEL_STATE_CHANGE] = "ChannelStateChange",
    [ARI_EVENT_CHANNEL_HANGUP_REQUEST] = "ChannelHangupRequest",
    [ARI_EVENT_CHANNEL_DESTROYED] = "ChannelDestroyed",
    [ARI_EVENT_CHANNEL_DTMF_RECEIVED] = "ChannelDtmfReceived",
    [ARI_EVENT_DIAL] = "Dial",
    [ARI_EVENT_CHANNEL_ENTERED_BRIDGE] = "ChannelEnteredBridge",
    [ARI_EVENT_CHANNEL_LEFT_BRIDGE] = "ChannelLeftBridge",
    [ARI_EVENT_BRIDGE_DESTROYED] = "BridgeDestroyed",
    [ARI_EVENT_PLAYBACK_STARTED] = "PlaybackStarted",
    [ARI_EVENT_PLAYBACK_FINISHED] = "PlaybackFinished",
    [ARI_EVENT_RECORDING_STARTED] = "RecordingStarted",
    [ARI_EVENT_RECORDING_FINISHED] = "RecordingFinished",
    [ARI_EVENT_RECORDING_FAILED] = "RecordingFailed",
    [ARI_EVENT_CHANNEL_VARSET] = "ChannelVarset",
    [ARI_EVENT_APPLICATION_REPLACED] = "ApplicationReplaced",
    [ARI_EVENT_ENDPOINT_STATE_CHANGE] = "EndpointStateChange",
    [ARI_EVENT_REST_RESPONSE] = "RESTResponse",
};

enum ari_event_type ari_event_type_from_name(const char *name)
{
	for (int i = ARI_EVENT_UNKNOWN + 1; i < ARI_EVENT__COUNT; i++) {
		if (strcmp(type_names[i], name) == 0)
			return (enum ari_event_type)i;
	}
	return ARI_EVENT_UNKNOWN;
}

const char *ari_event_type_name(enum ari_event_type type)
{
	if ((unsigned)type >= ARI_EVENT__COUNT)
		return type_names[ARI_EVENT_UNKNOWN];
	return type_names[type];
}

/* Returns the string at obj.key (obj may be NULL), or NULL. */
static const char *str_at(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void decode_channel(struct ari_event *ev, const json_t *channel)
{
	if (!json_is_object(channel))
		return;
	ev->channel_id = str_at(channel, "id");
	ev->channel_state = str_at(channel, "state");
	ev->channel_name = str_at(channel, "name");
	ev->caller_number =
	    str_at(json_object_get(channel, "caller"), "number");
	ev->dialed_exten =
	    str_at(json_object_get(channel, "dialplan"), "exten");
}

static void decode_media(struct ari_event *ev, const json_t *root)
{
	const json_t *playback = json_object_get(root, "playback");
	const json_t *recording = json_object_get(root, "recording");

	if (json_is_object(playback)) {
		ev->playback_id = str_at(playback, "id");
		ev->target_uri = str_at(playback, "target_uri");
	}
	if (json_is_object(recording)) {
		ev->recording_name = str_at(recording, "name");
		ev->target_uri = str_at(recording, "target_uri");
	}
}

static void decode_fields(struct ari_event *ev, json_t *root)
{
	json_t *args = json_object_get(root, "args");

	ev->application = str_at(root, "application");
	ev->timestamp = str_at(root, "timestamp");
	decode_channel(ev, json_object_get(root, ev->type == ARI_EVENT_DIAL
						     ? "peer"
						     : "channel"));
	ev->replace_channel_id =
	    str_at(json_object_get(root, "replace_channel"), "id");
	ev->bridge_id = str_at(json_object_get(root, "bridge"), "id");
	decode_media(ev, root);
	ev->endpoint_resource =
	    str_at(json_object_get(root, "endpoint"), "resource");
	ev->endpoint_state = str_at(json_object_get(root, "endpoint"), "state");
	ev->dial_status = str_at(root, "dialstatus");
	ev->digit = str_at(root, "digit");
	ev->variable = str_at(root, "variable");
	ev->value = str_at(root, "value");
	ev->args = json_is_array(args) ? args : NULL;
	ev->cause = (int)json_integer_value(json_object_get(root, "cause"));
	ev->soft = json_is_true(json_object_get(root, "soft"));
}

static size_t depth_of(const json_t *v, size_t limit)
{
	size_t deepest = 0;
	const char *key;
	json_t *child;
	size_t i;

	if (limit == 0)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, child)
		{
			size_t d = depth_of(child, limit - 1);
			deepest = d > deepest ? d : deepest;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, child)
		{
			size_t d = depth_of(child, limit - 1);
			deepest = d > deepest ? d : deepest;
		}
	} else {
		return 0;
	}
	return deepest + 1;
}

int ari_event_parse(const char *data, size_t len, struct ari_event *ret_event)
{
	struct ari_event ev = {0};
	json_t *root;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root) || !str_at(root, "type") ||
	    depth_of(root, ARI_EVENT_MAX_DEPTH) > ARI_EVENT_MAX_DEPTH) {
		json_decref(root);
		return -EBADMSG;
	}
	ev.json = root;
	ev.type_name = str_at(root, "type");
	ev.type = ari_event_type_from_name(ev.type_name);
	decode_fields(&ev, root);
	*ret_event = ev;
	return 0;
}

void ari_event_clear(struct ari_event *event)
{
	json_decref(event->json);
	memset(event, 0, sizeof(*event));
}

const char *ari_event_arg(const struct ari_event *event, size_t i)
{
	return json_string_value(json_array_get(event->args, i));
}

int ari_event_timestamp_parse(const char *text, int64_t *ret_us)
{
	int year, mon, day, hour, min, sec, frac = 0, off = 0, n = 0;
	char sign = '+';
	struct tm tm = {0};
	int64_t secs;

	if (!text ||
	    sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c%4d%n", &year, &mon,
		   &day, &hour, &min, &sec, &frac, &sign, &off, &n) != 9 ||
	    text[n] != '\0' || (sign != '+' && sign != '-') || mon < 1 ||
	    mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
	    sec > 60 || frac < 0 || off < 0 || off > 1400 || off % 100 > 59)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	secs = (int64_t)timegm(&tm);
	/* The offset is +HHMM east of UTC: subtract it to reach UTC. */
	secs -=
	    (sign == '+' ? 1 : -1) * ((off / 100) * 3600 + (off % 100) * 60);
	*ret_us = secs * 1000000 + (int64_t)frac * 1000;
	return 0;
}
