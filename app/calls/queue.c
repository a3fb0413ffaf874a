/* queue.c: campaign queues, offers to agents, and connecting the winner. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/internal.h"
#include "util/log.h"
#include "util/rand.h"

/* Named caps: overflow hops from one campaign to the next, waiting callers
 * looked at per campaign in one dispatch, and candidates recorded. */
#define CALLS_MAX_OVERFLOW_HOPS 3
#define CALLS_DISPATCH_BATCH 1024
#define CALLS_MAX_CANDIDATES 256

static uint64_t now_ms(const struct calls *calls)
{
	return uv_now(calls->loop);
}

/* Best-effort writes of the queue's durable mirror: a lost row is logged;
 * the call itself goes on. */
static void on_db_reply(int error, const PGresult *res, void *userdata)
{
	if (error < 0 && error != -ECANCELED)
		log_warning("queue row not stored error=%s %s, ignoring",
			    strerror(-error),
			    res ? PQresultErrorMessage(res) : "");
}

void calls__db_write(struct calls *calls, const char *sql, int n,
		     const char *const *params)
{
	int r;

	if (!calls->db)
		return;
	r = db_pool_query(calls->db, sql, n, params, on_db_reply, NULL);
	if (r < 0)
		log_warning("queue row not stored error=%s, ignoring",
			    strerror(-r));
}

/* Routing ------------------------------------------------------------- */

static unsigned waiting_in(struct calls *calls, const struct campaign *c)
{
	unsigned n, longest;

	calls_queue_numbers(calls, c->id, &n, &longest);
	return n;
}

static bool anyone_logged_in(struct calls *calls, const struct campaign *c)
{
	uint32_t n;
	const struct acd_agent *acd = agents_acd(calls->agents, &n);

	for (uint32_t i = 0; i < c->nmembers; i++) {
		if (acd[c->members[i].agent].state != ACD_AGENT_OFFLINE)
			return true;
	}
	return false;
}

/* Picks the campaign that takes the call: c itself, or where its overflow
 * leads. Returns NULL when the caller is to hear a prompt instead. */
static struct campaign *admit(struct calls *calls, struct call *call,
			      struct campaign *c)
{
	for (int hop = 0; c && hop <= CALLS_MAX_OVERFLOW_HOPS; hop++) {
		bool full = waiting_in(calls, c) >= c->max_queue_length;
		bool nobody = !anyone_logged_in(calls, c);

		if (!full && !nobody)
			return c;
		log_notice("call=%s campaign=%lld %s", call->channel_id,
			   (long long)c->id, full ? "full" : "has no agents");
		if (nobody && !c->overflow_on_no_agents)
			return NULL;
		c = c->overflow_id
			? campaigns_by_id(calls->campaigns, c->overflow_id)
			: NULL;
	}
	return NULL;
}

void calls__route(struct call *call)
{
	struct calls *calls = call->calls;
	struct campaign *c = NULL;

	if (calls->campaigns)
		c = campaigns_route(calls->campaigns, call->route_arg,
				    call->cdr.callee_number);
	if (!c) {
		log_notice(
		    "call=%s no campaign for arg=%s number=%s",
		    call->channel_id, call->route_arg ? call->route_arg : "",
		    call->cdr.callee_number ? call->cdr.callee_number : "");
		calls__input(call, CALL_INPUT_REFUSE);
		return;
	}
	call->cdr.campaign_id = c->id;
	call->campaign = admit(calls, call, c);
	if (!call->campaign) {
		calls__input(call, CALL_INPUT_REFUSE);
		return;
	}
	call->cdr.campaign_id = call->campaign->id;
	calls__input(call, CALL_INPUT_QUEUE);
}

/* Waiting -------------------------------------------------------------- */

static void start_moh(struct call *call)
{
	char path[512];

	snprintf(path, sizeof(path), "/channels/%s/moh?mohClass=%s",
		 call->channel_id, call->campaign->moh_class);
	calls__request(call, "POST", path, NULL, NULL);
}

