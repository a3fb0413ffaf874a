/* test-feed.c: numbering, eviction, replay and gaps, agent scopes and
 * delivery-time changes of the live event feed. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "feed/feed.h"

/* 2023-11-14T22:13:20.123456Z */
#define AT 1700000000123456ll
#define MAX_SEEN 64

/* What one subscriber received: copies of the texts, each checked to be a
 * JSON object with the envelope's members. */
struct rec {
	struct feed *feed;
	struct feed_sub *sub;
	char *texts[MAX_SEEN];
	int64_t seqs[MAX_SEEN]; /* -1 for "seq":null */
	size_t n;
	/* Optional actions taken from the callback. */
	struct feed_sub *unsubscribe_other;
	bool unsubscribe_self;
	bool publish_once;
	struct rec *subscribe_other;
};

static void rec_check_json(struct rec *r, const char *text, size_t len)
{
	json_error_t error;
	json_t *msg = json_loadb(text, len, 0, &error);
	json_t *seq;

	ck_assert_msg(msg != NULL, "not JSON: %s (%s)", text, error.text);
	ck_assert(json_is_object(msg));
	ck_assert_uint_eq(strlen(text), len);
	seq = json_object_get(msg, "seq");
	ck_assert(json_is_integer(seq) || json_is_null(seq));
	ck_assert(json_is_string(json_object_get(msg, "type")));
	ck_assert(json_is_string(json_object_get(msg, "epoch")));
	ck_assert(json_is_object(json_object_get(msg, "data")));
	if (json_is_integer(seq))
		ck_assert(json_is_string(json_object_get(msg, "at")));
	r->seqs[r->n] = json_is_integer(seq) ? json_integer_value(seq) : -1;
	json_decref(msg);
}

static void rec_cb(const char *text, size_t len, void *userdata)
{
	struct rec *r = userdata;

	ck_assert_uint_lt(r->n, MAX_SEEN);
	rec_check_json(r, text, len);
	r->texts[r->n++] = strdup(text);
	if (r->unsubscribe_other) {
		feed_unsubscribe(r->unsubscribe_other);
		r->unsubscribe_other = NULL;
	}
	if (r->unsubscribe_self)
		feed_unsubscribe(r->sub);
	if (r->publish_once) {
		r->publish_once = false;
		ck_assert_int_eq(feed_publish(r->feed, "follow.up", 0, true, AT,
					      json_object(), NULL),
				 0);
	}
	if (r->subscribe_other) {
		struct rec *o = r->subscribe_other;

		r->subscribe_other = NULL;
		ck_assert_int_eq(feed_subscribe(r->feed, 0, rec_cb, o, &o->sub),
				 0);
	}
}

static void rec_sub(struct rec *r, struct feed *feed, int64_t scope)
{
	memset(r, 0, sizeof(*r));
	r->feed = feed;
	ck_assert_int_eq(feed_subscribe(feed, scope, rec_cb, r, &r->sub), 0);
}

static void rec_clear(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->texts[i]);
	r->n = 0;
}

static struct feed *feed_make(size_t capacity)
{
	struct feed *feed = NULL;

	ck_assert_int_eq(feed_new(capacity, "e1", &feed), 0);
	return feed;
}

/* Publishes an event about agent with {"n":n} as data; returns its seq. */
static uint64_t pub(struct feed *feed, int64_t agent, bool agents_see, int n)
{
	uint64_t seq = 0;

	ck_assert_int_eq(feed_publish(feed, "test.event", agent, agents_see, AT,
				      json_pack("{s:i}", "n", n), &seq),
			 0);
	return seq;
}

