/* event.c: ARI event decoding: a checking one-pass reader of the JSON that
 * keeps the members the daemon reads, and the table of type names. */
#include "ari/event.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * The decoder: one recursive-descent pass that checks the whole text as
 * jansson's json_loadb(JSON_REJECT_DUPLICATES) would and keeps only the
 * members the daemon reads. Each string is unescaped into one buffer of
 * len + 1 bytes: a string's text, its NUL included, is never longer than
 * its JSON form with the quotes, so the buffer cannot overflow. Strings
 * nobody keeps are written there to be checked and then given back.
 */

/* Where an object or array sits, which says which members are kept. */
enum slot {
	SLOT_NONE, /* kept nowhere: checked only */
	SLOT_ROOT,
	SLOT_CHANNEL,
	SLOT_PEER,
	SLOT_CHANNEL_CALLER,
	SLOT_CHANNEL_DIALPLAN,
	SLOT_PEER_CALLER,
	SLOT_PEER_DIALPLAN,
	SLOT_REPLACE,
	SLOT_BRIDGE,
	SLOT_PLAYBACK,
	SLOT_RECORDING,
	SLOT_ENDPOINT,
	SLOT_ARGS,
};

/* The members of one channel object ("channel", or "peer" for Dial). */
struct channel_fields {
	const char *id, *state, *name, *caller_number, *dialed_exten;
};

/* A member name of an open object, for the duplicate check. */
struct key {
	const char *text;
	uint32_t len, hash;
};

/* Named cap: member names kept without an allocation. */
#define DECODE_STACK_KEYS 128

struct decoder {
	const char *p, *end;
	char *out; /* next free byte of the string buffer */
	struct key *keys;
	size_t nkeys, keys_cap;
	struct key stack_keys[DECODE_STACK_KEYS];
	struct channel_fields channel[2]; /* "channel", "peer" */
	const char *playback_id, *playback_uri, *recording_name, *recording_uri;
	bool recording_object;
	struct ari_event *ev;
};

/* A scalar member value, as far as anyone reads it. */
struct scalar {
	const char *string; /* NULL unless a string */
	bool container, integer, is_true;
	long long number; /* when integer */
};

static void skip_space(struct decoder *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' ||
				 *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int hex4(const char *s, unsigned *ret)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/* Writes code point cp (not a surrogate, not 0) as UTF-8. */
static void put_utf8(struct decoder *d, unsigned cp)
{
	unsigned char *o = (unsigned char *)d->out;

	if (cp < 0x80) {
		*o++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*o++ = (unsigned char)(0xc0 | (cp >> 6));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (unsigned char)(0xe0 | (cp >> 12));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (unsigned char)(0xf0 | (cp >> 18));
		*o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	d->out = (char *)o;
}

/* Reads \uXXXX, or a surrogate pair of two; p is past the backslash. */
static int unicode_escape(struct decoder *d)
{
	unsigned cp, low;

	if (d->end - d->p < 5 || hex4(d->p + 1, &cp) < 0)
		return -EBADMSG;
	d->p += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -EBADMSG;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u' ||
		    hex4(d->p + 2, &low) < 0 || low < 0xdc00 || low > 0xdfff)
			return -EBADMSG;
		d->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	}
	if (cp == 0)
		return -EBADMSG; /* jansson refuses \u0000 without JSON_ALLOW_NUL */
	put_utf8(d, cp);
	return 0;
}

static int simple_escape(struct decoder *d)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *at = d->p < d->end && *d->p ? strchr(from, *d->p) : NULL;

	if (!at)
		return -EBADMSG;
	*d->out++ = to[at - from];
	d->p++;
	return 0;
}

/* Copies one UTF-8 sequence that starts with a byte >= 0x80, refusing
 * overlong forms, surrogates and anything above U+10FFFF. */
static int utf8_sequence(struct decoder *d)
{
	const unsigned char *s = (const unsigned char *)d->p;
	size_t left = (size_t)(d->end - d->p), n;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return -EBADMSG;
	}
	if (left < n)
		return -EBADMSG;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -EBADMSG;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return -EBADMSG;
	memcpy(d->out, d->p, n);
	d->out += n;
	d->p += n;
	return 0;
}

/* Reads a string (p at its opening quote) into the buffer; *ret_text is
 * its NUL-terminated text there and *ret_len its length. */
