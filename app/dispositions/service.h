/* service.h: recording a call's disposition (the agent's verdict on it):
 * written once, with the lead's status and callback time, and the number
 * put on the do-not-call list for the codes that say so. */
#ifndef APP_DISPOSITIONS_SERVICE_H
#define APP_DISPOSITIONS_SERVICE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct agents;
struct db_pool;

struct dispositions_request {
	const char *call_id;
	const char *code;        /* one of the call's campaign's codes */
	const char *notes;       /* NULL: none */
	const char *callback_at; /* RFC 3339, NULL: none */
	int64_t only_agent_id;   /* > 0: only this agent's call */
};

enum dispositions_outcome {
	DISPOSITIONS_RECORDED = 0,
	DISPOSITIONS_NO_CALL,        /* no record of the call (yet) */
	DISPOSITIONS_NOT_OWN,        /* the call is not only_agent_id's */
	DISPOSITIONS_UNKNOWN_CODE,   /* not a code of the call's campaign */
	DISPOSITIONS_ALREADY_SET,    /* existing_code is the call's */
	DISPOSITIONS_NEEDS_CALLBACK, /* a callback code without callback_at */
	DISPOSITIONS_FAILED,         /* the query failed: error, db_res */
};

struct dispositions_result {
	enum dispositions_outcome outcome;
	int error;                 /* DISPOSITIONS_FAILED: negative errno */
	const PGresult *db_res;    /* DISPOSITIONS_FAILED: the error, or NULL */
	int64_t agent_id;          /* the call's agent, 0 when none */
	int64_t lead_id;           /* the call's lead, 0 when none */
	const char *existing_code; /* DISPOSITIONS_ALREADY_SET */
	bool is_callback;          /* the code asks for a callback */
	bool do_not_call;          /* the number was added to the list */
};

/* Gets the outcome; every pointer in result is borrowed for the call. */
typedef void (*dispositions_record_cb)(const struct dispositions_result *result,
				       void *userdata);

/*
 * Records req in one statement (nothing is written unless every check
 * passes). Once recorded, the agent's after-call work ends (agents may be
 * NULL). Returns 0 and cb runs exactly once, later; or -ENOMEM or
 * db_pool_query()'s error, and cb never runs. Every string of req is
 * copied before this returns.
 */
int dispositions_record(struct db_pool *db, struct agents *agents,
			const struct dispositions_request *req,
			dispositions_record_cb cb, void *userdata);

#endif /* APP_DISPOSITIONS_SERVICE_H */
