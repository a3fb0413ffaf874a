/* test-acd-dispatcher.c: eligibility, tiers, strategies and explanations of
 * the ACD dispatcher, on small hand-built snapshots. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <string.h>

#include "acd/dispatcher.h"

#define SEC 1000000ll
#define NOW (1700000000ll * SEC)
#define MAX_AGENTS 128

/* One snapshot: agents, a campaign over them, a caller and a decision with
 * room for a row per member. */
struct fix {
	struct acd_agent agents[MAX_AGENTS];
	struct acd_member members[MAX_AGENTS];
	uint32_t nagents;
	struct acd_campaign c;
	struct acd_caller caller;
	struct acd_candidate rows[MAX_AGENTS];
	struct acd_decision d;
};

/* n available, reachable agents with ids 101.., each a member at penalty 0
 * in agent order, under strategy s; the caller joined at NOW. */
static void fix_init(struct fix *f, uint32_t n, enum acd_strategy s)
{
	memset(f, 0, sizeof(*f));
	for (uint32_t i = 0; i < n; i++) {
		f->agents[i] = (struct acd_agent){
		    .id = 101 + i,
		    .state = ACD_AGENT_AVAILABLE,
		    .reachable = true,
		    .state_since_us = NOW - 60 * SEC,
		};
		f->members[i] = (struct acd_member){.agent = i};
	}
	f->nagents = n;
	f->c = (struct acd_campaign){.id = 1,
				     .strategy = s,
				     .members = f->members,
				     .nmembers = n,
				     .rr_last = UINT32_MAX};
	f->caller = (struct acd_caller){.call_id = "c1", .joined_us = NOW};
	f->d = (struct acd_decision){.candidates = f->rows,
				     .max_candidates = MAX_AGENTS};
}

static int fix_choose_at(struct fix *f, int64_t now, int64_t retry,
			 uint64_t rnd)
{
	return acd_choose(f->agents, f->nagents, &f->c, &f->caller, now, retry,
			  rnd, &f->d);
}

static int fix_choose(struct fix *f)
{
	return fix_choose_at(f, NOW, 0, 42);
}

static enum acd_skip skip_of(const struct fix *f, uint32_t member)
{
	ck_assert_uint_lt(member, f->d.ncandidates);
	return f->d.candidates[member].skip;
}

START_TEST(names_round_trip)
{
	for (int i = 0; i < ACD_STRATEGY__COUNT; i++) {
		enum acd_strategy s = ACD_RINGALL;
		const char *name = acd_strategy_name((enum acd_strategy)i);

		ck_assert_str_ne(name, "?");
		ck_assert_int_eq(acd_strategy_parse(name, &s), 0);
		ck_assert_int_eq(s, i);
	}
	for (int i = 0; i < ACD_AGENT__COUNT; i++) {
		enum acd_agent_state st = ACD_AGENT_OFFLINE;
		const char *name =
		    acd_agent_state_name((enum acd_agent_state)i);

		ck_assert_str_ne(name, "?");
		ck_assert_int_eq(acd_agent_state_parse(name, &st), 0);
		ck_assert_int_eq(st, i);
	}
	for (int i = 0; i < ACD_SKIP__COUNT; i++) {
		ck_assert_str_ne(acd_skip_name((enum acd_skip)i), "?");
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(acd_skip_name((enum acd_skip)i),
					 acd_skip_name((enum acd_skip)j));
	}
	ck_assert_str_eq(acd_strategy_name(ACD_RRMEMORY), "rrmemory");
	ck_assert_str_eq(acd_strategy_name(ACD_LONGEST_IDLE), "longest_idle");
	ck_assert_str_eq(acd_agent_state_name(ACD_AGENT_AFTER_CALL_WORK),
			 "after_call_work");
	ck_assert_str_eq(acd_strategy_name(ACD_STRATEGY__COUNT), "?");
	ck_assert_str_eq(acd_agent_state_name(ACD_AGENT__COUNT), "?");
	ck_assert_str_eq(acd_skip_name(ACD_SKIP__COUNT), "?");
}
END_TEST

START_TEST(names_invalid)
{
	static const char *const bad[] = {"", "RRMEMORY", "round robin",
					  "ringall ", "idle"};
	enum acd_strategy s = ACD_LINEAR;
	enum acd_agent_state st = ACD_AGENT_PAUSED;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(acd_strategy_parse(bad[i], &s), -EINVAL);
		ck_assert_int_eq(acd_agent_state_parse(bad[i], &st), -EINVAL);
	}
	ck_assert_int_eq(acd_strategy_parse(NULL, &s), -EINVAL);
	ck_assert_int_eq(acd_agent_state_parse(NULL, &st), -EINVAL);
	ck_assert_int_eq(acd_strategy_parse("linear", NULL), -EINVAL);
	/* Failed parses leave the output alone. */
	ck_assert_int_eq(s, ACD_LINEAR);
	ck_assert_int_eq(st, ACD_AGENT_PAUSED);
}
END_TEST

/*
 * Four available agents whose metrics all disagree, behind a busy member 0
 * who would win every strategy if busy-ness were ignored.
 */
