/* pgtest.c: loop helpers and per-test schemas on a real PostgreSQL. */
#include "pgtest.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pgtest_require_url(void)
{
	const char *url = getenv(PGTEST_URL_ENV);

	if (url && *url)
		return 0;
	fprintf(stderr,
		"%s is not set: these tests need a PostgreSQL. Start one with "
		"`tools/sandbox-pg start --port 55432` and export the URI it "
		"prints, e.g. %s=postgresql://user:pass@127.0.0.1:55432/db\n",
		PGTEST_URL_ENV, PGTEST_URL_ENV);
	return EXIT_FAILURE;
}

const char *pgtest_url(void)
{
	const char *url = getenv(PGTEST_URL_ENV);

	ck_assert_msg(url && *url, "%s is not set", PGTEST_URL_ENV);
	return url;
}

/* A URI takes the parameter as a query parameter (an '=' in value
 * percent-encoded), a key=value string as one more quoted pair. */
char *pgtest_conninfo_add(const char *url, const char *key, const char *value)
{
	bool uri = strncmp(url, "postgres://", 11) == 0 ||
		   strncmp(url, "postgresql://", 13) == 0;
	size_t len = strlen(url) + strlen(key) + 3 * strlen(value) + 8;
	char *conninfo = malloc(len);
	size_t n;

	ck_assert_ptr_nonnull(conninfo);
	if (!uri) {
		snprintf(conninfo, len, "%s %s='%s'", url, key, value);
		return conninfo;
	}
	n = (size_t)snprintf(conninfo, len, "%s%c%s=", url,
			     strchr(url, '?') ? '&' : '?', key);
	for (const char *v = value; *v; v++)
		n += (size_t)snprintf(conninfo + n, len - n,
				      *v == '=' ? "%%3D" : "%c", *v);
	return conninfo;
}

/* The option sets the GUC for every session of the pool. */
char *pgtest_conninfo(const char *url, const char *schema)
{
	char value[256];

	snprintf(value, sizeof(value), "-csearch_path=%s", schema);
	return pgtest_conninfo_add(url, "options", value);
}

static void on_deadline(uv_timer_t *timer)
{
	*(bool *)timer->data = true;
}

bool pgtest_run_until(uv_loop_t *loop, const bool *done, uint64_t timeout_ms)
{
	uv_timer_t timer;
	bool expired = false;

	uv_timer_init(loop, &timer);
	timer.data = &expired;
	/* From now: the loop may not have run for a while (one shared by a
	 * whole test case), and its clock is as old as its last turn. */
	uv_update_time(loop);
	uv_timer_start(&timer, on_deadline, timeout_ms, 0);
	while (!*done && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *done;
}

void pgtest_run_for(uv_loop_t *loop, uint64_t ms)
{
	bool never = false;

	pgtest_run_until(loop, &never, ms);
}

struct pool_wait {
	unsigned want;
	bool done;
};

static void on_pool_state(unsigned up, void *userdata)
{
	struct pool_wait *w = userdata;

	if (up >= w->want)
		w->done = true;
}

void pgtest_wait_up(uv_loop_t *loop, struct db_pool *pool, unsigned want)
{
	struct pool_wait w = {.want = want};

	w.done = db_pool_connected(pool) >= want;
	db_pool_set_state_cb(pool, on_pool_state, &w);
	ck_assert_msg(pgtest_run_until(loop, &w.done, PGTEST_TIMEOUT_MS),
		      "pool did not connect");
	db_pool_set_state_cb(pool, NULL, NULL);
}

struct db_pool *pgtest_pool(uv_loop_t *loop, const char *conninfo,
			    const struct db_pool_config *cfg)
{
	struct db_pool_config c = {0};
	struct db_pool *pool = NULL;

	if (cfg)
		c = *cfg;
	c.conninfo = conninfo;
	ck_assert_int_eq(db_pool_new(loop, &c, &pool), 0);
	pgtest_wait_up(loop, pool, c.size ? c.size : 2);
	return pool;
}

struct query_wait {
	bool done;
	int error;
	char *value;
	size_t len;
};

static void on_query(int error, const PGresult *res, void *userdata)
{
	struct query_wait *w = userdata;

	w->done = true;
	w->error = error;
	if (w->value && error == 0 && PQntuples(res) > 0)
		snprintf(w->value, w->len, "%s", PQgetvalue(res, 0, 0));
	else if (w->value && error == -EIO)
		snprintf(w->value, w->len, "%s",
			 PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

int pgtest_query(uv_loop_t *loop, struct db_pool *pool, const char *sql,
		 int nparams, const char *const *params, char *ret_value,
		 size_t len)
{
	struct query_wait w = {.value = ret_value, .len = len};

	if (ret_value && len > 0)
		ret_value[0] = '\0';
	ck_assert_int_eq(
	    db_pool_query(pool, sql, nparams, params, on_query, &w), 0);
	ck_assert_msg(pgtest_run_until(loop, &w.done, PGTEST_TIMEOUT_MS),
		      "query timed out: %s", sql);
	return w.error;
}

int pgtest_script(uv_loop_t *loop, struct db_pool *pool, const char *sql)
{
	struct query_wait w = {0};

	ck_assert_int_eq(db_pool_script(pool, sql, on_query, &w), 0);
	ck_assert_msg(pgtest_run_until(loop, &w.done, PGTEST_TIMEOUT_MS),
		      "script timed out: %s", sql);
	return w.error;
}

void pgtest_schema_create(uv_loop_t *loop, struct pgtest_schema *s)
{
	static unsigned counter;
	char sql[128];

	snprintf(s->name, sizeof(s->name), "wt_%ld_%u_%llu", (long)getpid(),
		 counter++, (unsigned long long)(uv_hrtime() % 1000000));
	s->admin = pgtest_pool(loop, pgtest_url(),
			       &(struct db_pool_config){
				   .size = 1,
			       });
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", s->name);
	ck_assert_int_eq(pgtest_query(loop, s->admin, sql, 0, NULL, NULL, 0),
			 0);
	s->conninfo = pgtest_conninfo(pgtest_url(), s->name);
}

void pgtest_schema_drop(uv_loop_t *loop, struct pgtest_schema *s)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", s->name);
	ck_assert_int_eq(pgtest_query(loop, s->admin, sql, 0, NULL, NULL, 0),
			 0);
	db_pool_close(s->admin);
	s->admin = NULL;
	free(s->conninfo);
	s->conninfo = NULL;
}

void pgtest_loop_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(loop), 0);
}
