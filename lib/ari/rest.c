/* rest.c: ARI REST requests over libcurl multi, driven by a libuv loop. */
#include "ari/rest.h"

/* Seconds a connection may sit idle in the cache before it is retired. */
#define ARI_REST_MAX_IDLE_S 10L

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ari/event.h"
#include "ari/internal.h"
#include "ari/status.h"
#include "util/buf.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT_MS 5000L
#define DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define DEFAULT_MAX_CONNECTIONS 4u

/* One transfer, from ari_rest_request() until its callback returns. */
struct request {
	struct ari_rest *rest;
	struct request *prev;
	struct request *next;
	CURL *easy;
	char *url;
	char *payload; /* the serialized request body, or NULL */
	char *buf;     /* the response body so far, NUL-terminated */
	size_t len;
	size_t cap;
	int write_error; /* -EMSGSIZE or -ENOMEM when on_write gave up */
	uint64_t start_ns;
	ari_rest_cb cb;
	void *userdata;
};

/*
 * One socket libcurl asked us to watch. libcurl may close a socket and
 * open another with the same number before our close callback has run, so
 * a watch is never reused: each CURL_POLL_REMOVE closes its uv_poll_t and
 * the memory goes in the close callback, and a new socket gets a new watch.
 */
struct watch {
	uv_poll_t poll;
	struct ari_rest *rest;
	struct watch *prev;
	struct watch *next;
	curl_socket_t fd;
};

struct ari_rest {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	char *base_url;
	char *username;
	char *password;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_response;
	struct curl_slist *headers_json; /* for requests with a body */
	struct curl_slist *headers_bare; /* for requests without */
	struct request *requests;        /* started, callback not yet run */
	size_t pending;
	struct watch *watches; /* open poll handles */
	unsigned open_handles; /* uv handles whose close cb is due */
	bool closing;
	ari_rest_observer observer;
	void *observer_data;
	/* REST over the events WebSocket: how to send, and the requests
	 * waiting for their RESTResponse, oldest first (one timeout for all,
	 * so that order is also deadline order). */
	ari_rest_ws_send ws_send;
	void *ws_data;
	struct ws_request *ws_head, *ws_tail;
	size_t ws_pending;
	uint64_t ws_next_id;
	uv_timer_t ws_timer;
};

/* A request sent as a RESTRequest message, until its answer. */
struct ws_request {
	struct ws_request *prev, *next;
	char id[24];
	char *uri;
	uint64_t start_ns;
	uint64_t deadline_ms;
	ari_rest_cb cb;
	void *userdata;
};

int ari__curl_to_errno(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_TOO_MANY_REDIRECTS:
		return -EPROTO;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

bool ari__content_type_is_json(const char *content_type)
{
	static const char json[] = "application/json";
	const char *rest;

	if (!content_type)
		return false;
	content_type += strspn(content_type, " \t");
	if (strncasecmp(content_type, json, sizeof(json) - 1) != 0)
		return false;
	rest = content_type + sizeof(json) - 1;
	return *rest == '\0' || *rest == ';' || *rest == ' ' || *rest == '\t';
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

int ari_rest_escape(const char *s, char **ret_escaped)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n;
	char *out;
	char *p;

	if (!s || !ret_escaped)
		return -EINVAL;
	n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	out = malloc(n * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (p = out; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (is_unreserved(c)) {
			*p++ = (char)c;
			continue;
		}
		*p++ = '%';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 0xf];
	}
	*p = '\0';
	*ret_escaped = out;
	return 0;
}

static void request_link(struct request *req)
{
	struct ari_rest *rest = req->rest;

	req->prev = NULL;
	req->next = rest->requests;
	if (rest->requests)
		rest->requests->prev = req;
	rest->requests = req;
	rest->pending++;
}

static void request_unlink(struct request *req)
{
	struct ari_rest *rest = req->rest;

	if (req->prev)
		req->prev->next = req->next;
	else
		rest->requests = req->next;
	if (req->next)
		req->next->prev = req->prev;
	req->prev = req->next = NULL;
	rest->pending--;
}

static void request_free(struct request *req)
{
	if (!req)
		return;
	curl_easy_cleanup(req->easy);
	free(req->url);
	free(req->payload);
	free(req->buf);
	free(req);
}

/* CURLOPT_WRITEFUNCTION: returning short makes libcurl stop the transfer
 * with CURLE_WRITE_ERROR; write_error says why. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct request *req = userp;
	size_t n = size * nmemb;
	int r = buf_append(&req->buf, &req->len, &req->cap, data, n,
			   req->rest->max_response);

	if (r < 0) {
		req->write_error = r;
		return 0;
	}
	return n;
}

/* Options every request carries. Returns 0 or -ENOMEM. */
static int easy_setup_common(struct request *req)
{
	struct ari_rest *rest = req->rest;
	CURL *easy = req->easy;
	bool failed = false;

	failed |= curl_easy_setopt(easy, CURLOPT_URL, req->url) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") !=
		  CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_PRIVATE, req) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK;
	/* Asterisk closes a connection idle for session_keep_alive (15 s by
	 * default). Reusing one just before that races the close, and a POST
	 * could then be sent twice; retire connections well before it. */
	failed |= curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN,
				   ARI_REST_MAX_IDLE_S) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
				   (long)CURL_HTTP_VERSION_1_1) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
				   rest->timeout_ms) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
				   rest->connect_timeout_ms) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
				   (curl_off_t)rest->max_response) != CURLE_OK;
	failed |=
	    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
	failed |= curl_easy_setopt(easy, CURLOPT_WRITEDATA, req) != CURLE_OK;
	if (rest->username) {
		failed |= curl_easy_setopt(easy, CURLOPT_HTTPAUTH,
					   (long)CURLAUTH_BASIC) != CURLE_OK;
		failed |= curl_easy_setopt(easy, CURLOPT_USERNAME,
					   rest->username) != CURLE_OK;
		failed |= curl_easy_setopt(easy, CURLOPT_PASSWORD,
					   rest->password) != CURLE_OK;
	}
	return failed ? -ENOMEM : 0;
}

