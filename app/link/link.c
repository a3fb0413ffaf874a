/* link.c: keeps the ARI events socket open and the daemon's view in sync. */
#include "link/link.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ari/events.h"
#include "util/backoff.h"
#include "util/log.h"
#include "util/rand.h"

/* Cap on the event preview written to the log for a garbled event. */
#define LINK_LOG_PREVIEW 120
/* Events remembered to drop one delivered twice (by two sockets around a
 * reconnect): far more than a switch of sockets can overlap. */
#define LINK_SEEN_EVENTS 256

/* Named cap on the DELETEs of one unsubscription run (see unsubscribe()). */
#define LINK_UNSUBSCRIBE_MAX 4096u

struct link {
	uv_loop_t *loop;
	struct ari_rest *rest;
	struct ari_events *events;
	uv_timer_t retry_timer;
	struct backoff backoff;
	struct link_handlers handlers;
	void *userdata;
	char *app;
	char *endpoints;                  /* technology watched, or NULL */
	const enum ari_event_type *types; /* link_config.events, borrowed */
	size_t n_types;
	unsigned generation; /* bumped per socket, to drop stale resyncs */
	unsigned reconnects;
	char *startup_time; /* Asterisk's, as of the last resync */
	struct {
		uint64_t hash;       /* fingerprint() of a recent event */
		unsigned generation; /* of the socket that delivered it */
	} seen[LINK_SEEN_EVENTS];
	unsigned seen_next;
	bool opened_once;
	bool rest_over_ws;
	bool ready;
	bool unwatched;         /* link_unwatch(): subscribes no more */
	bool unsubscribing;     /* a DELETE of the subscription in flight */
	bool unsubscribe_again; /* and one more run wanted after it */
	unsigned unsubscribed;  /* DELETEs that removed one, this run */
	bool closing;
};

/* One resync in flight: four GETs whose replies are joined. */
struct resync {
	struct link *link;
	unsigned generation;
	int pending;
	int error;
	json_t *app;
	json_t *channels;
	json_t *bridges;
	json_t *info;
};

static bool filter_matches(const struct link *link, const json_t *allowed);
static void set_event_filter(struct link *link);
static void enable_ws(struct link *link);
static void endpoints_start(struct link *link);

/* Notes Asterisk's startup time from GET /asterisk/info; true when it
 * differs from the one noted at the previous resync: Asterisk restarted. */
static bool note_startup(struct link *link, const json_t *info)
{
	const char *t = json_string_value(
	    json_object_get(json_object_get(info, "status"), "startup_time"));
	bool restarted;
	char *copy;

	if (!t)
		return false;
	restarted = link->startup_time && strcmp(link->startup_time, t) != 0;
	if (restarted)
		log_notice("ARI Asterisk restarted since the last connect "
			   "startup=%s",
			   t);
	copy = strdup(t);
	if (copy) {
		free(link->startup_time);
		link->startup_time = copy;
	}
	return restarted;
}

static void resync_finish(struct resync *rs)
{
	struct link *link = rs->link;

	if (rs->error == -ECANCELED || link->closing)
		goto out;
	if (rs->generation != link->generation) {
		log_debug("link: stale resync dropped generation=%u",
			  rs->generation);
		goto out;
	}
	if (rs->error < 0) {
		log_warning("ARI resync failed error=%s, will retry on the "
			    "next connect, ignoring",
			    strerror(-rs->error));
		goto out;
	}
	link->ready = true;
	link->handlers.resync(json_object_get(rs->app, "channel_ids"),
			      rs->channels, rs->bridges,
			      note_startup(link, rs->info), link->userdata);
	if (!filter_matches(link, json_object_get(rs->app, "events_allowed")))
		set_event_filter(link);
	else
		enable_ws(link);
	log_info("ARI resync done channels=%zu bridges=%zu",
		 json_array_size(rs->channels), json_array_size(rs->bridges));
out:
	json_decref(rs->app);
	json_decref(rs->channels);
	json_decref(rs->bridges);
	json_decref(rs->info);
	free(rs);
}

