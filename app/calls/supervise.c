/* supervise.c: supervisors on a call. A supervisor's phone is rung as a
 * side leg of the call; once answered it joins the call's audio by mode:
 * listen and whisper through a snoop on the agent's leg (spy both ways;
 * whisper also speaks into what the agent hears) in a bridge of the
 * supervisor's own, barge in the call's bridge. A mode change sets up the
 * new mode without ringing; the phone's addChannel takes it out of the
 * bridge it was in, and that bridge, if it was its own, goes after. Never
 * the other way round: a bridge deleted under the phone dissolves in
 * Asterisk's threads after the reply, and an addChannel meeting that is
 * lost (answered 204, the phone left in no bridge). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/supervise.h"
#include "db/pool.h"
#include "util/log.h"

/* Seconds the supervisor's phone rings. */
#define SUP_RING_S 30

static const char *const mode_names[CALLS_SUPERVISE__COUNT] = {
    [CALLS_SUPERVISE_LISTEN] = "listen",
    [CALLS_SUPERVISE_WHISPER] = "whisper",
    [CALLS_SUPERVISE_BARGE] = "barge",
};

const char *calls_supervise_mode_name(enum calls_supervise_mode mode)
{
	return (unsigned)mode < CALLS_SUPERVISE__COUNT ? mode_names[mode]
						       : NULL;
}

static struct supervision *by_agent(struct call *call, int64_t agent_id)
{
	for (unsigned i = 0; i < call->nsups; i++)
		if (call->sups[i].agent->id == agent_id)
			return &call->sups[i];
	return NULL;
}

static struct supervision *by_leg(struct call *call, const char *leg_id)
{
	for (unsigned i = 0; i < call->nsups; i++)
		if (strcmp(call->sups[i].phone_id, leg_id) == 0 ||
		    strcmp(call->sups[i].snoop_id, leg_id) == 0)
			return &call->sups[i];
	return NULL;
}

static struct leg *leg_of(struct call *call, const char *id)
{
	struct leg *leg = *id ? calls__leg_find(call->calls, id) : NULL;

	return leg && leg->call == call ? leg : NULL;
}

static void emit(struct call *call, const struct supervision *sup,
		 const char *type)
{
	calls__emit(call, type, sup->agent->id,
		    json_pack("{s:s, s:I, s:s}", "call_id", call->cdr.call_id,
			      "supervisor_agent_id", (json_int_t)sup->agent->id,
			      "mode", mode_names[sup->mode]));
}

/* A request on behalf of one supervision: its reply is for the mode that
 * was being applied, and is dropped when another took its place. */
struct sup_req {
	struct call *call; /* a reference */
	int64_t agent_id;
	unsigned generation;
	void (*next)(struct call *call, struct supervision *sup, int error);
};

static void on_sup_reply(const struct ari_response *resp, void *userdata)
{
	struct sup_req *r = userdata;
	struct supervision *sup = by_agent(r->call, r->agent_id);

	if (resp->error != -ECANCELED && sup &&
	    sup->generation == r->generation && r->next)
		r->next(r->call, sup, resp->error);
	calls__unref(r->call);
	free(r);
}

static void sup_request(struct call *call, struct supervision *sup,
			const char *method, const char *path,
			void (*next)(struct call *, struct supervision *, int))
{
	struct sup_req *r = malloc(sizeof(*r));

	if (!r) {
		log_error("call=%s supervisor=%lld %s %s: out of memory",
			  call->cdr.call_id, (long long)sup->agent->id, method,
			  path);
		return;
	}
	*r = (struct sup_req){calls__ref(call), sup->agent->id, sup->generation,
			      next};
	if (ari_rest_request(call->calls->rest, method, path, NULL,
			     on_sup_reply, r) < 0) {
		calls__unref(call);
		free(r);
		log_warning("call=%s supervisor=%lld %s %s not sent",
			    call->cdr.call_id, (long long)sup->agent->id,
			    method, path);
	}
}

/* Setting up ----------------------------------------------------------- */

static void drop_bridge(struct call *call, char *bridge_id)
{
	char path[256];

	if (!bridge_id[0])
		return;
	snprintf(path, sizeof(path), "/bridges/%s", bridge_id);
	calls__request(call, "DELETE", path, NULL, NULL);
	bridge_id[0] = '\0';
}

