/* test-util-journal.c: the local journal, through real files in a temp dir. */
#include <check.h>

#include "testlib.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "util/crc32c.h"
#include "util/journal.h"

#define MAX_RESULTS 4096
/* Payloads made by payload() are this long, so record k starts at a known
 * offset in the file. */
#define PAYLOAD_LEN 10u
#define FRAME_LEN (JOURNAL_FRAME_SIZE + PAYLOAD_LEN)

struct ctx {
	uv_loop_t loop;
	char dir[64];
	char sub[96];
	char path[128];
	struct journal *j;
	int open_status;
	bool opened;
	bool closed;
	size_t ok_at_close;
	size_t results;
	int errors[MAX_RESULTS];
	uint64_t seqs[MAX_RESULTS];
	/* Used by the test whose callbacks append the next record. */
	size_t chain_left;
};

static struct ctx c;

static void payload(char *buf, size_t i)
{
	char tmp[PAYLOAD_LEN + 1];

	snprintf(tmp, sizeof(tmp), "{\"i\":%04zu}", i % 10000);
	memcpy(buf, tmp, PAYLOAD_LEN);
}

static void setup(void)
{
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(uv_loop_init(&c.loop), 0);
	strcpy(c.dir, "/tmp/test-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(c.dir));
	snprintf(c.sub, sizeof(c.sub), "%s/spool", c.dir);
	snprintf(c.path, sizeof(c.path), "%s/cdr.journal", c.sub);
}

static void remove_dir(const char *dir)
{
	char name[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
		if (unlink(name) < 0)
			remove_dir(name);
	}
	closedir(d);
	rmdir(dir);
}

static void teardown(void)
{
	uv_run(&c.loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&c.loop), 0);
	remove_dir(c.dir);
}

static void on_open(int error, struct journal *j, void *userdata)
{
	struct ctx *x = userdata;

	x->open_status = error;
	x->j = j;
	x->opened = true;
}

static int open_journal(uint64_t max_bytes)
{
	struct journal_config cfg = {.max_bytes = max_bytes};

	c.opened = false;
	c.j = NULL;
	ck_assert_int_eq(journal_open(&c.loop, c.path, &cfg, on_open, &c), 0);
	while (!c.opened)
		uv_run(&c.loop, UV_RUN_ONCE);
	return c.open_status;
}

static void on_close(void *userdata)
{
	struct ctx *x = userdata;
	size_t ok = 0;

	for (size_t i = 0; i < x->results; i++)
		ok += x->errors[i] == 0;
	x->ok_at_close = ok;
	x->closed = true;
}

static void close_journal(void)
{
	c.closed = false;
	journal_close(c.j, on_close, &c);
	while (!c.closed)
		uv_run(&c.loop, UV_RUN_ONCE);
	c.j = NULL;
}

static void on_append(int error, uint64_t seq, void *userdata)
{
	struct ctx *x = userdata;

	ck_assert_uint_lt(x->results, MAX_RESULTS);
	x->errors[x->results] = error;
	x->seqs[x->results] = seq;
	x->results++;
}

static void append_n(size_t n, size_t first)
{
	char buf[PAYLOAD_LEN];

	for (size_t i = 0; i < n; i++) {
		payload(buf, first + i);
		ck_assert_int_eq(
		    journal_append(c.j, buf, sizeof(buf), on_append, &c), 0);
	}
}

/* Appends n records and runs the loop until every callback ran, checking
 * that each succeeded in order. */
static void append_wait(size_t n, size_t first)
{
	size_t before = c.results;

	append_n(n, first);
	while (c.results < before + n)
		uv_run(&c.loop, UV_RUN_ONCE);
	for (size_t i = before; i < c.results; i++) {
		ck_assert_int_eq(c.errors[i], 0);
		if (i > before)
			ck_assert_uint_gt(c.seqs[i], c.seqs[i - 1]);
	}
}

/* Runs the loop until the journal has no request in flight that would
 * change the file (used after acks). */