static void stop_moh(struct call *call)
{
	char path[512];

	snprintf(path, sizeof(path), "/channels/%s/moh", call->channel_id);
	calls__request(call, "DELETE", path, NULL, NULL);
}

/* A call adopted after a restart keeps the place it had: the join time and
 * priority come back from its queue_entries row. */
static void on_place(int error, const PGresult *res, void *userdata)
{
	struct call *call = userdata;

	if (error == 0 && PQntuples(res) == 1 &&
	    call->state == CALL_STATE_QUEUED) {
		call->joined_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		call->priority =
		    (int32_t)strtol(PQgetvalue(res, 0, 1), NULL, 10);
		log_info("call=%s keeps its place joined_us=%lld priority=%d",
			 call->channel_id, (long long)call->joined_us,
			 call->priority);
		calls__dispatch(call->calls);
	}
	calls__unref(call);
}

static void restore_place(struct call *call)
{
	const char *params[1] = {call->channel_id};

	if (!call->calls->db)
		return;
	if (db_pool_query(
		call->calls->db,
		"SELECT (extract(epoch FROM joined_at) * 1000000)::bigint,"
		" priority FROM queue_entries WHERE call_id = $1",
		1, params, on_place, calls__ref(call)) < 0)
		calls__unref(call);
}

void calls__queue_enter(struct call *call)
{
	struct calls *calls = call->calls;
	struct campaign *c = call->campaign;
	char campaign_id[32], priority[16];
	const char *params[5];

	call->joined_us = cdr_now_us();
	call->next_offer_ms = 0;
	call->next_announce_ms =
	    c->announce_s ? now_ms(calls) + c->announce_s * 1000ull : 0;
	call->max_wait_ms =
	    c->max_wait_s ? now_ms(calls) + c->max_wait_s * 1000ull : 0;
	call->cdr.queue_wait_seconds = 0;
	calls__write_cdr(call);
	start_moh(call);
	snprintf(campaign_id, sizeof(campaign_id), "%lld", (long long)c->id);
	snprintf(priority, sizeof(priority), "%d", call->priority);
	params[0] = call->channel_id;
	params[1] = campaign_id;
	params[2] = priority;
	params[3] = call->cdr.caller_number;
	params[4] = call->channel_id;
	calls__db_write(
	    calls,
	    "INSERT INTO queue_entries (call_id, campaign_id, priority,"
	    " caller_number, channel_id) VALUES ($1, $2, $3, $4, $5)"
	    " ON CONFLICT (call_id) DO UPDATE SET campaign_id = $2",
	    5, params);
	log_info("call=%s queued campaign=%lld waiting=%u", call->channel_id,
		 (long long)c->id, waiting_in(calls, c));
	c->stats.dirty = true;
	calls__emit(call, "call.queued", 0,
		    json_pack("{s:s, s:I, s:s?, s:i}", "call_id",
			      call->cdr.call_id, "campaign_id",
			      (json_int_t)c->id, "caller_number",
			      call->cdr.caller_number, "position",
			      (int)waiting_in(calls, c)));
	if (call->adopted)
		restore_place(call);
	calls__dispatch(calls);
}

/* Legs ------------------------------------------------------------------ */

static void leg_unref(struct leg *leg)
{
	if (--leg->refs > 0)
		return;
	calls__unref(leg->call);
	free(leg);
}

static void detach_leg(struct call *call, struct leg *leg)
{
	for (unsigned i = 0; i < call->nlegs; i++) {
		if (call->legs[i] == leg) {
			call->legs[i] = call->legs[--call->nlegs];
			return;
		}
	}
}

static void hang_up_leg(struct leg *leg)
{
	char path[512];

	if (leg->state == LEG_ENDING)
		return;
	leg->state = LEG_ENDING;
	snprintf(path, sizeof(path), "/channels/%s", leg->id);
	calls__request(leg->call, "DELETE", path, NULL, NULL);
}

