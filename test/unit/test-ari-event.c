/* test-ari-event.c: decoding recorded ARI events, and refusing garbled ones. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ari/event.h"
#include "testlib.h"

static int parse_file(const char *name, struct ari_event *ev)
{
	size_t len;
	char *data = testlib_read_data(name, &len);
	int r = ari_event_parse(data, len, ev);

	free(data);
	return r;
}

START_TEST(stasis_start_inbound)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("stasis-start-inbound.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_STASIS_START);
	ck_assert_str_eq(ev.application, "welcomedly");
	ck_assert_str_eq(ev.channel_id, "1764005401.17");
	ck_assert_str_eq(ev.channel_state, "Ring");
	ck_assert_str_eq(ev.caller_number, "15551230001");
	ck_assert_str_eq(ev.dialed_exten, "5000");
	ck_assert_str_eq(ari_event_arg(&ev, 0), "inbound");
	ck_assert_str_eq(ari_event_arg(&ev, 1), "sales");
	ck_assert_ptr_null(ari_event_arg(&ev, 2));
	ck_assert_ptr_null(ev.replace_channel_id);
	ck_assert_ptr_null(ev.bridge_id);
	ari_event_clear(&ev);
	ck_assert_ptr_null(ev.json);
}
END_TEST

START_TEST(stasis_start_after_masquerade)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("stasis-start-replace.json", &ev), 0);
	ck_assert_str_eq(ev.channel_id, "1764005460.30");
	ck_assert_str_eq(ev.replace_channel_id, "1764005455.22");
	ck_assert_ptr_null(ari_event_arg(&ev, 0));
	ari_event_clear(&ev);
}
END_TEST

START_TEST(dial_uses_peer)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("dial-answer.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_DIAL);
	ck_assert_str_eq(ev.channel_id, "wd-chan-abcdefghijklmnopqrstuvwxyz");
	ck_assert_str_eq(ev.dial_status, "ANSWER");
	ari_event_clear(&ev);
}
END_TEST

START_TEST(media_and_bridge_events)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("playback-finished.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_PLAYBACK_FINISHED);
	ck_assert_str_eq(ev.playback_id, "wd-pb-aaaaaaaaaaaaaaaaaaaaaaaaaa");
	ck_assert_str_eq(ev.target_uri, "channel:1764005401.17");
	ck_assert_ptr_null(ev.channel_id);
	ari_event_clear(&ev);

	ck_assert_int_eq(parse_file("recording-finished.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_RECORDING_FINISHED);
	ck_assert_str_eq(ev.recording_name,
			 "wd-rec-bbbbbbbbbbbbbbbbbbbbbbbbbb");
	ari_event_clear(&ev);

	ck_assert_int_eq(parse_file("channel-entered-bridge.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_CHANNEL_ENTERED_BRIDGE);
	ck_assert_str_eq(ev.bridge_id, "wd-br-cccccccccccccccccccccccccc");
	ck_assert_str_eq(ev.channel_id, "1764005401.17");
	ari_event_clear(&ev);

	ck_assert_int_eq(parse_file("channel-destroyed.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_CHANNEL_DESTROYED);
	ck_assert_int_eq(ev.cause, 16);
	ck_assert(!ev.soft);
	ari_event_clear(&ev);

	/* Asterisk stopping: a soft hangup whose cause is its flags. */
	ck_assert_int_eq(
	    parse_file("channel-hangup-request-shutdown.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_CHANNEL_HANGUP_REQUEST);
	ck_assert(ev.soft);
	ck_assert(ev.cause & ARI_SOFTHANGUP_SHUTDOWN);
	ari_event_clear(&ev);
}
END_TEST

START_TEST(endpoint_state)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("endpoint-state-change.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_ENDPOINT_STATE_CHANGE);
	ck_assert_str_eq(ev.endpoint_resource, "agent1000");
	ck_assert_str_eq(ev.endpoint_state, "online");
	ck_assert_ptr_null(ev.channel_id);
	ari_event_clear(&ev);
}
END_TEST

START_TEST(unknown_type_is_not_an_error)
{
	struct ari_event ev;

	ck_assert_int_eq(parse_file("unknown-type.json", &ev), 0);
	ck_assert_int_eq(ev.type, ARI_EVENT_UNKNOWN);
	ck_assert_str_eq(ev.type_name, "ChannelConnectedLine");
	ari_event_clear(&ev);
}
END_TEST

START_TEST(garbled_is_refused)
{
	static const char *const files[] = {
	    "garbled-truncated.json",
	    "garbled-array.json",
	    "garbled-type.json",
	    "garbled-deep.json",
	};
	struct ari_event ev;

	memset(&ev, 0x5a, sizeof(ev));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		ck_assert_msg(parse_file(files[i], &ev) == -EBADMSG, "%s",
			      files[i]);
	ck_assert_int_eq(ari_event_parse("", 0, &ev), -EBADMSG);
	ck_assert_int_eq(ari_event_parse("\xff\xfe", 2, &ev), -EBADMSG);
	/* Untouched on failure. */
	ck_assert_int_eq(((unsigned char *)&ev)[0], 0x5a);
}
END_TEST

START_TEST(type_names_round_trip)
{
	for (int t = ARI_EVENT_UNKNOWN + 1; t < ARI_EVENT__COUNT; t++) {
		const char *name = ari_event_type_name((enum ari_event_type)t);
		ck_assert_int_eq(ari_event_type_from_name(name), t);
	}
	ck_assert_int_eq(ari_event_type_from_name("Nope"), ARI_EVENT_UNKNOWN);
	ck_assert_str_eq(ari_event_type_name(ARI_EVENT__COUNT), "Unknown");
}
END_TEST

START_TEST(timestamps)
{
	int64_t us = 7;

	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-11-24T17:30:01.123+0000", &us), 0);
	ck_assert_int_eq(us, 1795541401123000LL);
	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-11-24T18:30:01.123+0100", &us), 0);
	ck_assert_int_eq(us, 1795541401123000LL);
	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-11-24T12:00:01.123-0530", &us), 0);
	ck_assert_int_eq(us, 1795541401123000LL);
	us = 7;
	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-11-24T17:30:01+0000", &us),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-13-24T17:30:01.000+0000", &us),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_event_timestamp_parse("2026-11-24T17:30:01.000+0000x", &us),
	    -EINVAL);
	ck_assert_int_eq(ari_event_timestamp_parse(NULL, &us), -EINVAL);
	ck_assert_int_eq(us, 7);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ari-event");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, stasis_start_inbound);
	tcase_add_test(tc, stasis_start_after_masquerade);
	tcase_add_test(tc, dial_uses_peer);
	tcase_add_test(tc, media_and_bridge_events);
	tcase_add_test(tc, endpoint_state);
	tcase_add_test(tc, unknown_type_is_not_an_error);
	tcase_add_test(tc, garbled_is_refused);
	tcase_add_test(tc, type_names_round_trip);
	tcase_add_test(tc, timestamps);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
