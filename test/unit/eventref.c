/* eventref.c: the reference ARI event decoder, over a jansson tree. */
#include "eventref.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <string.h>

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

static void decode_args(struct ari_event *ev, const json_t *args)
{
	size_t n = json_is_array(args) ? json_array_size(args) : 0;

	ev->nargs = n < ARI_EVENT_MAX_ARGS ? n : ARI_EVENT_MAX_ARGS;
	for (size_t i = 0; i < ev->nargs; i++)
		ev->args[i] = json_string_value(json_array_get(args, i));
}

static void decode_fields(struct ari_event *ev, json_t *root)
{
	const json_t *endpoint = json_object_get(root, "endpoint");

	ev->application = str_at(root, "application");
	ev->timestamp = str_at(root, "timestamp");
	decode_channel(ev, json_object_get(root, ev->type == ARI_EVENT_DIAL
						     ? "peer"
						     : "channel"));
	ev->replace_channel_id =
	    str_at(json_object_get(root, "replace_channel"), "id");
	ev->bridge_id = str_at(json_object_get(root, "bridge"), "id");
	decode_media(ev, root);
	ev->endpoint_technology = str_at(endpoint, "technology");
	ev->endpoint_resource = str_at(endpoint, "resource");
	ev->endpoint_state = str_at(endpoint, "state");
	ev->dial_status = str_at(root, "dialstatus");
	ev->digit = str_at(root, "digit");
	ev->variable = str_at(root, "variable");
	ev->value = str_at(root, "value");
	ev->request_id = str_at(root, "request_id");
	ev->content_type = str_at(root, "content_type");
	ev->message_body = str_at(root, "message_body");
	ev->status_code =
	    (long)json_integer_value(json_object_get(root, "status_code"));
	decode_args(ev, json_object_get(root, "args"));
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

static int parse(const char *data, size_t len, struct ari_event *ret_event)
{
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);

	memset(ret_event, 0, sizeof(*ret_event));
	if (!json_is_object(root) || !str_at(root, "type") ||
	    depth_of(root, ARI_EVENT_MAX_DEPTH) > ARI_EVENT_MAX_DEPTH) {
		json_decref(root);
		return -EBADMSG;
	}
	/* The tree rides in text, which ari_event_clear() would free. */
	ret_event->text = (char *)root;
	ret_event->type_name = str_at(root, "type");
	ret_event->type = ari_event_type_from_name(ret_event->type_name);
	decode_fields(ret_event, root);
	return 0;
}

static void clear(struct ari_event *event)
{
	json_decref((json_t *)event->text);
	memset(event, 0, sizeof(*event));
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const char *differs(const struct ari_event *a, const struct ari_event *b)
{
#define STRING(m)                                                              \
	{                                                                      \
#m, offsetof(struct ari_event, m)                              \
	}
	static const struct {
		const char *name;
		size_t offset;
	} strings[] = {
	    STRING(type_name),
	    STRING(application),
	    STRING(timestamp),
	    STRING(channel_id),
	    STRING(channel_state),
	    STRING(channel_name),
	    STRING(caller_number),
	    STRING(dialed_exten),
	    STRING(replace_channel_id),
	    STRING(bridge_id),
	    STRING(playback_id),
	    STRING(recording_name),
	    STRING(target_uri),
	    STRING(dial_status),
	    STRING(digit),
	    STRING(endpoint_technology),
	    STRING(endpoint_resource),
	    STRING(endpoint_state),
	    STRING(variable),
	    STRING(value),
	    STRING(request_id),
	    STRING(content_type),
	    STRING(message_body),
	};
#undef STRING
	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++) {
		const char *x =
		    *(const char *const *)((const char *)a + strings[i].offset);
		const char *y =
		    *(const char *const *)((const char *)b + strings[i].offset);

		if (!same(x, y))
			return strings[i].name;
	}
	if (a->type != b->type)
		return "type";
	if (a->cause != b->cause)
		return "cause";
	if (a->soft != b->soft)
		return "soft";
	if (a->status_code != b->status_code)
		return "status_code";
	if (a->nargs != b->nargs)
		return "nargs";
	for (size_t i = 0; i < a->nargs; i++)
		if (!same(a->args[i], b->args[i]))
			return "args";
	return NULL;
}

const char *eventref_check(const char *data, size_t len, int r,
			   const struct ari_event *ev)
{
	struct ari_event ref;
	int rr = parse(data, len, &ref);
	const char *what = NULL;

	if (r == 0 && rr < 0)
		what = "decoded, the reference refused";
	else if (r < 0 && rr == 0 && !memchr(data, '\0', len))
		what = "refused, the reference decoded";
	else if (r < 0 && r != -EBADMSG)
		what = "refused with another error than -EBADMSG";
	else if (r == 0)
		what = differs(ev, &ref);
	clear(&ref);
	return what;
}
