/* writer.c: CDR snapshots, agent states, queue entries and routing
 * decisions to PostgreSQL in batches, through one journal when the
 * database is away.
 *
 * Every snapshot carries a revision, and the upsert applies a snapshot only
 * when its revision is newer than the row's. So a snapshot may reach the
 * database any number of times and in any order: replays after a crash,
 * a statement that failed after it committed, or a journal record written
 * while an older copy was in flight all leave the same row. What the writer
 * guarantees is the other half: every snapshot reaches the database at least
 * once, or sits in the fsync'd journal until it can.
 *
 * The other kinds of record follow the same rule with their own key: an
 * agent state change carries a sequence number (agent_state_events is
 * unique on agent and sequence, agents.state_seq only moves forward), and a
 * queue entry's join or leave carries one too (within a batch the last one
 * of a call wins, and batches run in submission order); a routing decision
 * is stored once per (call, sequence number). Records of every
 * kind share one order: a batch holds consecutive records, whatever their
 * kinds, one statement writes all of it, and one statement is in flight at
 * a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdr/cdr.h"
#include "util/journal.h"
#include "util/log.h"

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
static const char cdr_ctes[] =
    "cr AS (SELECT DISTINCT ON (call_id) * FROM "
    "json_to_recordset($1::json) AS x("
    " call_id text, revision bigint, direction text, caller_number text,"
    " callee_number text, caller_channel_id text, agent_channel_id text,"
    " bridge_id text, recording_url text, agent_id bigint, campaign_id bigint,"
    " lead_id bigint, start_us bigint, answer_us bigint, end_us bigint,"
    " queue_wait_seconds int, abandoned boolean, hangup_cause int,"
    " hangup_cause_text text, hangup_by text, disposition text,"
    " supervisions jsonb)"
    " ORDER BY call_id, revision DESC),"
    " ct AS (SELECT cr.*, (SELECT jsonb_agg(jsonb_strip_nulls("
    "jsonb_build_object('supervisor_agent_id', s->'supervisor_agent_id',"
    " 'mode', s->'mode', 'modes', s->'modes', 'started_at',"
    " to_timestamp((s->>'started_us')::bigint / 1e6), 'answered_at',"
    " to_timestamp((s->>'answered_us')::bigint / 1e6), 'ended_at',"
    " to_timestamp((s->>'ended_us')::bigint / 1e6))))"
    " FROM jsonb_array_elements(cr.supervisions) s) AS sv,"
    " to_timestamp(start_us / 1e6) AS st,"
    " to_timestamp(answer_us / 1e6) AS an, to_timestamp(end_us / 1e6) AS en "
    "FROM cr),"
    " ci AS (INSERT INTO calls AS c (call_id, revision, direction, "
    "caller_number,"
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
    " hangup_cause_text, hangup_by, disposition, coalesce(sv, '[]') FROM ct"
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
    " WHERE c.revision < EXCLUDED.revision)";

/* Agent state changes: the history row once per (agent, seq), the agent's
 * row to the newest change only. An agent deleted meanwhile is skipped. */
static const char agent_state_ctes[] =
    "ar AS (SELECT x.* FROM json_to_recordset($2::json) AS x("
    " agent_id bigint, seq bigint, from_state text, to_state text,"
    " reason text, at_us bigint) JOIN agents a ON a.id = x.agent_id),"
    " ae AS (INSERT INTO agent_state_events (agent_id, from_state, "
    "to_state,"
    " reason, at, seq) SELECT agent_id, from_state, to_state, reason,"
    " to_timestamp(at_us / 1e6), seq FROM ar"
    " ON CONFLICT (agent_id, seq) DO NOTHING),"
    " au AS (UPDATE agents a SET state = l.to_state, state_reason = "
    "l.reason,"
    " state_since = to_timestamp(l.at_us / 1e6), state_seq = l.seq"
    " FROM (SELECT DISTINCT ON (agent_id) * FROM ar"
    " ORDER BY agent_id, seq DESC) l"
    " WHERE a.id = l.agent_id AND a.state_seq < l.seq)";

/* Queue entries: the last join or leave of each call in the batch wins; a
 * join keeps the place of a row already there (a call adopted after a
 * restart keeps its joined_at). A campaign deleted meanwhile is skipped. */
