/* bench-dispatch.c: the latency of one ACD decision on a contact center's
 * worth of state. Usage: bench-dispatch [DECISIONS] [SEED]
 *
 * Builds 10,000 agents (about 30% available, the rest spread over the other
 * states, a few without a registered phone, up to four skills each) and 500
 * campaigns of 200 members drawn from them, so that every agent sits in
 * about ten campaigns, with penalties, skill requirements and every
 * strategy. Then times each acd_choose() alone, for random campaigns and
 * callers who have waited up to five minutes and were declined by a few
 * members, and prints the percentiles in microseconds and the decisions per
 * second of the time spent deciding. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acd/dispatcher.h"

#define NAGENTS 10000
#define NCAMPAIGNS 500
#define NMEMBERS 200
#define NSKILL_IDS 16
#define MAX_DECLINED 4
#define SEC 1000000ll

struct snapshot {
	struct acd_agent agents[NAGENTS];
	struct acd_campaign campaigns[NCAMPAIGNS];
	struct acd_member members[NCAMPAIGNS][NMEMBERS];
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

static enum acd_agent_state some_state(void)
{
	static const enum acd_agent_state busy[] = {
	    ACD_AGENT_OFFLINE, ACD_AGENT_RINGING, ACD_AGENT_IN_CALL,
	    ACD_AGENT_IN_CALL, ACD_AGENT_IN_CALL, ACD_AGENT_AFTER_CALL_WORK,
	    ACD_AGENT_PAUSED,
	};

	if (below(100) < 30)
		return ACD_AGENT_AVAILABLE;
	return busy[below(sizeof(busy) / sizeof(busy[0]))];
}

static void make_agent(struct acd_agent *a, int64_t id, int64_t now)
{
	*a = (struct acd_agent){
	    .id = id,
	    .state = some_state(),
	    .reachable = below(100) < 95,
	    .state_since_us = now - (int64_t)below(3600) * SEC,
	    .last_call_end_us =
		below(10) ? now - (int64_t)below(7200) * SEC : 0,
	    .calls_taken = below(80),
	    .nskills = (uint8_t)below(5),
	};
	for (uint8_t i = 0; i < a->nskills; i++)
		a->skills[i] = (struct acd_skill){(uint16_t)below(NSKILL_IDS),
						  (uint8_t)below(11)};
}

/* Draws NMEMBERS distinct agents: a partial Fisher-Yates over pool. */
static void make_campaign(struct snapshot *s, uint32_t *pool, uint32_t i)
{
	struct acd_campaign *c = &s->campaigns[i];

	for (uint32_t m = 0; m < NMEMBERS; m++) {
		uint32_t j = m + below(NAGENTS - m), t = pool[m];

		pool[m] = pool[j];
		pool[j] = t;
		s->members[i][m] = (struct acd_member){
		    .agent = pool[m],
		    .penalty = (uint16_t)(below(4) ? 0 : 1 + below(3)),
		};
	}
	*c = (struct acd_campaign){
	    .id = i + 1,
	    .strategy = (enum acd_strategy)(i % ACD_STRATEGY__COUNT),
	    .members = s->members[i],
	    .nmembers = NMEMBERS,
	    .nreqs = (uint8_t)below(3),
	    .relax_step_s = below(2) ? 30 : 0,
	    .rr_last = UINT32_MAX,
	};
	for (uint8_t r = 0; r < c->nreqs; r++)
		c->reqs[r] = (struct acd_requirement){
		    (uint16_t)below(NSKILL_IDS), (uint8_t)(1 + below(6))};
}

static void make_snapshot(struct snapshot *s, int64_t now)
{
	static uint32_t pool[NAGENTS];

	for (uint32_t i = 0; i < NAGENTS; i++) {
		make_agent(&s->agents[i], 1000 + i, now);
		pool[i] = i;
	}
	for (uint32_t i = 0; i < NCAMPAIGNS; i++)
		make_campaign(s, pool, i);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Times one decision for a random caller of a random campaign. */
static int64_t time_one(struct snapshot *s, int64_t now, uint64_t *chosen)
{
	static struct acd_candidate rows[NMEMBERS];
	struct acd_campaign *c = &s->campaigns[below(NCAMPAIGNS)];
	int64_t ids[MAX_DECLINED], at[MAX_DECLINED];
	struct acd_caller caller = {.call_id = "bench",
				    .joined_us = now - below(300) * SEC,
				    .declined_agent_ids = ids,
				    .declined_at_us = at,
				    .ndeclined = below(MAX_DECLINED + 1)};
	struct acd_decision d = {.candidates = rows,
				 .max_candidates = NMEMBERS};
	int64_t t0, t1;
	int r;

	for (uint32_t i = 0; i < caller.ndeclined; i++) {
		ids[i] = s->agents[c->members[below(NMEMBERS)].agent].id;
		at[i] = now - below(60) * SEC;
	}
	t0 = now_ns();
	r = acd_choose(s->agents, NAGENTS, c, &caller, now, 20 * SEC, rng(),
		       &d);
	t1 = now_ns();
	if (r < 0) {
		fprintf(stderr, "bench-dispatch: %s\n", strerror(-r));
		exit(1);
	}
	/* Move the rrmemory cursor as the daemon would. */
	for (int i = 0; i < r; i++)
		acd_note_offer(c, d.chosen[i]);
	*chosen += (uint64_t)r;
	return t1 - t0;
}

static double pct_us(const int64_t *sorted, long n, double p)
{
	long i = (long)(p * (double)(n - 1));

	return (double)sorted[i] / 1000.0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int64_t now = 1700000000ll * SEC, total = 0;
	struct snapshot *s = malloc(sizeof(*s));
	int64_t *ns = n > 0 ? malloc((size_t)n * sizeof(*ns)) : NULL;
	uint64_t chosen = 0;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	if (!s || !ns) {
		fprintf(stderr, "usage: bench-dispatch [DECISIONS] [SEED]\n");
		return 2;
	}
	make_snapshot(s, now);
	for (long i = 0; i < n; i++) {
		ns[i] = time_one(s, now, &chosen);
		total += ns[i];
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
	printf("acd-dispatch agents=%d campaigns=%d members=%d decisions=%ld "
	       "p50_us=%.2f p90_us=%.2f p99_us=%.2f max_us=%.2f "
	       "decisions_per_s=%.0f chosen_per_decision=%.2f\n",
	       NAGENTS, NCAMPAIGNS, NMEMBERS, n, pct_us(ns, n, 0.50),
	       pct_us(ns, n, 0.90), pct_us(ns, n, 0.99), pct_us(ns, n, 1.0),
	       total ? (double)n * 1e9 / (double)total : 0.0,
	       (double)chosen / (double)n);
	free(ns);
	free(s);
	return 0;
}
