/* dispatcher.h: the ACD's decisions, as pure functions over a state snapshot. */
#ifndef APP_ACD_DISPATCHER_H
#define APP_ACD_DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Nothing here does I/O, allocates, keeps global state or reads a clock: the
 * caller owns the snapshot (agents, campaigns, callers), passes the time and
 * a random value in, and gets a decision back that says whom to ring and why
 * every other member was passed over.
 */

enum acd_agent_state {
	ACD_AGENT_OFFLINE = 0,
	ACD_AGENT_AVAILABLE,
	ACD_AGENT_RINGING,
	ACD_AGENT_IN_CALL,
	ACD_AGENT_AFTER_CALL_WORK,
	ACD_AGENT_PAUSED,
	ACD_AGENT__COUNT,
};

enum acd_strategy {
	ACD_RINGALL = 0,
	ACD_LEASTRECENT,
	ACD_FEWESTCALLS,
	ACD_RANDOM,
	ACD_RRMEMORY,
	ACD_LINEAR,
	ACD_WRANDOM,
	ACD_LONGEST_IDLE,
	ACD_STRATEGY__COUNT,
};

/*
 * Why a member was not chosen. The checks run in the order of this enum and
 * the first failing one is recorded, so a paused agent that is also
 * unreachable reads "paused".
 */
enum acd_skip {
	ACD_SKIP_NONE = 0,    /* chosen */
	ACD_SKIP_OFFLINE,     /* logged out */
	ACD_SKIP_PAUSED,      /* paused */
	ACD_SKIP_WRAPUP,      /* in after-call work */
	ACD_SKIP_BUSY,        /* ringing or in a call of any kind */
	ACD_SKIP_UNREACHABLE, /* no registered phone */
	ACD_SKIP_RETRY,       /* did not answer this caller, retry_delay ago */
	ACD_SKIP_SKILLS,      /* below a (relaxed) skill requirement */
	ACD_SKIP_PENALTY,     /* someone with a lower penalty is eligible */
	ACD_SKIP_NOT_CHOSEN,  /* eligible; the strategy picked another */
	ACD_SKIP__COUNT,
};

/* Named caps: skills per agent and per campaign; agents rung at once. */
#define ACD_MAX_SKILLS 8
#define ACD_MAX_RING 64
/* Skill levels run from 0 to this. */
#define ACD_MAX_LEVEL 10

struct acd_skill {
	uint16_t id;
	uint8_t level; /* 0..ACD_MAX_LEVEL */
};

/* One per agent, shared by every campaign: one record of busy-ness. */
struct acd_agent {
	int64_t id;
	enum acd_agent_state state;
	bool reachable;           /* the phone is registered */
	int64_t state_since_us;   /* entered state then (longest_idle) */
	int64_t last_call_end_us; /* 0: never had a call (leastrecent) */
	uint32_t calls_taken;     /* fewestcalls; the caller picks the period */
	uint8_t nskills;
	struct acd_skill skills[ACD_MAX_SKILLS];
};

struct acd_member {
	uint32_t agent; /* index into the agents array */
	uint16_t penalty;
};

struct acd_requirement {
	uint16_t skill;
	uint8_t min_level;
};

struct acd_campaign {
	int64_t id;
	enum acd_strategy strategy;
	const struct acd_member *members; /* in configured (linear) order */
	uint32_t nmembers;
	uint8_t nreqs;
	struct acd_requirement reqs[ACD_MAX_SKILLS];
	/* Every relax_step_s seconds of waiting, each min_level drops by
	 * one; 0 never relaxes. */
	uint32_t relax_step_s;
	/* rrmemory: the member index last offered, or UINT32_MAX for none.
	 * Moved by acd_note_offer(), never by acd_choose(). */
	uint32_t rr_last;
};

struct acd_caller {
	const char *call_id;
	int32_t priority; /* higher goes first */
	int64_t joined_us;
	/* Agents (by id) that rang this caller and did not answer, and
	 * when: two parallel arrays of ndeclined entries, borrowed. */
	const int64_t *declined_agent_ids;
	const int64_t *declined_at_us;
	uint32_t ndeclined;
};

/* One row per member, in member order. */
struct acd_candidate {
	uint32_t agent; /* agent index */
	enum acd_skip skip;
	uint16_t penalty;
};

