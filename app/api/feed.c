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

/* The close of a socket whose token was revoked: policy violation. */
#define API_FEED_REVOKED_CODE 1008

/* One open feed WebSocket: its subscription and the token it was opened
 * with, checked again whenever the token cache loses tokens. */
struct api_feed_sock {
	struct api *api;
	struct http_ws *ws;
	struct feed_sub *sub; /* NULL once closed for its token */
	struct api_feed_sock *prev, *next;
	char hash[65]; /* the token's SHA-256, hex */
};

static void deliver(const char *text, size_t len, void *userdata)
{
	struct api_feed_sock *sock = userdata;

	/* A reader too slow for the queue caps is shed by the server; it
	 * resumes with ?since= from the last seq it saw. */
	if (http_server_ws_send(sock->ws, text, len) == -ENOBUFS)
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

/* A socket for ws, listed in api->feed_socks, or NULL. */
static struct api_feed_sock *sock_new(struct api *api, struct http_ws *ws,
				      const char *hash)
{
	struct api_feed_sock *sock = calloc(1, sizeof(*sock));

	if (!sock)
		return NULL;
	sock->api = api;
	sock->ws = ws;
	memcpy(sock->hash, hash, sizeof(sock->hash));
	sock->next = api->feed_socks;
	if (sock->next)
		sock->next->prev = sock;
	api->feed_socks = sock;
	return sock;
}

static void sock_free(struct api_feed_sock *sock)
{
	struct api *api = sock->api;

	feed_unsubscribe(sock->sub);
	if (sock->prev)
		sock->prev->next = sock->next;
	else
		api->feed_socks = sock->next;
	if (sock->next)
		sock->next->prev = sock->prev;
	free(sock);
}

/* The principal of an upgrade, with its token's hash; NULL when none. */
static const struct api_principal *
open_principal(struct api *api, const struct http_request *req, char hash[65])
{
	if (api__request_token_hash(req, true, hash) < 0)
		return NULL;
	return api__token_lookup(api, hash);
}

int api__feed_open(struct api *api, struct http_ws *ws,
		   const struct http_request *req, const char **ret_detail)
{
	char hash[65];
	const struct api_principal *who = open_principal(api, req, hash);
	struct api_feed_sock *sock;
	uint64_t since = 0;
	int has_since;

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
	sock = sock_new(api, ws, hash);
	if (!sock ||
	    feed_subscribe(api->feed,
			   who->role == API_ROLE_AGENT ? who->agent_id : 0,
			   deliver, sock, &sock->sub) < 0) {
		if (sock)
			sock_free(sock);
		*ret_detail = "cannot subscribe now";
		return 503;
	}
	http_server_ws_set_data(ws, sock);
	log_info("feed: subscriber role=%s agent=%lld since=%llu",
		 api_role_name(who->role), (long long)who->agent_id,
		 (unsigned long long)since);
	if (has_since)
		replay(api, ws, sock->sub, since);
	return 0;
}

void api__feed_closed(struct api *api, struct http_ws *ws)
{
	struct api_feed_sock *sock = http_server_ws_get_data(ws);

	(void)api;
	if (sock)
		sock_free(sock);
	http_server_ws_set_data(ws, NULL);
}

void api__feed_recheck(struct api *api)
{
	for (struct api_feed_sock *s = api->feed_socks; s; s = s->next) {
		if (!s->sub || api__token_lookup(api, s->hash))
			continue;
		/* Nothing more reaches it, not even what was queued. */
		feed_unsubscribe(s->sub);
		s->sub = NULL;
		http_server_ws_drop(s->ws, API_FEED_REVOKED_CODE,
				    "token revoked");
		log_notice("feed: subscriber closed, its token was revoked");
	}
}

/* GET /api/v1/events without an upgrade: the feed is a WebSocket. */
void api_feed_plain(struct api_ctx *ctx)
{
	api_problem(ctx, 400, "bad-request",
		    "the event feed is a WebSocket: send Upgrade: websocket");
}
