/* test-db-pool.c: the async libpq pool against a real PostgreSQL. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/pool.h"
#include "pgtest.h"
#include "testlib.h"

/* What one query's callback saw. */
struct result {
	bool done;
	int error;
	char value[128];
	char sqlstate[6];
	bool res_null;
};

static void on_result(int error, const PGresult *res, void *userdata)
{
	struct result *r = userdata;
	const char *state;

	ck_assert(!r->done);
	r->done = true;
	r->error = error;
	r->res_null = res == NULL;
	if (error == 0 && res && PQntuples(res) > 0)
		snprintf(r->value, sizeof(r->value), "%s",
			 PQgetvalue(res, 0, 0));
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state)
		snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", state);
}

static void wait_result(uv_loop_t *loop, struct result *r)
{
	ck_assert_msg(pgtest_run_until(loop, &r->done, PGTEST_TIMEOUT_MS),
		      "query callback never ran");
}

START_TEST(param_select)
{
	const char *params[] = {"41"};
	const char *null_param[] = {NULL};
	struct result a = {0}, b = {0};
	struct db_pool *pool;
	uv_loop_t loop;

	uv_loop_init(&loop);
	pool = pgtest_pool(&loop, pgtest_url(), NULL);
	ck_assert_uint_eq(db_pool_connected(pool), 2);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT $1::int + 1", 1, params, on_result, &a),
	    0);
	ck_assert_int_eq(db_pool_query(pool, "SELECT $1::text IS NULL", 1,
				       null_param, on_result, &b),
			 0);
	/* The callback never runs from inside the call. */
	ck_assert(!a.done);
	ck_assert_uint_eq(db_pool_pending(pool), 2);
	wait_result(&loop, &a);
	wait_result(&loop, &b);
	ck_assert_int_eq(a.error, 0);
	ck_assert_str_eq(a.value, "42");
	ck_assert_int_eq(b.error, 0);
	ck_assert_str_eq(b.value, "t");
	ck_assert_uint_eq(db_pool_pending(pool), 0);
	ck_assert_int_eq(db_pool_query(pool, NULL, 0, NULL, on_result, &a),
			 -EINVAL);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 1", 1, NULL, on_result, &a), -EINVAL);
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

