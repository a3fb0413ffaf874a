/* internal.h: what the files of the calls feature share. */
#ifndef APP_CALLS_INTERNAL_H
#define APP_CALLS_INTERNAL_H

#include <stdint.h>

#include "agents/agents.h"
#include "calls/calls.h"
#include "calls/state.h"
#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "util/ids.h"
#include "util/strmap.h"

/* Named cap: agents that declined a caller, remembered for retry_delay. */
#define CALLS_MAX_DECLINED 32

enum leg_state {
	LEG_CREATING = 0, /* POST /channels/create sent */
	LEG_DIALING,      /* POST /channels/{id}/dial sent, ringing */
	LEG_ANSWERED,     /* the agent answered and won the caller */
	LEG_ENDING,       /* hung up by us or gone */
};

/* An agent's leg: a channel we create to ring one agent for one call. */
struct leg {
	char id[IDS_MAX];
	struct call *call; /* a reference */
	struct agent *agent;
	enum leg_state state;
	bool created;   /* the create request succeeded */
	bool in_stasis; /* its StasisStart arrived: only then may it dial */
	bool settled;   /* the agent's state already reflects the outcome */
	unsigned refs;
};

struct call {
	struct calls *calls;
	char *channel_id;
	char *route_arg; /* the campaign named in Stasis(), or NULL */
	char playback_id[IDS_MAX];
	char bridge_id[IDS_MAX];
	struct cdr cdr;
	const char *hangup_by; /* who ended it: NULL while up */
	const char *prompt;    /* media of the prompt before hanging up */
	int cause;             /* the Q.850 cause ARI reported, 0 until then */
	enum call_state state;
	uint64_t deadline_ms; /* loop time; 0 when the state has no limit */
	/* For the ring latency: StasisStart handled, answer sent, answered
	 * (uv_hrtime() nanoseconds). */
	uint64_t entered_ns, answer_sent_ns, answered_ns;
	unsigned refs; /* the registry's, plus one per request */
	/* In a queue. */
	struct campaign *campaign;
	int32_t priority;
	int64_t joined_us;
	uint64_t next_offer_ms;    /* retry delay: no offer before this */
	uint64_t next_announce_ms; /* 0: no announcements */
	uint64_t max_wait_ms;      /* 0: no limit */
	bool announcing;
	bool adopted;     /* found in Stasis after a restart: its place in the
			 queue comes back from queue_entries */
	bool transferred; /* left Stasis for the dialplan */
	struct leg *legs[ACD_MAX_RING];
	unsigned nlegs;
	struct leg *winner;
	int64_t declined_ids[CALLS_MAX_DECLINED];
	int64_t declined_at[CALLS_MAX_DECLINED];
	unsigned ndeclined;
};

struct calls {
	uv_loop_t *loop;
	struct ari_rest *rest;
	struct db_pool *db;
	struct agents *agents;
	struct campaigns *campaigns;
	struct strmap *by_channel;
	struct strmap *legs;     /* by leg channel id */
	struct strmap *outbound; /* outbound.c's calls, by both legs' ids */
	uv_timer_t sweep;
	char *prompt_sound;
	char *app;
	struct cdr_writer *cdr; /* borrowed; NULL without a database */
	unsigned long handled;
	bool dispatching;
	calls_event_cb event_cb;
	void *event_data;
};

/* service.c */
struct call *calls__add(struct calls *calls, const char *channel_id,
			const char *caller, const char *callee,
			const char *route_arg, int64_t start_us);
struct call *calls__find(struct calls *calls, const char *channel_id);
void calls__input(struct call *call, enum call_input input);
void calls__hangup_cause(struct call *call, int cause);
struct call *calls__ref(struct call *call);
void calls__unref(struct call *call);
void calls__request(struct call *call, const char *method, const char *path,
		    const json_t *body, ari_rest_cb cb);
void calls__write_cdr(struct call *call);
void calls__rekey(struct calls *calls, const char *old_id, const char *new_id);

/* outbound.c */
/* Handles ev when its channel is a leg of an outbound call. */
bool calls__outbound_event(struct calls *calls, const struct ari_event *ev);
bool calls__is_outbound(struct calls *calls, const char *channel_id);
bool calls__outbound_owns_bridge(struct calls *calls, const char *bridge_id);
void calls__outbound_sweep(struct calls *calls, uint64_t now);
void calls__outbound_list(struct calls *calls, json_t *list, int64_t agent_id);
json_t *calls__outbound_get(struct calls *calls, const char *call_id);
int calls__outbound_hangup(struct calls *calls, const char *call_id);
void calls__outbound_free(struct calls *calls);

/* queue.c: what an offer that ended unanswered does to the agent: a miss
 * (no_answer) counts toward the campaign's max_no_answer, which pauses. */
enum agents_input calls__offer_outcome(const struct campaign *c,
				       const struct agent *agent,
				       bool no_answer);

/* queue.c: a best-effort write (logged when lost). */
void calls__db_write(struct calls *calls, const char *sql, int n,
		     const char *const *params);

/* view.c */
/* JSON null for NULL or "", else the string. */
json_t *calls__str_or_null(const char *s);
/* JSON null for 0, else RFC 3339 text of Unix microseconds. */
json_t *calls__time_or_null(int64_t us);
/* Reports an event (data stolen; NULL: nothing sent). */
void calls__emit_event(struct calls *calls, const char *type, int64_t agent_id,
		       int64_t campaign_id, json_t *data);
/* Reports an event about call (data stolen; NULL: nothing sent). */
void calls__emit(struct call *call, const char *type, int64_t agent_id,
		 json_t *data);

/* queue.c */
void calls__route(struct call *call);
void calls__queue_enter(struct call *call);
void calls__queue_leave(struct call *call, bool abandoned);
void calls__dispatch(struct calls *calls);
void calls__queue_sweep(struct calls *calls, uint64_t now);
void calls__connect(struct call *call);
void calls__end_talk(struct call *call);
void calls__on_dial(struct calls *calls, const char *leg_id,
		    const char *status);
void calls__on_leg_left(struct calls *calls, const char *leg_id, int cause);
bool calls__is_leg(struct calls *calls, const char *channel_id);
void calls__on_leg_stasis_start(struct calls *calls, const char *leg_id);
void calls__on_playback_finished(struct call *call, const char *playback_id);

#endif /* APP_CALLS_INTERNAL_H */