static void settle(void)
{
	uv_run(&c.loop, UV_RUN_DEFAULT);
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

static void file_truncate(off_t size)
{
	ck_assert_int_eq(truncate(c.path, size), 0);
}

static void file_pwrite(const void *data, size_t len, off_t off)
{
	int fd = open(c.path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, len, off), (ssize_t)len);
	close(fd);
}

/* Checks that the pending records are exactly n payloads starting at
 * first, with sequence numbers first_seq, first_seq + 1, ... */
static void expect_records(size_t n, size_t first, uint64_t first_seq)
{
	const struct journal_record *r = journal_first(c.j);
	char buf[PAYLOAD_LEN];

	ck_assert_uint_eq(journal_count(c.j), n);
	for (size_t i = 0; i < n; i++, r = journal_next(c.j, r)) {
		ck_assert_ptr_nonnull(r);
		payload(buf, first + i);
		ck_assert_uint_eq(r->seq, first_seq + i);
		ck_assert_uint_eq(r->len, PAYLOAD_LEN);
		ck_assert(memcmp(r->data, buf, PAYLOAD_LEN) == 0);
	}
	ck_assert_ptr_null(r);
}

START_TEST(crc32c_vector)
{
	ck_assert_uint_eq(crc32c_update(0, "123456789", 9), 0xe3069283U);
	ck_assert_uint_eq(
	    crc32c_update(crc32c_update(0, "1234", 4), "56789", 5),
	    0xe3069283U);
	ck_assert_uint_eq(crc32c_update(0, NULL, 0), 0);
}
END_TEST

START_TEST(append_then_replay)
{
	struct journal_stats st;

	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 0);
	ck_assert_uint_eq(journal_bytes(c.j), JOURNAL_HEADER_SIZE);
	ck_assert_uint_eq(journal_next_seq(c.j), 1);
	append_wait(1000, 0);
	for (size_t i = 0; i < 1000; i++)
		ck_assert_uint_eq(c.seqs[i], i + 1);
	expect_records(1000, 0, 1);
	ck_assert_uint_eq(journal_bytes(c.j),
			  JOURNAL_HEADER_SIZE + 1000 * FRAME_LEN);
	close_journal();
	ck_assert_int_eq(file_size(c.path),
			 JOURNAL_HEADER_SIZE + 1000 * FRAME_LEN);

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(1000, 0, 1);
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.dropped_records, 0);
	ck_assert_uint_eq(st.dropped_bytes, 0);
	ck_assert_uint_eq(journal_next_seq(c.j), 1001);
	close_journal();
}
END_TEST

static void on_chain(int error, uint64_t seq, void *userdata)
{
	char buf[PAYLOAD_LEN];

	on_append(error, seq, userdata);
	if (c.chain_left == 0)
		return;
	c.chain_left--;
	payload(buf, c.results);
	ck_assert_int_eq(journal_append(c.j, buf, sizeof(buf), on_chain, &c),
			 0);
}

START_TEST(group_commit)
{
	struct journal_stats st;
	const size_t n = 1000, chain = 200;
	uint64_t t0, t1, syncs;

	ck_assert_int_eq(open_journal(0), 0);
	t0 = uv_hrtime();
	append_wait(n, 0);
	t1 = uv_hrtime();
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.appends, n);
	/* The first append starts a write at once; the rest queue behind it
	 * and share the next write and sync. */
	ck_assert_uint_lt(st.syncs, n);
	ck_assert_uint_le(st.syncs, 3);
	printf("group commit: %zu appends, %" PRIu64 " syncs, %.1f ms, "
	       "%.0f appends/s\n",
	       n, st.syncs, (double)(t1 - t0) / 1e6,
	       (double)n * 1e9 / (double)(t1 - t0));

	/* Each callback appends the next record: nothing can share a sync. */
	c.chain_left = chain - 1;
	syncs = st.syncs;
	t0 = uv_hrtime();
	ck_assert_int_eq(
	    journal_append(c.j, "{\"i\":9999}", PAYLOAD_LEN, on_chain, &c), 0);
	while (c.results < n + chain)
		uv_run(&c.loop, UV_RUN_ONCE);
	t1 = uv_hrtime();
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.syncs - syncs, chain);
	printf("one at a time: %zu appends, %.1f ms, %.0f appends/s\n", chain,
	       (double)(t1 - t0) / 1e6,
	       (double)chain * 1e9 / (double)(t1 - t0));
	for (size_t i = 1; i < c.results; i++) {
		ck_assert_int_eq(c.errors[i], 0);
		ck_assert_uint_eq(c.seqs[i], c.seqs[i - 1] + 1);
	}
	ck_assert_uint_eq(journal_count(c.j), n + chain);
	close_journal();
}
END_TEST