/* Tells the agent how the offer ended, once. */
static void settle(struct leg *leg, enum agents_input input)
{
	struct calls *calls = leg->call->calls;

	if (leg->settled)
		return;
	leg->settled = true;
	agents_input(calls->agents, leg->agent, input, "no_answer", 0);
}

static void remember_decline(struct call *call, int64_t agent_id)
{
	unsigned i = call->ndeclined % CALLS_MAX_DECLINED;

	call->declined_ids[i] = agent_id;
	call->declined_at[i] = cdr_now_us();
	if (call->ndeclined < CALLS_MAX_DECLINED)
		call->ndeclined++;
	else
		call->ndeclined = CALLS_MAX_DECLINED + i + 1;
}

static unsigned declined_count(const struct call *call)
{
	return call->ndeclined < CALLS_MAX_DECLINED ? call->ndeclined
						    : CALLS_MAX_DECLINED;
}

/* What an unanswered offer does to the agent: a ring-out counts towards the
 * campaign's auto-pause; busy or unreachable is not the agent's doing. */
enum agents_input calls__offer_outcome(const struct campaign *c,
				       const struct agent *agent,
				       bool no_answer)
{
	if (!no_answer)
		return AGENTS_INPUT_CANCEL;
	if (c && c->max_no_answer &&
	    agent->no_answer_streak >= c->max_no_answer)
		return AGENTS_INPUT_NO_ANSWER_MAX;
	return AGENTS_INPUT_NO_ANSWER;
}

static void leg_failed(struct leg *leg, const char *status)
{
	struct call *call = leg->call;
	struct agent *agent = leg->agent;
	bool no_answer = strcmp(status, "NOANSWER") == 0;

	if (leg->settled)
		return;
	detach_leg(call, leg);
	hang_up_leg(leg);
	if (strcmp(status, "CHANUNAVAIL") == 0 && agent->sip_username)
		agents_set_reachable(call->calls->agents, agent->sip_username,
				     false);
	if (no_answer)
		agent->no_answer_streak++;
	log_info("call=%s agent=%lld offer ended status=%s streak=%u",
		 call->channel_id, (long long)agent->id, status,
		 agent->no_answer_streak);
	remember_decline(call, agent->id);
	if (call->state == CALL_STATE_QUEUED && call->nlegs == 0)
		call->next_offer_ms = now_ms(call->calls) +
				      call->campaign->retry_delay_s * 1000ull;
	settle(leg, calls__offer_outcome(call->campaign, agent, no_answer));
}

static void on_dialed(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;

	if (resp->error < 0 && resp->error != -ECANCELED)
		leg_failed(leg, "CHANUNAVAIL");
	leg_unref(leg);
}

/* Rings the agent once the leg exists and is in Stasis, in either order. */
static void dial(struct leg *leg)
{
	struct call *call = leg->call;
	char path[512];

	if (!leg->created || !leg->in_stasis || leg->state != LEG_CREATING)
		return;
	leg->state = LEG_DIALING;
	snprintf(path, sizeof(path), "/channels/%s/dial?caller=%s&timeout=%u",
		 leg->id, call->channel_id, call->campaign->ring_timeout_s);
	leg->refs++;
	if (ari_rest_request(call->calls->rest, "POST", path, NULL, on_dialed,
			     leg) < 0) {
		leg->refs--;
		leg_failed(leg, "CHANUNAVAIL");
	}
}

void calls__on_leg_stasis_start(struct calls *calls, const char *leg_id)
{
	struct leg *leg = strmap_get(calls->legs, leg_id);

	if (!leg)
		return;
	leg->in_stasis = true;
	dial(leg);
}