struct acd_decision {
	uint32_t nchosen;
	uint32_t chosen[ACD_MAX_RING]; /* agent indexes to ring now */
	/* Set by the caller before acd_choose(): a buffer of max_candidates
	 * rows (it may be NULL when max_candidates is 0). The rest is set by
	 * acd_choose(): ncandidates rows written, ncandidates_total members
	 * considered (more than ncandidates when the buffer was short). */
	struct acd_candidate *candidates;
	uint32_t max_candidates;
	uint32_t ncandidates;
	uint32_t ncandidates_total;
	uint8_t relax_level; /* skill relaxation steps applied (capped) */
};

/*
 * Decides whom to ring for caller in campaign c at now_us.
 *
 * Each member is checked in the order of enum acd_skip. Among the eligible,
 * only the lowest penalty is in play (except for wrandom, where the penalty
 * is a weight, as in app_queue), and the strategy picks in that tier:
 * ringall rings all of it (up to ACD_MAX_RING), linear the first member,
 * rrmemory the first after c->rr_last (wrapping), leastrecent the smallest
 * last_call_end_us, fewestcalls the smallest calls_taken, longest_idle the
 * smallest state_since_us, random a uniform pick from rnd, wrandom the
 * smallest splitmix64(rnd, member) % ((penalty + 1) * 1000). Ties go to the
 * earlier member, so the same inputs always give the same decision.
 *
 * retry_delay_us: an agent that did not answer this caller rests that long.
 * Skill requirements relax by one level per c->relax_step_s seconds waited
 * since caller->joined_us; a skill the agent lacks counts as level 0.
 *
 * Every pointer is borrowed. decision->candidates and max_candidates are
 * read; everything else in *decision is written. Returns the number of
 * agents chosen (0 when nobody is eligible now), or -EINVAL (with *decision
 * untouched) for a NULL argument, an unknown strategy or a member that
 * points past nagents. Nothing else changes.
 */
int acd_choose(const struct acd_agent *agents, uint32_t nagents,
	       const struct acd_campaign *c, const struct acd_caller *caller,
	       int64_t now_us, int64_t retry_delay_us, uint64_t rnd,
	       struct acd_decision *decision);

/* Records that agent (an agent index) was offered a call of c: moves the
 * rrmemory cursor to its member row. An agent that is not a member leaves
 * the cursor alone. */
void acd_note_offer(struct acd_campaign *c, uint32_t agent);

/* Queue order, like strcmp: higher priority first, then earlier joined_us,
 * then call_id (NULL sorts as ""), so no two distinct calls tie. */
int acd_caller_cmp(const struct acd_caller *a, const struct acd_caller *b);

/* Which of n waiting callers goes first by acd_caller_cmp(): stores its
 * index in *ret_index and returns 0, or returns -ENOENT when n is 0 and
 * -EINVAL for NULL callers. */
int acd_caller_first(const struct acd_caller *callers, uint32_t n,
		     uint32_t *ret_index);

/* What acd_decision_format() writes. */
enum acd_decision_form {
	/* One line for people: "101:chosen 102:busy 103:penalty(2) +4
	 * more", one "agent_id:reason" per candidate row (with the penalty
	 * when it was the reason), then how many members did not fit in the
	 * candidates buffer. */
	ACD_DECISION_LINE,
	/* The candidate rows as a JSON array, as routing_decisions keeps
	 * them: [{"agent":101,"skip":"chosen","penalty":0},...]. */
	ACD_DECISION_JSON,
	/* The chosen agents' ids as a PostgreSQL array: "{101,102}". */
	ACD_DECISION_CHOSEN,
};

/*
 * Writes decision as text of the given form into buf. Returns the length
 * of the whole text, like snprintf: buf holds at most size - 1 of it and
 * is always terminated when size > 0. Returns -EINVAL for NULL arguments,
 * an unknown form or a row or chosen agent not below nagents, -EOVERFLOW
 * past INT32_MAX bytes.
 */
int acd_decision_format(const struct acd_decision *decision,
			const struct acd_agent *agents, uint32_t nagents,
			enum acd_decision_form form, char *buf, size_t size);

/* "rrmemory" and so on; 0 or -EINVAL (then *ret is untouched). */
int acd_strategy_parse(const char *name, enum acd_strategy *ret);
/* The name for strategy, or "?" when out of range. */
const char *acd_strategy_name(enum acd_strategy strategy);
/* "available" and so on; 0 or -EINVAL (then *ret is untouched). */
int acd_agent_state_parse(const char *name, enum acd_agent_state *ret);
/* The name for state, or "?" when out of range. */
const char *acd_agent_state_name(enum acd_agent_state state);
/* "chosen", "busy" and so on, or "?" when out of range. */
const char *acd_skip_name(enum acd_skip skip);

#endif /* APP_ACD_DISPATCHER_H */
