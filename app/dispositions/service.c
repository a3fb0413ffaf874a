/* service.c: the disposition statement and the reading of its result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "db/pool.h"
#include "dispositions/service.h"
#include "util/log.h"

/*
 * One statement: the call's record, the campaign's code, the disposition
 * written once (only by the call's agent when $5 is set), the lead updated
 * (status = the code, next_call_at for callbacks) and, for do-not-call
 * codes, the number listed. The counts tell which check failed.
 */
static const char record_sql[] =
    "WITH c AS (SELECT call_id, agent_id, campaign_id, lead_id,"
    " CASE WHEN direction = 'outbound' THEN callee_number"
    " ELSE caller_number END AS number, disposition_code"
    " FROM calls WHERE call_id = $1),"
    " d AS (SELECT * FROM dispositions WHERE code = $2"
    " AND campaign_id = (SELECT campaign_id FROM c)),"
    " u AS (UPDATE calls SET disposition_code = $2, disposition_notes = $3,"
    " callback_at = $4::timestamptz, disposition_at = now()"
    " WHERE call_id = $1 AND disposition_code IS NULL"
    " AND EXISTS (SELECT 1 FROM d)"
    " AND ($5::bigint IS NULL OR agent_id = $5::bigint)"
    " AND (NOT (SELECT is_callback FROM d) OR $4::timestamptz IS NOT NULL)"
    " RETURNING call_id),"
    " l AS (UPDATE leads SET status = $2, next_call_at = CASE WHEN"
    " (SELECT is_callback FROM d) THEN $4::timestamptz ELSE NULL END"
    " WHERE id = (SELECT lead_id FROM c) AND EXISTS (SELECT 1 FROM u)"
    " RETURNING id),"
    " n AS (INSERT INTO do_not_call (number, reason)"
    " SELECT c.number, 'disposition ' || $2 FROM c"
    " WHERE (SELECT is_do_not_call FROM d) AND c.number IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM u) ON CONFLICT (number) DO NOTHING"
    " RETURNING number)"
    " SELECT (SELECT count(*) FROM c) AS calls,"
    " (SELECT count(*) FROM d) AS codes,"
    " (SELECT count(*) FROM u) AS recorded,"
    " coalesce((SELECT agent_id FROM c), 0) AS agent_id,"
    " coalesce((SELECT lead_id FROM c), 0) AS lead_id,"
    " (SELECT disposition_code FROM c) AS existing_code,"
    " coalesce((SELECT is_callback FROM d), false) AS is_callback,"
    " (SELECT count(*) FROM n) AS listed";

struct record {
	struct agents *agents;
	dispositions_record_cb cb;
	void *userdata;
	int64_t only_agent_id;
	char call_id[128];
	char code[48];
};

static bool nonzero(const PGresult *res, const char *name)
{
	const char *v = db_pool_value(res, 0, name);

	return v && strcmp(v, "0") != 0 && strcmp(v, "f") != 0;
}

/* The statement's one row as a result; the checks in the order the caller
 * hears about them. */
static void decode(const struct record *rec, const PGresult *res,
		   struct dispositions_result *out)
{
	const char *agent = db_pool_value(res, 0, "agent_id"),
		   *lead = db_pool_value(res, 0, "lead_id");

	out->agent_id = agent ? strtoll(agent, NULL, 10) : 0;
	out->lead_id = lead ? strtoll(lead, NULL, 10) : 0;
	out->existing_code = db_pool_value(res, 0, "existing_code");
	out->is_callback = nonzero(res, "is_callback");
	out->do_not_call = nonzero(res, "listed");
	if (!nonzero(res, "calls"))
		out->outcome = DISPOSITIONS_NO_CALL;
	else if (rec->only_agent_id > 0 && out->agent_id != rec->only_agent_id)
		out->outcome = DISPOSITIONS_NOT_OWN;
	else if (!nonzero(res, "codes"))
		out->outcome = DISPOSITIONS_UNKNOWN_CODE;
	else if (out->existing_code)
		out->outcome = DISPOSITIONS_ALREADY_SET;
	else if (!nonzero(res, "recorded"))
		out->outcome = DISPOSITIONS_NEEDS_CALLBACK;
	else
		out->outcome = DISPOSITIONS_RECORDED;
}

/* After-call work ends with the disposition. */
static void end_wrapup(struct agents *agents, int64_t agent_id)
{
	struct agent *agent = agents ? agents_by_id(agents, agent_id) : NULL;

	if (agent && agents_state(agents, agent) == ACD_AGENT_AFTER_CALL_WORK)
		agents_input(agents, agent, AGENTS_INPUT_WRAPUP_DONE, NULL, 0);
}

static void on_recorded(int error, const PGresult *res, void *userdata)
{
	struct record *rec = userdata;
	struct dispositions_result result = {0};

	if (error < 0) {
		result.outcome = DISPOSITIONS_FAILED;
		result.error = error;
		result.db_res = res;
	} else {
		decode(rec, res, &result);
	}
	if (result.outcome == DISPOSITIONS_RECORDED) {
		end_wrapup(rec->agents, result.agent_id);
		log_notice("call=%s disposition=%s agent=%lld do_not_call=%d",
			   rec->call_id, rec->code, (long long)result.agent_id,
			   result.do_not_call);
	}
	rec->cb(&result, rec->userdata);
	free(rec);
}

int dispositions_record(struct db_pool *db, struct agents *agents,
			const struct dispositions_request *req,
			dispositions_record_cb cb, void *userdata)
{
	struct record *rec = calloc(1, sizeof(*rec));
	char self[24];
	const char *params[5] = {req->call_id, req->code, req->notes,
				 req->callback_at, NULL};
	int r;

	if (!rec)
		return -ENOMEM;
	rec->agents = agents;
	rec->cb = cb;
	rec->userdata = userdata;
	rec->only_agent_id = req->only_agent_id;
	snprintf(rec->call_id, sizeof(rec->call_id), "%s", req->call_id);
	snprintf(rec->code, sizeof(rec->code), "%s", req->code);
	if (req->only_agent_id > 0) {
		snprintf(self, sizeof(self), "%lld",
			 (long long)req->only_agent_id);
		params[4] = self;
	}
	r = db_pool_query(db, record_sql, 5, params, on_recorded, rec);
	if (r < 0)
		free(rec);
	return r;
}
