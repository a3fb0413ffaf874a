/* fuzz-ari-event.c: libFuzzer harness for ARI event decoding: any bytes
 * the events WebSocket might deliver, through ari_event_parse() and every
 * accessor of the decoded view, held to the reference decoder over
 * jansson's tree (test/unit/eventref.c): both refuse the same texts and
 * read the same members from the others. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ari/event.h"
#include "eventref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every string of the view, so that a pointer the decoder left
 * outside its buffer shows up under ASan. */
static size_t touch(const struct ari_event *ev)
{
	const char *s[] = {
	    ev->type_name,
	    ev->application,
	    ev->timestamp,
	    ev->channel_id,
	    ev->channel_state,
	    ev->channel_name,
	    ev->caller_number,
	    ev->dialed_exten,
	    ev->replace_channel_id,
	    ev->bridge_id,
	    ev->playback_id,
	    ev->recording_name,
	    ev->target_uri,
	    ev->dial_status,
	    ev->digit,
	    ev->endpoint_technology,
	    ev->endpoint_resource,
	    ev->endpoint_state,
	    ev->variable,
	    ev->value,
	    ev->request_id,
	    ev->content_type,
	    ev->message_body,
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(s) / sizeof(*s); i++)
		n += s[i] ? strlen(s[i]) : 0;
	return n;
}

/* Stops the run when the decoder and the reference disagree. */
static void hold_to_reference(const uint8_t *data, size_t size, int r,
			      const struct ari_event *ev)
{
	const char *differs = eventref_check((const char *)data, size, r, ev);

	if (differs) {
		fprintf(stderr, "against the reference: %s (%d)\n", differs, r);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ari_event ev;
	int64_t us;
	int r = ari_event_parse((const char *)data, size, &ev);

	hold_to_reference(data, size, r, &ev);
	if (r < 0)
		return 0;
	(void)touch(&ev);
	(void)ari_event_type_name(ev.type);
	(void)ari_event_type_from_name(ev.type_name);
	if (ev.timestamp)
		(void)ari_event_timestamp_parse(ev.timestamp, &us);
	for (size_t i = 0; ari_event_arg(&ev, i); i++)
		;
	ari_event_clear(&ev);
	return 0;
}
