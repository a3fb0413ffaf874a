/* resync.c: reconciling owned calls with Asterisk after a (re)connect. */
#include <stdlib.h>
#include <string.h>

#include "calls/outbound.h"
#include "calls/queue.h"
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

/* Legs that left our application while we were not listening. Legs not
 * yet in Stasis are not in its list: their creation or StasisStart says
 * how they are. */
static void end_missing(struct calls *calls, const json_t *channel_ids)
{
	size_t n = strmap_count(calls->by_channel), k = 0, cursor = 0;
	struct leg **gone = calloc(n ? n : 1, sizeof(*gone));
	const char *key;
	void *value;

	if (!gone)
		return;
	while (strmap_next(calls->by_channel, &cursor, &key, &value)) {
		struct leg *leg = value;

		if (leg->in_stasis && !array_has(channel_ids, key)) {
			calls__leg_ref(leg);
			gone[k++] = leg;
		}
	}
	for (size_t i = 0; i < k; i++) {
		log_notice("call=%s channel=%s ended while ARI was away",
			   gone[i]->call->cdr.call_id, gone[i]->id);
		calls__leg_left(gone[i], 0);
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

/* A call adopted from an earlier process lost its agent and supervisor
 * legs with it (they are hung up as orphans): the supervisions its record
 * holds end now. */
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
	    stasis_campaign(dialplan, campaign, sizeof(campaign)), start_us);
	if (call) {
		call->q.adopted = true;
		end_supervisions(calls, id);
	}
}

/*
 * An outbound call of an earlier process: its legs are hung up as orphans,
 * and its record, which that process never finished, is closed here (the
 * revision of now outranks any snapshot the earlier process took).
 */
static void close_orphan_outbound(struct calls *calls, const char *id)
{
	static const char sql[] =
	    "UPDATE calls SET end_time = greatest(now(), start_time),"
	    " duration = greatest(0, extract(epoch FROM now() - start_time))"
	    "::int,"
	    " billsec = CASE WHEN answer_time IS NULL THEN 0 ELSE greatest(0,"
	    " extract(epoch FROM now() - answer_time))::int END,"
	    " disposition = CASE WHEN answer_time IS NULL THEN 'FAILED'"
	    " ELSE 'ANSWERED' END, hangup_by = 'system',"
	    " revision = greatest(revision + 1,"
	    " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)"
	    " WHERE call_id = $1 AND end_time IS NULL";
	const char *params[1] = {id};

	log_notice("outbound call=%s of an earlier process: record closed", id);
	calls__db_write(calls, sql, 1, params);
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

/* Calls an earlier process left talking keep talking: taken over as they
 * are, before the legs no call owns go as orphans. */
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
		call = outbound ? calls__outbound_adopt_talking(calls, &t)
				: calls__inbound_adopt_talking(calls, &t);
		if (call)
			end_supervisions(calls, call->cdr.call_id);
	}
}

/* Channels in our application that we do not know: calls that entered
 * while another process (or an earlier run of this one) owned them. */
static void adopt_unknown(struct calls *calls, const json_t *channel_ids,
			  const json_t *channels)
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
			if (ids_is_ours(id, "out"))
				close_orphan_outbound(calls, id);
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
		  const json_t *channels, const json_t *bridges)
{
	/* Without the application's list we cannot tell who left. */
	if (json_is_array(channel_ids)) {
		end_missing(calls, channel_ids);
		adopt_talking(calls, channel_ids, channels, bridges);
		adopt_unknown(calls, channel_ids, channels);
	}
	destroy_orphan_bridges(calls, bridges);
}