/*
 * The method, the body and the headers. POST and PUT without a body still
 * send Content-Length: 0, and "Content-Type:" in headers_bare stops libcurl
 * from adding its form-encoded default; "Expect:" stops it from waiting
 * for a 100 Continue before larger bodies.
 */
static int easy_setup_method(struct request *req, const char *method)
{
	struct ari_rest *rest = req->rest;
	CURL *easy = req->easy;
	bool empty_body = !strcmp(method, "POST") || !strcmp(method, "PUT");
	bool failed = false;

	failed |=
	    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	if (req->payload) {
		failed |= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
					   (curl_off_t)strlen(req->payload)) !=
			  CURLE_OK;
		failed |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
					   req->payload) != CURLE_OK;
	} else if (empty_body) {
		failed |= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L) !=
			  CURLE_OK;
		failed |=
		    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "") != CURLE_OK;
	}
	failed |=
	    curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
			     req->payload ? rest->headers_json
					  : rest->headers_bare) != CURLE_OK;
	return failed ? -ENOMEM : 0;
}

static char *url_join(const char *base, const char *path)
{
	size_t base_len = strlen(base);
	size_t path_len = strlen(path);
	char *url = malloc(base_len + path_len + 1);

	if (!url)
		return NULL;
	memcpy(url, base, base_len);
	memcpy(url + base_len, path, path_len + 1);
	return url;
}

/* Builds a request ready for curl_multi_add_handle(). Returns 0 and sets
 * *ret_req, or -EINVAL (body not an object or array) or -ENOMEM. */
static int request_new(struct ari_rest *rest, const char *method,
		       const char *path, const json_t *body,
		       struct request **ret_req)
{
	struct request *req = calloc(1, sizeof(*req));
	int r = -ENOMEM;

	if (!req)
		return -ENOMEM;
	req->rest = rest;
	req->start_ns = uv_hrtime();
	req->url = url_join(rest->base_url, path);
	req->easy = curl_easy_init();
	if (!req->url || !req->easy)
		goto err;
	if (body) {
		req->payload = json_dumps(body, JSON_COMPACT);
		if (!req->payload) {
			r = -EINVAL;
			goto err;
		}
	}
	r = easy_setup_common(req);
	if (r < 0)
		goto err;
	r = easy_setup_method(req, method);
	if (r < 0)
		goto err;
	*ret_req = req;
	return 0;
err:
	request_free(req);
	return r;
}

/* Runs the callback, then drops the request. The request is already out
 * of the multi handle and the pending list, so the callback may start new
 * requests or close the client. */
