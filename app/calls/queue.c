/* queue.c: inbound calls: answering, routing to campaign queues, offers to
 * agents, and what winning a caller does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/queue.h"
#include "util/log.h"
#include "util/rand.h"

/* Named caps: overflow hops from one campaign to the next, waiting callers
 * looked at per campaign in one dispatch, and candidates recorded. */
#define CALLS_MAX_OVERFLOW_HOPS 3
#define CALLS_DISPATCH_BATCH 1024
#define CALLS_MAX_CANDIDATES 256

/* Answering --------------------------------------------------------------- */

static void on_answer(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	if (resp->error == -ENOENT) {
		/* The channel is already gone: StasisEnd follows. */
		log_debug("call=%s gone while answering", call->cdr.call_id);
	} else if (resp->error < 0 && resp->error != -ECANCELED &&
		   (call->state == CALL_STATE_QUEUED ||
		    call->state == CALL_STATE_PROMPTING)) {
		log_warning("call=%s answer failed error=%s http=%ld",
			    call->cdr.call_id, strerror(-resp->error),
			    resp->http_status);
		calls__input(call, CALL_INPUT_FAILED, NULL);
	}
	calls__unref(call);
}

/* The caller is answered once, by whichever of QUEUED and PROMPTING comes
 * first. Asterisk runs a channel's requests in the order sent, so what
 * follows for the caller (music, a prompt) plays once it is answered; what
 * went before (an agent's leg) does not wait for the answer. Returns 0 or
 * -ENOMEM. */
static int answer(struct call *call)
{
	char path[512];

	if (call->answer_sent)
		return 0;
	call->answer_sent = true;
	snprintf(path, sizeof(path), "/channels/%s/answer", call->peer->id);
	return calls__request(call, "POST", path, NULL, on_answer) < 0 ? -ENOMEM
								       : 0;
}

/* Prompting --------------------------------------------------------------- */

static void on_play(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	/* Success only means the playback started; PlaybackFinished ends it. */
	if (resp->error < 0 && resp->error != -ECANCELED &&
	    resp->error != -ENOENT && call->state == CALL_STATE_PROMPTING) {
		log_warning("call=%s prompt failed error=%s http=%ld",
			    call->cdr.call_id, strerror(-resp->error),
			    resp->http_status);
		calls__input(call, CALL_INPUT_PROMPT_DONE, NULL);
	}
	calls__unref(call);
}

static enum call_input enter_prompting(struct call *call)
{
	char path[512];

	if (answer(call) < 0 ||
	    ids_new(call->playback_id, sizeof(call->playback_id), "pb") < 0)
		return CALL_INPUT_FAILED;
	if (!call->cdr.answer_us)
		call->cdr.answer_us = cdr_now_us();
	calls__write_cdr(call);
	snprintf(path, sizeof(path), "/channels/%s/play/%s?media=%s",
		 call->peer->id, call->playback_id, call->calls->prompt_sound);
	if (calls__request(call, "POST", path, NULL, on_play) < 0)
		return CALL_INPUT_FAILED;
	return CALL_INPUT_NONE;
}

/* Routing ----------------------------------------------------------------- */

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
		log_notice("call=%s campaign=%lld %s", call->cdr.call_id,
			   (long long)c->id, full ? "full" : "has no agents");
		if (nobody && !c->overflow_on_no_agents)
			return NULL;
		c = c->overflow_id
			? campaigns_by_id(calls->campaigns, c->overflow_id)
			: NULL;
	}
	return NULL;
}

static enum call_input enter_routing(struct call *call)
{
	struct calls *calls = call->calls;
	struct campaign *c = NULL;

	if (calls->campaigns && calls->agents)
		c = campaigns_route(calls->campaigns, call->route_arg,
				    call->cdr.callee_number);
	if (!c) {
		log_notice(
		    "call=%s no campaign for arg=%s number=%s",
		    call->cdr.call_id, call->route_arg ? call->route_arg : "",
		    call->cdr.callee_number ? call->cdr.callee_number : "");
		return CALL_INPUT_REFUSE;
	}
	call->cdr.campaign_id = c->id;
	call->campaign = admit(calls, call, c);
	if (!call->campaign)
		return CALL_INPUT_REFUSE;
	call->cdr.campaign_id = call->campaign->id;
	return CALL_INPUT_QUEUE;
}

