/* call.h: one call, whatever its direction: its legs, bridge, recording,
 * record and state machine, and the registry that indexes calls by id and
 * legs by channel. What differs between inbound and outbound calls is a
 * transition table (state.h) and a struct call_machine. */
#ifndef APP_CALLS_CALL_H
#define APP_CALLS_CALL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agents/agents.h"
#include "ari/rest.h"
#include "calls/calls.h"
#include "calls/state.h"
#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "util/ids.h"
#include "util/strmap.h"

/* Named caps: a channel id (Asterisk's unique ids are at most 149 bytes),
 * legs of one call (every agent a ringall rings, plus the caller and the
 * recorder), agents that declined a caller remembered for retry_delay, and
 * inputs that wait while a call is in a transition. */
#define CALL_MAX_ID 150
#define CALL_MAX_LEGS (ACD_MAX_RING + 2)
#define CALL_MAX_DECLINED 32
#define CALL_MAX_PENDING 8
#define CALL_MAX_SUPERVISORS 4

enum leg_role {
	LEG_CALLER = 0, /* an inbound caller: the channel Asterisk brought */
	LEG_AGENT,      /* an agent's phone, rung by us */
	LEG_CUSTOMER,   /* an outbound call's customer, dialed by us */
	/* Side legs: they never change the call's state. */
	LEG_SUPERVISOR, /* a supervisor's phone, rung by us */
	LEG_SNOOP,      /* a snoop on the agent's leg, for a supervisor */
	LEG_RECORDER,   /* a snoop on the peer's leg, recording the call */
};

/* What happens to a side leg, for the recorder's code (call.c) or the
 * supervisions (supervise.c). */
enum side_event {
	SIDE_IN_STASIS = 0,
	SIDE_ANSWERED,
	SIDE_FAILED, /* not created, or its dial failed */
	SIDE_LEFT,
};

enum leg_state {
	LEG_CREATING = 0, /* POST /channels/create sent */
	LEG_DIALING,      /* POST /channels/{id}/dial sent, ringing */
	LEG_UP,           /* answered (or the caller, from the start) */
	LEG_ENDING,       /* hung up by us */
	LEG_GONE,         /* left Stasis, or never made it */
};

/* One channel of a call. Kept alive by the registry's channel map (until it
 * leaves Stasis) and by requests in flight; it holds a reference on its
 * call, and is in call->legs for as long as it lives. */
struct leg {
	char id[CALL_MAX_ID];
	struct call *call;
	struct agent *agent; /* agent legs */
	enum leg_role role;
	enum leg_state state;
	bool holds;     /* the call lasts while this leg does */
	bool created;   /* the create request succeeded */
	bool in_stasis; /* its StasisStart arrived: only then may it dial */
	bool ready;     /* set up to be dialed (its connected line) */
	bool preparing; /* its connected line is being set */
	bool settled;   /* an agent leg: the agent knows how the offer ended */
	bool dial_with_caller; /* dial with caller= the call's caller leg */
	bool recording;        /* a recorder: its recording was asked for */
	unsigned ring_s;       /* dial timeout */
	int cause;             /* of its hangup request, 0 until one came */
	char *connected;       /* connected line to set before dialing */
	/* The dial's answer went with the events socket: whether Asterisk
	 * dialed is for the resync after the reconnect to tell (resync.c). */
	bool dial_unsure;
	unsigned refs;
};

/* What an input carries about where it came from; any part may be 0. */
struct call_event {
	struct leg *leg;    /* the leg it concerns */
	const char *status; /* a Dial status (static), or NULL */
	int cause;          /* a Q.850 cause */
};

/* A supervisor on the call (supervise.c). Its legs are named, not held:
 * a leg that has gone is no longer found. */
enum sup_state {
	SUP_RINGING = 0, /* the supervisor's phone rings */
	SUP_JOINING,     /* answered: joining the call's audio */
	SUP_ACTIVE,
};

struct supervision {
	struct agent *agent;
	enum calls_supervise_mode mode;
	enum sup_state state;
	char phone_id[IDS_MAX];
	char snoop_id[IDS_MAX];  /* "" when none */
	char bridge_id[IDS_MAX]; /* theirs (phone and snoop); "" when none */
	/* The one of the mode before, dropped once the phone has moved out
	 * of it; "" when none. */
	char old_bridge_id[IDS_MAX];
	bool in_call_bridge; /* barging: the phone is in the call's */
	unsigned generation; /* of the mode applied: stale replies drop */
};