START_TEST(feed_sequence_and_text)
{
	struct feed *feed = feed_make(8);
	struct rec r;
	uint64_t seq = 0;

	ck_assert_uint_eq(feed_last_seq(feed), 0);
	ck_assert_uint_eq(feed_oldest_seq(feed), 0);
	ck_assert_uint_eq(feed_count(feed), 0);
	rec_sub(&r, feed, 0);
	ck_assert_uint_eq(feed_subscribers(feed), 1);
	ck_assert_int_eq(feed_publish(feed, "call.queued", 0, true, AT,
				      json_pack("{s:s,s:s}", "call_id", "c\"1",
						"name", "Jos\xc3\xa9"),
				      &seq),
			 0);
	ck_assert_uint_eq(seq, 1);
	ck_assert_str_eq(
	    r.texts[0],
	    "{\"seq\":1,\"type\":\"call.queued\","
	    "\"at\":\"2023-11-14T22:13:20.123Z\",\"epoch\":\"e1\","
	    "\"data\":{\"call_id\":\"c\\\"1\",\"name\":\"Jos\xc3\xa9\"}}");
	ck_assert_uint_eq(pub(feed, 0, true, 2), 2);
	ck_assert_uint_eq(pub(feed, 0, true, 3), 3);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_int_eq(r.seqs[2], 3);
	ck_assert_uint_eq(feed_last_seq(feed), 3);
	ck_assert_uint_eq(feed_oldest_seq(feed), 1);
	ck_assert_uint_eq(feed_count(feed), 3);
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_at_format)
{
	struct feed *feed = feed_make(4);
	struct rec r;

	rec_sub(&r, feed, 0);
	ck_assert_int_eq(
	    feed_publish(feed, "t", 0, true, -1, json_object(), NULL), 0);
	ck_assert_int_eq(
	    feed_publish(feed, "t", 0, true, 0, json_object(), NULL), 0);
	ck_assert_ptr_nonnull(
	    strstr(r.texts[0], "\"1969-12-31T23:59:59.999Z\""));
	ck_assert_ptr_nonnull(
	    strstr(r.texts[1], "\"1970-01-01T00:00:00.000Z\""));
	ck_assert_int_eq(
	    feed_publish(feed, "t", 0, true, INT64_MAX, json_object(), NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    feed_publish(feed, "t", 0, true, INT64_MIN, json_object(), NULL),
	    -EINVAL);
	ck_assert_uint_eq(feed_last_seq(feed), 2);
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_eviction)
{
	struct feed *feed = feed_make(3);

	for (int i = 1; i <= 5; i++)
		pub(feed, 0, true, i);
	ck_assert_uint_eq(feed_count(feed), 3);
	ck_assert_uint_eq(feed_oldest_seq(feed), 3);
	ck_assert_uint_eq(feed_last_seq(feed), 5);
	feed_free(feed);
}
END_TEST

START_TEST(feed_default_capacity)
{
	struct feed *feed = NULL;

	ck_assert_int_eq(feed_new(FEED_MAX_CAPACITY + 1, "e", &feed), -EINVAL);
	ck_assert_int_eq(feed_new(1, NULL, &feed), -EINVAL);
	ck_assert_ptr_null(feed);
	feed = feed_make(0);
	for (int i = 1; i <= FEED_DEFAULT_CAPACITY + 1; i++)
		pub(feed, 0, true, i);
	ck_assert_uint_eq(feed_count(feed), FEED_DEFAULT_CAPACITY);
	ck_assert_uint_eq(feed_oldest_seq(feed), 2);
	feed_free(feed);
	feed_free(NULL);
}
END_TEST

START_TEST(feed_replay_within_buffer)
{
	struct feed *feed = feed_make(4);
	struct rec r;

	for (int i = 1; i <= 6; i++)
		pub(feed, 0, true, i);
	rec_sub(&r, feed, 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, 4), 2);
	ck_assert_int_eq(r.seqs[0], 5);
	ck_assert_int_eq(r.seqs[1], 6);
	rec_clear(&r);
	/* since + 1 is exactly the oldest kept: nothing is missing. */
	ck_assert_int_eq(feed_replay(feed, r.sub, 2), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(r.seqs[i], (int64_t)i + 3);
	rec_clear(&r);
	ck_assert_int_eq(feed_replay(feed, r.sub, 6), 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, 100), 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, UINT64_MAX), 0);
	ck_assert_uint_eq(r.n, 0);
	/* Live events after a replay still arrive, once. */
	pub(feed, 0, true, 7);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_int_eq(r.seqs[0], 7);
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_replay_empty)
{
	struct feed *feed = feed_make(4);
	struct rec r;

	rec_sub(&r, feed, 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, 0), 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, 5), 0);
	ck_assert_uint_eq(r.n, 0);
	feed_free(feed);
}
END_TEST

