/* txq.h: the queue of WebSocket text messages waiting for a writable
 * socket, each with the headroom libwebsockets writes its frame header
 * into. */
#ifndef LWSUV_TXQ_H
#define LWSUV_TXQ_H

#include <stdbool.h>
#include <stddef.h>

struct lws;

struct lwsuv_txq_msg {
	struct lwsuv_txq_msg *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
};

struct lwsuv_txq {
	struct lwsuv_txq_msg *head, *tail;
	size_t bytes; /* payload bytes queued */
};

/* Queues a copy of len bytes. Returns 0 or -ENOMEM. */
int lwsuv_txq_push(struct lwsuv_txq *q, const void *data, size_t len);

/* Writes the oldest message to wsi as one text frame (one lws_write, as a
 * WRITEABLE callback allows) and drops it. Returns 1 when it wrote, 0 when
 * the queue was empty, -EPIPE when the write failed. */
int lwsuv_txq_write_next(struct lwsuv_txq *q, struct lws *wsi);

/* Frees every queued message. */
void lwsuv_txq_clear(struct lwsuv_txq *q);

#endif /* LWSUV_TXQ_H */
