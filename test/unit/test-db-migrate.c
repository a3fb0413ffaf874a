/* test-db-migrate.c: the migration runner and 0001_core.sql on a real
 * PostgreSQL, each test in a schema of its own. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/migrate.h"
#include "db/pool.h"
#include "pgtest.h"
#include "testlib.h"

struct outcome {
	bool done;
	int error;
	unsigned applied;
	char detail[DB_MIGRATE_MAX_DETAIL];
};

static void on_migrated(int error, unsigned applied, const char *detail,
			void *userdata)
{
	struct outcome *o = userdata;

	ck_assert(!o->done);
	o->done = true;
	o->error = error;
	o->applied = applied;
	ck_assert(error == 0 ? detail == NULL : detail != NULL);
	snprintf(o->detail, sizeof(o->detail), "%s", detail ? detail : "");
}

static struct outcome migrate(uv_loop_t *loop, struct db_pool *pool,
			      const char *dir)
{
	struct outcome o = {0};

	ck_assert_int_eq(db_migrate_run(pool, dir, on_migrated, &o), 0);
	ck_assert(!o.done);
	ck_assert_msg(pgtest_run_until(loop, &o.done, PGTEST_TIMEOUT_MS),
		      "migration never finished");
	return o;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/wt-migrate-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ck_assert_int_eq(unlink(path), 0);
	}
	closedir(d);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* Runs sql and returns the first column of its first row (or SQLSTATE). */
static const char *value(uv_loop_t *loop, struct db_pool *pool, const char *sql)
{
	static char buf[256];

	pgtest_query(loop, pool, sql, 0, NULL, buf, sizeof(buf));
	return buf;
}

static int exec(uv_loop_t *loop, struct db_pool *pool, const char *sql)
{
	return pgtest_script(loop, pool, sql);
}

/* A test's schema, a pool on it and a scratch migrations directory. */
struct fixture {
	uv_loop_t loop;
	struct pgtest_schema schema;
	struct db_pool *pool;
	char dir[64];
};

static void fixture_open(struct fixture *fx)
{
	uv_loop_init(&fx->loop);
	pgtest_schema_create(&fx->loop, &fx->schema);
	fx->pool = pgtest_pool(&fx->loop, fx->schema.conninfo,
			       &(struct db_pool_config){.size = 1});
	make_dir(fx->dir, sizeof(fx->dir));
}

static void fixture_close(struct fixture *fx)
{
	remove_dir(fx->dir);
	db_pool_close(fx->pool);
	pgtest_schema_drop(&fx->loop, &fx->schema);
	pgtest_loop_close(&fx->loop);
}

static void check_core_behaviour(uv_loop_t *loop, struct db_pool *pool)
{
	static const char *const tables[] = {
	    "agents",        "campaigns",   "campaign_agents",
	    "leads",         "dids",        "dispositions",
	    "calls",         "sip_peers",   "agent_state_events",
	    "queue_entries", "do_not_call", "api_tokens",
	};
	char sql[128];

	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT to_regclass('%s') IS NOT NULL", tables[i]);
		ck_assert_str_eq(value(loop, pool, sql), "t");
	}
	ck_assert_int_eq(
	    exec(loop, pool,
		 "INSERT INTO agents (id, name, created_at, "
		 "updated_at) VALUES (1, 'ana', now() - interval '1 hour', "
		 "now() - interval '1 hour');"
		 "INSERT INTO campaigns (id, name) VALUES (1, 'c');"
		 "INSERT INTO sip_peers (agent_id, sip_username, "
		 "sip_password, sip_server) VALUES (1, 'ana', 'x', "
		 "'pbx');"
		 "INSERT INTO calls (call_id, agent_id, campaign_id, "
		 "direction) VALUES ('c1', 1, 1, 'inbound')"),
	    0);
	ck_assert_str_eq(value(loop, pool,
			       "SELECT strategy || ring_timeout || wrapup_time "
			       "FROM campaigns"),
			 "rrmemory3015");
	/* The trigger keeps updated_at. */
	ck_assert_int_eq(exec(loop, pool, "UPDATE agents SET name = 'Ana'"), 0);
	ck_assert_str_eq(
	    value(loop, pool, "SELECT updated_at > created_at FROM agents"),
	    "t");
	/* Checks refuse what the design does not allow. */
	ck_assert_int_eq(exec(loop, pool,
			      "INSERT INTO calls (call_id, direction) "
			      "VALUES ('c2', 'sideways')"),
			 -EIO);
	ck_assert_str_eq(value(loop, pool,
			       "INSERT INTO api_tokens (token_hash, role) "
			       "VALUES ('h', 'agent')"),
			 "23514");
	/* Deleting an agent takes its SIP peer along and keeps its calls. */
	ck_assert_int_eq(exec(loop, pool, "DELETE FROM agents"), 0);
	ck_assert_str_eq(value(loop, pool, "SELECT count(*) FROM sip_peers"),
			 "0");
	ck_assert_str_eq(value(loop, pool,
			       "SELECT agent_id IS NULL FROM calls "
			       "WHERE call_id = 'c1'"),
			 "t");
}

