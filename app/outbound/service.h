/* service.h: placing an outbound call for an agent. Every number passes
 * the toll-fraud guard (normalized to E.164 with the campaign's plan,
 * allowed prefixes, premium and international ranges), the do-not-call
 * list and a per-agent rate limit before anything is dialed; every refusal
 * is a named reason with a sentence, and is logged. */
#ifndef APP_OUTBOUND_SERVICE_H
#define APP_OUTBOUND_SERVICE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* One placement of one agent after another: a burst, then a steady rate. */
#define OUTBOUND_PER_MINUTE 30
#define OUTBOUND_BURST 5
#define OUTBOUND_MAX_KEYS 100000 /* agents whose rate is remembered */
/* Named cap on the dial string built from a campaign's template. */
#define OUTBOUND_MAX_DIAL 256

struct outbound; /* opaque */
struct agents;
struct calls;
struct campaigns;
struct db_pool;

/* What placing reads and drives; all borrowed, all must outlive the
 * service. db may be NULL (placements then end OUTBOUND_NO_DATABASE). */
struct outbound_deps {
	uv_loop_t *loop;
	struct db_pool *db;
	struct agents *agents;
	struct campaigns *campaigns;
	struct calls *calls;
};

/* Makes the service and its rate limiter. Returns 0 and sets *ret_ob, or
 * -ENOMEM; *ret_ob is untouched on failure. */
int outbound_new(const struct outbound_deps *deps, struct outbound **ret_ob);

/* Frees ob; NULL is a no-op. No placement may be in flight. */
void outbound_free(struct outbound *ob);

/* One call to place: from a lead of the campaign, or a number as typed. */
struct outbound_request {
	int64_t agent_id;
	int64_t campaign_id;
	int64_t lead_id;    /* > 0: dial this lead's phone */
	const char *number; /* when lead_id is 0: the raw number */
	/* The agent's phone plays its own ringback while the customer rings
	 * (a browser softphone): none is played to it. */
	bool local_ringback;
};

/* How a placement ended. */
enum outbound_reason {
	OUTBOUND_PLACED = 0,
	/* The request does not fit (a 422 for HTTP). */
	OUTBOUND_NO_AGENT,       /* no such agent with a phone */
	OUTBOUND_NO_CAMPAIGN,    /* no such campaign */
	OUTBOUND_NOT_MEMBER,     /* the agent is not in the campaign */
	OUTBOUND_NO_LEAD,        /* no such lead in the campaign */
	OUTBOUND_REFUSED_NUMBER, /* the guard refused the number */
	OUTBOUND_DO_NOT_CALL,    /* the number is on the do-not-call list */
	OUTBOUND_NO_DIAL_STRING, /* the campaign's template gives none */
	/* The agent is not free to take it (a 409). */
	OUTBOUND_AGENT_GONE,        /* deleted meanwhile */
	OUTBOUND_AGENT_UNREACHABLE, /* phone not registered */
	OUTBOUND_AGENT_BUSY,        /* not available */
	/* Too many placements by this agent (a 429): retry_after_s. */
	OUTBOUND_RATE_LIMITED,
	/* The daemon cannot do it now (error says why). */
	OUTBOUND_NO_DATABASE, /* running without one */
	OUTBOUND_DB_FAILED,   /* a query failed: error and db_res */
	OUTBOUND_NOT_PLACED,  /* Asterisk did not take the call: error */
};

struct outbound_result {
	enum outbound_reason reason;
	const char *detail; /* the refusal in words (NULL when placed) */
	int error;          /* negative errno for the last three reasons */
	/* OUTBOUND_DB_FAILED: the error result, or NULL on connection
	 * errors (as db_result_cb gives it). */
	const PGresult *db_res;
	unsigned retry_after_s; /* OUTBOUND_RATE_LIMITED */
	const char *call_id;    /* OUTBOUND_PLACED */
	int64_t agent_id;
	int64_t campaign_id;
	const char *number; /* E.164 once screened, else NULL */
};

/* Gets the outcome; every pointer in result is borrowed for the call. */
typedef void (*outbound_place_cb)(const struct outbound_result *result,
				  void *userdata);

/*
 * Checks and places req: the agent (with a phone, a member of the
 * campaign, available and reachable, checked again after each query), the
 * lead, the guard, the do-not-call list, the rate limit, then originates.
 * Returns 0, and cb runs exactly once, possibly before outbound_place()
 * returns when the answer needs no query; or -ENOMEM, and cb never runs.
 */
int outbound_place(struct outbound *ob, const struct outbound_request *req,
		   outbound_place_cb cb, void *userdata);

#endif /* APP_OUTBOUND_SERVICE_H */
