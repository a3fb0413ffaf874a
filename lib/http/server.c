/* server.c: an HTTP/1.1 and WebSocket server, libwebsockets on a foreign
 * libuv loop. */
#include "http/server.h"

#include <errno.h>
#include <libwebsockets.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lwsuv/log.h"
#include "lwsuv/reaper.h"
#include "lwsuv/txq.h"
#include "util/buf.h"
#include "util/log.h"

/* Body bytes handed to lws_write() per writeable turn: large bodies go out
 * in pieces, so that one download never holds the loop. */
#define SERVER_CHUNK (64u << 10)
/* A taken body has no LWS_PRE headroom in front of it, so its first piece
 * is copied into a stack buffer of this size; later pieces are written in
 * place, with already sent bytes as the headroom. */
#define SERVER_FIRST_CHUNK 4096u
/* Room for the status line and the headers lws adds itself. */
#define SERVER_HEAD_ROOM 512u
/* Descriptors lws may hold beyond the connection cap: the listen socket,
 * its event pipe, and connections past the cap, which get a 503. */
#define SERVER_FD_MARGIN 32u
/* Cap on a decimal Content-Length header. */
#define SERVER_MAX_CONTENT_LENGTH_DIGITS 20
/* The challenge of 401 refusals the server writes itself (WebSocket
 * upgrades refused by ws_open). */
#define SERVER_AUTH_CHALLENGE "Bearer realm=\"welcomedly\""
/* A WebSocket reassembly buffer that grew past this is released after its
 * message. */
#define SERVER_WS_RX_KEEP (16u << 10)
/* After a refusal the server stops writing but keeps reading, and
 * discards, for this long or this many bytes: closing at once with unread
 * input would make the kernel send a reset that can destroy the answer
 * before the client has read it. */
#define SERVER_LINGER_S 2
#define SERVER_MAX_DISCARD (256u << 10)
#define SERVER_MAX_PEER 64u
/* Once the WebSocket queues together are this much below their peak since
 * the last trim (written, shed, or gone with their socket), the heap is
 * trimmed: a queue is many small allocations, which glibc keeps in the
 * process after they are freed. */
#define SERVER_WS_TRIM_BYTES (4u << 20)
/* The reason of a shed socket's close frame when the config names none. */
#define SERVER_WS_SHED_REASON "send queue over the cap"
#define SERVER_MAX_PROBLEM 1024u

enum kept_header {
	HDR_AUTHORIZATION,
	HDR_CONTENT_TYPE,
	HDR_ACCEPT,
	HDR_RANGE,
	HDR_IF_NONE_MATCH,
	HDR_COUNT,
};

static const struct {
	const char *name;
	enum lws_token_indexes token;
} kept_headers[HDR_COUNT] = {
    [HDR_AUTHORIZATION] = {"authorization", WSI_TOKEN_HTTP_AUTHORIZATION},
    [HDR_CONTENT_TYPE] = {"content-type", WSI_TOKEN_HTTP_CONTENT_TYPE},
    [HDR_ACCEPT] = {"accept", WSI_TOKEN_HTTP_ACCEPT},
    [HDR_RANGE] = {"range", WSI_TOKEN_HTTP_RANGE},
    [HDR_IF_NONE_MATCH] = {"if-none-match", WSI_TOKEN_HTTP_IF_NONE_MATCH},
};

static const char *const method_names[] = {
    [LWSHUMETH_GET] = "GET",         [LWSHUMETH_POST] = "POST",
    [LWSHUMETH_OPTIONS] = "OPTIONS", [LWSHUMETH_PUT] = "PUT",
    [LWSHUMETH_PATCH] = "PATCH",     [LWSHUMETH_DELETE] = "DELETE",
    [LWSHUMETH_HEAD] = "HEAD",
};

enum req_state {
	REQ_BODY,     /* reading the body */
	REQ_WAITING,  /* with the callee, not answered yet */
	REQ_ANSWERED, /* the answer is being written */
};

struct http_request {
	struct conn *conn; /* NULL once the client has gone */
	enum req_state state;
	const char *method;
	char *path;
	char *query;
	char *args; /* the query's fragments, each NUL-terminated */
	size_t args_len;
	char *headers[HDR_COUNT];
	char *body;
	size_t body_len, body_cap;
	char peer[SERVER_MAX_PEER];
	void *data;
	bool head;

	/* The answer. */
	int status;
	char *content_type;
	char *extra;     /* header lines, "Name: value\r\n" each */
	char *out_alloc; /* what to free */
	char *out;       /* the body */
	size_t out_len, out_off;
	bool out_headroom; /* out has LWS_PRE bytes before it */
	bool head_sent;
};

struct http_ws {
	struct conn *conn; /* NULL once ws_closed has run */
	void *data;
	struct lwsuv_txq tx;
	char *rx;
	size_t rx_len, rx_cap;
	bool in_message;
	bool closing; /* no more sends; a close frame goes after the queue */
	bool close_now;
	int close_code;
	char close_reason[124]; /* a close frame carries at most 123 bytes */
};