START_TEST(torn_tail_truncated)
{
	struct journal_stats st;
	const off_t full = JOURNAL_HEADER_SIZE + 10 * FRAME_LEN;

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(10, 0);
	close_journal();
	file_truncate(full - 3);

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(9, 0, 1);
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.dropped_records, 1);
	ck_assert_uint_eq(st.dropped_bytes, FRAME_LEN - 3);
	ck_assert_uint_eq(journal_bytes(c.j), full - FRAME_LEN);
	ck_assert_int_eq(file_size(c.path), full - FRAME_LEN);
	/* The torn record was never reported durable: its number may be
	 * reused, and the next append lands right after the good prefix. */
	append_wait(1, 9);
	close_journal();

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(10, 0, 1);
	close_journal();
}
END_TEST

START_TEST(garbage_tail_dropped)
{
	static const char garbage[] = "WJR\x01\x05\x00\x00\x00junk and more";
	struct journal_stats st;
	const off_t full = JOURNAL_HEADER_SIZE + 10 * FRAME_LEN;

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(10, 0);
	close_journal();
	file_pwrite(garbage, sizeof(garbage), full);

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(10, 0, 1);
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.dropped_records, 1);
	ck_assert_uint_eq(st.dropped_bytes, sizeof(garbage));
	ck_assert_int_eq(file_size(c.path), full);
	ck_assert_uint_eq(journal_next_seq(c.j), 11);
	close_journal();
}
END_TEST

START_TEST(flipped_byte_in_middle)
{
	char copy[160];
	unsigned char byte;
	const off_t at =
	    JOURNAL_HEADER_SIZE + 4 * FRAME_LEN + JOURNAL_FRAME_SIZE + 3;

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(10, 0);
	close_journal();
	byte = 'X';
	file_pwrite(&byte, 1, at);

	ck_assert_int_eq(open_journal(0), -EBADMSG);
	ck_assert_ptr_nonnull(c.j);
	expect_records(4, 0, 1);
	/* Records 6 to 10 survive after the damage: their numbers are not
	 * reused, and the original file is kept for inspection. */
	ck_assert_uint_eq(journal_next_seq(c.j), 11);
	snprintf(copy, sizeof(copy), "%s.corrupt-11", c.path);
	ck_assert_int_eq(file_size(copy), JOURNAL_HEADER_SIZE + 10 * FRAME_LEN);
	ck_assert_int_eq(file_size(c.path),
			 JOURNAL_HEADER_SIZE + 4 * FRAME_LEN);
	append_wait(1, 4);
	ck_assert_uint_eq(c.seqs[c.results - 1], 11);
	close_journal();

	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 5);
	ck_assert_uint_eq(journal_next_seq(c.j), 12);
	close_journal();
}
END_TEST

START_TEST(cap_enospc)
{
	const uint64_t cap = JOURNAL_HEADER_SIZE + 3 * FRAME_LEN;
	char buf[PAYLOAD_LEN];

	ck_assert_int_eq(open_journal(cap), 0);
	append_wait(3, 0);
	payload(buf, 3);
	ck_assert_int_eq(journal_append(c.j, buf, sizeof(buf), on_append, &c),
			 -ENOSPC);
	settle();
	ck_assert_uint_eq(c.results, 3);
	ck_assert_uint_eq(journal_bytes(c.j), cap);
	ck_assert_int_eq(file_size(c.path), cap);

	/* Acknowledging everything empties the file and frees the room. */
	ck_assert_int_eq(journal_ack(c.j, 3), 3);
	settle();
	ck_assert_uint_eq(journal_bytes(c.j), JOURNAL_HEADER_SIZE);
	append_wait(1, 3);
	ck_assert_uint_eq(c.seqs[3], 4);
	close_journal();
}
END_TEST