static void on_created(const struct ari_response *resp, void *userdata)
{
	struct leg *leg = userdata;
	struct call *call = leg->call;

	if (resp->error == -ECANCELED)
		goto out;
	if (resp->error < 0) {
		log_warning("call=%s agent=%lld leg not created error=%s",
			    call->channel_id, (long long)leg->agent->id,
			    strerror(-resp->error));
		leg->state = LEG_ENDING;
		strmap_remove(call->calls->legs, leg->id);
		leg->refs--; /* the map's; this request's goes at out */
		leg_failed(leg, "CHANUNAVAIL");
		goto out;
	}
	/* Cancelled meanwhile, hang_up_leg() sent the DELETE already. */
	leg->created = true;
	dial(leg);
out:
	leg_unref(leg);
}

/* The ring latency: since StasisStart, and the part of it spent inside
 * the daemon (everything but waiting for Asterisk to answer the caller). */
static void log_offer(const struct call *call, const struct agent *agent,
		      const struct leg *leg)
{
	uint64_t now = uv_hrtime();
	uint64_t inside = (call->answer_sent_ns - call->entered_ns) +
			  (now - call->answered_ns);

	log_info("call=%s offered agent=%lld leg=%s since_stasis_us=%llu "
		 "inside_us=%llu",
		 call->channel_id, (long long)agent->id, leg->id,
		 (unsigned long long)((now - call->entered_ns) / 1000),
		 (unsigned long long)(inside / 1000));
}

static int offer(struct call *call, struct agent *agent)
{
	struct calls *calls = call->calls;
	struct leg *leg = calloc(1, sizeof(*leg));
	json_t *body;
	char path[1024];
	int r;

	if (!leg || !agent->sip_username ||
	    ids_new(leg->id, sizeof(leg->id), "agent") < 0 ||
	    strmap_put(calls->legs, leg->id, leg) < 0) {
		free(leg);
		return -ENOMEM;
	}
	leg->call = calls__ref(call);
	leg->agent = agent;
	leg->refs = 2; /* the map's, and the create request's */
	call->legs[call->nlegs++] = leg;
	agents_set_call(agent, call->channel_id);
	agents_input(calls->agents, agent, AGENTS_INPUT_OFFER, NULL, 0);
	calls__emit(call, "call.offered", agent->id,
		    json_pack("{s:s, s:I, s:I}", "call_id", call->cdr.call_id,
			      "agent_id", (json_int_t)agent->id, "campaign_id",
			      (json_int_t)call->campaign->id));
	snprintf(path, sizeof(path),
		 "/channels/create?endpoint=PJSIP/%s&app=%s&appArgs=agent,%s"
		 "&channelId=%s",
		 agent->sip_username, calls->app, call->channel_id, leg->id);
	body =
	    json_pack("{s:{s:s}}", "variables", "CALLERID(num)",
		      call->cdr.caller_number ? call->cdr.caller_number : "");
	r = ari_rest_request(calls->rest, "POST", path, body, on_created, leg);
	json_decref(body);
	log_offer(call, agent, leg);
	if (r < 0) {
		leg->refs--;
		strmap_remove(calls->legs, leg->id);
		leg->state = LEG_ENDING;
		leg_failed(leg, "CHANUNAVAIL");
		leg_unref(leg);
	}
	return 0;
}

bool calls__is_leg(struct calls *calls, const char *channel_id)
{
	return channel_id && strmap_get(calls->legs, channel_id);
}

/* Dispatch ------------------------------------------------------------- */