static int string(struct decoder *d, const char **ret_text, size_t *ret_len)
{
	char *text = d->out;
	int r = 0;

	d->p++;
	while (r == 0) {
		const char *run = d->p;

		while (d->p < d->end && *d->p != '"' && *d->p != '\\' &&
		       (unsigned char)*d->p >= 0x20 &&
		       (unsigned char)*d->p < 0x80)
			d->p++;
		memcpy(d->out, run, (size_t)(d->p - run));
		d->out += d->p - run;
		if (d->p >= d->end)
			return -EBADMSG;
		if (*d->p == '"')
			break;
		if (*d->p == '\\') {
			d->p++;
			r = d->p < d->end && *d->p == 'u' ? unicode_escape(d)
							  : simple_escape(d);
		} else if ((unsigned char)*d->p < 0x20) {
			r = -EBADMSG;
		} else {
			r = utf8_sequence(d);
		}
	}
	if (r < 0)
		return r;
	d->p++;
	*d->out++ = '\0';
	*ret_text = text;
	*ret_len = (size_t)(d->out - text - 1);
	return 0;
}

static const char *digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* Reads a number as jansson does: JSON's grammar, an integer that fits a
 * long long, a real that does not overflow a double. */
static int number(struct decoder *d, struct scalar *v)
{
	const char *start = d->p, *p = d->p, *q;
	bool integer = true;
	char *copy = d->out, *tail;

	if (p < d->end && *p == '-')
		p++;
	if (p < d->end && *p == '0')
		p++;
	else if ((q = digits(p, d->end)) > p)
		p = q;
	else
		return -EBADMSG;
	if (p < d->end && *p == '.') {
		integer = false;
		if ((q = digits(p + 1, d->end)) == p + 1)
			return -EBADMSG;
		p = q;
	}
	if (p < d->end && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < d->end && (*p == '+' || *p == '-'))
			p++;
		if ((q = digits(p, d->end)) == p)
			return -EBADMSG;
		p = q;
	}
	if (p < d->end && *p >= '0' && *p <= '9')
		return -EBADMSG; /* a leading zero: "01" */
	/* strtoll and strtod want a terminated copy; the buffer has room for
	 * it (nothing but the number's own bytes are needed past what the
	 * text before it took) and gets it back. */
	memcpy(copy, start, (size_t)(p - start));
	copy[p - start] = '\0';
	errno = 0;
	if (integer) {
		v->number = strtoll(copy, &tail, 10);
		v->integer = true;
		if (errno == ERANGE)
			return -EBADMSG;
	} else {
		double x = strtod(copy, &tail);

		if (errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL))
			return -EBADMSG;
	}
	d->p = p;
	return 0;
}

static int literal(struct decoder *d, const char *word, size_t n)
{
	if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
		return -EBADMSG;
	d->p += n;
	return 0;
}

static int value(struct decoder *d, enum slot slot, int level,
		 struct scalar *v);

/* The slot of an object member's object or array value. */
static enum slot member_slot(enum slot parent, const char *key)
{
	switch (parent) {
	case SLOT_ROOT:
		if (strcmp(key, "channel") == 0)
			return SLOT_CHANNEL;
		if (strcmp(key, "peer") == 0)
			return SLOT_PEER;
		if (strcmp(key, "args") == 0)
			return SLOT_ARGS;
		if (strcmp(key, "replace_channel") == 0)
			return SLOT_REPLACE;
		if (strcmp(key, "bridge") == 0)
			return SLOT_BRIDGE;
		if (strcmp(key, "playback") == 0)
			return SLOT_PLAYBACK;
		if (strcmp(key, "recording") == 0)
			return SLOT_RECORDING;
		if (strcmp(key, "endpoint") == 0)
			return SLOT_ENDPOINT;
		return SLOT_NONE;
	case SLOT_CHANNEL:
	case SLOT_PEER:
		if (strcmp(key, "caller") == 0)
			return parent == SLOT_CHANNEL ? SLOT_CHANNEL_CALLER
						      : SLOT_PEER_CALLER;
		if (strcmp(key, "dialplan") == 0)
			return parent == SLOT_CHANNEL ? SLOT_CHANNEL_DIALPLAN
						      : SLOT_PEER_DIALPLAN;
		return SLOT_NONE;
	default:
		return SLOT_NONE;
	}
}

