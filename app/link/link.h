/* link.h: the daemon's ARI link: events socket, REST, reconnects and resync. */
#ifndef APP_LINK_H
#define APP_LINK_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "ari/event.h"
#include "ari/rest.h"

struct link; /* opaque */

/* Keepalive of the events socket: a ping this often, and a socket silent
 * this long (a half-open TCP connection) is replaced, make-before-break. */
#define LINK_PING_INTERVAL_S 2u
#define LINK_SILENCE_TIMEOUT_S 5u

/* The longest wait between two connects while Asterisk is away: an
 * attempt costs one TCP connect. */
#define LINK_RETRY_DOWN_MAX_MS 1000u

/* Named cap on one ARI answer, set by the largest: a stored recording
 * (8 kHz 16-bit WAV: about 2 hours). */
#define LINK_MAX_RECORDING (128u << 20)

struct link_config {
	const char *ari_url; /* http://host:port; copied */
	const char *username;
	const char *password;
	const char *app;
	/* Call control (REST requests but GETs) over the events socket
	 * while it is up (Asterisk 20.14, 21.9, 22.4+); else all HTTP. */
	bool rest_over_ws;
	/*
	 * NULL for the call-control link. Else a technology, e.g. "PJSIP":
	 * the link only watches that technology's endpoints. After each
	 * (re)connect it subscribes the application to "endpoint:<tech>",
	 * lets only EndpointStateChange through, and resyncs with GET
	 * /endpoints/<tech> (handlers.endpoints). Such an application must
	 * not be the one calls enter: an endpoint subscription also forwards
	 * every channel event of the technology's channels, and those of
	 * the application's own channels then arrive twice.
	 */
	const char *endpoints;
	/*
	 * The types handlers.event uses, n_events of them (borrowed: the
	 * array must outlive the link). The application's event filter lets
	 * only these through, with ApplicationReplaced and RESTResponse that
	 * the link uses itself: Asterisk builds the JSON of every event it
	 * sends, and a call makes ChannelVarset and bridge events by the
	 * dozen that no handler reads. NULL: every type ari/event.h decodes.
	 * An endpoints link ignores it.
	 */
	const enum ari_event_type *events;
	size_t n_events;
	unsigned backoff_min_ms; /* 0 means 500 */
	/* 0 means 30000. It bounds retries after Asterisk refused the
	 * credentials (HTTP 401); after any other failure (Asterisk down,
	 * restarting, or the connection lost) retries come at most
	 * LINK_RETRY_DOWN_MAX_MS apart, so that the link is back within a
	 * second of Asterisk. */
	unsigned backoff_max_ms;
};

struct link_handlers {
	/* One decoded event of a handled type; borrowed for the call. */
	void (*event)(const struct ari_event *ev, void *userdata);
	/*
	 * After every (re)connect, once the application, channel and bridge
	 * lists have been fetched: the owner reconciles what it believes it
	 * owns. channel_ids lists the channels in our application; channels
	 * and bridges are every one Asterisk has. All borrowed. restarted:
	 * Asterisk started again since the previous connect (its startup
	 * time changed), so whatever it held then died with it.
	 */
	void (*resync)(const json_t *channel_ids, const json_t *channels,
		       const json_t *bridges, bool restarted, void *userdata);
	/* Another connection took the application over: the owner stops. */
	void (*replaced)(void *userdata);
	/* An endpoints link's resync: the array of GET /endpoints/<tech>,
	 * borrowed, after every (re)connect once subscribed. */
	void (*endpoints)(const json_t *endpoints, void *userdata);
};

/* Creates the link (nothing connects yet). Returns 0 or a negative errno;
 * *ret_link is untouched on failure. */
int link_new(uv_loop_t *loop, const struct link_config *cfg,
	     const struct link_handlers *handlers, void *userdata,
	     struct link **ret_link);

/* Connects, and keeps reconnecting with capped backoff and jitter until
 * link_close(). Returns 0 or a negative errno. */
int link_start(struct link *link);

/* The REST side, for the features' requests; owned by the link. */
struct ari_rest *link_rest(struct link *link);

/* True while the events socket is open and the last resync finished. */
bool link_ready(const struct link *link);

/*
 * An endpoints link stops watching for good: the application's endpoint
 * subscription is removed, now if connected and after every connect, so
 * that Asterisk no longer builds the technology's events for it (each
 * call on a trunk makes two, listing all the trunk's channels).
 * handlers.endpoints still gets GET /endpoints/<tech> after each connect;
 * handlers.event gets only what Asterisk sent before the removal took. For
 * an owner that learns
 * reachability elsewhere. Returns 0, -EALREADY, or -EINVAL for a
 * call-control link.
 */
int link_unwatch(struct link *link);

/* New ARI credentials (copied): REST requests use them from now on, the
 * events socket from its next connection, so no call is dropped. Returns
 * 0 or a negative errno, the old credentials then still in place. */
int link_set_credentials(struct link *link, const char *username,
			 const char *password);

/* Reconnects since start, for metrics. */
unsigned link_reconnects(const struct link *link);

/* Closes everything; pending REST callbacks run with -ECANCELED. Memory is
 * released once the uv handles have closed. NULL is a no-op. */
void link_close(struct link *link);

#endif /* APP_LINK_H */