static void strategy_snapshot(struct fix *f, enum acd_strategy s)
{
	static const struct {
		int64_t last_end_s, since_s;
		uint32_t calls;
	} m[] = {
	    {0, 1, 0},     /* busy */
	    {300, 400, 5}, /* linear, rrmemory from the start */
	    {0, 100, 9},   /* leastrecent: never had a call */
	    {100, 300, 1}, /* fewestcalls */
	    {200, 50, 3},  /* longest_idle */
	};

	fix_init(f, 5, s);
	for (uint32_t i = 0; i < 5; i++) {
		f->agents[i].last_call_end_us =
		    m[i].last_end_s ? NOW - m[i].last_end_s * SEC : 0;
		f->agents[i].state_since_us = m[i].since_s * SEC;
		f->agents[i].calls_taken = m[i].calls;
	}
	f->agents[0].state = ACD_AGENT_IN_CALL;
}

START_TEST(strategy_table)
{
	static const struct {
		enum acd_strategy s;
		uint32_t rr_last;
		int nchosen;
		uint32_t first;
	} rows[] = {
	    {ACD_LINEAR, UINT32_MAX, 1, 1},
	    {ACD_LEASTRECENT, UINT32_MAX, 1, 2},
	    {ACD_FEWESTCALLS, UINT32_MAX, 1, 3},
	    {ACD_LONGEST_IDLE, UINT32_MAX, 1, 4},
	    {ACD_RRMEMORY, UINT32_MAX, 1, 1},
	    {ACD_RRMEMORY, 1, 1, 2},
	    {ACD_RRMEMORY, 2, 1, 3},
	    {ACD_RRMEMORY, 3, 1, 4},
	    {ACD_RRMEMORY, 4, 1, 1}, /* wraps past the busy member 0 */
	    {ACD_RRMEMORY, 0, 1, 1},
	    {ACD_RINGALL, UINT32_MAX, 4, 1},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fix f;

		strategy_snapshot(&f, rows[i].s);
		f.c.rr_last = rows[i].rr_last;
		ck_assert_msg(fix_choose(&f) == rows[i].nchosen, "row %zu", i);
		ck_assert_msg(f.d.chosen[0] == rows[i].first,
			      "row %zu: chose %u", i, f.d.chosen[0]);
		ck_assert_int_eq(skip_of(&f, 0), ACD_SKIP_BUSY);
		for (uint32_t m = 1; m < 5; m++) {
			bool chosen =
			    rows[i].s == ACD_RINGALL || m == rows[i].first;
			ck_assert_msg(
			    skip_of(&f, m) ==
				(chosen ? ACD_SKIP_NONE : ACD_SKIP_NOT_CHOSEN),
			    "row %zu member %u", i, m);
		}
	}
}
END_TEST

START_TEST(ties_go_to_member_order)
{
	static const enum acd_strategy tied[] = {
	    ACD_LEASTRECENT, ACD_FEWESTCALLS, ACD_LONGEST_IDLE, ACD_LINEAR};

	for (size_t i = 0; i < sizeof(tied) / sizeof(tied[0]); i++) {
		struct fix f;

		fix_init(&f, 4, tied[i]);
		f.agents[0].state = ACD_AGENT_PAUSED;
		ck_assert_int_eq(fix_choose(&f), 1);
		ck_assert_uint_eq(f.d.chosen[0], 1);
	}
}
END_TEST

START_TEST(strategies_are_deterministic)
{
	for (int s = 0; s < ACD_STRATEGY__COUNT; s++) {
		struct fix f;
		uint32_t first;

		fix_init(&f, 6, (enum acd_strategy)s);
		f.members[2].penalty = 3;
		ck_assert_int_ge(fix_choose_at(&f, NOW, 0, 777), 1);
		first = f.d.chosen[0];
		for (int k = 0; k < 5; k++) {
			ck_assert_int_ge(fix_choose_at(&f, NOW, 0, 777), 1);
			ck_assert_uint_eq(f.d.chosen[0], first);
		}
	}
}
END_TEST

