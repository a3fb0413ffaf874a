/* httpd.c: a minimal HTTP/1.1 server on a libuv loop, for tests only. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEAD_MAX 512u

/* One reply on its way out; data follows the struct. */
struct out {
	uv_write_t req;
	struct conn *conn;
	bool close_after;
	size_t len;
	char data[];
};

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct httpd *httpd;
	struct conn *prev;
	struct conn *next;
	struct out *delayed; /* the reply waiting for timer, or NULL */
	int handles;         /* uv handles not yet closed */
	bool busy;           /* answering (or refusing to answer) a request */
	bool closing;
	size_t len;
	char buf[HTTPD_MAX_REQUEST + 1]; /* one more for a NUL after len */
};

struct httpd {
	uv_loop_t *loop;
	uv_tcp_t listener;
	httpd_handler handler;
	void *userdata;
	struct conn *conns;
	unsigned handles; /* the listener plus every connection not yet freed */
	int port;
	struct httpd_stats stats;
};

static void process(struct conn *conn);

static void httpd_maybe_free(struct httpd *httpd)
{
	if (httpd->handles == 0)
		free(httpd);
}

static void on_conn_closed(uv_handle_t *handle)
{
	struct conn *conn = handle->data;
	struct httpd *httpd = conn->httpd;

	if (--conn->handles > 0)
		return;
	free(conn->delayed);
	free(conn);
	httpd->handles--;
	httpd_maybe_free(httpd);
}

static void conn_close(struct conn *conn)
{
	struct httpd *httpd = conn->httpd;

	if (conn->closing)
		return;
	conn->closing = true;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		httpd->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	httpd->stats.open--;
	uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
	uv_close((uv_handle_t *)&conn->timer, on_conn_closed);
}

static void on_written(uv_write_t *req, int status)
{
	struct out *out = req->data;
	struct conn *conn = out->conn;
	bool close_after = out->close_after;

	free(out);
	if (status < 0 || conn->closing)
		return;
	conn->httpd->stats.served++;
	if (close_after)
		conn_close(conn);
}

static void send_out(struct conn *conn, struct out *out)
{
	uv_buf_t buf = uv_buf_init(out->data, (unsigned)out->len);

	out->req.data = out;
	if (uv_write(&out->req, (uv_stream_t *)&conn->tcp, &buf, 1,
		     on_written) < 0) {
		free(out);
		conn_close(conn);
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 409:
		return "Conflict";
	default:
		return "Status";
	}
}

static struct out *out_new(struct conn *conn, const struct httpd_reply *r)
{
	size_t body_len =
	    r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0;
	char head[HEAD_MAX];
	int n;
	struct out *out;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", r->status,
		     reason(r->status));
	if (r->content_type)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: %s\r\n", r->content_type);
	if (r->close_delimited)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Connection: close\r\n\r\n");
	else if (r->status == 204)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	else
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Length: %zu\r\n\r\n", body_len);
	out = malloc(sizeof(*out) + (size_t)n + body_len);
	if (!out)
		return NULL;
	out->conn = conn;
	out->close_after = r->close_delimited;
	out->len = (size_t)n + body_len;
	memcpy(out->data, head, (size_t)n);
	if (body_len)
		memcpy(out->data + n, r->body, body_len);
	return out;
}

static void on_delay(uv_timer_t *timer)
{
	struct conn *conn = timer->data;
	struct out *out = conn->delayed;

	conn->delayed = NULL;
	conn->busy = out->close_after;
	send_out(conn, out);
	process(conn);
}

/* Acts on the handler's decision. Returns whether the connection can go
 * on with the next request at once. */
static bool reply(struct conn *conn, const struct httpd_reply *r)
{
	struct out *out;

	if (r->action == HTTPD_HANG) {
		conn->busy = true;
		return false;
	}
	out = r->action == HTTPD_DROP ? NULL : out_new(conn, r);
	if (!out) {
		conn_close(conn);
		return false;
	}
	if (r->delay_ms == 0) {
		send_out(conn, out);
		return !r->close_delimited;
	}
	conn->busy = true;
	conn->delayed = out;
	uv_timer_start(&conn->timer, on_delay, r->delay_ms, 0);
	return false;
}

static void copy_field(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Records one header line into the stats; returns Content-Length when the
 * line is one, else -1. */
static long header(struct httpd_stats *st, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t name_len;
	const char *value;
	size_t value_len;

	if (!colon)
		return -1;
	name_len = (size_t)(colon - line);
	value = colon + 1 + strspn(colon + 1, " \t");
	value_len = len - (size_t)(value - line);
	if (name_len == 13 && !strncasecmp(line, "Authorization", 13))
		copy_field(st->last_authorization,
			   sizeof(st->last_authorization), value, value_len);
	else if (name_len == 12 && !strncasecmp(line, "Content-Type", 12))
		copy_field(st->last_content_type, sizeof(st->last_content_type),
			   value, value_len);
	else if (name_len == 14 && !strncasecmp(line, "Content-Length", 14))
		return strtol(value, NULL, 10);
	return -1;
}

/* Records "METHOD SP PATH SP VERSION"; returns -1 when it is not that. */
static int request_line(struct httpd_stats *st, const char *line, size_t len)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2;

	if (!sp1)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line));
	if (!sp2)
		return -1;
	copy_field(st->last_method, sizeof(st->last_method), line,
		   (size_t)(sp1 - line));
	copy_field(st->last_path, sizeof(st->last_path), sp1 + 1,
		   (size_t)(sp2 - sp1 - 1));
	return 0;
}

/* Parses the head that ends at head_len; returns Content-Length (0 when
 * absent) or -1 for a malformed request. */