START_TEST(feed_replay_gap)
{
	struct feed *feed = feed_make(4);
	struct rec r;

	for (int i = 1; i <= 6; i++)
		pub(feed, 0, true, i);
	rec_sub(&r, feed, 0);
	ck_assert_int_eq(feed_replay(feed, r.sub, 1), 5);
	ck_assert_str_eq(r.texts[0], "{\"seq\":null,\"type\":\"feed.gap\","
				     "\"epoch\":\"e1\","
				     "\"data\":{\"since\":1,\"oldest\":3}}");
	ck_assert_int_eq(r.seqs[0], -1);
	for (size_t i = 1; i < 5; i++)
		ck_assert_int_eq(r.seqs[i], (int64_t)i + 2);
	rec_clear(&r);
	ck_assert_int_eq(feed_replay(feed, r.sub, 0), 5);
	ck_assert_str_eq(r.texts[0], "{\"seq\":null,\"type\":\"feed.gap\","
				     "\"epoch\":\"e1\","
				     "\"data\":{\"since\":0,\"oldest\":3}}");
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_agent_scope)
{
	struct feed *feed = feed_make(16);
	struct rec all, seven;

	rec_sub(&all, feed, 0);
	rec_sub(&seven, feed, 7);
	pub(feed, 7, true, 1);  /* about agent 7 */
	pub(feed, 8, true, 2);  /* about agent 8 */
	pub(feed, 7, false, 3); /* about 7, but not for agents */
	pub(feed, 0, true, 4);  /* about no agent */
	pub(feed, 0, false, 5); /* queue.stats-like */
	pub(feed, 7, true, 6);
	ck_assert_uint_eq(all.n, 6);
	ck_assert_uint_eq(seven.n, 2);
	ck_assert_int_eq(seven.seqs[0], 1);
	ck_assert_int_eq(seven.seqs[1], 6);
	rec_clear(&seven);
	/* Replays filter the same way; the gap notice goes to everyone. */
	ck_assert_int_eq(feed_replay(feed, seven.sub, 0), 2);
	ck_assert_int_eq(seven.seqs[0], 1);
	ck_assert_int_eq(seven.seqs[1], 6);
	rec_clear(&seven);
	rec_clear(&all);
	feed_free(feed);

	feed = feed_make(2);
	rec_sub(&seven, feed, 7);
	pub(feed, 7, true, 1);
	pub(feed, 8, true, 2);
	pub(feed, 8, true, 3);
	rec_clear(&seven);
	ck_assert_int_eq(feed_replay(feed, seven.sub, 0), 1);
	ck_assert_int_eq(seven.seqs[0], -1);
	rec_clear(&seven);
	feed_free(feed);
}
END_TEST

START_TEST(feed_unsubscribe_during_delivery)
{
	struct feed *feed = feed_make(8);
	struct rec a, b, c;

	rec_sub(&a, feed, 0);
	rec_sub(&b, feed, 0);
	rec_sub(&c, feed, 0);
	a.unsubscribe_other = b.sub;
	a.unsubscribe_self = true;
	pub(feed, 0, true, 1);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(b.n, 0);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(feed_subscribers(feed), 1);
	pub(feed, 0, true, 2);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(c.n, 2);
	/* The last one unsubscribes an earlier one that already left and
	 * then itself. */
	c.unsubscribe_self = true;
	pub(feed, 0, true, 3);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_uint_eq(feed_subscribers(feed), 0);
	pub(feed, 0, true, 4);
	ck_assert_uint_eq(c.n, 3);
	rec_clear(&a);
	rec_clear(&c);
	feed_unsubscribe(NULL);
	feed_free(feed);
}
END_TEST

START_TEST(feed_unsubscribe_during_replay)
{
	struct feed *feed = feed_make(8);
	struct rec r;

	for (int i = 1; i <= 5; i++)
		pub(feed, 0, true, i);
	rec_sub(&r, feed, 0);
	r.unsubscribe_self = true;
	ck_assert_int_eq(feed_replay(feed, r.sub, 0), 1);
	ck_assert_uint_eq(feed_subscribers(feed), 0);
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_publish_during_delivery)
{
	struct feed *feed = feed_make(8);
	struct rec a, b;

	rec_sub(&a, feed, 0);
	rec_sub(&b, feed, 0);
	a.publish_once = true;
	pub(feed, 0, true, 1);
	/* Both see 1 then 2, although 2 was published while 1 was on its
	 * way to b. */
	ck_assert_uint_eq(a.n, 2);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_int_eq(a.seqs[0], 1);
	ck_assert_int_eq(a.seqs[1], 2);
	ck_assert_int_eq(b.seqs[0], 1);
	ck_assert_int_eq(b.seqs[1], 2);
	rec_clear(&a);
	rec_clear(&b);
	feed_free(feed);
}
END_TEST

