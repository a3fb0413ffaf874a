/* feed.h: the live event feed, a bounded ring of published events with
 * subscribers. */
#ifndef APP_FEED_H
#define APP_FEED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Pure bookkeeping: no libuv handle, no I/O, no clock. Each published event
 * is serialized once into the JSON text clients receive,
 *   {"seq":N,"type":"...","at":"2024-05-01T12:00:00.123Z","epoch":"...",
 *    "data":{...}},
 * kept in the ring (the oldest is evicted when it is full) and handed to
 * every subscriber allowed to see it. seq starts at 1 and grows by one per
 * stored event; the epoch names the process start, so that a client that
 * sees a new epoch knows the numbering started over.
 */

struct feed;     /* opaque */
struct feed_sub; /* opaque; owned by the feed */

/* Events kept when feed_new is given a capacity of 0. */
#define FEED_DEFAULT_CAPACITY 4096
/* The largest capacity feed_new accepts (it comes from configuration). */
#define FEED_MAX_CAPACITY (1024 * 1024)
/* The largest event text, in bytes without the terminating NUL. */
#define FEED_MAX_EVENT (16 * 1024)

/*
 * Receives one event: text is NUL-terminated compact JSON of len bytes,
 * borrowed for the duration of the call only (copy it to keep it).
 * Runs once per event delivered to the subscription, never after
 * feed_unsubscribe has returned for it.
 */
typedef void (*feed_deliver_cb)(const char *text, size_t len, void *userdata);

/* Creates a feed keeping the last capacity events (0: FEED_DEFAULT_CAPACITY)
 * under epoch (copied). Returns 0 and sets *ret, -EINVAL (NULL epoch or
 * capacity above FEED_MAX_CAPACITY) or -ENOMEM. */
int feed_new(size_t capacity, const char *epoch, struct feed **ret);

/* Frees the feed, its events and every remaining subscription (their
 * callbacks do not run). Must not be called from a delivery callback.
 * NULL is a no-op. */
void feed_free(struct feed *feed);

/*
 * Publishes one event of type (borrowed, not empty) that happened at at_us
 * (wall clock, microseconds since the epoch). agent_id names the agent it is
 * about (0: none); agents_see false hides it from agent-scoped subscribers
 * even when agent_id matches (queue.stats). data is a JSON object, stolen in
 * every case, also on failure, so that callers may pass json_pack() directly.
 *
 * On success the event is stored, *ret_seq (may be NULL) gets its seq, and
 * every matching subscriber's callback runs before this returns. When called
 * from inside a delivery callback, the event is stored and numbered at once
 * but delivered after the event being delivered has reached every
 * subscriber, so that each subscriber sees seq in increasing order.
 *
 * Returns 0, -EINVAL (NULL or empty type, data NULL or not an object, at_us
 * out of range), -E2BIG (the text exceeds FEED_MAX_EVENT; nothing is stored
 * and no seq is used) or -ENOMEM.
 */
int feed_publish(struct feed *feed, const char *type, int64_t agent_id,
		 bool agents_see, int64_t at_us, json_t *data,
		 uint64_t *ret_seq);

/*
 * Subscribes cb to events published from now on. agent_scope 0 sees every
 * event; an agent id sees only events whose agent_id is that id and whose
 * agents_see is true. Returns 0 and sets *ret, -EINVAL (NULL cb) or -ENOMEM.
 * May be called from a delivery callback.
 */
int feed_subscribe(struct feed *feed, int64_t agent_scope, feed_deliver_cb cb,
		   void *userdata, struct feed_sub **ret);

/* Ends a subscription: its callback never runs again. Safe from inside any
 * delivery callback, for this subscription or another one. NULL is a
 * no-op. */
void feed_unsubscribe(struct feed_sub *sub);

/*
 * Delivers to sub, oldest first, every buffered event with seq > since that
 * it may see. When events it asks for were already evicted (since + 1 is
 * older than the oldest kept event), it first gets one
 *   {"seq":null,"type":"feed.gap","epoch":"...",
 *    "data":{"since":N,"oldest":<oldest kept seq>}}
 * and then the whole buffer. since at or past the last seq delivers nothing.
 * Live events already delivered to sub are not delivered to it again by
 * feed_publish afterwards. Stops early if sub is unsubscribed by its
 * callback. Returns the number of messages delivered (the gap message
 * included) or -ENOMEM (nothing delivered).
 */
int feed_replay(struct feed *feed, struct feed_sub *sub, uint64_t since);

/* The seq of the last stored event; 0 before the first. */
uint64_t feed_last_seq(const struct feed *feed);

/* The seq of the oldest kept event; 0 when the feed is empty. */
uint64_t feed_oldest_seq(const struct feed *feed);

/* Events currently kept. */
size_t feed_count(const struct feed *feed);

/* Live subscriptions (ended ones not counted). */
size_t feed_subscribers(const struct feed *feed);

#endif /* APP_FEED_H */
