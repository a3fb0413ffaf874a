/* cdr.h: call detail records, and the other rows that must survive a
 * database outage, written to PostgreSQL and never lost. */
#ifndef APP_CDR_H
#define APP_CDR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "db/pool.h"

/*
 * What the daemon knows about one call, in the terms of the `calls` table.
 * Times are Unix microseconds, 0 when unknown. Strings are owned.
 */
struct cdr {
	char *call_id;
	const char *direction; /* "inbound" or "outbound", static */
	char *caller_number;
	char *callee_number;
	char *caller_channel_id;
	char *agent_channel_id;
	char *bridge_id;
	char *recording_url;
	int64_t agent_id, campaign_id, lead_id; /* 0 when none */
	int64_t start_us, answer_us, end_us;
	int queue_wait_seconds; /* -1 when the call never queued */
	bool abandoned;
	int hangup_cause;
	char *hangup_cause_text;
	const char *hangup_by;   /* "caller", "agent", "system" or NULL */
	const char *disposition; /* NULL while up; see cdr_finish() */
	/* Who supervised the call: an array of {supervisor_agent_id, mode,
	 * modes, started_us, answered_us, ended_us}, NULL when nobody did. */
	json_t *supervisions;
	int64_t revision; /* of the last snapshot taken */
};

/* Wall-clock now in Unix microseconds. */
int64_t cdr_now_us(void);

/* Sets the fields of a new inbound call. Returns 0 or -ENOMEM. */
int cdr_init_inbound(struct cdr *cdr, const char *call_id, const char *caller,
		     const char *callee, const char *channel_id,
		     int64_t start_us);

/* Ends the record: end time, cause, who hung up, and the disposition in
 * Asterisk's terms (ANSWERED when answered, else NO ANSWER, BUSY or
 * FAILED from the cause). */
void cdr_finish(struct cdr *cdr, int64_t end_us, int cause,
		const char *cause_text, const char *hangup_by);

/* Notes a supervision of the call by supervisor_id. A supervisor with no
 * open entry (none, or all ended) gets a new one started at now_us in
 * mode; otherwise the open entry takes mode (when not NULL; modes lists
 * every mode used, in order), answered_us and ended_us (when not 0).
 * Returns 0 or -ENOMEM (the record is then as it was). */
int cdr_supervision(struct cdr *cdr, int64_t supervisor_id, const char *mode,
		    int64_t now_us, int64_t answered_us, int64_t ended_us);

/*
 * Returns a new JSON snapshot of the record (the caller owns it), with a
 * revision higher than any taken before for this call, even by an earlier
 * process: revisions are wall-clock microseconds, bumped when equal.
 * Returns NULL when out of memory.
 */
json_t *cdr_snapshot(struct cdr *cdr);

/* Frees the strings of cdr. */
void cdr_clear(struct cdr *cdr);

/* The writer ------------------------------------------------------------ */

struct cdr_writer; /* opaque */

/*
 * What a record submitted to the writer is; each kind has its own
 * idempotent statement. The JSON members each one takes:
 *
 * CDR_KIND_CALL         a cdr_snapshot().
 * CDR_KIND_AGENT_STATE  agent_id, from_state (may be absent), to_state,
 *                       reason (may be absent), at_us: a row in
 *                       agent_state_events and the agent's state.
 * CDR_KIND_QUEUE_ENTRY  call_id, op ("join" or "leave"); a join also
 *                       campaign_id, priority, caller_number, channel_id,
 *                       joined_us: a row of queue_entries made or deleted.
 * CDR_KIND_ROUTING_DECISION
 *                       call_id, campaign_id, strategy, chosen (the ids as
 *                       a PostgreSQL array, "{101}"), candidates (the rows'
 *                       JSON text, acd_decision_format), at_us: a row of
 *                       routing_decisions.
 */
enum cdr_kind {
	CDR_KIND_CALL,
	CDR_KIND_AGENT_STATE,
	CDR_KIND_QUEUE_ENTRY,
	CDR_KIND_ROUTING_DECISION,
	CDR_KIND__COUNT
};