static void joined(struct call *call, struct supervision *sup, int error)
{
	drop_bridge(call, sup->old_bridge_id);
	if (error < 0) {
		log_warning("call=%s supervisor=%lld not joined error=%s",
			    call->cdr.call_id, (long long)sup->agent->id,
			    strerror(-error));
		return;
	}
	sup->state = SUP_ACTIVE;
	log_notice("call=%s supervisor=%lld %s", call->cdr.call_id,
		   (long long)sup->agent->id, mode_names[sup->mode]);
	emit(call, sup, "call.supervised");
}

/* The snoop and the phone meet once both are in Stasis and the bridge
 * exists (addChannel answers 422 for a channel not yet in Stasis). */
static void try_join(struct call *call, struct supervision *sup)
{
	struct leg *snoop = leg_of(call, sup->snoop_id);
	struct leg *phone = leg_of(call, sup->phone_id);
	char path[512];

	if (sup->state != SUP_JOINING || !sup->bridge_id[0] || !snoop ||
	    !snoop->created || !snoop->in_stasis || !phone)
		return;
	sup->state = SUP_ACTIVE; /* sent once; joined() tells how it went */
	snprintf(path, sizeof(path), "/bridges/%s/addChannel?channel=%s,%s",
		 sup->bridge_id, snoop->id, phone->id);
	sup_request(call, sup, "POST", path, joined);
}

static void bridge_made(struct call *call, struct supervision *sup, int error)
{
	if (error < 0) {
		log_warning("call=%s supervisor=%lld bridge not made error=%s",
			    call->cdr.call_id, (long long)sup->agent->id,
			    strerror(-error));
		sup->bridge_id[0] = '\0';
		return;
	}
	try_join(call, sup);
}

/* The snoop's creation answered: whatever the supervision does now, the
 * leg learns it (one hung up meanwhile is hung up now). */
static void on_snoop(const struct ari_response *resp, void *userdata)
{
	struct leg *snoop = userdata;
	struct call *call = snoop->call;
	struct supervision *sup;

	if (resp->error == -ECANCELED) {
		calls__leg_unref(snoop);
		return;
	}
	if (resp->error < 0) {
		log_warning("call=%s snoop=%s not made error=%s",
			    call->cdr.call_id, snoop->id,
			    strerror(-resp->error));
		calls__leg_left(snoop, 0);
	} else {
		calls__leg_created(snoop);
		sup = by_leg(call, snoop->id);
		if (sup)
			try_join(call, sup);
	}
	calls__leg_unref(snoop);
}

/* Listen or whisper: a snoop on the agent's leg and a bridge of the
 * supervisor's. The snoop's arguments ("snoop,<call id>,<mode>") tell a
 * later process what it is for (resync.c). */
static void set_up_snoop(struct call *call, struct supervision *sup)
{
	struct leg *agent = call->winner, *snoop;
	char id[IDS_MAX], path[512];

	if (!agent || ids_new(id, sizeof(id), "snoop") < 0 ||
	    ids_new(sup->bridge_id, sizeof(sup->bridge_id), "br") < 0 ||
	    !(snoop = calls__leg_add(call, LEG_SNOOP, id))) {
		log_warning("call=%s supervisor=%lld cannot snoop",
			    call->cdr.call_id, (long long)sup->agent->id);
		sup->bridge_id[0] = '\0';
		return;
	}
	snoop->state = LEG_UP; /* never dialed */
	snoop->settled = true;
	snprintf(sup->snoop_id, sizeof(sup->snoop_id), "%s", id);
	snprintf(path, sizeof(path), "/bridges/%s?type=mixing&name=sup-%s",
		 sup->bridge_id, call->cdr.call_id);
	sup_request(call, sup, "POST", path, bridge_made);
	snprintf(
	    path, sizeof(path),
	    "/channels/%s/snoop?spy=both&whisper=%s&app=%s"
	    "&appArgs=snoop,%s,%s&snoopId=%s",
	    agent->id, sup->mode == CALLS_SUPERVISE_WHISPER ? "out" : "none",
	    call->calls->app, call->cdr.call_id, mode_names[sup->mode], id);
	calls__leg_ref(snoop);
	if (ari_rest_request(call->calls->rest, "POST", path, NULL, on_snoop,
			     snoop) < 0) {
		calls__leg_unref(snoop);
		calls__leg_left(snoop, 0);
	}
}

