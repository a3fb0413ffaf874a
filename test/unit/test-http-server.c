/* test-http-server.c: the HTTP and WebSocket server against libcurl, raw
 * sockets and the ARI events client, all on one loop. */
#include <check.h>

#include "testlib.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ari/events.h"
#include "http/server.h"

#define WAIT_MS 10000
#define BIG_LEN (4u << 20)
#define RAW_MAX (64u << 10)

enum mode {
	MODE_ECHO, /* answer at once with what arrived */
	MODE_HOLD, /* keep the request in fx->held */
	MODE_BIG,  /* answer with BIG_LEN patterned bytes */
};

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	bool expired;
	struct http_server *server;
	struct http_server_config cfg;
	bool server_closed;
	enum mode mode;
	unsigned requests;
	struct http_request *held;
	const char *peer; /* the client address on_request expects; NULL:
			     127.0.0.1 */
	char method[16], path[64], query[128], param[64], param_q[64];
	int param_missing, param_small;
	char auth[64];
	char accept[64], body[256];
	size_t body_len;

	/* WebSockets, server side. */
	int ws_refuse; /* status ws_open returns */
	struct http_ws *ws;
	unsigned ws_opened, ws_closed, ws_messages;
	char ws_query[128], ws_auth[128], ws_last[256];

	/* The curl client. */
	CURLM *multi;
	uv_timer_t curl_timer;

	/* The WebSocket client. */
	struct ari_events *ev;
	unsigned ev_opened, ev_closed, ev_messages;
	int ev_error;
	char ev_last[256];
};

/* ---- the server's callbacks ---- */

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "(null)");
}

static void on_request(struct http_request *req, void *userdata)
{
	struct fx *fx = userdata;
	const char *body;
	char reply[512];
	int n;

	fx->requests++;
	copy_str(fx->method, sizeof(fx->method),
		 http_server_request_method(req));
	copy_str(fx->path, sizeof(fx->path), http_server_request_path(req));
	copy_str(fx->query, sizeof(fx->query), http_server_request_query(req));
	copy_str(fx->auth, sizeof(fx->auth),
		 http_server_request_header(req, "authorization"));
	copy_str(fx->accept, sizeof(fx->accept),
		 http_server_request_header(req, "accept"));
	if (http_server_request_param(req, "name", fx->param,
				      sizeof(fx->param)) < 0)
		fx->param[0] = '\0';
	if (http_server_request_param(req, "q", fx->param_q,
				      sizeof(fx->param_q)) < 0)
		fx->param_q[0] = '\0';
	fx->param_missing = http_server_request_param(req, "nope", reply, 8);
	fx->param_small = http_server_request_param(req, "q", reply, 3);
	body = http_server_request_body(req, &fx->body_len);
	ck_assert_uint_eq(strlen(body), fx->body_len);
	copy_str(fx->body, sizeof(fx->body), body);
	ck_assert_str_eq(http_server_request_peer(req),
			 fx->peer ? fx->peer : "127.0.0.1");
	ck_assert(!http_server_request_abandoned(req));
	if (fx->mode == MODE_HOLD) {
		ck_assert_ptr_null(fx->held);
		fx->held = req;
		return;
	}
	if (fx->mode == MODE_BIG) {
		char *big = malloc(BIG_LEN);

		ck_assert_ptr_nonnull(big);
		for (size_t i = 0; i < BIG_LEN; i++)
			big[i] = (char)('a' + i % 23);
		ck_assert_int_eq(http_server_request_respond_take(
				     req, 200, "audio/wav", NULL, big, BIG_LEN),
				 0);
		return;
	}
	n = snprintf(reply, sizeof(reply), "%s %s ?%s [%s]", fx->method,
		     fx->path, fx->query, fx->body);
	ck_assert_int_eq(http_server_request_respond(req, 200, "text/plain",
						     "X-Test: yes\r\n", reply,
						     (size_t)n),
			 0);
}

static int on_ws_open(struct http_ws *ws, const struct http_request *req,
		      const char **ret_detail, void *userdata)
{
	struct fx *fx = userdata;

	ck_assert_str_eq(http_server_request_path(req), "/ari/events");
	copy_str(fx->ws_query, sizeof(fx->ws_query),
		 http_server_request_query(req));
	copy_str(fx->ws_auth, sizeof(fx->ws_auth),
		 http_server_request_header(req, "authorization"));
	if (fx->ws_refuse) {
		*ret_detail = "No \"token\".";
		return fx->ws_refuse;
	}
	ck_assert_ptr_null(fx->ws);
	fx->ws = ws;
	http_server_ws_set_data(ws, fx);
	fx->ws_opened++;
	return 0;
}

static void on_ws_message(struct http_ws *ws, const char *data, size_t len,
			  void *userdata)
{
	struct fx *fx = userdata;

	ck_assert_ptr_eq(http_server_ws_get_data(ws), fx);
	ck_assert_uint_eq(strlen(data), len);
	copy_str(fx->ws_last, sizeof(fx->ws_last), data);
	fx->ws_messages++;
}

static void on_ws_closed(struct http_ws *ws, void *userdata)
{
	struct fx *fx = userdata;

	ck_assert_ptr_eq(ws, fx->ws);
	fx->ws = NULL;
	fx->ws_closed++;
}

static const struct http_server_callbacks server_cbs = {
    .request = on_request,
    .ws_open = on_ws_open,
    .ws_message = on_ws_message,
    .ws_closed = on_ws_closed,
};

/* ---- the loop ---- */

static void on_guard(uv_timer_t *t)
{
	struct fx *fx = t->data;

	fx->expired = true;
}

#define WAIT_UNTIL(fx, cond)                                                   \
	do {                                                                   \
		(fx)->expired = false;                                         \
		uv_timer_start(&(fx)->guard, on_guard, WAIT_MS, 0);            \
		while (!(cond) && !(fx)->expired)                              \
			uv_run(&(fx)->loop, UV_RUN_ONCE);                      \
		uv_timer_stop(&(fx)->guard);                                   \
		ck_assert_msg(cond, "timed out waiting for " #cond);           \
	} while (0)

static void settle(struct fx *fx, uint64_t ms)
{
	fx->expired = false;
	uv_timer_start(&fx->guard, on_guard, ms, 0);
	while (!fx->expired)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

/* ---- a libcurl multi client on the loop ---- */

struct watch {
	uv_poll_t poll;
	struct fx *fx;
	curl_socket_t fd;
};

struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	char *buf;
	size_t len, cap;
	bool done;
	CURLcode code;
	long status;
	long connects;
	char ctype[128];
	const char *upload; /* for a streamed (chunked) body */
	size_t up_len, up_off;
};

static void curl_check_done(struct fx *fx)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(fx->multi, &left))) {
		struct xfer *x;
		char *ct = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		x->code = msg->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &x->connects);
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
		copy_str(x->ctype, sizeof(x->ctype), ct);
		x->done = true;
	}
}