static void resync_reply(struct resync *rs, json_t **slot,
			 const struct ari_response *resp)
{
	/* A cancel wins over any other error: it means the link may be gone,
	 * and resync_finish() must not touch it. */
	if (resp->error == -ECANCELED || (resp->error < 0 && rs->error == 0))
		rs->error = resp->error;
	else if (resp->json)
		*slot = json_incref(resp->json);
	if (--rs->pending == 0)
		resync_finish(rs);
}

static void on_app(const struct ari_response *resp, void *userdata)
{
	struct resync *rs = userdata;

	resync_reply(rs, &rs->app, resp);
}

static void on_channels(const struct ari_response *resp, void *userdata)
{
	struct resync *rs = userdata;

	resync_reply(rs, &rs->channels, resp);
}

static void on_bridges(const struct ari_response *resp, void *userdata)
{
	struct resync *rs = userdata;

	resync_reply(rs, &rs->bridges, resp);
}

/* Asterisk's startup time only tells a restart apart: without it the
 * resync goes on (an ARI that lacks it just never reports one). */
static void on_info(const struct ari_response *resp, void *userdata)
{
	struct resync *rs = userdata;
	struct ari_response none = {.error = 0};

	if (resp->error < 0 && resp->error != -ECANCELED) {
		log_debug("ARI asterisk info not read error=%s, ignoring",
			  strerror(-resp->error));
		resp = &none;
	}
	resync_reply(rs, &rs->info, resp);
}

static void resync_start(struct link *link)
{
	struct resync *rs = calloc(1, sizeof(*rs));
	char path[256];
	const struct {
		const char *path;
		ari_rest_cb cb;
	} gets[] = {
	    {path, on_app},
	    {"/channels", on_channels},
	    {"/bridges", on_bridges},
	    {"/asterisk/info?only=status", on_info},
	};

	if (!rs) {
		log_error("ARI resync: out of memory");
		return;
	}
	rs->link = link;
	rs->generation = link->generation;
	snprintf(path, sizeof(path), "/applications/%s", link->app);
	/* Count them all first: a reply can only come from the loop, never
	 * from inside ari_rest_request(), so the join cannot finish early. */
	rs->pending = (int)(sizeof(gets) / sizeof(gets[0]));
	for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		if (ari_rest_request(link->rest, "GET", gets[i].path, NULL,
				     gets[i].cb, rs) < 0) {
			rs->error = -EIO;
			rs->pending--;
		}
	}
	if (rs->pending == 0)
		resync_finish(rs);
}

/* An endpoints link's resync: subscribe first, then list, so that no change
 * falls between the two (one made while the list is read may arrive both
 * ways; the event, later, wins). */
struct endpoints_sync {
	struct link *link;
	unsigned generation;
};

static bool endpoints_current(struct endpoints_sync *es,
			      const struct ari_response *resp, const char *what)
{
	struct link *link = es->link;

	if (resp->error == -ECANCELED || link->closing)
		return false;
	if (es->generation != link->generation)
		return false;
	if (resp->error < 0) {
		log_warning("ARI %s failed app=%s error=%s http=%ld, will "
			    "retry on the next connect, ignoring",
			    what, link->app, strerror(-resp->error),
			    resp->http_status);
		return false;
	}
	return true;
}

static void on_endpoints(const struct ari_response *resp, void *userdata)
{
	struct endpoints_sync *es = userdata;
	struct link *link = es->link;

	if (endpoints_current(es, resp, "endpoint list")) {
		link->ready = true;
		if (link->handlers.endpoints)
			link->handlers.endpoints(resp->json, link->userdata);
		log_info("ARI endpoints resync done app=%s endpoints=%zu",
			 link->app, json_array_size(resp->json));
	}
	free(es);
}