/* Waiting ----------------------------------------------------------------- */

/* A campaign without a class (moh_class "") keeps its callers waiting in
 * silence: nothing is played, so nothing is stopped either. */
static void start_moh(struct call *call)
{
	char path[512];

	if (!call->campaign->moh_class[0])
		return;
	snprintf(path, sizeof(path), "/channels/%s/moh?mohClass=%s",
		 call->peer->id, call->campaign->moh_class);
	calls__request(call, "POST", path, NULL, NULL);
	call->q.music = true;
}

static void stop_moh(struct call *call)
{
	char path[512];

	if (!call->peer || !call->q.music)
		return;
	snprintf(path, sizeof(path), "/channels/%s/moh", call->peer->id);
	calls__request(call, "DELETE", path, NULL, NULL);
	call->q.music = false;
}

/* A call adopted after a restart keeps the place it had: the join time and
 * priority come back from its queue_entries row. */
static void on_place(int error, const PGresult *res, void *userdata)
{
	struct call *call = userdata;

	if (error == -ECANCELED) { /* closing: nothing is offered any more */
		calls__unref(call);
		return;
	}
	if (error == 0 && PQntuples(res) == 1 &&
	    call->state == CALL_STATE_QUEUED) {
		call->q.joined_us = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		call->q.priority =
		    (int32_t)strtol(PQgetvalue(res, 0, 1), NULL, 10);
		log_info("call=%s keeps its place joined_us=%lld priority=%d",
			 call->cdr.call_id, (long long)call->q.joined_us,
			 call->q.priority);
	}
	calls__place_settled(call);
	calls__dispatch(call->calls);
	calls__unref(call);
}

static void restore_place(struct call *call)
{
	const char *params[1] = {call->cdr.call_id};

	if (!call->calls->db) {
		calls__place_settled(call);
		return;
	}
	if (db_pool_query(
		call->calls->db,
		"SELECT (extract(epoch FROM joined_at) * 1000000)::bigint,"
		" priority FROM queue_entries WHERE call_id = $1",
		1, params, on_place, calls__ref(call)) < 0) {
		calls__unref(call);
		calls__place_settled(call);
	}
}

static enum call_input enter_queued(struct call *call)
{
	struct calls *calls = call->calls;
	struct campaign *c = call->campaign;
	uint64_t now = calls__now_ms(calls);

	call->q.joined_us = cdr_now_us();
	call->q.next_offer_ms = 0;
	call->q.next_announce_ms =
	    c->announce_s ? now + c->announce_s * 1000ull : 0;
	call->q.max_wait_ms = c->max_wait_s ? now + c->max_wait_s * 1000ull : 0;
	call->cdr.queue_wait_seconds = 0;
	calls__write_cdr(call);
	calls__write_record(call, CDR_KIND_QUEUE_ENTRY,
			    json_pack("{s:s, s:s, s:I, s:i, s:s?, s:s, s:I}",
				      "call_id", call->cdr.call_id, "op",
				      "join", "campaign_id", (json_int_t)c->id,
				      "priority", call->q.priority,
				      "caller_number", call->cdr.caller_number,
				      "channel_id", call->peer->id, "joined_us",
				      (json_int_t)call->q.joined_us),
			    "queue entry");
	log_info("call=%s queued campaign=%lld waiting=%u", call->cdr.call_id,
		 (long long)c->id, waiting_in(calls, c));
	c->stats.dirty = true;
	calls__emit(call, "call.queued", 0,
		    json_pack("{s:s, s:I, s:s?, s:i}", "call_id",
			      call->cdr.call_id, "campaign_id",
			      (json_int_t)c->id, "caller_number",
			      call->cdr.caller_number, "position",
			      (int)waiting_in(calls, c)));
	if (call->q.adopted)
		restore_place(call);
	/* Offers first: the agent's phone need not wait for the answer. */
	calls__dispatch(calls);
	if (answer(call) < 0)
		return CALL_INPUT_FAILED;
	start_moh(call);
	return CALL_INPUT_NONE;
}