static const char queue_entry_ctes[] =
    "qr AS (SELECT DISTINCT ON (call_id) * FROM "
    "json_to_recordset($3::json) AS x(call_id text, seq bigint, op text,"
    " campaign_id bigint, priority int, caller_number text, channel_id text,"
    " joined_us bigint) ORDER BY call_id, seq DESC),"
    " qd AS (DELETE FROM queue_entries q USING qr"
    " WHERE q.call_id = qr.call_id AND qr.op = 'leave'),"
    " qi AS (INSERT INTO queue_entries (call_id, campaign_id, joined_at,"
    " priority, caller_number, channel_id) SELECT qr.call_id,"
    " qr.campaign_id, to_timestamp(qr.joined_us / 1e6), qr.priority,"
    " qr.caller_number, qr.channel_id FROM qr"
    " JOIN campaigns c ON c.id = qr.campaign_id WHERE qr.op = 'join'"
    " ON CONFLICT (call_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id)";

/* Routing decisions: a row per decision, once per (call, seq), their ids in
 * the order decided (the API lists them by id). A campaign deleted
 * meanwhile leaves the row without one, as its foreign key does. */
static const char routing_decision_ctes[] =
    "rr AS (SELECT x.* FROM json_to_recordset($4::json) AS x("
    " call_id text, seq bigint, campaign_id bigint, strategy text,"
    " chosen text, candidates text, at_us bigint)),"
    " ri AS (INSERT INTO routing_decisions (call_id, campaign_id, at,"
    " strategy, chosen, candidates, seq) SELECT rr.call_id, c.id,"
    " to_timestamp(rr.at_us / 1e6), rr.strategy, rr.chosen::bigint[],"
    " rr.candidates::jsonb, rr.seq FROM rr"
    " LEFT JOIN campaigns c ON c.id = rr.campaign_id ORDER BY rr.seq"
    " ON CONFLICT (call_id, seq) DO NOTHING)";

/* One statement takes a batch of every kind: the tables are distinct, and
 * within a kind the keys above make the order inside a batch irrelevant,
 * so that a journal where the kinds alternate still drains in batches. */
#define STMT_WRITE "journal_write"

/* The member of a record naming its kind; CDRs carry none (journals
 * written before the other kinds hold only CDRs). */
#define KIND_KEY "record_kind"

struct kind {
	const char *name; /* in KIND_KEY and in logs */
};

static const struct kind kinds[CDR_KIND__COUNT] = {
    [CDR_KIND_CALL] = {"cdr"},
    [CDR_KIND_AGENT_STATE] = {"agent_state"},
    [CDR_KIND_QUEUE_ENTRY] = {"queue_entry"},
    [CDR_KIND_ROUTING_DECISION] = {"routing_decision"},
};

static enum cdr_kind kind_of(const json_t *record)
{
	const char *name = json_string_value(json_object_get(record, KIND_KEY));

	for (int k = 0; name && k < CDR_KIND__COUNT; k++)
		if (strcmp(name, kinds[k].name) == 0)
			return (enum cdr_kind)k;
	return CDR_KIND_CALL;
}

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

/* Who waits for every record submitted before it to be durable, or for
 * the records found in the journal at open to be replayed. */
struct durable_waiter {
	uint64_t upto; /* records submitted when it came (durable waiters) */
	void (*cb)(int error, void *userdata);
	void *userdata;
	struct durable_waiter *next;
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
	uv_idle_t soon;     /* owned: the next step, once this turn is done */
	bool retry_armed;
	bool journal_opening;
	bool closing;
	void (*close_cb)(void *userdata);
	void *close_userdata;
	struct cdr_writer_stats stats;
	uint64_t submitted; /* records ever submitted */
	int64_t last_seq;   /* last sequence number stamped on a record */
	struct durable_waiter *waiters, *waiters_tail; /* oldest first */
	struct durable_waiter *replay_waiters;         /* any order */
	uint64_t replay_upto; /* last sequence number found at open */
};

static void kick(struct cdr_writer *w);
static void kick_soon(struct cdr_writer *w);

static bool db_up(const struct cdr_writer *w)
{
	return w->db && db_pool_connected(w->db) > 0;
}

static void log_lost(const json_t *record, const char *why)
{
	char *text = json_dumps(record, JSON_COMPACT);

	log_error("%s not stored (%s), keep this line to restore it: %s=%s",
		  kind_of(record) == CDR_KIND_CALL ? "CDR" : "row", why,
		  kinds[kind_of(record)].name, text ? text : "?");
	free(text);
}

/* Records submitted so far that are in the database or the journal. The
 * ones that are not are always the newest: the waiting ones and the batch
 * in flight from them, unless a journal append is still out. */