static void on_curl_poll(uv_poll_t *poll, int status, int events)
{
	struct watch *w = poll->data;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(w->fx->multi, w->fd, flags, &running);
	curl_check_done(w->fx);
}

static void watch_closed(uv_handle_t *h)
{
	free(h->data);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
			  void *sockp)
{
	struct fx *fx = arg;
	struct watch *w = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (w) {
			uv_poll_stop(&w->poll);
			uv_close((uv_handle_t *)&w->poll, watch_closed);
			curl_multi_assign(fx->multi, fd, NULL);
		}
		return 0;
	}
	if (!w) {
		w = calloc(1, sizeof(*w));
		ck_assert_ptr_nonnull(w);
		w->fx = fx;
		w->fd = fd;
		ck_assert_int_eq(uv_poll_init_socket(&fx->loop, &w->poll, fd),
				 0);
		w->poll.data = w;
		curl_multi_assign(fx->multi, fd, w);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&w->poll, events, on_curl_poll);
	return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
	struct fx *fx = t->data;
	int running;

	curl_multi_socket_action(fx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curl_check_done(fx);
}

static int on_curl_timer(CURLM *multi, long ms, void *arg)
{
	struct fx *fx = arg;

	if (ms < 0)
		uv_timer_stop(&fx->curl_timer);
	else
		uv_timer_start(&fx->curl_timer, on_curl_timeout, (uint64_t)ms,
			       0);
	return 0;
}

static size_t on_curl_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->len + len + 1 > x->cap) {
		x->cap = (x->len + len + 1) * 2;
		x->buf = realloc(x->buf, x->cap);
		ck_assert_ptr_nonnull(x->buf);
	}
	memcpy(x->buf + x->len, data, len);
	x->len += len;
	x->buf[x->len] = '\0';
	return len;
}

static size_t on_curl_read(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len > x->up_len - x->up_off)
		len = x->up_len - x->up_off;
	memcpy(data, x->upload + x->up_off, len);
	x->up_off += len;
	return len;
}

static void client_init(struct fx *fx)
{
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	fx->multi = curl_multi_init();
	ck_assert_ptr_nonnull(fx->multi);
	ck_assert_int_eq(uv_timer_init(&fx->loop, &fx->curl_timer), 0);
	fx->curl_timer.data = fx;
	curl_multi_setopt(fx->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(fx->multi, CURLMOPT_SOCKETDATA, fx);
	curl_multi_setopt(fx->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(fx->multi, CURLMOPT_TIMERDATA, fx);
}

/* Starts method on path; body NULL sends none; header is one extra line
 * or NULL. */
static void xfer_start(struct fx *fx, struct xfer *x, const char *method,
		       const char *path, const char *body, const char *header)
{
	char url[4096];

	memset(x, 0, sizeof(*x));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s",
		 http_server_port(fx->server), path);
	x->easy = curl_easy_init();
	ck_assert_ptr_nonnull(x->easy);
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_curl_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(body));
	}
	if (header)
		x->headers = curl_slist_append(x->headers, header);
	/* Large bodies go at once, without waiting for 100 Continue. */
	x->headers = curl_slist_append(x->headers, "Expect:");
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	ck_assert_int_eq(curl_multi_add_handle(fx->multi, x->easy), CURLM_OK);
}

static void xfer_free(struct fx *fx, struct xfer *x)
{
	curl_multi_remove_handle(fx->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->buf);
	memset(x, 0, sizeof(*x));
}

/* Runs one request to completion. */
static void fetch(struct fx *fx, struct xfer *x, const char *method,
		  const char *path, const char *body, const char *header)
{
	xfer_start(fx, x, method, path, body, header);
	WAIT_UNTIL(fx, x->done);
}

/* ---- a raw TCP client, for what curl will not send ---- */

struct raw {
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t write;
	uv_buf_t out;
	char in[RAW_MAX];
	size_t in_len;
	bool connected, eof, closed;
};

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct raw *raw = h->data;

	buf->base = raw->in + raw->in_len;
	buf->len = sizeof(raw->in) - 1 - raw->in_len;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct raw *raw = s->data;

	if (n > 0) {
		raw->in_len += (size_t)n;
		raw->in[raw->in_len] = '\0';
	} else if (n < 0) {
		raw->eof = true;
		uv_read_stop(s);
	}
}

static void raw_written(uv_write_t *w, int status)
{
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *raw = req->data;

	ck_assert_int_eq(status, 0);
	raw->connected = true;
	uv_read_start((uv_stream_t *)&raw->tcp, raw_alloc, raw_read);
	if (raw->out.len)
		uv_write(&raw->write, (uv_stream_t *)&raw->tcp, &raw->out, 1,
			 raw_written);
}

/* Connects from the address from (NULL: any) and sends data (borrowed
 * until written; NULL: nothing). */
static void raw_start_from(struct fx *fx, struct raw *raw, const char *from,
			   const char *data, size_t len)
{
	struct sockaddr_in addr, src;

	memset(raw, 0, sizeof(*raw));
	uv_ip4_addr("127.0.0.1", http_server_port(fx->server), &addr);
	ck_assert_int_eq(uv_tcp_init(&fx->loop, &raw->tcp), 0);
	if (from) {
		uv_ip4_addr(from, 0, &src);
		ck_assert_int_eq(
		    uv_tcp_bind(&raw->tcp, (const struct sockaddr *)&src, 0),
		    0);
	}
	raw->tcp.data = raw;
	raw->connect.data = raw;
	raw->out = uv_buf_init((char *)data, (unsigned)len);
	ck_assert_int_eq(uv_tcp_connect(&raw->connect, &raw->tcp,
					(const struct sockaddr *)&addr,
					raw_connected),
			 0);
}

static void raw_start(struct fx *fx, struct raw *raw, const char *data,
		      size_t len)
{
	raw_start_from(fx, raw, NULL, data, len);
}

static void raw_closed(uv_handle_t *h)
{
	struct raw *raw = h->data;

	raw->closed = true;
}

static void raw_close(struct fx *fx, struct raw *raw)
{
	uv_close((uv_handle_t *)&raw->tcp, raw_closed);
	WAIT_UNTIL(fx, raw->closed);
}

/* ---- the WebSocket client ---- */

static void ev_opened(struct ari_events *ev, void *userdata)
{
	struct fx *fx = userdata;

	fx->ev_opened++;
}