static void act_leave_queue(struct call *call, const struct call_event *ev)
{
	bool abandoned = call->state == CALL_STATE_GONE;

	(void)ev;
	call->cdr.queue_wait_seconds =
	    (int)((cdr_now_us() - call->q.joined_us) / 1000000);
	call->campaign->stats.dirty = true;
	if (abandoned && !call->winner) {
		call->cdr.abandoned = true;
		campaigns_stats_abandoned(&call->campaign->stats, cdr_now_us());
		log_info("call=%s abandoned after %ds", call->cdr.call_id,
			 call->cdr.queue_wait_seconds);
	} else if (!abandoned) {
		stop_moh(call);
	}
	calls__write_record(call, CDR_KIND_QUEUE_ENTRY,
			    json_pack("{s:s, s:s}", "call_id",
				      call->cdr.call_id, "op", "leave"),
			    "queue entry");
}

/* Offers ------------------------------------------------------------------- */

static void remember_decline(struct call *call, int64_t agent_id)
{
	struct call_queue *q = &call->q;
	unsigned i = q->ndeclined % CALL_MAX_DECLINED;

	q->declined_ids[i] = agent_id;
	q->declined_at[i] = cdr_now_us();
	if (q->ndeclined < CALL_MAX_DECLINED)
		q->ndeclined++;
	else
		q->ndeclined = CALL_MAX_DECLINED + i + 1;
}

static unsigned declined_count(const struct call *call)
{
	return call->q.ndeclined < CALL_MAX_DECLINED ? call->q.ndeclined
						     : CALL_MAX_DECLINED;
}

/* An offer ended unanswered: the caller is not offered to that agent again
 * for a while, and waits retry_delay before the next offer. */
static void act_retry(struct call *call, const struct call_event *ev)
{
	if (!ev || !ev->leg || !ev->leg->agent || ev->leg->settled)
		return;
	remember_decline(call, ev->leg->agent->id);
	if (call->state == CALL_STATE_QUEUED && call->campaign &&
	    calls__ringing(call, ev->leg) == 0)
		call->q.next_offer_ms = calls__now_ms(call->calls) +
					call->campaign->retry_delay_s * 1000ull;
}

/* The agent who answered first gets the caller. */
static void act_win(struct call *call, const struct call_event *ev)
{
	struct campaign *c = call->campaign;
	struct agent *agent = ev->leg->agent;
	double wait_s;

	calls__act_win(call, ev);
	call->cdr.answer_us = cdr_now_us();
	wait_s = (double)(call->cdr.answer_us - call->q.joined_us) / 1e6;
	c->avg_wait_s = c->avg_wait_s * 0.8 + 0.2 * wait_s;
	campaigns_stats_answered(&c->stats, wait_s, c->service_level_s,
				 call->cdr.answer_us);
	calls__emit_answered(call, agent->id, (int)wait_s);
	log_info("call=%s answered by agent=%lld", call->cdr.call_id,
		 (long long)agent->id);
}

/* The ring latency inside the daemon: from StasisStart to the offer. */
static void log_offer(const struct call *call, const struct agent *agent,
		      const char *leg_id)
{
	log_info("call=%s offered agent=%lld leg=%s since_stasis_us=%llu",
		 call->cdr.call_id, (long long)agent->id, leg_id,
		 (unsigned long long)((uv_hrtime() - call->entered_ns) / 1000));
}

static int offer(struct call *call, struct agent *agent)
{
	struct calls *calls = call->calls;
	char id[IDS_MAX], args[CALL_MAX_ID + 32];
	struct leg *leg;

	if (!agent->sip_username || ids_new(id, sizeof(id), "agent") < 0 ||
	    !(leg = calls__leg_add(call, LEG_AGENT, id)))
		return -ENOMEM;
	leg->agent = agent;
	leg->dial_with_caller = true;
	leg->ring_s = call->campaign->ring_timeout_s;
	agents_set_call(agent, call->cdr.call_id);
	agents_input(calls->agents, agent, AGENTS_INPUT_OFFER, NULL, 0);
	calls__emit_offered(
	    call, agent->id, call->cdr.caller_number,
	    (int)((cdr_now_us() - call->q.joined_us) / 1000000));
	calls__leg_ref(leg); /* a failure to create frees it */
	/* Its arguments: the caller, and the campaign for a process that
	 * takes the call over (resync.c). */
	snprintf(args, sizeof(args), "%s,%lld", call->peer->id,
		 (long long)call->campaign->id);
	calls__leg_ring_phone(leg, agent->sip_username, "agent", args,
			      call->cdr.caller_number);
	log_offer(call, agent, leg->id);
	calls__leg_unref(leg);
	return 0;
}