static void record_decision(struct call *call, const struct acd_decision *d)
{
	struct calls *calls = call->calls;
	uint32_t n;
	const struct acd_agent *acd = agents_acd(calls->agents, &n);
	json_t *cands = json_array(), *chosen = json_array();
	char *cands_text, *chosen_text = NULL, campaign_id[32];
	const char *params[5];

	for (uint32_t i = 0; i < d->ncandidates; i++)
		json_array_append_new(
		    cands,
		    json_pack("{s:I,s:s,s:i}", "agent",
			      (json_int_t)acd[d->candidates[i].agent].id,
			      "skip", acd_skip_name(d->candidates[i].skip),
			      "penalty", d->candidates[i].penalty));
	for (uint32_t i = 0; i < d->nchosen; i++)
		json_array_append_new(chosen,
				      json_integer(acd[d->chosen[i]].id));
	cands_text = json_dumps(cands, JSON_COMPACT);
	chosen_text = json_dumps(chosen, JSON_COMPACT);
	log_debug("call=%s decision strategy=%s chosen=%s candidates=%s",
		  call->channel_id,
		  acd_strategy_name(call->campaign->acd.strategy), chosen_text,
		  cands_text);
	if (chosen_text) {
		/* A JSON array of integers reads as a PostgreSQL array once
		 * its brackets become braces. */
		chosen_text[0] = '{';
		chosen_text[strlen(chosen_text) - 1] = '}';
	}
	snprintf(campaign_id, sizeof(campaign_id), "%lld",
		 (long long)call->campaign->id);
	params[0] = call->channel_id;
	params[1] = campaign_id;
	params[2] = acd_strategy_name(call->campaign->acd.strategy);
	params[3] = chosen_text;
	params[4] = cands_text;
	if (cands_text && chosen_text)
		calls__db_write(
		    calls,
		    "INSERT INTO routing_decisions (call_id, campaign_id,"
		    " strategy, chosen, candidates)"
		    " VALUES ($1, $2, $3, $4, $5)",
		    5, params);
	free(cands_text);
	free(chosen_text);
	json_decref(cands);
	json_decref(chosen);
}

static void offer_call(struct call *call)
{
	struct calls *calls = call->calls;
	struct acd_candidate cands[CALLS_MAX_CANDIDATES];
	struct acd_decision d = {0};
	struct acd_caller caller = {0};
	uint32_t n;
	const struct acd_agent *acd = agents_acd(calls->agents, &n);
	int chosen;

	caller.call_id = call->channel_id;
	caller.priority = call->priority;
	caller.joined_us = call->joined_us;
	caller.declined_agent_ids = call->declined_ids;
	caller.declined_at_us = call->declined_at;
	caller.ndeclined = declined_count(call);
	d.candidates = cands;
	d.max_candidates = CALLS_MAX_CANDIDATES;
	chosen = acd_choose(acd, n, &call->campaign->acd, &caller, cdr_now_us(),
			    call->campaign->retry_delay_s * 1000000ll,
			    rand_u64(), &d);
	if (chosen <= 0)
		return;
	record_decision(call, &d);
	for (int i = 0; i < chosen; i++) {
		struct agent *agent = agents_at(calls->agents, d.chosen[i]);
		acd_note_offer(&call->campaign->acd, d.chosen[i]);
		if (offer(call, agent) < 0)
			log_error("call=%s offer to agent=%lld failed",
				  call->channel_id, (long long)agent->id);
	}
}

static int cmp_waiting(const void *a, const void *b)
{
	const struct call *x = *(struct call *const *)a;
	const struct call *y = *(struct call *const *)b;
	struct acd_caller cx = {.call_id = x->channel_id,
				.priority = x->priority,
				.joined_us = x->joined_us};
	struct acd_caller cy = {.call_id = y->channel_id,
				.priority = y->priority,
				.joined_us = y->joined_us};

	return acd_caller_cmp(&cx, &cy);
}

void calls__dispatch(struct calls *calls)
{
	struct call *waiting[CALLS_DISPATCH_BATCH];
	uint64_t now = now_ms(calls);
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	/* Offers change agents, whose callbacks dispatch again: one pass
	 * at a time is enough, since it looks at every waiting call. */
	if (!calls->agents || calls->dispatching)
		return;
	calls->dispatching = true;
	while (n < CALLS_DISPATCH_BATCH &&
	       strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;
		if (call->state == CALL_STATE_QUEUED && call->nlegs == 0 &&
		    !call->announcing && call->next_offer_ms <= now)
			waiting[n++] = calls__ref(call);
	}
	qsort(waiting, n, sizeof(waiting[0]), cmp_waiting);
	for (size_t i = 0; i < n; i++) {
		if (waiting[i]->state == CALL_STATE_QUEUED)
			offer_call(waiting[i]);
		calls__unref(waiting[i]);
	}
	calls->dispatching = false;
}