START_TEST(prepared_statements)
{
	const char *two[] = {"6", "7"};
	struct result add = {0}, mul = {0}, bad = {0};
	struct db_pool_config cfg = {.size = 2};
	struct db_pool *pool;
	uv_loop_t loop;

	uv_loop_init(&loop);
	cfg.conninfo = pgtest_url();
	/* Registered before any connection is up... */
	ck_assert_int_eq(db_pool_new(&loop, &cfg, &pool), 0);
	ck_assert_int_eq(
	    db_pool_prepare(pool, "add", "SELECT $1::int + $2::int", 2), 0);
	ck_assert_int_eq(db_pool_prepare(pool, "add", "SELECT 1", 0), -EEXIST);
	ck_assert_int_eq(db_pool_execute(pool, "add", 2, two, on_result, &add),
			 -ENOTCONN);
	pgtest_wait_up(&loop, pool, 2);
	/* ...and after: both reach every connection before it is used. */
	ck_assert_int_eq(
	    db_pool_prepare(pool, "mul", "SELECT $1::int * $2::int", 2), 0);
	ck_assert_int_eq(db_pool_prepare(pool, "broken", "SELEC 1", 0), 0);
	ck_assert_int_eq(db_pool_execute(pool, "add", 2, two, on_result, &add),
			 0);
	ck_assert_int_eq(db_pool_execute(pool, "mul", 2, two, on_result, &mul),
			 0);
	ck_assert_int_eq(
	    db_pool_execute(pool, "nope", 0, NULL, on_result, &bad), -ENOENT);
	wait_result(&loop, &add);
	wait_result(&loop, &mul);
	ck_assert_int_eq(add.error, 0);
	ck_assert_str_eq(add.value, "13");
	ck_assert_int_eq(mul.error, 0);
	ck_assert_str_eq(mul.value, "42");
	/* A statement the server refused fails its executions only. */
	ck_assert_int_eq(
	    db_pool_execute(pool, "broken", 0, NULL, on_result, &bad), 0);
	wait_result(&loop, &bad);
	ck_assert_int_eq(bad.error, -EIO);
	ck_assert_str_eq(bad.sqlstate, "26000");
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

START_TEST(sql_error_and_open_transaction)
{
	struct result err = {0}, open = {0}, after = {0}, ok = {0};
	struct result copy_out = {0}, copy_in = {0};
	struct pgtest_schema s;
	struct db_pool *pool;
	uv_loop_t loop;

	uv_loop_init(&loop);
	pgtest_schema_create(&loop, &s);
	pool =
	    pgtest_pool(&loop, s.conninfo, &(struct db_pool_config){.size = 1});
	ck_assert_int_eq(db_pool_query(pool, "SELECT * FROM no_such_table", 0,
				       NULL, on_result, &err),
			 0);
	/* A script that leaves its transaction open must not leak it into
	 * the next query on the same connection. */
	ck_assert_int_eq(db_pool_script(pool,
					"BEGIN; CREATE TABLE left_open (x int)",
					on_result, &open),
			 0);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT to_regclass('left_open') IS NULL", 0,
			  NULL, on_result, &after),
	    0);
	/* COPY cannot stall the connection. */
	ck_assert_int_eq(db_pool_script(pool, "COPY (SELECT 1) TO STDOUT",
					on_result, &copy_out),
			 0);
	ck_assert_int_eq(db_pool_script(pool,
					"CREATE TABLE c (x int); "
					"COPY c FROM STDIN",
					on_result, &copy_in),
			 0);
	ck_assert_int_eq(
	    db_pool_script(pool, "-- nothing but a comment", on_result, &ok),
	    0);
	wait_result(&loop, &ok);
	ck_assert_int_eq(err.error, -EIO);
	ck_assert(!err.res_null);
	ck_assert_str_eq(err.sqlstate, "42P01");
	ck_assert_int_eq(open.error, 0);
	ck_assert_int_eq(after.error, 0);
	ck_assert_str_eq(after.value, "t");
	ck_assert_int_eq(ok.error, 0);
	ck_assert_int_eq(copy_out.error, 0);
	ck_assert_int_eq(copy_in.error, -EIO);
	ck_assert_str_eq(copy_in.sqlstate, "57014");
	db_pool_close(pool);
	pgtest_schema_drop(&loop, &s);
	pgtest_loop_close(&loop);
}
END_TEST

#define FIFO_QUERIES 50

struct fifo {
	unsigned done;
	int order[FIFO_QUERIES];    /* query index, in completion order */
	long backend[FIFO_QUERIES]; /* backend pid, in completion order */
	bool all;
};

struct fifo_query {
	struct fifo *f;
	int index;
};

static void on_fifo(int error, const PGresult *res, void *userdata)
{
	struct fifo_query *q = userdata;
	struct fifo *f = q->f;

	ck_assert_int_eq(error, 0);
	ck_assert_int_eq(atoi(PQgetvalue(res, 0, 0)), q->index);
	f->order[f->done] = q->index;
	f->backend[f->done] = atol(PQgetvalue(res, 0, 1));
	if (++f->done == FIFO_QUERIES)
		f->all = true;
}

/* Queries leave the queue in order; with two connections they may finish
 * out of order between connections, never on one connection. */
