/* test-agents-presence.c: phones' reachability from recorded endpoint events. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agents/presence.h"
#include "ari/event.h"
#include "testlib.h"

static struct agents_presence *presence;

static void setup(void)
{
	ck_assert_int_eq(agents_presence_new(&presence), 0);
}

static void teardown(void)
{
	agents_presence_free(presence);
	presence = NULL;
}

/* An endpoint as GET /endpoints/PJSIP lists it (borrowed); the view
 * lasts until the next call. */
static const struct agents_endpoint *from_json(const json_t *endpoint)
{
	static struct agents_endpoint e;

	agents_endpoint_from_json(endpoint, &e);
	return &e;
}

/* Feeds one recorded event as the daemon does: the decoded event's
 * endpoint object. Returns what agents_presence_endpoint() returns; the
 * username is copied out of the event, which goes. */
static int feed_event(const char *name, const char **ret_username)
{
	static char copy[64];
	const char *user = NULL;
	size_t len;
	char *data = testlib_read_data(name, &len);
	struct ari_event ev;
	int r;

	ck_assert_int_eq(ari_event_parse(data, len, &ev), 0);
	free(data);
	r = agents_presence_endpoint(
	    presence,
	    &(struct agents_endpoint){ev.endpoint_technology,
				      ev.endpoint_resource, ev.endpoint_state},
	    &user);
	snprintf(copy, sizeof(copy), "%s", user ? user : "");
	*ret_username = copy;
	ari_event_clear(&ev);
	return r;
}

static json_t *load_json(const char *name)
{
	size_t len;
	char *data = testlib_read_data(name, &len);
	json_t *json = json_loadb(data, len, 0, NULL);

	free(data);
	ck_assert_ptr_nonnull(json);
	return json;
}

START_TEST(config_endpoint_registers_and_leaves)
{
	const char *user = NULL;

	ck_assert(!agents_presence_online(presence, "201"));
	ck_assert_int_eq(feed_event("endpoints/config-online.json", &user), 1);
	ck_assert_str_eq(user, "201");
	ck_assert(agents_presence_online(presence, "201"));
	/* PeerStatusChange and ContactStatusChange come along with the same
	 * state: nothing changes again. */
	ck_assert_int_eq(feed_event("endpoints/peer-status-change.json", &user),
			 0);
	ck_assert_int_eq(
	    feed_event("endpoints/contact-status-change.json", &user), 0);
	ck_assert_int_eq(feed_event("endpoints/config-offline.json", &user), 1);
	ck_assert(!agents_presence_online(presence, "201"));
	ck_assert_int_eq(feed_event("endpoints/config-offline.json", &user), 0);
}
END_TEST

/* A realtime endpoint whose contacts are in ps_contacts: ARI says
 * "unknown" then "offline" while the phone registers; the contacts say
 * otherwise, and either source is enough. */
START_TEST(realtime_contacts_win_over_offline)
{
	json_t *events = load_json("endpoints/realtime-first-load.json");
	const char *user = NULL;
	size_t i;
	json_t *ev;

	ck_assert_int_eq(agents_presence_set(presence, "ag7bf22b9b",
					     AGENTS_PRESENCE_CONTACTS, true),
			 1);
	json_array_foreach(events, i, ev)
	{
		ck_assert_int_eq(agents_presence_endpoint(
				     presence,
				     from_json(json_object_get(ev, "endpoint")),
				     &user),
				 0);
		ck_assert_str_eq(user, "ag7bf22b9b");
	}
	ck_assert(agents_presence_online(presence, "ag7bf22b9b"));
	ck_assert_int_eq(agents_presence_set(presence, "ag7bf22b9b",
					     AGENTS_PRESENCE_CONTACTS, false),
			 1);
	ck_assert(!agents_presence_online(presence, "ag7bf22b9b"));
	json_decref(events);
}
END_TEST

START_TEST(unknown_state_is_offline)
{
	json_t *events = load_json("endpoints/realtime-first-load.json");
	const char *user = NULL;
	json_t *ep = json_object_get(json_array_get(events, 0), "endpoint");

	ck_assert_int_eq(
	    agents_presence_endpoint(presence, from_json(ep), &user), 0);
	ck_assert(!agents_presence_online(presence, "ag7bf22b9b"));
	json_decref(events);
}
END_TEST

START_TEST(other_objects_are_refused)
{
	json_t *iax = json_pack("{s:s, s:s, s:s}", "technology", "IAX2",
				"resource", "201", "state", "online");
	json_t *nostate =
	    json_pack("{s:s, s:s}", "technology", "PJSIP", "resource", "201");
	const char *user = "untouched";

	ck_assert_int_eq(
	    agents_presence_endpoint(presence, from_json(iax), &user), -EINVAL);
	ck_assert_int_eq(
	    agents_presence_endpoint(presence, from_json(nostate), &user),
	    -EINVAL);
	ck_assert_int_eq(
	    agents_presence_endpoint(presence, from_json(NULL), &user),
	    -EINVAL);
	ck_assert_str_eq(user, "untouched");
	ck_assert(!agents_presence_online(presence, "201"));
	json_decref(iax);
	json_decref(nostate);
}
END_TEST