static void request_deliver(struct request *req, struct ari_response *resp)
{
	log_debug("ari rest: done url=%s status=%ld error=%d elapsed_ms=%.1f",
		  req->url, resp->http_status, resp->error, resp->elapsed_ms);
	if (req->rest->observer && resp->error != -ECANCELED)
		req->rest->observer(resp, req->rest->observer_data);
	if (req->cb)
		req->cb(resp, req->userdata);
	json_decref(resp->json);
	request_free(req);
}

/* Fills body, json and error for a transfer libcurl finished cleanly. */
static void response_decode(struct request *req, struct ari_response *resp)
{
	char *content_type = NULL;
	json_error_t jerr;

	resp->error = ari_status_to_errno(resp->http_status);
	resp->body = req->buf;
	resp->body_len = req->len;
	curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &content_type);
	if (req->len == 0 || !ari__content_type_is_json(content_type))
		return;
	/* ARI answers objects or arrays; anything else is not ARI talking. */
	resp->json = json_loadb(req->buf, req->len, 0, &jerr);
	if (resp->json)
		return;
	log_debug("ari rest: bad json url=%s line=%d reason=%s", req->url,
		  jerr.line, jerr.text);
	if (resp->error == 0)
		resp->error = -EPROTO;
}

static void request_complete(struct request *req, CURLcode code)
{
	struct ari_response resp = {0};

	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &resp.http_status);
	resp.elapsed_ms = (double)(uv_hrtime() - req->start_ns) / 1e6;
	if (req->write_error < 0)
		resp.error = req->write_error;
	else if (code != CURLE_OK)
		resp.error = ari__curl_to_errno(code);
	else
		response_decode(req, &resp);
	if (code != CURLE_OK)
		log_debug("ari rest: transfer failed url=%s curl=%s", req->url,
			  curl_easy_strerror(code));
	request_deliver(req, &resp);
}

static void request_cancel(struct request *req)
{
	struct ari_response resp = {0};

	resp.error = -ECANCELED;
	resp.elapsed_ms = (double)(uv_hrtime() - req->start_ns) / 1e6;
	request_deliver(req, &resp);
}

/* Completes every finished transfer. A callback may close the client, so
 * the multi handle is only read while the client is open. */
static void check_done(struct ari_rest *rest)
{
	CURLMsg *msg;
	int left;

	while (!rest->closing &&
	       (msg = curl_multi_info_read(rest->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(rest->multi, easy);
		request_unlink((struct request *)priv);
		request_complete((struct request *)priv, code);
	}
}

static void socket_action(struct ari_rest *rest, curl_socket_t fd, int flags)
{
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(rest->multi, fd, flags, &running);
	if (mc != CURLM_OK)
		log_debug("ari rest: socket action failed fd=%d reason=%s",
			  (int)fd, curl_multi_strerror(mc));
	check_done(rest);
}

/* Undoes ari_rest_new(), including its curl_global_init(); rest is NULL
 * when the allocation itself failed. */
static void release(struct ari_rest *rest)
{
	if (rest) {
		curl_multi_cleanup(rest->multi);
		curl_slist_free_all(rest->headers_json);
		curl_slist_free_all(rest->headers_bare);
		free(rest->base_url);
		free(rest->username);
		free(rest->password);
		free(rest);
	}
	curl_global_cleanup();
}

static void maybe_release(struct ari_rest *rest)
{
	if (rest->closing && rest->open_handles == 0)
		release(rest);
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct watch *w = poll->data;
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	socket_action(w->rest, w->fd, flags);
}

static void on_watch_closed(uv_handle_t *handle)
{
	struct watch *w = handle->data;
	struct ari_rest *rest = w->rest;

	free(w);
	rest->open_handles--;
	maybe_release(rest);
}

static struct watch *watch_new(struct ari_rest *rest, curl_socket_t fd)
{
	struct watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return NULL;
	r = uv_poll_init_socket(rest->loop, &w->poll, fd);
	if (r < 0) {
		log_debug("ari rest: cannot watch fd=%d reason=%s", (int)fd,
			  uv_strerror(r));
		free(w);
		return NULL;
	}
	w->poll.data = w;
	w->rest = rest;
	w->fd = fd;
	w->next = rest->watches;
	if (rest->watches)
		rest->watches->prev = w;
	rest->watches = w;
	rest->open_handles++;
	return w;
}

static void watch_close(struct watch *w)
{
	struct ari_rest *rest = w->rest;

	if (w->prev)
		w->prev->next = w->next;
	else
		rest->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

/*
 * CURLMOPT_SOCKETFUNCTION: what to watch on one socket. It returns 0 even
 * when a watch cannot be set up, because -1 marks the whole multi handle
 * dead and strands every transfer; an unwatched socket stalls only its own
 * transfer, which then ends with -ETIMEDOUT.
 */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
		     void *socketp)
{
	struct ari_rest *rest = userp;
	struct watch *w = socketp;
	int events = 0;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (w)
			watch_close(w);
		return 0;
	}
	if (!w && !rest->closing) {
		w = watch_new(rest, fd);
		if (w)
			curl_multi_assign(rest->multi, fd, w);
	}
	if (!w)
		return 0;
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	r = uv_poll_start(&w->poll, events, on_poll);
	if (r < 0)
		log_debug("ari rest: cannot poll fd=%d reason=%s", (int)fd,
			  uv_strerror(r));
	return 0;
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct ari_rest *rest = handle->data;

	rest->open_handles--;
	maybe_release(rest);
}

static void on_timeout(uv_timer_t *timer)
{
	socket_action(timer->data, CURL_SOCKET_TIMEOUT, 0);
}

/*
 * CURLMOPT_TIMERFUNCTION: libcurl must not be re-entered from here, so
 * even a zero timeout goes through the loop. That is also what keeps
 * callbacks out of ari_rest_request(). Neither uv call can fail on an
 * open timer, and the closing one is never touched.
 */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct ari_rest *rest = userp;

	if (rest->closing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&rest->timer);
	else
		uv_timer_start(&rest->timer, on_timeout, (uint64_t)timeout_ms,
			       0);
	return 0;
}