static void list_endpoints(struct endpoints_sync *es)
{
	struct link *link = es->link;
	char path[128];

	snprintf(path, sizeof(path), "/endpoints/%s", link->endpoints);
	if (ari_rest_request(link->rest, "GET", path, NULL, on_endpoints, es) <
	    0) {
		log_warning("ARI endpoint list not sent, ignoring");
		free(es);
	}
}

static void unsubscribe(struct link *link);

static void on_subscribed(const struct ari_response *resp, void *userdata)
{
	struct endpoints_sync *es = userdata;
	struct link *link = es->link;

	if (!endpoints_current(es, resp, "endpoint subscription")) {
		free(es);
		return;
	}
	if (link->unwatched)
		unsubscribe(link);
	else if (!filter_matches(link,
				 json_object_get(resp->json, "events_allowed")))
		set_event_filter(link);
	list_endpoints(es);
}

static void subscription_path(const struct link *link, char *path, size_t size)
{
	snprintf(path, size,
		 "/applications/%s/subscription?eventSource=endpoint%%3A%s",
		 link->app, link->endpoints);
}

static void on_unsubscribed(const struct ari_response *resp, void *userdata)
{
	struct link *link = userdata;
	bool again = link->unsubscribe_again;

	if (resp->error == -ECANCELED)
		return;
	link->unsubscribing = false;
	link->unsubscribe_again = false;
	if (resp->error == 0) {
		/* One subscription fewer: there may be more. */
		if (++link->unsubscribed < LINK_UNSUBSCRIBE_MAX) {
			unsubscribe(link);
			return;
		}
		log_warning("ARI endpoint subscriptions of app=%s not all "
			    "removed after %u, ignoring",
			    link->app, link->unsubscribed);
	} else if (resp->http_status != 409 && resp->http_status != 422) {
		log_warning("ARI endpoint unsubscription failed app=%s "
			    "error=%s http=%ld, will retry on the next "
			    "connect, ignoring",
			    link->app, strerror(-resp->error),
			    resp->http_status);
	} else if (again) {
		unsubscribe(link);
		return;
	} else {
		log_info("ARI endpoints no longer watched app=%s removed=%u",
			 link->app, link->unsubscribed);
	}
	link->unsubscribed = 0;
}

/*
 * Asterisk counts an application's subscriptions to a source, one per
 * POST (every connect of a watching link makes one, and they outlive the
 * socket and the process that made them), and stops forwarding once as
 * many DELETEs came: so DELETE is sent until it answers that nothing is
 * subscribed (422 from Asterisk 22, 409 in ARI's description). One at a
 * time; a call while one is in flight makes the run go on past that
 * answer, for a subscription made meanwhile.
 */
static void unsubscribe(struct link *link)
{
	char path[512];

	if (link->unsubscribing) {
		link->unsubscribe_again = true;
		return;
	}
	subscription_path(link, path, sizeof(path));
	if (ari_rest_request(link->rest, "DELETE", path, NULL, on_unsubscribed,
			     link) < 0) {
		log_warning("ARI endpoint unsubscription not sent, ignoring");
		return;
	}
	link->unsubscribing = true;
}

static void endpoints_start(struct link *link)
{
	struct endpoints_sync *es = malloc(sizeof(*es));
	char path[512];

	if (!es) {
		log_error("ARI endpoints resync: out of memory");
		return;
	}
	*es = (struct endpoints_sync){link, link->generation};
	if (link->unwatched) {
		unsubscribe(link);
		list_endpoints(es);
		return;
	}
	subscription_path(link, path, sizeof(path));
	if (ari_rest_request(link->rest, "POST", path, NULL, on_subscribed,
			     es) < 0) {
		log_warning("ARI endpoint subscription not sent, ignoring");
		free(es);
	}
}

int link_unwatch(struct link *link)
{
	if (!link->endpoints)
		return -EINVAL;
	if (link->unwatched)
		return -EALREADY;
	link->unwatched = true;
	if (ari_events_connected(link->events))
		unsubscribe(link);
	return 0;
}

