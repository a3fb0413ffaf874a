/* txq.c: WebSocket text messages waiting for a writable socket. */
#include "lwsuv/txq.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

int lwsuv_txq_push(struct lwsuv_txq *q, const void *data, size_t len)
{
	struct lwsuv_txq_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	if (len)
		memcpy(m->buf + LWS_PRE, data, len);
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += len;
	return 0;
}

int lwsuv_txq_write_next(struct lwsuv_txq *q, struct lws *wsi)
{
	struct lwsuv_txq_msg *m = q->head;
	int n;

	if (!m)
		return 0;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= m->len;
	n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
	free(m);
	return n < 0 ? -EPIPE : 1;
}

void lwsuv_txq_clear(struct lwsuv_txq *q)
{
	while (q->head) {
		struct lwsuv_txq_msg *m = q->head;

		q->head = m->next;
		free(m);
	}
	q->tail = NULL;
	q->bytes = 0;
}
