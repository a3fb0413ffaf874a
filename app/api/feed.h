/* feed.h: the live event feed over WebSocket (the socket side is private to
 * the server). */
#ifndef APP_API_FEED_H
#define APP_API_FEED_H

struct api_ctx;

/* GET /events without an upgrade: answers 400 (the feed is a WebSocket). */
void api_feed_plain(struct api_ctx *ctx);

#endif /* APP_API_FEED_H */