static void set_up(struct call *call, struct supervision *sup)
{
	struct leg *phone = leg_of(call, sup->phone_id);
	char path[512];

	sup->state = SUP_JOINING;
	if (sup->mode != CALLS_SUPERVISE_BARGE) {
		set_up_snoop(call, sup);
		return;
	}
	if (!phone || !call->bridge_id[0])
		return;
	sup->in_call_bridge = true;
	snprintf(path, sizeof(path), "/bridges/%s/addChannel?channel=%s",
		 call->bridge_id, phone->id);
	sup_request(call, sup, "POST", path, joined);
}

/* Tearing down --------------------------------------------------------- */

static void hang_up_snoop(struct call *call, struct supervision *sup)
{
	struct leg *snoop = leg_of(call, sup->snoop_id);

	if (snoop)
		calls__leg_hang_up(snoop); /* once created, if it is not yet */
	sup->snoop_id[0] = '\0';
}

/* The old mode's snoop goes at once; its bridge once the phone joined the
 * new mode's place (joined()). A bridge still waiting for that from an
 * earlier change goes now: the phone has left it or is leaving it. */
static void apply(struct call *call, struct supervision *sup)
{
	sup->generation++;
	hang_up_snoop(call, sup);
	if (sup->bridge_id[0]) {
		drop_bridge(call, sup->old_bridge_id);
		memcpy(sup->old_bridge_id, sup->bridge_id,
		       sizeof(sup->old_bridge_id));
		sup->bridge_id[0] = '\0';
	}
	sup->in_call_bridge = false;
	set_up(call, sup);
}

/* The CDR notes the supervision (a new one when mode is given and none of
 * the supervisor's is open) and is written: supervisions are part of the
 * record from the moment the supervisor's phone rings. */
static void note(struct call *call, const struct supervision *sup,
		 const char *mode, int64_t answered_us, int64_t ended_us)
{
	if (call->sups_loading)
		return; /* the record, once read, takes the state left */
	if (cdr_supervision(&call->cdr, sup->agent->id, mode, cdr_now_us(),
			    answered_us, ended_us) < 0)
		log_error("call=%s supervisor=%lld CDR: out of memory",
			  call->cdr.call_id, (long long)sup->agent->id);
	calls__write_cdr(call);
}

/* The supervision is over: what it set up goes, and so does the phone. */
static void end(struct call *call, struct supervision *sup, bool hang_up)
{
	struct leg *phone = leg_of(call, sup->phone_id);
	char path[256];
	unsigned i = (unsigned)(sup - call->sups);

	hang_up_snoop(call, sup);
	drop_bridge(call, sup->old_bridge_id);
	if (sup->bridge_id[0]) {
		snprintf(path, sizeof(path), "/bridges/%s", sup->bridge_id);
		calls__request(call, "DELETE", path, NULL, NULL);
	}
	if (phone && hang_up) {
		phone->settled = true;
		calls__leg_hang_up(phone);
	}
	if (sup->state != SUP_RINGING)
		emit(call, sup, "call.supervision_ended");
	note(call, sup, NULL, 0, cdr_now_us());
	log_notice("call=%s supervisor=%lld supervision ended",
		   call->cdr.call_id, (long long)sup->agent->id);
	call->sups[i] = call->sups[--call->nsups];
}

/* The registry's hooks ------------------------------------------------- */

void calls__supervise_side_leg(struct leg *leg, enum side_event ev)
{
	struct call *call = leg->call;
	struct supervision *sup = by_leg(call, leg->id);

	if (!sup)
		return;
	if (leg->role == LEG_SNOOP) {
		if (ev == SIDE_IN_STASIS)
			try_join(call, sup);
		else if (ev != SIDE_ANSWERED && sup->state != SUP_RINGING &&
			 strcmp(leg->id, sup->snoop_id) == 0)
			log_notice("call=%s supervisor=%lld snoop gone",
				   call->cdr.call_id,
				   (long long)sup->agent->id);
		return;
	}
	switch (ev) {
	case SIDE_ANSWERED:
		if (sup->state == SUP_RINGING) {
			leg->state = LEG_UP;
			leg->settled = true;
			note(call, sup, NULL, cdr_now_us(), 0);
			apply(call, sup);
		}
		break;
	case SIDE_FAILED:
	case SIDE_LEFT:
		end(call, sup, ev == SIDE_FAILED);
		break;
	case SIDE_IN_STASIS:
		break;
	}
}

