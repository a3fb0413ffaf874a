/* resync.c: reconciling owned calls with Asterisk after a (re)connect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "calls/outbound.h"
#include "calls/queue.h"
#include "calls/supervise.h"
#include "util/log.h"

static bool array_has(const json_t *ids, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return true;
	}
	return false;
}

/* The legs whose channel is (in_list) or is not in our application's
 * list, each referenced, in a new array of *ret_n; NULL when out of
 * memory. Collected first: what a leg does may add or drop others. */
static struct leg **collect(struct calls *calls, const json_t *channel_ids,
			    bool in_list, size_t *ret_n)
{
	size_t n = strmap_count(calls->by_channel), k = 0, cursor = 0;
	struct leg **legs = calloc(n ? n : 1, sizeof(*legs));
	const char *key;
	void *value;

	if (!legs)
		return NULL;
	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		if (array_has(channel_ids, key) == in_list) {
			legs[k] = value;
			calls__leg_ref(legs[k++]);
		}
	}
	*ret_n = k;
	return legs;
}

/* Legs that left our application while we were not listening (with
 * Asterisk itself when it restarted). Legs not yet in Stasis are not in
 * its list: their creation or StasisStart says how they are. */
static void end_missing(struct calls *calls, const json_t *channel_ids,
			bool restarted)
{
	size_t k = 0;
	struct leg **gone = collect(calls, channel_ids, false, &k);

	for (size_t i = 0; gone && i < k; i++) {
		if (gone[i]->in_stasis) {
			log_notice(
			    "call=%s channel=%s ended while ARI was away",
			    gone[i]->call->cdr.call_id, gone[i]->id);
			if (restarted)
				calls__lost(gone[i]->call, "asterisk_restart");
			calls__leg_left(gone[i], 0);
		}
		calls__leg_unref(gone[i]);
	}
	free(gone);
}

static const json_t *find_channel(const json_t *channels, const char *id)
{
	size_t i;
	json_t *ch;

	json_array_foreach(channels, i, ch)
	{
		const char *cid = json_string_value(json_object_get(ch, "id"));
		if (cid && strcmp(cid, id) == 0)
			return ch;
	}
	return NULL;
}

static bool is_state(const json_t *ch, const char *state)
{
	const char *s = json_string_value(json_object_get(ch, "state"));

	return s && strcmp(s, state) == 0;
}

/* A leg whose dial's answer was lost, still there and not answered: its
 * phone rings (the dial went out; Dial events follow as usual), or it is
 * down, which it also is between a dial and the phone's first answer: the
 * offer is withdrawn, as a cancel that is not held against the agent,
 * rather than left to wait on a dial that may never have gone out. */
static void settle_unsure_dial(struct leg *leg, const json_t *ch)
{
	const char *state = json_string_value(json_object_get(ch, "state"));

	leg->dial_unsure = false;
	if (is_state(ch, "Ringing"))
		return;
	log_notice("call=%s leg=%s not known to have been dialed (%s): offer "
		   "withdrawn",
		   leg->call->cdr.call_id, leg->id, state ? state : "?");
	calls__leg_dial(leg, "CANCEL");
}

/* What a leg of ours still in our application did while we were not
 * listening: it entered Stasis, or its phone answered. */
static void catch_up_leg(struct leg *leg, const json_t *ch)
{
	if (leg->created && !leg->in_stasis) {
		log_notice("call=%s leg=%s entered Stasis while ARI was away",
			   leg->call->cdr.call_id, leg->id);
		calls__leg_in_stasis(leg);
	}
	if (leg->state != LEG_DIALING || leg->settled)
		return;
	if (is_state(ch, "Up")) {
		log_notice("call=%s leg=%s answered while ARI was away",
			   leg->call->cdr.call_id, leg->id);
		leg->dial_unsure = false;
		calls__leg_dial(leg, "ANSWER");
	} else if (leg->dial_unsure) {
		settle_unsure_dial(leg, ch);
	}
}

static void catch_up(struct calls *calls, const json_t *channel_ids,
		     const json_t *channels)
{
	size_t k = 0;
	struct leg **legs = collect(calls, channel_ids, true, &k);

	for (size_t i = 0; legs && i < k; i++) {
		if (legs[i]->role != LEG_CALLER)
			catch_up_leg(legs[i],
				     find_channel(channels, legs[i]->id));
		calls__leg_unref(legs[i]);
	}
	free(legs);
}

