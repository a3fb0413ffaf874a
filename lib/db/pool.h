/* pool.h: a small pool of asynchronous libpq connections on a libuv loop. */
#ifndef DB_POOL_H
#define DB_POOL_H

#include <libpq-fe.h>
#include <stddef.h>
#include <uv.h>

struct db_pool;

/* Named cap on queued (not yet sent) queries. */
#define DB_POOL_MAX_QUEUE 10000
/* The protocol carries the parameter count in 16 bits. */
#define DB_POOL_MAX_PARAMS 65535
/* Channel names are identifiers: the server truncates longer ones. */
#define DB_POOL_MAX_CHANNEL 63

struct db_pool_config {
	const char *conninfo; /* libpq URI or key=value string; copied */
	unsigned size;        /* query connections; 0 means 2 */
	unsigned max_queue;   /* 0 means DB_POOL_MAX_QUEUE */
	/* Capped exponential backoff between connection attempts, with
	 * jitter; 0 means 250 and 10000. */
	long reconnect_min_ms, reconnect_max_ms;
	long connect_timeout_ms; /* 0 means 5000 */
};

/*
 * error: 0 when the query succeeded (PGRES_COMMAND_OK, PGRES_TUPLES_OK, or
 * PGRES_EMPTY_QUERY for a script of comments); -EIO when the server reported
 * an error (res is that error result:
 * PQresultErrorField(res, PG_DIAG_SQLSTATE) tells which); -ECONNRESET when
 * the connection was lost while the query was in flight (whether it
 * committed is unknown); -ENOTCONN when the last connection went down while
 * the query was queued; -ECANCELED when the pool closed first.
 * res is borrowed: valid only during the callback and cleared by the pool
 * (NULL on the connection errors and on -ECANCELED). Runs exactly once per
 * accepted query, never from inside the call that queued it.
 */
typedef void (*db_result_cb)(int error, const PGresult *res, void *userdata);

/* One NOTIFY on a listened channel; both strings are borrowed. */
typedef void (*db_notify_cb)(const char *channel, const char *payload,
			     void *userdata);

/* Connection state changes, for health and metrics: up is the number of live
 * query connections (the LISTEN connection is not counted). */
typedef void (*db_state_cb)(unsigned up, void *userdata);

/*
 * Creates a pool on loop and starts connecting all its connections on the
 * next loop iteration; db_pool_query fails with -ENOTCONN until the state
 * callback reports a live connection. libpq resolves host names
 * synchronously inside PQconnectStart: give hostaddr or an IP address (or a
 * Unix socket directory) when the loop must never wait on DNS.
 * Returns 0 and sets *ret_pool, -EINVAL (no conninfo, min > max), or
 * -ENOMEM.
 */
int db_pool_new(uv_loop_t *loop, const struct db_pool_config *cfg,
		struct db_pool **ret_pool);

/* Replaces the connection string (copied): connections made from now on,
 * reconnects included, use it; those up stay up. Returns 0, -EINVAL (empty)
 * or -ENOMEM, the old one then still in use. */
int db_pool_set_conninfo(struct db_pool *pool, const char *conninfo);

/* Sets the callback run each time the number of live query connections
 * changes; cb may be NULL. It never runs once db_pool_close was called. */
void db_pool_set_state_cb(struct db_pool *pool, db_state_cb cb, void *userdata);

/*
 * Registers a prepared statement; it is PREPAREd on every query connection
 * before that connection runs its next query, and again after every
 * reconnect. name and sql are copied. A statement the server rejects stays
 * registered: its executions fail with -EIO (SQLSTATE 26000).
 * Returns 0, -EEXIST, -EINVAL (empty name, bad nparams), -ENOMEM,
 * -ECANCELED.
 */
int db_pool_prepare(struct db_pool *pool, const char *name, const char *sql,
		    int nparams);

/*
 * Queues a parameterized query (PQsendQueryParams: text parameters, text
 * results; a NULL entry is SQL NULL). sql and params are copied, so they
 * need not outlive the call. Queries are sent in FIFO order to whichever
 * connection frees first, and each runs in its own transaction: a connection
 * left inside a transaction block is rolled back before its next use.
 * Returns 0 (cb will run exactly once), -ENOTCONN (no connection up: fail
 * fast, callers journal), -ENOBUFS (queue cap), -EINVAL, -ENOMEM, or
 * -ECANCELED (the pool is closing).
 */
int db_pool_query(struct db_pool *pool, const char *sql, int nparams,
		  const char *const *params, db_result_cb cb, void *userdata);

/* Like db_pool_query for a statement registered with db_pool_prepare;
 * also returns -ENOENT for an unknown statement name. */
int db_pool_execute(struct db_pool *pool, const char *stmt, int nparams,
		    const char *const *params, db_result_cb cb, void *userdata);

/*
 * Queues a multi-statement script for the simple query protocol
 * (PQsendQuery), for migrations. Without explicit transaction control the
 * server runs the whole script as one transaction, so a failing statement
 * rolls all of it back. cb gets the last result or the first error.
 * COPY is not supported: a COPY FROM STDIN fails with -EIO and COPY TO STDOUT
 * data is discarded. Returns like db_pool_query.
 */
int db_pool_script(struct db_pool *pool, const char *sql, db_result_cb cb,
		   void *userdata);

/*
 * LISTENs on channel on a dedicated connection, opened by the first call,
 * that LISTENs again after every reconnect. cb runs once per NOTIFY received
 * until db_pool_close. A NOTIFY sent before the LISTEN takes effect or while
 * the connection is down is lost: listeners reread the state they watch.
 * Returns 0, -EEXIST (channel already listened), -EINVAL (empty or longer
 * than DB_POOL_MAX_CHANNEL), -ENOMEM, or -ECANCELED.
 */
int db_pool_listen(struct db_pool *pool, const char *channel, db_notify_cb cb,
		   void *userdata);

/* Returns the number of live query connections. */
unsigned db_pool_connected(const struct db_pool *pool);

/* Returns the number of accepted queries not yet answered (queued plus in
 * flight). */
size_t db_pool_pending(const struct db_pool *pool);

/* The text of column name in row of res (borrowed from res), or NULL when
 * res has no such column or row, or the value is SQL NULL: results are read
 * by column name, not position. */
const char *db_pool_value(const PGresult *res, int row, const char *name);

/*
 * Runs the callback of every queued and in-flight query with -ECANCELED
 * before returning, closes the connections, and frees the pool once its uv
 * handles have closed (the loop must run). In-flight statements are not
 * cancelled on the server (PQcancel would block): they run to their end
 * there, so whether they committed is unknown. The pool must not be used
 * after this call, except from the callbacks it runs, where every call that
 * queues fails with -ECANCELED. NULL is a no-op.
 */
void db_pool_close(struct db_pool *pool);

#endif /* DB_POOL_H */