static void ev_message(struct ari_events *ev, const char *data, size_t len,
		       void *userdata)
{
	struct fx *fx = userdata;

	copy_str(fx->ev_last, sizeof(fx->ev_last), data);
	fx->ev_messages++;
}

static void ev_closed(struct ari_events *ev, int error, void *userdata)
{
	struct fx *fx = userdata;

	fx->ev_error = error;
	fx->ev_closed++;
}

static const struct ari_events_callbacks ev_cbs = {
    .opened = ev_opened,
    .message = ev_message,
    .closed = ev_closed,
};

static void ev_start(struct fx *fx)
{
	struct ari_events_config cfg = {
	    .host = "127.0.0.1",
	    .port = http_server_port(fx->server),
	    .path_prefix = "/ari",
	    .username = "welcomedly",
	    .password = "secret",
	    .app = "feed",
	};

	ck_assert_int_eq(ari_events_new(&fx->loop, &cfg, &ev_cbs, fx, &fx->ev),
			 0);
	ck_assert_int_eq(ari_events_connect(fx->ev), 0);
}

/* ---- fixture ---- */

static void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	ck_assert_int_eq(uv_timer_init(&fx->loop, &fx->guard), 0);
	fx->guard.data = fx;
	fx->cfg.host = "127.0.0.1";
	fx->cfg.ws_path = "/ari/events";
	client_init(fx);
}

static void fx_start(struct fx *fx)
{
	ck_assert_int_eq(
	    http_server_new(&fx->loop, &fx->cfg, &server_cbs, fx, &fx->server),
	    0);
	ck_assert_int_gt(http_server_port(fx->server), 0);
}

static void fx_close_server(struct fx *fx)
{
	if (fx->server_closed)
		return;
	fx->server_closed = true;
	http_server_close(fx->server);
}