START_TEST(feed_subscribe_during_delivery)
{
	struct feed *feed = feed_make(8);
	struct rec a, late;

	rec_sub(&a, feed, 0);
	memset(&late, 0, sizeof(late));
	late.feed = feed;
	a.subscribe_other = &late;
	pub(feed, 0, true, 1);
	ck_assert_uint_eq(late.n, 0);
	ck_assert_uint_eq(feed_subscribers(feed), 2);
	pub(feed, 0, true, 2);
	ck_assert_uint_eq(late.n, 1);
	ck_assert_int_eq(late.seqs[0], 2);
	rec_clear(&a);
	rec_clear(&late);
	feed_free(feed);
}
END_TEST

/* Publishes {"blob":<n x's>}; returns feed_publish's result. */
static int pub_blob(struct feed *feed, size_t n, uint64_t *ret_seq)
{
	char *blob = malloc(n + 1);
	int r;

	memset(blob, 'x', n);
	blob[n] = '\0';
	r = feed_publish(feed, "big", 0, true, AT,
			 json_pack("{s:s}", "blob", blob), ret_seq);
	free(blob);
	return r;
}

START_TEST(feed_big_event_refused)
{
	struct feed *feed = feed_make(8);
	uint64_t seq = 42;
	size_t envelope;
	struct rec r;

	rec_sub(&r, feed, 0);
	ck_assert_int_eq(pub_blob(feed, 0, &seq), 0);
	envelope = r.n == 1 ? strlen(r.texts[0]) : 0;
	ck_assert_uint_eq(seq, 1);
	/* One byte past the cap: refused, no seq used, nothing delivered. */
	ck_assert_int_eq(pub_blob(feed, FEED_MAX_EVENT - envelope + 1, &seq),
			 -E2BIG);
	ck_assert_uint_eq(seq, 1);
	ck_assert_uint_eq(feed_last_seq(feed), 1);
	ck_assert_uint_eq(feed_count(feed), 1);
	ck_assert_uint_eq(r.n, 1);
	/* Exactly at the cap: kept. */
	ck_assert_int_eq(pub_blob(feed, FEED_MAX_EVENT - envelope, &seq), 0);
	ck_assert_uint_eq(seq, 2);
	ck_assert_uint_eq(strlen(r.texts[1]), FEED_MAX_EVENT);
	rec_clear(&r);
	feed_free(feed);
}
END_TEST

START_TEST(feed_bad_arguments)
{
	struct feed *feed = feed_make(8);
	struct feed_sub *sub = NULL;

	/* data is stolen on every failure: valgrind sees no leak. */
	ck_assert_int_eq(
	    feed_publish(feed, NULL, 0, true, AT, json_object(), NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    feed_publish(feed, "", 0, true, AT, json_object(), NULL), -EINVAL);
	ck_assert_int_eq(feed_publish(feed, "t", 0, true, AT, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(
	    feed_publish(feed, "t", 0, true, AT, json_array(), NULL), -EINVAL);
	ck_assert_int_eq(feed_publish(feed, "bad\xff", 0, true, AT,
				      json_pack("{s:i}", "n", 1), NULL),
			 -EINVAL);
	ck_assert_uint_eq(feed_last_seq(feed), 0);
	ck_assert_int_eq(feed_subscribe(feed, 0, NULL, NULL, &sub), -EINVAL);
	ck_assert_ptr_null(sub);
	feed_free(feed);
}
END_TEST

/* Subscriptions left at feed_free are freed with it. */
START_TEST(feed_free_with_subscribers)
{
	struct feed *feed = feed_make(2);
	struct rec a, b;

	rec_sub(&a, feed, 0);
	rec_sub(&b, feed, 3);
	pub(feed, 3, true, 1);
	rec_clear(&a);
	rec_clear(&b);
	feed_free(feed);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("feed");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, feed_sequence_and_text);
	tcase_add_test(tc, feed_at_format);
	tcase_add_test(tc, feed_eviction);
	tcase_add_test(tc, feed_default_capacity);
	tcase_add_test(tc, feed_replay_within_buffer);
	tcase_add_test(tc, feed_replay_empty);
	tcase_add_test(tc, feed_replay_gap);
	tcase_add_test(tc, feed_agent_scope);
	tcase_add_test(tc, feed_unsubscribe_during_delivery);
	tcase_add_test(tc, feed_unsubscribe_during_replay);
	tcase_add_test(tc, feed_publish_during_delivery);
	tcase_add_test(tc, feed_subscribe_during_delivery);
	tcase_add_test(tc, feed_big_event_refused);
	tcase_add_test(tc, feed_bad_arguments);
	tcase_add_test(tc, feed_free_with_subscribers);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
