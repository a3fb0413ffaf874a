/* observe.h: what ops poll: health and the Prometheus metrics, read from
 * memory, never from the database, so that polling costs nothing there. */
#ifndef APP_API_OBSERVE_H
#define APP_API_OBSERVE_H

struct api_ctx;

/* GET /healthz: 200 while ARI is up (the database may be down: degraded),
 * else 503. */
void api_observe_healthz(struct api_ctx *ctx);
/* GET /metrics: the text exposition format. */
void api_observe_metrics(struct api_ctx *ctx);

#endif /* APP_API_OBSERVE_H */
