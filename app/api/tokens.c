/* tokens.c: bearer tokens. The database keeps only their SHA-256; the
 * daemon caches the live ones by hash, reloaded on NOTIFY
 * welcomedly_tokens, so that checking a request costs one hash and one
 * lookup and works while PostgreSQL is away. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "api/db.h"
#include "api/internal.h"
#include "api/reply.h"
#include "api/tokens.h"
#include "db/pool.h"
#include "util/log.h"

/* The longest token accepted, and a buffer for one from the query. */
#define API_MAX_TOKEN 256
#define API_TOKEN_BUF (API_MAX_TOKEN + 4)

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int api_token_hash(const char *token, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) ||
	    n != 32)
		return -EIO;
	to_hex(md, 32, hex);
	return 0;
}

int api_token_generate(char token[65])
{
	unsigned char raw[32];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	to_hex(raw, sizeof(raw), token);
	return 0;
}

static void tokens_free(struct strmap *map)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	if (!map)
		return;
	while (strmap_next(map, &cursor, &key, &value))
		free(value);
	strmap_free(map);
}

static enum api_role role_parse(const char *s)
{
	if (strcmp(s, "admin") == 0)
		return API_ROLE_ADMIN;
	if (strcmp(s, "supervisor") == 0)
		return API_ROLE_SUPERVISOR;
	if (strcmp(s, "agent") == 0)
		return API_ROLE_AGENT;
	return API_ROLE_NONE;
}