void calls_dispatch(struct calls *calls)
{
	calls__dispatch(calls);
}

/* Leaving the queue ------------------------------------------------------ */

void calls__queue_leave(struct call *call, bool abandoned)
{
	struct calls *calls = call->calls;
	const char *params[1] = {call->channel_id};

	while (call->nlegs > 0) {
		struct leg *leg = call->legs[--call->nlegs];
		if (leg == call->winner)
			continue;
		hang_up_leg(leg);
		settle(leg, AGENTS_INPUT_CANCEL);
	}
	call->cdr.queue_wait_seconds =
	    (int)((cdr_now_us() - call->joined_us) / 1000000);
	call->campaign->stats.dirty = true;
	if (abandoned && !call->winner) {
		call->cdr.abandoned = true;
		call->campaign->stats.abandoned++;
		log_info("call=%s abandoned after %ds", call->channel_id,
			 call->cdr.queue_wait_seconds);
	} else if (!abandoned) {
		stop_moh(call);
	}
	calls__db_write(calls, "DELETE FROM queue_entries WHERE call_id = $1",
			1, params);
}

/* The winner ------------------------------------------------------------ */

static void leg_answered(struct leg *leg)
{
	struct call *call = leg->call;
	struct calls *calls = call->calls;
	struct campaign *c = call->campaign;
	double wait_s;

	/* Asterisk may report ANSWER more than once; an offer already
	 * settled (won, or cancelled and hung up) has nothing left to do. */
	if (leg->settled)
		return;
	if (call->state != CALL_STATE_QUEUED || call->winner) {
		/* Two answered at once (ringall), or the caller left: exactly
		 * one agent gets the caller; this one is hung up cleanly. */
		log_notice("call=%s agent=%lld answered too late, hanging up",
			   call->channel_id, (long long)leg->agent->id);
		detach_leg(call, leg);
		hang_up_leg(leg);
		settle(leg, AGENTS_INPUT_CANCEL);
		return;
	}
	call->winner = leg;
	leg->state = LEG_ANSWERED;
	leg->settled = true;
	leg->agent->no_answer_streak = 0;
	agents_input(calls->agents, leg->agent, AGENTS_INPUT_ANSWER, NULL, 0);
	call->cdr.agent_id = leg->agent->id;
	free(call->cdr.agent_channel_id);
	call->cdr.agent_channel_id = strdup(leg->id);
	call->cdr.answer_us = cdr_now_us();
	wait_s = (double)(call->cdr.answer_us - call->joined_us) / 1e6;
	c->avg_wait_s = c->avg_wait_s * 0.8 + 0.2 * wait_s;
	c->stats.answered++;
	c->stats.answered_in_sl += wait_s <= (double)c->service_level_s;
	c->stats.wait_sum_s += wait_s;
	c->stats.dirty = true;
	calls__emit(call, "call.answered", leg->agent->id,
		    json_pack("{s:s, s:I, s:I, s:i}", "call_id",
			      call->cdr.call_id, "agent_id",
			      (json_int_t)leg->agent->id, "campaign_id",
			      (json_int_t)c->id, "wait_seconds", (int)wait_s));
	log_info("call=%s answered by agent=%lld", call->channel_id,
		 (long long)leg->agent->id);
	calls__input(call, CALL_INPUT_AGENT_ANSWERED);
}