/* One member per row: the recorded reason is the first check that fails. */
START_TEST(skip_reasons)
{
	static const struct {
		enum acd_agent_state state;
		bool reachable;
		int64_t declined_ago_s; /* 0: never declined */
		uint8_t level;          /* of skill 7; 5 is required */
		enum acd_skip want;
	} rows[] = {
	    {ACD_AGENT_AVAILABLE, true, 0, 5, ACD_SKIP_NONE},
	    {ACD_AGENT_OFFLINE, true, 0, 5, ACD_SKIP_OFFLINE},
	    {ACD_AGENT_OFFLINE, false, 1, 0, ACD_SKIP_OFFLINE},
	    {ACD_AGENT_PAUSED, true, 0, 5, ACD_SKIP_PAUSED},
	    {ACD_AGENT_PAUSED, false, 1, 0, ACD_SKIP_PAUSED},
	    {ACD_AGENT_AFTER_CALL_WORK, true, 0, 5, ACD_SKIP_WRAPUP},
	    {ACD_AGENT_AFTER_CALL_WORK, false, 1, 0, ACD_SKIP_WRAPUP},
	    {ACD_AGENT_RINGING, true, 0, 5, ACD_SKIP_BUSY},
	    {ACD_AGENT_IN_CALL, true, 0, 5, ACD_SKIP_BUSY},
	    {ACD_AGENT_IN_CALL, false, 1, 0, ACD_SKIP_BUSY},
	    {ACD_AGENT__COUNT, true, 0, 5, ACD_SKIP_OFFLINE},
	    {ACD_AGENT_AVAILABLE, false, 0, 5, ACD_SKIP_UNREACHABLE},
	    {ACD_AGENT_AVAILABLE, false, 1, 0, ACD_SKIP_UNREACHABLE},
	    {ACD_AGENT_AVAILABLE, true, 1, 5, ACD_SKIP_RETRY},
	    {ACD_AGENT_AVAILABLE, true, 1, 0, ACD_SKIP_RETRY},
	    {ACD_AGENT_AVAILABLE, true, 30, 5, ACD_SKIP_NONE},
	    {ACD_AGENT_AVAILABLE, true, 0, 4, ACD_SKIP_SKILLS},
	    {ACD_AGENT_AVAILABLE, true, 0, 10, ACD_SKIP_NONE},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fix f;
		int64_t ids[1] = {101};
		int64_t at[1] = {NOW - rows[i].declined_ago_s * SEC};
		int r;

		fix_init(&f, 1, ACD_LINEAR);
		f.agents[0].state = rows[i].state;
		f.agents[0].reachable = rows[i].reachable;
		f.agents[0].nskills = 1;
		f.agents[0].skills[0] = (struct acd_skill){7, rows[i].level};
		f.c.nreqs = 1;
		f.c.reqs[0] = (struct acd_requirement){7, 5};
		f.caller.declined_agent_ids = ids;
		f.caller.declined_at_us = at;
		f.caller.ndeclined = rows[i].declined_ago_s ? 1 : 0;
		r = fix_choose_at(&f, NOW, 20 * SEC, 1);
		ck_assert_msg(
		    skip_of(&f, 0) == rows[i].want, "row %zu: %s, want %s", i,
		    acd_skip_name(skip_of(&f, 0)), acd_skip_name(rows[i].want));
		ck_assert_int_eq(r, rows[i].want == ACD_SKIP_NONE);
		ck_assert_uint_eq(f.d.candidates[0].agent, 0);
	}
}
END_TEST

START_TEST(nobody_eligible)
{
	struct fix f;

	fix_init(&f, 3, ACD_RINGALL);
	f.agents[0].state = ACD_AGENT_OFFLINE;
	f.agents[1].state = ACD_AGENT_RINGING;
	f.agents[2].reachable = false;
	ck_assert_int_eq(fix_choose(&f), 0);
	ck_assert_uint_eq(f.d.nchosen, 0);
	ck_assert_uint_eq(f.d.ncandidates, 3);
	ck_assert_int_eq(skip_of(&f, 0), ACD_SKIP_OFFLINE);
	ck_assert_int_eq(skip_of(&f, 1), ACD_SKIP_BUSY);
	ck_assert_int_eq(skip_of(&f, 2), ACD_SKIP_UNREACHABLE);

	/* A campaign without members decides nothing, without error. */
	fix_init(&f, 0, ACD_RRMEMORY);
	ck_assert_int_eq(fix_choose(&f), 0);
	ck_assert_uint_eq(f.d.ncandidates_total, 0);
}
END_TEST

START_TEST(penalty_tiers)
{
	struct fix f;
	static const uint16_t pen[] = {0, 1, 1, 2};

	fix_init(&f, 4, ACD_LINEAR);
	for (uint32_t i = 0; i < 4; i++)
		f.members[i].penalty = pen[i];
	f.agents[0].state = ACD_AGENT_IN_CALL; /* the only penalty 0 */
	ck_assert_int_eq(fix_choose(&f), 1);
	ck_assert_uint_eq(f.d.chosen[0], 1);
	ck_assert_int_eq(skip_of(&f, 0), ACD_SKIP_BUSY);
	ck_assert_int_eq(skip_of(&f, 1), ACD_SKIP_NONE);
	ck_assert_int_eq(skip_of(&f, 2), ACD_SKIP_NOT_CHOSEN);
	ck_assert_int_eq(skip_of(&f, 3), ACD_SKIP_PENALTY);
	ck_assert_uint_eq(f.d.candidates[3].penalty, 2);

	/* Once the penalty 0 agent is free, everyone else waits. */
	f.agents[0].state = ACD_AGENT_AVAILABLE;
	f.c.strategy = ACD_RINGALL;
	ck_assert_int_eq(fix_choose(&f), 1);
	ck_assert_uint_eq(f.d.chosen[0], 0);
	for (uint32_t m = 1; m < 4; m++)
		ck_assert_int_eq(skip_of(&f, m), ACD_SKIP_PENALTY);
}
END_TEST

