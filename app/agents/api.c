/* api.c: agents over HTTP: their SIP accounts and their states. The database
 * holds who they are; the live registry says what they are doing now, and
 * wins wherever both speak. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/accounts.h"
#include "agents/agents.h"
#include "agents/api.h"
#include "api/crud.h"
#include "api/db.h"
#include "api/reply.h"
#include "cdr/cdr.h"
#include "util/log.h"
#include "util/timefmt.h"

/* The agent's row with its SIP account, as the JSON of alias t. */
#define AGENT_TABLE                                                            \
	"(SELECT a.*, p.sip_username, p.status AS sip_status, p.webrtc, "      \
	"p.provisioned "                                                       \
	"FROM agents a "                                                       \
	"LEFT JOIN sip_peers p ON p.agent_id = a.id)"
#define AGENT_JSON                                                             \
	"jsonb_build_object('id', t.id, 'name', t.name, 'external_user_id', "  \
	"t.external_user_id, 'state', t.state, 'state_reason', "               \
	"t.state_reason, 'state_since', t.state_since, 'sip_username', "       \
	"t.sip_username, 'webrtc', coalesce(t.webrtc, false), "                \
	"'provisioned', coalesce(t.provisioned, true), "                       \
	"'registration', CASE WHEN t.sip_status = "                            \
	"'registered' THEN 'registered' ELSE 'unregistered' END, "             \
	"'created_at', t.created_at, 'updated_at', t.updated_at, "             \
	"'time_in_state', greatest(0, extract(epoch FROM now() - "             \
	"t.state_since))::bigint, 'current_call', NULL)"