void calls__on_dial(struct calls *calls, const char *leg_id, const char *status)
{
	struct leg *leg = strmap_get(calls->legs, leg_id);

	if (!leg || !status || !*status)
		return;
	if (strcmp(status, "ANSWER") == 0)
		leg_answered(leg);
	else if (strcmp(status, "BUSY") == 0 ||
		 strcmp(status, "NOANSWER") == 0 ||
		 strcmp(status, "CHANUNAVAIL") == 0 ||
		 strcmp(status, "CONGESTION") == 0 ||
		 strcmp(status, "CANCEL") == 0)
		leg_failed(leg, status);
}

void calls__on_leg_left(struct calls *calls, const char *leg_id, int cause)
{
	struct leg *leg = strmap_remove(calls->legs, leg_id);
	struct call *call;

	if (!leg)
		return;
	call = leg->call;
	if (leg == call->winner && (call->state == CALL_STATE_CONNECTING ||
				    call->state == CALL_STATE_TALKING)) {
		if (!call->hangup_by)
			call->hangup_by = "agent";
		calls__input(call, CALL_INPUT_AGENT_LEFT);
	} else if (!leg->settled) {
		/* Gone without a Dial status: rejected or unreachable. */
		leg_failed(leg, cause == 17 ? "BUSY" : "NOANSWER");
	}
	leg->state = LEG_ENDING;
	leg_unref(leg);
}

static void on_recording(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error < 0 && resp->error != -ECANCELED)
		log_warning("call=%s recording not started error=%s http=%ld",
			    call->channel_id, strerror(-resp->error),
			    resp->http_status);
	calls__unref(call);
}

static void on_added(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;
	char path[512];

	if (resp->error == 0 && call->state == CALL_STATE_CONNECTING) {
		snprintf(
		    path, sizeof(path),
		    "/bridges/%s/record?name=%s&format=wav&ifExists=overwrite"
		    "&terminateOn=none&beep=false",
		    call->bridge_id, call->channel_id);
		calls__request(call, "POST", path, NULL, on_recording);
		snprintf(path, sizeof(path), "/api/v1/calls/%s/recording",
			 call->channel_id);
		free(call->cdr.recording_url);
		call->cdr.recording_url = strdup(path);
		calls__input(call, CALL_INPUT_BRIDGED);
		calls__write_cdr(call);
	} else if (resp->error < 0 && resp->error != -ECANCELED &&
		   call->state == CALL_STATE_CONNECTING) {
		log_warning("call=%s bridge join failed error=%s",
			    call->channel_id, strerror(-resp->error));
		calls__input(call, CALL_INPUT_FAILED);
	}
	calls__unref(call);
}

static void on_bridge(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;
	char path[512];

	if (resp->error == 0 && call->state == CALL_STATE_CONNECTING &&
	    call->winner) {
		snprintf(path, sizeof(path),
			 "/bridges/%s/addChannel?channel=%s,%s",
			 call->bridge_id, call->channel_id, call->winner->id);
		calls__request(call, "POST", path, NULL, on_added);
	} else if (resp->error < 0 && resp->error != -ECANCELED &&
		   call->state == CALL_STATE_CONNECTING) {
		calls__input(call, CALL_INPUT_FAILED);
	}
	calls__unref(call);
}

void calls__connect(struct call *call)
{
	char path[512];

	if (ids_new(call->bridge_id, sizeof(call->bridge_id), "br") < 0) {
		calls__input(call, CALL_INPUT_FAILED);
		return;
	}
	free(call->cdr.bridge_id);
	call->cdr.bridge_id = strdup(call->bridge_id);
	snprintf(path, sizeof(path), "/bridges/%s?type=mixing&name=%s",
		 call->bridge_id, call->channel_id);
	calls__request(call, "POST", path, NULL, on_bridge);
}

