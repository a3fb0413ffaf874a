/* event.h: decoding ARI events into a typed view of the fields the daemon
 * reads, in one pass over the text and without a JSON tree. */
#ifndef ARI_EVENT_H
#define ARI_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The event types the daemon acts on. Anything else decodes as
 * ARI_EVENT_UNKNOWN, which callers skip. */
enum ari_event_type {
	ARI_EVENT_UNKNOWN = 0,
	ARI_EVENT_STASIS_START,
	ARI_EVENT_STASIS_END,
	ARI_EVENT_CHANNEL_STATE_CHANGE,
	ARI_EVENT_CHANNEL_HANGUP_REQUEST,
	ARI_EVENT_CHANNEL_DESTROYED,
	ARI_EVENT_CHANNEL_DTMF_RECEIVED,
	ARI_EVENT_DIAL,
	ARI_EVENT_CHANNEL_ENTERED_BRIDGE,
	ARI_EVENT_CHANNEL_LEFT_BRIDGE,
	ARI_EVENT_BRIDGE_DESTROYED,
	ARI_EVENT_PLAYBACK_STARTED,
	ARI_EVENT_PLAYBACK_FINISHED,
	ARI_EVENT_RECORDING_STARTED,
	ARI_EVENT_RECORDING_FINISHED,
	ARI_EVENT_RECORDING_FAILED,
	ARI_EVENT_CHANNEL_VARSET,
	ARI_EVENT_APPLICATION_REPLACED,
	ARI_EVENT_ENDPOINT_STATE_CHANGE,
	ARI_EVENT_REST_RESPONSE, /* an answer to a RESTRequest we sent */
	ARI_EVENT__COUNT,
};

/* Named cap: StasisStart arguments kept; later ones read as absent. */
#define ARI_EVENT_MAX_ARGS 8

/*
 * A decoded event. Every string is NUL-terminated, unescaped, points into
 * the event's own buffer and lives as long as the event; any of them is NULL
 * when the event does not carry it as a string.
 */
struct ari_event {
	enum ari_event_type type;
	const char *type_name; /* "type" as sent, also for unknown types */
	const char *application;
	const char *timestamp;
	const char *channel_id; /* "channel", or "peer" for Dial */
	const char *channel_state;
	const char *channel_name;
	const char *caller_number;      /* channel.caller.number */
	const char *dialed_exten;       /* channel.dialplan.exten */
	const char *replace_channel_id; /* StasisStart after a masquerade */
	const char *bridge_id;
	const char *playback_id;
	const char *recording_name;
	const char *target_uri;          /* playback or recording target */
	const char *dial_status;         /* Dial */
	const char *digit;               /* ChannelDtmfReceived */
	const char *endpoint_technology; /* EndpointStateChange: "PJSIP" */
	const char *endpoint_resource;   /* e.g. "agent1" */
	const char *endpoint_state;      /* "online", "offline" or "unknown" */
	const char *variable;            /* ChannelVarset */
	const char *value;
	/* RESTResponse: the answer to a RESTRequest of ours. */
	const char *request_id;
	const char *content_type;
	const char *message_body; /* the body's text, itself JSON or empty */
	long status_code;         /* 0 when absent */
	/* StasisStart's args (strings; NULL for an argument that is not
	 * one), the first ARI_EVENT_MAX_ARGS of them; read with
	 * ari_event_arg(). */
	const char *args[ARI_EVENT_MAX_ARGS];
	size_t nargs;
	int cause; /* hangup cause, 0 when absent or not an integer */
	/* ChannelHangupRequest from a soft hangup: cause then holds
	 * Asterisk's reason flags (ARI_SOFTHANGUP_*), not a Q.850 cause. */
	bool soft;
	char *text; /* owned: the unescaped strings */
};

/* A soft hangup's reason flag that says Asterisk is shutting down or
 * restarting (AST_SOFTHANGUP_SHUTDOWN in Asterisk's channel.h). */
#define ARI_SOFTHANGUP_SHUTDOWN 0x04

/* Named cap: deeper JSON than this is refused as garbled. */
#define ARI_EVENT_MAX_DEPTH 32

/*
 * Decodes one event message of len bytes. Returns 0 and fills *ret_event
 * (release it with ari_event_clear()), -EBADMSG when data is not a JSON
 * object with a string "type" (garbled input: what jansson refuses without
 * flags but JSON_REJECT_DUPLICATES, a string that is not UTF-8 or holds
 * \u0000, or anything nested deeper than ARI_EVENT_MAX_DEPTH), or -ENOMEM;
 * *ret_event is untouched on failure. An unknown type is not an error: it
 * decodes with type ARI_EVENT_UNKNOWN.
 */
int ari_event_parse(const char *data, size_t len, struct ari_event *ret_event);

/* Releases what ari_event_parse() filled and zeroes the struct. */
void ari_event_clear(struct ari_event *event);

/* Maps a type name to its enum (ARI_EVENT_UNKNOWN when not handled). */
enum ari_event_type ari_event_type_from_name(const char *name);

/* Returns the ARI name of a type ("Unknown" for ARI_EVENT_UNKNOWN). */
const char *ari_event_type_name(enum ari_event_type type);

/* Parses an ARI timestamp ("2026-11-24T17:30:01.123+0000") into Unix
 * microseconds. Returns 0, or -EINVAL with *ret_us untouched. */
int ari_event_timestamp_parse(const char *text, int64_t *ret_us);

/* Returns the i-th StasisStart argument, or NULL. */
const char *ari_event_arg(const struct ari_event *event, size_t i);

#endif /* ARI_EVENT_H */