static struct curl_slist *headers_new(const char *content_type)
{
	struct curl_slist *list = NULL;
	const char *const lines[] = {"Accept: application/json",
				     "Expect:", content_type};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *next = curl_slist_append(list, lines[i]);

		if (!next) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = next;
	}
	return list;
}

/*
 * One multi handle per client keeps the connection cache: up to
 * max_connections persistent connections to Asterisk, with pipelining and
 * multiplexing off so that one HTTP/1.1 connection carries one request at
 * a time, and requests beyond the limit queue inside libcurl.
 */
static int multi_setup(struct ari_rest *rest, long max_connections)
{
	CURLM *m = curl_multi_init();
	bool failed = false;

	if (!m)
		return -ENOMEM;
	rest->multi = m;
	failed |= curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket) !=
		  CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_SOCKETDATA, rest) != CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_curl_timer) !=
		  CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_TIMERDATA, rest) != CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_PIPELINING,
				    (long)CURLPIPE_NOTHING) != CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS,
				    max_connections) != CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS,
				    max_connections) != CURLM_OK;
	failed |= curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, max_connections) !=
		  CURLM_OK;
	rest->headers_json = headers_new("Content-Type: application/json");
	rest->headers_bare = headers_new("Content-Type:");
	if (!rest->headers_json || !rest->headers_bare)
		return -ENOMEM;
	return failed ? -EINVAL : 0;
}

static char *strdup_trimmed(const char *s)
{
	size_t n = strlen(s);
	char *copy;

	while (n > 0 && s[n - 1] == '/')
		n--;
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}

static int config_copy(struct ari_rest *rest, const struct ari_rest_config *cfg)
{
	rest->timeout_ms =
	    cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	rest->connect_timeout_ms = cfg->connect_timeout_ms > 0
				       ? cfg->connect_timeout_ms
				       : DEFAULT_CONNECT_TIMEOUT_MS;
	rest->max_response = cfg->max_response_bytes ? cfg->max_response_bytes
						     : ARI_REST_MAX_RESPONSE;
	rest->base_url = strdup_trimmed(cfg->base_url);
	if (!rest->base_url)
		return -ENOMEM;
	if (cfg->username) {
		rest->username = strdup(cfg->username);
		rest->password = strdup(cfg->password ? cfg->password : "");
		if (!rest->username || !rest->password)
			return -ENOMEM;
	}
	return 0;
}

int ari_rest_set_credentials(struct ari_rest *rest, const char *username,
			     const char *password)
{
	char *user = NULL, *pass = NULL;

	if (username) {
		user = strdup(username);
		pass = strdup(password ? password : "");
		if (!user || !pass) {
			free(user);
			free(pass);
			return -ENOMEM;
		}
	}
	free(rest->username);
	free(rest->password);
	rest->username = user;
	rest->password = pass;
	return 0;
}

int ari_rest_new(uv_loop_t *loop, const struct ari_rest_config *cfg,
		 struct ari_rest **ret_rest)
{
	struct ari_rest *rest;
	unsigned max_conn;
	int r = -ENOMEM;

