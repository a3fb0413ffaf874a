/* events.c: the ARI events WebSocket over libwebsockets on a foreign uv
 * loop. */
#include "ari/events.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ari/status.h"
#include "lwsuv/log.h"
#include "lwsuv/reaper.h"
#include "lwsuv/txq.h"
#include "util/buf.h"
#include "util/log.h"

#define DEFAULT_PING_INTERVAL_S 10u
#define DEFAULT_PONG_TIMEOUT_S 25u
#define DEFAULT_CONNECT_TIMEOUT_S 5u
/* lws sizes its per-thread fd table from this; we need two sockets during
 * make-before-break, one retiring socket and lws's own event pipe. */
#define EVENTS_FD_LIMIT 16u
/* Caps on strings built from the configuration. */
#define EVENTS_MAX_PATH 1024u
#define EVENTS_MAX_CREDENTIALS 512u
/* A reassembly buffer that grew past this is released after its message,
 * so one large event does not pin a megabyte for the socket's lifetime. */
#define EVENTS_RX_KEEP (64u * 1024u)

enum conn_state {
	CONN_CONNECTING,
	CONN_OPEN,
	CONN_RETIRED, /* replaced by a newer socket, closing quietly */
};

/* One socket. It lives from ari_events_connect() until lws reports the
 * socket's end, or until the context is gone. */
struct conn {
	struct ari_events *ev;
	struct conn *next; /* in ev->conns */
	struct lws *wsi;
	enum conn_state state;
	int error; /* why we are killing it, reported instead of lws's view */
	bool tcp_connected;
	bool want_ping;
	lws_sorted_usec_list_t sul; /* connect timeout, then keepalive */
	uint64_t last_rx_ms;

	char *rx;
	size_t rx_len, rx_cap, rx_seen;
	bool in_message, dropping;

	struct lwsuv_txq tx;
};

struct ari_events {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct ari_events_callbacks cbs;
	void *userdata;

	char *host;
	char *host_header;
	char *path;
	char *auth; /* "Basic <base64 of user:password>" */
	int port;
	size_t max_message;
	uint64_t ping_ms, pong_ms, connect_ms;

	struct conn *conns;
	struct conn *cur;     /* established and current */
	struct conn *pending; /* connecting */

	/* A failure reported by lws inside lws_client_connect_via_info() is
	 * returned by ari_events_connect() rather than sent to closed. */
	bool in_connect;
	int sync_error;

	bool closing;
	struct lwsuv_reaper reaper;
};

/* ---- connections ---- */

static struct conn *conn_new(struct ari_events *ev)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ev = ev;
	c->state = CONN_CONNECTING;
	c->next = ev->conns;
	ev->conns = c;
	return c;
}