/* One TCP connection, from accept until lws reports its end. */
struct conn {
	struct http_server *server;
	struct conn *prev, *next;
	struct lws *wsi;
	bool over_cap;
	bool over_peer; /* past max_pending_per_peer when accepted */
	bool pending;   /* no request head in yet; the header timer runs */
	bool refused;   /* answered by the server itself, lingering */
	bool late;      /* refused with 408: no request is served any more */
	char peer[SERVER_MAX_PEER];
	size_t discarded;
	struct http_request *req; /* the current request, if any */
	struct http_ws *ws;       /* set once upgraded and accepted */
};

struct http_server {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct http_server_callbacks cbs;
	void *userdata;
	char *host;
	char *ws_path;
	int port;
	size_t max_body;
	size_t max_header;
	unsigned max_connections;
	size_t max_ws_queue;
	size_t max_ws_total;
	size_t ws_queued; /* bytes queued to all WebSockets */
	size_t ws_peak;   /* the most queued since the last trim */
	char shed_reason[124];
	unsigned max_pending_per_peer;
	unsigned header_timeout_ms;
	const char *const *cap_exempt;
	struct conn *conns;
	unsigned n_conns;
	unsigned n_capped; /* the connections counted against the cap */
	bool closing;
	struct lwsuv_reaper reaper;
};

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
	free(req->content_type);
	free(req->extra);
	free(req->out_alloc);
	free(req);
}

/* Copies a header; NULL when absent. Fails only for lack of memory. */
static int copy_header(struct lws *wsi, enum lws_token_indexes token,
		       char **ret)
{
	int len = lws_hdr_total_length(wsi, token);
	char *s;

	*ret = NULL;
	if (len <= 0)
		return 0;
	s = malloc((size_t)len + 1);
	if (!s)
		return -ENOMEM;
	if (lws_hdr_copy(wsi, s, len + 1, token) < 0) {
		free(s);
		return 0;
	}
	*ret = s;
	return 0;
}

/* Collects the query's fragments, which lws has already split at '&' and
 * percent-decoded: req->args holds them NUL-separated, req->query joined
 * with '&'. */
static int collect_query(struct http_request *req, struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
	size_t cap = total > 0 ? (size_t)total * 2 + 2 : 1, pos = 0;
	int n;

	req->args = malloc(cap);
	req->query = malloc(cap);
	if (!req->args || !req->query)
		return -ENOMEM;
	for (int i = 0; total > 0; i++) {
		n = lws_hdr_copy_fragment(wsi, req->args + pos,
					  (int)(cap - pos),
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		pos += (size_t)n + 1;
	}
	req->args_len = pos;
	req->query[0] = '\0';
	for (size_t off = 0; off < pos; off += strlen(req->args + off) + 1) {
		if (off)
			strcat(req->query, "&");
		strcat(req->query, req->args + off);
	}
	return 0;
}

/* Builds a request from the headers of wsi; path is lws's decoded URI. */
static int request_new(struct conn *c, struct lws *wsi, int method,
		       const char *path, size_t path_len,
		       struct http_request **ret_req)
{
	struct http_request *req = calloc(1, sizeof(*req));
	int r = -ENOMEM;

	if (!req)
		return -ENOMEM;
	req->conn = c;
	req->method = method_names[method];
	req->head = method == LWSHUMETH_HEAD;
	req->path = strndup(path, path_len);
	if (!req->path)
		goto err;
	r = collect_query(req, wsi);
	for (int i = 0; r == 0 && i < HDR_COUNT; i++)
		r = copy_header(wsi, kept_headers[i].token, &req->headers[i]);
	if (r < 0)
		goto err;
	if (lws_get_peer_simple(wsi, req->peer, sizeof(req->peer)) == NULL)
		req->peer[0] = '\0';
	*ret_req = req;
	return 0;
err:
	request_free(req);
	return r;
}

/* ---- writing answers ---- */

/* The answers the server gives by itself. */
enum problem {
	PROBLEM_BAD_LENGTH,
	PROBLEM_BAD_PATH,
	PROBLEM_NO_VERSION,
	PROBLEM_NOT_FOUND,
	PROBLEM_LENGTH_REQUIRED,
	PROBLEM_TOO_LARGE,
	PROBLEM_URI_TOO_LONG,
	PROBLEM_INTERNAL,
	PROBLEM_NOT_IMPLEMENTED,
	PROBLEM_UNAVAILABLE,
	PROBLEM_VERSION,
};

static const struct {
	int status;
	const char *slug, *title, *detail;
} problems[] = {
    [PROBLEM_BAD_LENGTH] = {400, "bad-request", "Bad request",
			    "The Content-Length is not a number."},
    [PROBLEM_BAD_PATH] = {400, "bad-request", "Bad request",
			  "The path or the query holds a control character."},
    [PROBLEM_NO_VERSION] = {400, "bad-request", "Bad request",
			    "The request line has no HTTP version."},
    [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found",
			   "There is no WebSocket at this path."},
    [PROBLEM_LENGTH_REQUIRED] = {411, "length-required", "Length required",
				 "Send the body with a Content-Length."},
    [PROBLEM_TOO_LARGE] = {413, "body-too-large", "Body too large",
			   "The body is larger than allowed."},
    [PROBLEM_URI_TOO_LONG] = {414, "uri-too-long", "URI too long",
			      "The path is too long."},
    [PROBLEM_INTERNAL] = {500, "internal", "Internal error",
			  "The server ran out of memory."},
    [PROBLEM_NOT_IMPLEMENTED] = {501, "not-implemented", "Not implemented",
				 "This method is not supported."},
    [PROBLEM_UNAVAILABLE] = {503, "unavailable", "Unavailable",
			     "The server is busy or shutting down."},
    [PROBLEM_VERSION] = {505, "http-version-not-supported",
			 "HTTP version not supported",
			 "Use HTTP/1.1 or HTTP/1.0."},
};

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

/* Formats a problem body into body (SERVER_MAX_PROBLEM bytes); returns
 * its length or -1. */
static int problem_body(char *body, int status, const char *slug,
			const char *title, const char *detail)
{
	char text[SERVER_MAX_PROBLEM / 2];
	int len;

	json_escape(text, sizeof(text), detail);
	len =
	    snprintf(body, SERVER_MAX_PROBLEM,
		     "{\"type\":\"urn:welcomedly:problem:%s\",\"title\":\"%s\","
		     "\"status\":%d,\"detail\":\"%s\"}",
		     slug, title, status, text);
	return len < 0 || len >= (int)SERVER_MAX_PROBLEM ? -1 : len;
}

/* Writes a problem answer at once, from inside an lws callback. The
 * connection is
 * not used for another request, since what the peer sends next (a body we
 * refused) cannot be trusted to frame one. */
static int write_problem_now(struct lws *wsi, int status, const char *slug,
			     const char *title, const char *detail)
{
	unsigned char buf[LWS_PRE + SERVER_HEAD_ROOM + SERVER_MAX_PROBLEM];
	unsigned char *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - SERVER_MAX_PROBLEM;
	char body[SERVER_MAX_PROBLEM];
	int len = problem_body(body, status, slug, title, detail);

	if (len < 0)
		return -1;
	if (lws_add_http_common_headers(wsi, (unsigned)status,
					"application/problem+json",
					(lws_filepos_t)len, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
					 (const unsigned char *)"close", 5, &p,
					 end))
		return -1;
	/* A refusal for want of credentials says how to give them (RFC
	 * 9110), as the owner's own 401 answers do. */
	if (status == 401 &&
	    lws_add_http_header_by_name(
		wsi, (const unsigned char *)"WWW-Authenticate:",
		(const unsigned char *)SERVER_AUTH_CHALLENGE,
		(int)strlen(SERVER_AUTH_CHALLENGE), &p, end))
		return -1;
	if (lws_finalize_http_header(wsi, &p, end))
		return -1;
	memcpy(p, body, (size_t)len);
	p += len;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) <
	    0)
		return -1;
	log_debug("http: refused status=%d problem=%s", status, slug);
	return 0;
}