/* A campaign queue's view of an inbound call (queue.c). */
struct call_queue {
	int32_t priority;
	int64_t joined_us;
	uint64_t next_offer_ms;    /* retry delay: no offer before this */
	uint64_t next_announce_ms; /* 0: no announcements */
	uint64_t max_wait_ms;      /* 0: no limit */
	bool announcing;
	bool music;         /* its music on hold was started */
	bool adopted;       /* found in Stasis after a restart: its place in the
			 queue comes back from queue_entries */
	bool place_pending; /* adopted, counted in calls->places_pending */
	int64_t declined_ids[CALL_MAX_DECLINED];
	int64_t declined_at[CALL_MAX_DECLINED];
	unsigned ndeclined;
};

struct call;
typedef enum call_input (*call_enter_fn)(struct call *call);
typedef void (*call_action_fn)(struct call *call, const struct call_event *ev);

/* What one direction does on entering a state and for some actions; a
 * NULL slot takes the generic one of call.c (or nothing). */
struct call_machine {
	enum call_direction direction;
	call_enter_fn enter[CALL_STATE__COUNT];
	call_action_fn act[CALL_ACT__COUNT]; /* by bit number */
	/* A playback of the call's ended (NULL: nothing to do). */
	void (*playback_done)(struct call *call, const char *playback_id);
};

struct call {
	struct calls *calls;
	const struct call_machine *machine;
	enum call_state state;
	uint64_t deadline_ms; /* loop time; 0 when the state has no limit */
	unsigned refs;        /* the registry's, legs', requests' */
	struct leg *legs[CALL_MAX_LEGS];
	unsigned nlegs;
	struct leg *peer;   /* the caller, or the customer */
	struct leg *winner; /* the agent's leg that answered */
	char bridge_id[IDS_MAX];
	/* How the recorder's recording treats an existing file (static):
	 * "overwrite", or "append" for a call taken over. */
	const char *record_if_exists;
	char playback_id[IDS_MAX];
	struct cdr cdr;        /* cdr.call_id is the call's id */
	const char *hangup_by; /* who ended it: NULL while up */
	const char *failure;   /* outbound: what the customer's leg did */
	int cause;             /* the Q.850 cause, 0 until known */
	/* Why the call ended when nobody hung up (static, e.g.
	 * "asterisk_restart"): the record's hangup_cause_text. */
	const char *end_reason;
	struct campaign *campaign;
	char *route_arg;  /* the campaign named in Stasis(), or NULL */
	bool transferred; /* left Stasis for the dialplan */
	/* Where a blind transfer goes; the extension escaped for a query. */
	char transfer_context[64], transfer_exten[64];
	bool running; /* in calls__input(): inputs wait in pending */
	/* Entries of this state in a row after the first (REENTER): non-zero
	 * while an entry runs again. */
	unsigned retries;
	struct {
		enum call_input input;
		struct call_event ev; /* holds a reference on ev.leg */
	} pending[CALL_MAX_PENDING];
	unsigned npending;
	/* For the ring latency: when StasisStart was handled (uv_hrtime()
	 * nanoseconds). */
	uint64_t entered_ns;
	/* Inbound: the caller's answer was asked for (queue.c). */
	bool answer_sent;
	struct call_queue q;
	struct supervision sups[CALL_MAX_SUPERVISORS];
	unsigned nsups;
	/* Adopted with supervisions: the record's are being read back
	 * (supervise.c); till then they are not noted in cdr. */
	bool sups_loading;
	/* Outbound: the customer's dial string and caller id, the ringback
	 * tone's playback. */
	char *endpoint;
	char *caller_id;
	char ringback_id[IDS_MAX];
	bool local_ringback; /* outbound: none played to the agent's phone */
};

/* The registry. */
struct calls {
	uv_loop_t *loop;
	struct ari_rest *rest;
	struct db_pool *db;
	struct agents *agents;
	struct campaigns *campaigns;
	struct cdr_writer *cdr;    /* NULL without a database */
	struct strmap *by_id;      /* call id -> call (a reference) */
	struct strmap *by_channel; /* channel id -> leg (a reference) */
	/* Outbound calls of earlier processes whose records this one closed
	 * (resync.c): call id -> the registry, as a mark. */
	struct strmap *orphans_closed;
	uv_timer_t sweep;
	char *prompt_sound;
	char *app;
	unsigned long handled;
	/* Adopted callers whose place (queue_entries) is not read back yet:
	 * until every one is, or until places_deadline_ms, no caller is
	 * offered, or a later caller whose place came first would pass an
	 * earlier one. */
	unsigned places_pending;
	uint64_t places_deadline_ms;
	bool dispatching;
	calls_event_cb event_cb;
	void *event_data;
	/* Side legs' news and the end of a talk, for the supervisions (set
	 * by the registry; function pointers keep call.c below them). */
	void (*side_leg)(struct leg *leg, enum side_event ev);
	void (*talk_ended)(struct call *call);
};

