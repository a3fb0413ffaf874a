/* test-standby.c: the active lock against a real PostgreSQL: one holder per
 * application, the next one takes over when it goes, a holder whose session
 * dies is told, and the session asks the server for its TCP timeouts. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtest.h"
#include "standby/standby.h"
#include "testlib.h"

struct member {
	struct standby *sb;
	bool active;
	bool lost;
	char why[128];
};

static void on_active(void *userdata)
{
	struct member *m = userdata;

	ck_assert(!m->active);
	m->active = true;
}

static void on_lost(const char *why, void *userdata)
{
	struct member *m = userdata;

	ck_assert(m->active && !m->lost);
	m->lost = true;
	snprintf(m->why, sizeof(m->why), "%s", why);
}

static const struct standby_handlers handlers = {on_active, on_lost};

/* A lock name of this test run: runs beside each other do not compete. */
static const char *app_name(const char *suffix)
{
	static char name[64];

	snprintf(name, sizeof(name), "unit-%d-%s", (int)getpid(), suffix);
	return name;
}

static void member_start(uv_loop_t *loop, struct member *m, const char *app)
{
	ck_assert_int_eq(
	    standby_new(loop, pgtest_url(), app, &handlers, m, &m->sb), 0);
	ck_assert_int_eq(standby_start(m->sb), 0);
}

START_TEST(conninfo_forms)
{
	char buf[1024];

	ck_assert_int_eq(
	    standby_conninfo("postgresql://u@h/db", buf, sizeof(buf)), 0);
	ck_assert(strncmp(buf, "postgresql://u@h/db?keepalives=1&", 33) == 0);
	ck_assert_ptr_nonnull(strstr(buf, "tcp_user_timeout%3D10000"));
	ck_assert_int_eq(standby_conninfo("postgres://h/db?sslmode=disable",
					  buf, sizeof(buf)),
			 0);
	ck_assert(strncmp(buf, "postgres://h/db?sslmode=disable&", 32) == 0);
	ck_assert_int_eq(standby_conninfo("host=h dbname=db", buf, sizeof(buf)),
			 0);
	ck_assert(strncmp(buf, "host=h dbname=db keepalives=1 ", 30) == 0);
	ck_assert_ptr_nonnull(strstr(buf, "options='-c tcp_keepalives_idle=5"));
	ck_assert_int_eq(standby_conninfo("host=h", buf, 10), -ENAMETOOLONG);
}
END_TEST

/* The settings reach the server: what the timing argument rests on. */
START_TEST(server_keeps_a_silent_session_10s)
{
	char info[1024], value[64];
	struct db_pool *pool;
	uv_loop_t loop;

	uv_loop_init(&loop);
	ck_assert_int_eq(standby_conninfo(pgtest_url(), info, sizeof(info)), 0);
	pool = pgtest_pool(&loop, info, NULL);
	ck_assert_int_eq(pgtest_query(&loop, pool, "SHOW tcp_user_timeout", 0,
				      NULL, value, sizeof(value)),
			 0);
	ck_assert_str_eq(value, "10000"); /* milliseconds */
	ck_assert_int_eq(pgtest_query(&loop, pool, "SHOW tcp_keepalives_idle",
				      0, NULL, value, sizeof(value)),
			 0);
	ck_assert_str_eq(value, "5"); /* seconds */
	db_pool_close(pool);
	pgtest_loop_close(&loop);
}
END_TEST

START_TEST(one_active_then_the_next)
{
	struct member a = {0}, b = {0}, other = {0};
	uv_loop_t loop;

	uv_loop_init(&loop);
	member_start(&loop, &a, app_name("one"));
	ck_assert(pgtest_run_until(&loop, &a.active, PGTEST_TIMEOUT_MS));
	member_start(&loop, &b, app_name("one"));
	member_start(&loop, &other, app_name("other"));
	/* Another application's lock is another lock. */
	ck_assert(pgtest_run_until(&loop, &other.active, PGTEST_TIMEOUT_MS));
	pgtest_run_for(&loop, 3 * STANDBY_TRY_MS);
	ck_assert(!b.active);
	ck_assert(standby_is_active(a.sb) && !standby_is_active(b.sb));
	/* The holder goes: the lock frees with its session. */
	standby_close(a.sb);
	ck_assert(pgtest_run_until(&loop, &b.active, PGTEST_TIMEOUT_MS));
	ck_assert(!a.lost && !b.lost && !other.lost);
	standby_close(b.sb);
	standby_close(other.sb);
	pgtest_loop_close(&loop);
}
END_TEST

/* The server ends the holder's session (as after a split): the holder is
 * told, and the lock goes to the next one. */
START_TEST(holder_told_when_its_session_ends)
{
	struct member a = {0}, b = {0};
	const char *params[1];
	struct db_pool *admin;
	char killed[16];
	uv_loop_t loop;

	uv_loop_init(&loop);
	admin = pgtest_pool(&loop, pgtest_url(), NULL);
	member_start(&loop, &a, app_name("kill"));
	ck_assert(pgtest_run_until(&loop, &a.active, PGTEST_TIMEOUT_MS));
	member_start(&loop, &b, app_name("kill"));
	pgtest_run_for(&loop, 2 * STANDBY_TRY_MS);
	params[0] = app_name("kill");
	ck_assert_int_eq(
	    pgtest_query(
		&loop, admin,
		"SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l"
		" WHERE l.locktype = 'advisory' AND l.granted AND"
		" l.objid = (hashtextextended('welcomedlyd active ' ||"
		" $1, 0) & 4294967295)::oid",
		1, params, killed, sizeof(killed)),
	    0);
	ck_assert_str_eq(killed, "1");
	ck_assert(pgtest_run_until(&loop, &a.lost, PGTEST_TIMEOUT_MS));
	ck_assert_msg(strstr(a.why, "lock") != NULL, "why: %s", a.why);
	ck_assert(pgtest_run_until(&loop, &b.active, PGTEST_TIMEOUT_MS));
	standby_close(a.sb);
	standby_close(b.sb);
	db_pool_close(admin);
	pgtest_loop_close(&loop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("standby");
	TCase *tc = tcase_create("core");
	int r = pgtest_require_url();

	if (r != 0)
		return r;
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, conninfo_forms);
	tcase_add_test(tc, server_keeps_a_silent_session_10s);
	tcase_add_test(tc, one_active_then_the_next);
	tcase_add_test(tc, holder_told_when_its_session_ends);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