static int write_problem(struct lws *wsi, enum problem which)
{
	return write_problem_now(wsi, problems[which].status,
				 problems[which].slug, problems[which].title,
				 problems[which].detail);
}

/* Answers with a problem and lingers: the write side is shut at once, so
 * the client sees the answer end, and what it still sends is read and
 * dropped until it closes, or the linger time or byte cap runs out.
 * Returns what the lws callback returns. */
static int refuse(struct conn *c, struct lws *wsi, enum problem which)
{
	if (write_problem(wsi, which) < 0)
		return -1;
	shutdown(lws_get_socket_fd(wsi), SHUT_WR);
	c->refused = true;
	request_free(c->req);
	c->req = NULL;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, SERVER_LINGER_S);
	return 0;
}

/*
 * The header timeout ran out. lws has no request to answer yet (nor,
 * when nothing arrived, a header table that its answer functions need),
 * so the 408 goes straight to the socket, which has nothing else queued
 * in this state; then the connection lingers as after a refusal.
 */
static int refuse_late(struct conn *c, struct lws *wsi)
{
	char body[SERVER_MAX_PROBLEM];
	char msg[SERVER_HEAD_ROOM + SERVER_MAX_PROBLEM];
	int len = problem_body(body, 408, "request-timeout", "Request timeout",
			       "The request head did not arrive in time.");
	int n;

	if (len < 0)
		return -1;
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 408 Request Timeout\r\n"
		     "content-type: application/problem+json\r\n"
		     "content-length: %d\r\nconnection: close\r\n\r\n%s",
		     len, body);
	if (n < 0 || (size_t)n >= sizeof(msg) ||
	    send(lws_get_socket_fd(wsi), msg, (size_t)n,
		 MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		return -1;
	log_debug("http: refused status=408 peer=%s", c->peer);
	shutdown(lws_get_socket_fd(wsi), SHUT_WR);
	c->refused = c->late = true;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, SERVER_LINGER_S);
	return 0;
}

/* Starts the wait for the first request head of a new connection. */
static void head_wait(struct conn *c)
{
	c->pending = true;
	lws_set_timer_usecs(c->wsi,
			    (lws_usec_t)c->server->header_timeout_ms * 1000);
}

/* A request head is in: its wait ends, and a connection past the
 * per-address cap takes a place under max_connections if one is free, so
 * that a burst of fast clients from one address is served all the same. */
static void head_in(struct conn *c)
{
	struct http_server *server = c->server;

	c->pending = false;
	lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
	if (c->over_peer && server->n_capped < server->max_connections) {
		c->over_peer = false;
		server->n_capped++;
	}
}