/* The decision as text of form: in buf when it fits, else in *big
 * (allocated; the caller frees it). NULL when it cannot be written. */
static const char *decision_text(const struct acd_decision *d,
				 const struct acd_agent *acd, uint32_t n,
				 enum acd_decision_form form, char *buf,
				 size_t size, char **big)
{
	int len = acd_decision_format(d, acd, n, form, buf, size);

	if (len < 0)
		return NULL;
	if ((size_t)len < size)
		return buf;
	*big = malloc((size_t)len + 1);
	if (!*big ||
	    acd_decision_format(d, acd, n, form, *big, (size_t)len + 1) != len)
		return NULL;
	return *big;
}

/* The decision goes through the CDR writer: in the statement of the rest
 * of this turn (the chosen agent's ringing), and to the journal while the
 * database is away. */
static void record_decision(struct call *call, const struct acd_decision *d)
{
	struct calls *calls = call->calls;
	uint32_t n;
	const struct acd_agent *acd = agents_acd(calls->agents, &n);
	char rows_buf[4096], chosen_buf[256];
	char *rows_big = NULL, *chosen_big = NULL;
	const char *strategy = acd_strategy_name(call->campaign->acd.strategy);
	const char *rows = decision_text(d, acd, n, ACD_DECISION_JSON, rows_buf,
					 sizeof(rows_buf), &rows_big);
	const char *chosen =
	    decision_text(d, acd, n, ACD_DECISION_CHOSEN, chosen_buf,
			  sizeof(chosen_buf), &chosen_big);

	log_debug("call=%s decision strategy=%s chosen=%s candidates=%s",
		  call->cdr.call_id, strategy, chosen ? chosen : "?",
		  rows ? rows : "?");
	/* A text that could not be written (NULL) fails the pack. */
	calls__write_record(
	    call, CDR_KIND_ROUTING_DECISION,
	    json_pack("{s:s, s:I, s:s, s:s, s:s, s:I}", "call_id",
		      call->cdr.call_id, "campaign_id",
		      (json_int_t)call->campaign->id, "strategy", strategy,
		      "chosen", chosen, "candidates", rows, "at_us",
		      (json_int_t)cdr_now_us()),
	    "routing decision");
	free(rows_big);
	free(chosen_big);
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

	caller.call_id = call->cdr.call_id;
	caller.priority = call->q.priority;
	caller.joined_us = call->q.joined_us;
	caller.declined_agent_ids = call->q.declined_ids;
	caller.declined_at_us = call->q.declined_at;
	caller.ndeclined = declined_count(call);
	d.candidates = cands;
	d.max_candidates = CALLS_MAX_CANDIDATES;
	chosen = acd_choose(acd, n, &call->campaign->acd, &caller, cdr_now_us(),
			    call->campaign->retry_delay_s * 1000000ll,
			    rand_u64(), &d);
	if (chosen <= 0)
		return;
	for (int i = 0; i < chosen; i++) {
		struct agent *agent = agents_at(calls->agents, d.chosen[i]);
		acd_note_offer(&call->campaign->acd, d.chosen[i]);
		if (offer(call, agent) < 0)
			log_error("call=%s offer to agent=%lld failed",
				  call->cdr.call_id, (long long)agent->id);
	}
	/* Stored once the phones are dialed: the row does not delay them. */
	record_decision(call, &d);
}

