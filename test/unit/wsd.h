/* wsd.h: a fake ARI events WebSocket server for tests, an lws server on the
 * caller's libuv loop. */
#ifndef TEST_WSD_H
#define TEST_WSD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct wsd;

/*
 * Starts a server listening on 127.0.0.1 on a port the kernel picks, serving
 * WebSocket upgrades on any path and checking HTTP Basic credentials against
 * username and password (copied). Like Asterisk, it sends
 * {"type":"ApplicationReplaced",...} to the older sockets of an app when a
 * new socket for the same app (the app= query argument) is established.
 * Returns 0 and sets *ret_wsd, or a negative errno.
 */
int wsd_new(uv_loop_t *loop, const char *username, const char *password,
	    struct wsd **ret_wsd);

/* The TCP port the server listens on. */
int wsd_port(const struct wsd *wsd);

/* When reject is true, every later upgrade is answered 401 Unauthorized,
 * whatever the credentials. */
void wsd_set_reject(struct wsd *wsd, bool reject);

/* When ignore is true, the server stops reading from every open socket, so
 * pings get no pong (a peer that has gone silent). */
void wsd_set_deaf(struct wsd *wsd, bool ignore);

/* Sockets established since wsd_new(), sockets open now, upgrades answered
 * 401, ApplicationReplaced messages queued, whole messages received, and
 * close frames received from clients. */
unsigned wsd_established(const struct wsd *wsd);
unsigned wsd_open(const struct wsd *wsd);
unsigned wsd_rejected(const struct wsd *wsd);
unsigned wsd_replaced(const struct wsd *wsd);
unsigned wsd_received(const struct wsd *wsd);
unsigned wsd_peer_closes(const struct wsd *wsd);

/*
 * Queues one text message (copied) to the newest open socket, cut into
 * `fragments` frames (1 means one unfragmented frame). Returns 0, -ENOTCONN
 * when no socket is open, -EINVAL or -ENOMEM.
 */
int wsd_send(struct wsd *wsd, const char *data, size_t len, unsigned fragments);

/* Closes the newest open socket: with a close frame (1001 going away) when
 * graceful, else by dropping the TCP connection. Returns 0 or -ENOTCONN. */
int wsd_close_newest(struct wsd *wsd, bool graceful);

/* Closes every socket and the server. Memory is released once lws has closed
 * its uv handles, so the loop must run afterwards. NULL is a no-op. */
void wsd_free(struct wsd *wsd);

#endif /* TEST_WSD_H */