/* Writes the status line and headers of req's answer. */
static int write_head(struct http_request *req, struct lws *wsi)
{
	size_t extra = req->extra ? strlen(req->extra) : 0;
	size_t size = LWS_PRE + SERVER_HEAD_ROOM + extra +
		      (req->content_type ? strlen(req->content_type) : 0);
	unsigned char *buf = malloc(size), *start, *p, *end;
	int r = -1;

	if (!buf)
		return -1;
	start = p = buf + LWS_PRE;
	end = buf + size;
	if (lws_add_http_common_headers(wsi, (unsigned)req->status,
					req->content_type,
					(lws_filepos_t)req->out_len, &p, end))
		goto out;
	memcpy(p, req->extra ? req->extra : "", extra);
	p += extra;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		goto out;
	r = 0;
out:
	free(buf);
	return r;
}

/* Writes the next piece of the body; returns 1 when more is left. */
static int write_body(struct http_request *req, struct lws *wsi)
{
	unsigned char first[LWS_PRE + SERVER_FIRST_CHUNK];
	size_t left = req->out_len - req->out_off;
	size_t n = left < SERVER_CHUNK ? left : SERVER_CHUNK;
	unsigned char *p = (unsigned char *)req->out + req->out_off;
	enum lws_write_protocol mode;

	if (req->out_off == 0 && !req->out_headroom) {
		if (n > SERVER_FIRST_CHUNK)
			n = SERVER_FIRST_CHUNK;
		memcpy(first + LWS_PRE, p, n);
		p = first + LWS_PRE;
	}
	mode = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
	if (lws_write(wsi, p, n, mode) < 0)
		return -1;
	req->out_off += n;
	return req->out_off < req->out_len;
}

/* HTTP_WRITEABLE: one write per turn, head first. Once the answer is out,
 * the connection waits for its next request, or closes. */
static int on_http_writeable(struct conn *c, struct lws *wsi)
{
	struct http_request *req = c->req;
	int r;

	if (!req || req->state != REQ_ANSWERED)
		return 0;
	if (!req->head_sent) {
		if (write_head(req, wsi) < 0)
			return -1;
		req->head_sent = true;
		if (req->out_len > 0 && !req->head) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		r = write_body(req, wsi);
		if (r < 0)
			return -1;
		if (r > 0) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	c->req = NULL;
	request_free(req);
	/* A kept-alive connection is not timed here: an unasked 408 could
	 * cross the client's next request on the wire, whereas lws closes an
	 * idle one quietly after its keep-alive time. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- the HTTP side ---- */

static void deliver(struct conn *c, struct http_request *req)
{
	struct http_server *server = c->server;

	req->state = REQ_WAITING;
	if (!req->body) {
		req->body = strdup("");
		if (!req->body) {
			http_server_request_respond(req, 500, NULL, NULL, NULL,
						    0);
			return;
		}
	}
	/* lws arms a timeout for the body's arrival; the time the callee
	 * takes to answer is not the peer's fault. */
	lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
	log_debug("http: request method=%s path=%s peer=%s", req->method,
		  req->path, req->peer);
	server->cbs.request(req, server->userdata);
}

/* Reads Content-Length: 0 and *ret_len when absent, -EINVAL when it is
 * not a plain decimal number. */
static int content_length(struct lws *wsi, bool *ret_present,
			  unsigned long long *ret_len)
{
	char s[SERVER_MAX_CONTENT_LENGTH_DIGITS + 1];
	char *end;
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);

	*ret_present = n > 0;
	*ret_len = 0;
	if (n <= 0)
		return 0;
	if (n >= (int)sizeof(s) ||
	    lws_hdr_copy(wsi, s, sizeof(s), WSI_TOKEN_HTTP_CONTENT_LENGTH) <
		0 ||
	    s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*ret_len = strtoull(s, &end, 10);
	return *end || errno ? -EINVAL : 0;
}

static bool method_known(int method)
{
	return method >= 0 &&
	       method < (int)(sizeof(method_names) / sizeof(method_names[0])) &&
	       method_names[method];
}

static bool has_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	}
	return false;
}

/* True when a query argument, as lws decoded it, holds a control
 * character. */
static bool query_has_ctl(struct lws *wsi)
{
	int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS), n;
	char *buf;
	bool bad = false;

	if (total <= 0)
		return false;
	buf = malloc((size_t)total + 1);
	if (!buf)
		return true;
	for (int i = 0; !bad; i++) {
		n = lws_hdr_copy_fragment(wsi, buf, total + 1,
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		bad = has_ctl(buf, (size_t)n);
	}
	free(buf);
	return bad;
}

/*
 * Checks the request line: returns 0, or 1 and the problem. lws 4.1
 * decodes %0a and %0d in the path before it looks for the end of the
 * line, so "GET /a%0ab HTTP/1.1" reaches us as "/a" with no version: a
 * request line without one was cut short and is never served.
 */
