/* agents.h: the agents the daemon dispatches to, their states and phones. */
#ifndef APP_AGENTS_H
#define APP_AGENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "acd/dispatcher.h"
#include "agents/state.h"
#include "db/pool.h"

struct cdr_writer;

struct agents; /* opaque */

struct agent {
	int64_t id;
	uint32_t index; /* in agents_acd(): stable for the process's life */
	char *name;
	char *sip_username; /* NULL: the agent has no phone */
	char *reason;       /* why paused, or NULL */
	char *call_id;      /* the call ringing or connected, or NULL */
	unsigned no_answer_streak;
	unsigned generation;         /* of the last load that found it */
	bool gone;                   /* deleted from the database */
	uint64_t wrapup_deadline_ms; /* loop time, while in wrap-up */
	uint64_t unavail_until_ms;   /* loop time: not offered before */
	bool status_stored;          /* sip_peers.status says registered */
	bool status_writing;         /* a write of it is in flight */
	/* A request made while busy, applied when wrap-up ends. */
	bool has_pending;
	enum agents_input pending;
	char *pending_reason;
};

/* Called after every change of an agent's state, so that the dispatcher
 * can offer waiting calls. */
typedef void (*agents_changed_cb)(struct agent *agent, void *userdata);

/* Called on every change of state (from != to), before changed; reason is
 * borrowed (NULL unless paused). For the event feed. */
typedef void (*agents_transition_cb)(struct agent *agent,
				     enum acd_agent_state from,
				     enum acd_agent_state to,
				     const char *reason, void *userdata);

/* Creates the registry; db is borrowed and may be NULL (states are then not
 * persisted). Returns 0 or a negative errno. */
int agents_new(uv_loop_t *loop, struct db_pool *db, agents_changed_cb changed,
	       void *userdata, struct agents **ret_agents);

/*
 * (Re)loads agents and their SIP usernames from the database. Agents already
 * known keep their live state; new ones start in the state stored in the
 * database, except that ringing or in-call states from an earlier process
 * become available (their calls are reconciled separately). cb runs once
 * with 0 or a negative errno. Returns 0 or a negative errno.
 */
int agents_load(struct agents *agents, void (*cb)(int error, void *userdata),
		void *userdata);

struct agent *agents_by_id(const struct agents *agents, int64_t id);
struct agent *agents_by_sip(const struct agents *agents, const char *username);
struct agent *agents_at(const struct agents *agents, uint32_t index);

/* The dispatcher's view: one acd_agent per agent, by index. Borrowed. */
const struct acd_agent *agents_acd(const struct agents *agents,
				   uint32_t *ret_count);

/*
 * Feeds input to agent. Returns the new state, or -EINVAL when the state
 * refuses it (nothing changes). Every change is persisted to agents and
 * agent_state_events and reported through the changed callback.
 * wrapup_s applies to AGENTS_INPUT_CALL_END; reason to pauses.
 */
int agents_input(struct agents *agents, struct agent *agent,
		 enum agents_input input, const char *reason,
		 unsigned wrapup_s);

/*
 * A request from the agent or a supervisor: login, pause or logout. While
 * the agent is busy with a call it waits until after-call work ends.
 * Returns 0 when applied, 1 when deferred, or -EINVAL.
 */
int agents_request(struct agents *agents, struct agent *agent,
		   enum agents_input input, const char *reason);

/*
 * Reachability: an agent is offered calls only while their phone is
 * registered, which ARI's endpoint events and Asterisk's realtime contacts
 * tell (agents/presence.h says which tells what). Every change moves the
 * agent's reachable flag at once (the changed callback runs) and then
 * sip_peers.status and last_registered, written in the background.
 */

/* What source (enum agents_presence_source) says of username's phone. */
void agents_phone_state(struct agents *agents, const char *username,
			unsigned source, bool online);

/* What ARI says of an endpoint (borrowed), from EndpointStateChange or GET
 * /endpoints/PJSIP. Returns 0, or -EINVAL when it is not a PJSIP endpoint
 * with a state (ignored). */
struct agents_endpoint;
int agents_phone_endpoint(struct agents *agents,
			  const struct agents_endpoint *endpoint);

/* ARI's endpoints were all read (after a (re)connect): sip_peers.status
 * is written from now on, and at once where it differs. */
void agents_phones_synced(struct agents *agents);

/* The realtime contacts of endpoint changed (NOTIFY welcomedly_contacts):
 * whether it has a live one is read again, in the background. */
void agents_contacts_changed(struct agents *agents, const char *endpoint);

/* True once Asterisk's registrations were found in ps_contacts:
 * reachability follows them alone from then on (see presence.h), and
 * ARI's endpoint states are not read. */
bool agents_contacts_trusted(const struct agents *agents);

/* A dial says username's phone is (true) registered, or (false) unavailable
 * although registered: it is then not offered for a second, after which
 * what the sources say holds again. */
void agents_set_reachable(struct agents *agents, const char *username,
			  bool reachable);

/* Raises the agent's level in skill to at least level (skills come from
 * campaign memberships; the dispatcher sees one set per agent). Returns 0
 * or -ENOSPC past ACD_MAX_SKILLS. */
int agents_set_skill(struct agents *agents, struct agent *agent, uint16_t skill,
		     uint8_t level);

/* Stores which call the agent is busy with (copied; NULL clears). */
void agents_set_call(struct agent *agent, const char *call_id);

void agents_set_transition_cb(struct agents *agents, agents_transition_cb cb,
			      void *userdata);

/* Sets the writer (borrowed; must outlive the registry's use of it, NULL
 * to stop storing) through which every state change goes to `agents` and
 * `agent_state_events`, journaled while the database is away. Without one,
 * changes are not stored. */
void agents_set_writer(struct agents *agents, struct cdr_writer *writer);

/* True while the agent's phone is registered. */
bool agents_reachable(const struct agents *agents, const struct agent *agent);

/* The agent's current state. */
enum acd_agent_state agents_state(const struct agents *agents,
				  const struct agent *agent);

/*
 * Runs cb once every state change made so far is durable: written to the
 * database or to the writer's journal (or refused: a lost write is logged,
 * and cb still gets 0), so that a caller may answer only once the change
 * is durable. cb runs at once, before this returns, when nothing is
 * pending; with -ECANCELED when the writer closes first. Returns 0,
 * -ENOMEM or -ECANCELED (cb never runs).
 */
int agents_stored(struct agents *agents, void (*cb)(int error, void *userdata),
		  void *userdata);

/* Frees the registry after its timer closed and its state writes ended;
 * the loop must run. */
void agents_close(struct agents *agents);

#endif /* APP_AGENTS_H */