static int cmp_waiting(const void *a, const void *b)
{
	const struct call *x = *(struct call *const *)a;
	const struct call *y = *(struct call *const *)b;
	struct acd_caller cx = {.call_id = x->cdr.call_id,
				.priority = x->q.priority,
				.joined_us = x->q.joined_us};
	struct acd_caller cy = {.call_id = y->cdr.call_id,
				.priority = y->q.priority,
				.joined_us = y->q.joined_us};

	return acd_caller_cmp(&cx, &cy);
}

static bool offerable(const struct call *call, uint64_t now)
{
	return call->state == CALL_STATE_QUEUED && !call->q.announcing &&
	       call->q.next_offer_ms <= now && calls__ringing(call, NULL) == 0;
}

void calls__dispatch(struct calls *calls)
{
	struct call *waiting[CALLS_DISPATCH_BATCH];
	uint64_t now = calls__now_ms(calls);
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	/* Offers change agents, whose callbacks dispatch again: one pass
	 * at a time is enough, since it looks at every waiting call. */
	if (!calls->agents || calls->dispatching || calls->places_pending)
		return;
	calls->dispatching = true;
	while (n < CALLS_DISPATCH_BATCH &&
	       strmap_next(calls->by_id, &cursor, &key, &value)) {
		struct call *call = value;
		if (offerable(call, now))
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

void calls_queue_numbers(struct calls *calls, int64_t campaign_id,
			 unsigned *ret_waiting, unsigned *ret_longest_s)
{
	int64_t now = cdr_now_us(), oldest = now;
	size_t cursor = 0;
	const char *key;
	void *value;
	unsigned n = 0;

	while (strmap_next(calls->by_id, &cursor, &key, &value)) {
		struct call *call = value;

		if (call->state != CALL_STATE_QUEUED || !call->campaign ||
		    call->campaign->id != campaign_id)
			continue;
		n++;
		if (call->q.joined_us && call->q.joined_us < oldest)
			oldest = call->q.joined_us;
	}
	*ret_waiting = n;
	*ret_longest_s = (unsigned)((now - oldest) / 1000000);
}

/* Announcements and timers ------------------------------------------------ */

static unsigned position_of(struct calls *calls, const struct call *call)
{
	size_t cursor = 0;
	const char *key;
	void *value;
	unsigned ahead = 0;

	while (strmap_next(calls->by_id, &cursor, &key, &value)) {
		const struct call *other = value;
		const struct call *pair[2] = {other, call};
		if (other != call && other->state == CALL_STATE_QUEUED &&
		    other->campaign == call->campaign &&
		    cmp_waiting(&pair[0], &pair[1]) < 0)
			ahead++;
	}
	return ahead + 1;
}

static void playback_done(struct call *call, const char *playback_id);

static void on_announced(const struct ari_response *resp, void *userdata)
{
	struct call *call = userdata;

	/* If the announcement cannot start, the caller goes back to music
	 * and to the dispatcher rather than waiting for a PlaybackFinished
	 * that never comes. */
	if (resp->error < 0 && resp->error != -ECANCELED) {
		log_warning("call=%s announcement failed error=%s, ignoring",
			    call->cdr.call_id, strerror(-resp->error));
		playback_done(call, call->playback_id);
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
	call->q.announcing = true;
	stop_moh(call);
	snprintf(path, sizeof(path),
		 "/channels/%s/play/%s?media=sound:queue-thereare,number:%u,"
		 "sound:queue-callswaiting,sound:queue-holdtime,number:%u,"
		 "sound:queue-minutes",
		 call->peer->id, call->playback_id, position_of(calls, call),
		 minutes ? minutes : 1);
	calls__request(call, "POST", path, NULL, on_announced);
	log_info("call=%s announced position=%u wait_min=%u", call->cdr.call_id,
		 position_of(calls, call), minutes ? minutes : 1);
	call->q.next_announce_ms =
	    calls__now_ms(calls) + call->campaign->announce_s * 1000ull;
}

static void playback_done(struct call *call, const char *playback_id)
{
	if (!playback_id || strcmp(call->playback_id, playback_id) != 0)
		return;
	if (call->state == CALL_STATE_PROMPTING) {
		calls__input(call, CALL_INPUT_PROMPT_DONE, NULL);
	} else if (call->state == CALL_STATE_QUEUED && call->q.announcing) {
		call->q.announcing = false;
		start_moh(call);
		calls__dispatch(call->calls);
	}
}

static bool due(const struct call *call, uint64_t now)
{
	const struct call_queue *q = &call->q;

	if (call->state != CALL_STATE_QUEUED)
		return false;
	return (q->max_wait_ms && q->max_wait_ms <= now) ||
	       (q->next_announce_ms && q->next_announce_ms <= now &&
		calls__ringing(call, NULL) == 0 && !q->announcing);
}

void calls__queue_sweep(struct calls *calls, uint64_t now)
{
	struct call *list[CALLS_DISPATCH_BATCH];
	size_t n = 0, cursor = 0;
	const char *key;
	void *value;

	while (n < CALLS_DISPATCH_BATCH &&
	       strmap_next(calls->by_id, &cursor, &key, &value)) {
		if (due(value, now))
			list[n++] = calls__ref(value);
	}
	for (size_t i = 0; i < n; i++) {
		struct call *call = list[i];
		if (call->q.max_wait_ms && call->q.max_wait_ms <= now) {
			log_notice("call=%s waited the campaign's maximum",
				   call->cdr.call_id);
			calls__input(call, CALL_INPUT_REFUSE, NULL);
		} else if (call->state == CALL_STATE_QUEUED) {
			announce(call);
		}
		calls__unref(call);
	}
	if (calls->places_pending && calls->places_deadline_ms <= now) {
		log_warning(
		    "places_missing=%u of adopted callers not read back "
		    "within %d ms, offering without them, ignoring",
		    calls->places_pending, CALLS_PLACES_WAIT_MS);
		calls->places_pending = 0;
	}
	calls__dispatch(calls);
}

/* The caller's call --------------------------------------------------------- */

const struct call_machine calls__inbound = {
    .direction = CALL_INBOUND,
    .enter =
	{
	    [CALL_STATE_ROUTING] = enter_routing,
	    [CALL_STATE_PROMPTING] = enter_prompting,
	    [CALL_STATE_QUEUED] = enter_queued,
	},
    .act =
	{
	    [CALL_ACT_WIN] = act_win,
	    [CALL_ACT_RETRY] = act_retry,
	    [CALL_ACT_LEAVE_QUEUE] = act_leave_queue,
	},
    .playback_done = playback_done,
};

struct call *calls__inbound_adopt_talking(struct calls *calls,
					  const struct calls_talking *t)
{
	struct call *call =
	    calls__new(calls, &calls__inbound, t->peer_id, t->caller, t->callee,
		       t->peer_id, t->start_us);

	if (!call)
		return NULL;
	if ((t->route_arg && !(call->route_arg = strdup(t->route_arg))) ||
	    calls__take_over(call, t, LEG_CALLER, false) < 0) {
		calls__discard(call);
		return NULL;
	}
	return call;
}

struct call *calls__inbound_add(struct calls *calls, const char *channel_id,
				const char *caller, const char *callee,
				const char *route_arg, int64_t start_us,
				bool adopted)
{
	struct call *call = calls__new(calls, &calls__inbound, channel_id,
				       caller, callee, channel_id, start_us);
	struct leg *leg = NULL;

	if (!call || (route_arg && !(call->route_arg = strdup(route_arg))) ||
	    !(leg = calls__leg_add(call, LEG_CALLER, channel_id)))
		goto err;
	leg->holds = true;
	leg->created = true;
	leg->in_stasis = true;
	leg->state = LEG_UP;
	call->peer = leg;
	log_info("call=%s entered caller=%s callee=%s", channel_id,
		 caller ? caller : "", callee ? callee : "");
	calls__write_cdr(call);
	if (adopted) {
		call->q.adopted = true;
		calls__place_expect(call);
	}
	calls__start(call, CALL_STATE_ROUTING);
	return call;
err:
	log_error("call=%s cannot be tracked: out of memory", channel_id);
	if (call) {
		call->state = CALL_STATE_GONE;
		strmap_remove(calls->by_id, call->cdr.call_id);
		calls__unref(call);
	}
	return NULL;
}