START_TEST(bad_sizes_refused)
{
	size_t big = JOURNAL_MAX_RECORD + 1;
	char *data = calloc(1, big);

	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_int_eq(journal_append(c.j, data, big, on_append, &c),
			 -EMSGSIZE);
	ck_assert_int_eq(journal_append(c.j, data, 0, on_append, &c), -EINVAL);
	/* The largest record is accepted. */
	memset(data, 'a', big);
	ck_assert_int_eq(
	    journal_append(c.j, data, JOURNAL_MAX_RECORD, on_append, &c), 0);
	free(data);
	while (c.results < 1)
		uv_run(&c.loop, UV_RUN_ONCE);
	ck_assert_int_eq(c.errors[0], 0);
	ck_assert_uint_eq(journal_bytes(c.j), JOURNAL_HEADER_SIZE +
						  JOURNAL_FRAME_SIZE +
						  JOURNAL_MAX_RECORD);
	close_journal();
	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 1);
	ck_assert_uint_eq(journal_first(c.j)->len, JOURNAL_MAX_RECORD);
	close_journal();

	ck_assert_int_eq(journal_open(&c.loop, c.path,
				      &(struct journal_config){.max_bytes = 8},
				      on_open, &c),
			 -EINVAL);
}
END_TEST

START_TEST(ack_all_truncates)
{
	struct journal_stats st;

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(5, 0);
	ck_assert_int_eq(journal_ack(c.j, 6), -EINVAL);
	ck_assert_int_eq(journal_ack(c.j, 5), 5);
	ck_assert_uint_eq(journal_count(c.j), 0);
	ck_assert_ptr_null(journal_first(c.j));
	settle();
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.compactions, 1);
	ck_assert_uint_eq(journal_bytes(c.j), JOURNAL_HEADER_SIZE);
	ck_assert_int_eq(file_size(c.path), JOURNAL_HEADER_SIZE);
	ck_assert_int_eq(journal_ack(c.j, 5), 0);
	close_journal();

	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 0);
	ck_assert_uint_eq(journal_next_seq(c.j), 6);
	append_wait(1, 5);
	ck_assert_uint_eq(c.seqs[5], 6);
	/* Twice, so that both header slots have been written. */
	ck_assert_int_eq(journal_ack(c.j, 6), 1);
	settle();
	close_journal();
	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_next_seq(c.j), 7);
	close_journal();
}
END_TEST

START_TEST(ack_partial_replays)
{
	ck_assert_int_eq(open_journal(0), 0);
	append_wait(5, 0);
	ck_assert_int_eq(journal_ack(c.j, 3), 3);
	expect_records(2, 3, 4);
	settle();
	ck_assert_uint_eq(journal_bytes(c.j),
			  JOURNAL_HEADER_SIZE + 5 * FRAME_LEN);
	close_journal();

	/* The file still holds the acknowledged records, and replay sends
	 * them again (documented: consumers are idempotent). */
	ck_assert_int_eq(open_journal(0), 0);
	expect_records(5, 0, 1);
	close_journal();
}
END_TEST

START_TEST(floor_after_interrupted_compaction)
{
	unsigned char slot[16];

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(3, 0);
	close_journal();
	/* A crash between the header update and the truncation leaves a
	 * floor above the records in the file. Slot 1 has not been used. */
	memcpy(slot, "WJH\x01", 4);
	for (unsigned i = 0; i < 8; i++)
		slot[4 + i] = (unsigned char)((i == 0) ? 40 : 0);
	{
		uint32_t crc = crc32c_update(0, slot, 12);

		for (unsigned i = 0; i < 4; i++)
			slot[12 + i] = (unsigned char)(crc >> (8 * i));
	}
	file_pwrite(slot, sizeof(slot), 16);

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(3, 0, 1);
	ck_assert_uint_eq(journal_next_seq(c.j), 40);
	close_journal();

	/* A torn slot update: the other slot still gives a floor. */
	memset(slot, 0xee, sizeof(slot));
	file_pwrite(slot, sizeof(slot), 16);
	ck_assert_int_eq(open_journal(0), 0);
	expect_records(3, 0, 1);
	ck_assert_uint_eq(journal_next_seq(c.j), 4);
	close_journal();
}
END_TEST