/* The lowest tier found late in member order replaces what came before. */
START_TEST(penalty_tier_found_late)
{
	static const enum acd_strategy all[] = {
	    ACD_RINGALL,     ACD_LINEAR,       ACD_RRMEMORY, ACD_LEASTRECENT,
	    ACD_FEWESTCALLS, ACD_LONGEST_IDLE, ACD_RANDOM,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct fix f;

		fix_init(&f, 5, all[i]);
		f.members[0].penalty = 5;
		f.members[1].penalty = 3;
		f.members[2].penalty = 1;
		f.members[3].penalty = 3;
		f.members[4].penalty = 1;
		f.agents[4].calls_taken = 10; /* fewestcalls still picks 2 */
		f.agents[4].state_since_us = NOW;
		f.agents[2].last_call_end_us = 5;
		f.agents[4].last_call_end_us = 10;
		ck_assert_int_ge(fix_choose(&f), 1);
		for (uint32_t m = 0; m < 4; m += m == 1 ? 2 : 1)
			ck_assert_msg(skip_of(&f, m) == ACD_SKIP_PENALTY,
				      "%s member %u", acd_strategy_name(all[i]),
				      m);
		if (all[i] == ACD_RINGALL) {
			ck_assert_uint_eq(f.d.nchosen, 2);
			ck_assert_uint_eq(f.d.chosen[0], 2);
			ck_assert_uint_eq(f.d.chosen[1], 4);
		} else if (all[i] != ACD_RANDOM) {
			ck_assert_uint_eq(f.d.chosen[0], 2);
			ck_assert_int_eq(skip_of(&f, 4), ACD_SKIP_NOT_CHOSEN);
		} else {
			ck_assert(f.d.chosen[0] == 2 || f.d.chosen[0] == 4);
		}
	}
}
END_TEST

/* Skill 1 at level 5 is required and relaxes by one level every 30 s. */
START_TEST(skills_relax_over_time)
{
	static const struct {
		int64_t waited_s;
		uint8_t relax;
		enum acd_skip expert, junior, none;
	} rows[] = {
	    {0, 0, ACD_SKIP_NONE, ACD_SKIP_SKILLS, ACD_SKIP_SKILLS},
	    {29, 0, ACD_SKIP_NONE, ACD_SKIP_SKILLS, ACD_SKIP_SKILLS},
	    {30, 1, ACD_SKIP_NONE, ACD_SKIP_SKILLS, ACD_SKIP_SKILLS},
	    {59, 1, ACD_SKIP_NONE, ACD_SKIP_SKILLS, ACD_SKIP_SKILLS},
	    {60, 2, ACD_SKIP_NONE, ACD_SKIP_NOT_CHOSEN, ACD_SKIP_SKILLS},
	    {149, 4, ACD_SKIP_NONE, ACD_SKIP_NOT_CHOSEN, ACD_SKIP_SKILLS},
	    {150, 5, ACD_SKIP_NONE, ACD_SKIP_NOT_CHOSEN, ACD_SKIP_NOT_CHOSEN},
	    {86400 * 365, 255, ACD_SKIP_NONE, ACD_SKIP_NOT_CHOSEN,
	     ACD_SKIP_NOT_CHOSEN},
	    {-5, 0, ACD_SKIP_NONE, ACD_SKIP_SKILLS, ACD_SKIP_SKILLS},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fix f;

		fix_init(&f, 3, ACD_LINEAR);
		/* The expert matches on the second of its skills. */
		f.agents[0].nskills = 2;
		f.agents[0].skills[0] = (struct acd_skill){9, 10};
		f.agents[0].skills[1] = (struct acd_skill){1, 7};
		f.agents[1].nskills = 1;
		f.agents[1].skills[0] = (struct acd_skill){1, 3};
		f.agents[2].nskills = 1;
		f.agents[2].skills[0] = (struct acd_skill){9, 10};
		f.c.nreqs = 1;
		f.c.reqs[0] = (struct acd_requirement){1, 5};
		f.c.relax_step_s = 30;
		fix_choose_at(&f, NOW + rows[i].waited_s * SEC, 0, 0);
		ck_assert_msg(f.d.relax_level == rows[i].relax, "row %zu", i);
		ck_assert_int_eq(skip_of(&f, 0), rows[i].expert);
		ck_assert_msg(skip_of(&f, 1) == rows[i].junior, "row %zu", i);
		ck_assert_msg(skip_of(&f, 2) == rows[i].none, "row %zu", i);
	}
}
END_TEST

/* When everyone eligible has rung the caller, the rested ones come back;
 * the resting ones never do. */
START_TEST(retry_delay_when_everyone_has_rung)
{
	int64_t ids[] = {101, 102};
	int64_t at[] = {NOW - 30 * SEC, NOW - 5 * SEC};
	struct fix f;

	fix_init(&f, 2, ACD_LINEAR);
	f.caller.declined_agent_ids = ids;
	f.caller.declined_at_us = at;
	f.caller.ndeclined = 2;
	ck_assert_int_eq(fix_choose_at(&f, NOW, 20 * SEC, 0), 1);
	ck_assert_uint_eq(f.d.chosen[0], 0);
	ck_assert_int_eq(skip_of(&f, 1), ACD_SKIP_RETRY);
	ck_assert_int_eq(fix_choose_at(&f, NOW - 20 * SEC, 20 * SEC, 0), 0);
}
END_TEST