/* Closes everything and checks that the loop ends empty. */
static void fx_finish(struct fx *fx)
{
	ari_events_close(fx->ev);
	fx_close_server(fx);
	ck_assert_uint_eq(fx->ws_opened, fx->ws_closed);
	curl_multi_cleanup(fx->multi);
	curl_global_cleanup();
	uv_close((uv_handle_t *)&fx->curl_timer, NULL);
	uv_close((uv_handle_t *)&fx->guard, NULL);
	ck_assert_int_eq(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
}

static void assert_problem(const struct xfer *x, long status, const char *slug)
{
	char type[128];

	ck_assert_int_eq(x->code, CURLE_OK);
	ck_assert_int_eq(x->status, status);
	ck_assert_str_eq(x->ctype, "application/problem+json");
	snprintf(type, sizeof(type), "\"type\":\"urn:welcomedly:problem:%s\"",
		 slug);
	ck_assert_ptr_nonnull(x->buf);
	ck_assert_msg(strstr(x->buf, type), "%s lacks %s", x->buf, type);
}

/* ---- HTTP ---- */

START_TEST(get_with_query_and_headers)
{
	struct fx fx;
	struct xfer x;

	fx_init(&fx);
	fx_start(&fx);
	fetch(&fx, &x, "GET", "/api/v1/agents?limit=5&name=a%20b&q=x%26y+z",
	      NULL, "Authorization: Bearer abc");
	ck_assert_int_eq(x.code, CURLE_OK);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(x.ctype, "text/plain");
	ck_assert_uint_eq(fx.requests, 1);
	ck_assert_str_eq(fx.method, "GET");
	ck_assert_str_eq(fx.path, "/api/v1/agents");
	ck_assert_str_eq(fx.param, "a b");
	ck_assert_str_eq(fx.auth, "Bearer abc");
	ck_assert_str_eq(fx.accept, "*/*");
	ck_assert_str_eq(fx.body, "");
	/* The query is split at '&' before decoding, so a value keeps an encoded
	 * '&' while the joined query cannot tell it apart. */
	ck_assert_str_eq(fx.query, "limit=5&name=a b&q=x&y z");
	ck_assert_str_eq(fx.param_q, "x&y z");
	ck_assert_int_eq(fx.param_missing, -ENOENT);
	ck_assert_int_eq(fx.param_small, -ENOSPC);
	ck_assert_str_eq(x.buf,
			 "GET /api/v1/agents ?limit=5&name=a b&q=x&y z []");
	xfer_free(&fx, &x);
	fx_finish(&fx);
}
END_TEST

START_TEST(methods_with_bodies)
{
	static const char *const methods[] = {"POST", "PUT", "PATCH", "DELETE"};
	struct fx fx;
	struct xfer x;
	char want[256];

	fx_init(&fx);
	fx_start(&fx);
	for (unsigned i = 0; i < 4; i++) {
		fetch(&fx, &x, methods[i], "/things/7?x=1", "{\"a\":1}",
		      "Content-Type: application/json");
		ck_assert_int_eq(x.status, 200);
		ck_assert_str_eq(fx.method, methods[i]);
		ck_assert_str_eq(fx.body, "{\"a\":1}");
		ck_assert_uint_eq(fx.body_len, 7);
		snprintf(want, sizeof(want), "%s /things/7 ?x=1 [{\"a\":1}]",
			 methods[i]);
		ck_assert_str_eq(x.buf, want);
		xfer_free(&fx, &x);
	}
	/* An explicitly empty body, and OPTIONS. */
	fetch(&fx, &x, "POST", "/empty", "", NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(fx.method, "POST");
	ck_assert_uint_eq(fx.body_len, 0);
	xfer_free(&fx, &x);
	fetch(&fx, &x, "OPTIONS", "/opt", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(fx.method, "OPTIONS");
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 6);
	fx_finish(&fx);
}
END_TEST

START_TEST(head_gets_headers_only)
{
	struct fx fx;
	struct xfer x;
	curl_off_t len = -1;

	fx_init(&fx);
	fx_start(&fx);
	fetch(&fx, &x, "HEAD", "/h", NULL, NULL);
	ck_assert_int_eq(x.code, CURLE_OK);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(fx.method, "HEAD");
	curl_easy_getinfo(x.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	ck_assert_int_eq(len, (curl_off_t)strlen("HEAD /h ? []"));
	ck_assert_uint_eq(x.len, 0);
	xfer_free(&fx, &x);
	/* The connection still serves a request after it. */
	fetch(&fx, &x, "GET", "/after", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_int_eq(x.connects, 0);
	xfer_free(&fx, &x);
	fx_finish(&fx);
}
END_TEST

static void on_answer_timer(uv_timer_t *t)
{
	struct fx *fx = t->data;
	struct http_request *req = fx->held;

	fx->held = NULL;
	ck_assert_int_eq(
	    http_server_request_respond(req, 204, NULL, NULL, NULL, 0), 0);
	uv_close((uv_handle_t *)t, NULL);
}

START_TEST(async_answer)
{
	struct fx fx;
	struct xfer x;
	uv_timer_t later;

	fx_init(&fx);
	fx.mode = MODE_HOLD;
	fx_start(&fx);
	xfer_start(&fx, &x, "DELETE", "/calls/1", NULL, NULL);
	WAIT_UNTIL(&fx, fx.held != NULL);
	ck_assert_int_eq(uv_timer_init(&fx.loop, &later), 0);
	later.data = &fx;
	uv_timer_start(&later, on_answer_timer, 100, 0);
	WAIT_UNTIL(&fx, x.done);
	ck_assert_int_eq(x.code, CURLE_OK);
	ck_assert_int_eq(x.status, 204);
	xfer_free(&fx, &x);
	fx_finish(&fx);
}
END_TEST

START_TEST(body_too_large_by_length)
{
	char body[2001];
	struct fx fx;
	struct xfer x;

	memset(body, 'b', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	fx_init(&fx);
	fx.cfg.max_body = 1000;
	fx_start(&fx);
	fetch(&fx, &x, "POST", "/big", body, NULL);
	assert_problem(&x, 413, "body-too-large");
	xfer_free(&fx, &x);
	/* Exactly the cap is fine. */
	body[1000] = '\0';
	fetch(&fx, &x, "POST", "/edge", body, NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_uint_eq(fx.body_len, 1000);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 1);
	fx_finish(&fx);
}
END_TEST

/* A body without Content-Length is refused at once with 411 rather than
 * read until the peer stops, and so is a chunked body. */
START_TEST(body_without_length)
{
	static const char head[] = "POST /stream HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t len = sizeof(head) - 1 + 3000;
	char *req = malloc(len);
	struct fx fx;
	struct raw raw;
	struct xfer x;

	ck_assert_ptr_nonnull(req);
	memcpy(req, head, sizeof(head) - 1);
	memset(req + sizeof(head) - 1, 's', 3000);
	fx_init(&fx);
	fx.cfg.max_body = 1000;
	fx_start(&fx);
	raw_start(&fx, &raw, req, len);
	WAIT_UNTIL(&fx, raw.eof);
	ck_assert_msg(strncmp(raw.in, "HTTP/1.1 411", 12) == 0, "got %s",
		      raw.in);
	ck_assert_ptr_nonnull(strstr(raw.in, "length-required"));
	ck_assert_uint_eq(fx.requests, 0);
	raw_close(&fx, &raw);

	xfer_start(&fx, &x, "PUT", "/chunked", NULL,
		   "Transfer-Encoding: chunked");
	x.upload = "0123456789";
	x.up_len = 10;
	curl_easy_setopt(x.easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x.easy, CURLOPT_READFUNCTION, on_curl_read);
	curl_easy_setopt(x.easy, CURLOPT_READDATA, &x);
	WAIT_UNTIL(&fx, x.done);
	assert_problem(&x, 411, "length-required");
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 0);
	free(req);
	fx_finish(&fx);
}
END_TEST

START_TEST(uri_too_long)
{
	char path[HTTP_SERVER_MAX_PATH + 16];
	struct fx fx;
	struct xfer x;

	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	fx_init(&fx);
	fx_start(&fx);
	fetch(&fx, &x, "GET", path, NULL, NULL);
	assert_problem(&x, 414, "uri-too-long");
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

static void assert_raw_problem(const struct raw *raw, const char *status,
			       const char *slug);

START_TEST(headers_too_large)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ";
	size_t len = sizeof(head) - 1 + 3000 + 4;
	char *req = malloc(len);
	struct fx fx;
	struct raw raw;
	struct xfer x;

	ck_assert_ptr_nonnull(req);
	memcpy(req, head, sizeof(head) - 1);
	memset(req + sizeof(head) - 1, 'h', 3000);
	memcpy(req + len - 4, "\r\n\r\n", 4);
	fx_init(&fx);
	fx.cfg.max_header = 1024;
	fx_start(&fx);
	raw_start(&fx, &raw, req, len);
	WAIT_UNTIL(&fx, raw.eof);
	assert_raw_problem(&raw, " 431", "header-fields-too-large");
	raw_close(&fx, &raw);
	fetch(&fx, &x, "GET", "/still", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 1);
	free(req);
	fx_finish(&fx);
}
END_TEST

START_TEST(too_many_connections)
{
	struct fx fx;
	struct raw raw[2];
	struct xfer x;

	fx_init(&fx);
	fx.cfg.max_connections = 2;
	fx_start(&fx);
	raw_start(&fx, &raw[0], NULL, 0);
	raw_start(&fx, &raw[1], NULL, 0);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 2);
	fetch(&fx, &x, "GET", "/third", NULL, NULL);
	assert_problem(&x, 503, "unavailable");
	xfer_free(&fx, &x);
	raw_close(&fx, &raw[0]);
	raw_close(&fx, &raw[1]);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 0);
	fetch(&fx, &x, "GET", "/again", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 1);
	fx_finish(&fx);
}
END_TEST

START_TEST(large_response_intact)
{
	struct fx fx;
	struct xfer x;

	fx_init(&fx);
	fx.mode = MODE_BIG;
	fx_start(&fx);
	fetch(&fx, &x, "GET", "/calls/1/recording", NULL, NULL);
	ck_assert_int_eq(x.code, CURLE_OK);
	ck_assert_int_eq(x.status, 200);
	ck_assert_str_eq(x.ctype, "audio/wav");
	ck_assert_uint_eq(x.len, BIG_LEN);
	for (size_t i = 0; i < BIG_LEN; i++) {
		if (x.buf[i] != (char)('a' + i % 23))
			ck_abort_msg("byte %zu differs", i);
	}
	xfer_free(&fx, &x);
	fx_finish(&fx);
}
END_TEST

START_TEST(keep_alive)
{
	struct fx fx;
	struct xfer x;

	fx_init(&fx);
	fx_start(&fx);
	fetch(&fx, &x, "GET", "/one", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_int_eq(x.connects, 1);
	xfer_free(&fx, &x);
	fetch(&fx, &x, "POST", "/two", "{}", NULL);
	ck_assert_int_eq(x.status, 200);
	ck_assert_int_eq(x.connects, 0);
	xfer_free(&fx, &x);
	fetch(&fx, &x, "GET", "/three", NULL, NULL);
	ck_assert_int_eq(x.connects, 0);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(http_server_connections(fx.server), 1);
	ck_assert_uint_eq(fx.requests, 3);
	fx_finish(&fx);
}
END_TEST

/* A client that resets while its request is being answered is noticed at
 * once: the request is abandoned. */
START_TEST(client_resets_before_answer)
{
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx.mode = MODE_HOLD;
	fx_start(&fx);
	raw_start(&fx, &raw, req, sizeof(req) - 1);
	WAIT_UNTIL(&fx, fx.held != NULL);
	ck_assert_int_eq(uv_tcp_close_reset(&raw.tcp, raw_closed), 0);
	WAIT_UNTIL(&fx, raw.closed);
	WAIT_UNTIL(&fx, http_server_request_abandoned(fx.held));
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 0);
	ck_assert_str_eq(http_server_request_path(fx.held), "/slow");
	ck_assert_int_eq(http_server_request_respond(fx.held, 200, "text/plain",
						     NULL, "late", 4),
			 0);
	fx.held = NULL;
	fx_finish(&fx);
}
END_TEST

START_TEST(client_closes_before_answer)
{
	struct fx fx;
	struct xfer x;

	fx_init(&fx);
	fx.mode = MODE_HOLD;
	fx_start(&fx);
	xfer_start(&fx, &x, "GET", "/slow", NULL, NULL);
	WAIT_UNTIL(&fx, fx.held != NULL);
	xfer_free(&fx, &x);
	settle(&fx, 50);
	ck_assert_int_eq(http_server_request_respond(fx.held, 200, "text/plain",
						     NULL, "late", 4),
			 0);
	fx.held = NULL;
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 0);
	fx_finish(&fx);
}
END_TEST

/* Answered after the server is gone: the answer is dropped. */
START_TEST(answer_after_server_close)
{
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fx fx;
	struct raw raw;
	char *body = strdup("late");

	fx_init(&fx);
	fx.mode = MODE_HOLD;
	fx_start(&fx);
	raw_start(&fx, &raw, req, sizeof(req) - 1);
	WAIT_UNTIL(&fx, fx.held != NULL);
	fx_close_server(&fx);
	ck_assert(http_server_request_abandoned(fx.held));
	WAIT_UNTIL(&fx, raw.eof);
	raw_close(&fx, &raw);
	ck_assert_int_eq(http_server_request_respond_take(
			     fx.held, 200, "text/plain", NULL, body, 4),
			 0);
	fx.held = NULL;
	fx_finish(&fx);
}
END_TEST

START_TEST(port_in_use)
{
	struct fx fx;
	struct http_server *second = NULL;

	fx_init(&fx);
	fx_start(&fx);
	fx.cfg.port = http_server_port(fx.server);
	ck_assert_int_eq(
	    http_server_new(&fx.loop, &fx.cfg, &server_cbs, &fx, &second),
	    -EADDRINUSE);
	ck_assert_ptr_null(second);
	fx.cfg.host = NULL;
	ck_assert_int_eq(
	    http_server_new(&fx.loop, &fx.cfg, &server_cbs, &fx, &second),
	    -EINVAL);
	fx_finish(&fx);
}
END_TEST

/* ---- WebSockets ---- */

static void ws_connect(struct fx *fx)
{
	ev_start(fx);
	WAIT_UNTIL(fx, fx->ev_opened == 1);
	ck_assert_ptr_nonnull(fx->ws);
	ck_assert_str_eq(fx->ws_query, "app=feed&subscribeAll=false");
	ck_assert_str_eq(fx->ws_auth, "Basic d2VsY29tZWRseTpzZWNyZXQ=");
}

START_TEST(ws_messages_both_ways)
{
	static const char msg[] = "{\"seq\":1,\"type\":\"call.queued\"}";
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ws_connect(&fx);
	ck_assert_uint_eq(http_server_connections(fx.server), 1);
	ck_assert_int_eq(http_server_ws_send(fx.ws, msg, strlen(msg)), 0);
	WAIT_UNTIL(&fx, fx.ev_messages == 1);
	ck_assert_str_eq(fx.ev_last, msg);
	ck_assert_int_eq(ari_events_send(fx.ev, "hello", 5), 0);
	WAIT_UNTIL(&fx, fx.ws_messages == 1);
	ck_assert_str_eq(fx.ws_last, "hello");
	/* The server closes after the queue drains. */
	ck_assert_int_eq(http_server_ws_send(fx.ws, "last", 4), 0);
	http_server_ws_close(fx.ws, 1000, "bye");
	ck_assert_int_eq(http_server_ws_send(fx.ws, "more", 4), -EPIPE);
	WAIT_UNTIL(&fx, fx.ev_closed == 1 && fx.ws_closed == 1);
	ck_assert_str_eq(fx.ev_last, "last");
	ck_assert_uint_eq(fx.ev_messages, 2);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(ws_peer_closes)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ws_connect(&fx);
	ari_events_close(fx.ev);
	fx.ev = NULL;
	WAIT_UNTIL(&fx, fx.ws_closed == 1);
	settle(&fx, 100);
	ck_assert_uint_eq(fx.ws_closed, 1);
	fx_finish(&fx);
}
END_TEST

START_TEST(ws_refused)
{
	struct fx fx;

	fx_init(&fx);
	fx.ws_refuse = 401;
	fx_start(&fx);
	ev_start(&fx);
	WAIT_UNTIL(&fx, fx.ev_closed == 1);
	ck_assert_int_eq(fx.ev_error, -EACCES);
	ck_assert_uint_eq(fx.ev_opened, 0);
	ck_assert_uint_eq(fx.ws_opened, 0);
	ck_assert_uint_eq(fx.ws_closed, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(ws_refused_body)
{
	struct fx fx;
	struct xfer x;

	fx_init(&fx);
	fx.ws_refuse = 401;
	fx_start(&fx);
	xfer_start(&fx, &x, "GET", "/ari/events?access_token=x", NULL,
		   "Upgrade: websocket");
	x.headers = curl_slist_append(x.headers, "Connection: Upgrade");
	x.headers = curl_slist_append(x.headers, "Sec-WebSocket-Version: 13");
	x.headers = curl_slist_append(
	    x.headers, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
	curl_easy_setopt(x.easy, CURLOPT_HTTPHEADER, x.headers);
	WAIT_UNTIL(&fx, x.done);
	assert_problem(&x, 401, "unauthorized");
	ck_assert_ptr_nonnull(
	    strstr(x.buf, "\"detail\":\"No \\\"token\\\".\""));
	ck_assert_str_eq(fx.ws_query, "access_token=x");
	xfer_free(&fx, &x);
	fx_finish(&fx);
}
END_TEST

START_TEST(ws_queue_cap_closes)
{
	char msg[512];
	struct fx fx;
	int r = 0;
	unsigned sent = 0;

	memset(msg, 'q', sizeof(msg));
	fx_init(&fx);
	fx.cfg.max_ws_queue = 4096;
	fx_start(&fx);
	ws_connect(&fx);
	/* Nothing is written while the loop does not run, so the queue
	 * fills deterministically. */
	while (sent < 100 &&
	       (r = http_server_ws_send(fx.ws, msg, sizeof(msg))) == 0)
		sent++;
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_uint_eq(sent, 8);
	WAIT_UNTIL(&fx, fx.ws_closed == 1 && fx.ev_closed == 1);
	fx_finish(&fx);
}
END_TEST

/* The total cap sheds the socket with the most queued; with one socket,
 * that is the sender, and its queue is returned at once. */
START_TEST(ws_total_cap_sheds)
{
	char msg[512];
	struct fx fx;
	int r = 0;
	unsigned sent = 0;

	memset(msg, 't', sizeof(msg));
	fx_init(&fx);
	fx.cfg.max_ws_total = 4096;
	fx_start(&fx);
	ws_connect(&fx);
	while (sent < 100 &&
	       (r = http_server_ws_send(fx.ws, msg, sizeof(msg))) == 0)
		sent++;
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_uint_eq(sent, 8);
	ck_assert_uint_eq(http_server_ws_queued(fx.server), 0);
	ck_assert_int_eq(http_server_ws_send(fx.ws, "x", 1), -EPIPE);
	WAIT_UNTIL(&fx, fx.ws_closed == 1 && fx.ev_closed == 1);
	ck_assert_uint_eq(fx.ev_messages, 0);
	fx_finish(&fx);
}
END_TEST

/* A dropped socket gets nothing of what was queued, and no more. */
START_TEST(ws_drop_discards_queue)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ws_connect(&fx);
	ck_assert_int_eq(http_server_ws_send(fx.ws, "one", 3), 0);
	ck_assert_int_eq(http_server_ws_send(fx.ws, "two", 3), 0);
	ck_assert_uint_eq(http_server_ws_queued(fx.server), 6);
	http_server_ws_drop(fx.ws, 1008, "token revoked");
	ck_assert_uint_eq(http_server_ws_queued(fx.server), 0);
	ck_assert_int_eq(http_server_ws_send(fx.ws, "three", 5), -EPIPE);
	WAIT_UNTIL(&fx, fx.ws_closed == 1 && fx.ev_closed == 1);
	ck_assert_uint_eq(fx.ev_messages, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(close_with_live_sockets)
{
	static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx.mode = MODE_HOLD;
	fx_start(&fx);
	ws_connect(&fx);
	raw_start(&fx, &raw, req, sizeof(req) - 1);
	WAIT_UNTIL(&fx, fx.held != NULL);
	ck_assert_uint_eq(http_server_connections(fx.server), 2);
	fx_close_server(&fx);
	ck_assert_uint_eq(fx.ws_closed, 1);
	WAIT_UNTIL(&fx, fx.ev_closed == 1 && raw.eof);
	raw_close(&fx, &raw);
	ck_assert_int_eq(
	    http_server_request_respond(fx.held, 200, NULL, NULL, NULL, 0), 0);
	fx.held = NULL;
	fx_finish(&fx);
}
END_TEST

/* ---- the edge: slow clients and malformed request lines ---- */

#define SLOW_HEAD "GET /slow HTTP/1.1\r\nHost: x\r\n"
#define SLOW_CONNS 6

/* Sends req on a new connection and waits for the server to end it. */
static void raw_exchange(struct fx *fx, struct raw *raw, const char *from,
			 const char *req)
{
	raw_start_from(fx, raw, from, req, strlen(req));
	WAIT_UNTIL(fx, raw->eof);
}

static void assert_raw_problem(const struct raw *raw, const char *status,
			       const char *slug)
{
	char type[128];

	snprintf(type, sizeof(type), "\"type\":\"urn:welcomedly:problem:%s\"",
		 slug);
	/* Any HTTP/1.x status line will do. */
	ck_assert_msg(strncmp(raw->in, "HTTP/1.", 7) == 0 &&
			  strncmp(raw->in + 8, status, strlen(status)) == 0,
		      "expected %s, got %s", status, raw->in);
	ck_assert_msg(strstr(raw->in, "application/problem+json"), "got %s",
		      raw->in);
	ck_assert_msg(strstr(raw->in, type), "got %s", raw->in);
}

START_TEST(slow_head_gets_408)
{
	struct fx fx;
	struct raw raw;
	uint64_t start;

	fx_init(&fx);
	fx.cfg.header_timeout_ms = 300;
	fx_start(&fx);
	start = uv_now(&fx.loop);
	raw_start(&fx, &raw, SLOW_HEAD, sizeof(SLOW_HEAD) - 1);
	WAIT_UNTIL(&fx, raw.eof);
	uv_update_time(&fx.loop);
	ck_assert_uint_lt(uv_now(&fx.loop) - start, 3000);
	assert_raw_problem(&raw, " 408", "request-timeout");
	raw_close(&fx, &raw);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 0);
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

/* One address holding connections without a whole head (slowloris)
 * cannot lock others out, nor its own fast requests. */
START_TEST(slow_peer_capped)
{
	struct fx fx;
	struct raw slow[SLOW_CONNS], raw;
	struct xfer x;

	fx_init(&fx);
	fx.cfg.max_connections = 4;
	fx.cfg.max_pending_per_peer = 2;
	fx_start(&fx);
	for (int i = 0; i < SLOW_CONNS; i++)
		raw_start(&fx, &slow[i], SLOW_HEAD, sizeof(SLOW_HEAD) - 1);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == SLOW_CONNS);
	fx.peer = "127.0.0.2";
	raw_exchange(&fx, &raw, "127.0.0.2",
		     "GET /other HTTP/1.1\r\nHost: x\r\n"
		     "Connection: close\r\n\r\n");
	ck_assert_msg(strncmp(raw.in, "HTTP/1.1 200", 12) == 0, "got %s",
		      raw.in);
	raw_close(&fx, &raw);
	fx.peer = NULL;
	fetch(&fx, &x, "GET", "/fast", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 2);
	for (int i = 0; i < SLOW_CONNS; i++)
		raw_close(&fx, &slow[i]);
	fx_finish(&fx);
}
END_TEST

/* Health checks are answered past the connection cap. */
START_TEST(cap_exempt_paths_served)
{
	static const char *const exempt[] = {"/healthz", NULL};
	struct fx fx;
	struct raw raw[2];
	struct xfer x;

	fx_init(&fx);
	fx.cfg.max_connections = 2;
	fx.cfg.cap_exempt = exempt;
	fx_start(&fx);
	raw_start(&fx, &raw[0], NULL, 0);
	raw_start(&fx, &raw[1], NULL, 0);
	WAIT_UNTIL(&fx, http_server_connections(fx.server) == 2);
	fetch(&fx, &x, "GET", "/busy", NULL, NULL);
	assert_problem(&x, 503, "unavailable");
	xfer_free(&fx, &x);
	fetch(&fx, &x, "GET", "/healthz", NULL, NULL);
	ck_assert_int_eq(x.status, 200);
	xfer_free(&fx, &x);
	ck_assert_uint_eq(fx.requests, 1);
	raw_close(&fx, &raw[0]);
	raw_close(&fx, &raw[1]);
	fx_finish(&fx);
}
END_TEST

/* A %0a or %0d in the path is a control character, not the end of the
 * request line: such a request is never served (lws 4.1 cut the path
 * there and served the rest). */
START_TEST(cut_request_line_refused)
{
	static const char *const reqs[] = {
	    ("POST /api/v1/campaigns%0d%0aX-Inj:%201 HTTP/1.1\r\nHost: x\r\n"
	     "Content-Length: 2\r\n\r\n{}"),
	    "GET /a%0ab HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /a?q=%0a HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /a\r\nHost: x\r\n\r\n",
	    "GET /a%0aHTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx_start(&fx);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		raw_exchange(&fx, &raw, NULL, reqs[i]);
		assert_raw_problem(&raw, " 400", "bad-request");
		raw_close(&fx, &raw);
	}
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(control_characters_refused)
{
	static const char *const reqs[] = {
	    "GET /a%09b HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /a%7f HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /a?q=%09 HTTP/1.1\r\nHost: x\r\n\r\n",
	};
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx_start(&fx);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		raw_exchange(&fx, &raw, NULL, reqs[i]);
		assert_raw_problem(&raw, " 400", "bad-request");
		raw_close(&fx, &raw);
	}
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

/* What libwebsockets 4.1 hung up on, or answered with its HTML 403, or
 * served: each now gets its status and a problem body. */
START_TEST(edge_refusals)
{
	static const struct {
		const char *data;
		size_t len;
		const char *status, *slug;
	} reqs[] = {
#define REQ(s, st, slug) {s, sizeof(s) - 1, st, slug}
	    REQ("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", " 501",
		"not-implemented"),
	    REQ("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", " 501",
		"not-implemented"),
	    REQ("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", " 501",
		"not-implemented"),
	    REQ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", " 400",
		"bad-request"),
	    REQ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", " 400",
		"bad-request"),
	    REQ("GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", " 400",
		"bad-request"),
	    REQ("GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", " 400",
		"bad-request"),
	    REQ("GET / HTTP/1.1\r\n\r\n", " 400", "bad-request"),
	    REQ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		"Content-Length: 3\r\n\r\n{}",
		" 400", "bad-request"),
	    REQ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
		"Transfer-Encoding: chunked\r\n\r\n{}",
		" 400", "bad-request"),
	    REQ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -2\r\n\r\n",
		" 400", "bad-request"),
	    REQ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
		"\r\n",
		" 501", "not-implemented"),
	    REQ("GET / HTTP/1.1\nHost: x\n\n", " 400", "bad-request"),
	    REQ("GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n\r\n",
		" 404", "not-found"),
#undef REQ
	};
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx_start(&fx);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		raw_start(&fx, &raw, reqs[i].data, reqs[i].len);
		WAIT_UNTIL(&fx, raw.eof);
		assert_raw_problem(&raw, reqs[i].status, reqs[i].slug);
		/* The methods refused name those that are served. */
		if (i < 3)
			ck_assert_msg(strstr(raw.in, "\r\nallow: GET, HEAD,"),
				      "got %s", raw.in);
		raw_close(&fx, &raw);
	}
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