START_TEST(list_after_reconnect)
{
	json_t *list = load_json("endpoints/list.json");
	const char *user = NULL;
	size_t i;
	json_t *ep;
	int changed = 0;

	agents_presence_set(presence, "202", AGENTS_PRESENCE_ARI, true);
	json_array_foreach(list, i, ep)
	{
		changed +=
		    agents_presence_endpoint(presence, from_json(ep), &user);
	}
	/* trunk and 201 came online, 202 went offline. */
	ck_assert_int_eq(changed, 3);
	ck_assert(agents_presence_online(presence, "201"));
	ck_assert(agents_presence_online(presence, "trunk"));
	ck_assert(!agents_presence_online(presence, "202"));
	ck_assert(!agents_presence_online(presence, "220"));
	json_decref(list);
}
END_TEST

struct seen {
	char names[8][16];
	bool online[8];
	int n;
};

static void on_changed(const char *username, bool online, void *userdata)
{
	struct seen *s = userdata;

	ck_assert_int_lt(s->n, 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", username);
	s->online[s->n++] = online;
}

START_TEST(contacts_replace_reports_changes_only)
{
	const char *first[] = {"a", "b"};
	const char *second[] = {"b", "c"};
	struct seen seen = {0};

	/* a is also online through ARI: it stays online when its contact
	 * goes. */
	agents_presence_set(presence, "a", AGENTS_PRESENCE_ARI, true);
	ck_assert_int_eq(agents_presence_replace(presence,
						 AGENTS_PRESENCE_CONTACTS,
						 first, 2, on_changed, &seen),
			 1);
	ck_assert_str_eq(seen.names[0], "b");
	seen.n = 0;
	ck_assert_int_eq(agents_presence_replace(presence,
						 AGENTS_PRESENCE_CONTACTS,
						 second, 2, on_changed, &seen),
			 1);
	ck_assert_str_eq(seen.names[0], "c");
	ck_assert(seen.online[0]);
	ck_assert(agents_presence_online(presence, "a"));
	seen.n = 0;
	ck_assert_int_eq(agents_presence_replace(presence,
						 AGENTS_PRESENCE_CONTACTS, NULL,
						 0, on_changed, &seen),
			 2);
	ck_assert(!agents_presence_online(presence, "b"));
	ck_assert(!agents_presence_online(presence, "c"));
	ck_assert(agents_presence_online(presence, "a"));
}
END_TEST

/* Once ps_contacts shows that Asterisk keeps contacts there, ARI's state is
 * stale (an endpoint online at Asterisk's start stays so): only the
 * contacts count. */
START_TEST(trusting_only_contacts_drops_stale_ari)
{
	struct seen seen = {0};

	agents_presence_set(presence, "agent7", AGENTS_PRESENCE_ARI, true);
	agents_presence_set(presence, "agent8", AGENTS_PRESENCE_ARI, true);
	agents_presence_set(presence, "agent8", AGENTS_PRESENCE_CONTACTS, true);
	ck_assert(agents_presence_online(presence, "agent7"));
	ck_assert_int_eq(agents_presence_trust(presence,
					       AGENTS_PRESENCE_CONTACTS,
					       on_changed, &seen),
			 1);
	ck_assert_str_eq(seen.names[0], "agent7");
	ck_assert(!seen.online[0]);
	ck_assert(!agents_presence_online(presence, "agent7"));
	ck_assert(agents_presence_online(presence, "agent8"));
	ck_assert_uint_eq(agents_presence_trusted(presence),
			  AGENTS_PRESENCE_CONTACTS);
	/* ARI's word changes nothing now; the contacts' does. */
	ck_assert_int_eq(
	    agents_presence_set(presence, "agent8", AGENTS_PRESENCE_ARI, false),
	    0);
	ck_assert_int_eq(agents_presence_set(presence, "agent8",
					     AGENTS_PRESENCE_CONTACTS, false),
			 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agents-presence");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config_endpoint_registers_and_leaves);
	tcase_add_test(tc, realtime_contacts_win_over_offline);
	tcase_add_test(tc, unknown_state_is_offline);
	tcase_add_test(tc, other_objects_are_refused);
	tcase_add_test(tc, list_after_reconnect);
	tcase_add_test(tc, contacts_replace_reports_changes_only);
	tcase_add_test(tc, trusting_only_contacts_drops_stale_ari);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