START_TEST(core_from_empty)
{
	struct fixture fx;
	struct outcome o;
	size_t len;
	char *core = testlib_read_data("../../migrations/0001_core.sql", &len);

	fixture_open(&fx);
	write_file(fx.dir, "0001_core.sql", core);
	free(core);
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_msg(o.error == 0, "%s", o.detail);
	ck_assert_uint_eq(o.applied, 1);
	ck_assert_str_eq(value(&fx.loop, fx.pool,
			       "SELECT version || ' ' || name "
			       "FROM schema_migrations"),
			 "1 core");
	check_core_behaviour(&fx.loop, fx.pool);
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_int_eq(o.error, 0);
	ck_assert_uint_eq(o.applied, 0);
	fixture_close(&fx);
}
END_TEST

START_TEST(numeric_order_and_ignored_names)
{
	struct fixture fx;
	struct outcome o;

	fixture_open(&fx);
	/* 10 sorts after 2 only if numbers, not names, are compared. */
	write_file(fx.dir, "2_two.sql", "CREATE TABLE two (x int);");
	write_file(fx.dir, "10_ten.sql", "INSERT INTO two VALUES (10)");
	write_file(fx.dir, "README.md", "not sql");
	write_file(fx.dir, "0003.sql", "SELECT * FROM nowhere");
	write_file(fx.dir, "x_0004.sql", "SELECT * FROM nowhere");
	write_file(fx.dir, "0005_old.sql.bak", "SELECT * FROM nowhere");
	write_file(fx.dir, "0006_bad name.sql", "SELECT * FROM nowhere");
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_msg(o.error == 0, "%s", o.detail);
	ck_assert_uint_eq(o.applied, 2);
	ck_assert_str_eq(value(&fx.loop, fx.pool, "SELECT x FROM two"), "10");
	ck_assert_str_eq(value(&fx.loop, fx.pool,
			       "SELECT string_agg(version || name, ',' "
			       "ORDER BY version) FROM schema_migrations"),
			 "2two,10ten");
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_uint_eq(o.applied, 0);
	write_file(fx.dir, "11_eleven.sql",
		   "-- a comment without a final newline");
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_msg(o.error == 0, "%s", o.detail);
	ck_assert_uint_eq(o.applied, 1);
	fixture_close(&fx);
}
END_TEST

struct checked {
	bool done;
	int error;
	unsigned pending;
	char first[64];
};

static void on_checked(int error, unsigned pending, const char *first,
		       void *userdata)
{
	struct checked *c = userdata;

	ck_assert(!c->done);
	c->done = true;
	c->error = error;
	c->pending = pending;
	ck_assert(pending == 0 ? first == NULL : first != NULL);
	snprintf(c->first, sizeof(c->first), "%s", first ? first : "");
}

static struct checked check(struct fixture *fx)
{
	struct checked c = {0};

	ck_assert_int_eq(db_migrate_check(fx->pool, fx->dir, on_checked, &c),
			 0);
	ck_assert_msg(pgtest_run_until(&fx->loop, &c.done, PGTEST_TIMEOUT_MS),
		      "check never finished");
	ck_assert_int_eq(c.error, 0);
	return c;
}

/* The check names what a migration would apply, and applies nothing. */
START_TEST(check_names_the_missing)
{
	struct fixture fx;
	struct checked c;
	struct outcome o;

	fixture_open(&fx);
	write_file(fx.dir, "10_ten.sql", "CREATE TABLE ten (x int);");
	write_file(fx.dir, "2_two.sql", "CREATE TABLE two (x int);");
	/* No schema_migrations yet: every file is missing. */
	c = check(&fx);
	ck_assert_uint_eq(c.pending, 2);
	ck_assert_str_eq(c.first, "2_two.sql");
	ck_assert_str_eq(value(&fx.loop, fx.pool,
			       "SELECT to_regclass('schema_migrations')"
			       " IS NULL AND to_regclass('two') IS NULL"),
			 "t");
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_uint_eq(o.applied, 2);
	c = check(&fx);
	ck_assert_uint_eq(c.pending, 0);
	write_file(fx.dir, "11_eleven.sql", "CREATE TABLE eleven (x int);");
	c = check(&fx);
	ck_assert_uint_eq(c.pending, 1);
	ck_assert_str_eq(c.first, "11_eleven.sql");
	ck_assert_str_eq(
	    value(&fx.loop, fx.pool, "SELECT to_regclass('eleven') IS NULL"),
	    "t");
	fixture_close(&fx);
}
END_TEST