/* The campaign named in Stasis(app,inbound,campaign), read back from the
 * dialplan application data ("app,inbound,campaign") into buf. */
static const char *stasis_campaign(const json_t *dialplan, char *buf,
				   size_t size)
{
	const char *data =
	    json_string_value(json_object_get(dialplan, "app_data"));
	const char *second, *third;

	if (!data || !(second = strchr(data, ',')) ||
	    strncmp(second + 1, "inbound,", 8) != 0)
		return NULL;
	third = second + 9;
	snprintf(buf, size, "%.*s", (int)strcspn(third, ","), third);
	return *buf ? buf : NULL;
}

/* A call adopted from an earlier process whose supervisions were not
 * taken over (their legs are hung up as orphans): the supervisions its
 * record holds end now. */
static void end_supervisions(struct calls *calls, const char *id)
{
	static const char sql[] =
	    "UPDATE calls SET supervisions = (SELECT jsonb_agg(CASE WHEN s ?"
	    " 'ended_at' THEN s ELSE s || jsonb_build_object('ended_at',"
	    " now()) END) FROM jsonb_array_elements(supervisions) s)"
	    " WHERE call_id = $1 AND supervisions <> '[]'";
	const char *params[1] = {id};

	calls__db_write(calls, sql, 1, params);
}

static void adopt(struct calls *calls, const char *id, const json_t *ch)
{
	const json_t *caller = json_object_get(ch, "caller");
	const json_t *dialplan = json_object_get(ch, "dialplan");
	struct call *call;
	int64_t start_us = 0;
	char campaign[128];

	ari_event_timestamp_parse(
	    json_string_value(json_object_get(ch, "creationtime")), &start_us);
	call = calls__inbound_add(
	    calls, id, json_string_value(json_object_get(caller, "number")),
	    json_string_value(json_object_get(dialplan, "exten")),
	    stasis_campaign(dialplan, campaign, sizeof(campaign)), start_us,
	    true);
	if (call)
		end_supervisions(calls, id);
}

/* The agent whose phone a channel rings: "PJSIP/<username>-<seq>". */
static struct agent *agent_of_channel(struct calls *calls, const json_t *ch)
{
	const char *name = json_string_value(json_object_get(ch, "name"));
	const char *dash;
	char user[128];

	if (!calls->agents || !name || strncmp(name, "PJSIP/", 6) != 0 ||
	    !(dash = strrchr(name + 6, '-')) ||
	    (size_t)(dash - name - 6) >= sizeof(user))
		return NULL;
	snprintf(user, sizeof(user), "%.*s", (int)(dash - name - 6), name + 6);
	return agents_by_sip(calls->agents, user);
}

/* The campaign named last in a leg's Stasis arguments: "agent,<caller>,
 * <campaign id>" or "outbound,<campaign id>" (queue.c, outbound.c). */
static struct campaign *leg_campaign(struct calls *calls, const json_t *ch)
{
	const json_t *dialplan = json_object_get(ch, "dialplan");
	const char *data =
	    json_string_value(json_object_get(dialplan, "app_data"));
	const char *last = data ? strrchr(data, ',') : NULL;
	char *end;
	long long id;

	if (!last || !calls->campaigns)
		return NULL;
	id = strtoll(last + 1, &end, 10);
	return *end || id <= 0 ? NULL : campaigns_by_id(calls->campaigns, id);
}

/* The call an outbound leg of ours belongs to: the agent's leg id is the
 * call id; a customer's leg names it in its Stasis arguments
 * ("app,customer,<call id>", outbound.c). Into buf; NULL when neither. */
static const char *outbound_call_of(const char *id, const json_t *ch, char *buf,
				    size_t size)
{
	const json_t *dialplan = json_object_get(ch, "dialplan");
	const char *data =
	    json_string_value(json_object_get(dialplan, "app_data"));
	const char *args = data ? strchr(data, ',') : NULL;

	if (ids_is_ours(id, "out"))
		return id;
	if (!ids_is_ours(id, "cust") || !args ||
	    strncmp(args + 1, "customer,", 9) != 0 ||
	    !ids_is_ours(args + 10, "out") || strlen(args + 10) >= size)
		return NULL;
	snprintf(buf, size, "%s", args + 10);
	return buf;
}

/* True when a customer's leg of call_id is up in Asterisk: the customer
 * answered. */