static long parse_head(struct httpd_stats *st, const char *buf, size_t head_len)
{
	const char *end = buf + head_len;
	const char *line = memmem(buf, head_len, "\r\n", 2);
	long content_length = 0;

	st->last_authorization[0] = st->last_content_type[0] = '\0';
	if (request_line(st, buf, (size_t)(line - buf)) < 0)
		return -1;
	for (line += 2; line < end;) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		long cl;

		if (!eol)
			break;
		cl = header(st, line, (size_t)(eol - line));
		if (cl >= 0)
			content_length = cl;
		line = eol + 2;
	}
	return content_length;
}

/* Handles one complete request at the front of the buffer. Returns
 * whether another request may follow at once. */
static bool serve_one(struct conn *conn, size_t head_len, size_t total)
{
	struct httpd *httpd = conn->httpd;
	struct httpd_stats *st = &httpd->stats;
	struct httpd_reply r = {.status = 200};
	struct httpd_request req = {
	    .method = st->last_method,
	    .path = st->last_path,
	    .authorization = st->last_authorization,
	    .content_type = st->last_content_type,
	    .body = st->last_body,
	    .body_len = total - head_len,
	};

	copy_field(st->last_body, sizeof(st->last_body), conn->buf + head_len,
		   total - head_len);
	st->last_body_len = total - head_len;
	st->requests++;
	memmove(conn->buf, conn->buf + total, conn->len - total);
	conn->len -= total;
	conn->buf[conn->len] = '\0';
	if (httpd->handler)
		httpd->handler(&req, &r, httpd->userdata);
	return reply(conn, &r);
}

/* Serves every complete request in the buffer, one at a time: like
 * Asterisk, this server answers in order and never overlaps replies. */
static void process(struct conn *conn)
{
	while (!conn->busy && !conn->closing) {
		const char *eoh = memmem(conn->buf, conn->len, "\r\n\r\n", 4);
		size_t head_len;
		long cl;

		if (!eoh)
			return;
		head_len = (size_t)(eoh - conn->buf) + 4;
		cl = parse_head(&conn->httpd->stats, conn->buf, head_len);
		if (cl < 0 || (size_t)cl > HTTPD_MAX_REQUEST - head_len) {
			conn_close(conn);
			return;
		}
		if (conn->len < head_len + (size_t)cl)
			return;
		if (!serve_one(conn, head_len, head_len + (size_t)cl))
			return;
	}
}

static void on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	struct conn *conn = handle->data;

	*buf = uv_buf_init(conn->buf + conn->len,
			   (unsigned)(HTTPD_MAX_REQUEST - conn->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *conn = stream->data;

	if (nread < 0) {
		conn_close(conn);
		return;
	}
	conn->len += (size_t)nread;
	conn->buf[conn->len] = '\0';
	process(conn);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct httpd *httpd = listener->data;
	struct conn *conn;

	if (status < 0 || !(conn = calloc(1, sizeof(*conn))))
		return;
	conn->httpd = httpd;
	conn->handles = 2;
	uv_tcp_init(httpd->loop, &conn->tcp);
	uv_timer_init(httpd->loop, &conn->timer);
	conn->tcp.data = conn->timer.data = conn;
	conn->next = httpd->conns;
	if (httpd->conns)
		httpd->conns->prev = conn;
	httpd->conns = conn;
	httpd->handles++;
	httpd->stats.accepted++;
	if (++httpd->stats.open > httpd->stats.max_open)
		httpd->stats.max_open = httpd->stats.open;
	if (uv_accept(listener, (uv_stream_t *)&conn->tcp) < 0 ||
	    uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) < 0)
		conn_close(conn);
}

static void on_listener_closed(uv_handle_t *handle)
{
	struct httpd *httpd = handle->data;

	httpd->handles--;
	httpd_maybe_free(httpd);
}

static int listen_local(struct httpd *httpd)
{
	struct sockaddr_storage ss;
	struct sockaddr_in addr;
	int len = sizeof(ss);
	int r;

	uv_ip4_addr("127.0.0.1", 0, &addr);
	r = uv_tcp_bind(&httpd->listener, (const struct sockaddr *)&addr, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&httpd->listener, 128,
			      on_connection);
	if (r == 0)
		r = uv_tcp_getsockname(&httpd->listener, (struct sockaddr *)&ss,
				       &len);
	if (r == 0)
		httpd->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return r;
}

int httpd_new(uv_loop_t *loop, httpd_handler handler, void *userdata,
	      struct httpd **ret_httpd)
{
	struct httpd *httpd = calloc(1, sizeof(*httpd));
	int r;

	if (!httpd)
		return -ENOMEM;
	httpd->loop = loop;
	httpd->handler = handler;
	httpd->userdata = userdata;
	r = uv_tcp_init(loop, &httpd->listener);
	if (r < 0) {
		free(httpd);
		return r;
	}
	httpd->listener.data = httpd;
	httpd->handles = 1;
	r = listen_local(httpd);
	if (r < 0) {
		uv_close((uv_handle_t *)&httpd->listener, on_listener_closed);
		return r;
	}
	*ret_httpd = httpd;
	return 0;
}

int httpd_port(const struct httpd *httpd)
{
	return httpd->port;
}

const struct httpd_stats *httpd_stats(const struct httpd *httpd)
{
	return &httpd->stats;
}

void httpd_drop_idle(struct httpd *httpd)
{
	struct conn *conn = httpd->conns;

	while (conn) {
		struct conn *next = conn->next;

		if (!conn->busy)
			conn_close(conn);
		conn = next;
	}
}

void httpd_close(struct httpd *httpd)
{
	if (!httpd)
		return;
	while (httpd->conns)
		conn_close(httpd->conns);
	uv_close((uv_handle_t *)&httpd->listener, on_listener_closed);
}
