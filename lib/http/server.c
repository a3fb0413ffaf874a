/* server.c: an HTTP/1.1 and WebSocket server directly on libuv. */
#include "http/server.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/parser.h"
#include "http/frame.h"
#include "util/buf.h"
#include "util/log.h"

/* What one read asks for at least. */
#define SERVER_READ_CHUNK (64u << 10)
/* Bytes of a next request read ahead while one is being answered
 * (pipelining); reading pauses past it. */
#define SERVER_MAX_AHEAD (64u << 10)
/* After a refusal the server stops writing but keeps reading, and
 * discards, for this long or this many bytes: closing at once with unread
 * input would make the kernel send a reset that can destroy the answer
 * before the client has read it. */
#define SERVER_LINGER_MS 2000u
#define SERVER_MAX_DISCARD (256u << 10)
/* A kept-alive connection idle this long is closed without an answer: an
 * unasked 408 could cross the client's next request on the wire. */
#define SERVER_KEEPALIVE_MS 5000u
/* Time between two pieces of a request body before 408. */
#define SERVER_BODY_TIMEOUT_MS 10000u
/* Time the peer has to answer our WebSocket close frame once it is
 * written, and to read what was written before it. */
#define SERVER_WS_CLOSE_MS 2000u
#define SERVER_WS_DRAIN_MS 10000u
/* Bytes of queued WebSocket messages handed to one write. */
#define SERVER_WS_BATCH (64u << 10)
/* The kernel's send buffer of a WebSocket: what it holds is invisible to
 * the queue caps, and left to autotuning it takes megabytes from a reader
 * that stalls, so that the caps would never shed it. */
#define SERVER_WS_SNDBUF (64 << 10)
#define SERVER_WS_BATCH_MSGS 64u
#define SERVER_MAX_PEER 64u
/* The challenge of 401 refusals the server writes itself (WebSocket
 * upgrades refused by ws_open). */
#define SERVER_AUTH_CHALLENGE "Bearer realm=\"welcomedly\""
/* What 501 answers name as implemented. */
#define SERVER_ALLOW "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
/* A WebSocket reassembly buffer that grew past this is released after its
 * message. */
#define SERVER_WS_RX_KEEP (16u << 10)
/* Once the WebSocket queues together are this much below their peak since
 * the last trim, the heap is trimmed: a queue is many small allocations,
 * which glibc keeps in the process after they are freed. */
#define SERVER_WS_TRIM_BYTES (4u << 20)
#define SERVER_WS_SHED_REASON "send queue over the cap"
#define SERVER_MAX_PROBLEM 1024u
#define SERVER_MAX_HEAD 1024u
#define SERVER_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

enum kept_header {
	HDR_AUTHORIZATION,
	HDR_CONTENT_TYPE,
	HDR_ACCEPT,
	HDR_RANGE,
	HDR_IF_NONE_MATCH,
	HDR_COUNT,
};

static const char *const kept_headers[HDR_COUNT] = {
    [HDR_AUTHORIZATION] = "authorization",
    [HDR_CONTENT_TYPE] = "content-type",
    [HDR_ACCEPT] = "accept",
    [HDR_RANGE] = "range",
    [HDR_IF_NONE_MATCH] = "if-none-match",
};

static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

enum req_state {
	REQ_WAITING,  /* with the callee, not answered yet */
	REQ_ANSWERED, /* the answer is being written */
};

struct http_request {
	struct conn *conn; /* NULL once the client has gone */
	enum req_state state;
	char method[HTTP_PARSER_MAX_METHOD + 1];
	char *path;
	char *query;
	char *args; /* the query's parameters, each NUL-terminated */
	size_t args_len;
	char *headers[HDR_COUNT];
	char *body;
	size_t body_len, body_cap;
	char peer[SERVER_MAX_PEER];
	void *data;
	bool head;
	bool keep_alive;
	int minor;

	/* The answer. */
	uv_write_t write;
	char *out_head;
	char *out_alloc; /* what to free */
	const char *out; /* the body */
	size_t out_len;
};

/* One message or control frame waiting to be written. */
struct ws_msg {
	struct ws_msg *next;
	size_t len;  /* payload bytes, counted against the caps */
	size_t size; /* frame bytes */
	unsigned char frame[];
};

/* Messages handed to one uv_write. */
struct ws_batch {
	uv_write_t write;
	struct conn *conn;
	size_t len; /* payload bytes */
	struct ws_msg *msgs;
	unsigned n;
	uv_buf_t bufs[SERVER_WS_BATCH_MSGS];
};

struct http_ws {
	struct conn *conn; /* NULL once ws_closed has run */
	void *data;
	struct ws_msg *head, *tail;
	size_t queued;   /* payload bytes in the queue */
	size_t inflight; /* payload bytes being written */
	char *rx;
	size_t rx_len, rx_cap;
	bool in_message;
	bool closing;    /* no more sends; a close frame goes after the queue */
	bool close_sent; /* our close frame is written */
	bool close_seen; /* the peer's close frame arrived */
	bool open;       /* the 101 is written */
	int close_code;
	char close_reason[HTTP_FRAME_MAX_REASON + 1];
};

enum conn_state {
	CONN_HEAD,    /* reading a request head */
	CONN_BODY,    /* reading a request body */
	CONN_WAITING, /* the request is with the callee or being answered */
	CONN_WS,      /* a WebSocket */
	CONN_LINGER,  /* refused: reading and dropping until closed */
	CONN_CLOSED,  /* uv handles closing */
};

/* One TCP connection, from accept until its handles have closed. */
struct conn {
	struct http_server *server;
	struct conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	int handles; /* open uv handles */
	enum conn_state state;
	bool over_cap;
	bool over_peer;  /* past max_pending_per_peer when accepted */
	bool pending;    /* no request head in yet */
	bool reading;    /* uv_read_start is in effect */
	bool want_flush; /* WebSocket messages wait for the idle turn */
	bool writing;    /* a WebSocket batch is being written */
	bool served;     /* answered one request at least */
	char peer[SERVER_MAX_PEER];
	char *in;
	size_t in_len, in_cap;
	size_t discarded;
	uint64_t body_left;
	struct http_request *req; /* the current request, if any */
	struct http_ws *ws;       /* set once upgraded */
};

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_idle_t kick; /* writes queued WebSocket messages */
	int handles;    /* open uv handles, connections' included */
	struct http_server_callbacks cbs;
	void *userdata;
	char *ws_path;
	int port;
	size_t max_body;
	size_t max_header;
	unsigned max_connections;
	size_t max_ws_queue;
	size_t max_ws_total;
	size_t ws_queued; /* bytes queued to all WebSockets */
	size_t ws_peak;   /* the most queued since the last trim */
	char shed_reason[HTTP_FRAME_MAX_REASON + 1];
	unsigned max_pending_per_peer;
	unsigned header_timeout_ms;
	const char *const *cap_exempt;
	struct conn *conns;
	unsigned n_conns;
	unsigned n_capped; /* the connections counted against the cap */
	bool closing;
};