START_TEST(broken_file_rolls_back)
{
	struct fixture fx;
	struct outcome o;

	fixture_open(&fx);
	write_file(fx.dir, "1_ok.sql", "CREATE TABLE ok_t (x int);\n");
	write_file(fx.dir, "2_broken.sql",
		   "CREATE TABLE broken_t (x int);\n"
		   "SELECT * FROM missing_table;\n");
	write_file(fx.dir, "3_after.sql", "CREATE TABLE after_t (x int);\n");
	o = migrate(&fx.loop, fx.pool, fx.dir);
	ck_assert_int_eq(o.error, -EIO);
	ck_assert_uint_eq(o.applied, 1);
	ck_assert_msg(strstr(o.detail, "2_broken.sql") &&
			  strstr(o.detail, "missing_table") &&
			  strstr(o.detail, "42P01") &&
			  strstr(o.detail, "line 2"),
		      "detail: %s", o.detail);
	ck_assert_str_eq(value(&fx.loop, fx.pool,
			       "SELECT to_regclass('ok_t') IS NOT NULL AND "
			       "to_regclass('broken_t') IS NULL AND "
			       "to_regclass('after_t') IS NULL"),
			 "t");
	ck_assert_str_eq(value(&fx.loop, fx.pool,
			       "SELECT string_agg(version::text, ',') "
			       "FROM schema_migrations"),
			 "1");
	fixture_close(&fx);
}
END_TEST

START_TEST(rejected_directories)
{
	struct fixture fx;
	struct outcome o = {0};

	fixture_open(&fx);
	ck_assert_int_eq(db_migrate_run(fx.pool, "/nonexistent/wt-migrations",
					on_migrated, &o),
			 -ENOENT);
	write_file(fx.dir, "1_a.sql", "SELECT 1");
	write_file(fx.dir, "01_b.sql", "SELECT 1");
	ck_assert_int_eq(db_migrate_run(fx.pool, fx.dir, on_migrated, &o),
			 -EINVAL);
	ck_assert_int_eq(db_migrate_run(fx.pool, NULL, on_migrated, &o),
			 -EINVAL);
	pgtest_run_for(&fx.loop, 50);
	ck_assert(!o.done);
	ck_assert_str_eq(
	    value(&fx.loop, fx.pool,
		  "SELECT to_regclass('schema_migrations') IS NULL"),
	    "t");
	fixture_close(&fx);
}
END_TEST

/* Two migrators at once apply every file exactly once between them. */
START_TEST(concurrent_migrators)
{
	struct fixture fx;
	struct outcome a = {0}, b = {0};
	struct db_pool *other;
	char name[32], sql[128];

	fixture_open(&fx);
	other = pgtest_pool(&fx.loop, fx.schema.conninfo,
			    &(struct db_pool_config){.size = 1});
	for (int i = 1; i <= 6; i++) {
		snprintf(name, sizeof(name), "%d_step.sql", i);
		snprintf(sql, sizeof(sql),
			 "SELECT pg_sleep(0.02); CREATE TABLE t%d (x int);", i);
		write_file(fx.dir, name, sql);
	}
	ck_assert_int_eq(db_migrate_run(fx.pool, fx.dir, on_migrated, &a), 0);
	ck_assert_int_eq(db_migrate_run(other, fx.dir, on_migrated, &b), 0);
	ck_assert(pgtest_run_until(&fx.loop, &a.done, PGTEST_TIMEOUT_MS));
	ck_assert(pgtest_run_until(&fx.loop, &b.done, PGTEST_TIMEOUT_MS));
	ck_assert_msg(a.error == 0 && b.error == 0, "%s %s", a.detail,
		      b.detail);
	ck_assert_uint_eq(a.applied + b.applied, 6);
	ck_assert_str_eq(
	    value(&fx.loop, fx.pool, "SELECT count(*) FROM schema_migrations"),
	    "6");
	db_pool_close(other);
	fixture_close(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("db-migrate");
	TCase *tc = tcase_create("core");

	if (pgtest_require_url() != 0)
		return EXIT_FAILURE;
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, core_from_empty);
	tcase_add_test(tc, numeric_order_and_ignored_names);
	tcase_add_test(tc, check_names_the_missing);
	tcase_add_test(tc, broken_file_rolls_back);
	tcase_add_test(tc, rejected_directories);
	tcase_add_test(tc, concurrent_migrators);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