static int tokens_put(struct strmap *map, const char *hash, enum api_role role,
		      int64_t agent_id, int64_t id)
{
	struct api_principal *p = malloc(sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->role = role;
	p->agent_id = agent_id;
	p->token_id = id;
	free(strmap_remove(map, hash));
	r = strmap_put(map, hash, p);
	if (r < 0)
		free(p);
	return r;
}

static void on_tokens(int error, const PGresult *res, void *userdata)
{
	struct api *api = userdata;
	struct strmap *map;
	int n;

	api->tokens_loading = false;
	if (api->closing || error == -ECANCELED) {
		api__unref(api);
		return;
	}
	api__unref(api);
	if (error < 0) {
		log_warning("api tokens not loaded error=%s, keeping %zu",
			    strerror(-error), strmap_count(api->tokens));
		return;
	}
	map = strmap_new();
	n = PQntuples(res);
	for (int i = 0; map && i < n && i < API_MAX_TOKENS; i++) {
		enum api_role role = role_parse(PQgetvalue(res, i, 1));

		if (role == API_ROLE_NONE ||
		    tokens_put(map, PQgetvalue(res, i, 0), role,
			       strtoll(PQgetvalue(res, i, 2), NULL, 10),
			       strtoll(PQgetvalue(res, i, 3), NULL, 10)) < 0)
			continue;
	}
	if (!map) {
		log_error("api tokens not loaded: out of memory");
		return;
	}
	tokens_free(api->tokens);
	api->tokens = map;
	log_info("api tokens loaded count=%zu", strmap_count(map));
	/* Feed sockets outlive the check of their upgrade: those whose token
	 * is gone from the database are closed now. */
	if (api->tokens_lost)
		api->tokens_lost(api);
	if (api->tokens_dirty) {
		api->tokens_dirty = false;
		api__tokens_load(api);
	}
}

void api__tokens_load(struct api *api)
{
	static const char sql[] =
	    "SELECT token_hash, role, coalesce(agent_id, 0), id "
	    "FROM api_tokens WHERE revoked_at IS NULL";

	if (!api->deps.db || api->closing)
		return;
	if (api->tokens_loading) {
		api->tokens_dirty = true;
		return;
	}
	if (db_pool_query(api->deps.db, sql, 0, NULL, on_tokens, api) == 0) {
		api->tokens_loading = true;
		api__ref(api);
	}
}

/* "Bearer <token>" (the scheme is case-insensitive, RFC 7235). */
static const char *bearer(const char *header)
{
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	return header;
}

/* The token of a request: the header's, else ?access_token= when
 * allow_query (copied into buf of API_TOKEN_BUF bytes); NULL when none. */
static const char *request_token(const struct http_request *req,
				 bool allow_query, char *buf)
{
	const char *token =
	    bearer(http_server_request_header(req, "authorization"));

	if (!token && allow_query &&
	    http_server_request_param(req, "access_token", buf, API_TOKEN_BUF) >
		0)
		token = buf;
	return token;
}

const struct api_principal *api__authenticate(struct api *api,
					      const struct http_request *req,
					      bool allow_query)
{
	char buf[API_TOKEN_BUF];
	const char *token = request_token(req, allow_query, buf);

	return token ? api__token_find(api, token) : NULL;
}

/* Hashes a token of acceptable length. */
static int token_hash_checked(const char *token, char hash[65])
{
	if (!*token || strlen(token) > API_MAX_TOKEN)
		return -EINVAL;
	return api_token_hash(token, hash);
}

int api__request_token_hash(const struct http_request *req, bool allow_query,
			    char hash[65])
{
	char buf[API_TOKEN_BUF];
	const char *token = request_token(req, allow_query, buf);

	return token ? token_hash_checked(token, hash) : -ENOENT;
}

const struct api_principal *api__token_lookup(struct api *api, const char *hash)
{
	static const struct api_principal bootstrap = {API_ROLE_ADMIN, 0, 0};

	if (*api->bootstrap_hash && strcmp(hash, api->bootstrap_hash) == 0)
		return &bootstrap;
	return api->tokens ? strmap_get(api->tokens, hash) : NULL;
}

const struct api_principal *api__token_find(struct api *api, const char *token)
{
	char hash[65];

	if (token_hash_checked(token, hash) < 0)
		return NULL;
	return api__token_lookup(api, hash);
}

static const char *const roles[] = {"admin", "supervisor", "agent", NULL};

static const struct api_field token_fields[] = {
    {"role", API_TEXT, API_F_REQUIRED, 1, 20, roles, NULL},
    {"agent_id", API_INT, API_F_NULLABLE, 1, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

const struct api_resource api_res_tokens = {
    .table = "api_tokens",
    .key = "id",
    .key_is_int = true,
    .fields = token_fields,
    .row_json = "to_jsonb(t) - 'token_hash'",
    .noun = "token",
};

struct token_create {
	char token[65];
	char hash[65];
};

static void on_token_created(struct api_ctx *ctx, const PGresult *res)
{
	struct token_create *tc = ctx->data;
	json_t *obj;
	json_error_t err;
	enum api_role role;

	obj = json_loads(PQgetvalue(res, 0, 0), 0, &err);
	role = role_parse(json_string_value(json_object_get(obj, "role")));
	if (ctx->api->tokens)
		tokens_put(ctx->api->tokens, tc->hash, role,
			   json_integer_value(json_object_get(obj, "agent_id")),
			   json_integer_value(json_object_get(obj, "id")));
	json_object_set_new(obj, "token", json_string(tc->token));
	log_notice("api token created id=%s role=%s", PQgetvalue(res, 0, 1),
		   api_role_name(role));
	api_reply_json(ctx, 201, obj);
}

void api_tokens_create(struct api_ctx *ctx)
{
	static const char sql[] =
	    "INSERT INTO api_tokens AS t (token_hash, role, agent_id) "
	    "VALUES ($1, $2, $3) RETURNING to_jsonb(t) - 'token_hash', id";
	struct token_create *tc;
	json_t *agent;
	const char *role, *params[3];
	char agent_text[24];

	if (!api_body_parse(ctx) || !api_body_check(ctx, token_fields, true))
		return;
	role = json_string_value(json_object_get(ctx->body, "role"));
	agent = json_object_get(ctx->body, "agent_id");
	if ((strcmp(role, "agent") == 0) != json_is_integer(agent)) {
		api_problem_fields(
		    ctx,
		    json_pack("[{s:s, s:s}]", "field", "agent_id", "detail",
			      "is required for agent tokens and only "
			      "for them"));
		return;
	}
	tc = calloc(1, sizeof(*tc));
	if (!tc || api_token_generate(tc->token) < 0 ||
	    api_token_hash(tc->token, tc->hash) < 0) {
		free(tc);
		api_problem(ctx, 500, "internal", "cannot make a token");
		return;
	}
	ctx->data = tc;
	ctx->data_free = free;
	snprintf(agent_text, sizeof(agent_text), "%lld",
		 (long long)json_integer_value(agent));
	params[0] = tc->hash;
	params[1] = role;
	params[2] = json_is_integer(agent) ? agent_text : NULL;
	api_db(ctx, sql, 3, params, on_token_created);
}

static void on_token_revoked(struct api_ctx *ctx, const PGresult *res)
{
	if (PQntuples(res) == 0) {
		api_problem(ctx, 404, "not-found", "no such live token");
		return;
	}
	if (ctx->api->tokens)
		free(strmap_remove(ctx->api->tokens, PQgetvalue(res, 0, 0)));
	log_notice("api token revoked id=%s", ctx->params[0]);
	if (ctx->api->tokens_lost)
		ctx->api->tokens_lost(ctx->api);
	api_reply_empty(ctx, 204);
}

void api_tokens_revoke(struct api_ctx *ctx)
{
	static const char sql[] =
	    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND "
	    "revoked_at IS NULL RETURNING token_hash";
	const char *params[1];
	int64_t id;

	if (!api_param_id(ctx, 0, &id))
		return;
	params[0] = ctx->params[0];
	api_db(ctx, sql, 1, params, on_token_revoked);
}

void api_tokens_me(struct api_ctx *ctx)
{
	const struct api_principal *who = &ctx->who;

	api_reply_json(
	    ctx, 200,
	    json_pack(
		"{s:s,s:o,s:o}", "role", api_role_name(who->role), "agent_id",
		who->agent_id ? json_integer(who->agent_id) : json_null(),
		"token_id",
		who->token_id ? json_integer(who->token_id) : json_null()));
}

void api__tokens_free(struct api *api)
{
	tokens_free(api->tokens);
	api->tokens = NULL;
}