static uint64_t durable_count(const struct cdr_writer *w)
{
	uint64_t pending = json_array_size(w->waiting);

	if (w->inflight && !w->inflight->last_seq)
		pending += json_array_size(w->inflight->records);
	return w->appending ? 0 : w->submitted - pending;
}

/* Runs the waiters whose records are all durable, oldest first; with
 * error (-ECANCELED when closing) all of them. */
static void run_waiters(struct cdr_writer *w, int error)
{
	struct durable_waiter *d;
	uint64_t done = durable_count(w);

	while ((d = w->waiters) && (error < 0 || d->upto <= done)) {
		w->waiters = d->next;
		if (!w->waiters)
			w->waiters_tail = NULL;
		d->cb(error, d->userdata);
		free(d);
	}
}

/* True once every record found in the journal at open is confirmed. */
static bool replayed(const struct cdr_writer *w)
{
	const struct journal_record *first;

	if (w->journal_opening)
		return false;
	first = w->journal ? journal_first(w->journal) : NULL;
	return !first || first->seq > w->replay_upto;
}

static void run_replay_waiters(struct cdr_writer *w, int error)
{
	struct durable_waiter *d;

	if (error == 0 && !replayed(w))
		return;
	while ((d = w->replay_waiters)) {
		w->replay_waiters = d->next;
		d->cb(error, d->userdata);
		free(d);
	}
}