static void conn_close(struct conn *c);
static void conn_process(struct conn *c);
static void on_kick(uv_idle_t *idle);

/* ---- requests ---- */

static void request_free(struct http_request *req)
{
	if (!req)
		return;
	free(req->path);
	free(req->query);
	free(req->args);
	for (int i = 0; i < HDR_COUNT; i++)
		free(req->headers[i]);
	free(req->body);
	free(req->out_head);
	free(req->out_alloc);
	free(req);
}

static int copy_headers(struct http_request *req, const struct http_head *h)
{
	const char *v;

	for (int i = 0; i < HDR_COUNT; i++) {
		v = http_parser_field(h, kept_headers[i]);
		if (v && !(req->headers[i] = strdup(v)))
			return -ENOMEM;
	}
	return 0;
}

/* Builds a request from a parsed head and its decoded path; path is
 * taken. Returns 0, -EINVAL or -E2BIG for a bad query, or -ENOMEM. */
static int request_new(struct conn *c, const struct http_head *h, char *path,
		       struct http_request **ret_req)
{
	struct http_request *req = calloc(1, sizeof(*req));
	int r;

	if (!req) {
		free(path);
		return -ENOMEM;
	}
	req->conn = c;
	req->path = path;
	memcpy(req->method, h->method, sizeof(req->method));
	req->head = strcmp(h->method, "HEAD") == 0;
	req->keep_alive = h->keep_alive;
	req->minor = h->minor;
	snprintf(req->peer, sizeof(req->peer), "%s", c->peer);
	r = http_parser_query(h->target, h->target_len, &req->args,
			      &req->args_len, &req->query);
	if (r == 0)
		r = copy_headers(req, h);
	if (r < 0) {
		request_free(req);
		return r;
	}
	*ret_req = req;
	return 0;
}

/* ---- writing ---- */

static const char *reason_phrase(int status)
{
	static const struct {
		int status;
		const char *text;
	} phrases[] = {
	    {100, "Continue"},
	    {101, "Switching Protocols"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {206, "Partial Content"},
	    {301, "Moved Permanently"},
	    {302, "Found"},
	    {304, "Not Modified"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {406, "Not Acceptable"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {410, "Gone"},
	    {411, "Length Required"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {416, "Range Not Satisfiable"},
	    {422, "Unprocessable Content"},
	    {426, "Upgrade Required"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	    {505, "HTTP Version Not Supported"},
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++) {
		if (phrases[i].status == status)
			return phrases[i].text;
	}
	return "Unknown";
}

/* The slug and title of a problem the server answers by itself. */
static void problem_names(int status, const char **ret_slug,
			  const char **ret_title)
{
	static const struct {
		int status;
		const char *slug, *title;
	} names[] = {
	    {401, "unauthorized", "Unauthorized"},
	    {403, "forbidden", "Forbidden"},
	    {404, "not-found", "Not found"},
	    {408, "request-timeout", "Request timeout"},
	    {411, "length-required", "Length required"},
	    {413, "body-too-large", "Body too large"},
	    {414, "uri-too-long", "URI too long"},
	    {426, "upgrade-required", "Upgrade required"},
	    {429, "rate-limited", "Too many requests"},
	    {431, "header-fields-too-large", "Header fields too large"},
	    {500, "internal", "Internal error"},
	    {501, "not-implemented", "Not implemented"},
	    {503, "unavailable", "Unavailable"},
	    {505, "http-version-not-supported", "HTTP version not supported"},
	};

	*ret_slug = "bad-request";
	*ret_title = "Bad request";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].status == status) {
			*ret_slug = names[i].slug;
			*ret_title = names[i].title;
		}
	}
}

/* Copies s into out as the inside of a JSON string, cut short rather than
 * overflow. */
static void json_escape(char *out, size_t size, const char *s)
{
	size_t pos = 0;

	for (; *s && pos + 7 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			pos +=
			    (size_t)snprintf(out + pos, size - pos, "\\%c", ch);
		else if (ch < 0x20)
			pos += (size_t)snprintf(out + pos, size - pos,
						"\\u%04x", ch);
		else
			out[pos++] = (char)ch;
	}
	out[pos] = '\0';
}

/* One write of bytes the server made up itself; freed once written. */
struct raw_write {
	uv_write_t write;
	struct conn *conn;
	size_t len;
	char data[];
};

static void on_raw_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
}

/* Writes len bytes (copied); cb (on_raw_written or one that calls it)
 * frees them. */
static int write_raw_cb(struct conn *c, const char *data, size_t len,
			uv_write_cb cb)
{
	struct raw_write *rw = malloc(sizeof(*rw) + len);
	uv_buf_t buf;
	int r;

	if (!rw)
		return -ENOMEM;
	memcpy(rw->data, data, len);
	rw->len = len;
	rw->conn = c;
	rw->write.data = rw;
	buf = uv_buf_init(rw->data, (unsigned)len);
	r = uv_write(&rw->write, (uv_stream_t *)&c->tcp, &buf, 1, cb);
	if (r < 0)
		free(rw);
	return r;
}

static int write_raw(struct conn *c, const char *data, size_t len)
{
	return write_raw_cb(c, data, len, on_raw_written);
}

static void on_linger_timer(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
	(void)s;
	(void)status;
}

/* Stops writing; what the client still sends is read and dropped until it
 * closes, or the linger time or byte cap runs out. */
static void linger(struct conn *c)
{
	c->state = CONN_LINGER;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) <
	    0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_linger_timer, SERVER_LINGER_MS, 0);
}

/*
 * Answers with a problem and closes: the connection is not used for
 * another request, since what the peer sends next (a body we refused)
 * cannot be trusted to frame one. extra: header lines or NULL.
 */
