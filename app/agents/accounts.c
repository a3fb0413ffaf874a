/* accounts.c: the statements that make and remove an agent with its SIP
 * account (the same settings as asterisk-conf's agent template). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/accounts.h"
#include "agents/agents.h"
#include "db/pool.h"
#include "util/log.h"

/* The endpoint is written by welcomedly_set_phone() (migration 0007), the
 * one definition of both kinds of phone; the final SELECT reads e so that
 * the function runs. */
static const char create_sql[] =
    "WITH a AS (INSERT INTO agents (name, external_user_id) VALUES ($1, $2)"
    " RETURNING id),"
    " u AS (SELECT id, coalesce($3, 'agent' || id) AS username FROM a),"
    " p AS (INSERT INTO sip_peers (agent_id, sip_username, sip_password,"
    " sip_server, webrtc) SELECT id, username, $4, $5, $6 FROM u),"
    " o AS (INSERT INTO ps_aors (id, max_contacts, remove_existing)"
    " SELECT username, 1, 'yes' FROM u),"
    " h AS (INSERT INTO ps_auths (id, auth_type, username, password)"
    " SELECT username, 'userpass', username, $4 FROM u),"
    " e AS (SELECT welcomedly_set_phone(username, $6) FROM u)"
    " SELECT id, username, (SELECT count(*) FROM e) AS endpoints FROM u";

/* An agent on an endpoint of the PBX: sip_peers only (see accounts.h). */
static const char bind_sql[] =
    "WITH a AS (INSERT INTO agents (name, external_user_id) VALUES ($1, $2)"
    " RETURNING id),"
    " p AS (INSERT INTO sip_peers (agent_id, sip_username, sip_password,"
    " sip_server, provisioned) SELECT id, $3, '', $4, false FROM a)"
    " SELECT id, $3 AS username FROM a";

/* The realtime rows go only where the daemon made them. */
static const char delete_sql[] =
    "WITH p AS (DELETE FROM sip_peers WHERE agent_id = $1"
    " RETURNING sip_username, provisioned),"
    " m AS (SELECT sip_username FROM p WHERE provisioned),"
    " e AS (DELETE FROM ps_endpoints WHERE id IN (SELECT sip_username FROM m)),"
    " h AS (DELETE FROM ps_auths WHERE id IN (SELECT sip_username FROM m)),"
    " o AS (DELETE FROM ps_aors WHERE id IN (SELECT sip_username FROM m)),"
    " c AS (DELETE FROM ps_contacts WHERE endpoint IN"
    " (SELECT sip_username FROM m)),"
    " a AS (DELETE FROM agents WHERE id = $1 RETURNING id)"
    " SELECT count(*) AS deleted FROM a";

struct statement {
	agents_accounts_cb cb;
	void *userdata;
	int64_t id;
};

static void on_created(int error, const PGresult *res, void *userdata)
{
	struct statement *st = userdata;
	struct agents_accounts_result r = {.error = error, .db_res = res};

	if (error == 0) {
		r.id = strtoll(db_pool_value(res, 0, "id"), NULL, 10);
		r.sip_username = db_pool_value(res, 0, "username");
		log_notice("agent created id=%lld sip=%s", (long long)r.id,
			   r.sip_username);
	}
	st->cb(&r, st->userdata);
	free(st);
}

static void on_deleted(int error, const PGresult *res, void *userdata)
{
	struct statement *st = userdata;
	struct agents_accounts_result r = {
	    .error = error, .db_res = res, .id = st->id};

	r.found =
	    error == 0 && strcmp(db_pool_value(res, 0, "deleted"), "0") != 0;
	if (r.found)
		log_notice("agent deleted id=%lld", (long long)st->id);
	st->cb(&r, st->userdata);
	free(st);
}

/* Queues sql for a new statement record; frees it when the pool refuses. */
static int run(struct db_pool *db, const char *sql, int nparams,
	       const char *const *params, db_result_cb on_done,
	       agents_accounts_cb cb, void *userdata, int64_t id)
{
	struct statement *st;
	int r;

	if (!db)
		return -ENODEV;
	st = malloc(sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->cb = cb;
	st->userdata = userdata;
	st->id = id;
	r = db_pool_query(db, sql, nparams, params, on_done, st);
	if (r < 0)
		free(st);
	return r;
}

int agents_accounts_create(struct db_pool *db, const struct agents_account *acc,
			   agents_accounts_cb cb, void *userdata)
{
	const char *params[6] = {acc->name,         acc->external_user_id,
				 acc->sip_username, acc->sip_password,
				 acc->sip_server,   acc->webrtc ? "t" : "f"};
	const char *bind[4] = {acc->name, acc->external_user_id,
			       acc->sip_username, acc->sip_server};

	if (!acc->provision)
		return acc->sip_username && !acc->webrtc
			   ? run(db, bind_sql, 4, bind, on_created, cb,
				 userdata, 0)
			   : -EINVAL;
	return run(db, create_sql, 6, params, on_created, cb, userdata, 0);
}

int agents_accounts_delete(struct db_pool *db, struct agents *agents,
			   int64_t id, agents_accounts_cb cb, void *userdata)
{
	struct agent *agent = agents ? agents_by_id(agents, id) : NULL;
	enum acd_agent_state st;
	char text[24];
	const char *params[1] = {text};

	if (agent) {
		st = agents_state(agents, agent);
		if (st == ACD_AGENT_RINGING || st == ACD_AGENT_IN_CALL ||
		    agent->call_id)
			return -EBUSY;
	}
	snprintf(text, sizeof(text), "%lld", (long long)id);
	return run(db, delete_sql, 1, params, on_deleted, cb, userdata, id);
}