/* Calls ---------------------------------------------------------------- */

/* Creates a call of machine's direction named id (copied) in the registry,
 * with its record started (caller, callee and channel_id copied, any may be
 * NULL; start_us 0 means now). It holds no leg yet and runs nothing until
 * calls__start(). Returns the call (borrowed: the registry owns it) or NULL
 * when out of memory or id is taken. */
struct call *calls__new(struct calls *calls, const struct call_machine *machine,
			const char *id, const char *caller, const char *callee,
			const char *channel_id, int64_t start_us);
/* How long adopted callers wait for every one's place before the queue
 * moves on without those still missing. */
#define CALLS_PLACES_WAIT_MS 3000

/* An adopted call whose place must come back from queue_entries before
 * anyone is offered (counted in calls->places_pending). */
void calls__place_expect(struct call *call);

/* The adopted call's place is back, or will never come (it left, or the
 * read failed): the queue moves at the next dispatch once no other is
 * missing. Idempotent. */
void calls__place_settled(struct call *call);

/* Enters the first state. */
void calls__start(struct call *call, enum call_state state);
struct call *calls__ref(struct call *call);
void calls__unref(struct call *call);
/* The call named id, or NULL. */
struct call *calls__find(struct calls *calls, const char *id);
/* The leg on channel id, or NULL. */
struct leg *calls__leg_find(struct calls *calls, const char *id);

/*
 * Feeds input to the call's machine: the transition's actions run, then
 * the new state's entry, whose returned input is fed in turn. Inputs that
 * arrive while the call is in a transition (from what its actions set off)
 * wait and run after it: transitions never nest. ev may be NULL; its leg
 * is referenced while it waits.
 */
void calls__input(struct call *call, enum call_input input,
		  const struct call_event *ev);

/* Sends an ARI request on behalf of call; cb (NULL: a failure is logged)
 * gets the call as userdata, with a reference that cb drops with
 * calls__unref(). Returns 0 or a negative errno (cb never runs). */
int calls__request(struct call *call, const char *method, const char *path,
		   const json_t *body, ari_rest_cb cb);
/* Deletes a channel or bridge of ours that no call owns; kind is
 * "channels" or "bridges" (a static string). A failure is logged. */
void calls__delete_orphan(struct calls *calls, const char *kind,
			  const char *id);
/* The parts of a call an earlier process left talking: the caller's (or
 * customer's) channel in a bridge of ours with the agent's leg, and the
 * recorder snooping on the former. */
struct calls_talking {
	const char *peer_id;      /* the caller's or customer's channel */
	const char *agent_leg_id; /* the outbound call's id too */
	struct agent *agent;
	const char *bridge_id;
	struct campaign *campaign; /* named in the agent leg's arguments */
	/* The snoop on the peer's channel that records the call, or NULL
	 * when Asterisk lists none. */
	const char *recorder_id;
	const char *caller, *callee, *route_arg;
	int64_t start_us;
};

/* Takes a new call over as t says, talking: its peer leg (peer_role,
 * holding the call), the agent's leg (holding it when agent_holds), the
 * bridge, its recorder (or a new one appending to the recording), the
 * agent busy with it. Returns 0 or -ENOMEM (legs added so far stay; the
 * caller discards the call). */
int calls__take_over(struct call *call, const struct calls_talking *t,
		     enum leg_role peer_role, bool agent_holds);
/* Forgets a call that calls__new() made and that could not be set up. */
void calls__discard(struct call *call);

/* Records the call as <call id>.wav (if_exists, static: "overwrite", or
 * "append" for a call taken over from an earlier process) and names the
 * recording in the record (also when the recorder then cannot be made:
 * the record names the file the call was to have). The recorder is a
 * snoop on the peer's channel, spying both ways (what the caller says and
 * hears), in our application with the arguments "record,<call id>": a side
 * leg, recorded once it is in Stasis. It ends with the peer (Asterisk
 * ends a snoop with the channel it snoops on): hung up by us only before a
 * transfer, where the caller lives on. Not a recorder in the bridge: that
 * third member makes Asterisk mix the bridge, which costs it about twice as
 * much as the snoop's audiohook. */
void calls__record(struct call *call, const char *if_exists);
/* The call's recorder that is up (being made, or made), or NULL. */
struct leg *calls__recorder(const struct call *call);
/* A talking call records on, appending to its file, after its recording
 * may have been lost (a restart, or the answer to its recorder's creation
 * or record request lost with the events socket): through its recorder
 * (asked again unless it was), else through recorder_id (a recorder of
 * the call that Asterisk lists and no leg holds; NULL when none), else
 * through a new one. */