static int screen_line(struct lws *wsi, const char *uri, size_t uri_len,
		       enum problem *ret_problem)
{
	char version[16];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP);

	/* Not caught: "GET /a%0aHTTP/1.1 HTTP/1.1", where lws takes the
	 * remainder of the cut line for the version; lws 4.1 keeps no raw
	 * request line to compare with. */
	if (n <= 0)
		*ret_problem = PROBLEM_NO_VERSION;
	else if (n >= (int)sizeof(version) ||
		 lws_hdr_copy(wsi, version, sizeof(version), WSI_TOKEN_HTTP) <
		     0 ||
		 (strcmp(version, "HTTP/1.1") && strcmp(version, "HTTP/1.0")))
		*ret_problem = PROBLEM_VERSION;
	else if (has_ctl(uri, uri_len) || query_has_ctl(wsi))
		*ret_problem = PROBLEM_BAD_PATH;
	else
		return 0;
	return 1;
}

static bool cap_exempt(const struct http_server *server, const char *uri,
		       size_t uri_len)
{
	for (const char *const *p = server->cap_exempt; p && *p; p++) {
		if (strlen(*p) == uri_len && memcmp(*p, uri, uri_len) == 0)
			return true;
	}
	return false;
}

/* Checks what the server refuses by itself: returns 0, or 1 and the
 * problem to answer. */
static int screen_request(struct conn *c, struct lws *wsi, int method,
			  const char *uri, size_t path_len,
			  enum problem *ret_problem, bool *ret_body)
{
	unsigned long long len = 0;
	bool present = false;

	*ret_body = false;
	if (c->server->closing)
		*ret_problem = PROBLEM_UNAVAILABLE;
	else if (screen_line(wsi, uri, path_len, ret_problem))
		return 1;
	else if ((c->over_cap || c->over_peer) &&
		 !cap_exempt(c->server, uri, path_len))
		*ret_problem = PROBLEM_UNAVAILABLE;
	else if (!method_known(method))
		*ret_problem = PROBLEM_NOT_IMPLEMENTED;
	else if (path_len > HTTP_SERVER_MAX_PATH)
		*ret_problem = PROBLEM_URI_TOO_LONG;
	else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING))
		*ret_problem = PROBLEM_LENGTH_REQUIRED;
	else if (content_length(wsi, &present, &len) < 0)
		*ret_problem = PROBLEM_BAD_LENGTH;
	else if (!present &&
		 (method == LWSHUMETH_POST || method == LWSHUMETH_PUT ||
		  method == LWSHUMETH_PATCH))
		/* lws 4.1 would read such a body until the peer closes, so
		 * the client would wait for ever: tell it at once. */
		*ret_problem = PROBLEM_LENGTH_REQUIRED;
	else if (len > c->server->max_body)
		*ret_problem = PROBLEM_TOO_LARGE;
	else
		goto accept;
	return 1;
accept:
	/* lws reads a body when there is a Content-Length above 0, and
	 * reports an explicit empty body for POST only. */
	*ret_body = present && (len > 0 || method == LWSHUMETH_POST);
	return 0;
}

/* LWS_CALLBACK_HTTP: the headers are in. */
static int on_http(struct conn *c, struct lws *wsi)
{
	struct http_request *req;
	enum problem problem;
	char *uri;
	int uri_len, method;
	bool body;

	/* A head that completes after its 408 is not served. */
	if (c->late)
		return -1;
	head_in(c);
	method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (uri_len < 0)
		uri_len = 0;
	if (screen_request(c, wsi, method, uri, (size_t)uri_len, &problem,
			   &body))
		return refuse(c, wsi, problem);
	if (request_new(c, wsi, method, uri, (size_t)uri_len, &req) < 0)
		return refuse(c, wsi, PROBLEM_INTERNAL);
	request_free(c->req);
	c->req = req;
	req->state = REQ_BODY;
	if (!body)
		deliver(c, req);
	return 0;
}

static int body_append(struct http_request *req, const void *data, size_t len,
		       size_t max)
{
	return buf_append(&req->body, &req->body_len, &req->body_cap, data, len,
			  max);
}

static int on_http_body(struct conn *c, struct lws *wsi, const void *in,
			size_t len)
{
	struct http_request *req = c->req;
	int r;

	if (c->refused) {
		c->discarded += len;
		return c->discarded > SERVER_MAX_DISCARD ? -1 : 0;
	}
	if (!req || req->state != REQ_BODY || len == 0)
		return 0;
	r = body_append(req, in, len, c->server->max_body);
	if (r < 0)
		return refuse(c, wsi,
			      r == -EMSGSIZE ? PROBLEM_TOO_LARGE
					     : PROBLEM_INTERNAL);
	return 0;
}

static void on_http_body_done(struct conn *c)
{
	if (c->req && c->req->state == REQ_BODY)
		deliver(c, c->req);
}

/* ---- the WebSocket side ---- */

static void ws_free(struct http_ws *ws)
{
	lwsuv_txq_clear(&ws->tx);
	free(ws->rx);
	free(ws);
}