static void refuse(struct conn *c, int status, const char *detail,
		   const char *extra)
{
	char body[SERVER_MAX_PROBLEM], text[SERVER_MAX_PROBLEM / 2];
	char msg[SERVER_MAX_HEAD + SERVER_MAX_PROBLEM];
	const char *slug, *title;
	int blen, n;

	problem_names(status, &slug, &title);
	json_escape(text, sizeof(text), detail);
	blen = snprintf(body, sizeof(body),
			"{\"type\":\"urn:welcomedly:problem:%s\",\"title\":"
			"\"%s\",\"status\":%d,\"detail\":\"%s\"}",
			slug, title, status, text);
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %d %s\r\ncontent-type: application/problem+json"
		     "\r\ncontent-length: %d\r\nconnection: close\r\n%s%s\r\n"
		     "%s",
		     status, reason_phrase(status), blen,
		     status == 401 ? "www-authenticate: " SERVER_AUTH_CHALLENGE
				     "\r\n"
				   : "",
		     extra ? extra : "", body);
	log_debug("http: refused status=%d problem=%s peer=%s", status, slug,
		  c->peer);
	request_free(c->req);
	c->req = NULL;
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    write_raw(c, msg, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	linger(c);
}

static int format_head(struct http_request *req, int status,
		       const char *content_type, const char *headers)
{
	bool close = !req->keep_alive || req->conn->server->closing;
	size_t size = SERVER_MAX_HEAD + (headers ? strlen(headers) : 0) +
		      (content_type ? strlen(content_type) : 0);
	char *h = malloc(size), length[48] = "";
	int n;

	if (!h)
		return -ENOMEM;
	if (status != 204 && status != 304)
		snprintf(length, sizeof(length), "content-length: %zu\r\n",
			 req->out_len);
	n = snprintf(h, size, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s\r\n", status,
		     reason_phrase(status),
		     content_type ? "content-type: " : "",
		     content_type ? content_type : "",
		     content_type ? "\r\n" : "", length,
		     close             ? "connection: close\r\n"
		     : req->minor == 0 ? "connection: keep-alive\r\n"
				       : "",
		     headers ? headers : "");
	if (n < 0 || (size_t)n >= size) {
		free(h);
		return -ENOMEM;
	}
	req->keep_alive = !close;
	req->out_head = h;
	return 0;
}

static void resume_reading(struct conn *c);
static void timer_arm(struct conn *c, unsigned ms);

/* The answer is out (or failed): the connection reads its next request, or
 * closes. */
static void on_answer_written(uv_write_t *w, int status)
{
	struct http_request *req = w->data;
	struct conn *c = req->conn;
	bool keep = req->keep_alive;

	request_free(req);
	if (!c)
		return;
	c->req = NULL;
	if (status < 0 || !keep) {
		conn_close(c);
		return;
	}
	c->served = true;
	c->state = CONN_HEAD;
	timer_arm(c, SERVER_KEEPALIVE_MS);
	resume_reading(c);
	conn_process(c);
}

/* Hands the answer to the socket, or frees req when nobody is left to read
 * it. */
static void answer(struct http_request *req)
{
	struct conn *c = req->conn;
	uv_buf_t bufs[2];
	unsigned n = 1;

	if (!c) {
		request_free(req);
		return;
	}
	req->state = REQ_ANSWERED;
	bufs[0] = uv_buf_init(req->out_head, (unsigned)strlen(req->out_head));
	if (req->out_len && !req->head)
		bufs[n++] =
		    uv_buf_init((char *)req->out, (unsigned)req->out_len);
	req->write.data = req;
	if (uv_write(&req->write, (uv_stream_t *)&c->tcp, bufs, n,
		     on_answer_written) < 0) {
		c->req = NULL;
		req->conn = NULL;
		request_free(req);
		conn_close(c);
	}
}

/* ---- the header timer ---- */

static void on_conn_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->state == CONN_HEAD && c->served && c->in_len == 0) {
		conn_close(c);
		return;
	}
	if (c->state == CONN_HEAD || c->state == CONN_BODY)
		refuse(c, 408, "The request did not arrive in time.", NULL);
}

static void timer_arm(struct conn *c, unsigned ms)
{
	uv_timer_start(&c->timer, on_conn_timer, ms, 0);
}

/* A request head is in: its wait ends, and a connection past the
 * per-address cap takes a place under max_connections if one is free, so
 * that a burst of fast clients from one address is served all the same. */
static void head_in(struct conn *c)
{
	struct http_server *server = c->server;

	c->pending = false;
	uv_timer_stop(&c->timer);
	if (c->over_peer && server->n_capped < server->max_connections) {
		c->over_peer = false;
		server->n_capped++;
	}
}

/* ---- the HTTP side ---- */

static void deliver(struct conn *c)
{
	struct http_server *server = c->server;
	struct http_request *req = c->req;

	c->state = CONN_WAITING;
	req->state = REQ_WAITING;
	uv_timer_stop(&c->timer);
	if (!req->body && !(req->body = strdup(""))) {
		http_server_request_respond(req, 500, NULL, NULL, NULL, 0);
		return;
	}
	log_debug("http: request method=%s path=%s peer=%s", req->method,
		  req->path, req->peer);
	server->cbs.request(req, server->userdata);
}

static bool method_known(const char *m)
{
	for (size_t i = 0; i < sizeof(known_methods) / sizeof(*known_methods);
	     i++) {
		if (strcmp(known_methods[i], m) == 0)
			return true;
	}
	return false;
}

static bool cap_exempt(const struct http_server *server, const char *path)
{
	for (const char *const *p = server->cap_exempt; p && *p; p++) {
		if (strcmp(*p, path) == 0)
			return true;
	}
	return false;
}

struct verdict {
	int status; /* 0: serve */
	const char *detail;
	const char *extra; /* header lines */
};

/* What the server refuses by itself, after the head parsed, in the order
 * the checks run. */
static bool screen_method(const struct http_head *h, struct verdict *v)
{
	v->extra = "allow: " SERVER_ALLOW "\r\n";
	v->status = 501;
	if (!method_known(h->method))
		v->detail = "This method is not supported.";
	else if (strcmp(h->target, "*") == 0)
		v->detail = "Ask about a path: OPTIONS * is not supported.";
	else
		v->status = 0;
	if (v->status)
		return true;
	v->extra = NULL;
	if (h->target[0] != '/') {
		v->status = 400;
		v->detail = "The request target must be a path.";
		return true;
	}
	return false;
}

static bool screen_framing(const struct conn *c, const struct http_head *h,
			   struct verdict *v)
{
	bool needs = !strcmp(h->method, "POST") || !strcmp(h->method, "PUT") ||
		     !strcmp(h->method, "PATCH");