/* Where a string member of an object in slot is kept, or NULL. */
static const char **string_field(struct decoder *d, enum slot slot,
				 const char *key)
{
	struct ari_event *ev = d->ev;
	struct channel_fields *ch =
	    &d->channel[slot == SLOT_PEER || slot == SLOT_PEER_CALLER ||
			slot == SLOT_PEER_DIALPLAN];

	switch (slot) {
	case SLOT_ROOT: {
		static const struct {
			const char *key;
			size_t offset;
		} root[] = {
		    {"type", offsetof(struct ari_event, type_name)},
		    {"application", offsetof(struct ari_event, application)},
		    {"timestamp", offsetof(struct ari_event, timestamp)},
		    {"dialstatus", offsetof(struct ari_event, dial_status)},
		    {"digit", offsetof(struct ari_event, digit)},
		    {"variable", offsetof(struct ari_event, variable)},
		    {"value", offsetof(struct ari_event, value)},
		    {"request_id", offsetof(struct ari_event, request_id)},
		    {"content_type", offsetof(struct ari_event, content_type)},
		    {"message_body", offsetof(struct ari_event, message_body)},
		};
		for (size_t i = 0; i < sizeof(root) / sizeof(*root); i++)
			if (strcmp(key, root[i].key) == 0)
				return (const char **)((char *)ev +
						       root[i].offset);
		return NULL;
	}
	case SLOT_CHANNEL:
	case SLOT_PEER:
		if (strcmp(key, "id") == 0)
			return &ch->id;
		if (strcmp(key, "state") == 0)
			return &ch->state;
		if (strcmp(key, "name") == 0)
			return &ch->name;
		return NULL;
	case SLOT_CHANNEL_CALLER:
	case SLOT_PEER_CALLER:
		return strcmp(key, "number") == 0 ? &ch->caller_number : NULL;
	case SLOT_CHANNEL_DIALPLAN:
	case SLOT_PEER_DIALPLAN:
		return strcmp(key, "exten") == 0 ? &ch->dialed_exten : NULL;
	case SLOT_REPLACE:
		return strcmp(key, "id") == 0 ? &ev->replace_channel_id : NULL;
	case SLOT_BRIDGE:
		return strcmp(key, "id") == 0 ? &ev->bridge_id : NULL;
	case SLOT_PLAYBACK:
		if (strcmp(key, "id") == 0)
			return &d->playback_id;
		return strcmp(key, "target_uri") == 0 ? &d->playback_uri : NULL;
	case SLOT_RECORDING:
		if (strcmp(key, "name") == 0)
			return &d->recording_name;
		return strcmp(key, "target_uri") == 0 ? &d->recording_uri
						      : NULL;
	case SLOT_ENDPOINT:
		if (strcmp(key, "technology") == 0)
			return &ev->endpoint_technology;
		if (strcmp(key, "resource") == 0)
			return &ev->endpoint_resource;
		return strcmp(key, "state") == 0 ? &ev->endpoint_state : NULL;
	default:
		return NULL;
	}
}

/* Keeps what the daemon reads of a scalar member; returns whether the
 * value's text must stay in the buffer. */
static bool keep_scalar(struct decoder *d, enum slot slot, const char *key,
			const struct scalar *v)
{
	const char **field;

	if (slot == SLOT_ROOT && strcmp(key, "cause") == 0) {
		d->ev->cause = v->integer ? (int)v->number : 0;
		return false;
	}
	if (slot == SLOT_ROOT && strcmp(key, "status_code") == 0) {
		d->ev->status_code = v->integer ? (long)v->number : 0;
		return false;
	}
	if (slot == SLOT_ROOT && strcmp(key, "soft") == 0) {
		d->ev->soft = v->is_true;
		return false;
	}
	field = string_field(d, slot, key);
	if (!field || !v->string)
		return false;
	*field = v->string;
	return true;
}

static uint32_t key_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int push_key(struct decoder *d, const char *text, size_t len)
{
	if (d->nkeys == d->keys_cap) {
		size_t cap = d->keys_cap * 2;
		struct key *keys = d->keys == d->stack_keys
				       ? malloc(cap * sizeof(*keys))
				       : realloc(d->keys, cap * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		if (d->keys == d->stack_keys)
			memcpy(keys, d->stack_keys, sizeof(d->stack_keys));
		d->keys = keys;
		d->keys_cap = cap;
	}
	d->keys[d->nkeys].text = text;
	d->keys[d->nkeys].len = (uint32_t)len;
	d->keys[d->nkeys].hash = key_hash(text, len);
	d->nkeys++;
	return 0;
}

static int key_order(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->text, y->text, x->len);
}

/* Whether two of the n member names at keys are the same: pairwise for a
 * few, sorted for many. */
static bool has_duplicate(struct key *keys, size_t n)
{
	if (n <= 16) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (key_order(&keys[i], &keys[j]) == 0)
					return true;
		return false;
	}
	qsort(keys, n, sizeof(*keys), key_order);
	for (size_t i = 1; i < n; i++)
		if (key_order(&keys[i], &keys[i - 1]) == 0)
			return true;
	return false;
}

/* Steps into an object or array (p at its opening bracket). Returns 1
 * when an item follows, 0 when it was empty (then past its close). */
static int open_container(struct decoder *d, char close)
{
	d->p++;
	skip_space(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		return 0;
	}
	return 1;
}

/* After an item: returns 1 past a comma (another item follows), 0 past
 * the close, or -EBADMSG. */
static int next_item(struct decoder *d, char close)
{
	skip_space(d);
	if (d->p < d->end && (*d->p == ',' || *d->p == close)) {
		bool more = *d->p++ == ',';

		skip_space(d);
		return more;
	}
	return -EBADMSG;
}

