/* feed.c: the event ring, its numbering and delivery to subscribers. */
#include "feed/feed.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One stored event: header and text in a single allocation. */
struct event {
	uint64_t seq;
	int64_t agent_id;
	bool agents_see;
	size_t len;
	char text[]; /* len bytes and a NUL */
};

struct feed_sub {
	struct feed *feed;
	struct feed_sub *prev, *next;
	int64_t agent_scope;
	feed_deliver_cb cb;
	void *userdata;
	/* The highest seq handed to this subscriber: live delivery skips
	 * anything at or below it, so that a replay run from a callback
	 * never leads to the same event twice. */
	uint64_t seen_seq;
	bool ended; /* unsubscribed while a delivery was running */
};

struct feed {
	char *epoch;
	struct event **ring; /* capacity slots */
	size_t capacity;
	size_t head;  /* slot of the oldest event */
	size_t count; /* events kept */
	uint64_t last_seq;
	/* The last seq handed to the subscribers; it trails last_seq only
	 * while events published from callbacks wait for their turn. */
	uint64_t delivered_seq;
	struct feed_sub *subs;
	size_t nsubs; /* not counting ended ones */
	/* Delivery callbacks on the stack. While it is not zero, ended
	 * subscriptions stay allocated (the loops still point at them) and
	 * newly published events wait. */
	unsigned depth;
};

int feed_new(size_t capacity, const char *epoch, struct feed **ret)
{
	struct feed *feed;

	if (!epoch || capacity > FEED_MAX_CAPACITY)
		return -EINVAL;
	if (capacity == 0)
		capacity = FEED_DEFAULT_CAPACITY;
	feed = calloc(1, sizeof(*feed));
	if (!feed)
		return -ENOMEM;
	feed->epoch = strdup(epoch);
	feed->ring = calloc(capacity, sizeof(*feed->ring));
	if (!feed->epoch || !feed->ring) {
		free(feed->epoch);
		free(feed->ring);
		free(feed);
		return -ENOMEM;
	}
	feed->capacity = capacity;
	*ret = feed;
	return 0;
}

void feed_free(struct feed *feed)
{
	struct feed_sub *sub, *next;

	if (!feed)
		return;
	for (sub = feed->subs; sub; sub = next) {
		next = sub->next;
		free(sub);
	}
	for (size_t i = 0; i < feed->count; i++)
		free(feed->ring[(feed->head + i) % feed->capacity]);
	free(feed->ring);
	free(feed->epoch);
	free(feed);
}

uint64_t feed_last_seq(const struct feed *feed)
{
	return feed->last_seq;
}

uint64_t feed_oldest_seq(const struct feed *feed)
{
	return feed->count ? feed->ring[feed->head]->seq : 0;
}

size_t feed_count(const struct feed *feed)
{
	return feed->count;
}

size_t feed_subscribers(const struct feed *feed)
{
	return feed->nsubs;
}

/* The kept event numbered seq, or NULL. Kept seqs are contiguous, so the
 * slot follows from the distance to the oldest. */
static const struct event *find_event(const struct feed *feed, uint64_t seq)
{
	uint64_t oldest = feed_oldest_seq(feed);

	if (feed->count == 0 || seq < oldest || seq > feed->last_seq)
		return NULL;
	return feed->ring[(feed->head + (seq - oldest)) % feed->capacity];
}

static bool sub_may_see(const struct feed_sub *sub, const struct event *ev)
{
	if (sub->ended)
		return false;
	if (sub->agent_scope == 0)
		return true;
	return ev->agents_see && ev->agent_id == sub->agent_scope;
}

static void sub_deliver(struct feed_sub *sub, const struct event *ev)
{
	if (ev->seq > sub->seen_seq)
		sub->seen_seq = ev->seq;
	sub->cb(ev->text, ev->len, sub->userdata);
}

/* Frees the subscriptions ended while callbacks were running. */
static void sweep(struct feed *feed)
{
	struct feed_sub *sub, *next;

	for (sub = feed->subs; sub; sub = next) {
		next = sub->next;
		if (!sub->ended)
			continue;
		if (sub->prev)
			sub->prev->next = sub->next;
		else
			feed->subs = sub->next;
		if (sub->next)
			sub->next->prev = sub->prev;
		free(sub);
	}
}

/*
 * Hands event seq to every subscriber that may see it and has not had it.
 * The event is looked up again before each callback because a callback may
 * publish enough to evict it; subscribers added by a callback are at the
 * tail and skip it through seen_seq.
 */
static void broadcast(struct feed *feed, uint64_t seq)
{
	for (struct feed_sub *sub = feed->subs; sub; sub = sub->next) {
		const struct event *ev = find_event(feed, seq);

		if (!ev)
			return;
		if (seq > sub->seen_seq && sub_may_see(sub, ev))
			sub_deliver(sub, ev);
	}
}

static void enter(struct feed *feed)
{
	feed->depth++;
}

/* The outermost caller delivers what waits, in seq order, then frees the
 * subscriptions ended on the way. */
static void leave(struct feed *feed)
{
	if (feed->depth == 1) {
		while (feed->delivered_seq < feed->last_seq)
			broadcast(feed, ++feed->delivered_seq);
	}
	if (--feed->depth == 0)
		sweep(feed);
}

