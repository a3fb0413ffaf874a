/* event.h: decoding ARI events into a typed view over the JSON. */
#ifndef ARI_EVENT_H
#define ARI_EVENT_H

#include <jansson.h>
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

/*
 * A decoded event. Every string points into json and lives as long as the
 * event; any of them may be NULL when the event does not carry it.
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
	const char *target_uri;        /* playback or recording target */
	const char *dial_status;       /* Dial */
	const char *digit;             /* ChannelDtmfReceived */
	const char *endpoint_resource; /* EndpointStateChange: e.g. "agent1" */
	const char *endpoint_state;    /* "online", "offline" or "unknown" */
	const char *variable;          /* ChannelVarset */
	const char *value;
	json_t
	    *args; /* borrowed from json: StasisStart's args array, or NULL */
	int cause; /* hangup cause, 0 when absent */
	/* ChannelHangupRequest from a soft hangup: cause then holds
	 * Asterisk's reason flags (ARI_SOFTHANGUP_*), not a Q.850 cause. */
	bool soft;
	json_t *json; /* owned: the whole event */
};

/* A soft hangup's reason flag that says Asterisk is shutting down or
 * restarting (AST_SOFTHANGUP_SHUTDOWN in Asterisk's channel.h). */
#define ARI_SOFTHANGUP_SHUTDOWN 0x04

/* Named cap: deeper JSON than this is refused as garbled. */
#define ARI_EVENT_MAX_DEPTH 32

/*
 * Decodes one event message of len bytes. Returns 0 and fills *ret_event
 * (release it with ari_event_clear()), or -EBADMSG when data is not a JSON
 * object with a string "type" (garbled input), leaving *ret_event untouched.
 * An unknown type is not an error: it decodes with type ARI_EVENT_UNKNOWN.
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
