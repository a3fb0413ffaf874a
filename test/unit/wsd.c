/* wsd.c: a fake ARI events WebSocket server for fault injection in tests. */
#include "wsd.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwsuv/reaper.h"

/* Caps on what a test peer may send us; the client under test is trusted
 * but a wrong value should fail a check, not overflow a buffer. */
#define WSD_MAX_AUTH 512
#define WSD_MAX_APP 128
#define WSD_MAX_CREDENTIALS 256
#define WSD_FD_LIMIT 32

struct wsd_frame {
	struct wsd_frame *next;
	size_t len;
	int flags;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then len bytes */
};

struct wsd_session {
	struct wsd *wsd;
	struct lws *wsi;
	struct wsd_session *next;
	struct wsd_frame *head, *tail;
	bool closing;
	char app[WSD_MAX_APP];
};

struct wsd {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lwsuv_reaper reaper;
	bool reject;
	bool deaf;
	int port;
	unsigned established, open, rejected, replaced, received, peer_closes;
	struct wsd_session *sessions; /* newest first */
	char expected_auth[WSD_MAX_AUTH];
};

static struct wsd *wsd_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static int queue_frame(struct wsd_session *s, const char *data, size_t len,
		       int flags)
{
	struct wsd_frame *f = malloc(sizeof(*f) + LWS_PRE + len);

	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->len = len;
	f->flags = flags;
	memcpy(f->buf + LWS_PRE, data, len);
	if (s->tail)
		s->tail->next = f;
	else
		s->head = f;
	s->tail = f;
	lws_callback_on_writable(s->wsi);
	return 0;
}

static int frame_flags(unsigned i, unsigned n)
{
	int flags = i == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;

	if (i + 1 < n)
		flags |= LWS_WRITE_NO_FIN;
	return flags;
}

int wsd_send(struct wsd *wsd, const char *data, size_t len, unsigned fragments)
{
	struct wsd_session *s = wsd->sessions;
	size_t chunk, off = 0;
	int r;

	if (!s)
		return -ENOTCONN;
	if (fragments == 0 || fragments > len + 1)
		return -EINVAL;
	chunk = len / fragments;
	for (unsigned i = 0; i < fragments; i++) {
		size_t n = i + 1 == fragments ? len - off : chunk;

		r = queue_frame(s, data + off, n, frame_flags(i, fragments));
		if (r < 0)
			return r;
		off += n;
	}
	return 0;
}

int wsd_close_newest(struct wsd *wsd, bool graceful)
{
	struct wsd_session *s = wsd->sessions;

	if (!s)
		return -ENOTCONN;
	s->closing = true;
	if (graceful) {
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_GOINGAWAY, NULL, 0);
		lws_set_timer_usecs(s->wsi, 1);
		/* Wakes lws so that it arms its timer for the new entry. */
		lws_cancel_service(wsd->ctx);
	} else {
		lws_callback_on_writable(s->wsi);
	}
	return 0;
}

void wsd_set_reject(struct wsd *wsd, bool reject)
{
	wsd->reject = reject;
}

void wsd_set_deaf(struct wsd *wsd, bool deaf)
{
	wsd->deaf = deaf;
	for (struct wsd_session *s = wsd->sessions; s; s = s->next)
		lws_rx_flow_control(s->wsi, deaf ? 0 : 1);
}

int wsd_port(const struct wsd *wsd)
{
	return wsd->port;
}

unsigned wsd_established(const struct wsd *wsd)
{
	return wsd->established;
}

unsigned wsd_open(const struct wsd *wsd)
{
	return wsd->open;
}

unsigned wsd_rejected(const struct wsd *wsd)
{
	return wsd->rejected;
}

unsigned wsd_replaced(const struct wsd *wsd)
{
	return wsd->replaced;
}

unsigned wsd_received(const struct wsd *wsd)
{
	return wsd->received;
}

unsigned wsd_peer_closes(const struct wsd *wsd)
{
	return wsd->peer_closes;
}

/* Answers 401 unless the request carries the expected Basic credentials;
 * returns what LWS_CALLBACK_HTTP_CONFIRM_UPGRADE expects. */
static int confirm_upgrade(struct lws *wsi)
{
	struct wsd *wsd = wsd_of(wsi);
	char auth[WSD_MAX_AUTH];
	int n =
	    lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);

	if (!wsd->reject && n > 0 && strcmp(auth, wsd->expected_auth) == 0)
		return 0;
	wsd->rejected++;
	if (lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL))
		return -1;
	return 1;
}