static void retry_now(uv_timer_t *timer)
{
	struct link *link = timer->data;
	int r = ari_events_connect(link->events);

	if (r < 0 && r != -EALREADY)
		log_warning("ARI connect failed to start error=%s, ignoring",
			    strerror(-r));
}

static void schedule_retry(struct link *link, int error)
{
	uint32_t rnd = (uint32_t)rand_u64();
	uint32_t delay = backoff_next(&link->backoff, rnd);

	/* Refused credentials stay refused until someone fixes them; any
	 * other failure ends when Asterisk is back, which the link should
	 * notice at once: calls to Stasis() fail while it is away. */
	if (error != -EACCES && delay > LINK_RETRY_DOWN_MAX_MS)
		delay = LINK_RETRY_DOWN_MAX_MS / 2 +
			rnd % (LINK_RETRY_DOWN_MAX_MS / 2 + 1);

	log_info("ARI reconnect in %ums attempt=%u", delay,
		 link->backoff.attempt);
	uv_timer_start(&link->retry_timer, retry_now, delay, 0);
}

static int ws_send(const char *text, size_t len, void *userdata)
{
	struct link *link = userdata;

	return ari_events_send(link->events, text, len);
}

/* Call control goes over the events socket once the application's filter
 * lets the answers (RESTResponse) through. */
static void enable_ws(struct link *link)
{
	if (link->rest_over_ws && ari_events_connected(link->events))
		ari_rest_set_ws(link->rest, ws_send, link);
}

static void on_filter_set(const struct ari_response *resp, void *userdata)
{
	if (resp->error == -ECANCELED)
		return;
	if (resp->error < 0)
		log_warning(
		    "ARI event filter not set error=%s http=%ld, ignoring",
		    strerror(-resp->error), resp->http_status);
	else
		enable_ws(userdata);
}

/* True for the types the application's filter lets through. */
static bool wanted(const struct link *link, enum ari_event_type type)
{
	if (link->endpoints)
		return type == ARI_EVENT_ENDPOINT_STATE_CHANGE;
	if (type == ARI_EVENT_APPLICATION_REPLACED ||
	    type == ARI_EVENT_REST_RESPONSE || !link->types)
		return true;
	for (size_t i = 0; i < link->n_types; i++)
		if (link->types[i] == type)
			return true;
	return false;
}

static size_t wanted_count(const struct link *link)
{
	size_t n = 0;

	for (int t = ARI_EVENT_UNKNOWN + 1; t < ARI_EVENT__COUNT; t++)
		n += wanted(link, (enum ari_event_type)t);
	return n;
}

/* True when the application already allows exactly the types we want
 * (an earlier process set them, and Asterisk kept the application). */
static bool filter_matches(const struct link *link, const json_t *allowed)
{
	size_t i;
	json_t *f;

	if (json_array_size(allowed) != wanted_count(link))
		return false;
	json_array_foreach(allowed, i, f)
	{
		enum ari_event_type t = ari_event_type_from_name(
		    json_string_value(json_object_get(f, "type")));
		if (t == ARI_EVENT_UNKNOWN || !wanted(link, t))
			return false;
	}
	return true;
}

/* Asterisk serializes every event it sends, and we parse every one we
 * receive: ask for only the types wanted. It is set after the resync,
 * never while another request reads the application, and only when it
 * differs: Asterisk 22 has been seen answering 500 to GET
 * /applications/{app} when the filter changed under an application that
 * still held channels. */
static void set_event_filter(struct link *link)
{
	json_t *allowed = json_array();
	json_t *body = json_pack("{s:o}", "allowed", allowed);
	char path[256];

	for (int t = ARI_EVENT_UNKNOWN + 1; t < ARI_EVENT__COUNT; t++) {
		if (!wanted(link, (enum ari_event_type)t))
			continue;
		json_array_append_new(
		    allowed,
		    json_pack("{s:s}", "type",
			      ari_event_type_name((enum ari_event_type)t)));
	}
	snprintf(path, sizeof(path), "/applications/%s/eventFilter", link->app);
	if (ari_rest_request(link->rest, "PUT", path, body, on_filter_set,
			     link) < 0)
		log_warning("ARI event filter not sent, ignoring");
	json_decref(body);
}

