/* httpd.h: a minimal HTTP/1.1 server on a libuv loop, for tests only. */
#ifndef TEST_HTTPD_H
#define TEST_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* Named cap on one request, head and body together; a connection that
 * sends more is closed. */
#define HTTPD_MAX_REQUEST (64u * 1024u)

struct httpd;

/* What the handler sees. Every string is NUL-terminated, borrowed, and
 * truncated to the size of its slot in struct httpd_stats. */
struct httpd_request {
	const char *method;
	const char *path;
	const char *authorization; /* "" when absent */
	const char *content_type;  /* "" when absent */
	const char *body;          /* "" when absent */
	size_t body_len;           /* as sent, even if body was truncated */
};

enum httpd_action {
	HTTPD_REPLY = 0, /* answer, after delay_ms when set */
	HTTPD_HANG,      /* never answer; the connection stays open */
	HTTPD_DROP,      /* close the connection without answering */
};

/* What the handler fills in; it starts as a 200 with no body. */
struct httpd_reply {
	enum httpd_action action;
	int status;
	const char *content_type; /* NULL sends no Content-Type */
	const char *body;         /* copied before the handler returns */
	size_t body_len;          /* 0 with a body means strlen(body) */
	unsigned delay_ms;
	bool close_delimited; /* no Content-Length: the body ends at close */
};

/* Runs once per complete request; req is borrowed for the call. */
typedef void (*httpd_handler)(const struct httpd_request *req,
			      struct httpd_reply *reply, void *userdata);

struct httpd_stats {
	unsigned accepted; /* connections accepted */
	unsigned open;     /* connections open now */
	unsigned max_open; /* most connections open at once */
	unsigned requests; /* complete requests received */
	unsigned served;   /* replies fully written */
	char last_method[16];
	char last_path[512];
	char last_authorization[256];
	char last_content_type[128];
	char last_body[4096];
	size_t last_body_len;
};

/*
 * Listens on 127.0.0.1 on a port the kernel picks. handler may be NULL
 * (every request gets an empty 200). Returns 0 and sets *ret_httpd, or a
 * negative errno with *ret_httpd untouched (the loop must still run to
 * release what was set up).
 */
int httpd_new(uv_loop_t *loop, httpd_handler handler, void *userdata,
	      struct httpd **ret_httpd);

/* Returns the port the server listens on. */
int httpd_port(const struct httpd *httpd);

/* Returns the counters; borrowed, valid until httpd_close(). */
const struct httpd_stats *httpd_stats(const struct httpd *httpd);

/* Closes every connection that is not answering a request, as a server
 * does when its keep-alive time runs out. */
void httpd_drop_idle(struct httpd *httpd);

/* Closes the listener and every connection, answered or not; the memory
 * goes once the loop has run the close callbacks. NULL is a no-op. */
void httpd_close(struct httpd *httpd);

#endif /* TEST_HTTPD_H */