/* Emulates Asterisk: a newer socket for an app replaces the older ones. */
static void replace_older(struct wsd_session *newest)
{
	static const char msg[] =
	    "{\"type\":\"ApplicationReplaced\",\"application\":\"welcomedly\"}";

	for (struct wsd_session *s = newest->next; s; s = s->next) {
		if (strcmp(s->app, newest->app) != 0 || s->closing)
			continue;
		if (queue_frame(s, msg, sizeof(msg) - 1, LWS_WRITE_TEXT) == 0)
			newest->wsd->replaced++;
	}
}

static void session_open(struct wsd_session *s, struct lws *wsi)
{
	struct wsd *wsd = wsd_of(wsi);

	memset(s, 0, sizeof(*s));
	s->wsd = wsd;
	s->wsi = wsi;
	if (!lws_get_urlarg_by_name(wsi, "app=", s->app, sizeof(s->app)))
		s->app[0] = '\0';
	s->next = wsd->sessions;
	wsd->sessions = s;
	wsd->established++;
	wsd->open++;
	if (wsd->deaf)
		lws_rx_flow_control(wsi, 0);
	replace_older(s);
}

static void session_closed(struct wsd_session *s)
{
	struct wsd_session **pp;

	if (!s->wsd)
		return;
	for (pp = &s->wsd->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	while (s->head) {
		struct wsd_frame *f = s->head;

		s->head = f->next;
		free(f);
	}
	s->wsd->open--;
	s->wsd = NULL;
}

/* lws 4.1 drops a socket without a close frame when WRITEABLE returns
 * nonzero (the abrupt close), and sends the frame set by lws_close_reason()
 * when LWS_CALLBACK_TIMER does (the graceful one). */
static int session_writeable(struct wsd_session *s)
{
	struct wsd_frame *f = s->head;
	int n;

	if (s->closing)
		return -1;
	if (!f)
		return 0;
	s->head = f->next;
	if (!s->head)
		s->tail = NULL;
	n = lws_write(s->wsi, f->buf + LWS_PRE, f->len,
		      (enum lws_write_protocol)f->flags);
	free(f);
	if (n < 0)
		return -1;
	if (s->head)
		lws_callback_on_writable(s->wsi);
	return 0;
}

static int wsd_callback(struct lws *wsi, enum lws_callback_reasons reason,
			void *user, void *in, size_t len)
{
	struct wsd_session *s = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		session_open(s, wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return s->wsd ? session_writeable(s) : 0;
	case LWS_CALLBACK_RECEIVE:
		if (s->wsd && lws_is_final_fragment(wsi) &&
		    !lws_remaining_packet_payload(wsi))
			s->wsd->received++;
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (!s->wsd)
			return 0;
		s->wsd->peer_closes++;
		return 0;
	case LWS_CALLBACK_TIMER:
		return s->closing ? -1 : 0;
	case LWS_CALLBACK_CLOSED:
		session_closed(s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols wsd_protocols[] = {
    {"ari", wsd_callback, sizeof(struct wsd_session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int expected_auth(struct wsd *wsd, const char *username,
			 const char *password)
{
	char plain[WSD_MAX_CREDENTIALS];
	int n = snprintf(plain, sizeof(plain), "%s:%s", username, password);

	if (n < 0 || (size_t)n >= sizeof(plain))
		return -EINVAL;
	memcpy(wsd->expected_auth, "Basic ", 6);
	if (lws_b64_encode_string(plain, n, wsd->expected_auth + 6,
				  (int)sizeof(wsd->expected_auth) - 6) < 0)
		return -EINVAL;
	return 0;
}

static int create_context(struct wsd *wsd)
{
	struct lws_context_creation_info info;
	void *loops[] = {wsd->loop};

	memset(&info, 0, sizeof(info));
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = wsd_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	info.user = wsd;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread = WSD_FD_LIMIT;
	wsd->ctx = lws_create_context(&info);
	if (!wsd->ctx)
		return -EIO;
	wsd->port = lws_get_vhost_listen_port(
	    lws_get_vhost_by_name(wsd->ctx, "default"));
	return wsd->port > 0 ? 0 : -EIO;
}

int wsd_new(uv_loop_t *loop, const char *username, const char *password,
	    struct wsd **ret_wsd)
{
	struct wsd *wsd = calloc(1, sizeof(*wsd));
	int r;

	if (!wsd)
		return -ENOMEM;
	wsd->loop = loop;
	r = expected_auth(wsd, username, password);
	if (r < 0)
		goto err;
	r = create_context(wsd);
	if (r < 0)
		goto err;
	*ret_wsd = wsd;
	return 0;
err:
	free(wsd);
	return r;
}

static void on_reaped(void *arg)
{
	free(arg);
}

void wsd_free(struct wsd *wsd)
{
	if (!wsd)
		return;
	lwsuv_reaper_start(&wsd->reaper, wsd->loop, wsd->ctx, on_reaped, wsd);
}
