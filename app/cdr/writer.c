/* writer.c: CDR snapshots to PostgreSQL in batches, through a journal when
 * the database is away.
 *
 * Every snapshot carries a revision, and the upsert applies a snapshot only
 * when its revision is newer than the row's. So a snapshot may reach the
 * database any number of times and in any order: replays after a crash,
 * a statement that failed after it committed, or a journal record written
 * while an older copy was in flight all leave the same row. What the writer
 * guarantees is the other half: every snapshot reaches the database at least
 * once, or sits in the fsync'd journal until it can.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdr/cdr.h"
#include "util/journal.h"
#include "util/log.h"

#define STMT_UPSERT "cdr_upsert"

/* Pause before retrying after the database failed in a way that is not the
 * records' fault (a missing table, a shutdown, a lock timeout). */
#define CDR_RETRY_MS 2000

/* One statement for a batch: the newest snapshot of each call wins inside
 * the batch, and across batches the revision decides. Times are merged so
 * that a snapshot that does not know a time (a call adopted after a restart
 * does not know when it was answered) never erases it, and the first
 * answer time stored stays (a call adopted talking only knows when it was
 * adopted); duration and billsec follow from the merged times, as
 * Asterisk's CDR defines them. */
static const char upsert_sql[] =
    "WITH r AS (SELECT DISTINCT ON (call_id) * FROM "
    "json_to_recordset($1::json) AS x("
    " call_id text, revision bigint, direction text, caller_number text,"
    " callee_number text, caller_channel_id text, agent_channel_id text,"
    " bridge_id text, recording_url text, agent_id bigint, campaign_id bigint,"
    " lead_id bigint, start_us bigint, answer_us bigint, end_us bigint,"
    " queue_wait_seconds int, abandoned boolean, hangup_cause int,"
    " hangup_cause_text text, hangup_by text, disposition text,"
    " supervisions jsonb)"
    " ORDER BY call_id, revision DESC),"
    " t AS (SELECT r.*, (SELECT jsonb_agg(jsonb_strip_nulls("
    "jsonb_build_object('supervisor_agent_id', s->'supervisor_agent_id',"
    " 'mode', s->'mode', 'modes', s->'modes', 'started_at',"
    " to_timestamp((s->>'started_us')::bigint / 1e6), 'answered_at',"
    " to_timestamp((s->>'answered_us')::bigint / 1e6), 'ended_at',"
    " to_timestamp((s->>'ended_us')::bigint / 1e6))))"
    " FROM jsonb_array_elements(r.supervisions) s) AS sv,"
    " to_timestamp(start_us / 1e6) AS st,"
    " to_timestamp(answer_us / 1e6) AS an, to_timestamp(end_us / 1e6) AS en "
    "FROM r)"
    " INSERT INTO calls AS c (call_id, revision, direction, caller_number,"
    " callee_number, caller_channel_id, agent_channel_id, bridge_id, "
    "recording_url,"
    " agent_id, campaign_id, lead_id, start_time, answer_time, end_time,"
    " duration, billsec, queue_wait_seconds, abandoned, hangup_cause,"
    " hangup_cause_text, hangup_by, disposition, supervisions)"
    " SELECT call_id, revision, coalesce(direction, 'inbound'), caller_number,"
    " callee_number, caller_channel_id, agent_channel_id, bridge_id, "
    "recording_url,"
    " agent_id, campaign_id, lead_id, st, an, en,"
    " coalesce(floor(extract(epoch FROM en - st)), 0)::int,"
    " coalesce(floor(extract(epoch FROM en - an)), 0)::int,"
    " queue_wait_seconds, coalesce(abandoned, false), hangup_cause,"
    " hangup_cause_text, hangup_by, disposition, coalesce(sv, '[]') FROM t"
    " ON CONFLICT (call_id) DO UPDATE SET"
    " revision = EXCLUDED.revision,"
    " caller_number = coalesce(EXCLUDED.caller_number, c.caller_number),"
    " callee_number = coalesce(EXCLUDED.callee_number, c.callee_number),"
    " caller_channel_id = coalesce(EXCLUDED.caller_channel_id, "
    "c.caller_channel_id),"
    " agent_channel_id = coalesce(EXCLUDED.agent_channel_id, "
    "c.agent_channel_id),"
    " bridge_id = coalesce(EXCLUDED.bridge_id, c.bridge_id),"
    " recording_url = coalesce(EXCLUDED.recording_url, c.recording_url),"
    " agent_id = coalesce(EXCLUDED.agent_id, c.agent_id),"
    " campaign_id = coalesce(EXCLUDED.campaign_id, c.campaign_id),"
    " lead_id = coalesce(EXCLUDED.lead_id, c.lead_id),"
    " start_time = least(EXCLUDED.start_time, c.start_time),"
    " answer_time = coalesce(c.answer_time, EXCLUDED.answer_time),"
    " end_time = coalesce(EXCLUDED.end_time, c.end_time),"
    " duration = coalesce(floor(extract(epoch FROM coalesce(EXCLUDED.end_time, "
    "c.end_time)"
    "  - least(EXCLUDED.start_time, c.start_time))), 0)::int,"
    " billsec = coalesce(floor(extract(epoch FROM coalesce(EXCLUDED.end_time, "
    "c.end_time)"
    "  - coalesce(c.answer_time, EXCLUDED.answer_time))), 0)::int,"
    " queue_wait_seconds = coalesce(EXCLUDED.queue_wait_seconds, "
    "c.queue_wait_seconds),"
    " abandoned = EXCLUDED.abandoned OR c.abandoned,"
    " hangup_cause = coalesce(EXCLUDED.hangup_cause, c.hangup_cause),"
    " hangup_cause_text = coalesce(EXCLUDED.hangup_cause_text, "
    "c.hangup_cause_text),"
    " hangup_by = coalesce(EXCLUDED.hangup_by, c.hangup_by),"
    " disposition = coalesce(EXCLUDED.disposition, c.disposition),"
    " supervisions = CASE WHEN EXCLUDED.supervisions = '[]' THEN"
    " c.supervisions ELSE EXCLUDED.supervisions END"
    " WHERE c.revision < EXCLUDED.revision";

