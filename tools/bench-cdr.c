/* bench-cdr.c: CDR write throughput through the batched writer into a real
 * PostgreSQL. Usage: bench-cdr DATABASE_URL [CALLS]
 *
 * Each call is written twice, as the daemon does: a snapshot when it starts
 * and one when it ends, all starts first so that no batch folds the two
 * into one row. Prints calls per second once every row is confirmed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cdr/cdr.h"
#include "db/pool.h"
#include "util/log.h"

struct bench {
	uv_loop_t loop;
	struct db_pool *db;
	struct cdr_writer *writer;
	uv_timer_t poll;
	struct cdr *cdrs;
	long calls;
	bool submitted;
	uint64_t start_ns;
	char journal[256];
};

static void submit_all(struct bench *b)
{
	int64_t now = cdr_now_us();
	char id[64];

	for (long i = 0; i < b->calls; i++) {
		snprintf(id, sizeof(id), "bench-%d-%ld", (int)getpid(), i);
		cdr_init_inbound(&b->cdrs[i], id, "15550001", "5000", id, now);
		b->cdrs[i].answer_us = now;
		cdr_writer_submit(b->writer, cdr_snapshot(&b->cdrs[i]));
	}
	for (long i = 0; i < b->calls; i++) {
		cdr_finish(&b->cdrs[i], now + 60000000, 16, NULL, "caller");
		cdr_writer_submit(b->writer, cdr_snapshot(&b->cdrs[i]));
	}
}

static void on_closed(void *userdata)
{
	struct bench *b = userdata;

	db_pool_close(b->db);
}

static void on_poll(uv_timer_t *timer)
{
	struct bench *b = timer->data;
	struct cdr_writer_stats st;

	if (!b->submitted) {
		if (db_pool_connected(b->db) == 0)
			return;
		b->submitted = true;
		b->start_ns = uv_hrtime();
		submit_all(b);
		return;
	}
	cdr_writer_get_stats(b->writer, &st);
	if (st.written + st.rejected < (uint64_t)b->calls * 2)
		return;
	double secs = (uv_hrtime() - b->start_ns) / 1e9;
	printf(
	    "cdr-write calls=%ld snapshots=%llu rejected=%llu journaled=%llu "
	    "seconds=%.3f calls_per_s=%.0f\n",
	    b->calls, (unsigned long long)st.written,
	    (unsigned long long)st.rejected, (unsigned long long)st.journaled,
	    secs, b->calls / secs);
	uv_close((uv_handle_t *)timer, NULL);
	cdr_writer_close(b->writer, on_closed, b);
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct db_pool_config pc = {0};
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-cdr DATABASE_URL [CALLS]\n");
		return 2;
	}
	log_set_level(LOG_LEVEL_WARNING);
	b.calls = argc > 2 ? atol(argv[2]) : 20000;
	b.cdrs = calloc((size_t)b.calls, sizeof(*b.cdrs));
	snprintf(b.journal, sizeof(b.journal), "/tmp/bench-cdr-%d.journal",
		 (int)getpid());
	pc.conninfo = argv[1];
	uv_loop_init(&b.loop);
	r = db_pool_new(&b.loop, &pc, &b.db);
	if (r == 0)
		r = cdr_writer_new(&b.loop, b.db, b.journal, &b.writer);
	if (r < 0 || !b.cdrs) {
		fprintf(stderr, "bench-cdr: %s\n",
			strerror(r < 0 ? -r : ENOMEM));
		return 1;
	}
	uv_timer_init(&b.loop, &b.poll);
	b.poll.data = &b;
	uv_timer_start(&b.poll, on_poll, 1, 1);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	for (long i = 0; i < b.calls; i++)
		cdr_clear(&b.cdrs[i]);
	free(b.cdrs);
	unlink(b.journal);
	return uv_loop_close(&b.loop) == 0 ? 0 : 1;
}