static const struct api_field agent_fields[] = {
    {"name", API_TEXT, API_F_REQUIRED, 1, 100, NULL, NULL},
    {"external_user_id", API_TEXT, API_F_NULLABLE, 1, 100, NULL, NULL},
    {"sip_username", API_TEXT, API_F_CREATE_ONLY, 3, 40, NULL,
     api_check_sipuser},
    {"webrtc", API_BOOL, 0, 0, 0, NULL, NULL},
    {"provision", API_BOOL, API_F_CREATE_ONLY, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

/* Overlays what the registry knows now on an agent object from the
 * database. */
static void decorate(const struct api_deps *deps, json_t *obj)
{
	const struct acd_agent *acd;
	struct agent *agent;
	uint32_t n;
	int64_t now = cdr_now_us();
	char since[TIMEFMT_SIZE];

	if (!deps->agents)
		return;
	agent = agents_by_id(deps->agents,
			     json_integer_value(json_object_get(obj, "id")));
	if (!agent)
		return;
	acd = &agents_acd(deps->agents, &n)[agent->index];
	timefmt_rfc3339(acd->state_since_us, since, sizeof(since));
	json_object_set_new(obj, "state",
			    json_string(acd_agent_state_name(acd->state)));
	json_object_set_new(obj, "state_reason",
			    agent->reason ? json_string(agent->reason)
					  : json_null());
	json_object_set_new(obj, "state_since", json_string(since));
	json_object_set_new(
	    obj, "time_in_state",
	    json_integer(now > acd->state_since_us
			     ? (now - acd->state_since_us) / 1000000
			     : 0));
	json_object_set_new(obj, "current_call",
			    agent->call_id ? json_string(agent->call_id)
					   : json_null());
	json_object_set_new(
	    obj, "registration",
	    json_string(acd->reachable ? "registered" : "unregistered"));
	if (agent->has_pending)
		json_object_set_new(
		    obj, "pending_state",
		    json_string(
			agent->pending == AGENTS_INPUT_LOGIN   ? "available"
			: agent->pending == AGENTS_INPUT_PAUSE ? "paused"
							       : "offline"));
}

/* Agents are listed and read as rows of the table above, with the
 * registry's view laid over them. */
const struct api_resource agents_api_resource = {
    .table = AGENT_TABLE,
    .key = "id",
    .key_is_int = true,
    .fields = agent_fields,
    .row_json = AGENT_JSON,
    .noun = "agent",
    .decorate = decorate,
};

/* Answers the agent object of the row in res, plus extra (stolen, may be
 * NULL) merged in. */
static void reply_agent(struct api_ctx *ctx, const PGresult *res, int status,
			json_t *extra)
{
	json_t *obj;

	if (PQntuples(res) == 0) {
		json_decref(extra);
		api_problem(ctx, 404, "not-found", "no such agent");
		return;
	}
	obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!obj) {
		json_decref(extra);
		api_problem(ctx, 500, "internal", "cannot read the agent");
		return;
	}
	decorate(ctx->deps, obj);
	if (extra)
		json_object_update(obj, extra);
	json_decref(extra);
	api_reply_json(ctx, status, obj);
}

static void on_agent(struct api_ctx *ctx, const PGresult *res)
{
	reply_agent(ctx, res, 200, NULL);
}

static void get_by_id(struct api_ctx *ctx, int64_t id, api_db_cb cb)
{
	struct api_sql sql = {0};

	api_sql_add(&sql, "SELECT %s::text FROM %s t WHERE t.id = $%d",
		    AGENT_JSON, AGENT_TABLE, api_sql_param_int(&sql, id));
	api_sql_run(ctx, &sql, cb);
}

/* The SIP password shown once in the answer, kept until it. */
struct agent_create {
	char password[25];
	int64_t id;
	bool provision; /* false: the PBX's endpoint, no password of ours */
};

static void on_created_row(struct api_ctx *ctx, const PGresult *res)
{
	struct agent_create *ac = ctx->data;

	reply_agent(ctx, res, 201,
		    ac->provision
			? json_pack("{s:s}", "sip_password", ac->password)
			: NULL);
}

/* Answers a failed start of an accounts statement. */
static void accounts_failed(struct api_ctx *ctx, int error)
{
	if (error == -ENODEV)
		api_problem(ctx, 503, "unavailable",
			    "this daemon runs without a database");
	else if (error == -ENOMEM)
		api_problem(ctx, 500, "internal", "out of memory");
	else
		api_problem_db(ctx, error, NULL);
}

static void on_registry_loaded(int error, void *userdata)
{
	struct api_ctx *ctx = userdata;
	struct agent_create *ac;

	if (error == -ECANCELED) /* stopping: the request went with the API */
		return;
	ac = ctx->data;
	if (error < 0)
		log_warning("agent=%lld registry not reloaded error=%s, the "
			    "next configuration load brings it",
			    (long long)ac->id, strerror(-error));
	get_by_id(ctx, ac->id, on_created_row);
}

/* The agent is in the registry before the answer: a client may set its
 * state (or add it to a campaign and log it in) at once, rather than after
 * the reload that the configuration change notifies. */
static void on_created(const struct agents_accounts_result *r, void *userdata)
{
	struct api_ctx *ctx = userdata;
	struct agent_create *ac = ctx->data;

	if (r->error < 0) {
		api_problem_db(ctx, r->error, r->db_res);
		return;
	}
	ac->id = r->id;
	if (!ctx->deps->agents ||
	    agents_load(ctx->deps->agents, on_registry_loaded, ctx) < 0)
		get_by_id(ctx, r->id, on_created_row);
}

void agents_api_create(struct api_ctx *ctx)
{
	struct agents_account acc = {0};
	struct agent_create *ac;
	char token[65];
	int r;

	if (!api_body_parse(ctx) || !api_body_check(ctx, agent_fields, true))
		return;
	ac = calloc(1, sizeof(*ac));
	if (!ac || api_token_generate(token) < 0) {
		free(ac);
		api_problem(ctx, 500, "internal", "cannot make a password");
		return;
	}
	memcpy(ac->password, token, 24);
	ctx->data = ac;
	ctx->data_free = free;
	acc.name = json_string_value(json_object_get(ctx->body, "name"));
	acc.external_user_id =
	    json_string_value(json_object_get(ctx->body, "external_user_id"));
	acc.sip_username =
	    json_string_value(json_object_get(ctx->body, "sip_username"));
	acc.sip_password = ac->password;
	acc.webrtc = json_is_true(json_object_get(ctx->body, "webrtc"));
	acc.provision = !json_is_false(json_object_get(ctx->body, "provision"));
	ac->provision = acc.provision;
	acc.sip_server = api_server_sip_server(ctx);
	if (!acc.provision && (!acc.sip_username || acc.webrtc)) {
		api_problem_fields(
		    ctx,
		    json_pack("[{s:s, s:s}]", "field",
			      acc.webrtc ? "webrtc" : "sip_username", "detail",
			      acc.webrtc ? "a browser softphone is always "
					   "provisioned by welcomedlyd"
					 : "is required with \"provision\": "
					   "false (the PBX's endpoint)"));
		return;
	}
	r = agents_accounts_create(ctx->deps->db, &acc, on_created, ctx);
	if (r < 0)
		accounts_failed(ctx, r);
}

/* The agents row takes the fields but webrtc, which is the phone's kind:
 * sip_peers and the endpoint (welcomedly_set_phone) follow it, and the
 * answer reads the new kind from w (the statement's other parts see the
 * rows as they were before it). */
static void update_run(struct api_ctx *ctx)
{
	json_t *webrtc = json_object_get(ctx->body, "webrtc");
	struct api_sql sql = {0};
	const struct api_field *f;
	int64_t id;
	int idp;

	if (!api_param_id(ctx, 0, &id))
		return;
	idp = api_sql_param_int(&sql, id);
	api_sql_add(&sql, "WITH u AS (UPDATE agents SET id = id");
	for (f = agent_fields; f->name; f++) {
		json_t *v = json_object_get(ctx->body, f->name);

		if (!v || v == webrtc)
			continue;
		api_sql_add(&sql, ", %s = ", f->name);
		api_sql_value(&sql, f, v);
	}
	api_sql_add(&sql, " WHERE id = $%d RETURNING *), ", idp);
	if (webrtc)
		api_sql_add(
		    &sql,
		    "w AS (UPDATE sip_peers SET webrtc = $%d WHERE "
		    "agent_id = $%d AND provisioned "
		    "RETURNING sip_username, webrtc), "
		    "e AS (SELECT welcomedly_set_phone(sip_username, "
		    "webrtc) AS webrtc FROM w) ",
		    api_sql_param(&sql, json_is_true(webrtc) ? "t" : "f"), idp);
	else
		api_sql_add(&sql, "e AS (SELECT NULL::boolean AS webrtc) ");
	api_sql_add(
	    &sql,
	    "SELECT %s::text FROM (SELECT u.*, p.sip_username, p.status "
	    "AS sip_status, coalesce((SELECT webrtc FROM e), p.webrtc) "
	    "AS webrtc, p.provisioned FROM u LEFT JOIN sip_peers p ON "
	    "p.agent_id = u.id) t",
	    AGENT_JSON);
	api_sql_run(ctx, &sql, on_agent);
}

void agents_api_update(struct api_ctx *ctx)
{
	if (api_body_parse(ctx) && api_body_check(ctx, agent_fields, false))
		update_run(ctx);
}

static void on_deleted(const struct agents_accounts_result *r, void *userdata)
{
	struct api_ctx *ctx = userdata;

	if (r->error < 0)
		api_problem_db(ctx, r->error, r->db_res);
	else if (!r->found)
		api_problem(ctx, 404, "not-found", "no such agent");
	else
		api_reply_empty(ctx, 204);
}

void agents_api_delete(struct api_ctx *ctx)
{
	struct agents *agents = ctx->deps->agents;
	int64_t id;
	int r;

	if (!api_param_id(ctx, 0, &id))
		return;
	r = agents_accounts_delete(ctx->deps->db, agents, id, on_deleted, ctx);
	if (r == -EBUSY)
		api_problem(ctx, 409, "conflict",
			    "agent %lld is %s: delete it once the call ends",
			    (long long)id,
			    acd_agent_state_name(agents_state(
				agents, agents_by_id(agents, id))));
	else if (r < 0)
		accounts_failed(ctx, r);
}

static const char *const settable_states[] = {"available", "paused", "offline",
					      NULL};

static const struct api_field state_fields[] = {
    {"state", API_TEXT, API_F_REQUIRED, 1, 20, settable_states, NULL},
    {"reason", API_TEXT, API_F_NULLABLE, 1, 100, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static void on_state_row(struct api_ctx *ctx, const PGresult *res)
{
	reply_agent(ctx, res, ctx->data ? 202 : 200, NULL);
}

/* The change is in the database before the answer: what a client reads
 * there next agrees with what it was told. */
static void on_state_stored(int error, void *userdata)
{
	struct api_ctx *ctx = userdata;
	int64_t id;

	if (error == -ECANCELED) /* stopping: the request went with the API */
		return;
	if (api_param_id(ctx, 0, &id))
		get_by_id(ctx, id, on_state_row);
}

void agents_api_state(struct api_ctx *ctx)
{
	struct agents *agents = ctx->deps->agents;
	const char *state, *reason;
	enum agents_input input;
	struct agent *agent;
	int64_t id;
	int r;

	if (!api_param_id(ctx, 0, &id) || !api_body_parse(ctx) ||
	    !api_body_check(ctx, state_fields, true))
		return;
	agent = agents ? agents_by_id(agents, id) : NULL;
	if (!agent) {
		api_problem(ctx, 404, "not-found",
			    "no such agent (or not loaded yet)");
		return;
	}
	/* The answer is the agent's row: refuse before changing anything,
	 * rather than change it and answer that the database is away. */
	if (!ctx->deps->db || db_pool_connected(ctx->deps->db) == 0) {
		api_problem_db(ctx, -ENOTCONN, NULL);
		return;
	}
	state = json_string_value(json_object_get(ctx->body, "state"));
	reason = json_string_value(json_object_get(ctx->body, "reason"));
	input = strcmp(state, "available") == 0 ? AGENTS_INPUT_LOGIN
		: strcmp(state, "paused") == 0  ? AGENTS_INPUT_PAUSE
						: AGENTS_INPUT_LOGOUT;
	if (strcmp(acd_agent_state_name(agents_state(agents, agent)), state) ==
		0 &&
	    !agent->has_pending) {
		get_by_id(ctx, id, on_state_row);
		return;
	}
	r = agents_request(agents, agent, input, reason);
	if (r < 0) {
		api_problem(ctx, 409, "conflict",
			    "agent %lld cannot go from %s to %s", (long long)id,
			    acd_agent_state_name(agents_state(agents, agent)),
			    state);
		return;
	}
	log_notice("api agent=%lld state request %s%s by %s", (long long)id,
		   state, r == 1 ? " (deferred until wrap-up ends)" : "",
		   api_role_name(ctx->who.role));
	ctx->data = r == 1 ? ctx : NULL; /* a flag: deferred */
	if (agents_stored(agents, on_state_stored, ctx) < 0)
		get_by_id(ctx, id, on_state_row);
}