/* Frees c without touching its wsi, which lws may already have freed. */
static void conn_free(struct conn *c)
{
	struct ari_events *ev = c->ev;
	struct conn **pp;

	for (pp = &ev->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (ev->cur == c)
		ev->cur = NULL;
	if (ev->pending == c)
		ev->pending = NULL;
	/* A detached sul is left alone, so this is safe after close too. */
	lws_sul_cancel(&c->sul);
	lwsuv_txq_clear(&c->tx);
	free(c->rx);
	free(c);
}

static void conn_schedule(struct conn *c, uint64_t ms, sul_cb_t cb)
{
	if (c->ev->closing)
		return;
	lws_sul_schedule(c->ev->ctx, 0, &c->sul, cb,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

/* Hangs up a socket from outside its callbacks; lws then reports it
 * through CLIENT_CONNECTION_ERROR or CLIENT_CLOSED, where error is used. */
static void conn_kill(struct conn *c, int error)
{
	c->error = error;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The end of a socket as lws reports it: exactly once per socket. */
static void conn_end(struct conn *c, struct lws *wsi, int error)
{
	struct ari_events *ev = c->ev;
	bool report = c->state != CONN_RETIRED && !ev->closing;
	bool sync = ev->in_connect && c == ev->pending;

	lws_set_opaque_user_data(wsi, NULL);
	conn_free(c);
	log_debug("ari events: socket ended error=%d", error);
	if (sync)
		ev->sync_error = error;
	else if (report)
		ev->cbs.closed(ev, error, ev->userdata);
}

static void connect_timeout_fire(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);

	if (c->state == CONN_CONNECTING)
		conn_kill(c, -ETIMEDOUT);
}

/* The replacement of a silent socket did not make it in time. */
static void silent_fire(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);

	if (c->state == CONN_OPEN)
		conn_kill(c, -ETIMEDOUT);
}

/*
 * Nothing came on the current socket for the pong timeout: a half-open
 * connection, most likely, that Asterisk may still take for the
 * application's. Make-before-break: a new socket is opened first (Asterisk
 * moves the application to it), and this one goes once it is established,
 * or is killed after the connect timeout.
 */
static void replace_silent(struct conn *c)
{
	struct ari_events *ev = c->ev;

	log_debug("ari events: socket silent for %llu ms, replacing it",
		  (unsigned long long)ev->pong_ms);
	if (ev->cur != c || ev->pending || ari_events_connect(ev) < 0) {
		conn_kill(c, -ETIMEDOUT);
		return;
	}
	conn_schedule(c, ev->connect_ms, silent_fire);
}

/* Pings every ping interval and replaces a socket on which nothing at
 * all, pong or event, has arrived for the pong timeout. */
static void keepalive_fire(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul);
	struct ari_events *ev = c->ev;
	uint64_t silent = uv_now(ev->loop) - c->last_rx_ms;
	uint64_t next = ev->ping_ms;

	if (silent >= ev->pong_ms) {
		replace_silent(c);
		return;
	}
	c->want_ping = true;
	lws_callback_on_writable(c->wsi);
	if (ev->pong_ms - silent < next)
		next = ev->pong_ms - silent;
	conn_schedule(c, next, keepalive_fire);
}

/*
 * Closes an old socket with a close frame; nothing it says after this point
 * is delivered. The close goes through a wsi timer because lws 4.1 sends the
 * close frame set by lws_close_reason() when LWS_CALLBACK_TIMER returns
 * nonzero, whereas a nonzero return from WRITEABLE counts as a broken socket
 * and drops it without one (Asterisk then logs "closed abruptly").
 */
static void conn_retire(struct conn *c)
{
	c->state = CONN_RETIRED;
	lws_sul_cancel(&c->sul);
	lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
	lws_set_timer_usecs(c->wsi, 1);
}

/* ---- lws callback handlers ---- */

static int socket_error(struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi), error = 0;
	socklen_t len = sizeof(error);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		return 0;
	return error;
}

/* Turns lws's view of a failed connect into one negative errno. */
static int connect_errno(const struct conn *c, struct lws *wsi, const char *why,
			 size_t len)
{
	int status = (int)lws_http_client_http_response(wsi);
	int error;

	if (c->error)
		return c->error;
	if (status > 0 && status != 101) {
		error = ari_status_to_errno(status);
		return error ? error : -EPROTO;
	}
	error = socket_error(wsi);
	if (error)
		return -error;
	if (why && len >= 3 && memcmp(why, "HS:", 3) == 0)
		return -EPROTO;
	return c->tcp_connected ? -ECONNRESET : -ECONNREFUSED;
}

static void on_connect_error(struct conn *c, struct lws *wsi, const char *why,
			     size_t len)
{
	int error = connect_errno(c, wsi, why, len);

	log_debug("ari events: connect failed error=%d why=%.*s", error,
		  why ? (int)len : 0, why ? why : "");
	conn_end(c, wsi, error);
}

static int on_append_header(struct conn *c, struct lws *wsi, void *in,
			    size_t len)
{
	unsigned char **p = in, *end = *p + len;
	const char *auth = c->ev->auth;

	c->tcp_connected = true;
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
					 (const unsigned char *)auth,
					 (int)strlen(auth), p, end))
		return -1;
	return 0;
}

static void on_established(struct conn *c, struct lws *wsi)
{
	struct ari_events *ev = c->ev;
	struct conn *old = ev->cur;

	c->wsi = wsi;
	c->state = CONN_OPEN;
	c->last_rx_ms = uv_now(ev->loop);
	lws_sul_cancel(&c->sul);
	conn_schedule(c, ev->ping_ms, keepalive_fire);
	ev->cur = c;
	if (ev->pending == c)
		ev->pending = NULL;
	if (old && old != c)
		conn_retire(old);
	log_debug("ari events: socket established replaced=%d", old != NULL);
	if (!ev->closing)
		ev->cbs.opened(ev, ev->userdata);
}