/* Wraps data (stolen) into the envelope with the next seq and serializes
 * it into one allocation. Returns 0, -EINVAL, -E2BIG or -ENOMEM. */
static int event_build(const struct feed *feed, const char *type, int64_t at_us,
		       json_t *data, struct event **ret)
{
	char at[32];
	json_error_t error;
	json_t *msg;
	char *text;
	size_t len;
	struct event *ev;

	if (timefmt_rfc3339(at_us, at, sizeof(at)) < 0) {
		json_decref(data);
		return -EINVAL;
	}
	/* "o" steals data even when packing fails; packing fails for lack
	 * of memory or for a type that is not valid UTF-8. */
	msg = json_pack_ex(&error, 0, "{s:I,s:s,s:s,s:s,s:o}", "seq",
			   (json_int_t)(feed->last_seq + 1), "type", type, "at",
			   at, "epoch", feed->epoch, "data", data);
	if (!msg)
		return json_error_code(&error) == json_error_out_of_memory
			   ? -ENOMEM
			   : -EINVAL;
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	ev = len > FEED_MAX_EVENT ? NULL : malloc(sizeof(*ev) + len + 1);
	if (ev)
		memcpy(ev->text, text, len + 1);
	free(text);
	if (!ev)
		return len > FEED_MAX_EVENT ? -E2BIG : -ENOMEM;
	ev->len = len;
	*ret = ev;
	return 0;
}

/* Appends ev to the ring, evicting the oldest event when it is full. */
static void ring_push(struct feed *feed, struct event *ev)
{
	if (feed->count == feed->capacity) {
		free(feed->ring[feed->head]);
		feed->head = (feed->head + 1) % feed->capacity;
		feed->count--;
	}
	feed->ring[(feed->head + feed->count) % feed->capacity] = ev;
	feed->count++;
}

int feed_publish(struct feed *feed, const char *type, int64_t agent_id,
		 bool agents_see, int64_t at_us, json_t *data,
		 uint64_t *ret_seq)
{
	struct event *ev;
	int r;

	if (!type || !*type || !json_is_object(data)) {
		json_decref(data);
		return -EINVAL;
	}
	r = event_build(feed, type, at_us, data, &ev);
	if (r < 0)
		return r;
	ev->seq = ++feed->last_seq;
	ev->agent_id = agent_id;
	ev->agents_see = agents_see;
	ring_push(feed, ev);
	if (ret_seq)
		*ret_seq = ev->seq;
	/* Delivers now or, from inside a callback, once the delivery in
	 * progress is over. */
	enter(feed);
	leave(feed);
	return 0;
}

int feed_subscribe(struct feed *feed, int64_t agent_scope, feed_deliver_cb cb,
		   void *userdata, struct feed_sub **ret)
{
	struct feed_sub *sub, **tail;

	if (!cb)
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	sub->feed = feed;
	sub->agent_scope = agent_scope;
	sub->cb = cb;
	sub->userdata = userdata;
	sub->seen_seq = feed->last_seq;
	/* Appended at the tail, so that subscribers hear events in the
	 * order they subscribed (and a running broadcast reaches it last). */
	for (tail = &feed->subs; *tail; tail = &(*tail)->next)
		sub->prev = *tail;
	*tail = sub;
	feed->nsubs++;
	*ret = sub;
	return 0;
}

void feed_unsubscribe(struct feed_sub *sub)
{
	struct feed *feed;

	if (!sub || sub->ended)
		return;
	feed = sub->feed;
	sub->ended = true;
	feed->nsubs--;
	if (feed->depth == 0)
		sweep(feed);
}

/* The gap notice: built on demand since it names the caller's since. */
static char *gap_text(const struct feed *feed, uint64_t since, size_t *len)
{
	json_t *msg;
	char *text;

	msg =
	    json_pack("{s:n,s:s,s:s,s:{s:I,s:I}}", "seq", "type", "feed.gap",
		      "epoch", feed->epoch, "data", "since", (json_int_t)since,
		      "oldest", (json_int_t)feed_oldest_seq(feed));
	if (!msg)
		return NULL;
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text)
		*len = strlen(text);
	return text;
}

/* Delivers kept events after since to sub until it ends; the count. */
static int replay_events(struct feed *feed, struct feed_sub *sub,
			 uint64_t since)
{
	int n = 0;

	for (uint64_t seq = since + 1; seq <= feed->last_seq && !sub->ended;
	     seq++) {
		const struct event *ev = find_event(feed, seq);

		if (ev && sub_may_see(sub, ev)) {
			sub_deliver(sub, ev);
			n++;
		}
	}
	return n;
}

int feed_replay(struct feed *feed, struct feed_sub *sub, uint64_t since)
{
	uint64_t oldest = feed_oldest_seq(feed);
	char *gap = NULL;
	size_t len = 0;
	int n = 0;

	if (sub->ended || since >= feed->last_seq)
		return 0;
	/* since < last_seq here, so since + 1 cannot wrap. */
	if (feed->count && since + 1 < oldest) {
		gap = gap_text(feed, since, &len);
		if (!gap)
			return -ENOMEM;
	}
	enter(feed);
	if (gap) {
		sub->cb(gap, len, sub->userdata);
		free(gap);
		n++;
		since = oldest - 1;
	}
	n += replay_events(feed, sub, since);
	leave(feed);
	return n;
}