START_TEST(skills_never_relax_without_step)
{
	struct fix f;

	fix_init(&f, 2, ACD_LINEAR);
	f.c.nreqs = 2;
	f.c.reqs[0] = (struct acd_requirement){1, 2};
	f.c.reqs[1] = (struct acd_requirement){2, 2};
	/* Agent 0 lacks the second skill; agent 1 has both. */
	f.agents[0].nskills = 1;
	f.agents[0].skills[0] = (struct acd_skill){1, 10};
	f.agents[1].nskills = 2;
	f.agents[1].skills[0] = (struct acd_skill){2, 2};
	f.agents[1].skills[1] = (struct acd_skill){1, 2};
	ck_assert_int_eq(fix_choose_at(&f, NOW + 86400 * SEC, 0, 0), 1);
	ck_assert_uint_eq(f.d.relax_level, 0);
	ck_assert_uint_eq(f.d.chosen[0], 1);
	ck_assert_int_eq(skip_of(&f, 0), ACD_SKIP_SKILLS);
}
END_TEST

START_TEST(retry_delay)
{
	static const struct {
		int64_t now_us, retry_us;
		enum acd_skip want;
	} rows[] = {
	    {NOW, 20 * SEC, ACD_SKIP_RETRY},
	    {NOW + 20 * SEC - 1, 20 * SEC, ACD_SKIP_RETRY},
	    /* Rested, but the other member has not rung this caller yet:
	     * the next agent goes first. */
	    {NOW + 20 * SEC, 20 * SEC, ACD_SKIP_RETRY},
	    {NOW + 3600 * SEC, 20 * SEC, ACD_SKIP_RETRY},
	    {NOW - SEC, 20 * SEC, ACD_SKIP_RETRY}, /* clock stepped back */
	    {NOW, 0, ACD_SKIP_RETRY},              /* no rest at all */
	    {NOW + 20 * SEC, INT64_MAX, ACD_SKIP_RETRY},
	};
	/* Agent 101 declined long ago and again at NOW; 103 declined but is
	 * not a member; the declines of other callers do not matter. */
	int64_t ids[] = {101, 103, 101};
	int64_t at[] = {NOW - 3600 * SEC, NOW, NOW};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fix f;

		fix_init(&f, 2, ACD_LINEAR);
		f.caller.declined_agent_ids = ids;
		f.caller.declined_at_us = at;
		f.caller.ndeclined = 3;
		ck_assert_int_eq(
		    fix_choose_at(&f, rows[i].now_us, rows[i].retry_us, 0), 1);
		ck_assert_msg(skip_of(&f, 0) == rows[i].want, "row %zu", i);
		ck_assert_uint_eq(f.d.chosen[0],
				  rows[i].want == ACD_SKIP_NONE ? 0 : 1);
	}
}
END_TEST

/* Offers a call, as the daemon does: choose, then note the offer. The call
 * is answered and the agent freed at once, so states do not change. */
static uint32_t offer_one(struct fix *f)
{
	ck_assert_int_eq(fix_choose(f), 1);
	acd_note_offer(&f->c, f->d.chosen[0]);
	return f->d.chosen[0];
}

START_TEST(rrmemory_rotation)
{
	struct fix f;
	uint32_t count[3] = {0};

	fix_init(&f, 3, ACD_RRMEMORY);
	for (int call = 0; call < 9; call++) {
		uint32_t a = offer_one(&f);

		ck_assert_uint_eq(a, (uint32_t)call % 3);
		count[a]++;
	}
	ck_assert_uint_eq(count[0], 3);
	ck_assert_uint_eq(count[1], 3);
	ck_assert_uint_eq(count[2], 3);
	ck_assert_uint_eq(f.c.rr_last, 2);
}
END_TEST

START_TEST(rrmemory_skips_unavailable_and_wraps)
{
	static const uint32_t want[] = {0, 2, 0, 1, 2, 0};
	struct fix f;

	fix_init(&f, 3, ACD_RRMEMORY);
	for (size_t call = 0; call < sizeof(want) / sizeof(want[0]); call++) {
		/* B is in another campaign's call for offers 2 and 3. */
		f.agents[1].state = call == 1 || call == 2
					? ACD_AGENT_IN_CALL
					: ACD_AGENT_AVAILABLE;
		ck_assert_uint_eq(offer_one(&f), want[call]);
	}

	/* The cursor only moves for members; a stranger leaves it be. */
	acd_note_offer(&f.c, 77);
	ck_assert_uint_eq(f.c.rr_last, 0);
	acd_note_offer(NULL, 1);
}
END_TEST

START_TEST(rrmemory_with_tiers)
{
	struct fix f;

	/* Rotation stays inside the lowest tier: 0 and 2; 1 is a backup. */
	fix_init(&f, 3, ACD_RRMEMORY);
	f.members[1].penalty = 1;
	ck_assert_uint_eq(offer_one(&f), 0);
	ck_assert_uint_eq(offer_one(&f), 2);
	ck_assert_uint_eq(offer_one(&f), 0);
	ck_assert_int_eq(skip_of(&f, 1), ACD_SKIP_PENALTY);
}
END_TEST