static void on_opened(struct ari_events *ev, void *userdata)
{
	struct link *link = userdata;

	/* Answers to what went over an older socket will not come; the new
	 * one carries call control once the resync has checked the filter. */
	if (link->rest_over_ws)
		ari_rest_set_ws(link->rest, NULL, NULL);

	link->generation++;
	if (link->opened_once)
		link->reconnects++;
	link->opened_once = true;
	backoff_reset(&link->backoff);
	log_notice("ARI connected app=%s reconnects=%u", link->app,
		   link->reconnects);
	if (link->endpoints)
		endpoints_start(link);
	else
		resync_start(link);
}

static void on_closed(struct ari_events *ev, int error, void *userdata)
{
	struct link *link = userdata;

	link->ready = false;
	link->generation++;
	if (link->rest_over_ws && !ari_events_connected(ev))
		ari_rest_set_ws(link->rest, NULL, NULL);
	if (error == -EACCES)
		log_error("ARI refused the credentials (HTTP 401): check "
			  "ARI_USERNAME and ARI_PASSWORD against ari.conf");
	else
		log_warning("ARI events socket down error=%s",
			    strerror(-error));
	schedule_retry(link, error);
}

static void on_oversized(struct ari_events *ev, size_t len, void *userdata)
{
	log_warning("ARI event of %zu bytes over the cap of %u, ignoring", len,
		    ARI_EVENTS_MAX_MESSAGE);
}

/* FNV-1a over the event's text, which holds its time and ids. */
static uint64_t fingerprint(const char *data, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)data[i]) * 0x100000001b3ull;
	return h;
}

/* True when an older socket delivered this event already (sockets
 * overlap around a reconnect); else remembers it. The same text on one
 * socket is left alone: two events may read alike within a millisecond. */
static bool seen_before(struct link *link, const char *data, size_t len)
{
	uint64_t h = fingerprint(data, len);

	for (unsigned i = 0; i < LINK_SEEN_EVENTS; i++)
		if (link->seen[i].hash == h &&
		    link->seen[i].generation != link->generation)
			return true;
	link->seen[link->seen_next].hash = h;
	link->seen[link->seen_next].generation = link->generation;
	link->seen_next = (link->seen_next + 1) % LINK_SEEN_EVENTS;
	return false;
}

static void on_message(struct ari_events *events, const char *data, size_t len,
		       void *userdata)
{
	struct link *link = userdata;
	struct ari_event ev;

	if (ari_event_parse(data, len, &ev) < 0) {
		log_warning(
		    "garbled ARI event len=%zu start=\"%.*s\", ignoring", len,
		    (int)(len < LINK_LOG_PREVIEW ? len : LINK_LOG_PREVIEW),
		    data);
		return;
	}
	if (ev.type == ARI_EVENT_REST_RESPONSE) {
		if (!ari_rest_ws_answer(link->rest, &ev))
			log_debug("ARI RESTResponse for no request of ours");
	} else if (ev.type == ARI_EVENT_UNKNOWN) {
		log_debug("ARI event type=%s skipped", ev.type_name);
	} else if (ev.type == ARI_EVENT_APPLICATION_REPLACED) {
		log_warning(
		    "ARI application app=%s replaced by another connection",
		    link->app);
		link->ready = false;
		if (link->handlers.replaced)
			link->handlers.replaced(link->userdata);
	} else if (seen_before(link, data, len)) {
		log_warning("ARI event type=%s delivered twice, ignoring",
			    ev.type_name);
	} else {
		link->handlers.event(&ev, link->userdata);
	}
	ari_event_clear(&ev);
}