static bool outbound_answered(const json_t *channels, const char *call_id)
{
	size_t i;
	json_t *ch;

	json_array_foreach(channels, i, ch)
	{
		const char *id = json_string_value(json_object_get(ch, "id"));
		const char *state =
		    json_string_value(json_object_get(ch, "state"));
		char buf[CALL_MAX_ID];
		const char *of =
		    id ? outbound_call_of(id, ch, buf, sizeof(buf)) : NULL;

		if (of && ids_is_ours(id, "cust") && !strcmp(of, call_id) &&
		    state && !strcmp(state, "Up"))
			return true;
	}
	return false;
}

/* A snapshot of the record of an outbound call that ends now, as its
 * agent's leg ch (or a customer's leg) shows it: what a leg does not tell
 * stays unset. NULL when out of memory. */
static json_t *orphan_outbound_snapshot(struct calls *calls,
					const char *call_id, const char *id,
					const json_t *ch, bool answered)
{
	bool agent_leg = strcmp(id, call_id) == 0;
	const json_t *caller = json_object_get(ch, "caller");
	struct agent *agent = agent_leg ? agent_of_channel(calls, ch) : NULL;
	struct campaign *campaign = agent_leg ? leg_campaign(calls, ch) : NULL;
	int64_t now = cdr_now_us(), start_us = 0;
	json_t *snapshot = NULL;
	struct cdr c;

	if (ari_event_timestamp_parse(
		json_string_value(json_object_get(ch, "creationtime")),
		&start_us) < 0 ||
	    start_us <= 0 || start_us > now)
		start_us = now;
	if (cdr_init_inbound(
		&c, call_id, NULL,
		agent_leg ? json_string_value(json_object_get(caller, "number"))
			  : NULL,
		agent_leg ? NULL : id, start_us) < 0)
		return NULL;
	c.direction = "outbound";
	c.agent_channel_id = agent_leg ? strdup(id) : NULL;
	c.agent_id = agent ? agent->id : 0;
	c.campaign_id = campaign ? campaign->id : 0;
	c.end_us = now;
	c.hangup_by = "system";
	c.disposition = answered ? "ANSWERED" : "FAILED";
	if (!agent_leg || c.agent_channel_id)
		snapshot = cdr_snapshot(&c);
	cdr_clear(&c);
	return snapshot;
}

static const json_t *bridge_holding(const json_t *bridges, const char *id)
{
	size_t i;
	json_t *b;

	json_array_foreach(bridges, i, b)
	{
		if (array_has(json_object_get(b, "channels"), id))
			return b;
	}
	return NULL;
}

/* True when the call was answered: a customer's leg of it is up, or its
 * agent's leg is in a bridge of ours, which an outbound call has only once
 * the customer answered (the customer may have hung up since). */
static bool orphan_answered(const json_t *channels, const json_t *bridges,
			    const char *call_id)
{
	const json_t *b = bridge_holding(bridges, call_id);
	const char *bid = json_string_value(json_object_get(b, "id"));

	return outbound_answered(channels, call_id) ||
	       (bid && ids_is_ours(bid, "br"));
}

/*
 * An outbound call of an earlier process whose legs go as orphans: its
 * record ends here, through the CDR writer like every record, so that it
 * waits out a database outage and exists even when the earlier process
 * died before its first snapshot was stored. The snapshot of now outranks
 * every one the earlier process took; what it does not know (the answer
 * time, the lead) the stored row keeps. Closed once by this process: a
 * resync that sees the leg again (its hangup still on the way) leaves the
 * record as it is.
 */
static void close_orphan_outbound(struct calls *calls, const char *id,
				  const json_t *channels, const json_t *bridges)
{
	const json_t *ch = find_channel(channels, id);
	char buf[CALL_MAX_ID];
	const char *call_id = outbound_call_of(id, ch, buf, sizeof(buf));
	json_t *snapshot;

	/* From its agent's leg while Asterisk still lists that, else from a
	 * customer's leg. */
	if (!ch || !call_id || !calls->cdr ||
	    (strcmp(call_id, id) != 0 && find_channel(channels, call_id)) ||
	    strmap_get(calls->orphans_closed, call_id))
		return;
	snapshot = orphan_outbound_snapshot(
	    calls, call_id, id, ch,
	    orphan_answered(channels, bridges, call_id));
	if (!snapshot ||
	    strmap_put(calls->orphans_closed, call_id, calls) == -ENOMEM) {
		json_decref(snapshot);
		log_error("outbound call=%s of an earlier process: record not "
			  "closed, out of memory",
			  call_id);
		return;
	}
	log_notice("outbound call=%s of an earlier process: record closed",
		   call_id);
	cdr_writer_submit(calls->cdr, snapshot);
}