START_TEST(fifo_on_two_connections)
{
	struct fifo_query q[FIFO_QUERIES];
	struct fifo f = {0};
	struct db_pool *pool;
	long backends[2] = {0, 0};
	uv_loop_t loop;

	uv_loop_init(&loop);
	pool = pgtest_pool(&loop, pgtest_url(),
			   &(struct db_pool_config){.size = 2});
	for (int i = 0; i < FIFO_QUERIES; i++) {
		char num[16];
		const char *params[] = {num};

		snprintf(num, sizeof(num), "%d", i);
		q[i] = (struct fifo_query){.f = &f, .index = i};
		ck_assert_int_eq(
		    db_pool_query(pool, "SELECT $1::int, pg_backend_pid()", 1,
				  params, on_fifo, &q[i]),
		    0);
	}
	ck_assert_uint_eq(db_pool_pending(pool), FIFO_QUERIES);
	ck_assert(pgtest_run_until(&loop, &f.all, PGTEST_TIMEOUT_MS));
	backends[0] = f.backend[0];
	for (int i = 0; i < FIFO_QUERIES && !backends[1]; i++) {
		if (f.backend[i] != backends[0])
			backends[1] = f.backend[i];
	}
	for (int b = 0; b < 2; b++) {
		int last = -1;

		for (int i = 0; i < FIFO_QUERIES; i++) {
			if (f.backend[i] != backends[b])
				continue;
			ck_assert_int_gt(f.order[i], last);
			last = f.order[i];
		}
	}
	ck_assert(backends[0] != backends[1] && backends[1] != 0);
	ck_assert_uint_eq(db_pool_pending(pool), 0);
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

START_TEST(queue_cap)
{
	struct result r[4] = {0};
	struct db_pool *pool;
	uv_loop_t loop;

	uv_loop_init(&loop);
	pool = pgtest_pool(&loop, pgtest_url(),
			   &(struct db_pool_config){.size = 1, .max_queue = 3});
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(
		    db_pool_query(pool, "SELECT 1", 0, NULL, on_result, &r[i]),
		    0);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 1", 0, NULL, on_result, &r[3]),
	    -ENOBUFS);
	for (int i = 0; i < 3; i++) {
		wait_result(&loop, &r[i]);
		ck_assert_int_eq(r[i].error, 0);
	}
	ck_assert(!r[3].done);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 1", 0, NULL, on_result, &r[3]), 0);
	wait_result(&loop, &r[3]);
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

struct notify_test {
	struct db_pool *pool;
	char channel[64];
	char payload[64];
	bool got;
	bool sending;
	unsigned seen;
};

static void on_notify(const char *channel, const char *payload, void *userdata)
{
	struct notify_test *t = userdata;

	ck_assert_str_eq(channel, t->channel);
	ck_assert_str_eq(payload, t->payload);
	t->seen++;
	t->got = true;
}

static void on_notify_sent(int error, const PGresult *res, void *userdata)
{
	struct notify_test *t = userdata;

	/* The last NOTIFY may still be out when the test closes the pool. */
	ck_assert(error == 0 || error == -ECANCELED);
	t->sending = false;
}

/* The NOTIFY is repeated until the LISTEN has taken effect on the
 * dedicated connection: earlier ones are lost by design. */
static void on_notify_timer(uv_timer_t *timer)
{
	struct notify_test *t = timer->data;
	const char *params[] = {t->channel, t->payload};

	if (t->got || t->sending)
		return;
	ck_assert_int_eq(db_pool_query(t->pool, "SELECT pg_notify($1, $2)", 2,
				       params, on_notify_sent, t),
			 0);
	t->sending = true;
}

START_TEST(listen_notify)
{
	struct notify_test t = {0};
	char listen_sql[96], killed[16];
	const char *params[] = {listen_sql};
	uv_timer_t timer;
	uv_loop_t loop;

	uv_loop_init(&loop);
	snprintf(t.channel, sizeof(t.channel), "wt_chan_%ld", (long)getpid());
	snprintf(t.payload, sizeof(t.payload), "hello %ld", (long)getpid());
	t.pool = pgtest_pool(
	    &loop, pgtest_url(),
	    &(struct db_pool_config){.size = 1, .reconnect_min_ms = 20});
	ck_assert_int_eq(db_pool_listen(t.pool, t.channel, on_notify, &t), 0);
	ck_assert_int_eq(db_pool_listen(t.pool, t.channel, on_notify, &t),
			 -EEXIST);
	ck_assert_int_eq(db_pool_listen(t.pool, "", on_notify, &t), -EINVAL);
	uv_timer_init(&loop, &timer);
	timer.data = &t;
	uv_timer_start(&timer, on_notify_timer, 0, 50);
	ck_assert(pgtest_run_until(&loop, &t.got, PGTEST_TIMEOUT_MS));
	/* The LISTEN connection does not count as a query connection. */
	ck_assert_uint_eq(db_pool_connected(t.pool), 1);

	/* Kill the LISTEN connection: once it is back it listens again. */
	snprintf(listen_sql, sizeof(listen_sql), "LISTEN \"%s\"", t.channel);
	ck_assert_int_eq(pgtest_query(&loop, t.pool,
				      "SELECT count(pg_terminate_backend(pid)) "
				      "FROM pg_stat_activity WHERE query = $1",
				      1, params, killed, sizeof(killed)),
			 0);
	ck_assert_str_eq(killed, "1");
	pgtest_run_for(&loop, 300);
	t.got = false;
	ck_assert(pgtest_run_until(&loop, &t.got, PGTEST_TIMEOUT_MS));
	uv_close((uv_handle_t *)&timer, NULL);
	db_pool_close(t.pool);
	pgtest_loop_close(&loop);
	ck_assert_uint_ge(t.seen, 2);
}
END_TEST

struct kill_test {
	struct db_pool *killer;
	char pattern[64];
	bool killing;
	bool killed;
	unsigned downs, ups;
	bool back_up;
};

static void on_victim_state(unsigned up, void *userdata)
{
	struct kill_test *k = userdata;

	if (up == 0)
		k->downs++;
	else if (k->downs > 0)
		k->back_up = true;
	k->ups = up;
}

static void on_killed(int error, const PGresult *res, void *userdata)
{
	struct kill_test *k = userdata;

	ck_assert_int_eq(error, 0);
	k->killing = false;
	if (strcmp(PQgetvalue(res, 0, 0), "1") == 0)
		k->killed = true;
}

/* Retries until the victim's statement shows in pg_stat_activity. */
static void on_kill_timer(uv_timer_t *timer)
{
	struct kill_test *k = timer->data;
	const char *params[] = {k->pattern};

	if (k->killed || k->killing)
		return;
	ck_assert_int_eq(
	    db_pool_query(k->killer,
			  "SELECT count(pg_terminate_backend(pid)) "
			  "FROM pg_stat_activity "
			  "WHERE query LIKE $1 AND pid <> pg_backend_pid()",
			  1, params, on_killed, k),
	    0);
	k->killing = true;
}

START_TEST(connection_lost_and_reconnect)
{
	struct db_pool_config cfg = {.size = 1, .reconnect_min_ms = 50};
	struct kill_test k = {0};
	struct result victim = {0}, later = {0};
	struct db_pool *pool;
	char sql[128];
	uv_timer_t timer;
	uv_loop_t loop;

	uv_loop_init(&loop);
	pool = pgtest_pool(&loop, pgtest_url(), &cfg);
	k.killer = pgtest_pool(&loop, pgtest_url(), &cfg);
	db_pool_set_state_cb(pool, on_victim_state, &k);
	snprintf(k.pattern, sizeof(k.pattern), "%%victim-%ld-%llu%%",
		 (long)getpid(), (unsigned long long)uv_hrtime());
	snprintf(sql, sizeof(sql), "SELECT pg_sleep(60) /* %.*s */",
		 (int)strlen(k.pattern) - 2, k.pattern + 1);
	ck_assert_int_eq(db_pool_query(pool, sql, 0, NULL, on_result, &victim),
			 0);
	uv_timer_init(&loop, &timer);
	timer.data = &k;
	uv_timer_start(&timer, on_kill_timer, 20, 50);
	wait_result(&loop, &victim);
	/* The victim may hear of its death before the killer's reply. */
	ck_assert(pgtest_run_until(&loop, &k.killed, PGTEST_TIMEOUT_MS));
	uv_close((uv_handle_t *)&timer, NULL);
	ck_assert_int_eq(victim.error, -ECONNRESET);
	ck_assert(victim.res_null);
	ck_assert_uint_eq(k.downs, 1);
	/* Nothing is up until the reconnect: fail fast. */
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 1", 0, NULL, on_result, &later),
	    -ENOTCONN);
	ck_assert(pgtest_run_until(&loop, &k.back_up, PGTEST_TIMEOUT_MS));
	ck_assert_uint_eq(db_pool_connected(pool), 1);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 'again'", 0, NULL, on_result, &later),
	    0);
	wait_result(&loop, &later);
	ck_assert_int_eq(later.error, 0);
	ck_assert_str_eq(later.value, "again");
	db_pool_close(pool);
	db_pool_close(k.killer);
	pgtest_loop_close(&loop);
}
END_TEST