void calls__end_talk(struct call *call)
{
	struct leg *leg = call->winner;
	char path[512];

	if (leg) {
		hang_up_leg(leg);
		if (leg->agent && leg->settled) {
			agents_input(call->calls->agents, leg->agent,
				     AGENTS_INPUT_CALL_END, NULL,
				     call->campaign ? call->campaign->wrapup_s
						    : 0);
		}
		call->winner = NULL;
	}
	if (call->bridge_id[0]) {
		snprintf(path, sizeof(path), "/bridges/%s", call->bridge_id);
		calls__request(call, "DELETE", path, NULL, NULL);
		call->bridge_id[0] = '\0';
	}
}

/* Announcements and timers --------------------------------------------- */

static unsigned position_of(struct calls *calls, const struct call *call)
{
	size_t cursor = 0;
	const char *key;
	void *value;
	unsigned ahead = 0;

	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		const struct call *other = value;
		const struct call *pair[2] = {other, call};
		if (other != call && other->state == CALL_STATE_QUEUED &&
		    other->campaign == call->campaign &&
		    cmp_waiting(&pair[0], &pair[1]) < 0)
			ahead++;
	}
	return ahead + 1;
}

static void on_announced(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error < 0 && resp->error != -ECANCELED) {
		log_warning("call=%s announcement failed error=%s, ignoring",
			    call->channel_id, strerror(-resp->error));
		calls__on_playback_finished(call, call->playback_id);
	}
	calls__unref(call);
}

static void announce(struct call *call)
{
	struct calls *calls = call->calls;
	unsigned minutes = (unsigned)(call->campaign->avg_wait_s / 60.0 + 0.5);
	char path[1024];

	if (ids_new(call->playback_id, sizeof(call->playback_id), "pb") < 0)
		return;
	call->announcing = true;
	stop_moh(call);
	/* If the announcement cannot start, the caller goes back to music
	 * and to the dispatcher rather than waiting for a PlaybackFinished
	 * that never comes. */
	snprintf(path, sizeof(path),
		 "/channels/%s/play/%s?media=sound:queue-thereare,number:%u,"
		 "sound:queue-callswaiting,sound:queue-holdtime,number:%u,"
		 "sound:queue-minutes",
		 call->channel_id, call->playback_id, position_of(calls, call),
		 minutes ? minutes : 1);
	calls__request(call, "POST", path, NULL, on_announced);
	log_info("call=%s announced position=%u wait_min=%u", call->channel_id,
		 position_of(calls, call), minutes ? minutes : 1);
	call->next_announce_ms =
	    now_ms(calls) + call->campaign->announce_s * 1000ull;
}

void calls__on_playback_finished(struct call *call, const char *playback_id)
{
	if (!playback_id || strcmp(call->playback_id, playback_id) != 0)
		return;
	if (call->state == CALL_STATE_PROMPTING) {
		calls__input(call, CALL_INPUT_PROMPT_DONE);
	} else if (call->state == CALL_STATE_QUEUED && call->announcing) {
		call->announcing = false;
		start_moh(call);
		calls__dispatch(call->calls);
	}
}

void calls__queue_sweep(struct calls *calls, uint64_t now)
{
	struct call *due[CALLS_DISPATCH_BATCH];
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	while (n < CALLS_DISPATCH_BATCH &&
	       strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct call *call = value;
		if (call->state == CALL_STATE_QUEUED &&
		    ((call->max_wait_ms && call->max_wait_ms <= now) ||
		     (call->next_announce_ms && call->next_announce_ms <= now &&
		      call->nlegs == 0 && !call->announcing)))
			due[n++] = calls__ref(call);
	}
	for (size_t i = 0; i < n; i++) {
		struct call *call = due[i];
		if (call->max_wait_ms && call->max_wait_ms <= now) {
			log_notice("call=%s waited the campaign's maximum",
				   call->channel_id);
			calls__input(call, CALL_INPUT_REFUSE);
		} else if (call->state == CALL_STATE_QUEUED) {
			announce(call);
		}
		calls__unref(call);
	}
	calls__dispatch(calls);
}
