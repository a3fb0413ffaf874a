/* api.c: GET /agents/{id}/webrtc, one statement that rotates the agent's
 * SIP password and reads what the answer names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/body.h"
#include "api/db.h"
#include "api/reply.h"
#include "api/server.h"
#include "cdr/cdr.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "webrtc/api.h"
#include "webrtc/webrtc.h"

/* The new password goes to ps_auths (what Asterisk checks) and sip_peers
 * (the account's record) only for a WebRTC agent; the row still answers
 * for the others so that they get a 409, not a 404. */
static const char rotate_sql[] =
    "WITH p AS (SELECT p.sip_username, p.webrtc, a.name FROM sip_peers p"
    " JOIN agents a ON a.id = p.agent_id WHERE p.agent_id = $1),"
    " h AS (UPDATE ps_auths SET password = $2 WHERE id ="
    " (SELECT sip_username FROM p WHERE webrtc) RETURNING id),"
    " s AS (UPDATE sip_peers SET sip_password = $2 WHERE agent_id = $1"
    " AND webrtc RETURNING agent_id)"
    " SELECT sip_username, webrtc, name, (SELECT count(*) FROM h) AS rotated"
    " FROM p";

struct login {
	char password[25];
	int64_t id;
};

static void reply(struct api_ctx *ctx, const PGresult *res)
{
	const struct webrtc_config *w = ctx->deps->webrtc;
	struct login *l = ctx->data;
	int64_t expires = cdr_now_us() / 1000000 + w->ttl_s;
	char uri[WEBRTC_TEXT + 64], at[TIMEFMT_SIZE];
	const char *user;
	json_t *ice;

	if (PQntuples(res) == 0) {
		api_problem(ctx, 404, "not-found", "no such agent");
		return;
	}
	user = PQgetvalue(res, 0, 0);
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0 ||
	    strcmp(PQgetvalue(res, 0, 3), "1") != 0) {
		api_problem(
		    ctx, 409, "conflict",
		    "agent %lld has a SIP phone, not a browser "
		    "softphone: set \"webrtc\": true on the agent first",
		    (long long)l->id);
		return;
	}
	ice = webrtc_ice_servers(w, l->id, expires);
	snprintf(uri, sizeof(uri), "sip:%s@%s", user, w->sip_domain);
	timefmt_rfc3339(expires * 1000000, at, sizeof(at));
	log_notice("api agent=%lld webrtc login: SIP password rotated",
		   (long long)l->id);
	api_reply_json(ctx, 200,
		       json_pack("{s:s,s:s,s:s,s:s,s:s,s:o*,s:s}", "ws_url",
				 w->ws_url, "sip_uri", uri,
				 "authorization_username", user,
				 "authorization_password", l->password,
				 "display_name", PQgetvalue(res, 0, 2),
				 "ice_servers", ice, "expires_at", at));
}

void webrtc_api_get(struct api_ctx *ctx)
{
	struct login *l;
	char token[65], id_text[24];
	const char *params[2];

	if (!ctx->deps->webrtc) {
		api_problem(ctx, 503, "unavailable",
			    "this daemon has no WebRTC settings");
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l || api_token_generate(token) < 0) {
		free(l);
		api_problem(ctx, 500, "internal", "cannot make a password");
		return;
	}
	if (!api_param_id(ctx, 0, &l->id)) {
		free(l);
		return;
	}
	memcpy(l->password, token, 24);
	ctx->data = l;
	ctx->data_free = free;
	snprintf(id_text, sizeof(id_text), "%lld", (long long)l->id);
	params[0] = id_text;
	params[1] = l->password;
	api_db(ctx, rotate_sql, 2, params, reply);
}