void calls__supervise_talk_ended(struct call *call)
{
	while (call->nsups > 0)
		end(call, &call->sups[call->nsups - 1], true);
}

/* The API's operations ------------------------------------------------- */

static int check_call(struct call *call, const struct agent *supervisor)
{
	if (!call)
		return -ENOENT;
	if (call->state != CALL_STATE_TALKING || !call->winner)
		return -EBUSY;
	if (!supervisor->sip_username || call->winner->agent == supervisor)
		return -EINVAL;
	if (by_agent(call, supervisor->id))
		return -EEXIST;
	return call->nsups == CALL_MAX_SUPERVISORS ? -ENOSPC : 0;
}

int calls_supervise(struct calls *calls, const char *call_id,
		    struct agent *supervisor, enum calls_supervise_mode mode)
{
	struct call *call = calls__find(calls, call_id);
	struct supervision *sup;
	char id[IDS_MAX];
	struct leg *phone;
	int r = check_call(call, supervisor);

	if (r < 0)
		return r;
	if ((unsigned)mode >= CALLS_SUPERVISE__COUNT)
		return -EINVAL;
	if (ids_new(id, sizeof(id), "sup") < 0 ||
	    !(phone = calls__leg_add(call, LEG_SUPERVISOR, id)))
		return -ENOMEM;
	sup = &call->sups[call->nsups++];
	*sup = (struct supervision){.agent = supervisor, .mode = mode};
	snprintf(sup->phone_id, sizeof(sup->phone_id), "%s", id);
	phone->agent = supervisor;
	phone->settled = true; /* no offer: the agent's state is not touched */
	phone->ring_s = SUP_RING_S;
	log_notice("call=%s supervisor=%lld rung to %s", call->cdr.call_id,
		   (long long)supervisor->id, mode_names[mode]);
	note(call, sup, mode_names[mode], 0, 0);
	calls__leg_ring_phone(phone, supervisor->sip_username, "supervisor",
			      call->cdr.call_id, call->cdr.caller_number);
	return 0;
}

int calls_supervise_mode(struct calls *calls, const char *call_id,
			 int64_t supervisor_id, enum calls_supervise_mode mode)
{
	struct call *call = calls__find(calls, call_id);
	struct supervision *sup = call ? by_agent(call, supervisor_id) : NULL;

	if (!sup)
		return -ENOENT;
	if ((unsigned)mode >= CALLS_SUPERVISE__COUNT)
		return -EINVAL;
	if (sup->mode == mode)
		return 0;
	sup->mode = mode;
	note(call, sup, mode_names[mode], 0, 0);
	if (sup->state != SUP_RINGING)
		apply(call, sup);
	return 0;
}

int calls_supervise_end(struct calls *calls, const char *call_id,
			int64_t supervisor_id)
{
	struct call *call = calls__find(calls, call_id);
	struct supervision *sup = call ? by_agent(call, supervisor_id) : NULL;

	if (!sup)
		return -ENOENT;
	end(call, sup, true);
	return 0;
}

/* Taking over after a restart ------------------------------------------ */

/* A side leg of an earlier process, up and in our application. */
static struct leg *adopt_leg(struct call *call, enum leg_role role,
			     const char *id)
{
	struct leg *leg = calls__leg_take_over(call, role, id, false);

	if (leg)
		leg->settled = true;
	return leg;
}

/* Forgets a leg adopt_leg() added: its channel stays an orphan. */
static void drop_leg(struct call *call, struct leg *leg)
{
	if (strmap_get(call->calls->by_channel, leg->id) == leg)
		strmap_remove(call->calls->by_channel, leg->id);
	leg->state = LEG_GONE;
	calls__leg_unref(leg);
}