START_TEST(ringall_caps)
{
	struct fix f;

	fix_init(&f, 100, ACD_RINGALL);
	f.agents[3].state = ACD_AGENT_PAUSED;
	ck_assert_int_eq(fix_choose(&f), ACD_MAX_RING);
	ck_assert_uint_eq(f.d.ncandidates, 100);
	for (uint32_t i = 0; i < ACD_MAX_RING; i++)
		ck_assert_uint_eq(f.d.chosen[i], i < 3 ? i : i + 1);
	for (uint32_t m = 0; m < 100; m++) {
		enum acd_skip want = m == 3              ? ACD_SKIP_PAUSED
				     : m <= ACD_MAX_RING ? ACD_SKIP_NONE
							 : ACD_SKIP_NOT_CHOSEN;
		ck_assert_msg(skip_of(&f, m) == want, "member %u", m);
	}
}
END_TEST

/* A fixed stream of test random values. */
static uint64_t next_rnd(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

START_TEST(random_is_uniform_over_tier)
{
	enum { N = 40000 };
	struct fix f;
	uint32_t count[6] = {0};
	uint64_t seed = 12345;

	fix_init(&f, 6, ACD_RANDOM);
	f.agents[1].state = ACD_AGENT_PAUSED;
	f.members[5].penalty = 1;
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(fix_choose_at(&f, NOW, 0, next_rnd(&seed)), 1);
		count[f.d.chosen[0]]++;
	}
	/* Four in play, so 10000 each; a loose bound of 6%. */
	ck_assert_uint_eq(count[1], 0);
	ck_assert_uint_eq(count[5], 0);
	for (int a = 0; a < 5; a++) {
		if (a == 1)
			continue;
		ck_assert_msg(count[a] > 9400 && count[a] < 10600,
			      "agent %d: %u", a, count[a]);
	}
}
END_TEST

START_TEST(wrandom_weighs_by_penalty)
{
	enum { N = 40000 };
	struct fix f;
	uint32_t count[3] = {0};
	uint64_t seed = 999;

	/* Metrics are uniform on [0, 1000), [0, 2000) and [0, 1000): the
	 * penalty 1 member wins when its draw is below both others, about
	 * 1/6 of the time; each penalty 0 member wins 5/12. */
	fix_init(&f, 3, ACD_WRANDOM);
	f.members[1].penalty = 1;
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(fix_choose_at(&f, NOW, 0, next_rnd(&seed)), 1);
		count[f.d.chosen[0]]++;
		/* wrandom has no tiers: nobody is skipped for penalty. */
		for (uint32_t m = 0; m < 3; m++)
			ck_assert_int_ne(skip_of(&f, m), ACD_SKIP_PENALTY);
	}
	ck_assert_msg(count[1] > N / 6 - 600 && count[1] < N / 6 + 600,
		      "penalty 1: %u", count[1]);
	for (int a = 0; a < 3; a += 2)
		ck_assert_msg(count[a] > N * 5 / 12 - 800 &&
				  count[a] < N * 5 / 12 + 800,
			      "agent %d: %u", a, count[a]);
}
END_TEST

/* acd_decision_format() writes want, whole, in form. */
static void assert_format(struct fix *f, enum acd_decision_form form,
			  const char *want)
{
	char text[1024];

	ck_assert_int_eq(acd_decision_format(&f->d, f->agents, f->nagents, form,
					     text, sizeof(text)),
			 (int)strlen(want));
	ck_assert_str_eq(text, want);
}

START_TEST(candidates_truncated)
{
	struct fix f;

	fix_init(&f, 5, ACD_LINEAR);
	for (uint32_t i = 0; i < 3; i++)
		f.agents[i].state = ACD_AGENT_RINGING;
	f.d.max_candidates = 2;
	f.rows[2].skip = ACD_SKIP_PAUSED; /* a canary past the buffer */
	ck_assert_int_eq(fix_choose(&f), 1);
	ck_assert_uint_eq(f.d.chosen[0], 3); /* chosen past the buffer */
	ck_assert_uint_eq(f.d.ncandidates, 2);
	ck_assert_uint_eq(f.d.ncandidates_total, 5);
	ck_assert_int_eq(f.rows[2].skip, ACD_SKIP_PAUSED);
	assert_format(&f, ACD_DECISION_LINE, "101:busy 102:busy +3 more");

	/* No buffer at all still decides. */
	f.d.candidates = NULL;
	f.d.max_candidates = 0;
	ck_assert_int_eq(fix_choose(&f), 1);
	ck_assert_uint_eq(f.d.ncandidates, 0);
	assert_format(&f, ACD_DECISION_LINE, "+5 more");
	assert_format(&f, ACD_DECISION_JSON, "[]");
}
END_TEST

/* The rows as routing_decisions stores them: a JSON array, and the chosen
 * ids as a PostgreSQL array; the rows past the buffer are not in it. */