void calls__record_resume(struct call *call, const char *recorder_id);
/* Stores a snapshot of the record. */
void calls__write_cdr(struct call *call);
/* Reports an event about call to the feed (data stolen; NULL: nothing). */
void calls__emit(struct call *call, const char *type, int64_t agent_id,
		 json_t *data);
/* call.offered to agent_id, for either direction: with what the agent's
 * page shows while the phone rings (the campaign's name, the other
 * party's number, NULL when unknown, and the wait so far). */
void calls__emit_offered(struct call *call, int64_t agent_id,
			 const char *number, int wait_s);
/* call.answered, for either direction. */
void calls__emit_answered(struct call *call, int64_t agent_id, int wait_s);
/* Agent legs still ringing (their offer not settled). */
unsigned calls__ringing(const struct call *call, const struct leg *except);
/* The call as the API shows it (new reference, NULL when out of memory). */
json_t *calls__json(const struct call *call);
/* Submits a record of kind (stolen, may be NULL when out of memory or its
 * text could not be written) to the CDR writer, which journals it while the
 * database is away: a join or leave of queue_entries, a routing decision
 * (cdr.h says what each holds). One that is not taken is logged as the
 * call's what, and the call goes on. */
void calls__write_record(struct call *call, enum cdr_kind kind, json_t *record,
			 const char *what);
/* A best-effort write (logged when lost). */
void calls__db_write(struct calls *calls, const char *sql, int n,
		     const char *const *params);
uint64_t calls__now_ms(const struct calls *calls);

/* Legs ------------------------------------------------------------------- */

/* Adds a leg of role on channel id (copied) to call and to the registry.
 * Returns the leg (borrowed) or NULL (out of memory, id taken, too many
 * legs). */
struct leg *calls__leg_add(struct call *call, enum leg_role role,
			   const char *id);
/* As calls__leg_add(), for a channel an earlier process left up and in
 * our application (holding the call when holds). */
struct leg *calls__leg_take_over(struct call *call, enum leg_role role,
				 const char *id, bool holds);
void calls__leg_ref(struct leg *leg);
void calls__leg_unref(struct leg *leg);
/*
 * Creates the leg's channel in our application (endpoint and app_args are
 * query text, escaped by the caller; body borrowed, may be NULL), then
 * dials it once it is created, in Stasis and ready. A failure to create,
 * now or later, comes back as an input (agent_failed, customer_failed, or
 * failed for an outbound call's own agent leg). Returns 0 or a negative
 * errno (the leg is then gone, and that input was fed).
 */
int calls__leg_originate(struct leg *leg, const char *endpoint,
			 const char *app_args, const json_t *body);
/* The request that created the leg's channel succeeded (for legs created
 * otherwise than by calls__leg_originate(), e.g. snoops): a hangup asked
 * for meanwhile is sent now, else the leg is dialed when it may be. */
void calls__leg_created(struct leg *leg);
/* Rings a phone of ours on leg: PJSIP/<sip_username>, in our application
 * with the arguments "<kind>,<arg>", showing shown (NULL: nothing) as the
 * caller's number; as calls__leg_originate(), whose result it returns. */
int calls__leg_ring_phone(struct leg *leg, const char *sip_username,
			  const char *kind, const char *arg, const char *shown);
/* The leg's StasisStart arrived. */
void calls__leg_in_stasis(struct leg *leg);
/* Hangs the leg up once (after its creation if that is still under
 * way). */
void calls__leg_hang_up(struct leg *leg);
/* A Dial event's status for the leg. */
void calls__leg_dial(struct leg *leg, const char *status);
/* The leg left Stasis (cause 0 when unknown). */
void calls__leg_left(struct leg *leg, int cause);
/* A hangup was requested on the leg's channel. */
void calls__leg_hangup_request(struct leg *leg, int cause);
/* The call goes down with Asterisk (reason, static, e.g.
 * "asterisk_restart"): nobody hung up, the record says why, and an agent
 * whose phone was ringing is not counted as not answering. The legs
 * still end through calls__leg_left(). */
void calls__lost(struct call *call, const char *reason);
/* The leg's channel is now new_id (a masquerade). Returns 0, -EEXIST
 * (new_id names another leg), -ENOENT or -ENOMEM. */
int calls__leg_rekey(struct leg *leg, const char *new_id);

/* Generic entries and actions, for machines that extend them. */
enum call_input calls__enter_gone(struct call *call);
void calls__act_win(struct call *call, const struct call_event *ev);

#endif /* APP_CALLS_CALL_H */
