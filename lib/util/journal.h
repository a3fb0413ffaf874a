/* journal.h: an append-only, fsync'd, bounded local journal with ordered replay. */
#ifndef UTIL_JOURNAL_H
#define UTIL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * The journal keeps opaque records (the daemon stores one JSON object per
 * record) on local disk until the caller acknowledges them, so that nothing
 * is lost while the database is unreachable or across a crash. All file I/O
 * runs on libuv's thread pool; no function here blocks the loop.
 *
 * On-disk format, all integers little endian:
 *
 *   file    = header record*
 *   header  = slot slot                        (JOURNAL_HEADER_SIZE bytes)
 *   slot    = "WJH\x01" u64:floor u32:crc32c   (16 bytes; crc of the first 12)
 *   record  = "WJR\x01" u32:length u64:seq u32:crc32c payload
 *             (JOURNAL_FRAME_SIZE bytes of frame, then length bytes; the crc
 *             covers the first 16 bytes of the frame, then the payload)
 *
 * Sequence numbers start at 1 and strictly increase through the file and
 * across restarts; they are not contiguous (a failed append uses one up).
 * The floor in the header is a lower bound for the next sequence number:
 * before the file is truncated, the floor is set to the next sequence number
 * and made durable, so the numbers keep increasing when the file holds no
 * records. Each header update rewrites only one slot, alternating, so a torn
 * update leaves the other slot valid; on open the valid slot with the
 * higher floor wins, and the next sequence number is the largest of that
 * floor and one past every sequence number found in the file.
 *
 * Acknowledged records stay in the file until every record is acknowledged;
 * the file is then truncated back to its header. So after a restart the
 * journal replays every record still in the file, which may include records
 * acknowledged before the crash but never one that was not: consumers must
 * be idempotent (the database side keys on call id and sequence number).
 * The truncation needs a moment with nothing pending and nothing queued; a
 * consumer that never catches up lets the file grow to the cap, and appends
 * then fail with -ENOSPC.
 *
 * Recovery on open: records are read in order. If the bytes after the last
 * good record hold no further valid record, they are a write torn by a
 * crash: they are truncated away and counted in journal_get_stats(); such a
 * record was never reported durable, so its sequence number may be given
 * again. If a valid record follows a bad one, the file is corrupt in the
 * middle: the whole file is first copied (and fsync'd) to
 * "<path>.corrupt-<N>", N being the next sequence number, then truncated
 * after the good prefix, and the open reports -EBADMSG. A copy of the same
 * name from an earlier incident is replaced. Sequence numbers found after
 * the corruption still count towards the next sequence number. A header
 * with no valid slot (a creation torn by a crash) is rewritten.
 *
 * A record whose append reported a write or sync error may still have
 * reached the disk, and then it is replayed after the next open like any
 * other; this is the same duplicate the idempotent consumer already
 * tolerates.
 */

/* Default cap on the file size, header included. */
#define JOURNAL_MAX_BYTES (64u * 1024u * 1024u)
/* Largest accepted payload. */
#define JOURNAL_MAX_RECORD (1024u * 1024u)
/* Largest configurable cap, and the largest file open agrees to read. */
#define JOURNAL_MAX_BYTES_LIMIT (1024u * 1024u * 1024u)
/* Largest sequence number, so that one always fits a signed 64-bit integer
 * (PostgreSQL's bigint) and one past it never wraps. A record or a floor
 * above it is not valid (damage, not data); appends past it fail. */
#define JOURNAL_MAX_SEQ ((uint64_t)INT64_MAX)
/* Bytes of file header, and of frame in front of each payload. */
#define JOURNAL_HEADER_SIZE 32u
#define JOURNAL_FRAME_SIZE 20u

struct journal;

struct journal_config {
	/* Cap on the file size in bytes, header included; 0 means
	 * JOURNAL_MAX_BYTES. */
	uint64_t max_bytes;
};

/* A record waiting for acknowledgement. Owned by the journal: valid until
 * the record is acknowledged or the journal is closed. */
struct journal_record {
	uint64_t seq;
	size_t len;
	const void *data;
};

struct journal_stats {
	/* Appends accepted, frame writes issued, and fdatasync calls done
	 * for appended records; group commit makes syncs < appends. */
	uint64_t appends;
	uint64_t writes;
	uint64_t syncs;
	/* Records and bytes dropped from the file at open (torn tail or
	 * corruption). */
	uint64_t dropped_records;
	uint64_t dropped_bytes;
	/* Times the file was truncated because every record was acked. */
	uint64_t compactions;
};

/* j is the journal on success and on -EBADMSG (see above), NULL on any
 * other error. */
typedef void (*journal_open_cb)(int error, struct journal *j, void *userdata);
/* error is 0 when the record is durable, with seq its sequence number. */
typedef void (*journal_append_cb)(int error, uint64_t seq, void *userdata);
typedef void (*journal_close_cb)(void *userdata);

/*
 * Opens the journal file at path, creating the file (mode 0600) and its
 * parent directory (mode 0700, one level only) if missing, and recovers it
 * as described above. cfg may be NULL for defaults; it is copied. path is
 * copied.
 *
 * Returns 0, and cb then runs exactly once on the loop with the result
 * (the open cannot be cancelled: keep the loop running until it does).
 * Returns -EINVAL (bad cfg->max_bytes or argument) or -ENOMEM, and cb never
 * runs. Errors from the file system arrive in cb, e.g. -ENOENT, -EACCES,
 * -EFBIG (file larger than JOURNAL_MAX_BYTES_LIMIT).
 */
int journal_open(uv_loop_t *loop, const char *path,
		 const struct journal_config *cfg, journal_open_cb cb,
		 void *userdata);

/*
 * Copies len bytes from data into a new record and queues it. Records are
 * written in the order appended; appends that queue while a write is in
 * flight go out together in one write and one fdatasync (group commit).
 *
 * Returns 0, and cb runs exactly once, never from inside this call: with 0
 * and the record's sequence number once it is durable (the record is then
 * pending, see journal_first()), or with a negative errno if the write or
 * sync failed. Returns, and cb never runs: -EINVAL for len 0 (empty records
 * are refused: they carry nothing and most likely mean a caller bug),
 * -EMSGSIZE for len > JOURNAL_MAX_RECORD, -EOVERFLOW once the sequence
 * numbers are used up (past JOURNAL_MAX_SEQ), -ENOSPC when the file would grow
 * past the cap (nothing is written), -ECANCELED after journal_close(), or
 * the error of an earlier failed write or sync: after an I/O error the
 * journal refuses further appends, because the state of the file is no
 * longer known; close it and open it again to recover.
 */
int journal_append(struct journal *j, const void *data, size_t len,
		   journal_append_cb cb, void *userdata);

/*
 * Acknowledges every pending record with a sequence number <= seq: they are
 * freed at once. When no record is left pending and nothing is queued, the
 * file is truncated to its header in the background.
 * Returns the number of records released, or -EINVAL if seq is above every
 * sequence number reported durable so far.
 */
int journal_ack(struct journal *j, uint64_t seq);

/* Returns the oldest pending record (durable, not acknowledged), or NULL.
 * Pending records are those read at open plus those appended since. */
const struct journal_record *journal_first(const struct journal *j);

/* Returns the pending record after rec (from journal_first() or
 * journal_next(), not acknowledged since), or NULL. */
const struct journal_record *journal_next(const struct journal *j,
					  const struct journal_record *rec);

/* Returns the number of pending records. */
size_t journal_count(const struct journal *j);

/* Returns the size of the file in bytes as last written, header included:
 * JOURNAL_HEADER_SIZE when it holds no record. */
uint64_t journal_bytes(const struct journal *j);

/* Returns the sequence number the next append will receive. */
uint64_t journal_next_seq(const struct journal *j);

/* Copies the counters into *ret_stats. */
void journal_get_stats(const struct journal *j,
		       struct journal_stats *ret_stats);

/*
 * Closes the journal: appends already queued are still written and synced
 * (their callbacks run, with 0 or an error), not cancelled; if every record
 * is acknowledged the file is truncated; then the file is closed, j is
 * freed, and cb (may be NULL) runs exactly once on the loop. Appends made
 * after this call fail with -ECANCELED. Call once; records from
 * journal_first() stay valid until cb runs.
 */
void journal_close(struct journal *j, journal_close_cb cb, void *userdata);

#endif /* UTIL_JOURNAL_H */