/* The call a bridge of ours still holds: an agent's leg of ours (of an
 * inbound offer or an outbound call) with the caller's or the customer's
 * channel, both in our application and unknown to us. Fills t (and
 * ret_outbound) and returns true. */
static bool bridge_talk(struct calls *calls, const json_t *b,
			const json_t *channel_ids, const json_t *channels,
			struct calls_talking *t, bool *ret_outbound)
{
	const json_t *members = json_object_get(b, "channels");
	const json_t *agent_ch = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(members, i, v)
	{
		const char *id = json_string_value(v);
		const json_t *ch = id ? find_channel(channels, id) : NULL;

		if (!ch || !array_has(channel_ids, id) ||
		    calls__leg_find(calls, id))
			continue;
		if (ids_is_ours(id, "agent") || ids_is_ours(id, "out")) {
			t->agent_leg_id = id;
			agent_ch = ch;
			*ret_outbound = ids_is_ours(id, "out");
		} else if (!ids_is_ours(id, NULL) || ids_is_ours(id, "cust")) {
			t->peer_id = id;
		}
	}
	if (!agent_ch || !t->peer_id ||
	    *ret_outbound != ids_is_ours(t->peer_id, "cust"))
		return false;
	t->agent = agent_of_channel(calls, agent_ch);
	t->campaign = leg_campaign(calls, agent_ch);
	return t->agent && !t->agent->call_id;
}

/* What the peer's channel says of the call: the caller's numbers and the
 * campaign named in Stasis(), when it began. */
static void describe(struct calls_talking *t, const json_t *ch, bool outbound,
		     char *campaign, size_t size)
{
	const json_t *caller = json_object_get(ch, "caller");
	const json_t *dialplan = json_object_get(ch, "dialplan");

	/* A customer's channel shows the campaign's caller id, not the
	 * number dialed: the record keeps that one. */
	t->caller = json_string_value(json_object_get(caller, "number"));
	t->callee = outbound
			? NULL
			: json_string_value(json_object_get(dialplan, "exten"));
	t->route_arg =
	    outbound ? NULL : stasis_campaign(dialplan, campaign, size);
	ari_event_timestamp_parse(
	    json_string_value(json_object_get(ch, "creationtime")),
	    &t->start_us);
}

/* What a channel of ours was made for: its Stasis arguments after
 * "<app>,<kind>," (supervise.c gives "supervisor,<call id>" to a
 * supervisor's phone, "snoop,<call id>,<mode>" to a snoop; call.c
 * "record,<call id>" to a recorder), or NULL. */
static const char *side_args(const json_t *ch, const char *kind)
{
	const json_t *dialplan = json_object_get(ch, "dialplan");
	const char *data =
	    json_string_value(json_object_get(dialplan, "app_data"));
	const char *args = data ? strchr(data, ',') : NULL;
	size_t n = strlen(kind);

	if (!args || strncmp(args + 1, kind, n) != 0 || args[1 + n] != ',')
		return NULL;
	return args + 2 + n;
}

/* The recorder an earlier process left on the call's peer: an unknown
 * channel of ours in our application, a snoop on the peer's channel made
 * to record call_id ("record,<call id>", call.c), or NULL. */
static const char *recorder_of(struct calls *calls, const char *call_id,
			       const char *peer_id, const json_t *channel_ids,
			       const json_t *channels)
{
	char prefix[CALL_MAX_ID + 16];
	size_t i;
	json_t *ch;

	snprintf(prefix, sizeof(prefix), "Snoop/%s-", peer_id);
	json_array_foreach(channels, i, ch)
	{
		const char *id = json_string_value(json_object_get(ch, "id"));
		const char *name =
		    json_string_value(json_object_get(ch, "name"));
		const char *args = side_args(ch, "record");

		if (id && ids_is_ours(id, "rec") && args &&
		    strcmp(args, call_id) == 0 && name &&
		    strncmp(name, prefix, strlen(prefix)) == 0 &&
		    array_has(channel_ids, id) && !calls__leg_find(calls, id))
			return id;
	}
	return NULL;
}