/* A request line past max_header is 414, not a hang-up; so is a query
 * with more parameters than the server reads. */
START_TEST(long_uri_and_many_params)
{
	size_t len = 12000;
	char *req = malloc(len + 64);
	struct fx fx;
	struct raw raw;
	int n;

	ck_assert_ptr_nonnull(req);
	fx_init(&fx);
	fx_start(&fx);
	memcpy(req, "GET /", 5);
	memset(req + 5, 'u', len);
	n = snprintf(req + 5 + len, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_start(&fx, &raw, req, 5 + len + (size_t)n);
	WAIT_UNTIL(&fx, raw.eof);
	assert_raw_problem(&raw, " 414", "uri-too-long");
	raw_close(&fx, &raw);

	memcpy(req, "GET /?", 6);
	for (size_t i = 0; i < 500; i++)
		memcpy(req + 6 + 4 * i, "a=1&", 4);
	n = snprintf(req + 6 + 2000, 64, "b=2 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_start(&fx, &raw, req, 6 + 2000 + (size_t)n);
	WAIT_UNTIL(&fx, raw.eof);
	assert_raw_problem(&raw, " 414", "uri-too-long");
	raw_close(&fx, &raw);
	ck_assert_uint_eq(fx.requests, 0);
	free(req);
	fx_finish(&fx);
}
END_TEST

/* Two requests in one write are answered in order on the connection; a
 * body behind Expect: 100-continue gets its 100 first; HTTP/1.0 closes. */
START_TEST(pipelining_and_continue)
{
	static const char two[] =
	    "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}";
	static const char cont[] =
	    "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	    "Expect: 100-continue\r\nConnection: close\r\n\r\nabc";
	static const char old[] = "GET /old HTTP/1.0\r\n\r\n";
	struct fx fx;
	struct raw raw;
	const char *a, *b;

	fx_init(&fx);
	fx_start(&fx);
	raw_exchange(&fx, &raw, NULL, two);
	a = strstr(raw.in, "GET /first ? []");
	b = strstr(raw.in, "POST /second ? [{}]");
	ck_assert_msg(a && b && a < b, "got %s", raw.in);
	ck_assert_msg(strncmp(raw.in, "HTTP/1.1 200 OK\r\n", 17) == 0, "got %s",
		      raw.in);
	raw_close(&fx, &raw);
	raw_exchange(&fx, &raw, NULL, cont);
	ck_assert_msg(strncmp(raw.in,
			      "HTTP/1.1 100 Continue\r\n\r\n"
			      "HTTP/1.1 200 OK\r\n",
			      42) == 0,
		      "got %s", raw.in);
	ck_assert_ptr_nonnull(strstr(raw.in, "PUT /c ? [abc]"));
	raw_close(&fx, &raw);
	raw_exchange(&fx, &raw, NULL, old);
	ck_assert_ptr_nonnull(strstr(raw.in, "connection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(raw.in, "GET /old ? []"));
	raw_close(&fx, &raw);
	ck_assert_uint_eq(fx.requests, 4);
	fx_finish(&fx);
}
END_TEST

/* ---- WebSocket frames from a raw client ---- */

#define WS_HANDSHAKE                                                           \
	"GET /ari/events?app=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"  \
	"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"                 \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

/* Appends a masked client frame to out at *len. */
static void put_frame(char *out, size_t *len, unsigned char b0,
		      const char *payload, size_t plen, bool masked)
{
	static const unsigned char mask[4] = {1, 2, 3, 4};
	unsigned char *p = (unsigned char *)out + *len;
	size_t h = 2;

	p[0] = b0;
	if (plen < 126) {
		p[1] = (unsigned char)plen;
	} else {
		p[1] = 126;
		p[2] = (unsigned char)(plen >> 8);
		p[3] = (unsigned char)plen;
		h = 4;
	}
	if (masked) {
		p[1] |= 0x80;
		memcpy(p + h, mask, 4);
		h += 4;
	}
	for (size_t i = 0; i < plen; i++)
		p[h + i] =
		    (unsigned char)payload[i] ^ (masked ? mask[i & 3] : 0);
	*len += h + plen;
}

/* The frames the server sent after its 101. */
static const unsigned char *frames_after_101(const struct raw *raw)
{
	const char *end = strstr(raw->in, "\r\n\r\n");

	ck_assert_msg(strncmp(raw->in, "HTTP/1.1 101 ", 13) == 0, "got %s",
		      raw->in);
	ck_assert_ptr_nonnull(strcasestr(
	    raw->in, "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	return (const unsigned char *)end + 4;
}

/* Fragments are joined into one message; a ping gets its pong; a close
 * gets a close with the same code. */
START_TEST(ws_frames_raw)
{
	char out[512];
	size_t len = sizeof(WS_HANDSHAKE) - 1;
	const unsigned char *f;
	struct fx fx;
	struct raw raw;

	memcpy(out, WS_HANDSHAKE, len);
	put_frame(out, &len, 0x01, "hel", 3, true);
	put_frame(out, &len, 0x89, "pi", 2, true);
	put_frame(out, &len, 0x80, "lo", 2, true);
	put_frame(out, &len, 0x88, "\x03\xe8", 2, true);
	fx_init(&fx);
	fx_start(&fx);
	raw_start(&fx, &raw, out, len);
	WAIT_UNTIL(&fx, raw.eof && fx.ws_closed == 1);
	ck_assert_uint_eq(fx.ws_messages, 1);
	ck_assert_str_eq(fx.ws_last, "hello");
	f = frames_after_101(&raw);
	ck_assert_int_eq(f[0], 0x8a); /* pong "pi" */
	ck_assert_int_eq(f[1], 2);
	ck_assert(memcmp(f + 2, "pi", 2) == 0);
	ck_assert_int_eq(f[4], 0x88); /* close 1000 */
	ck_assert_int_eq(f[5], 2);
	ck_assert_int_eq(f[6] << 8 | f[7], 1000);
	raw_close(&fx, &raw);
	fx_finish(&fx);
}
END_TEST

/* An unmasked frame is a protocol error (1002); a message past
 * HTTP_SERVER_MAX_WS_MESSAGE, even in fragments, is 1009. */
START_TEST(ws_bad_frames_close)
{
	static const struct {
		int code;
		bool masked;
		size_t frag, nfrag;
	} cases[] = {
	    {1002, false, 3, 1},
	    {1009, true, 60000, 2},
	};
	size_t cap = sizeof(WS_HANDSHAKE) + 2 * 60100;
	char *out = malloc(cap), *payload = calloc(1, 60000);
	const unsigned char *f;
	struct fx fx;
	struct raw raw;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(payload);
	memset(payload, 'p', 60000);
	fx_init(&fx);
	fx_start(&fx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = sizeof(WS_HANDSHAKE) - 1;

		memcpy(out, WS_HANDSHAKE, len);
		for (size_t k = 0; k < cases[i].nfrag; k++)
			put_frame(out, &len,
				  k == 0 ? 0x01
					 : (k + 1 == cases[i].nfrag ? 0x80 : 0),
				  payload, cases[i].frag, cases[i].masked);
		raw_start(&fx, &raw, out, len);
		WAIT_UNTIL(&fx, raw.eof && fx.ws_closed == i + 1);
		ck_assert_uint_eq(fx.ws_messages, 0);
		f = frames_after_101(&raw);
		ck_assert_int_eq(f[0], 0x88);
		ck_assert_int_eq(f[2] << 8 | f[3], cases[i].code);
		raw_close(&fx, &raw);
	}
	free(out);
	free(payload);
	fx_finish(&fx);
}
END_TEST

START_TEST(unknown_version_505)
{
	struct fx fx;
	struct raw raw;

	fx_init(&fx);
	fx_start(&fx);
	raw_exchange(&fx, &raw, NULL, "GET /a HTTP/9.9\r\nHost: x\r\n\r\n");
	assert_raw_problem(&raw, " 505", "http-version-not-supported");
	raw_close(&fx, &raw);
	ck_assert_uint_eq(fx.requests, 0);
	fx_finish(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http-server");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, get_with_query_and_headers);
	tcase_add_test(tc, methods_with_bodies);
	tcase_add_test(tc, head_gets_headers_only);
	tcase_add_test(tc, async_answer);
	tcase_add_test(tc, body_too_large_by_length);
	tcase_add_test(tc, body_without_length);
	tcase_add_test(tc, uri_too_long);
	tcase_add_test(tc, headers_too_large);
	tcase_add_test(tc, too_many_connections);
	tcase_add_test(tc, large_response_intact);
	tcase_add_test(tc, keep_alive);
	tcase_add_test(tc, client_resets_before_answer);
	tcase_add_test(tc, client_closes_before_answer);
	tcase_add_test(tc, answer_after_server_close);
	tcase_add_test(tc, port_in_use);
	tcase_add_test(tc, ws_messages_both_ways);
	tcase_add_test(tc, ws_peer_closes);
	tcase_add_test(tc, ws_refused);
	tcase_add_test(tc, ws_refused_body);
	tcase_add_test(tc, ws_queue_cap_closes);
	tcase_add_test(tc, ws_total_cap_sheds);
	tcase_add_test(tc, ws_drop_discards_queue);
	tcase_add_test(tc, close_with_live_sockets);
	tcase_add_test(tc, slow_head_gets_408);
	tcase_add_test(tc, slow_peer_capped);
	tcase_add_test(tc, cap_exempt_paths_served);
	tcase_add_test(tc, cut_request_line_refused);
	tcase_add_test(tc, control_characters_refused);
	tcase_add_test(tc, unknown_version_505);
	tcase_add_test(tc, edge_refusals);
	tcase_add_test(tc, long_uri_and_many_params);
	tcase_add_test(tc, pipelining_and_continue);
	tcase_add_test(tc, ws_frames_raw);
	tcase_add_test(tc, ws_bad_frames_close);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
