/* pgtest.h: a real PostgreSQL for the lib/db tests, one schema per test. */
#ifndef TEST_PGTEST_H
#define TEST_PGTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "db/pool.h"

#define PGTEST_URL_ENV "WELCOMEDLY_TEST_DATABASE_URL"
/* How long any single wait in a test may take before it fails. */
#define PGTEST_TIMEOUT_MS 20000

/* Returns 0 when PGTEST_URL_ENV is set; otherwise prints how to start a
 * database and returns EXIT_FAILURE, for main to return: these tests fail
 * rather than skip without a database. */
int pgtest_require_url(void);

/* Returns the database URL from the environment. */
const char *pgtest_url(void);

/* Returns conninfo for url with search_path set to schema; free() it. */
char *pgtest_conninfo(const char *url, const char *schema);

/* url with one more connection parameter, URI or key=value alike
 * (malloc'd; the caller frees it). */
char *pgtest_conninfo_add(const char *url, const char *key, const char *value);

/* Runs loop until *done turns true or timeout_ms passes; returns *done. */
bool pgtest_run_until(uv_loop_t *loop, const bool *done, uint64_t timeout_ms);

/* Runs loop for ms milliseconds. */
void pgtest_run_for(uv_loop_t *loop, uint64_t ms);

/* Runs the loop until pool has want live connections; fails the test on
 * timeout. Replaces the pool's state callback. */
void pgtest_wait_up(uv_loop_t *loop, struct db_pool *pool, unsigned want);

/* Creates a pool on conninfo and waits until all its connections are up;
 * fails the test on timeout. cfg may be NULL for the defaults. */
struct db_pool *pgtest_pool(uv_loop_t *loop, const char *conninfo,
			    const struct db_pool_config *cfg);

/* Runs sql with params and waits for it. Returns the callback's error and
 * copies the first column of the first row into ret_value (if not NULL). */
int pgtest_query(uv_loop_t *loop, struct db_pool *pool, const char *sql,
		 int nparams, const char *const *params, char *ret_value,
		 size_t len);

/* Runs a multi-statement script and waits for it; returns the error. */
int pgtest_script(uv_loop_t *loop, struct db_pool *pool, const char *sql);

/* A schema of its own for one test, and conninfo that selects it. */
struct pgtest_schema {
	char name[64];
	char *conninfo;
	struct db_pool *admin; /* a pool on the plain URL */
};

void pgtest_schema_create(uv_loop_t *loop, struct pgtest_schema *s);
/* Drops the schema, closes the admin pool and frees conninfo. */
void pgtest_schema_drop(uv_loop_t *loop, struct pgtest_schema *s);

/* Runs the loop until every handle closed and asserts uv_loop_close()==0. */
void pgtest_loop_close(uv_loop_t *loop);

#endif /* TEST_PGTEST_H */
