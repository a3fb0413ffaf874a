/* server.h: an HTTP/1.1 (RFC 9112) and WebSocket (RFC 6455) server on a
 * libuv loop. Requests are answered asynchronously, exactly once, in the
 * order they came on a connection. */
#ifndef HTTP_SERVER_H
#define HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_request; /* one request; owned by the server until answered */
struct http_ws;      /* one accepted WebSocket connection */

/* Named caps on what peers control; the config's 0 means these. */
#define HTTP_SERVER_MAX_BODY (1u << 20) /* 413 past this */
#define HTTP_SERVER_MAX_HEADER 8192u    /* a request head: 414 or 431 past it */
#define HTTP_SERVER_MAX_CONNECTIONS 256u       /* 503 past this */
#define HTTP_SERVER_MAX_WS_QUEUE (4u << 20)    /* bytes queued to one socket */
#define HTTP_SERVER_MAX_WS_TOTAL (32u << 20)   /* ... to all sockets together */
#define HTTP_SERVER_MAX_WS_MESSAGE (64u << 10) /* bigger client frames: close */
#define HTTP_SERVER_MAX_PATH 2048u             /* 414 past this */
/* Connections from one address that have not sent a whole request head
 * yet (slowloris). Those past it do not count against max_connections and
 * are answered 503, except on the cap_exempt paths. */
#define HTTP_SERVER_MAX_PENDING_PER_PEER 16u
/* Time a new connection has to send its whole first request head; then
 * 408 and close. A kept-alive connection idle for 5 s is closed without an
 * answer, which could otherwise cross the client's next request. */
#define HTTP_SERVER_HEADER_TIMEOUT_MS 5000u

struct http_server_config {
	const char *host; /* IP address to bind, e.g. "127.0.0.1"; copied */
	int port;         /* 0: an ephemeral port, see http_server_port() */
	size_t max_body;
	size_t max_header;
	unsigned max_connections;
	size_t max_ws_queue;
	/* Past max_ws_total bytes queued to all WebSockets together, the
	 * sockets with the most queued are shed (see http_server_ws_send). */
	size_t max_ws_total;
	/* The reason in the close frame of a socket shed for either queue cap
	 * (code HTTP_SERVER_WS_SHED_CODE); NULL: "send queue over the cap".
	 * Copied, cut to 123 bytes. */
	const char *ws_shed_reason;
	unsigned max_pending_per_peer;
	unsigned header_timeout_ms;
	/* Paths (exact, before '?') still served on a connection past
	 * max_connections or max_pending_per_peer, e.g. health checks; a
	 * NULL-terminated array, NULL: none. Borrowed: it must outlive the
	 * server. */
	const char *const *cap_exempt;
	/* Requests to this path (exact, before '?') that ask to upgrade become
	 * WebSockets; NULL: no WebSockets. Copied. */
	const char *ws_path;
};

struct http_server_callbacks {
	/*
	 * A complete request (headers and body). The callee must answer it
	 * exactly once with http_server_request_respond*(), now or later; until then
	 * req stays valid even if the client goes away (the answer is then
	 * dropped). Requests refused by the server itself (caps, malformed
	 * HTTP) never reach this callback.
	 */
	void (*request)(struct http_request *req, void *userdata);
	/*
	 * A WebSocket upgrade on ws_path; req gives the path, query and headers
	 * of the upgrade request and is valid only during the call (never
	 * respond to it). Return 0 to accept (ws is then live until closed),
	 * or an HTTP status (401, 403, 400...) to refuse the upgrade with a
	 * problem body of that status and detail (detail may be NULL). Required
	 * when ws_path is set.
	 */
	int (*ws_open)(struct http_ws *ws, const struct http_request *req,
		       const char **ret_detail, void *userdata);
	/* A whole text or binary message from the client, its fragments
	 * joined (borrowed, NUL-terminated); a message past
	 * HTTP_SERVER_MAX_WS_MESSAGE closes the socket with 1009, a protocol
	 * error (an unmasked frame...) with 1002. Pings are answered by the
	 * server. Optional. */
	void (*ws_message)(struct http_ws *ws, const char *data, size_t len,
			   void *userdata);
	/* The socket is gone (peer close, error, queue cap, server close);
	 * ws is freed after this returns. Runs once per accepted socket. */
	void (*ws_closed)(struct http_ws *ws, void *userdata);
};

/*
 * Creates the server and starts listening. cfg's strings and cbs are
 * copied. Returns 0 and sets *ret_server, -EINVAL (max_header above 65535
 * too), -ENOMEM, or libuv's error for the address (-EADDRINUSE...).
 *
 * Server-made answers, each an application/problem+json body followed by
 * closing the connection: 503 past max_connections or max_pending_per_peer
 * (but for cap_exempt paths) or while closing; 408 when the request head
 * is not in within header_timeout_ms (or a body stalls 10 s); 400 for a
 * malformed request line (one without a version, as when a %0a in the path
 * cut it short, or a target that is not a path), a malformed header field
 * (obs-fold, whitespace before the colon, a NUL, CR or other control
 * character in a value), a bare LF, an HTTP/1.1 request without exactly
 * one Host, a Content-Length that is not digits or two that differ,
 * Content-Length with Transfer-Encoding, a bad percent-escape or a control
 * character (%00-%1f, %7f) in the path or the query; 505 for an HTTP
 * version other than 1.0 and 1.1; 414 for a request line past max_header,
 * a path past HTTP_SERVER_MAX_PATH or a query of more than
 * HTTP_PARSER_MAX_PARAMS parameters; 431 for a head past max_header or
 * with more than HTTP_PARSER_MAX_FIELDS fields; 413 (by Content-Length);
 * 411 for a chunked body and for POST, PUT or PATCH without Content-Length;
 * 501 for another Transfer-Encoding; 501 with an Allow header naming GET,
 * HEAD, POST, PUT, PATCH, DELETE, OPTIONS for any other method (CONNECT and
 * TRACE included: this server is no proxy, and TRACE would echo
 * credentials) and for "OPTIONS *" (ask about a path instead). A body
 * behind "Expect: 100-continue" is asked for with a 100 once the head
 * passes these checks. A WebSocket upgrade elsewhere than ws_path is 404,
 * one with a version other than 13 is 426, one without a valid
 * Sec-WebSocket-Key is 400. After a failure the loop must still run until
 * the server's handles have closed.
 */