/* Named caps: records in one database statement, and records kept in
 * memory when neither the database nor the journal takes them. */
#define CDR_BATCH_MAX 500
#define CDR_MEMORY_MAX 100000

/*
 * Creates a writer that upserts snapshots into `calls` (and the other
 * kinds into theirs) through db (borrowed,
 * may be NULL: then every record stays in the journal) and keeps a journal
 * at journal_path for the times the database cannot take them. The journal
 * is opened asynchronously; records submitted before that wait in memory.
 * Returns 0 or a negative errno; *ret_writer untouched on failure.
 */
int cdr_writer_new(uv_loop_t *loop, struct db_pool *db,
		   const char *journal_path, struct cdr_writer **ret_writer);

/*
 * Queues one snapshot (stolen). Records reach the database in submission
 * order, batched: those submitted in one turn of the loop go in one
 * statement (sent before the loop next waits), and those submitted while
 * a statement is in flight in the next one. While the database is away
 * they go to the journal and are replayed in order when it returns, or on
 * the next start. Returns 0, or -ENOBUFS when CDR_MEMORY_MAX records are
 * already waiting (the record is then logged whole at error level so that
 * an operator can recover it).
 */
int cdr_writer_submit(struct cdr_writer *w, json_t *snapshot);

/*
 * Like cdr_writer_submit for a record of kind (stolen): the writer stamps
 * it with its kind and a sequence number (above every one given before,
 * even by an earlier process: wall-clock microseconds, bumped when equal),
 * which the database keys on so that a replay changes nothing. Records of
 * every kind reach the database in one order, the order submitted.
 * Returns 0, -ENOBUFS like cdr_writer_submit, -EINVAL (bad kind, not an
 * object) or -ENOMEM; the record is consumed either way.
 */
int cdr_writer_submit_kind(struct cdr_writer *w, enum cdr_kind kind,
			   json_t *record);

/*
 * Runs cb once every record submitted so far is durable: in the database,
 * in the journal, or refused by the database (logged). cb runs before this
 * returns when they already are; with -ECANCELED when the writer closes
 * first. Returns 0, or -ENOMEM or -ECANCELED (closing), and cb never runs.
 */
int cdr_writer_durable(struct cdr_writer *w,
		       void (*cb)(int error, void *userdata), void *userdata);

/*
 * Runs cb once every record that the journal held when the writer opened
 * it (left by an earlier process) is in the database, so that state read
 * from the database is not older than what that process last did. cb runs
 * before this returns when there was none or they are in; with -ECANCELED
 * when the writer closes first. Returns 0, or -ENOMEM or -ECANCELED
 * (closing), and cb never runs.
 */
int cdr_writer_replayed(struct cdr_writer *w,
			void (*cb)(int error, void *userdata), void *userdata);

/* Tells the writer the database may be back (from db_pool's state
 * callback). */
void cdr_writer_db_state(struct cdr_writer *w, unsigned up);

/* Counters, for metrics and tests. */
struct cdr_writer_stats {
	uint64_t written;       /* records the database confirmed */
	uint64_t journaled;     /* records appended to the journal */
	uint64_t replayed;      /* journal records the database confirmed */
	uint64_t rejected;      /* records the database refused (logged) */
	uint64_t statements;    /* statements sent, each one transaction */
	size_t waiting;         /* in memory, not yet in the journal */
	size_t journal_records; /* in the journal, not yet confirmed */
	uint64_t journal_bytes;
};
void cdr_writer_get_stats(const struct cdr_writer *w,
			  struct cdr_writer_stats *ret_stats);

/*
 * Stops: every record not confirmed by the database (waiting, or in a
 * statement still in flight) is appended to the journal, the journal is
 * closed, and cb (may be NULL) runs once on the loop; then the writer is
 * freed. Close the db pool only after cb.
 */
void cdr_writer_close(struct cdr_writer *w, void (*cb)(void *userdata),
		      void *userdata);

#endif /* APP_CDR_H */