	if (h->te == HTTP_PARSER_TE_CHUNKED)
		*v = (struct verdict){
		    411, "Send the body with a Content-Length.", NULL};
	else if (h->te == HTTP_PARSER_TE_OTHER)
		*v = (struct verdict){
		    501, "This Transfer-Encoding is not supported.", NULL};
	else if (needs && !h->has_length)
		*v = (struct verdict){
		    411, "Send the body with a Content-Length.", NULL};
	else if (h->has_length && h->length > c->server->max_body)
		*v = (struct verdict){413, "The body is larger than allowed.",
				      NULL};
	else
		return false;
	return true;
}

static void screen(const struct conn *c, const struct http_head *h,
		   const char *path, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (screen_method(h, v))
		return;
	if (!path) {
		v->status = 400;
		v->detail = "The path holds a bad escape or a control "
			    "character.";
	} else if ((c->over_cap || c->over_peer) &&
		   !cap_exempt(c->server, path)) {
		v->status = 503;
		v->detail = "The server is busy or shutting down.";
	} else if (strlen(path) > HTTP_SERVER_MAX_PATH) {
		v->status = 414;
		v->detail = "The path is too long.";
	} else {
		screen_framing(c, h, v);
	}
}

static void handle_upgrade(struct conn *c, const struct http_head *h,
			   struct http_request *req);

/* A whole head is in buf (len bytes and a NUL): screens it, builds the
 * request and starts reading its body or delivers it. */
static void handle_head(struct conn *c, char *buf, size_t len)
{
	struct http_head h;
	struct verdict v;
	struct http_request *req;
	const char *detail;
	char *path = NULL;
	int r;

	head_in(c);
	r = http_parser_parse(buf, len, &h, &detail);
	if (r) {
		refuse(c, r, detail, NULL);
		return;
	}
	if (c->server->closing) {
		refuse(c, 503, "The server is busy or shutting down.", NULL);
		return;
	}
	if (h.target[0] == '/' &&
	    http_parser_path(h.target, h.target_len, &path) == -ENOMEM) {
		refuse(c, 500, "The server ran out of memory.", NULL);
		return;
	}
	screen(c, &h, path, &v);
	if (v.status) {
		free(path);
		refuse(c, v.status, v.detail, v.extra);
		return;
	}
	r = request_new(c, &h, path, &req);
	if (r < 0) {
		refuse(c,
		       r == -ENOMEM  ? 500
		       : r == -E2BIG ? 414
				     : 400,
		       r == -ENOMEM  ? "The server ran out of memory."
		       : r == -E2BIG ? "The query has too many parameters."
				     : "The query holds a bad escape or a "
				       "control character.",
		       NULL);
		return;
	}
	if (h.upgrade_ws) {
		handle_upgrade(c, &h, req);
		return;
	}
	c->req = req;
	c->body_left = h.has_length ? h.length : 0;
	if (c->body_left == 0) {
		deliver(c);
		return;
	}
	c->state = CONN_BODY;
	timer_arm(c, SERVER_BODY_TIMEOUT_MS);
	if (h.expect_continue && h.minor == 1 &&
	    write_raw(c, SERVER_CONTINUE, strlen(SERVER_CONTINUE)) < 0)
		conn_close(c);
}

/* Drops n bytes from the front of the input. */
static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

static void process_head(struct conn *c)
{
	long end =
	    http_parser_head_end(c->in, c->in_len, c->server->max_header);
	char *head;

	if (end == 0)
		return;
	if (end < 0) {
		head_in(c);
		refuse(c, (int)-end,
		       end == -414   ? "The request line is too long."
		       : end == -431 ? "The request head is too large."
				     : "A line ends in a bare LF.",
		       NULL);
		return;
	}
	head = malloc((size_t)end + 1);
	if (!head) {
		refuse(c, 500, "The server ran out of memory.", NULL);
		return;
	}
	memcpy(head, c->in, (size_t)end);
	head[end] = '\0';
	consume(c, (size_t)end);
	handle_head(c, head, (size_t)end);
	free(head);
}

static void process_body(struct conn *c)
{
	struct http_request *req = c->req;
	size_t n = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
	int r;

	r = buf_append(&req->body, &req->body_len, &req->body_cap, c->in, n,
		       c->server->max_body);
	if (r < 0) {
		refuse(c, r == -EMSGSIZE ? 413 : 500,
		       r == -EMSGSIZE ? "The body is larger than allowed."
				      : "The server ran out of memory.",
		       NULL);
		return;
	}
	consume(c, n);
	c->body_left -= n;
	if (c->body_left == 0)
		deliver(c);
	else
		timer_arm(c, SERVER_BODY_TIMEOUT_MS);
}

static void ws_process(struct conn *c);