/* Writes a valid frame (CRC included) with seq and payload at off. */
static void frame_pwrite(uint64_t seq, const char *text, off_t off)
{
	unsigned char f[JOURNAL_FRAME_SIZE + 16];
	size_t len = strlen(text);
	uint32_t crc;

	ck_assert_uint_le(len, 16);
	memcpy(f, "WJR\x01", 4);
	for (unsigned i = 0; i < 4; i++)
		f[4 + i] = (unsigned char)(len >> (8 * i));
	for (unsigned i = 0; i < 8; i++)
		f[8 + i] = (unsigned char)(seq >> (8 * i));
	memcpy(f + JOURNAL_FRAME_SIZE, text, len);
	crc = crc32c_update(crc32c_update(0, f, 16), text, len);
	for (unsigned i = 0; i < 4; i++)
		f[16 + i] = (unsigned char)(crc >> (8 * i));
	file_pwrite(f, JOURNAL_FRAME_SIZE + len, off);
}

/* Found by fuzz-journal: a record numbered 2^64 - 1 made the next sequence
 * number wrap around to 0, so the next append went out with a number below
 * the ones before it. Sequence numbers past JOURNAL_MAX_SEQ are damage. */
START_TEST(sequence_numbers_never_wrap)
{
	off_t end;

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(2, 0);
	close_journal();
	end = file_size(c.path);
	frame_pwrite(UINT64_MAX, "{}", end);
	ck_assert_int_eq(open_journal(0), 0);
	expect_records(2, 0, 1);
	ck_assert_uint_eq(journal_next_seq(c.j), 3);
	close_journal();
	ck_assert_int_eq(file_size(c.path), end);

	/* The last number there is may be used; then appends are refused. */
	frame_pwrite(JOURNAL_MAX_SEQ, "{}", end);
	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 3);
	ck_assert_uint_eq(journal_next_seq(c.j), JOURNAL_MAX_SEQ + 1);
	ck_assert_int_eq(journal_append(c.j, "x", 1, on_append, &c),
			 -EOVERFLOW);
	close_journal();
}
END_TEST

START_TEST(torn_creation_repaired)
{
	ck_assert_int_eq(mkdir(c.sub, 0700), 0);
	{
		int fd = open(c.path, O_CREAT | O_WRONLY, 0600);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "WJH", 3), 3);
		close(fd);
	}
	ck_assert_int_eq(open_journal(0), 0);
	ck_assert_uint_eq(journal_count(c.j), 0);
	ck_assert_uint_eq(journal_bytes(c.j), JOURNAL_HEADER_SIZE);
	ck_assert_int_eq(file_size(c.path), JOURNAL_HEADER_SIZE);
	close_journal();
}
END_TEST