START_TEST(decision_format_stored)
{
	static const char rows[] =
	    "[{\"agent\":101,\"skip\":\"busy\",\"penalty\":0},"
	    "{\"agent\":102,\"skip\":\"busy\",\"penalty\":0}]";
	struct fix f;
	char text[256];

	fix_init(&f, 5, ACD_RINGALL);
	for (uint32_t i = 0; i < 2; i++)
		f.agents[i].state = ACD_AGENT_RINGING;
	f.members[4].penalty = 3;
	f.d.max_candidates = 2;
	ck_assert_int_eq(fix_choose(&f), 2);
	assert_format(&f, ACD_DECISION_JSON, rows);
	assert_format(&f, ACD_DECISION_CHOSEN, "{103,104}");

	f.d.max_candidates = 5;
	ck_assert_int_eq(fix_choose(&f), 2);
	assert_format(&f, ACD_DECISION_JSON,
		      "[{\"agent\":101,\"skip\":\"busy\",\"penalty\":0},"
		      "{\"agent\":102,\"skip\":\"busy\",\"penalty\":0},"
		      "{\"agent\":103,\"skip\":\"chosen\",\"penalty\":0},"
		      "{\"agent\":104,\"skip\":\"chosen\",\"penalty\":0},"
		      "{\"agent\":105,\"skip\":\"penalty\",\"penalty\":3}]");

	/* A chosen agent outside the table, or an unknown form. */
	f.d.chosen[0] = f.nagents;
	ck_assert_int_eq(acd_decision_format(&f.d, f.agents, f.nagents,
					     ACD_DECISION_CHOSEN, text,
					     sizeof(text)),
			 -EINVAL);
	f.d.chosen[0] = 0;
	ck_assert_int_eq(acd_decision_format(&f.d, f.agents, f.nagents,
					     (enum acd_decision_form)7, text,
					     sizeof(text)),
			 -EINVAL);
}
END_TEST

/* The skip names go into JSON strings as they are: no escaping needed. */
START_TEST(skip_names_plain)
{
	for (int i = 0; i < ACD_SKIP__COUNT; i++)
		for (const char *c = acd_skip_name((enum acd_skip)i); *c; c++)
			ck_assert_msg((*c >= 'a' && *c <= 'z') || *c == '_',
				      "skip %d", i);
}
END_TEST

START_TEST(decision_format)
{
	static const char want[] = "101:paused 102:chosen 103:not_chosen "
				   "104:penalty(2) 105:retry";
	struct fix f;
	char text[128], small[12];
	int64_t ids[] = {105};
	int64_t at[] = {NOW};

	fix_init(&f, 5, ACD_LINEAR);
	f.agents[0].state = ACD_AGENT_PAUSED;
	f.members[3].penalty = 2;
	f.caller.declined_agent_ids = ids;
	f.caller.declined_at_us = at;
	f.caller.ndeclined = 1;
	ck_assert_int_eq(fix_choose_at(&f, NOW, SEC, 0), 1);
	assert_format(&f, ACD_DECISION_LINE, want);
	/* Short buffers get a terminated prefix and the whole length. */
	ck_assert_int_eq(acd_decision_format(&f.d, f.agents, f.nagents,
					     ACD_DECISION_LINE, small,
					     sizeof(small)),
			 (int)strlen(want));
	ck_assert_str_eq(small, "101:paused ");
	ck_assert_int_eq(acd_decision_format(&f.d, f.agents, f.nagents,
					     ACD_DECISION_LINE, NULL, 0),
			 (int)strlen(want));
	ck_assert_int_eq(acd_decision_format(&f.d, f.agents, 2,
					     ACD_DECISION_LINE, text,
					     sizeof(text)),
			 -EINVAL);
	ck_assert_int_eq(
	    acd_decision_format(NULL, f.agents, 5, ACD_DECISION_LINE, text, 1),
	    -EINVAL);
}
END_TEST

START_TEST(choose_is_pure)
{
	struct fix f, copy;

	fix_init(&f, 8, ACD_RRMEMORY);
	f.c.rr_last = 4;
	f.agents[5].state = ACD_AGENT_AFTER_CALL_WORK;
	memcpy(&copy, &f, sizeof(f));
	ck_assert_int_eq(fix_choose(&f), 1);
	ck_assert_uint_eq(f.d.chosen[0], 6);
	ck_assert_mem_eq(f.agents, copy.agents, sizeof(f.agents));
	ck_assert_mem_eq(f.members, copy.members, sizeof(f.members));
	ck_assert_mem_eq(&f.c, &copy.c, sizeof(f.c));
	ck_assert_mem_eq(&f.caller, &copy.caller, sizeof(f.caller));
}
END_TEST

START_TEST(invalid_input)
{
	struct fix f;
	struct acd_decision before;
	int64_t ids[1] = {101};

	fix_init(&f, 3, ACD_LINEAR);
	memset(&f.d.chosen, 0xa5, sizeof(f.d.chosen));
	f.d.nchosen = 7;
	memcpy(&before, &f.d, sizeof(before));
	ck_assert_int_eq(acd_choose(NULL, 3, &f.c, &f.caller, NOW, 0, 0, &f.d),
			 -EINVAL);
	ck_assert_int_eq(
	    acd_choose(f.agents, 3, NULL, &f.caller, NOW, 0, 0, &f.d), -EINVAL);
	ck_assert_int_eq(acd_choose(f.agents, 3, &f.c, NULL, NOW, 0, 0, &f.d),
			 -EINVAL);
	ck_assert_int_eq(
	    acd_choose(f.agents, 3, &f.c, &f.caller, NOW, 0, 0, NULL), -EINVAL);
	/* A member past the agents array. */
	ck_assert_int_eq(
	    acd_choose(f.agents, 2, &f.c, &f.caller, NOW, 0, 0, &f.d), -EINVAL);
	f.c.strategy = ACD_STRATEGY__COUNT;
	ck_assert_int_eq(fix_choose(&f), -EINVAL);
	f.c.strategy = ACD_LINEAR;
	f.c.members = NULL;
	ck_assert_int_eq(fix_choose(&f), -EINVAL);
	f.c.members = f.members;
	f.caller.declined_agent_ids = ids;
	f.caller.ndeclined = 1;
	ck_assert_int_eq(fix_choose(&f), -EINVAL);
	f.caller.ndeclined = 0;
	f.d.candidates = NULL;
	ck_assert_int_eq(fix_choose(&f), -EINVAL);
	f.d.candidates = f.rows;
	/* Failures leave the decision alone. */
	ck_assert_mem_eq(&f.d, &before, sizeof(before));
	ck_assert_int_eq(fix_choose(&f), 1);
}
END_TEST