int http_server_new(uv_loop_t *loop, const struct http_server_config *cfg,
		    const struct http_server_callbacks *cbs, void *userdata,
		    struct http_server **ret_server);

/* The port actually bound. */
int http_server_port(const struct http_server *server);

/* Connections open now (HTTP and WebSocket). */
unsigned http_server_connections(const struct http_server *server);

/*
 * Closes every connection (ws_closed runs for each WebSocket before this
 * returns), stops listening and frees the server once its uv handles have
 * closed; the loop must run. Requests not yet answered stay valid until
 * answered; their answers are dropped. NULL is a no-op.
 */
void http_server_close(struct http_server *server);

/* The request method, e.g. "GET"; path without the query,
 * percent-decoded; the query without '?' ("" if none), split at '&', each
 * parameter percent-decoded ('+' too becomes a space), joined again with
 * '&' (empty parameters dropped) - so a value holding an encoded '&'
 * cannot be told apart here; read values with http_server_request_param().
 * Borrowed, valid until answered. */
const char *http_server_request_method(const struct http_request *req);
const char *http_server_request_path(const struct http_request *req);
const char *http_server_request_query(const struct http_request *req);

/* The percent-decoded value of the first query parameter name (a bare
 * "name" without '=' gives ""), copied into buf (at most size bytes with
 * the NUL). Returns its length, -ENOENT when absent, -ENOSPC when it does
 * not fit. */
int http_server_request_param(const struct http_request *req, const char *name,
			      char *buf, size_t size);

/*
 * A request header, by lower-case name. Only these are kept:
 * "authorization", "content-type", "accept", "range", "if-none-match".
 * Returns the value (borrowed) or NULL when absent.
 */
const char *http_server_request_header(const struct http_request *req,
				       const char *name);

/* The body (NUL-terminated; "" and 0 when none). Borrowed. */
const char *http_server_request_body(const struct http_request *req,
				     size_t *ret_len);

/* The peer's address as text, for logs. */
const char *http_server_request_peer(const struct http_request *req);

/* Opaque pointer for the callee, e.g. while a query runs. */
void http_server_request_set_data(struct http_request *req, void *data);
void *http_server_request_get_data(const struct http_request *req);

/* True once the server knows the client has gone (it reset, or closed its
 * side: the server keeps reading while a request is unanswered, up to
 * 64 KiB of a pipelined next one), or the server has closed; an answer
 * will then be dropped. */
bool http_server_request_abandoned(const struct http_request *req);

/*
 * Answers req and frees it: status, content type (NULL: none), extra header
 * lines (each "Name: value\r\n", NULL: none), body copied (NULL with len 0:
 * empty). HEAD requests get the headers only. Returns 0, or -ENOMEM (req is
 * then answered with a bare 500 and freed all the same).
 */
int http_server_request_respond(struct http_request *req, int status,
				const char *content_type, const char *headers,
				const void *body, size_t len);

/* Like http_server_request_respond, taking ownership of body (malloc'd). */
int http_server_request_respond_take(struct http_request *req, int status,
				     const char *content_type,
				     const char *headers, char *body,
				     size_t len);

/* The close code of a socket shed for a queue cap: 1013, try again
 * later (RFC 6455, IANA registry). */
#define HTTP_SERVER_WS_SHED_CODE 1013

/*
 * Queues a text message to ws (copied). A socket is shed when its own queue
 * would pass max_ws_queue, and when the queues of all sockets together
 * would pass max_ws_total the sockets with the most queued are shed, ws
 * among them if it has the most, until the message fits. Shedding discards
 * the socket's queue and sends a close frame (HTTP_SERVER_WS_SHED_CODE,
 * ws_shed_reason) at once; ws_closed runs when the socket is gone, and
 * later sends fail with -EPIPE. Returns 0, -ENOBUFS when ws itself was shed
 * (a reader that slow must resume), -ENOMEM, or -EPIPE when the socket is
 * closing.
 */
int http_server_ws_send(struct http_ws *ws, const char *data, size_t len);

/* Bytes queued to all WebSockets together. */
size_t http_server_ws_queued(const struct http_server *server);

/* Discards what is queued to ws and sends a close frame with code and
 * reason (cut to 123 bytes) at once: for a peer that must hear nothing
 * more. Later sends fail with -EPIPE; ws_closed runs when the socket is
 * gone. A no-op on a socket already closing this way. */
void http_server_ws_drop(struct http_ws *ws, int code, const char *reason);

/* Sends a close frame with code and reason (cut to 123 bytes) once the
 * queue drains; later sends fail with -EPIPE. ws_closed runs when the
 * socket is gone. */
void http_server_ws_close(struct http_ws *ws, int code, const char *reason);

void http_server_ws_set_data(struct http_ws *ws, void *data);
void *http_server_ws_get_data(const struct http_ws *ws);

#endif /* HTTP_SERVER_H */