START_TEST(close_with_appends_pending)
{
	char buf[PAYLOAD_LEN];
	struct stat st;

	ck_assert_int_eq(open_journal(0), 0);
	append_n(50, 0);
	journal_close(c.j, on_close, &c);
	payload(buf, 50);
	ck_assert_int_eq(journal_append(c.j, buf, sizeof(buf), on_append, &c),
			 -ECANCELED);
	while (!c.closed)
		uv_run(&c.loop, UV_RUN_ONCE);
	c.j = NULL;
	/* Close finishes queued appends before it frees the journal. */
	ck_assert_uint_eq(c.results, 50);
	ck_assert_uint_eq(c.ok_at_close, 50);
	ck_assert_int_eq(stat(c.path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(50, 0, 1);
	close_journal();
}
END_TEST

START_TEST(write_error_fails_queue)
{
	const off_t good = JOURNAL_HEADER_SIZE + FRAME_LEN;
	struct journal_stats st;
	struct rlimit saved, lim;
	char buf[PAYLOAD_LEN];

	ck_assert_int_eq(open_journal(0), 0);
	append_wait(1, 0);
	/* The file size limit makes the next write stop part-way with EFBIG,
	 * like a full disk would with ENOSPC. */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)good + 25;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	append_n(3, 1);
	while (c.results < 4)
		uv_run(&c.loop, UV_RUN_ONCE);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	/* The failed record and the two queued behind it all fail. */
	for (size_t i = 1; i < 4; i++)
		ck_assert_int_eq(c.errors[i], -EFBIG);
	payload(buf, 4);
	ck_assert_int_eq(journal_append(c.j, buf, sizeof(buf), on_append, &c),
			 -EFBIG);
	expect_records(1, 0, 1);
	close_journal();

	ck_assert_int_eq(open_journal(0), 0);
	expect_records(1, 0, 1);
	journal_get_stats(c.j, &st);
	ck_assert_uint_eq(st.dropped_records, 1);
	ck_assert_uint_eq(st.dropped_bytes, 25);
	ck_assert_int_eq(file_size(c.path), good);
	append_wait(1, 1);
	close_journal();
}
END_TEST

static void on_close_from_cb(int error, uint64_t seq, void *userdata)
{
	on_append(error, seq, userdata);
	if (c.results == 2) {
		ck_assert_int_eq(journal_ack(c.j, seq), 2);
		journal_close(c.j, on_close, &c);
	}
}

START_TEST(close_and_ack_from_callback)
{
	char buf[PAYLOAD_LEN];

	ck_assert_int_eq(open_journal(0), 0);
	/* The first record goes out alone; the other three queue behind it
	 * and complete together. */
	for (size_t i = 0; i < 4; i++) {
		payload(buf, i);
		ck_assert_int_eq(
		    journal_append(c.j, buf, sizeof(buf), on_close_from_cb, &c),
		    0);
	}
	while (!c.closed)
		uv_run(&c.loop, UV_RUN_ONCE);
	c.j = NULL;
	ck_assert_uint_eq(c.ok_at_close, 4);

	/* Acking everything so far from the second record's callback did not
	 * truncate the file under the two records that became durable in
	 * the same batch. */
	ck_assert_int_eq(open_journal(0), 0);
	expect_records(4, 0, 1);
	close_journal();
}
END_TEST

START_TEST(open_failure)
{
	c.opened = false;
	ck_assert_int_eq(journal_open(&c.loop, "/nonexistent-journal-dir/x/j",
				      NULL, on_open, &c),
			 0);
	while (!c.opened)
		uv_run(&c.loop, UV_RUN_ONCE);
	ck_assert_int_eq(c.open_status, -ENOENT);
	ck_assert_ptr_null(c.j);

	/* A directory where the file should be. */
	ck_assert_int_eq(mkdir(c.sub, 0700), 0);
	ck_assert_int_eq(mkdir(c.path, 0700), 0);
	ck_assert_int_lt(open_journal(0), 0);
	ck_assert_ptr_null(c.j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-journal");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, crc32c_vector);
	tcase_add_test(tc, append_then_replay);
	tcase_add_test(tc, group_commit);
	tcase_add_test(tc, torn_tail_truncated);
	tcase_add_test(tc, garbage_tail_dropped);
	tcase_add_test(tc, flipped_byte_in_middle);
	tcase_add_test(tc, cap_enospc);
	tcase_add_test(tc, bad_sizes_refused);
	tcase_add_test(tc, ack_all_truncates);
	tcase_add_test(tc, ack_partial_replays);
	tcase_add_test(tc, floor_after_interrupted_compaction);
	tcase_add_test(tc, torn_creation_repaired);
	tcase_add_test(tc, sequence_numbers_never_wrap);
	tcase_add_test(tc, write_error_fails_queue);
	tcase_add_test(tc, close_with_appends_pending);
	tcase_add_test(tc, close_and_ack_from_callback);
	tcase_add_test(tc, open_failure);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