/* Appends to the reassembly buffer, keeping room for a final NUL; fails
 * once the message passes the cap. */
static int rx_append(struct conn *c, const void *data, size_t len)
{
	return buf_append(&c->rx, &c->rx_len, &c->rx_cap, data, len,
			  c->ev->max_message);
}

/* True for the ApplicationReplaced that our own pending socket causes on
 * the current one: it is an artifact of make-before-break, not news. The
 * parse only happens while a new socket is on its way. */
static bool is_our_replacement(const struct conn *c)
{
	json_t *msg, *type;
	bool ours;

	if (c->ev->pending == NULL || c->ev->cur != c ||
	    !strstr(c->rx, "ApplicationReplaced"))
		return false;
	msg = json_loadb(c->rx, c->rx_len, 0, NULL);
	type = json_object_get(msg, "type");
	ours = json_is_string(type) &&
	       strcmp(json_string_value(type), "ApplicationReplaced") == 0;
	json_decref(msg);
	return ours;
}

static void deliver(struct conn *c)
{
	struct ari_events *ev = c->ev;

	if (c->dropping) {
		log_debug("ari events: oversized message dropped len=%zu",
			  c->rx_seen);
		if (ev->cbs.oversized && !ev->closing)
			ev->cbs.oversized(ev, c->rx_seen, ev->userdata);
	} else if (c->rx_len == 0) {
		if (!ev->closing)
			ev->cbs.message(ev, "", 0, ev->userdata);
	} else {
		c->rx[c->rx_len] = '\0';
		/* The raw event, for recording traces (test/data/calls/). */
		log_debug("ari events: rx %.*s", (int)c->rx_len, c->rx);
		if (!ev->closing && !is_our_replacement(c))
			ev->cbs.message(ev, c->rx, c->rx_len, ev->userdata);
	}
	if (c->rx_cap > EVENTS_RX_KEEP) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* lws hands a message over in pieces: per frame, and per read within a
 * frame. A message starts whenever none is in progress and ends at the
 * final fragment with no payload left. */
static void on_receive(struct conn *c, struct lws *wsi, const void *in,
		       size_t len)
{
	c->last_rx_ms = uv_now(c->ev->loop);
	if (c->state != CONN_OPEN)
		return;
	if (!c->in_message || lws_is_first_fragment(wsi)) {
		c->in_message = true;
		c->rx_len = 0;
		c->rx_seen = 0;
		c->dropping = false;
	}
	c->rx_seen += len;
	if (!c->dropping && rx_append(c, in, len) < 0) {
		c->dropping = true;
		c->rx_len = 0;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return;
	c->in_message = false;
	deliver(c);
}

static int write_next(struct conn *c, struct lws *wsi)
{
	unsigned char ping[LWS_PRE + 1];
	int n;

	if (c->want_ping) {
		c->want_ping = false;
		n = lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING);
		return n < 0 ? -EPIPE : 0;
	}
	n = lwsuv_txq_write_next(&c->tx, wsi);
	return n < 0 ? n : 0;
}

/* lws allows one write per WRITEABLE callback, so each one writes the ping
 * or one message and asks for another turn if more is waiting. */
static int on_writeable(struct conn *c, struct lws *wsi)
{
	int r;

	if (c->state != CONN_OPEN)
		return 0;
	r = write_next(c, wsi);
	if (r < 0) {
		c->error = r;
		return -1;
	}
	if (c->want_ping || c->tx.head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int events_callback(struct lws *wsi, enum lws_callback_reasons reason,
			   void *user, void *in, size_t len)
{
	struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;

	if (!c)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return on_append_header(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(c, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->last_rx_ms = uv_now(c->ev->loop);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_TIMER:
		return c->state == CONN_RETIRED ? -1 : 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connect_error(c, wsi, in, in ? len : 0);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		conn_end(c, wsi, c->error ? c->error : -ECONNRESET);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols events_protocols[] = {
    {"ari", events_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- public API ---- */

int ari_events_connect(struct ari_events *ev)
{
	struct lws_client_connect_info ci;
	struct conn *c;
	struct lws *wsi;

	if (ev->closing)
		return -ESHUTDOWN;
	if (ev->pending)
		return -EALREADY;
	c = conn_new(ev);
	if (!c)
		return -ENOMEM;
	ev->pending = c;
	memset(&ci, 0, sizeof(ci));
	ci.context = ev->ctx;
	ci.address = ev->host;
	ci.port = ev->port;
	ci.path = ev->path;
	ci.host = ev->host_header;
	ci.opaque_user_data = c;
	ev->in_connect = true;
	ev->sync_error = 0;
	wsi = lws_client_connect_via_info(&ci);
	ev->in_connect = false;
	if (ev->pending != c) /* lws already reported and we freed c */
		return ev->sync_error ? ev->sync_error : -EIO;
	if (!wsi) {
		conn_free(c);
		return -EIO;
	}
	c->wsi = wsi;
	conn_schedule(c, ev->connect_ms, connect_timeout_fire);
	/* lws re-arms its uv timer only after servicing something, and a
	 * timer entry added from outside its callbacks may otherwise wait for
	 * unrelated traffic: wake it. */
	lws_cancel_service(ev->ctx);
	return 0;
}

bool ari_events_connected(const struct ari_events *ev)
{
	return ev->cur != NULL;
}

/*
 * Whether a message queued just now may be written at once rather than
 * from the next WRITEABLE callback: the socket is open, nothing else waits
 * (order), and lws holds no partial write of an earlier one. A socket
 * that takes less than the whole message is no reason to wait: lws keeps
 * the rest and sends it once the socket is writable (lws_issue_raw()), so
 * this asks no poll(2) of the kernel, where lws_send_pipe_choked() would,
 * once per request. Writing at once saves a turn of the loop and two
 * epoll_ctl calls per request.
 */
static bool can_write_now(struct conn *c)
{
	return c->state == CONN_OPEN && !c->want_ping && c->tx.head &&
	       !c->tx.head->next && !lws_partial_buffered(c->wsi);
}

int ari_events_send(struct ari_events *ev, const char *data, size_t len)
{
	struct conn *c = ev->cur;
	int r;

	if (!c || ev->closing)
		return -ENOTCONN;
	if (len > ARI_EVENTS_MAX_SEND)
		return -EMSGSIZE;
	if (c->tx.bytes + len > ARI_EVENTS_MAX_SEND_QUEUE)
		return -ENOBUFS;
	r = lwsuv_txq_push(&c->tx, data, len);
	if (r < 0)
		return r;
	if (!can_write_now(c)) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	/* A failed write leaves the socket to lws, which closes it. */
	return lwsuv_txq_write_next(&c->tx, c->wsi) < 0 ? -EPIPE : 0;
}

/* ---- creation ---- */

static int append_urlencoded(char *out, size_t size, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'A' && ch <= 'Z') ||
			     (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~", ch);

		if (*pos + 4 > size)
			return -ENAMETOOLONG;
		if (plain) {
			out[(*pos)++] = (char)ch;
			continue;
		}
		out[(*pos)++] = '%';
		out[(*pos)++] = hex[ch >> 4];
		out[(*pos)++] = hex[ch & 15];
	}
	out[*pos] = '\0';
	return 0;
}

static int build_path(struct ari_events *ev,
		      const struct ari_events_config *cfg)
{
	char path[EVENTS_MAX_PATH];
	size_t pos;
	int n, r;

	n = snprintf(path, sizeof(path), "%s/events?app=", cfg->path_prefix);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	pos = (size_t)n;
	r = append_urlencoded(path, sizeof(path), &pos, cfg->app);
	if (r < 0)
		return r;
	n = snprintf(path + pos, sizeof(path) - pos, "&subscribeAll=false");
	if (n < 0 || (size_t)n >= sizeof(path) - pos)
		return -ENAMETOOLONG;
	ev->path = strdup(path);
	return ev->path ? 0 : -ENOMEM;
}

static int build_auth(struct ari_events *ev, const char *username,
		      const char *password)
{
	char plain[EVENTS_MAX_CREDENTIALS];
	char auth[sizeof("Basic ") + EVENTS_MAX_CREDENTIALS * 4 / 3 + 4];
	char *copy;
	int n;

	n = snprintf(plain, sizeof(plain), "%s:%s", username, password);
	if (n < 0 || (size_t)n >= sizeof(plain))
		return -ENAMETOOLONG;
	memcpy(auth, "Basic ", 6);
	if (lws_b64_encode_string(plain, n, auth + 6, (int)sizeof(auth) - 6) <
	    0)
		return -ENAMETOOLONG;
	copy = strdup(auth);
	if (!copy)
		return -ENOMEM;
	free(ev->auth);
	ev->auth = copy;
	return 0;
}

int ari_events_set_credentials(struct ari_events *ev, const char *username,
			       const char *password)
{
	return build_auth(ev, username, password);
}

static int build_host(struct ari_events *ev,
		      const struct ari_events_config *cfg)
{
	ev->host = strdup(cfg->host);
	if (!ev->host ||
	    asprintf(&ev->host_header, "%s:%d", cfg->host, cfg->port) < 0) {
		ev->host_header = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void set_limits(struct ari_events *ev,
		       const struct ari_events_config *cfg)
{
	unsigned ping = cfg->ping_interval_s ? cfg->ping_interval_s
					     : DEFAULT_PING_INTERVAL_S;
	unsigned pong =
	    cfg->pong_timeout_s ? cfg->pong_timeout_s : DEFAULT_PONG_TIMEOUT_S;
	unsigned conn = cfg->connect_timeout_s ? cfg->connect_timeout_s
					       : DEFAULT_CONNECT_TIMEOUT_S;

	ev->port = cfg->port;
	ev->max_message = cfg->max_message_bytes ? cfg->max_message_bytes
						 : ARI_EVENTS_MAX_MESSAGE;
	ev->ping_ms = (uint64_t)ping * 1000;
	ev->pong_ms = (uint64_t)pong * 1000;
	ev->connect_ms = (uint64_t)conn * 1000;
}

/*
 * A client-only context on the caller's loop. With a foreign loop the uv
 * event lib creates no signal watchers (it does so only for loops it owns),
 * so the application keeps SIGINT and SIGTERM.
 */
static int create_context(struct ari_events *ev)
{
	struct lws_context_creation_info info;
	void *loops[] = {ev->loop};

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = events_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.user = ev;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread = EVENTS_FD_LIMIT;
	ev->ctx = lws_create_context(&info);
	return ev->ctx ? 0 : -EIO;
}

static bool config_valid(const struct ari_events_config *cfg,
			 const struct ari_events_callbacks *cbs)
{
	return cfg && cbs && cfg->host && cfg->path_prefix && cfg->username &&
	       cfg->password && cfg->app && cfg->port > 0 &&
	       cfg->port < 65536 && cbs->opened && cbs->message && cbs->closed;
}

static void free_strings(struct ari_events *ev)
{
	free(ev->host);
	free(ev->host_header);
	free(ev->path);
	free(ev->auth);
}

int ari_events_new(uv_loop_t *loop, const struct ari_events_config *cfg,
		   const struct ari_events_callbacks *cbs, void *userdata,
		   struct ari_events **ret_ev)
{
	struct ari_events *ev;
	int r;

	if (!loop || !ret_ev || !config_valid(cfg, cbs))
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->loop = loop;
	ev->cbs = *cbs;
	ev->userdata = userdata;
	set_limits(ev, cfg);
	r = build_host(ev, cfg);
	if (r == 0)
		r = build_path(ev, cfg);
	if (r == 0)
		r = build_auth(ev, cfg->username, cfg->password);
	if (r < 0)
		goto err;
	lwsuv_log_route();
	r = create_context(ev);
	if (r < 0)
		goto err;
	*ret_ev = ev;
	return 0;
err:
	free_strings(ev);
	free(ev);
	return r;
}

/* ---- destruction ---- */

/* The context is gone and the reaper's handle closed: the sockets'
 * records go last, as lws's callbacks may touch them until then. */
static void on_reaped(void *arg)
{
	struct ari_events *ev = arg;

	while (ev->conns)
		conn_free(ev->conns);
	free_strings(ev);
	free(ev);
}

void ari_events_close(struct ari_events *ev)
{
	if (!ev || ev->closing)
		return;
	ev->closing = true;
	for (struct conn *c = ev->conns; c; c = c->next)
		lws_sul_cancel(&c->sul);
	lwsuv_reaper_start(&ev->reaper, ev->loop, ev->ctx, on_reaped, ev);
}