	if (!loop || !cfg || !cfg->base_url || !ret_rest)
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	rest = calloc(1, sizeof(*rest));
	if (!rest)
		goto err;
	rest->loop = loop;
	r = config_copy(rest, cfg);
	if (r < 0)
		goto err;
	max_conn = cfg->max_connections ? cfg->max_connections
					: DEFAULT_MAX_CONNECTIONS;
	r = multi_setup(rest, (long)max_conn);
	if (r < 0)
		goto err;
	/* Last, because a uv handle once initialized can only go through
	 * uv_close() and the loop; uv_timer_init() cannot fail. */
	uv_timer_init(loop, &rest->timer);
	rest->timer.data = rest;
	uv_timer_init(loop, &rest->ws_timer);
	rest->ws_timer.data = rest;
	rest->open_handles = 2;
	*ret_rest = rest;
	return 0;
err:
	release(rest);
	return r;
}

static bool method_valid(const char *method)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};

	if (!method)
		return false;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(method, methods[i]) == 0)
			return true;
	}
	return false;
}

/* A path goes into the request line as is: no spaces or control bytes,
 * which the caller should have escaped. */
static bool path_valid(const char *path)
{
	if (!path || path[0] != '/')
		return false;
	for (; *path; path++) {
		unsigned char c = (unsigned char)*path;

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* ---- REST over the events WebSocket ---- */

static void ws_unlink(struct ari_rest *rest, struct ws_request *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		rest->ws_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		rest->ws_tail = w->prev;
	rest->ws_pending--;
	if (!rest->ws_head && !rest->closing)
		uv_timer_stop(&rest->ws_timer);
}

/* Runs the callback of an unlinked request with resp, then frees it. */
static void ws_deliver(struct ari_rest *rest, struct ws_request *w,
		       struct ari_response *resp)
{
	resp->elapsed_ms = (double)(uv_hrtime() - w->start_ns) / 1e6;
	log_debug("ari rest: done ws uri=%s status=%ld error=%d "
		  "elapsed_ms=%.1f",
		  w->uri, resp->http_status, resp->error, resp->elapsed_ms);
	if (rest->observer && resp->error != -ECANCELED)
		rest->observer(resp, rest->observer_data);
	if (w->cb)
		w->cb(resp, w->userdata);
	json_decref(resp->json);
	free(w->uri);
	free(w);
}

/* Fails every request waiting for an answer with error. */
static void ws_fail_all(struct ari_rest *rest, int error)
{
	struct ws_request *w;

	while ((w = rest->ws_head)) {
		struct ari_response resp = {.error = error};

		ws_unlink(rest, w);
		ws_deliver(rest, w, &resp);
	}
}

static void on_ws_timer(uv_timer_t *timer)
{
	struct ari_rest *rest = timer->data;
	uint64_t now = uv_now(rest->loop);
	struct ws_request *w;

	while ((w = rest->ws_head) && w->deadline_ms <= now) {
		struct ari_response resp = {.error = -ETIMEDOUT};

		ws_unlink(rest, w);
		ws_deliver(rest, w, &resp);
	}
}

/* The RESTRequest text of a request. */
static char *ws_text(const char *id, const char *method, const char *path,
		     const json_t *body)
{
	json_t *msg =
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "RESTRequest",
		      "transaction_id", id, "request_id", id, "method", method,
		      "uri", path + 1);
	char *payload, *text;

	if (msg && body) {
		payload = json_dumps(body, JSON_COMPACT);
		json_object_set_new(msg, "content_type",
				    json_string("application/json"));
		json_object_set_new(msg, "message_body",
				    payload ? json_string(payload) : NULL);
		free(payload);
	}
	text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	return text;
}

/* Sends a request over the WebSocket. Returns 0 (cb runs once), -EAGAIN
 * when it could not be sent (the caller uses HTTP), or -ENOMEM. */
static int ws_request(struct ari_rest *rest, const char *method,
		      const char *path, const json_t *body, ari_rest_cb cb,
		      void *userdata)
{
	struct ws_request *w = calloc(1, sizeof(*w));
	char *text;
	int r;

	if (!w)
		return -ENOMEM;
	snprintf(w->id, sizeof(w->id), "%llu",
		 (unsigned long long)++rest->ws_next_id);
	w->uri = strdup(path);
	text = ws_text(w->id, method, path, body);
	if (!w->uri || !text) {
		free(text);
		free(w->uri);
		free(w);
		return -ENOMEM;
	}
	r = rest->ws_send(text, strlen(text), rest->ws_data);
	free(text);
	if (r < 0) {
		free(w->uri);
		free(w);
		return -EAGAIN;
	}
	w->cb = cb;
	w->userdata = userdata;
	w->start_ns = uv_hrtime();
	w->deadline_ms = uv_now(rest->loop) + (uint64_t)rest->timeout_ms;
	w->prev = rest->ws_tail;
	if (rest->ws_tail)
		rest->ws_tail->next = w;
	else
		rest->ws_head = w;
	rest->ws_tail = w;
	if (rest->ws_pending++ == 0)
		uv_timer_start(&rest->ws_timer, on_ws_timer, 250, 250);
	log_debug("ari rest: start ws method=%s uri=%s id=%s", method, path,
		  w->id);
	return 0;
}

void ari_rest_set_ws(struct ari_rest *rest, ari_rest_ws_send send,
		     void *userdata)
{
	/* Answers to what went over the previous socket will not come. */
	ws_fail_all(rest, -ECONNABORTED);
	rest->ws_send = send;
	rest->ws_data = userdata;
}

bool ari_rest_ws_answer(struct ari_rest *rest, const struct ari_event *msg)
{
	const char *id = msg->request_id;
	const char *body = msg->message_body;
	const char *type = msg->content_type;
	struct ari_response resp = {0};
	struct ws_request *w;

	for (w = rest->ws_head; id && w; w = w->next)
		if (strcmp(w->id, id) == 0)
			break;
	if (!w)
		return false;
	ws_unlink(rest, w);
	resp.http_status = msg->status_code;
	resp.error = ari_status_to_errno(resp.http_status);
	resp.body = body;
	resp.body_len = body ? strlen(body) : 0;
	if (resp.body_len && ari__content_type_is_json(type)) {
		resp.json = json_loadb(body, resp.body_len, 0, NULL);
		if (!resp.json && resp.error == 0)
			resp.error = -EPROTO;
	}
	ws_deliver(rest, w, &resp);
	return true;
}

int ari_rest_request(struct ari_rest *rest, const char *method,
		     const char *path, const json_t *body, ari_rest_cb cb,
		     void *userdata)
{
	struct request *req = NULL;
	int r;

	if (!rest || !method_valid(method) || !path_valid(path))
		return -EINVAL;
	if (rest->closing)
		return -ESHUTDOWN;
	/* Application settings (the event filter among them) stay on HTTP:
	 * a filter left by an older process may drop the RESTResponse that
	 * would answer the request replacing it. */
	if (rest->ws_send && strcmp(method, "GET") != 0 &&
	    strncmp(path, "/applications/", 14) != 0) {
		r = ws_request(rest, method, path, body, cb, userdata);
		if (r != -EAGAIN)
			return r;
	}
	r = request_new(rest, method, path, body, &req);
	if (r < 0)
		return r;
	req->cb = cb;
	req->userdata = userdata;
	if (curl_multi_add_handle(rest->multi, req->easy) != CURLM_OK) {
		request_free(req);
		return -ENOMEM;
	}
	request_link(req);
	log_debug("ari rest: start method=%s url=%s", method, req->url);
	return 0;
}

size_t ari_rest_pending(const struct ari_rest *rest)
{
	return rest ? rest->pending + rest->ws_pending : 0;
}

void ari_rest_set_observer(struct ari_rest *rest, ari_rest_observer cb,
			   void *userdata)
{
	rest->observer = cb;
	rest->observer_data = userdata;
}

void ari_rest_close(struct ari_rest *rest)
{
	struct request *req;

	if (!rest || rest->closing)
		return;
	rest->closing = true;
	while ((req = rest->requests)) {
		request_unlink(req);
		curl_multi_remove_handle(rest->multi, req->easy);
		request_cancel(req);
	}
	ws_fail_all(rest, -ECANCELED);
	rest->ws_send = NULL;
	/* Closes the cached connections, telling on_socket to drop their
	 * watches; whatever libcurl did not report is closed after it. */
	curl_multi_cleanup(rest->multi);
	rest->multi = NULL;
	while (rest->watches)
		watch_close(rest->watches);
	uv_close((uv_handle_t *)&rest->timer, on_timer_closed);
	uv_close((uv_handle_t *)&rest->ws_timer, on_timer_closed);
}