/* Talking calls record on: one whose recorder's creation or record
 * request had its answer lost with the events socket is asked again, or
 * takes over the recorder Asterisk made for it all the same, before the
 * channels no call owns go as orphans. */
static void resume_recordings(struct calls *calls, const json_t *channel_ids,
			      const json_t *channels)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->by_id, &cursor, &key, &value)) {
		struct call *call = value;
		const struct leg *rec;

		if (call->state != CALL_STATE_TALKING || !call->peer)
			continue;
		rec = calls__recorder(call);
		if (rec && rec->recording)
			continue;
		calls__record_resume(call,
				     rec ? NULL
					 : recorder_of(calls, call->cdr.call_id,
						       call->peer->id,
						       channel_ids, channels));
	}
}

/* The snoop on the call's agent leg that listens or whispers with the
 * supervisor's phone in their bridge b, with the mode it was made for:
 * an unknown channel of ours in our application. */
static const char *sup_snoop(struct calls *calls, const struct call *call,
			     const json_t *b, const char *phone_id,
			     const json_t *channel_ids, const json_t *channels,
			     enum calls_supervise_mode *ret_mode)
{
	const json_t *members = json_object_get(b, "channels");
	const char *id = json_string_value(json_array_get(members, 0));
	const json_t *ch;
	const char *args, *name;
	size_t n = strlen(call->cdr.call_id);
	char prefix[CALL_MAX_ID + 16];

	if (id && strcmp(id, phone_id) == 0)
		id = json_string_value(json_array_get(members, 1));
	if (json_array_size(members) != 2 || !id || !ids_is_ours(id, "snoop") ||
	    !array_has(channel_ids, id) || calls__leg_find(calls, id) ||
	    !(ch = find_channel(channels, id)) ||
	    !(args = side_args(ch, "snoop")) ||
	    strncmp(args, call->cdr.call_id, n) != 0 || args[n] != ',')
		return NULL;
	snprintf(prefix, sizeof(prefix), "Snoop/%s-", call->winner->id);
	name = json_string_value(json_object_get(ch, "name"));
	if (!name || strncmp(name, prefix, strlen(prefix)) != 0)
		return NULL;
	for (int m = 0; m < CALLS_SUPERVISE__COUNT; m++) {
		if (m != CALLS_SUPERVISE_BARGE &&
		    strcmp(args + n + 1, calls_supervise_mode_name(m)) == 0) {
			*ret_mode = (enum calls_supervise_mode)m;
			return id;
		}
	}
	return NULL;
}

/* The parts of the supervision whose phone is ch, complete: the phone
 * answered and barging in the call's bridge, or in a bridge of ours with
 * its snoop. Fills s and returns true. */
static bool sup_parts(struct calls *calls, const struct call *call,
		      const json_t *ch, const json_t *channel_ids,
		      const json_t *channels, const json_t *bridges,
		      struct calls_supervising *s)
{
	const json_t *b = bridge_holding(bridges, s->phone_id);
	const char *bid = json_string_value(json_object_get(b, "id"));

	s->agent = agent_of_channel(calls, ch);
	if (!s->agent || !is_state(ch, "Up") || !bid)
		return false;
	if (strcmp(bid, call->bridge_id) == 0) {
		s->mode = CALLS_SUPERVISE_BARGE;
		return true;
	}
	s->bridge_id = bid;
	s->snoop_id = ids_is_ours(bid, "br")
			  ? sup_snoop(calls, call, b, s->phone_id, channel_ids,
				      channels, &s->mode)
			  : NULL;
	return s->snoop_id != NULL;
}

/* The supervisions of a call just adopted talking go on where their parts
 * are whole; the parts of the others are orphans, and the record's entries
 * of those end. */