static int member(struct decoder *d, enum slot slot, int level)
{
	const char *key;
	size_t len;
	char *mark;
	struct scalar v = {0};
	int r;

	if (d->p >= d->end || *d->p != '"')
		return -EBADMSG;
	r = string(d, &key, &len);
	if (r == 0)
		r = push_key(d, key, len);
	if (r < 0)
		return r;
	skip_space(d);
	if (d->p >= d->end || *d->p != ':')
		return -EBADMSG;
	d->p++;
	skip_space(d);
	mark = d->out;
	r = value(d, member_slot(slot, key), level + 1, &v);
	if (r == 0 && !v.container && !keep_scalar(d, slot, key, &v))
		d->out = mark;
	return r;
}

static int object(struct decoder *d, enum slot slot, int level)
{
	size_t base = d->nkeys;
	int r = 0;

	if (slot == SLOT_RECORDING)
		d->recording_object = true;
	r = open_container(d, '}');
	while (r == 1) {
		r = member(d, slot, level);
		if (r == 0)
			r = next_item(d, '}');
	}
	if (r < 0)
		return r;
	if (has_duplicate(d->keys + base, d->nkeys - base))
		return -EBADMSG;
	d->nkeys = base;
	return 0;
}

static int array(struct decoder *d, enum slot slot, int level)
{
	struct ari_event *ev = d->ev;
	size_t i = 0;

	int r = open_container(d, ']');

	for (; r == 1; i++) {
		struct scalar v = {0};
		char *mark = d->out;

		r = value(d, SLOT_NONE, level + 1, &v);
		if (r < 0)
			return r;
		if (slot == SLOT_ARGS && i < ARI_EVENT_MAX_ARGS) {
			ev->args[i] = v.string;
			ev->nargs = i + 1;
		}
		if (slot != SLOT_ARGS || i >= ARI_EVENT_MAX_ARGS || !v.string)
			d->out = mark; /* what the element held is not kept */
		r = next_item(d, ']');
	}
	return r;
}

/* Reads one value at nesting level (the root object is level 1); *v
 * says what a scalar was. A value deeper than ARI_EVENT_MAX_DEPTH is
 * refused. */
static int value(struct decoder *d, enum slot slot, int level, struct scalar *v)
{
	size_t len;

	if (level > ARI_EVENT_MAX_DEPTH || d->p >= d->end)
		return -EBADMSG;
	switch (*d->p) {
	case '{':
		v->container = true;
		return object(d, slot, level);
	case '[':
		v->container = true;
		return array(d, slot, level);
	case '"':
		return string(d, &v->string, &len);
	case 't':
		v->is_true = true;
		return literal(d, "true", 4);
	case 'f':
		return literal(d, "false", 5);
	case 'n':
		return literal(d, "null", 4);
	default:
		return number(d, v);
	}
}

static void finish(struct decoder *d)
{
	struct ari_event *ev = d->ev;
	const struct channel_fields *ch =
	    &d->channel[ev->type == ARI_EVENT_DIAL];

	ev->channel_id = ch->id;
	ev->channel_state = ch->state;
	ev->channel_name = ch->name;
	ev->caller_number = ch->caller_number;
	ev->dialed_exten = ch->dialed_exten;
	ev->playback_id = d->playback_id;
	ev->target_uri =
	    d->recording_object ? d->recording_uri : d->playback_uri;
	ev->recording_name = d->recording_name;
}

static int decode(struct decoder *d)
{
	struct scalar v = {0};
	int r;

	skip_space(d);
	if (d->p >= d->end || *d->p != '{')
		return -EBADMSG;
	r = value(d, SLOT_ROOT, 1, &v);
	if (r < 0)
		return r;
	skip_space(d);
	if (d->p != d->end || !d->ev->type_name)
		return -EBADMSG;
	d->ev->type = ari_event_type_from_name(d->ev->type_name);
	finish(d);
	return 0;
}

int ari_event_parse(const char *data, size_t len, struct ari_event *ret_event)
{
	struct ari_event ev = {0};
	struct decoder d = {0};
	int r;

	if (len == SIZE_MAX)
		return -EBADMSG;
	ev.text = malloc(len + 1);
	if (!ev.text)
		return -ENOMEM;
	d.p = data;
	d.end = data + len;
	d.out = ev.text;
	d.keys = d.stack_keys;
	d.keys_cap = DECODE_STACK_KEYS;
	d.ev = &ev;
	r = decode(&d);
	if (d.keys != d.stack_keys)
		free(d.keys);
	if (r < 0) {
		free(ev.text);
		return r;
	}
	*ret_event = ev;
	return 0;
}

void ari_event_clear(struct ari_event *event)
{
	free(event->text);
	memset(event, 0, sizeof(*event));
}

const char *ari_event_arg(const struct ari_event *event, size_t i)
{
	return i < event->nargs ? event->args[i] : NULL;
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