START_TEST(caller_order)
{
	static const struct {
		struct acd_caller a, b;
		int sign;
	} rows[] = {
	    {{"x", 5, 900, NULL, NULL, 0}, {"y", 1, 100, NULL, NULL, 0}, -1},
	    {{"x", -1, 100, NULL, NULL, 0}, {"y", 0, 900, NULL, NULL, 0}, 1},
	    {{"x", 0, 100, NULL, NULL, 0}, {"y", 0, 200, NULL, NULL, 0}, -1},
	    {{"b", 0, 100, NULL, NULL, 0}, {"a", 0, 100, NULL, NULL, 0}, 1},
	    {{"a", 0, 100, NULL, NULL, 0}, {"a", 0, 100, NULL, NULL, 0}, 0},
	    {{NULL, 0, 100, NULL, NULL, 0}, {"a", 0, 100, NULL, NULL, 0}, -1},
	    {{"x", INT32_MAX, INT64_MAX, NULL, NULL, 0},
	     {"y", INT32_MIN, INT64_MIN, NULL, NULL, 0},
	     -1},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ab = acd_caller_cmp(&rows[i].a, &rows[i].b);
		int ba = acd_caller_cmp(&rows[i].b, &rows[i].a);

		ck_assert_msg((ab > 0) - (ab < 0) == rows[i].sign, "row %zu",
			      i);
		ck_assert_msg((ba > 0) - (ba < 0) == -rows[i].sign, "row %zu",
			      i);
	}
}
END_TEST

START_TEST(caller_first)
{
	const struct acd_caller q[] = {
	    {.call_id = "late", .priority = 0, .joined_us = 300},
	    {.call_id = "vip-b", .priority = 2, .joined_us = 200},
	    {.call_id = "early", .priority = 0, .joined_us = 100},
	    {.call_id = "vip-a", .priority = 2, .joined_us = 200},
	};
	uint32_t first = 99;

	ck_assert_int_eq(acd_caller_first(q, 4, &first), 0);
	ck_assert_uint_eq(first, 3);
	ck_assert_int_eq(acd_caller_first(q, 1, &first), 0);
	ck_assert_uint_eq(first, 0);
	ck_assert_int_eq(acd_caller_first(q, 3, &first), 0);
	ck_assert_uint_eq(first, 1);
	first = 99;
	ck_assert_int_eq(acd_caller_first(q, 0, &first), -ENOENT);
	ck_assert_int_eq(acd_caller_first(NULL, 2, &first), -EINVAL);
	ck_assert_int_eq(acd_caller_first(q, 2, NULL), -EINVAL);
	ck_assert_uint_eq(first, 99);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acd-dispatcher");
	TCase *names = tcase_create("names");
	TCase *choose = tcase_create("choose");
	TCase *callers = tcase_create("callers");

	tcase_add_test(names, names_round_trip);
	tcase_add_test(names, names_invalid);
	tcase_add_test(choose, strategy_table);
	tcase_add_test(choose, ties_go_to_member_order);
	tcase_add_test(choose, strategies_are_deterministic);
	tcase_add_test(choose, skip_reasons);
	tcase_add_test(choose, nobody_eligible);
	tcase_add_test(choose, penalty_tiers);
	tcase_add_test(choose, penalty_tier_found_late);
	tcase_add_test(choose, skills_relax_over_time);
	tcase_add_test(choose, skills_never_relax_without_step);
	tcase_add_test(choose, retry_delay);
	tcase_add_test(choose, retry_delay_when_everyone_has_rung);
	tcase_add_test(choose, rrmemory_rotation);
	tcase_add_test(choose, rrmemory_skips_unavailable_and_wraps);
	tcase_add_test(choose, rrmemory_with_tiers);
	tcase_add_test(choose, ringall_caps);
	tcase_add_test(choose, random_is_uniform_over_tier);
	tcase_add_test(choose, wrandom_weighs_by_penalty);
	tcase_add_test(choose, candidates_truncated);
	tcase_add_test(choose, decision_format);
	tcase_add_test(choose, decision_format_stored);
	tcase_add_test(choose, skip_names_plain);
	tcase_add_test(choose, choose_is_pure);
	tcase_add_test(choose, invalid_input);
	tcase_add_test(callers, caller_order);
	tcase_add_test(callers, caller_first);
	suite_add_tcase(s, names);
	suite_add_tcase(s, choose);
	suite_add_tcase(s, callers);
	return testlib_run(s);
}