/* Runs the connection's state machine over what is in its input. */
static void conn_process(struct conn *c)
{
	enum conn_state before;

	do {
		before = c->state;
		if (c->state == CONN_HEAD && c->in_len)
			process_head(c);
		else if (c->state == CONN_BODY && c->in_len)
			process_body(c);
		else if (c->state == CONN_WS && c->in_len)
			ws_process(c);
		else
			break;
	} while (c->state != before);
	if (c->state == CONN_WAITING && c->in_len >= SERVER_MAX_AHEAD &&
	    c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

/* ---- WebSockets ---- */

static void ws_trim(struct http_server *server)
{
	if (server->ws_peak < server->ws_queued + SERVER_WS_TRIM_BYTES)
		return;
	server->ws_peak = server->ws_queued;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Frees what is queued to ws and not yet being written. */
static void ws_discard(struct http_ws *ws)
{
	struct ws_msg *m;

	while ((m = ws->head)) {
		ws->head = m->next;
		free(m);
	}
	ws->tail = NULL;
	if (ws->conn)
		ws->conn->server->ws_queued -= ws->queued;
	ws->queued = 0;
}

static void ws_free(struct http_ws *ws)
{
	ws_discard(ws);
	free(ws->rx);
	free(ws);
}

/* Runs ws_closed once and detaches ws from its connection. */
static void ws_finish(struct conn *c)
{
	struct http_ws *ws = c->ws;
	struct http_server *server = c->server;

	ws_discard(ws);
	ws_trim(server);
	c->ws = NULL;
	ws->conn = NULL;
	log_debug("http: websocket closed");
	server->cbs.ws_closed(ws, server->userdata);
	ws_free(ws);
}

static void kick(struct conn *c)
{
	if (c->want_flush || c->state == CONN_CLOSED)
		return;
	c->want_flush = true;
	uv_idle_start(&c->server->kick, on_kick);
}

static void ws_flush(struct conn *c);

static void on_close_timer(uv_timer_t *t)
{
	conn_close(t->data);
}

/* The close frame is out: the peer has a short time to answer it. */
static void on_close_written(uv_write_t *w, int status)
{
	struct raw_write *rw = w->data;
	struct conn *c = rw->conn;

	on_raw_written(w, status);
	if (status == 0 && c->state == CONN_WS)
		uv_timer_start(&c->timer, on_close_timer, SERVER_WS_CLOSE_MS,
			       0);
}

/* Writes a close frame (once) after what is being written; a peer that
 * does not read that far in SERVER_WS_DRAIN_MS is cut off. */
static void ws_send_close(struct conn *c, int code, const char *reason)
{
	unsigned char frame[HTTP_FRAME_MAX_HEADER + HTTP_FRAME_MAX_CONTROL];
	size_t n = http_frame_close(frame, code, reason);

	if (c->ws)
		c->ws->close_sent = true;
	if (write_raw_cb(c, (char *)frame, n, on_close_written) < 0) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_close_timer, SERVER_WS_DRAIN_MS, 0);
}

static void on_batch_written(uv_write_t *w, int status)
{
	struct ws_batch *b = w->data;
	struct conn *c = b->conn;
	struct ws_msg *m;

	c->server->ws_queued -= b->len;
	while ((m = b->msgs)) {
		b->msgs = m->next;
		free(m);
	}
	free(b);
	c->writing = false;
	if (c->ws)
		c->ws->inflight = 0;
	ws_trim(c->server);
	if (c->state == CONN_CLOSED)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	ws_flush(c);
}

/* Takes up to a batch off the queue into one write. */
static int ws_write_batch(struct conn *c, struct http_ws *ws)
{
	struct ws_batch *b = calloc(1, sizeof(*b));
	struct ws_msg **tail;
	size_t bytes = 0;
	int r;

	if (!b)
		return -ENOMEM;
	b->conn = c;
	tail = &b->msgs;
	while (ws->head && b->n < SERVER_WS_BATCH_MSGS &&
	       bytes < SERVER_WS_BATCH) {
		struct ws_msg *m = ws->head;

		ws->head = m->next;
		m->next = NULL;
		*tail = m;
		tail = &m->next;
		b->bufs[b->n++] =
		    uv_buf_init((char *)m->frame, (unsigned)m->size);
		b->len += m->len;
		bytes += m->size;
	}
	if (!ws->head)
		ws->tail = NULL;
	ws->queued -= b->len;
	ws->inflight = b->len;
	b->write.data = b;
	c->writing = true;
	r = uv_write(&b->write, (uv_stream_t *)&c->tcp, b->bufs, b->n,
		     on_batch_written);
	if (r < 0) {
		/* The callback never runs: account as it would. */
		b->write.data = b;
		c->writing = false;
		on_batch_written(&b->write, r);
	}
	return 0;
}

/* Writes what is queued, one batch at a time; once the queue of a closing
 * socket is empty, its close frame. */
static void ws_flush(struct conn *c)
{
	struct http_ws *ws = c->ws;

	if (!ws || c->writing || ws->close_sent || c->state != CONN_WS)
		return;
	if (ws->head) {
		if (ws_write_batch(c, ws) < 0)
			conn_close(c);
		return;
	}
	if (ws->closing)
		ws_send_close(c, ws->close_code, ws->close_reason);
}

static void on_kick(uv_idle_t *idle)
{
	struct http_server *server = idle->data;
	struct conn *next;

	uv_idle_stop(idle);
	for (struct conn *c = server->conns; c; c = next) {
		next = c->next;
		if (!c->want_flush)
			continue;
		c->want_flush = false;
		ws_flush(c);
	}
}

static void ws_deliver(struct conn *c, struct http_ws *ws)
{
	struct http_server *server = c->server;

	ws->rx[ws->rx_len] = '\0';
	ws->in_message = false;
	if (server->cbs.ws_message)
		server->cbs.ws_message(ws, ws->rx, ws->rx_len,
				       server->userdata);
	/* The callback may have closed ws; only its buffer is ours here. */
	if (ws->rx_cap > SERVER_WS_RX_KEEP) {
		free(ws->rx);
		ws->rx = NULL;
		ws->rx_cap = 0;
	}
	ws->rx_len = 0;
}

/* Ends the socket for a protocol error of the peer's: a close frame now,
 * nothing more read. */
static void ws_fail(struct conn *c, int code, const char *reason)
{
	struct http_ws *ws = c->ws;

	log_debug("http: websocket failed code=%d reason=%s", code, reason);
	ws_discard(ws);
	ws->closing = true;
	if (!ws->close_sent)
		ws_send_close(c, code, reason);
}

static void ws_on_control(struct conn *c, const struct http_frame *f)
{
	struct http_ws *ws = c->ws;
	unsigned char frame[HTTP_FRAME_MAX_HEADER + HTTP_FRAME_MAX_CONTROL];
	size_t n;

	if (f->opcode == HTTP_FRAME_PING) {
		if (ws->close_sent)
			return;
		n = http_frame_header(frame, HTTP_FRAME_PONG, f->len);
		memcpy(frame + n, f->payload, f->len);
		if (write_raw(c, (char *)frame, n + f->len) < 0)
			conn_close(c);
	} else if (f->opcode == HTTP_FRAME_CLOSE) {
		ws->close_seen = true;
		if (ws->close_sent) {
			conn_close(c);
			return;
		}
		/* Echo the peer's code (RFC 6455 5.5.1), then close once it is
		 * written: the server closes the TCP connection first. */
		ws_discard(ws);
		ws->closing = true;
		ws_send_close(c, http_frame_close_code(f->payload, f->len), "");
		if (c->state == CONN_WS &&
		    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp,
				on_shutdown) < 0)
			conn_close(c);
	}
}

static void ws_on_data(struct conn *c, const struct http_frame *f)
{
	struct http_ws *ws = c->ws;
	int r;

	if ((f->opcode == HTTP_FRAME_CONT) != ws->in_message) {
		ws_fail(c, HTTP_FRAME_CLOSE_PROTOCOL,
			"unexpected continuation");
		return;
	}
	if (!ws->in_message) {
		ws->in_message = true;
		ws->rx_len = 0;
	}
	/* Even an empty frame allocates the buffer, so a whole message
	 * always has one. */
	r = buf_append(&ws->rx, &ws->rx_len, &ws->rx_cap, f->payload, f->len,
		       HTTP_SERVER_MAX_WS_MESSAGE);
	if (r < 0) {
		ws_fail(c,
			r == -EMSGSIZE ? HTTP_FRAME_CLOSE_TOO_BIG
				       : HTTP_FRAME_CLOSE_ERROR,
			r == -EMSGSIZE ? "message too large" : "out of memory");
		return;
	}
	if (f->fin)
		ws_deliver(c, ws);
}

/* Reads every whole frame in the input. */
static void ws_process(struct conn *c)
{
	struct http_frame f;
	long n;

	while (c->state == CONN_WS && c->ws && c->in_len) {
		n = http_frame_parse((unsigned char *)c->in, c->in_len,
				     HTTP_SERVER_MAX_WS_MESSAGE, &f);
		if (n == 0)
			return;
		if (n < 0) {
			ws_fail(c, (int)-n,
				-n == HTTP_FRAME_CLOSE_TOO_BIG
				    ? "message too large"
				    : "protocol error");
			c->in_len = 0;
			return;
		}
		if (f.opcode >= HTTP_FRAME_CLOSE)
			ws_on_control(c, &f);
		else if (!c->ws->close_sent)
			ws_on_data(c, &f);
		if (c->state == CONN_WS)
			consume(c, (size_t)n);
	}
}

/* Checks the handshake's own headers: 0, or the refusal's status. */
static int ws_check(const struct http_head *h, char *ret_accept,
		    const char **ret_detail, const char **ret_extra)
{
	const char *key = http_parser_field(h, "sec-websocket-key");
	const char *version = http_parser_field(h, "sec-websocket-version");

	*ret_extra = NULL;
	if (strcmp(h->method, "GET") || !h->connection_upgrade) {
		*ret_detail = "A WebSocket opens with GET and Connection: "
			      "Upgrade.";
		return 400;
	}
	if (!version || strcmp(version, "13")) {
		*ret_detail = "Use WebSocket version 13.";
		*ret_extra = "sec-websocket-version: 13\r\n";
		return 426;
	}
	if (!key || http_frame_accept(key, ret_accept) < 0) {
		*ret_detail = "The Sec-WebSocket-Key is not a valid key.";
		return 400;
	}
	return 0;
}

/* Asks the callee about the upgrade; returns 0 once accepted (c->ws is
 * then set), the status of a refusal, or -ENOMEM. */
static int ws_ask(struct conn *c, struct http_request *req,
		  const char **ret_detail)
{
	struct http_server *server = c->server;
	struct http_ws *ws = calloc(1, sizeof(*ws));
	int status;

	if (!ws)
		return -ENOMEM;
	ws->conn = c;
	c->ws = ws;
	c->state = CONN_WS;
	status = server->cbs.ws_open(ws, req, ret_detail, server->userdata);
	if (status != 0) {
		c->ws = NULL;
		c->state = CONN_HEAD;
		ws->conn = NULL;
		ws_free(ws);
		if (status < 400 || status > 599)
			status = 400;
		return status;
	}
	log_debug("http: websocket accepted");
	return 0;
}

static void handle_upgrade(struct conn *c, const struct http_head *h,
			   struct http_request *req)
{
	struct http_server *server = c->server;
	char accept[HTTP_FRAME_ACCEPT_LEN + 1], msg[256];
	const char *detail = NULL, *extra;
	int status, n;

	if (!server->ws_path || strcmp(server->ws_path, req->path)) {
		request_free(req);
		refuse(c, 404, "There is no WebSocket at this path.", NULL);
		return;
	}
	status = ws_check(h, accept, &detail, &extra);
	if (status == 0)
		status = ws_ask(c, req, &detail);
	request_free(req);
	if (status != 0) {
		refuse(c, status < 0 ? 500 : status,
		       detail ? detail : "The upgrade was refused.", extra);
		return;
	}
	uv_send_buffer_size((uv_handle_t *)&c->tcp, &(int){SERVER_WS_SNDBUF});
	n = snprintf(
	    msg, sizeof(msg),
	    "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n"
	    "connection: Upgrade\r\nsec-websocket-accept: %s\r\n\r\n",
	    accept);
	if (write_raw(c, msg, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	/* What ws_open queued goes after the 101. */
	c->ws->open = true;
	if (c->ws->head || c->ws->closing)
		kick(c);
}

/* ---- connections ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	size_t want = c->in_len + SERVER_READ_CHUNK;
	char *p;

	(void)hint;
	if (c->in_cap < want) {
		p = realloc(c->in, want);
		if (!p) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->in = p;
		c->in_cap = want;
	}
	*buf =
	    uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* The input buffer grows by reads; one that grew for a large body is
 * released once it is empty again. */
static void shrink_input(struct conn *c)
{
	if (c->in_len == 0 && c->in_cap > 2 * SERVER_READ_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	(void)buf;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (c->state == CONN_LINGER) {
		c->discarded += (size_t)n;
		if (c->discarded > SERVER_MAX_DISCARD)
			conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	conn_process(c);
	if (c->state != CONN_CLOSED)
		shrink_input(c);
}

static void resume_reading(struct conn *c)
{
	if (c->reading || c->state == CONN_CLOSED)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = true;
}

static void server_maybe_free(struct http_server *server);

static void on_conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct http_server *server = c->server;

	if (--c->handles > 0)
		return;
	free(c->in);
	free(c);
	server->handles--;
	server_maybe_free(server);
}

/* Connections from peer still waiting for their request head. */
static unsigned pending_from(const struct http_server *server, const char *peer)
{
	unsigned n = 0;

	for (const struct conn *c = server->conns; c; c = c->next)
		n += c->pending && strcmp(c->peer, peer) == 0;
	return n;
}

/* Ends the connection once: an unanswered request stays with the callee,
 * marked abandoned; ws_closed runs for a WebSocket. */
static void conn_close(struct conn *c)
{
	struct http_server *server = c->server;

	enum conn_state before = c->state;

	if (before == CONN_CLOSED)
		return;
	c->state = CONN_CLOSED;
	if (c->prev)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	server->n_conns--;
	if (!c->over_peer)
		server->n_capped--;
	if (c->req && before == CONN_BODY) {
		request_free(c->req);
	} else if (c->req) {
		/* The callee answers it, or its write callback frees it. */
		c->req->conn = NULL;
	}
	c->req = NULL;
	if (c->ws)
		ws_finish(c);
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t size)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	out[0] = '\0';
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET)
		uv_ip4_name((struct sockaddr_in *)&ss, out, size);
	else if (ss.ss_family == AF_INET6)
		uv_ip6_name((struct sockaddr_in6 *)&ss, out, size);
}

/* A connection past the per-address cap does not take one of the
 * max_connections places while it has not sent its head, so that one
 * address that opens many and sends slowly (slowloris) cannot lock the
 * others out; the header timeout ends it. */
static void conn_admit(struct http_server *server, struct conn *c)
{
	peer_name(&c->tcp, c->peer, sizeof(c->peer));
	c->over_peer =
	    pending_from(server, c->peer) >= server->max_pending_per_peer;
	c->next = server->conns;
	if (c->next)
		c->next->prev = c;
	server->conns = c;
	server->n_conns++;
	if (!c->over_peer)
		c->over_cap = ++server->n_capped > server->max_connections;
	c->pending = true;
	timer_arm(c, server->header_timeout_ms);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct http_server *server = listener->data;
	struct conn *c;

	if (status < 0 || server->closing || !(c = calloc(1, sizeof(*c))))
		return;
	c->server = server;
	c->tcp.data = c->timer.data = c;
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->handles = 2;
	server->handles++;
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
		c->state = CONN_CLOSED;
		uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
		uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	conn_admit(server, c);
	resume_reading(c);
}

/* ---- public API: requests ---- */

const char *http_server_request_method(const struct http_request *req)
{
	return req->method;
}

const char *http_server_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_server_request_query(const struct http_request *req)
{
	return req->query;
}

int http_server_request_param(const struct http_request *req, const char *name,
			      char *buf, size_t size)
{
	size_t nlen = strlen(name), vlen;
	const char *arg, *value;

	for (size_t off = 0; off < req->args_len; off += strlen(arg) + 1) {
		arg = req->args + off;
		if (strncmp(arg, name, nlen) != 0 ||
		    (arg[nlen] != '=' && arg[nlen] != '\0'))
			continue;
		value = arg[nlen] == '=' ? arg + nlen + 1 : "";
		vlen = strlen(value);
		if (vlen + 1 > size)
			return -ENOSPC;
		memcpy(buf, value, vlen + 1);
		return (int)vlen;
	}
	return -ENOENT;
}

const char *http_server_request_header(const struct http_request *req,
				       const char *name)
{
	for (int i = 0; i < HDR_COUNT; i++) {
		if (strcmp(kept_headers[i], name) == 0)
			return req->headers[i];
	}
	return NULL;
}

const char *http_server_request_body(const struct http_request *req,
				     size_t *ret_len)
{
	if (ret_len)
		*ret_len = req->body ? req->body_len : 0;
	return req->body ? req->body : "";
}

const char *http_server_request_peer(const struct http_request *req)
{
	return req->peer;
}

void http_server_request_set_data(struct http_request *req, void *data)
{
	req->data = data;
}

void *http_server_request_get_data(const struct http_request *req)
{
	return req->data;
}

bool http_server_request_abandoned(const struct http_request *req)
{
	return req->conn == NULL;
}

/* The bare 500 that stands in when the real answer cannot be built. */
static void answer_500(struct http_request *req)
{
	static char head[] = "HTTP/1.1 500 Internal Server Error\r\n"
			     "content-length: 0\r\nconnection: close\r\n\r\n";

	free(req->out_alloc);
	free(req->out_head);
	req->out_alloc = NULL;
	req->out = NULL;
	req->out_len = 0;
	req->keep_alive = false;
	req->out_head = strdup(head);
	if (!req->out_head) {
		struct conn *c = req->conn;

		c->req = NULL;
		request_free(req);
		conn_close(c);
		return;
	}
	answer(req);
}

int http_server_request_respond(struct http_request *req, int status,
				const char *content_type, const char *headers,
				const void *body, size_t len)
{
	char *buf;

	if (!req->conn) {
		request_free(req);
		return 0;
	}
	buf = malloc(len + 1);
	return http_server_request_respond_take(
	    req, status, content_type, headers,
	    buf ? (len ? memcpy(buf, body, len) : buf) : NULL,
	    buf ? len : (size_t)-1);
}

int http_server_request_respond_take(struct http_request *req, int status,
				     const char *content_type,
				     const char *headers, char *body,
				     size_t len)
{
	req->out_alloc = body;
	if (!req->conn) {
		request_free(req);
		return 0;
	}
	if (len == (size_t)-1) {
		answer_500(req);
		return -ENOMEM;
	}
	req->out = body;
	req->out_len = body ? len : 0;
	if (format_head(req, status, content_type, headers) < 0) {
		answer_500(req);
		return -ENOMEM;
	}
	answer(req);
	return 0;
}

/* ---- public API: WebSockets ---- */

static size_t ws_total(const struct http_ws *ws)
{
	return ws->queued + ws->inflight;
}

/* Discards ws's queue and sends its close frame now. */
static void ws_drop(struct http_ws *ws, int code, const char *reason)
{
	struct conn *c = ws->conn;

	ws_discard(ws);
	ws->closing = true;
	ws->close_code = code;
	snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", reason);
	if (!ws->close_sent && ws->open && c->state == CONN_WS)
		ws_send_close(c, code, ws->close_reason);
}

static void ws_shed(struct http_ws *ws)
{
	struct http_server *server = ws->conn->server;

	log_debug("http: websocket shed queued=%zu total=%zu", ws_total(ws),
		  server->ws_queued);
	ws_drop(ws, HTTP_SERVER_WS_SHED_CODE, server->shed_reason);
}

/* The live socket with the most queued, ws included; NULL when none has
 * anything queued. */
static struct http_ws *largest_queue(struct http_server *server,
				     struct http_ws *ws)
{
	struct http_ws *best = ws->queued ? ws : NULL;

	for (struct conn *c = server->conns; c; c = c->next) {
		if (c->ws && !c->ws->close_sent && c->ws->queued &&
		    (!best || c->ws->queued > best->queued))
			best = c->ws;
	}
	return best;
}

/* Sheds the sockets with the most queued until len more bytes fit under
 * the total cap. Returns -ENOBUFS when ws itself was shed. */
static int shed_for(struct http_server *server, struct http_ws *ws, size_t len)
{
	struct http_ws *victim;

	while (server->ws_queued + len > server->max_ws_total) {
		victim = largest_queue(server, ws);
		if (!victim || victim == ws)
			break;
		ws_shed(victim);
	}
	if (server->ws_queued + len > server->max_ws_total) {
		ws_shed(ws);
		ws_trim(server);
		return -ENOBUFS;
	}
	ws_trim(server);
	return 0;
}

static int ws_push(struct http_ws *ws, const char *data, size_t len)
{
	struct ws_msg *m = malloc(sizeof(*m) + HTTP_FRAME_MAX_HEADER + len);
	size_t n;

	if (!m)
		return -ENOMEM;
	n = http_frame_header(m->frame, HTTP_FRAME_TEXT, len);
	memcpy(m->frame + n, data, len);
	m->size = n + len;
	m->len = len;
	m->next = NULL;
	if (ws->tail)
		ws->tail->next = m;
	else
		ws->head = m;
	ws->tail = m;
	ws->queued += len;
	return 0;
}

int http_server_ws_send(struct http_ws *ws, const char *data, size_t len)
{
	struct conn *c = ws->conn;
	struct http_server *server;
	int r;

	if (!c || ws->closing || c->server->closing)
		return -EPIPE;
	server = c->server;
	if (ws_total(ws) + len > server->max_ws_queue ||
	    len > server->max_ws_queue) {
		ws_shed(ws);
		ws_trim(server);
		return -ENOBUFS;
	}
	r = shed_for(server, ws, len);
	if (r < 0)
		return r;
	r = ws_push(ws, data, len);
	if (r < 0)
		return r;
	server->ws_queued += len;
	if (server->ws_queued > server->ws_peak)
		server->ws_peak = server->ws_queued;
	if (c->state == CONN_WS)
		kick(c);
	return 0;
}

size_t http_server_ws_queued(const struct http_server *server)
{
	return server->ws_queued;
}

void http_server_ws_drop(struct http_ws *ws, int code, const char *reason)
{
	if (!ws->conn || ws->close_sent)
		return;
	ws_drop(ws, code, reason ? reason : "");
	ws_trim(ws->conn->server);
}

void http_server_ws_close(struct http_ws *ws, int code, const char *reason)
{
	struct conn *c = ws->conn;

	if (!c || ws->closing)
		return;
	ws->closing = true;
	ws->close_code = code;
	snprintf(ws->close_reason, sizeof(ws->close_reason), "%s",
		 reason ? reason : "");
	/* The frame goes once the queue is empty, after every queued
	 * message. */
	if (c->state == CONN_WS)
		kick(c);
}

void http_server_ws_set_data(struct http_ws *ws, void *data)
{
	ws->data = data;
}

void *http_server_ws_get_data(const struct http_ws *ws)
{
	return ws->data;
}

/* ---- public API: the server ---- */

int http_server_port(const struct http_server *server)
{
	return server->port;
}

unsigned http_server_connections(const struct http_server *server)
{
	return server->n_conns;
}

static bool config_valid(const struct http_server_config *cfg,
			 const struct http_server_callbacks *cbs)
{
	return cfg && cbs && cfg->host && cbs->request && cfg->port >= 0 &&
	       cfg->port < 65536 && (!cfg->ws_path || cbs->ws_open) &&
	       (!cfg->ws_path || cbs->ws_closed) &&
	       (cfg->max_header == 0 || cfg->max_header <= 65535);
}

static void set_limits(struct http_server *server,
		       const struct http_server_config *cfg)
{
	server->port = cfg->port;
	server->max_body = cfg->max_body ? cfg->max_body : HTTP_SERVER_MAX_BODY;
	server->max_header =
	    cfg->max_header ? cfg->max_header : HTTP_SERVER_MAX_HEADER;
	server->max_connections = cfg->max_connections
				      ? cfg->max_connections
				      : HTTP_SERVER_MAX_CONNECTIONS;
	server->max_ws_queue =
	    cfg->max_ws_queue ? cfg->max_ws_queue : HTTP_SERVER_MAX_WS_QUEUE;
	server->max_ws_total =
	    cfg->max_ws_total ? cfg->max_ws_total : HTTP_SERVER_MAX_WS_TOTAL;
	snprintf(server->shed_reason, sizeof(server->shed_reason), "%s",
		 cfg->ws_shed_reason ? cfg->ws_shed_reason
				     : SERVER_WS_SHED_REASON);
	server->max_pending_per_peer = cfg->max_pending_per_peer
					   ? cfg->max_pending_per_peer
					   : HTTP_SERVER_MAX_PENDING_PER_PEER;
	server->header_timeout_ms = cfg->header_timeout_ms
					? cfg->header_timeout_ms
					: HTTP_SERVER_HEADER_TIMEOUT_MS;
	server->cap_exempt = cfg->cap_exempt;
}

static void server_maybe_free(struct http_server *server)
{
	if (!server->closing || server->handles > 0)
		return;
	free(server->ws_path);
	free(server);
}

static void on_server_handle_closed(uv_handle_t *h)
{
	struct http_server *server = h->data;

	server->handles--;
	server_maybe_free(server);
}

static int sockaddr_of(const char *host, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

/* Binds and listens; the handles are open (and counted) either way. */
static int server_listen(struct http_server *server, const char *host)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss), r;

	r = sockaddr_of(host, server->port, &ss);
	if (r == 0)
		r = uv_tcp_bind(&server->listener, (struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&server->listener, 511,
			      on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&server->listener,
				       (struct sockaddr *)&ss, &len);
	if (r < 0)
		return r;
	server->port = ntohs(ss.ss_family == AF_INET
				 ? ((struct sockaddr_in *)&ss)->sin_port
				 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static void server_close_handles(struct http_server *server)
{
	server->closing = true;
	uv_close((uv_handle_t *)&server->listener, on_server_handle_closed);
	uv_close((uv_handle_t *)&server->kick, on_server_handle_closed);
}

int http_server_new(uv_loop_t *loop, const struct http_server_config *cfg,
		    const struct http_server_callbacks *cbs, void *userdata,
		    struct http_server **ret_server)
{
	struct http_server *server;
	int r;

	if (!loop || !ret_server || !config_valid(cfg, cbs))
		return -EINVAL;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->cbs = *cbs;
	server->userdata = userdata;
	set_limits(server, cfg);
	server->ws_path = cfg->ws_path ? strdup(cfg->ws_path) : NULL;
	if (cfg->ws_path && !server->ws_path) {
		free(server);
		return -ENOMEM;
	}
	uv_tcp_init(loop, &server->listener);
	uv_idle_init(loop, &server->kick);
	server->listener.data = server->kick.data = server;
	server->handles = 2;
	r = server_listen(server, cfg->host);
	if (r < 0) {
		server_close_handles(server);
		return r;
	}
	*ret_server = server;
	return 0;
}

void http_server_close(struct http_server *server)
{
	if (!server || server->closing)
		return;
	server->closing = true;
	while (server->conns)
		conn_close(server->conns);
	server_close_handles(server);
}