static const struct ari_events_callbacks events_callbacks = {
    .opened = on_opened,
    .message = on_message,
    .oversized = on_oversized,
    .closed = on_closed,
};

/* Splits http://host:port into the two halves of ARI. */
static int parse_url(const char *url, char **ret_host, long *ret_port)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		CURLUE_OK) {
		*ret_host = strdup(host);
		*ret_port = strtol(port, NULL, 10);
		r = *ret_host ? 0 : -ENOMEM;
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

static int open_ari(struct link *link, const struct link_config *cfg)
{
	struct ari_rest_config rc = {0};
	struct ari_events_config ec = {0};
	char base[1024];
	char *host = NULL;
	long port = 0;
	int r;

	snprintf(base, sizeof(base), "%s/ari", cfg->ari_url);
	rc.base_url = base;
	rc.username = cfg->username;
	rc.password = cfg->password;
	/* Stored recordings come through this client for the API. */
	rc.max_response_bytes = LINK_MAX_RECORDING;
	r = ari_rest_new(link->loop, &rc, &link->rest);
	if (r < 0)
		return r;
	r = parse_url(cfg->ari_url, &host, &port);
	if (r < 0)
		return r;
	ec.host = host;
	ec.port = (int)port;
	ec.path_prefix = "/ari";
	ec.username = cfg->username;
	ec.password = cfg->password;
	ec.app = cfg->app;
	ec.ping_interval_s = LINK_PING_INTERVAL_S;
	ec.pong_timeout_s = LINK_SILENCE_TIMEOUT_S;
	r = ari_events_new(link->loop, &ec, &events_callbacks, link,
			   &link->events);
	free(host);
	return r;
}

int link_new(uv_loop_t *loop, const struct link_config *cfg,
	     const struct link_handlers *handlers, void *userdata,
	     struct link **ret_link)
{
	struct link *link = calloc(1, sizeof(*link));
	int r = -ENOMEM;

	if (!link)
		return -ENOMEM;
	link->loop = loop;
	link->handlers = *handlers;
	link->userdata = userdata;
	link->app = strdup(cfg->app);
	link->endpoints = cfg->endpoints ? strdup(cfg->endpoints) : NULL;
	link->rest_over_ws = cfg->rest_over_ws && !cfg->endpoints;
	link->types = cfg->events;
	link->n_types = cfg->n_events;
	if (!link->app || (cfg->endpoints && !link->endpoints))
		goto err;
	backoff_init(&link->backoff,
		     cfg->backoff_min_ms ? cfg->backoff_min_ms : 500,
		     cfg->backoff_max_ms ? cfg->backoff_max_ms : 30000);
	r = open_ari(link, cfg);
	if (r < 0)
		goto err;
	uv_timer_init(loop, &link->retry_timer);
	link->retry_timer.data = link;
	*ret_link = link;
	return 0;
err:
	ari_events_close(link->events);
	ari_rest_close(link->rest);
	free(link->app);
	free(link->endpoints);
	free(link);
	return r;
}

int link_start(struct link *link)
{
	return ari_events_connect(link->events);
}

struct ari_rest *link_rest(struct link *link)
{
	return link->rest;
}

bool link_ready(const struct link *link)
{
	return link->ready;
}

unsigned link_reconnects(const struct link *link)
{
	return link->reconnects;
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct link *link = handle->data;

	free(link->app);
	free(link->endpoints);
	free(link->startup_time);
	free(link);
}

void link_close(struct link *link)
{
	if (!link)
		return;
	link->closing = true;
	ari_events_close(link->events);
	ari_rest_close(link->rest);
	uv_close((uv_handle_t *)&link->retry_timer, on_timer_closed);
}

int link_set_credentials(struct link *link, const char *username,
			 const char *password)
{
	int r = ari_events_set_credentials(link->events, username, password);

	if (r == 0)
		r = ari_rest_set_credentials(link->rest, username, password);
	return r;
}