int calls__supervise_adopt(struct call *call, const struct calls_supervising *s)
{
	struct supervision *sup;
	struct leg *phone, *snoop = NULL;

	if (by_agent(call, s->agent->id))
		return -EEXIST;
	if (call->nsups == CALL_MAX_SUPERVISORS)
		return -ENOSPC;
	if (!(phone = adopt_leg(call, LEG_SUPERVISOR, s->phone_id)))
		return -ENOMEM;
	if (s->snoop_id && !(snoop = adopt_leg(call, LEG_SNOOP, s->snoop_id))) {
		drop_leg(call, phone);
		return -ENOMEM;
	}
	phone->agent = s->agent;
	sup = &call->sups[call->nsups++];
	*sup = (struct supervision){.agent = s->agent,
				    .mode = s->mode,
				    .state = SUP_ACTIVE,
				    .in_call_bridge = !s->snoop_id};
	snprintf(sup->phone_id, sizeof(sup->phone_id), "%s", s->phone_id);
	if (snoop) {
		snprintf(sup->snoop_id, sizeof(sup->snoop_id), "%s",
			 s->snoop_id);
		snprintf(sup->bridge_id, sizeof(sup->bridge_id), "%s",
			 s->bridge_id);
	}
	call->sups_loading = true;
	log_notice("call=%s supervisor=%lld adopted %s phone=%s snoop=%s "
		   "bridge=%s",
		   call->cdr.call_id, (long long)s->agent->id,
		   mode_names[s->mode], s->phone_id,
		   s->snoop_id ? s->snoop_id : "",
		   s->bridge_id ? s->bridge_id : "");
	return 0;
}

/* The record's supervisions as cdr_supervision() keeps them (times in
 * microseconds), as one JSON text; '[]' when it has none. */
static const char load_sql[] =
    "SELECT coalesce((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object("
    "'supervisor_agent_id', s->'supervisor_agent_id', 'mode', s->'mode',"
    " 'modes', s->'modes',"
    " 'started_us', (extract(epoch FROM (s->>'started_at')::timestamptz)"
    " * 1e6)::bigint,"
    " 'answered_us', (extract(epoch FROM (s->>'answered_at')::timestamptz)"
    " * 1e6)::bigint,"
    " 'ended_us', (extract(epoch FROM (s->>'ended_at')::timestamptz)"
    " * 1e6)::bigint)))"
    " FROM jsonb_array_elements(supervisions) s), '[]')::text"
    " FROM calls WHERE call_id = $1";

/* The record read back takes the supervisions as they are now: an open
 * entry whose supervisor no longer supervises ends, each supervision has
 * its open entry (a new one for one begun meanwhile) in its mode. */
static void reconcile(struct call *call, json_t *list)
{
	int64_t now = cdr_now_us();
	size_t i;
	json_t *e;

	json_decref(call->cdr.supervisions);
	call->cdr.supervisions = list;
	call->sups_loading = false;
	json_array_foreach(list, i, e)
	{
		json_int_t id = json_integer_value(
		    json_object_get(e, "supervisor_agent_id"));

		if (!json_object_get(e, "ended_us") && !by_agent(call, id))
			json_object_set_new(e, "ended_us", json_integer(now));
	}
	for (unsigned k = 0; k < call->nsups; k++)
		note(call, &call->sups[k], mode_names[call->sups[k].mode], 0,
		     0);
	calls__write_cdr(call);
}

/* The record stays as the earlier process left it: its supervisions stay
 * open there (the database is rarely away here: calls are taken over once
 * it has given the campaigns). */
static void not_read(const struct call *call, int error)
{
	log_warning("call=%s supervisions of the record not read error=%s: "
		    "their changes are not recorded, ignoring",
		    call->cdr.call_id, strerror(-error));
}

static void on_record_loaded(int error, const PGresult *res, void *userdata)
{
	struct call *call = userdata;
	json_t *list = NULL;

	if (error == 0 && PQntuples(res) == 1)
		list = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	else if (error == 0)
		list = json_array(); /* no row yet: nothing to go on from */
	if (json_is_array(list)) {
		log_info(
		    "call=%s supervisions of the record loaded entries=%zu",
		    call->cdr.call_id, json_array_size(list));
		reconcile(call, list);
	} else if (error != -ECANCELED) {
		json_decref(list);
		not_read(call, error < 0 ? error : -EBADMSG);
	}
	calls__unref(call);
}

void calls__supervise_load_record(struct call *call)
{
	const char *params[1] = {call->cdr.call_id};
	int r;

	if (!call->calls->db) {
		reconcile(call, json_array());
		return;
	}
	calls__ref(call);
	r = db_pool_query(call->calls->db, load_sql, 1, params,
			  on_record_loaded, call);
	if (r < 0) {
		not_read(call, r);
		calls__unref(call);
	}
}