/* Returns a TCP port on 127.0.0.1 that nothing listens on. */
static int closed_port(uv_loop_t *loop)
{
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int len = sizeof(name);
	uv_tcp_t tcp;

	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(loop, &tcp);
	ck_assert_int_eq(uv_tcp_bind(&tcp, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(
	    uv_tcp_getsockname(&tcp, (struct sockaddr *)&name, &len), 0);
	uv_close((uv_handle_t *)&tcp, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ntohs(((struct sockaddr_in *)&name)->sin_port);
}

START_TEST(unreachable_server)
{
	struct db_pool_config cfg = {
	    .size = 2, .reconnect_min_ms = 10, .reconnect_max_ms = 40};
	struct result r = {0};
	struct db_pool *pool;
	char conninfo[128];
	uv_loop_t loop;

	uv_loop_init(&loop);
	snprintf(conninfo, sizeof(conninfo),
		 "host=127.0.0.1 port=%d dbname=x user=x sslmode=disable",
		 closed_port(&loop));
	cfg.conninfo = conninfo;
	ck_assert_int_eq(db_pool_new(&loop, &cfg, &pool), 0);
	ck_assert_int_eq(
	    db_pool_query(pool, "SELECT 1", 0, NULL, on_result, &r), -ENOTCONN);
	pgtest_run_for(&loop, 300);
	ck_assert_uint_eq(db_pool_connected(pool), 0);
	ck_assert_int_eq(db_pool_script(pool, "SELECT 1", on_result, &r),
			 -ENOTCONN);
	ck_assert(!r.done);
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

/* GSSAPI encryption is off unless asked for, and what asks wins: the
 * conninfo, then PGGSSENCMODE (an invalid value keeps the pool down). */
static const struct db_pool_config one_conn = {
    .size = 1, .reconnect_min_ms = 10, .reconnect_max_ms = 40};

/* A pool on conninfo comes up (waited for as long as it takes: under
 * valgrind a connection with its SCRAM exchange took over 300 ms). */
static void comes_up(uv_loop_t *loop, const char *conninfo)
{
	db_pool_close(pgtest_pool(loop, conninfo, &one_conn));
}

/* A pool on conninfo stays down: libpq refuses the conninfo before it
 * connects, attempt after attempt. */
static void stays_down(uv_loop_t *loop, const char *conninfo)
{
	struct db_pool_config cfg = one_conn;
	struct db_pool *pool;

	cfg.conninfo = conninfo;
	ck_assert_int_eq(db_pool_new(loop, &cfg, &pool), 0);
	pgtest_run_for(loop, 300);
	ck_assert_uint_eq(db_pool_connected(pool), 0);
	db_pool_close(pool);
}

START_TEST(gssencmode_asked_for_wins)
{
	const char *url = pgtest_url();
	char *conninfo = pgtest_conninfo_add(url, "gssencmode", "bogus");
	uv_loop_t loop;

	uv_loop_init(&loop);
	comes_up(&loop, url);
	stays_down(&loop, conninfo);
	free(conninfo);
	ck_assert_int_eq(setenv("PGGSSENCMODE", "bogus", 1), 0);
	stays_down(&loop, url);
	ck_assert_int_eq(setenv("PGGSSENCMODE", "disable", 1), 0);
	comes_up(&loop, url);
	ck_assert_int_eq(unsetenv("PGGSSENCMODE"), 0);
	pgtest_loop_close(&loop);
}
END_TEST

/* A server that accepts and hangs up at once, and records when each
 * connection attempt arrived. */
#define MAX_ATTEMPTS 64

struct hangup_server {
	uv_tcp_t tcp;
	uint64_t at[MAX_ATTEMPTS];
	unsigned attempts;
};

static void on_client_closed(uv_handle_t *handle)
{
	free(handle);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct hangup_server *s = server->data;
	uv_tcp_t *client = malloc(sizeof(*client));

	ck_assert_int_eq(status, 0);
	ck_assert_ptr_nonnull(client);
	uv_tcp_init(server->loop, client);
	ck_assert_int_eq(uv_accept(server, (uv_stream_t *)client), 0);
	uv_close((uv_handle_t *)client, on_client_closed);
	if (s->attempts < MAX_ATTEMPTS)
		s->at[s->attempts++] = uv_now(server->loop);
}

START_TEST(reconnect_backoff)
{
	struct db_pool_config cfg = {
	    .size = 1, .reconnect_min_ms = 20, .reconnect_max_ms = 160};
	struct sockaddr_in addr;
	struct sockaddr_storage name;
	int len = sizeof(name);
	struct hangup_server s = {0};
	struct db_pool *pool;
	char conninfo[160];
	long delay = cfg.reconnect_min_ms;
	uv_loop_t loop;

	uv_loop_init(&loop);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	uv_tcp_init(&loop, &s.tcp);
	s.tcp.data = &s;
	ck_assert_int_eq(uv_tcp_bind(&s.tcp, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(uv_listen((uv_stream_t *)&s.tcp, 16, on_connection),
			 0);
	uv_tcp_getsockname(&s.tcp, (struct sockaddr *)&name, &len);
	snprintf(conninfo, sizeof(conninfo),
		 "host=127.0.0.1 port=%d dbname=x user=x sslmode=disable "
		 "gssencmode=disable",
		 ntohs(((struct sockaddr_in *)&name)->sin_port));
	cfg.conninfo = conninfo;
	ck_assert_int_eq(db_pool_new(&loop, &cfg, &pool), 0);
	pgtest_run_for(&loop, 1000);
	ck_assert_uint_eq(db_pool_connected(pool), 0);
	/* Attempts keep coming, and each wait is at least half the backoff
	 * step (the jitter's floor), which doubles up to the cap. */
	ck_assert_uint_ge(s.attempts, 5);
	for (unsigned i = 1; i < s.attempts; i++) {
		ck_assert_uint_ge(s.at[i] - s.at[i - 1], (uint64_t)delay / 2);
		delay = delay * 2 > cfg.reconnect_max_ms ? cfg.reconnect_max_ms
							 : delay * 2;
	}
	db_pool_close(pool);
	uv_close((uv_handle_t *)&s.tcp, NULL);
	pgtest_loop_close(&loop);
}
END_TEST

struct cancel_test {
	struct db_pool *pool;
	unsigned canceled;
	int reentry;
};

static void on_canceled(int error, const PGresult *res, void *userdata)
{
	struct cancel_test *c = userdata;

	ck_assert_int_eq(error, -ECANCELED);
	ck_assert_ptr_null(res);
	c->canceled++;
	c->reentry =
	    db_pool_query(c->pool, "SELECT 1", 0, NULL, on_canceled, c);
}

START_TEST(close_with_pending)
{
	struct cancel_test c = {0};
	uv_loop_t loop;

	uv_loop_init(&loop);
	c.pool = pgtest_pool(&loop, pgtest_url(),
			     &(struct db_pool_config){.size = 1});
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(db_pool_query(c.pool, "SELECT pg_sleep(2)", 0,
					       NULL, on_canceled, &c),
				 0);
	/* Let the first one go out so that one is in flight. */
	pgtest_run_for(&loop, 100);
	ck_assert_uint_eq(db_pool_pending(c.pool), 5);
	db_pool_close(c.pool);
	ck_assert_uint_eq(c.canceled, 5);
	ck_assert_int_eq(c.reentry, -ECANCELED);
	db_pool_close(NULL);
	pgtest_loop_close(&loop);
}
END_TEST

struct close_inside {
	struct db_pool *pool;
	struct result second;
	bool first;
};

static void on_first_closes(int error, const PGresult *res, void *userdata)
{
	struct close_inside *c = userdata;

	ck_assert_int_eq(error, 0);
	c->first = true;
	db_pool_close(c->pool);
}

START_TEST(close_from_callback)
{
	struct close_inside c = {0};
	uv_loop_t loop;

	uv_loop_init(&loop);
	c.pool = pgtest_pool(&loop, pgtest_url(),
			     &(struct db_pool_config){.size = 1});
	ck_assert_int_eq(
	    db_pool_query(c.pool, "SELECT 1", 0, NULL, on_first_closes, &c), 0);
	ck_assert_int_eq(
	    db_pool_query(c.pool, "SELECT 2", 0, NULL, on_result, &c.second),
	    0);
	ck_assert(pgtest_run_until(&loop, &c.first, PGTEST_TIMEOUT_MS));
	ck_assert(c.second.done);
	ck_assert_int_eq(c.second.error, -ECANCELED);
	pgtest_loop_close(&loop);
}
END_TEST

/* Results are read by column name: a missing column or row, and SQL NULL,
 * read as NULL. Built without a server (PQsetResultAttrs, PQsetvalue). */
START_TEST(value_by_name)
{
	PGresAttDesc cols[2] = {{.name = "id", .typid = 20, .typlen = 8},
				{.name = "phone", .typid = 25, .typlen = -1}};
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	ck_assert_ptr_nonnull(res);
	ck_assert_int_eq(PQsetResultAttrs(res, 2, cols), 1);
	ck_assert_int_eq(PQsetvalue(res, 0, 0, "7", 1), 1);
	ck_assert_int_eq(PQsetvalue(res, 0, 1, NULL, -1), 1);
	ck_assert_str_eq(db_pool_value(res, 0, "id"), "7");
	ck_assert_ptr_null(db_pool_value(res, 0, "phone"));
	ck_assert_ptr_null(db_pool_value(res, 0, "name"));
	ck_assert_ptr_null(db_pool_value(res, 1, "id"));
	ck_assert_ptr_null(db_pool_value(res, -1, "id"));
	PQclear(res);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db-pool");
	TCase *tc = tcase_create("core");

	if (pgtest_require_url() != 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, param_select);
	tcase_add_test(tc, prepared_statements);
	tcase_add_test(tc, sql_error_and_open_transaction);
	tcase_add_test(tc, fifo_on_two_connections);
	tcase_add_test(tc, queue_cap);
	tcase_add_test(tc, listen_notify);
	tcase_add_test(tc, connection_lost_and_reconnect);
	tcase_add_test(tc, unreachable_server);
	tcase_add_test(tc, gssencmode_asked_for_wins);
	tcase_add_test(tc, reconnect_backoff);
	tcase_add_test(tc, close_with_pending);
	tcase_add_test(tc, close_from_callback);
	tcase_add_test(tc, value_by_name);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
