/* test-ari-event.c: decoding recorded ARI events, and refusing garbled ones. */
#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ari/event.h"
#include "eventref.h"
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
	ck_assert_ptr_null(ev.text);
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

/* Decodes len bytes and fails unless the reference decoder agrees on
 * whether the text is an event and on every member. Returns the result. */
static int agree(const char *what, const char *data, size_t len)
{
	struct ari_event ev;
	int r = ari_event_parse(data, len, &ev);
	const char *differs = eventref_check(data, len, r, &ev);

	ck_assert_msg(!differs, "%s: %s (%d)", what, differs, r);
	if (r == 0)
		ari_event_clear(&ev);
	return r;
}

static int agree_text(const char *text)
{
	return agree(text, text, strlen(text));
}

/* Every recorded event of test/data, and each line of its call traces
 * (those the unit tests replay, and earlier ones recorded without the
 * application's event filter, which hold every type Asterisk sends). */
START_TEST(recorded_events_decode_as_the_reference)
{
	static const char *const subdirs[] = {"", "calls/",
					      "calls-unfiltered/"};
	const char *dir = getenv("WELCOMEDLY_TEST_DATA");
	char path[4096];
	size_t n = 0, len;
	struct dirent *e;
	DIR *d;

	for (int calls = 0; calls <= 2; calls++) {
		snprintf(path, sizeof(path), "%s/%s", dir ? dir : "test/data",
			 subdirs[calls]);
		d = opendir(path);
		ck_assert_msg(d != NULL, "cannot open %s", path);
		while ((e = readdir(d))) {
			char name[512], *data, *line, *next;

			if (!strstr(e->d_name, ".json"))
				continue;
			snprintf(name, sizeof(name), "%s%s", subdirs[calls],
				 e->d_name);
			data = testlib_read_data(name, &len);
			if (!calls) {
				agree(name, data, len);
				n++;
			}
			for (line = data; calls && *line; line = next) {
				next = strchr(line, '\n');
				next = next ? next + 1 : line + strlen(line);
				if (next - line > 1) {
					agree(name, line,
					      (size_t)(next - line - 1));
					n++;
				}
			}
			free(data);
		}
		closedir(d);
	}
	ck_assert_uint_gt(n, 500);
}
END_TEST

/* The corners of JSON and of the members read, each held to the
 * reference: what it refuses, the decoder refuses. */
