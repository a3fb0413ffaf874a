/* rest.h: ARI REST requests over libcurl multi, driven by a libuv loop. */
#ifndef ARI_REST_H
#define ARI_REST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct ari_rest;

/* Named cap on one response body, Content-Length or not. ARI's largest
 * answers (GET /channels on a busy system) stay far below it. */
#define ARI_REST_MAX_RESPONSE (4u << 20)

struct ari_rest_config {
	const char *base_url;      /* e.g. "http://127.0.0.1:8088/ari"; copied;
				      trailing slashes are dropped */
	const char *username;      /* copied; NULL sends no credentials */
	const char *password;      /* copied; NULL means "" */
	long timeout_ms;           /* per request, from ari_rest_request(),
				      time queued for a connection
				      included; 0 means 5000 */
	long connect_timeout_ms;   /* 0 means 2000 */
	unsigned max_connections;  /* persistent connections to the host;
				      0 means 4 */
	size_t max_response_bytes; /* 0 means ARI_REST_MAX_RESPONSE */
};

struct ari_response {
	/* 0 for a 2xx answer; otherwise a negative errno:
	 * ari_status_to_errno(http_status) for an HTTP error status,
	 * -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET (closed without an answer),
	 * -ECONNABORTED (sent over the events socket, which went before the
	 * answer came: Asterisk may or may not have carried it out),
	 * -EMSGSIZE (body over the cap), -ECANCELED (ari_rest_close() first),
	 * -EPROTO (malformed answer, or a 2xx JSON body that does not parse),
	 * -EHOSTUNREACH, -EINVAL (a base_url libcurl cannot use), -ENOMEM,
	 * -EIO (anything else from libcurl). */
	int error;
	long http_status; /* 0 when no response arrived */
	/* Borrowed: the parsed body when Content-Type is application/json and
	 * the body is a JSON object or array, else NULL. Valid only during
	 * the callback; json_incref() it to keep it. */
	json_t *json;
	/* Borrowed raw body, NUL-terminated, body_len bytes; NULL when no body
	 * arrived. Valid only during the callback. Set for error statuses too
	 * (ARI explains them in {"message": ...}). */
	const char *body;
	size_t body_len;
	double elapsed_ms; /* from ari_rest_request() to completion */
};

/* resp and everything it points to is borrowed for the call only. */
typedef void (*ari_rest_cb)(const struct ari_response *resp, void *userdata);

/*
 * Creates a REST client whose transfers run on loop. Calls
 * curl_global_init(), which is reference counted and thread-safe in the
 * libcurl this builds against (>= 7.84 with CURL_VERSION_THREADSAFE);
 * with an older libcurl create the first client before starting threads.
 * Returns 0 and sets *ret_rest, or -EINVAL (missing loop, config, base_url
 * or ret_rest) or -ENOMEM; *ret_rest is untouched on failure.
 */
int ari_rest_new(uv_loop_t *loop, const struct ari_rest_config *cfg,
		 struct ari_rest **ret_rest);

/*
 * Starts one request. method is "GET", "POST", "PUT" or "DELETE"; path is
 * relative to base_url, starts with '/' and may carry a query string whose
 * values the caller escaped (ari_rest_escape()). body is borrowed and
 * serialized before this returns; NULL sends no body and no Content-Type
 * (POST and PUT then send Content-Length: 0).
 *
 * Returns 0, and cb then runs exactly once, from the loop and never from
 * inside this call; or a negative errno (-EINVAL for a bad method, path or
 * body, -ESHUTDOWN once ari_rest_close() was called, -ENOMEM) and cb never
 * runs. cb may be NULL: the request is then fire-and-forget. Requests
 * beyond max_connections wait in a queue inside libcurl; a connection
 * never carries two requests at once.
 */
int ari_rest_request(struct ari_rest *rest, const char *method,
		     const char *path, const json_t *body, ari_rest_cb cb,
		     void *userdata);

/* Returns the number of requests started whose callback has not yet run. */
size_t ari_rest_pending(const struct ari_rest *rest);

/*
 * Percent-encodes s for use as one path segment or query value: every
 * byte but ALPHA, DIGIT, '-', '.', '_' and '~' becomes %XX. Returns 0 and
 * sets *ret_escaped to a string the caller frees with free(), or -EINVAL
 * (NULL argument) or -ENOMEM; *ret_escaped is untouched on failure.
 */
int ari_rest_escape(const char *s, char **ret_escaped);

/*
 * REST over the events WebSocket (Asterisk 22.4+): while send is set,
 * requests other than GET go out as RESTRequest messages through it (one
 * text frame each; send returns 0 or a negative errno, in which case the
 * request goes over HTTP after all) and are answered through
 * ari_rest_ws_answer(); GETs (lists, recordings) and /applications/
 * requests (the event filter) stay on HTTP. The same
 * timeout applies. Setting it, also to NULL when the socket goes, fails
 * the requests still waiting for an answer with -ECONNABORTED: their
 * answers would come on the old socket, if at all.
 */
typedef int (*ari_rest_ws_send)(const char *text, size_t len, void *userdata);
void ari_rest_set_ws(struct ari_rest *rest, ari_rest_ws_send send,
		     void *userdata);

/* A RESTResponse message from the events socket, as decoded by
 * ari_event_parse() (borrowed). Runs the request's callback and returns
 * true when it answers one of ours. */
struct ari_event;
bool ari_rest_ws_answer(struct ari_rest *rest, const struct ari_event *msg);

/* Sees every answer (not the -ECANCELED ones) before its callback, e.g. for
 * latency metrics; resp is borrowed. NULL cb stops it. */
typedef void (*ari_rest_observer)(const struct ari_response *resp,
				  void *userdata);
void ari_rest_set_observer(struct ari_rest *rest, ari_rest_observer cb,
			   void *userdata);

/* Replaces the Basic credentials (copied; username NULL sends none, password
 * NULL means ""): requests started from now on use them, those in flight
 * keep theirs. Returns 0 or -ENOMEM, leaving the old ones in place. */
int ari_rest_set_credentials(struct ari_rest *rest, const char *username,
			     const char *password);

/*
 * Cancels every pending request and starts releasing the client. The
 * callbacks of the pending requests run with -ECANCELED from inside this
 * call, so once it returns no callback of this client ever runs again;
 * ari_rest_request() from one of those callbacks fails with -ESHUTDOWN.
 * Safe to call from any request callback. The memory is released once the
 * client's uv handles have closed, so the loop must run afterwards.
 * NULL is a no-op, and so is a second call made from one of those
 * callbacks.
 */
void ari_rest_close(struct ari_rest *rest);

#endif /* ARI_REST_H */
