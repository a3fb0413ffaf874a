/* feed.c: the live event feed over WebSocket. A socket subscribes with
 * its token's scope (agents see their own events), replays what it missed
 * with ?since=<seq>, then receives every new event as it is published. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/feed.h"
#include "api/internal.h"
#include "api/reply.h"
#include "feed/feed.h"
#include "util/log.h"

static void deliver(const char *text, size_t len, void *userdata)
{
	struct http_ws *ws = userdata;

	/* A reader too slow for the queue cap is dropped; it resumes with
	 * ?since= from the last seq it saw. */
	if (http_server_ws_send(ws, text, len) == -ENOBUFS)
		log_notice("feed: subscriber too slow, dropped");
}

/* The largest since accepted: seqs are JSON integers (int64). */
#define API_FEED_MAX_SINCE INT64_MAX
/* Room for ?since=: its digits, a NUL, and one byte to notice more. */
#define API_FEED_SINCE_BUF 24

/* ?since=<seq>: returns 1 with the value, 0 when absent, -EINVAL for
 * anything but a decimal number from 0 to API_FEED_MAX_SINCE (a sign, a
 * space, an empty value, or a number that overflows). */
static int since_param(const struct http_request *req, uint64_t *ret)
{
	char buf[API_FEED_SINCE_BUF], *end;
	int n = http_server_request_param(req, "since", buf, sizeof(buf));
	unsigned long long v;

	if (n == -ENOENT)
		return 0;
	if (n <= 0 || strspn(buf, "0123456789") != (size_t)n)
		return -EINVAL;
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || v > (unsigned long long)API_FEED_MAX_SINCE)
		return -EINVAL;
	*ret = v;
	return 1;
}

/* Events after since, or, when some of them are gone from the buffer, a
 * feed.gap telling the client to refetch state through REST, after which
 * only live events follow. */
static void replay(struct api *api, struct http_ws *ws, struct feed_sub *sub,
		   uint64_t since)
{
	uint64_t oldest = feed_oldest_seq(api->feed);
	json_t *gap;
	char *text;

	if (oldest == 0 || since + 1 >= oldest ||
	    since >= feed_last_seq(api->feed)) {
		feed_replay(api->feed, sub, since);
		return;
	}
	gap = json_pack("{s:n, s:s, s:s, s:{s:I, s:I}}", "seq", "type",
			"feed.gap", "epoch", api->epoch, "data", "since",
			(json_int_t)since, "oldest", (json_int_t)oldest);
	text = gap ? json_dumps(gap, JSON_COMPACT) : NULL;
	json_decref(gap);
	if (text)
		http_server_ws_send(ws, text, strlen(text));
	free(text);
}

int api__feed_open(struct api *api, struct http_ws *ws,
		   const struct http_request *req, const char **ret_detail)
{
	const struct api_principal *who = api__authenticate(api, req, true);
	struct feed_sub *sub;
	uint64_t since = 0;
	int has_since, r;

	if (!who) {
		*ret_detail = "send a token: Authorization: Bearer <token>, or "
			      "?access_token=<token>";
		return 401;
	}
	has_since = since_param(req, &since);
	if (has_since < 0) {
		*ret_detail = "since must be a sequence number (0 to "
			      "9223372036854775807)";
		return 400;
	}
	r = feed_subscribe(api->feed,
			   who->role == API_ROLE_AGENT ? who->agent_id : 0,
			   deliver, ws, &sub);
	if (r < 0) {
		*ret_detail = "cannot subscribe now";
		return 503;
	}
	http_server_ws_set_data(ws, sub);
	log_info("feed: subscriber role=%s agent=%lld since=%llu",
		 api_role_name(who->role), (long long)who->agent_id,
		 (unsigned long long)since);
	if (has_since)
		replay(api, ws, sub, since);
	return 0;
}

void api__feed_closed(struct api *api, struct http_ws *ws)
{
	struct feed_sub *sub = http_server_ws_get_data(ws);

	(void)api;
	if (sub)
		feed_unsubscribe(sub);
	http_server_ws_set_data(ws, NULL);
}

/* GET /api/v1/events without an upgrade: the feed is a WebSocket. */
void api_feed_plain(struct api_ctx *ctx)
{
	api_problem(ctx, 400, "bad-request",
		    "the event feed is a WebSocket: send Upgrade: websocket");
}