START_TEST(corners_decode_as_the_reference)
{
	static const char *const texts[] = {
	    /* duplicate names, at any depth, also spelled differently */
	    "{\"type\":\"X\",\"a\":1,\"a\":2}",
	    "{\"type\":\"X\",\"channel\":{\"id\":\"a\",\"id\":\"b\"}}",
	    "{\"type\":\"X\",\"o\":{\"k\":1},\"p\":{\"k\":1}}",
	    "{\"type\":\"X\",\"o\":{\"a\":1,\"\\u0061\":2}}",
	    "{\"type\":\"X\",\"type\":\"X\"}",
	    "{\"type\":\"X\",\"o\":[{\"a\":1},{\"a\":1}]}",
	    /* escapes and UTF-8 */
	    "{\"type\":\"T\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"}",
	    "{\"type\":\"\\ud83d\\ude00 \\u20AC \\u07ff\"}",
	    "{\"type\":\"\\ud83d\"}",
	    "{\"type\":\"\\ude00\"}",
	    "{\"type\":\"\\ud83d\\u0041\"}",
	    "{\"type\":\"\\ud83dx\"}",
	    "{\"type\":\"a\\u0000b\"}",
	    "{\"type\":\"\\u12\"}",
	    "{\"type\":\"\\u12G4\"}",
	    "{\"type\":\"\\x\"}",
	    "{\"type\":\"\\",
	    "{\"type\":\"a\tb\"}",
	    "{\"type\":\"a\x7f\"}",
	    "{\"type\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}",
	    "{\"type\":\"\xc0\x80\"}",
	    "{\"type\":\"\xe0\x80\x80\"}",
	    "{\"type\":\"\xed\xa0\x80\"}",
	    "{\"type\":\"\xf4\x90\x80\x80\"}",
	    "{\"type\":\"\xf0\x8f\xbf\xbf\"}",
	    "{\"type\":\"\x80\"}",
	    "{\"type\":\"\xc3\"}",
	    "{\"type\":\"\xe2\x82\"}",
	    "{\"type\":\"\xff\"}",
	    "{\"t\xc3\xa9\":1,\"type\":\"x\"}",
	    /* numbers */
	    "{\"type\":\"X\",\"n\":[0,-0,1.5,1e5,1E+5,-1.5e-3,10,1e-400]}",
	    "{\"type\":\"X\",\"n\":01}",
	    "{\"type\":\"X\",\"n\":-01}",
	    "{\"type\":\"X\",\"n\":1.}",
	    "{\"type\":\"X\",\"n\":.5}",
	    "{\"type\":\"X\",\"n\":-}",
	    "{\"type\":\"X\",\"n\":1e}",
	    "{\"type\":\"X\",\"n\":1e+}",
	    "{\"type\":\"X\",\"n\":+1}",
	    "{\"type\":\"X\",\"n\":9223372036854775807}",
	    "{\"type\":\"X\",\"n\":9223372036854775808}",
	    "{\"type\":\"X\",\"n\":-9223372036854775808}",
	    "{\"type\":\"X\",\"n\":-9223372036854775809}",
	    "{\"type\":\"X\",\"n\":1e400}",
	    "{\"type\":\"X\",\"n\":-1e400}",
	    "{\"type\":\"X\",\"n\":1x}",
	    "{\"type\":\"ChannelDestroyed\",\"cause\":16}",
	    "{\"type\":\"ChannelDestroyed\",\"cause\":16.0}",
	    "{\"type\":\"ChannelDestroyed\",\"cause\":\"16\"}",
	    "{\"type\":\"ChannelDestroyed\",\"cause\":-3}",
	    "{\"type\":\"ChannelDestroyed\",\"cause\":[16]}",
	    "{\"type\":\"RESTResponse\",\"status_code\":404,"
	    "\"request_id\":\"r\\u00e9\",\"content_type\":\"application/json\","
	    "\"message_body\":\"{\\\"id\\\":\\\"pb1\\\"}\"}",
	    "{\"type\":\"RESTResponse\",\"status_code\":2.5e2}",
	    /* literals */
	    "{\"type\":\"X\",\"soft\":true}",
	    "{\"type\":\"X\",\"soft\":1}",
	    "{\"type\":\"X\",\"soft\":\"true\"}",
	    "{\"type\":\"X\",\"soft\":false,\"a\":null}",
	    "{\"type\":\"X\",\"a\":tru}",
	    "{\"type\":\"X\",\"a\":nul}",
	    "{\"type\":\"X\",\"a\":trueX}",
	    "{\"type\":\"X\",\"a\":True}",
	    /* structure */
	    "{\"type\":\"X\",}",
	    "{\"type\":\"X\",\"a\":[1,]}",
	    "{\"type\":\"X\",\"a\":[,1]}",
	    "{\"type\" \"X\"}",
	    "{\"type\":\"X\" \"a\":1}",
	    "{\"type\":\"X\",\"a\":[1 2]}",
	    "{type:\"X\"}",
	    "{\"type\":'X'}",
	    "{}",
	    "{\"type\":1}",
	    "{\"type\":null}",
	    "[{\"type\":\"X\"}]",
	    "\"type\"",
	    " \t\r\n{ \"type\" : \"X\" , \"a\" : [ ] , \"b\" : { } } \n",
	    "{\"type\":\"X\"} x",
	    "{\"type\":\"X\"}{}",
	    "{\"type\":\"X\"",
	    "{\"type\":\"X\",\"a\":{\"b\":[}]}",
	    "\xef\xbb\xbf{\"type\":\"X\"}",
	    "",
	    "   ",
	    /* the members read */
	    "{\"type\":\"StasisStart\",\"channel\":\"x\",\"args\":\"a\"}",
	    "{\"type\":\"StasisStart\",\"args\":[\"a\",1,\"b\",null,{},[]]}",
	    "{\"type\":\"StasisStart\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\","
	    "\"6\",\"7\",\"8\",\"9\",\"10\"]}",
	    "{\"type\":\"StasisStart\",\"args\":{\"0\":\"a\"}}",
	    "{\"type\":\"StasisStart\",\"args\":[]}",
	    "{\"peer\":{\"id\":\"p\",\"caller\":{\"number\":\"1\"}},"
	    "\"channel\":{\"id\":\"c\",\"dialplan\":{\"exten\":\"5\"}},"
	    "\"type\":\"Dial\",\"dialstatus\":\"ANSWER\"}",
	    "{\"type\":\"StasisStart\",\"peer\":{\"id\":\"p\"},"
	    "\"channel\":{\"id\":\"c\",\"state\":\"Up\",\"name\":\"n\","
	    "\"caller\":\"x\",\"dialplan\":{\"exten\":5},\"x\":{\"id\":\"y\"}}"
	    "}",
	    "{\"type\":\"X\",\"playback\":{\"id\":\"p\",\"target_uri\":\"t\"},"
	    "\"recording\":{}}",
	    "{\"type\":\"X\",\"recording\":{\"name\":\"r\",\"target_uri\":"
	    "\"u\"},"
	    "\"playback\":{\"id\":\"p\",\"target_uri\":\"t\"}}",
	    "{\"type\":\"X\",\"recording\":[],\"playback\":{\"target_uri\":1}}",
	    "{\"type\":\"EndpointStateChange\",\"endpoint\":{\"technology\":"
	    "\"PJSIP\",\"resource\":\"ag1\",\"state\":\"online\","
	    "\"channel_ids\":[\"a\",\"b\"]}}",
	    "{\"type\":\"X\",\"replace_channel\":{\"id\":\"r\"},\"bridge\":{"
	    "\"id"
	    "\":\"b\",\"channels\":[\"c\"]},\"digit\":\"5\",\"variable\":\"v\","
	    "\"value\":\"\",\"application\":\"a\",\"timestamp\":\"t\"}",
	    "{\"type\":\"X\",\"o\":{\"type\":\"Y\",\"channel\":{\"id\":\"z\"}}"
	    "}",
	};
	char many[4096], deep[256];
	size_t pos;

	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++)
		agree_text(texts[i]);
	/* A NUL inside the text, in a string and outside. */
	agree("nul in string", "{\"type\":\"a\0b\"}", 14);
	agree("nul outside", "{\"type\":\"ab\"}\0", 14);
	ck_assert_int_eq(
	    agree("nul after a number", "{\"type\":\"ab\",\"n\":2\0}", 20),
	    -EBADMSG);
	/* Many names in one object: the sorted duplicate check. */
	for (int dup = 0; dup <= 1; dup++) {
		pos = (size_t)snprintf(many, sizeof(many), "{\"type\":\"X\"");
		for (int k = 0; k < 200; k++)
			pos += (size_t)snprintf(many + pos, sizeof(many) - pos,
						",\"k%d\":%d", k, k);
		if (dup)
			pos += (size_t)snprintf(many + pos, sizeof(many) - pos,
						",\"k117\":0");
		snprintf(many + pos, sizeof(many) - pos, "}");
		ck_assert_int_eq(agree_text(many), dup ? -EBADMSG : 0);
	}
	/* Nesting around ARI_EVENT_MAX_DEPTH (the root is level 1): arrays
	 * down to level `levels`, the innermost empty or holding a number. */
	for (int levels = 30; levels <= 34; levels++) {
		for (int filled = 0; filled <= 1; filled++) {
			bool ok = levels + filled <= ARI_EVENT_MAX_DEPTH;

			pos = (size_t)snprintf(deep, sizeof(deep),
					       "{\"type\":\"X\",\"d\":");
			for (int k = 1; k < levels; k++)
				deep[pos++] = '[';
			if (filled)
				deep[pos++] = '0';
			for (int k = 1; k < levels; k++)
				deep[pos++] = ']';
			deep[pos++] = '}';
			deep[pos] = '\0';
			ck_assert_int_eq(agree_text(deep), ok ? 0 : -EBADMSG);
		}
	}
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
	tcase_add_test(tc, recorded_events_decode_as_the_reference);
	tcase_add_test(tc, corners_decode_as_the_reference);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