static void adopt_supervisions(struct calls *calls, struct call *call,
			       const json_t *channel_ids,
			       const json_t *channels, const json_t *bridges)
{
	unsigned adopted = 0;
	size_t i;
	json_t *ch;

	json_array_foreach(channels, i, ch)
	{
		const char *id = json_string_value(json_object_get(ch, "id"));
		const char *args = side_args(ch, "supervisor");
		struct calls_supervising s = {.phone_id = id};

		if (!id || !ids_is_ours(id, "sup") || !args ||
		    strcmp(args, call->cdr.call_id) != 0 ||
		    !array_has(channel_ids, id) || calls__leg_find(calls, id))
			continue;
		if (!sup_parts(calls, call, ch, channel_ids, channels, bridges,
			       &s)) {
			log_notice("call=%s supervisor leg=%s incomplete, not "
				   "adopted",
				   call->cdr.call_id, id);
			continue;
		}
		if (calls__supervise_adopt(call, &s) == 0)
			adopted++;
	}
	if (adopted)
		calls__supervise_load_record(call);
	else
		end_supervisions(calls, call->cdr.call_id);
}

/* Calls an earlier process left talking keep talking: taken over as they
 * are, with their supervisions, before the legs no call owns go as
 * orphans. */
static void adopt_talking(struct calls *calls, const json_t *channel_ids,
			  const json_t *channels, const json_t *bridges)
{
	size_t i;
	json_t *b;

	json_array_foreach(bridges, i, b)
	{
		const char *id = json_string_value(json_object_get(b, "id"));
		struct calls_talking t = {0};
		bool outbound = false;
		char campaign[128];
		struct call *call;

		if (!id || !ids_is_ours(id, "br") ||
		    !bridge_talk(calls, b, channel_ids, channels, &t,
				 &outbound))
			continue;
		t.bridge_id = id;
		describe(&t, find_channel(channels, t.peer_id), outbound,
			 campaign, sizeof(campaign));
		/* The call's id: the caller's channel, or the agent's leg. */
		t.recorder_id =
		    recorder_of(calls, outbound ? t.agent_leg_id : t.peer_id,
				t.peer_id, channel_ids, channels);
		call = outbound ? calls__outbound_adopt_talking(calls, &t)
				: calls__inbound_adopt_talking(calls, &t);
		if (call)
			adopt_supervisions(calls, call, channel_ids, channels,
					   bridges);
	}
}

/* Channels in our application that we do not know: calls that entered
 * while another process (or an earlier run of this one) owned them. */
static void adopt_unknown(struct calls *calls, const json_t *channel_ids,
			  const json_t *channels, const json_t *bridges)
{
	size_t i;
	json_t *v;

	json_array_foreach(channel_ids, i, v)
	{
		const char *id = json_string_value(v);
		const json_t *ch;

		if (!id || calls__leg_find(calls, id))
			continue;
		if (ids_is_ours(id, NULL)) {
			/* An agent leg of an earlier process: its call is
			 * being re-queued, so the leg goes. */
			log_notice("leg=%s orphaned, hanging up", id);
			calls__delete_orphan(calls, "channels", id);
			close_orphan_outbound(calls, id, channels, bridges);
			continue;
		}
		ch = find_channel(channels, id);
		log_notice("call=%s adopted after resync", id);
		adopt(calls, id, ch);
	}
}

static bool bridge_owned(struct calls *calls, const char *id)
{
	size_t cursor = 0;
	const char *key;
	void *value;

	while (strmap_next(calls->by_id, &cursor, &key, &value)) {
		const struct call *call = value;
		if (strcmp(call->bridge_id, id) == 0)
			return true;
		for (unsigned i = 0; i < call->nsups; i++)
			if (strcmp(call->sups[i].bridge_id, id) == 0)
				return true;
	}
	return false;
}

/* Bridges we created and no call owns any more. */
static void destroy_orphan_bridges(struct calls *calls, const json_t *bridges)
{
	size_t i;
	json_t *b;

	json_array_foreach(bridges, i, b)
	{
		const char *id = json_string_value(json_object_get(b, "id"));

		if (!id || !ids_is_ours(id, NULL) || bridge_owned(calls, id))
			continue;
		log_notice("bridge=%s orphaned, destroying", id);
		calls__delete_orphan(calls, "bridges", id);
	}
}

void calls_resync(struct calls *calls, const json_t *channel_ids,
		  const json_t *channels, const json_t *bridges, bool restarted)
{
	/* Without the application's list we cannot tell who left. */
	if (json_is_array(channel_ids)) {
		end_missing(calls, channel_ids, restarted);
		catch_up(calls, channel_ids, channels);
		resume_recordings(calls, channel_ids, channels);
		adopt_talking(calls, channel_ids, channels, bridges);
		adopt_unknown(calls, channel_ids, channels, bridges);
	}
	destroy_orphan_bridges(calls, bridges);
}
