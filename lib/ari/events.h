/* events.h: the ARI events WebSocket, a libwebsockets client on a foreign
 * libuv loop. */
#ifndef ARI_EVENTS_H
#define ARI_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct ari_events;

/* Named caps on what the peer controls and on what we queue. */
#define ARI_EVENTS_MAX_MESSAGE (1u << 20)    /* a bigger message is dropped */
#define ARI_EVENTS_MAX_SEND 65535u           /* Asterisk's limit on one frame */
#define ARI_EVENTS_MAX_SEND_QUEUE (1u << 20) /* bytes waiting to be sent */

struct ari_events_config {
	/* An IP address, or a name in /etc/hosts: libwebsockets 4.1 as Debian
	 * builds it resolves names synchronously, on the loop. Copied. */
	const char *host;
	int port;                /* e.g. 8088 */
	const char *path_prefix; /* e.g. "/ari"; copied */
	const char *username;    /* copied */
	const char *password;    /* copied */
	const char *app; /* <prefix>/events?app=<app>&subscribeAll=false */
	size_t max_message_bytes; /* 0 means ARI_EVENTS_MAX_MESSAGE */
	unsigned ping_interval_s; /* keepalive ping period; 0 means 10 */
	/* A socket silent this long (no pong, no event) is replaced: a new
	 * one is opened (opened runs when it is up) and the silent one closed
	 * after it; 0 means 25. */
	unsigned pong_timeout_s;
	unsigned connect_timeout_s; /* until the upgrade completes; 0 means 5 */
};

struct ari_events_callbacks {
	/* A socket has been established (the app is registered in Asterisk).
	 * Runs once for each connect attempt that succeeds. */
	void (*opened)(struct ari_events *ev, void *userdata);
	/* One whole message, reassembled from fragments; data is borrowed,
	 * NUL-terminated, valid only during the call. On the socket being
	 * replaced by make-before-break, the ApplicationReplaced message that
	 * our own new socket causes is consumed here, not delivered. */
	void (*message)(struct ari_events *ev, const char *data, size_t len,
			void *userdata);
	/* A message larger than the cap was discarded whole (the socket stays
	 * open); len_seen is how many bytes of it arrived. Optional. */
	void (*oversized)(struct ari_events *ev, size_t len_seen,
			  void *userdata);
	/*
	 * The current socket closed, or a connect attempt failed; error is a
	 * negative errno:
	 *   -ECONNREFUSED (or another connect errno from the kernel),
	 *   -ETIMEDOUT (connect timeout, or a socket silent for
	 *   pong_timeout_s whose replacement did not come up in time),
	 *   -EACCES (HTTP 401 at the upgrade; other statuses are mapped by
	 *   ari_status_to_errno(), a 2xx other than 101 gives -EPROTO),
	 *   -EPROTO (a malformed upgrade reply),
	 *   -ECONNRESET (the peer closed or hung up), -EPIPE (a write failed).
	 * A failed attempt is reported even while an older socket stays open:
	 * ari_events_connected() tells which case it is. Not called for the
	 * old socket retired by make-before-break, nor after
	 * ari_events_close(). The owner decides when to reconnect.
	 */
	void (*closed)(struct ari_events *ev, int error, void *userdata);
};

/*
 * Creates the object and its libwebsockets context on loop; connects
 * nothing yet. cfg's strings are copied and cbs is copied; opened, message
 * and closed are required. Returns 0 and sets *ret_ev, or -EINVAL, -ENOMEM,
 * -EIO (libwebsockets refused to create its context).
 */
int ari_events_new(uv_loop_t *loop, const struct ari_events_config *cfg,
		   const struct ari_events_callbacks *cbs, void *userdata,
		   struct ari_events **ret_ev);

/*
 * Opens a new socket. If one is already established, it stays open until the
 * new one is established, and only then is closed (make-before-break:
 * Asterisk sends ApplicationReplaced to the old socket; messages on the old
 * socket after the switch are not delivered). On success exactly one of
 * opened or closed runs later for this attempt (unless ari_events_close()
 * comes first). Returns 0, -EALREADY if a connect attempt is already in
 * progress, -EIO if libwebsockets refuses the attempt at once (for example a
 * host name that does not resolve), -ENOMEM; after a failure no callback
 * runs for the attempt.
 */
int ari_events_connect(struct ari_events *ev);

/* Replaces the credentials (copied) that the next connection presents;
 * an established socket stays as it is. Returns 0, -ENAMETOOLONG or
 * -ENOMEM, leaving the old ones in place. */
int ari_events_set_credentials(struct ari_events *ev, const char *username,
			       const char *password);

/* True when a socket is established. */
bool ari_events_connected(const struct ari_events *ev);

/*
 * Sends one text message (copied) on the established socket: at once when
 * nothing else waits and the socket takes it, else queued for when it is
 * writable. Returns 0, -ENOTCONN, -EMSGSIZE (over ARI_EVENTS_MAX_SEND),
 * -ENOBUFS (more than ARI_EVENTS_MAX_SEND_QUEUE bytes already waiting),
 * -ENOMEM, or -EPIPE (the write failed and the socket is going; the
 * message is dropped). Queued messages die with their socket.
 */
int ari_events_send(struct ari_events *ev, const char *data, size_t len);

/*
 * Closes every socket and the libwebsockets context; no callback runs
 * afterwards, and ev must not be used again. It may be called from inside
 * any callback. Memory is released after the uv handles libwebsockets owns
 * have closed, so the loop must keep running until it has no more active
 * handles. NULL is a no-op.
 */
void ari_events_close(struct ari_events *ev);

#endif /* ARI_EVENTS_H */