/* A statement in flight. Orphaned (w = NULL) when the writer closes first. */
struct batch {
	struct cdr_writer *w;
	json_t *records;   /* owned array of snapshots */
	uint64_t last_seq; /* journal replay: the last record's seq; else 0 */
};

/* A journal append in flight, holding its snapshot until it is durable. */
struct append {
	struct cdr_writer *w;
	json_t *record;
};

struct cdr_writer {
	uv_loop_t *loop;
	struct db_pool *db;
	struct journal *journal;
	json_t *waiting; /* snapshots not yet in a statement or the journal */
	struct batch *inflight; /* at most one statement at a time */
	size_t appending;       /* journal appends not yet durable */
	size_t single_left; /* after a refused batch: send these one by one */
	uv_timer_t retry;   /* owned; data points back to the writer */
	bool retry_armed;
	bool journal_opening;
	bool closing;
	void (*close_cb)(void *userdata);
	void *close_userdata;
	struct cdr_writer_stats stats;
};

static void kick(struct cdr_writer *w);

static bool db_up(const struct cdr_writer *w)
{
	return w->db && db_pool_connected(w->db) > 0;
}

static void log_lost(const json_t *record, const char *why)
{
	char *text = json_dumps(record, JSON_COMPACT);

	log_error("CDR not stored (%s), keep this line to restore it: cdr=%s",
		  why, text ? text : "?");
	free(text);
}

static void on_appended(int error, uint64_t seq, void *userdata)
{
	struct append *a = userdata;
	struct cdr_writer *w = a->w;

	w->appending--;
	if (error < 0) {
		/* Keep it in memory; it goes to the database or is logged. */
		log_warning(
		    "CDR journal append failed error=%s, keeping it in memory",
		    strerror(-error));
		json_array_append_new(w->waiting, a->record);
	} else {
		w->stats.journaled++;
		json_decref(a->record);
	}
	free(a);
	if (!w->closing)
		kick(w);
}

/* Moves one snapshot (stolen) to the journal. Returns 0, or a negative
 * errno with the snapshot still the caller's. */
static int journal_one(struct cdr_writer *w, json_t *record)
{
	struct append *a;
	char *text;
	int r;

	if (!w->journal)
		return -ENOTCONN;
	a = malloc(sizeof(*a));
	text = json_dumps(record, JSON_COMPACT);
	if (!a || !text) {
		free(a);
		free(text);
		return -ENOMEM;
	}
	*a = (struct append){w, record};
	r = journal_append(w->journal, text, strlen(text), on_appended, a);
	free(text);
	if (r < 0) {
		free(a);
		return r;
	}
	w->appending++;
	return 0;
}

/* Moves the waiting snapshots to the journal, oldest first, stopping at the
 * first one the journal refuses (it stays waiting). */
static void journal_waiting(struct cdr_writer *w)
{
	size_t moved = 0;
	int r = 0;

	while (moved < json_array_size(w->waiting)) {
		json_t *record = json_incref(json_array_get(w->waiting, moved));

		r = journal_one(w, record);
		if (r < 0) {
			json_decref(record);
			break;
		}
		moved++;
	}
	for (size_t i = 0; i < moved; i++)
		json_array_remove(w->waiting, 0);
	if (r < 0 && r != -ENOTCONN)
		log_warning("CDR journal refused a record error=%s waiting=%zu",
			    strerror(-r), json_array_size(w->waiting));
}