static void on_appended(int error, uint64_t seq, void *userdata)
{
	struct append *a = userdata;
	struct cdr_writer *w = a->w;

	w->appending--;
	if (error < 0) {
		/* Keep it in memory; it goes to the database or is logged. */
		log_warning("journal append failed error=%s, keeping the "
			    "record in memory",
			    strerror(-error));
		json_array_append_new(w->waiting, a->record);
	} else {
		w->stats.journaled++;
		json_decref(a->record);
	}
	free(a);
	if (!w->closing)
		kick(w);
	run_waiters(w, 0);
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
		log_warning("journal refused a record error=%s waiting=%zu",
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
	log_error("database refused a record sqlstate=%s error=%s",
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
	log_warning("journaled write failed sqlstate=%s error=%s, retrying in "
		    "%dms",
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
		log_warning("write batch failed error=%s records=%zu, "
			    "journaling",
			    strerror(-error), n);
		requeue(w, b);
	}
	kick(w);
	run_waiters(w, 0);
	run_replay_waiters(w, 0);
out:
	batch_free(b);
}

/* The batch's records of each kind, as the JSON arrays the statement's
 * parameters take (owned by the caller, NULL when out of memory). */
static char *kind_text(json_t *records, enum cdr_kind kind)
{
	json_t *some = json_array();
	size_t i;
	json_t *rec;
	char *text;

	if (!some)
		return NULL;
	json_array_foreach(records, i, rec)
	{
		if (kind_of(rec) == kind)
			json_array_append(some, rec);
	}
	text = json_dumps(some, JSON_COMPACT);
	json_decref(some);
	return text;
}

static int send_batch(struct cdr_writer *w, json_t *records, uint64_t last_seq)
{
	struct batch *b = malloc(sizeof(*b));
	char *params[CDR_KIND__COUNT] = {0};
	int r = -ENOMEM;

	if (!b)
		goto out;
	for (int k = 0; k < CDR_KIND__COUNT; k++)
		if (!(params[k] = kind_text(records, (enum cdr_kind)k)))
			goto out;
	*b = (struct batch){w, records, last_seq};
	r = db_pool_execute(w->db, STMT_WRITE, CDR_KIND__COUNT,
			    (const char *const *)params, on_batch_done, b);
	if (r == 0) {
		w->inflight = b;
		w->stats.statements++;
		b = NULL;
	}
out:
	for (int k = 0; k < CDR_KIND__COUNT; k++)
		free(params[k]);
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
			    "journal record seq=%llu unreadable, ignoring",
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

static void on_soon(uv_idle_t *idle)
{
	struct cdr_writer *w = idle->data;

	uv_idle_stop(idle);
	kick(w);
}

/* A call changes several records in one turn of the loop (its snapshot,
 * its place in the queue, its agent's state): they wait for the end of
 * the turn and go in one statement, not one now and the rest after its
 * reply. An idle handle runs before the loop would block, so nothing
 * waits for the next event. */
static void kick_soon(struct cdr_writer *w)
{
	if (!w->closing && !uv_is_active((uv_handle_t *)&w->soon))
		uv_idle_start(&w->soon, on_soon);
}

static void on_journal_open(int error, struct journal *j, void *userdata)
{
	struct cdr_writer *w = userdata;

	w->journal_opening = false;
	if (error == -EBADMSG)
		log_error("CDR journal damaged; its good part is kept and a "
			  "copy saved beside it");
	else if (error < 0)
		log_error("CDR journal cannot be opened error=%s; records wait "
			  "in memory while the database is away",
			  strerror(-error));
	w->journal = j;
	if (j && journal_count(j) > 0)
		log_notice("CDR journal holds records=%zu to replay",
			   journal_count(j));
	w->replay_upto = j ? journal_next_seq(j) - 1 : 0;
	if (w->closing) {
		w->closing = false;
		cdr_writer_close(w, w->close_cb, w->close_userdata);
		return;
	}
	kick(w);
	run_replay_waiters(w, 0);
}

static int prepare(struct db_pool *db)
{
	static const char fmt[] = "WITH %s, %s, %s, %s SELECT 1";
	size_t len = sizeof(fmt) + sizeof(cdr_ctes) + sizeof(agent_state_ctes) +
		     sizeof(queue_entry_ctes) + sizeof(routing_decision_ctes);
	char *sql = malloc(len);
	int r;

	if (!sql)
		return -ENOMEM;
	snprintf(sql, len, fmt, cdr_ctes, agent_state_ctes, queue_entry_ctes,
		 routing_decision_ctes);
	r = db_pool_prepare(db, STMT_WRITE, sql, CDR_KIND__COUNT);
	free(sql);
	return r;
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
		r = prepare(db);
		if (r < 0 && r != -EEXIST)
			goto err;
	}
	r = journal_open(loop, journal_path, NULL, on_journal_open, w);
	if (r < 0)
		goto err;
	w->journal_opening = true;
	uv_timer_init(loop, &w->retry);
	w->retry.data = w;
	uv_idle_init(loop, &w->soon);
	w->soon.data = w;
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
	w->submitted++;
	kick_soon(w);
	return 0;
}

int cdr_writer_submit_kind(struct cdr_writer *w, enum cdr_kind kind,
			   json_t *record)
{
	int64_t now = cdr_now_us();

	if ((unsigned)kind >= CDR_KIND__COUNT || !json_is_object(record)) {
		json_decref(record);
		return -EINVAL;
	}
	w->last_seq = now > w->last_seq ? now : w->last_seq + 1;
	if (kind != CDR_KIND_CALL &&
	    (json_object_set_new(record, KIND_KEY,
				 json_string(kinds[kind].name)) < 0 ||
	     json_object_set_new(record, "seq", json_integer(w->last_seq)) <
		 0)) {
		json_decref(record);
		return -ENOMEM;
	}
	return cdr_writer_submit(w, record);
}

int cdr_writer_durable(struct cdr_writer *w,
		       void (*cb)(int error, void *userdata), void *userdata)
{
	struct durable_waiter *d;

	if (w->closing)
		return -ECANCELED;
	if (durable_count(w) >= w->submitted) {
		cb(0, userdata);
		return 0;
	}
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct durable_waiter){w->submitted, cb, userdata, NULL};
	if (w->waiters_tail)
		w->waiters_tail->next = d;
	else
		w->waiters = d;
	w->waiters_tail = d;
	return 0;
}

int cdr_writer_replayed(struct cdr_writer *w,
			void (*cb)(int error, void *userdata), void *userdata)
{
	struct durable_waiter *d;

	if (w->closing)
		return -ECANCELED;
	if (replayed(w)) {
		cb(0, userdata);
		return 0;
	}
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct durable_waiter){0, cb, userdata, w->replay_waiters};
	w->replay_waiters = d;
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
	ret_stats->waiting = w->waiting ? json_array_size(w->waiting) : 0;
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

static void on_soon_closed(uv_handle_t *handle)
{
	struct cdr_writer *w = handle->data;

	uv_close((uv_handle_t *)&w->retry, on_retry_closed);
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
	uv_close((uv_handle_t *)&w->soon, on_soon_closed);
}

void cdr_writer_close(struct cdr_writer *w, void (*cb)(void *userdata),
		      void *userdata)
{
	w->close_cb = cb;
	w->close_userdata = userdata;
	w->closing = true;
	uv_idle_stop(&w->soon);
	if (w->journal_opening)
		return; /* on_journal_open() comes back here */
	run_waiters(w, -ECANCELED);
	run_replay_waiters(w, -ECANCELED);
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
