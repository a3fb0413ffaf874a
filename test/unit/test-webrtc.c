/* test-webrtc.c: what a browser softphone is handed: the defaults taken
 * from ARI_URL, the checks on the URLs, the TURN REST credential (a vector
 * computed independently with Python's hmac) and the ice_servers shapes. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "config.h"
#include "webrtc/webrtc.h"

/* A config with every setting empty but those given. */
static struct config cfg_of(const char *ari, const char *wss, const char *stun,
			    const char *turn, const char *secret)
{
	struct config c = {0};

	c.ari_url = (char *)ari;
	c.wss_url = (char *)wss;
	c.sip_domain = (char *)"";
	c.stun_server = (char *)stun;
	c.turn_server = (char *)turn;
	c.turn_secret = (char *)secret;
	c.turn_username = (char *)"";
	c.turn_password = (char *)"";
	c.turn_ttl = (char *)"3600";
	return c;
}

START_TEST(defaults_from_ari_url)
{
	struct config c = cfg_of("http://10.0.0.5:8088", "", "", "", "");
	struct webrtc_config w;
	char err[256];

	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(w.ws_url, "ws://10.0.0.5:8088/ws");
	ck_assert_str_eq(w.sip_domain, "10.0.0.5");
	ck_assert_int_eq(w.ttl_s, 3600);
	c = cfg_of("https://pbx.example.com", "", "", "", "");
	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(w.ws_url, "wss://pbx.example.com:443/ws");
	c = cfg_of("http://h:1", "wss://edge.example.com/ws", "", "", "");
	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	ck_assert_str_eq(w.ws_url, "wss://edge.example.com/ws");
}
END_TEST

START_TEST(bad_urls_refused)
{
	static const char *const bad[][3] = {
	    /* wss, stun, turn */
	    {"http://x/ws", "", ""}, {"", "turn:x:3478", ""},
	    {"", "", "stun:x:3478"}, {"", "", "turn:a:3478,,turn:b:3478"},
	    {"", "stun:a b", ""},
	};
	struct webrtc_config w;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config c = cfg_of("http://127.0.0.1:8088", bad[i][0],
					 bad[i][1], bad[i][2], "");

		err[0] = '\0';
		ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strlen(err) > 10, "row %zu: no message", i);
	}
}
END_TEST

START_TEST(turn_rest_credential)
{
	char out[32];

	/* base64(HMAC-SHA1("north-secret", "1700000000:7")) */
	ck_assert_int_eq(webrtc_turn_credential("north-secret", "1700000000:7",
						out, sizeof(out)),
			 28);
	ck_assert_str_eq(out, "KwvOdwGgpsw6aqSpOvw42PBEN6I=");
	ck_assert_int_eq(
	    webrtc_turn_credential("north-secret", "1700000000:7", out, 28),
	    -ENOSPC);
}
END_TEST

START_TEST(ice_servers_shapes)
{
	struct config c =
	    cfg_of("http://127.0.0.1:8088", "", "stun:s:3478",
		   "turn:t:3478?transport=udp,turns:t:443", "north-secret");
	struct webrtc_config w;
	char err[256], *text;
	json_t *a;

	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	a = webrtc_ice_servers(&w, 7, 1700000000);
	text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(
	    text, "[{\"urls\":[\"stun:s:3478\"]},{\"credential\":"
		  "\"KwvOdwGgpsw6aqSpOvw42PBEN6I=\",\"urls\":[\"turn:t:3478?"
		  "transport=udp\",\"turns:t:443\"],\"username\":\"1700000000:"
		  "7\"}]");
	free(text);
	json_decref(a);

	/* A static account when there is no secret; nothing when neither. */
	c = cfg_of("http://127.0.0.1:8088", "", "", "turn:t:3478", "");
	c.turn_username = (char *)"u";
	c.turn_password = (char *)"p";
	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	a = webrtc_ice_servers(&w, 7, 1700000000);
	text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(text, "[{\"credential\":\"p\",\"urls\":[\"turn:t:"
			       "3478\"],\"username\":\"u\"}]");
	free(text);
	json_decref(a);
	c = cfg_of("http://127.0.0.1:8088", "", "", "", "");
	ck_assert_int_eq(webrtc_config_init(&w, &c, err, sizeof(err)), 0);
	a = webrtc_ice_servers(&w, 7, 1700000000);
	ck_assert_int_eq(json_array_size(a), 0);
	json_decref(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webrtc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults_from_ari_url);
	tcase_add_test(tc, bad_urls_refused);
	tcase_add_test(tc, turn_rest_credential);
	tcase_add_test(tc, ice_servers_shapes);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