/* Returns freed heap pages to the system once the queues shrank enough. */
static void ws_trim(struct http_server *server)
{
	if (server->ws_peak < server->ws_queued + SERVER_WS_TRIM_BYTES)
		return;
	server->ws_peak = server->ws_queued;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* Frees what is queued to ws (its connection still set). */
static void ws_discard(struct http_ws *ws)
{
	struct http_server *server = ws->conn->server;

	server->ws_queued -= ws->tx.bytes;
	lwsuv_txq_clear(&ws->tx);
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

/* Sends the close frame set by lws_close_reason(): lws 4.1 sends it when
 * LWS_CALLBACK_TIMER returns nonzero, whereas a nonzero return from a
 * writeable callback drops the socket without one. */
static void ws_close_frame(struct http_ws *ws)
{
	struct lws *wsi = ws->conn->wsi;

	ws->close_now = true;
	lws_close_reason(wsi, (enum lws_close_status)ws->close_code,
			 (unsigned char *)ws->close_reason,
			 strlen(ws->close_reason));
	lws_set_timer_usecs(wsi, 1);
	/* lws re-arms its uv timer only after servicing something. */
	lws_cancel_service(ws->conn->server->ctx);
}

static int ws_write_next(struct http_ws *ws, struct lws *wsi)
{
	size_t before = ws->tx.bytes;
	int n = lwsuv_txq_write_next(&ws->tx, wsi);

	ws->conn->server->ws_queued -= before - ws->tx.bytes;
	ws_trim(ws->conn->server);

	if (n == 0) {
		if (ws->closing && !ws->close_now)
			ws_close_frame(ws);
		return 0;
	}
	if (n < 0)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int ws_rx_append(struct http_ws *ws, const void *data, size_t len)
{
	return buf_append(&ws->rx, &ws->rx_len, &ws->rx_cap, data, len,
			  HTTP_SERVER_MAX_WS_MESSAGE);
}

static void ws_deliver(struct http_ws *ws)
{
	struct http_server *server = ws->conn->server;

	ws->rx[ws->rx_len] = '\0';
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

/* A message arrives in pieces: per frame, and per read within a frame. */
static void on_ws_receive(struct conn *c, struct lws *wsi, const void *in,
			  size_t len)
{
	struct http_ws *ws = c->ws;
	int r;

	if (!ws || ws->close_now)
		return;
	if (!ws->in_message || lws_is_first_fragment(wsi)) {
		ws->in_message = true;
		ws->rx_len = 0;
	}
	/* Even an empty piece allocates the buffer, so a whole message
	 * always has one. */
	r = ws_rx_append(ws, in, len);
	if (r < 0) {
		log_debug("http: websocket message refused error=%d, closing",
			  r);
		ws->closing = true;
		ws->close_code = r == -EMSGSIZE
				     ? LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE
				     : LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		snprintf(ws->close_reason, sizeof(ws->close_reason), "%s",
			 r == -EMSGSIZE ? "message too large"
					: "out of memory");
		ws_close_frame(ws);
		return;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return;
	ws->in_message = false;
	ws_deliver(ws);
}

static bool is_ws_path(const struct http_server *server, const char *up,
		       const char *uri, int uri_len)
{
	return server->ws_path && up && strcasecmp(up, "websocket") == 0 &&
	       strlen(server->ws_path) == (size_t)uri_len &&
	       memcmp(server->ws_path, uri, (size_t)uri_len) == 0;
}

/* The slug and title of a refused upgrade, by the callee's status. */
static void refusal_names(int status, const char **ret_slug,
			  const char **ret_title)
{
	static const struct {
		int status;
		const char *slug, *title;
	} names[] = {
	    {401, "unauthorized", "Unauthorized"},
	    {403, "forbidden", "Forbidden"},
	    {404, "not-found", "Not found"},
	    {429, "rate-limited", "Too many requests"},
	    {503, "unavailable", "Unavailable"},
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

/* Asks the callee about an upgrade on ws_path; returns the status of a
 * refusal, 0 once accepted (c->ws is then set), -1 for lack of memory. */
static int ws_ask(struct conn *c, struct lws *wsi, int method, const char *uri,
		  int uri_len, const char **ret_detail)
{
	struct http_server *server = c->server;
	struct http_request *req = NULL;
	struct http_ws *ws = calloc(1, sizeof(*ws));
	int status;

	if (!ws || request_new(c, wsi, method, uri, (size_t)uri_len, &req)) {
		free(ws);
		return -1;
	}
	ws->conn = c;
	status = server->cbs.ws_open(ws, req, ret_detail, server->userdata);
	request_free(req);
	if (status != 0) {
		free(ws);
		return status;
	}
	c->ws = ws;
	log_debug("http: websocket accepted");
	return 0;
}

static void write_refusal(struct lws *wsi, int status, const char *detail)
{
	const char *slug, *title;

	if (status < 400 || status > 599)
		status = 400;
	refusal_names(status, &slug, &title);
	write_problem_now(wsi, status, slug, title,
			  detail ? detail : "The upgrade was refused.");
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: returns 0 to let lws upgrade, or -1
 * once a refusal is written: lws then closes the connection, and an
 * upgrade request has no body that could be left unread. */
static int on_confirm_upgrade(struct conn *c, struct lws *wsi, const char *up)
{
	const char *detail = NULL;
	enum problem problem;
	char *uri;
	int uri_len, method, status;
	bool body;

	if (c->late)
		return -1;
	head_in(c);
	method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	if (uri_len < 0)
		uri_len = 0;
	if (screen_request(c, wsi, method, uri, (size_t)uri_len, &problem,
			   &body)) {
		write_problem(wsi, problem);
		return -1;
	}
	if (!is_ws_path(c->server, up, uri, uri_len)) {
		write_problem(wsi, PROBLEM_NOT_FOUND);
		return -1;
	}
	status = ws_ask(c, wsi, method, uri, uri_len, &detail);
	if (status < 0)
		write_problem(wsi, PROBLEM_INTERNAL);
	else if (status > 0)
		write_refusal(wsi, status, detail);
	return status ? -1 : 0;
}

/* ---- connections ---- */

/* Connections from peer still waiting for their request head. */
static unsigned pending_from(const struct http_server *server, const char *peer)
{
	unsigned n = 0;

	for (const struct conn *c = server->conns; c; c = c->next)
		n += c->pending && strcmp(c->peer, peer) == 0;
	return n;
}

/* A connection past the per-address cap does not take one of the
 * max_connections places while it has not sent its head, so that one
 * address that opens many and sends slowly (slowloris) cannot lock the
 * others out; the header timeout ends it. */
static struct conn *conn_new(struct http_server *server, struct lws *wsi)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->server = server;
	c->wsi = wsi;
	if (!lws_get_peer_simple(wsi, c->peer, sizeof(c->peer)))
		c->peer[0] = '\0';
	c->over_peer =
	    pending_from(server, c->peer) >= server->max_pending_per_peer;
	c->next = server->conns;
	if (c->next)
		c->next->prev = c;
	server->conns = c;
	server->n_conns++;
	if (!c->over_peer)
		c->over_cap = ++server->n_capped > server->max_connections;
	lws_set_opaque_user_data(wsi, c);
	head_wait(c);
	return c;
}

/* The end of a connection as lws reports it: once per connection. An
 * unanswered request stays with the callee, marked abandoned. */
static void conn_end(struct conn *c, struct lws *wsi)
{
	struct http_server *server = c->server;

	lws_set_opaque_user_data(wsi, NULL);
	if (c->prev)
		c->prev->next = c->next;
	else
		server->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	server->n_conns--;
	if (!c->over_peer)
		server->n_capped--;
	if (c->req && c->req->state == REQ_WAITING)
		c->req->conn = NULL;
	else
		request_free(c->req);
	if (c->ws)
		ws_finish(c);
	free(c);
}

static int on_timer(struct conn *c, struct lws *wsi)
{
	if (c->ws)
		return c->ws->close_now ? -1 : 0;
	return c->pending && !c->refused ? refuse_late(c, wsi) : 0;
}

static int server_callback(struct lws *wsi, enum lws_callback_reasons reason,
			   void *user, void *in, size_t len)
{
	struct http_server *server = lws_context_user(lws_get_context(wsi));
	struct conn *c = lws_get_opaque_user_data(wsi);

	if (reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED)
		return conn_new(server, wsi) ? 0 : -1;
	if (!c)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(c, wsi);
	case LWS_CALLBACK_HTTP_BODY:
		return on_http_body(c, wsi, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		on_http_body_done(c);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_http_writeable(c, wsi);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return on_confirm_upgrade(c, wsi, in);
	case LWS_CALLBACK_RECEIVE:
		on_ws_receive(c, wsi, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->ws && !c->ws->close_now ? ws_write_next(c->ws, wsi)
						  : 0;
	case LWS_CALLBACK_TIMER:
		return on_timer(c, wsi);
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		conn_end(c, wsi);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols server_protocols[] = {
    {"http", server_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

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
		if (strcmp(kept_headers[i].name, name) == 0)
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

/* Hands the answer to the connection, or frees req when nobody is left to
 * read it. */
static void answer(struct http_request *req)
{
	struct conn *c = req->conn;

	if (!c) {
		request_free(req);
		return;
	}
	req->state = REQ_ANSWERED;
	lws_callback_on_writable(c->wsi);
}

/* The bare 500 that stands in when the real answer cannot be built. */
static void answer_500(struct http_request *req)
{
	free(req->content_type);
	free(req->extra);
	free(req->out_alloc);
	req->content_type = req->extra = req->out_alloc = req->out = NULL;
	req->status = 500;
	req->out_len = 0;
	answer(req);
}

static int set_meta(struct http_request *req, int status,
		    const char *content_type, const char *headers)
{
	req->status = status;
	if (content_type) {
		req->content_type = strdup(content_type);
		if (!req->content_type)
			return -ENOMEM;
	}
	if (headers) {
		req->extra = strdup(headers);
		if (!req->extra)
			return -ENOMEM;
	}
	return 0;
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
	buf = malloc(LWS_PRE + len + 1);
	if (!buf || set_meta(req, status, content_type, headers) < 0) {
		free(buf);
		answer_500(req);
		return -ENOMEM;
	}
	if (len)
		memcpy(buf + LWS_PRE, body, len);
	req->out_alloc = buf;
	req->out = buf + LWS_PRE;
	req->out_len = len;
	req->out_headroom = true;
	answer(req);
	return 0;
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
	if (set_meta(req, status, content_type, headers) < 0) {
		answer_500(req);
		return -ENOMEM;
	}
	req->out = body;
	req->out_len = body ? len : 0;
	answer(req);
	return 0;
}

/* ---- public API: WebSockets ---- */

/* Discards ws's queue and sends its close frame now. */
static void ws_drop(struct http_ws *ws, int code, const char *reason)
{
	ws_discard(ws);
	ws->closing = true;
	ws->close_code = code;
	snprintf(ws->close_reason, sizeof(ws->close_reason), "%s", reason);
	ws_close_frame(ws);
}

static void ws_shed(struct http_ws *ws)
{
	struct http_server *server = ws->conn->server;

	log_debug("http: websocket shed queued=%zu total=%zu", ws->tx.bytes,
		  server->ws_queued);
	ws_drop(ws, HTTP_SERVER_WS_SHED_CODE, server->shed_reason);
}

/* The live socket with the most queued, ws (not yet listed while it is
 * being opened) included; NULL when none has anything queued. */
static struct http_ws *largest_queue(struct http_server *server,
				     struct http_ws *ws)
{
	struct http_ws *best = ws->tx.bytes ? ws : NULL;

	for (struct conn *c = server->conns; c; c = c->next) {
		if (c->ws && !c->ws->close_now && c->ws->tx.bytes &&
		    (!best || c->ws->tx.bytes > best->tx.bytes))
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

int http_server_ws_send(struct http_ws *ws, const char *data, size_t len)
{
	struct conn *c = ws->conn;
	struct http_server *server;
	int r;

	if (!c || ws->closing || c->server->closing)
		return -EPIPE;
	server = c->server;
	if (ws->tx.bytes + len > server->max_ws_queue ||
	    len > server->max_ws_queue) {
		ws_shed(ws);
		ws_trim(server);
		return -ENOBUFS;
	}
	r = shed_for(server, ws, len);
	if (r < 0)
		return r;
	r = lwsuv_txq_push(&ws->tx, data, len);
	if (r < 0)
		return r;
	server->ws_queued += len;
	if (server->ws_queued > server->ws_peak)
		server->ws_peak = server->ws_queued;
	lws_callback_on_writable(c->wsi);
	return 0;
}

size_t http_server_ws_queued(const struct http_server *server)
{
	return server->ws_queued;
}

void http_server_ws_drop(struct http_ws *ws, int code, const char *reason)
{
	if (!ws->conn || ws->close_now)
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
	/* The frame goes from the writeable callback once the queue is
	 * empty, so that it follows every queued message. */
	lws_callback_on_writable(c->wsi);
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

/* lws reports a busy port only by failing the whole context, so the port
 * is tried first, to return -EADDRINUSE rather than -EIO. */
static int probe_port(const char *host, int port)
{
	struct sockaddr_storage ss;
	int fd, r, one = 1;
	socklen_t len;

	if (port == 0)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) == 0)
		len = sizeof(struct sockaddr_in);
	else if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) == 0)
		len = sizeof(struct sockaddr_in6);
	else
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/*
 * One vhost on the caller's loop. With a foreign loop the uv event lib
 * creates no signal watchers, so the application keeps its signals.
 */
static int create_context(struct http_server *server)
{
	struct lws_context_creation_info info;
	void *loops[] = {server->loop};
	unsigned fds = server->max_connections * 2 + SERVER_FD_MARGIN;

	memset(&info, 0, sizeof(info));
	info.port = server->port;
	info.iface = server->host;
	info.protocols = server_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	if (!strchr(server->host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	info.user = server;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread = fds;
	info.max_http_header_data = (unsigned short)server->max_header;
	info.max_http_header_pool2 = fds;
	server->ctx = lws_create_context(&info);
	if (!server->ctx)
		return -EIO;
	server->port = lws_get_vhost_listen_port(
	    lws_get_vhost_by_name(server->ctx, "default"));
	return server->port > 0 ? 0 : -EIO;
}

static void server_free(void *arg)
{
	struct http_server *server = arg;

	while (server->conns) {
		struct conn *c = server->conns;

		server->conns = c->next;
		if (c->req && c->req->state == REQ_WAITING)
			c->req->conn = NULL;
		else
			request_free(c->req);
		if (c->ws)
			ws_free(c->ws);
		free(c);
	}
	free(server->host);
	free(server->ws_path);
	free(server);
}

int http_server_new(uv_loop_t *loop, const struct http_server_config *cfg,
		    const struct http_server_callbacks *cbs, void *userdata,
		    struct http_server **ret_server)
{
	struct http_server *server;
	int r;

	if (!loop || !ret_server || !config_valid(cfg, cbs))
		return -EINVAL;
	r = probe_port(cfg->host, cfg->port);
	if (r < 0)
		return r;
	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	server->loop = loop;
	server->cbs = *cbs;
	server->userdata = userdata;
	set_limits(server, cfg);
	server->host = strdup(cfg->host);
	server->ws_path = cfg->ws_path ? strdup(cfg->ws_path) : NULL;
	if (!server->host || (cfg->ws_path && !server->ws_path)) {
		server_free(server);
		return -ENOMEM;
	}
	lwsuv_log_route();
	r = create_context(server);
	if (r < 0) {
		/* A context that exists must be destroyed the long way. */
		if (server->ctx) {
			server->closing = true;
			lwsuv_reaper_start(&server->reaper, loop, server->ctx,
					   server_free, server);
		} else {
			server_free(server);
		}
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
	for (struct conn *c = server->conns; c; c = c->next) {
		if (c->req && c->req->state == REQ_WAITING) {
			c->req->conn = NULL;
			c->req = NULL;
		}
		if (c->ws)
			ws_finish(c);
	}
	lwsuv_reaper_start(&server->reaper, server->loop, server->ctx,
			   server_free, server);
}