/* Puts a live batch's records back in front of the waiting ones. */
static void requeue(struct cdr_writer *w, struct batch *b)
{
	json_array_extend(b->records, w->waiting);
	json_decref(w->waiting);
	w->waiting = json_incref(b->records);
}

static void batch_free(struct batch *b)
{
	json_decref(b->records);
	free(b);
}

static void on_rejected(struct cdr_writer *w, struct batch *b,
			const PGresult *res)
{
	size_t n = json_array_size(b->records);
	size_t i;
	json_t *rec;

	if (n > 1) {
		/* One bad record must not sink the others: retry one by one. */
		w->single_left = n;
		if (!b->last_seq) {
			requeue(w, b);
		}
		return;
	}
	log_error("database refused a CDR sqlstate=%s error=%s",
		  res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
		  res ? PQresultErrorMessage(res) : "");
	json_array_foreach(b->records, i, rec)
	    log_lost(rec, "refused by the database");
	w->stats.rejected += n;
	if (b->last_seq)
		journal_ack(w->journal, b->last_seq);
}

/* True when the database refused the records themselves (bad data, a
 * broken constraint), as opposed to a failure that a retry may cure. */
static bool records_at_fault(const PGresult *res)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state &&
	       (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

static void on_retry(uv_timer_t *timer)
{
	struct cdr_writer *w = timer->data;

	w->retry_armed = false;
	kick(w);
}

static void retry_later(struct cdr_writer *w, const PGresult *res)
{
	log_warning("CDR write failed sqlstate=%s error=%s, retrying in %dms",
		    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "",
		    res ? PQresultErrorMessage(res) : "", CDR_RETRY_MS);
	w->retry_armed = true;
	uv_timer_start(&w->retry, on_retry, CDR_RETRY_MS, 0);
}

static void on_batch_done(int error, const PGresult *res, void *userdata)
{
	struct batch *b = userdata;
	struct cdr_writer *w = b->w;
	size_t n = json_array_size(b->records);

	if (!w)
		goto out;
	w->inflight = NULL;
	if (w->single_left)
		w->single_left--;
	if (error == 0 && b->last_seq) {
		journal_ack(w->journal, b->last_seq);
		w->stats.replayed += n;
	} else if (error == 0) {
		w->stats.written += n;
	} else if (error == -EIO && records_at_fault(res)) {
		on_rejected(w, b, res);
	} else if (error == -EIO) {
		if (!b->last_seq) {
			requeue(w, b);
		}
		retry_later(w, res);
	} else if (!b->last_seq) {
		/* Whether it committed is unknown: journal it; the revision
		 * makes a second copy harmless. */
		log_warning("CDR batch failed error=%s records=%zu, journaling",
			    strerror(-error), n);
		requeue(w, b);
	}
	kick(w);
out:
	batch_free(b);
}

static int send_batch(struct cdr_writer *w, json_t *records, uint64_t last_seq)
{
	struct batch *b = malloc(sizeof(*b));
	const char *params[1];
	char *text = json_dumps(records, JSON_COMPACT);
	int r = -ENOMEM;

	if (!b || !text)
		goto err;
	*b = (struct batch){w, records, last_seq};
	params[0] = text;
	r = db_pool_execute(w->db, STMT_UPSERT, 1, params, on_batch_done, b);
	free(text);
	if (r < 0)
		goto err;
	w->inflight = b;
	return 0;
err:
	free(b);
	return r;
}

static size_t batch_limit(const struct cdr_writer *w)
{
	return w->single_left ? 1 : CDR_BATCH_MAX;
}

/* Sends the oldest journal records. Returns 0 when a statement is in
 * flight, or a negative errno. */
static int replay(struct cdr_writer *w)
{
	const struct journal_record *rec = journal_first(w->journal);
	json_t *records = json_array();
	uint64_t last = 0;
	int r;

	if (!records)
		return -ENOMEM;
	for (; rec && json_array_size(records) < batch_limit(w);
	     rec = journal_next(w->journal, rec)) {
		json_t *o = json_loadb(rec->data, rec->len, 0, NULL);
		if (o)
			json_array_append_new(records, o);
		else
			log_warning(
			    "CDR journal record seq=%llu unreadable, ignoring",
			    (unsigned long long)rec->seq);
		last = rec->seq;
	}
	if (json_array_size(records) == 0) {
		json_decref(records);
		return last ? journal_ack(w->journal, last) : 0;
	}
	r = send_batch(w, records, last);
	if (r < 0)
		json_decref(records);
	return r;
}

static int send_waiting(struct cdr_writer *w)
{
	size_t n = json_array_size(w->waiting);
	size_t take = n < batch_limit(w) ? n : batch_limit(w);
	json_t *records = json_array();
	int r;

	if (!records)
		return -ENOMEM;
	for (size_t i = 0; i < take; i++)
		json_array_append(records, json_array_get(w->waiting, i));
	r = send_batch(w, records, 0);
	if (r < 0) {
		json_decref(records);
		return r;
	}
	for (size_t i = 0; i < take; i++)
		json_array_remove(w->waiting, 0);
	return 0;
}

/* Decides the next step; runs after every change. Older records (in the
 * journal) go first; one statement is in flight at a time. */
static void kick(struct cdr_writer *w)
{
	if (w->closing || w->journal_opening || w->inflight)
		return;
	if (db_up(w) && !w->retry_armed) {
		if (w->journal && journal_count(w->journal) > 0 &&
		    replay(w) == 0 && w->inflight)
			return;
		if (json_array_size(w->waiting) > 0 && send_waiting(w) == 0)
			return;
	}
	if (json_array_size(w->waiting) > 0)
		journal_waiting(w);
}

static void on_journal_open(int error, struct journal *j, void *userdata)
{
	struct cdr_writer *w = userdata;

	w->journal_opening = false;
	if (error == -EBADMSG)
		log_error("CDR journal damaged; its good part is kept and a "
			  "copy saved beside it");
	else if (error < 0)
		log_error("CDR journal cannot be opened error=%s; CDRs wait in "
			  "memory while the database is away",
			  strerror(-error));
	w->journal = j;
	if (j && journal_count(j) > 0)
		log_notice("CDR journal holds records=%zu to replay",
			   journal_count(j));
	if (w->closing) {
		w->closing = false;
		cdr_writer_close(w, w->close_cb, w->close_userdata);
		return;
	}
	kick(w);
}

int cdr_writer_new(uv_loop_t *loop, struct db_pool *db,
		   const char *journal_path, struct cdr_writer **ret_writer)
{
	struct cdr_writer *w = calloc(1, sizeof(*w));
	int r = -ENOMEM;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->db = db;
	w->waiting = json_array();
	if (!w->waiting)
		goto err;
	if (db) {
		r = db_pool_prepare(db, STMT_UPSERT, upsert_sql, 1);
		if (r < 0 && r != -EEXIST)
			goto err;
	}
	r = journal_open(loop, journal_path, NULL, on_journal_open, w);
	if (r < 0)
		goto err;
	w->journal_opening = true;
	uv_timer_init(loop, &w->retry);
	w->retry.data = w;
	*ret_writer = w;
	return 0;
err:
	json_decref(w->waiting);
	free(w);
	return r;
}

int cdr_writer_submit(struct cdr_writer *w, json_t *snapshot)
{
	if (json_array_size(w->waiting) >= CDR_MEMORY_MAX) {
		log_lost(snapshot, "memory cap reached");
		json_decref(snapshot);
		return -ENOBUFS;
	}
	json_array_append_new(w->waiting, snapshot);
	kick(w);
	return 0;
}

void cdr_writer_db_state(struct cdr_writer *w, unsigned up)
{
	if (up)
		kick(w);
}

void cdr_writer_get_stats(const struct cdr_writer *w,
			  struct cdr_writer_stats *ret_stats)
{
	*ret_stats = w->stats;
	ret_stats->waiting = json_array_size(w->waiting);
	ret_stats->journal_records = w->journal ? journal_count(w->journal) : 0;
	ret_stats->journal_bytes = w->journal ? journal_bytes(w->journal) : 0;
}

static void on_retry_closed(uv_handle_t *handle)
{
	struct cdr_writer *w = handle->data;

	if (w->close_cb)
		w->close_cb(w->close_userdata);
	free(w);
}

static void on_journal_closed(void *userdata)
{
	struct cdr_writer *w = userdata;
	size_t i;
	json_t *rec;

	/* Appends that failed while closing came back to waiting. */
	json_array_foreach(w->waiting, i, rec)
	    log_lost(rec, "journal unavailable at exit");
	json_decref(w->waiting);
	w->waiting = NULL;
	uv_close((uv_handle_t *)&w->retry, on_retry_closed);
}

void cdr_writer_close(struct cdr_writer *w, void (*cb)(void *userdata),
		      void *userdata)
{
	w->close_cb = cb;
	w->close_userdata = userdata;
	w->closing = true;
	if (w->journal_opening)
		return; /* on_journal_open() comes back here */
	if (w->inflight) {
		struct batch *b = w->inflight;

		if (!b->last_seq) {
			requeue(w, b);
		}
		b->w = NULL;
		w->inflight = NULL;
	}
	journal_waiting(w);
	if (!w->journal) {
		on_journal_closed(w);
		return;
	}
	journal_close(w->journal, on_journal_closed, w);
}
