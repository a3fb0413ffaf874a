/* pool.c: asynchronous libpq connections driven by uv_poll and uv_timer. */
#include "db/pool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/backoff.h"
#include "util/log.h"
#include "util/rand.h"

enum query_kind {
	QUERY_PARAMS,
	QUERY_PREPARED,
	QUERY_SCRIPT,
};

/* One accepted query with private copies of its text and parameters, which
 * live in the same allocation right after the params array. */
struct db_query {
	struct db_query *next;
	enum query_kind kind;
	size_t stmt; /* index into pool->stmts for QUERY_PREPARED */
	const char *sql;
	int nparams;
	db_result_cb cb;
	void *userdata;
	const char *params[];
};

struct db_stmt {
	char *name;
	char *sql;
	int nparams;
};

struct db_channel {
	char *name;
	db_notify_cb cb;
	void *userdata;
};

enum conn_state {
	CONN_DOWN,       /* waiting for the timer to connect */
	CONN_CONNECTING, /* PQconnectPoll in progress, under a deadline */
	CONN_IDLE,       /* up, nothing in flight */
	CONN_BUSY,       /* up, one command in flight */
};

/* What the command in flight is: a user query or the pool's own upkeep. */
enum conn_op {
	OP_NONE,
	OP_QUERY,
	OP_ROLLBACK,
	OP_PREPARE,
	OP_LISTEN,
};

struct db_conn {
	struct db_pool *pool;
	PGconn *pg;
	/* On the heap because libpq may open a new socket while connecting and
	 * a uv_poll_t is bound to one descriptor for its whole life. */
	uv_poll_t *poll;
	int fd;
	int events;
	uv_timer_t timer; /* connect deadline, or the wait before connecting */
	enum conn_state state;
	enum conn_op op;
	struct db_query *inflight;
	PGresult *result; /* the result kept so far for the command in flight */
	bool copy_out;
	bool listener;
	size_t nprepared; /* pool->stmts[0, nprepared) exist in this session */
	size_t nlistened; /* pool->chans[0, nlistened) are listened to */
	struct backoff backoff;
};

struct db_pool {
	uv_loop_t *loop;
	char *conninfo;
	unsigned max_queue;
	long reconnect_min_ms, reconnect_max_ms, connect_timeout_ms;
	struct db_conn *conns;
	unsigned nconns;
	struct db_conn *listener; /* NULL until the first db_pool_listen */
	unsigned up;
	struct db_query *head, *tail;
	size_t queued, inflight;
	struct db_stmt *stmts;
	size_t nstmts;
	struct db_channel *chans;
	size_t nchans;
	/* Sends queued work from the loop, so that a send failure never runs a
	 * callback from inside the call that queued the work. */
	uv_timer_t kick;
	unsigned handles; /* open uv handles: the pool is freed at zero */
	bool closing;
	db_state_cb state_cb;
	void *state_userdata;
};

static void conn_kick(struct db_conn *c);
static void conn_lost(struct db_conn *c);

static void on_handle_closed(uv_handle_t *handle)
{
	struct db_pool *pool = handle->data;

	if (handle->type == UV_POLL)
		free(handle);
	if (--pool->handles > 0)
		return;
	for (size_t i = 0; i < pool->nstmts; i++) {
		free(pool->stmts[i].name);
		free(pool->stmts[i].sql);
	}
	for (size_t i = 0; i < pool->nchans; i++)
		free(pool->chans[i].name);
	free(pool->stmts);
	free(pool->chans);
	free(pool->listener);
	free(pool->conns);
	free(pool->conninfo);
	free(pool);
}

/* Every handle of the pool closes through here; its data then points at
 * the pool, which outlives it. */
static void pool_close_handle(struct db_pool *pool, uv_handle_t *handle)
{
	handle->data = pool;
	uv_close(handle, on_handle_closed);
}

static void on_notice(void *arg, const char *message)
{
	log_debug("db: server notice: %.*s", (int)strcspn(message, "\n"),
		  message);
}

static void pool_report_state(struct db_pool *pool)
{
	if (pool->state_cb && !pool->closing)
		pool->state_cb(pool->up, pool->state_userdata);
}

static struct db_query *pool_pop(struct db_pool *pool)
{
	struct db_query *q = pool->head;

	pool->head = q->next;
	if (!pool->head)
		pool->tail = NULL;
	pool->queued--;
	q->next = NULL;
	return q;
}

/* Runs every callback of a detached list, even if one of them closes the
 * pool: each accepted query gets its callback exactly once. */
static void query_fail_all(struct db_query *list, int error)
{
	while (list) {
		struct db_query *q = list;

		list = q->next;
		q->cb(error, NULL, q->userdata);
		free(q);
	}
}

static void pool_fail_queue(struct db_pool *pool, int error)
{
	struct db_query *list = pool->head;

	pool->head = pool->tail = NULL;
	pool->queued = 0;
	query_fail_all(list, error);
}

/* Closes the poll handle first: uv_close stops polling at once (libuv
 * removes the descriptor from epoll inside the call) and libuv documents
 * that the descriptor may be closed right after uv_close, so PQfinish need
 * not wait for the close callback. */
static void conn_unwatch(struct db_conn *c)
{
	if (!c->poll)
		return;
	pool_close_handle(c->pool, (uv_handle_t *)c->poll);
	c->poll = NULL;
	c->fd = -1;
	c->events = 0;
}

static void conn_teardown(struct db_conn *c)
{
	conn_unwatch(c);
	PQfinish(c->pg);
	c->pg = NULL;
	PQclear(c->result);
	c->result = NULL;
	c->copy_out = false;
	c->state = CONN_DOWN;
	c->op = OP_NONE;
}

static void on_poll(uv_poll_t *handle, int status, int events);
static void on_timer(uv_timer_t *timer);

static int conn_watch(struct db_conn *c, int events)
{
	int fd = PQsocket(c->pg);
	int r;

	if (fd < 0)
		return -EBADF;
	if (c->poll && c->fd != fd)
		conn_unwatch(c);
	if (!c->poll) {
		uv_poll_t *poll = malloc(sizeof(*poll));

		if (!poll)
			return -ENOMEM;
		r = uv_poll_init(c->pool->loop, poll, fd);
		if (r < 0) {
			free(poll);
			return r;
		}
		poll->data = c;
		c->poll = poll;
		c->fd = fd;
		c->events = 0;
		c->pool->handles++;
	}
	if (events == c->events)
		return 0;
	r = uv_poll_start(c->poll, events, on_poll);
	if (r == 0)
		c->events = events;
	return r;
}

/* While connecting, libpq may close its socket and open another that gets
 * the same number (SSL or GSS fallback, the next host). epoll forgot the
 * closed one, so the registration is renewed after every PQconnectPoll
 * rather than trusted. */
static int conn_rewatch(struct db_conn *c, int events)
{
	if (c->poll && c->fd == PQsocket(c->pg)) {
		uv_poll_stop(c->poll);
		c->events = 0;
	}
	return conn_watch(c, events);
}

static void conn_schedule(struct db_conn *c)
{
	uint32_t delay_ms = backoff_next(&c->backoff, (uint32_t)rand_u64());

	uv_timer_start(&c->timer, on_timer, delay_ms, 0);
}

/* A connection attempt failed before the connection was up. */
static void conn_retry(struct db_conn *c)
{
	const char *why = c->pg ? PQerrorMessage(c->pg) : "out of memory";

	log_debug("db: connect failed: %.*s", (int)strcspn(why, "\n"), why);
	conn_teardown(c);
	conn_schedule(c);
}

static void conn_established(struct db_conn *c)
{
	struct db_pool *pool = c->pool;

	uv_timer_stop(&c->timer);
	if (PQsetnonblocking(c->pg, 1) != 0 ||
	    conn_rewatch(c, UV_READABLE) < 0) {
		conn_retry(c);
		return;
	}
	c->state = CONN_IDLE;
	backoff_reset(&c->backoff);
	c->nprepared = 0;
	c->nlistened = 0;
	log_debug("db: connected fd=%d listener=%d", c->fd, c->listener);
	if (!c->listener) {
		pool->up++;
		pool_report_state(pool);
		if (pool->closing)
			return;
	}
	conn_kick(c);
}

static void conn_connect_step(struct db_conn *c, PostgresPollingStatusType st)
{
	int events;

	switch (st) {
	case PGRES_POLLING_OK:
		conn_established(c);
		return;
	case PGRES_POLLING_READING:
		events = UV_READABLE;
		break;
	case PGRES_POLLING_WRITING:
		events = UV_WRITABLE;
		break;
	default:
		conn_retry(c);
		return;
	}
	if (conn_rewatch(c, events) < 0)
		conn_retry(c);
}

/* libpq enforces connect_timeout only in its blocking calls, so the
 * deadline is this connection's timer. */
static void conn_connect(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	/* GSSAPI encryption only when asked for (conninfo, whose expansion
	 * comes later and wins, or PGGSSENCMODE): libpq's default "prefer"
	 * looks for Kerberos credentials on every connect, which loads and
	 * initializes the Kerberos libraries (0.7 MB resident) where nobody
	 * uses them. */
	bool gss_default = !getenv("PGGSSENCMODE");
	const char *const keywords[] = {"gssencmode", "dbname", NULL};
	const char *const values[] = {"disable", pool->conninfo, NULL};

	c->pg = PQconnectStartParams(keywords + !gss_default,
				     values + !gss_default, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_retry(c);
		return;
	}
	PQsetNoticeProcessor(c->pg, on_notice, NULL);
	c->state = CONN_CONNECTING;
	uv_timer_start(&c->timer, on_timer, (uint64_t)pool->connect_timeout_ms,
		       0);
	conn_connect_step(c, PGRES_POLLING_WRITING);
}

static void on_timer(uv_timer_t *timer)
{
	struct db_conn *c = timer->data;

	if (c->state == CONN_DOWN) {
		conn_connect(c);
	} else if (c->state == CONN_CONNECTING) {
		log_debug("db: connect timed out after %ld ms",
			  c->pool->connect_timeout_ms);
		conn_retry(c);
	}
}

/* Nonblocking libpq may keep part of a command in its buffer: write
 * interest stays on until PQflush reports everything sent. */
static int conn_flush(struct db_conn *c)
{
	int r = PQflush(c->pg);

	if (r < 0)
		return -EIO;
	return conn_watch(c, r ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static int conn_begin(struct db_conn *c, enum conn_op op, int sent)
{
	c->state = CONN_BUSY;
	c->op = op;
	if (!sent)
		return -EIO;
	return conn_flush(c);
}

static int conn_send_query(struct db_conn *c, struct db_query *q)
{
	struct db_pool *pool = c->pool;
	int sent = 0;

	c->inflight = q;
	pool->inflight++;
	switch (q->kind) {
	case QUERY_PARAMS:
		sent = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
					 q->params, NULL, NULL, 0);
		break;
	case QUERY_PREPARED:
		sent =
		    PQsendQueryPrepared(c->pg, pool->stmts[q->stmt].name,
					q->nparams, q->params, NULL, NULL, 0);
		break;
	case QUERY_SCRIPT:
		sent = PQsendQuery(c->pg, q->sql);
		break;
	}
	return conn_begin(c, OP_QUERY, sent);
}

static int conn_send_listen(struct db_conn *c)
{
	const char *name = c->pool->chans[c->nlistened].name;
	char *ident = PQescapeIdentifier(c->pg, name, strlen(name));
	char sql[sizeof("LISTEN ") + 2 * DB_POOL_MAX_CHANNEL + 3];
	int sent = 0;

	if (ident) {
		snprintf(sql, sizeof(sql), "LISTEN %s", ident);
		sent = PQsendQuery(c->pg, sql);
		PQfreemem(ident);
	}
	return conn_begin(c, OP_LISTEN, sent);
}

/* Picks the next command for an idle connection: first its own upkeep
 * (leave a transaction a script left open, prepare the statements and
 * listen to the channels registered since it came up), then the queue. */
static int conn_send_next(struct db_conn *c)
{
	struct db_pool *pool = c->pool;

	if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
		return conn_begin(c, OP_ROLLBACK,
				  PQsendQuery(c->pg, "ROLLBACK"));
	if (!c->listener && c->nprepared < pool->nstmts) {
		const struct db_stmt *s = &pool->stmts[c->nprepared];

		return conn_begin(
		    c, OP_PREPARE,
		    PQsendPrepare(c->pg, s->name, s->sql, s->nparams, NULL));
	}
	if (c->listener && c->nlistened < pool->nchans)
		return conn_send_listen(c);
	if (!c->listener && pool->head)
		return conn_send_query(c, pool_pop(pool));
	return 0;
}

static void conn_kick(struct db_conn *c)
{
	if (c->state == CONN_IDLE && conn_send_next(c) < 0)
		conn_lost(c);
}

/* A live connection broke. Its state is reset before any callback runs,
 * because a callback may close the pool. */
static void conn_lost(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	struct db_query *q = c->inflight;
	const char *why = PQerrorMessage(c->pg);

	log_debug("db: connection lost: %.*s", (int)strcspn(why, "\n"), why);
	c->inflight = NULL;
	if (q)
		pool->inflight--;
	conn_teardown(c);
	conn_schedule(c);
	if (!c->listener)
		pool->up--;
	if (q) {
		q->cb(-ECONNRESET, NULL, q->userdata);
		free(q);
		if (pool->closing)
			return;
	}
	if (c->listener)
		return;
	pool_report_state(pool);
	if (!pool->closing && pool->up == 0)
		pool_fail_queue(pool, -ENOTCONN);
}

static void conn_notifies(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	PGnotify *n;

	while (!pool->closing && (n = PQnotifies(c->pg))) {
		for (size_t i = 0; i < pool->nchans; i++) {
			if (strcmp(pool->chans[i].name, n->relname) == 0) {
				pool->chans[i].cb(n->relname, n->extra,
						  pool->chans[i].userdata);
				break;
			}
		}
		PQfreemem(n);
	}
}

static bool result_failed(const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return false;
	default:
		return true;
	}
}

/* Keeps the last result of the command, or its first error. COPY would
 * stall the connection, so COPY FROM STDIN is refused (PQputCopyEnd with
 * an error message makes the server fail it; 0 means full buffers, which
 * cannot happen right after a command went out) and COPY TO STDOUT is
 * drained. */
static int conn_keep(struct db_conn *c, PGresult *r)
{
	switch (PQresultStatus(r)) {
	case PGRES_COPY_IN:
	case PGRES_COPY_BOTH:
		PQclear(r);
		if (PQputCopyEnd(c->pg, "COPY FROM STDIN is not supported") <=
		    0)
			return -EIO;
		return conn_flush(c);
	case PGRES_COPY_OUT:
		PQclear(r);
		c->copy_out = true;
		return 0;
	default:
		break;
	}
	if (c->result && result_failed(c->result)) {
		PQclear(r);
	} else {
		PQclear(c->result);
		c->result = r;
	}
	return 0;
}

/* Returns 1 while COPY data is still to come, 0 when it ended. */
static int conn_drain_copy(struct db_conn *c)
{
	char *buf;
	int n;

	while ((n = PQgetCopyData(c->pg, &buf, 1)) > 0)
		PQfreemem(buf);
	if (n == 0)
		return 1;
	if (n == -1) {
		c->copy_out = false;
		return 0;
	}
	return -EIO;
}

static void conn_setup_done(struct db_conn *c, enum conn_op op,
			    const PGresult *res)
{
	if (result_failed(res))
		log_debug("db: upkeep command failed: %s",
			  res ? PQresultErrorMessage(res) : "out of memory");
	if (op == OP_PREPARE)
		c->nprepared++;
	else if (op == OP_LISTEN)
		c->nlistened++;
}

/* The command in flight has returned all its results. */
static void conn_done(struct db_conn *c)
{
	struct db_pool *pool = c->pool;
	struct db_query *q = c->inflight;
	enum conn_op op = c->op;
	PGresult *res = c->result;

	c->result = NULL;
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		PQclear(res);
		conn_lost(c);
		return;
	}
	/* Every command yields a result; this only guards the contract that
	 * an -EIO callback always gets one. */
	if (!res)
		res = PQmakeEmptyPGresult(c->pg, PGRES_FATAL_ERROR);
	c->inflight = NULL;
	c->op = OP_NONE;
	c->state = CONN_IDLE;
	if (op == OP_QUERY) {
		pool->inflight--;
		q->cb(result_failed(res) ? -EIO : 0, res, q->userdata);
		free(q);
	} else {
		conn_setup_done(c, op, res);
	}
	PQclear(res);
	if (!pool->closing)
		conn_kick(c);
}

static int conn_results(struct db_conn *c)
{
	int r;

	for (;;) {
		PGresult *res;

		if (c->copy_out && (r = conn_drain_copy(c)) != 0)
			return r < 0 ? r : 0;
		if (PQisBusy(c->pg))
			return 0;
		res = PQgetResult(c->pg);
		if (!res) {
			conn_done(c);
			return 0;
		}
		r = conn_keep(c, res);
		if (r < 0)
			return r;
	}
}

static void conn_io(struct db_conn *c, int status, int events)
{
	if (status < 0)
		goto lost;
	if ((events & UV_READABLE) && !PQconsumeInput(c->pg))
		goto lost;
	if (PQstatus(c->pg) == CONNECTION_BAD)
		goto lost;
	if ((c->events & UV_WRITABLE) && conn_flush(c) < 0)
		goto lost;
	conn_notifies(c);
	if (c->pool->closing || c->state != CONN_BUSY)
		return;
	if (conn_results(c) < 0)
		goto lost;
	return;
lost:
	conn_lost(c);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
	struct db_conn *c = handle->data;

	if (c->state == CONN_CONNECTING)
		conn_connect_step(c, PQconnectPoll(c->pg));
	else
		conn_io(c, status, events);
}

static void on_kick(uv_timer_t *timer)
{
	struct db_pool *pool = timer->data;

	for (unsigned i = 0; i < pool->nconns && !pool->closing; i++)
		conn_kick(&pool->conns[i]);
	if (pool->listener && !pool->closing)
		conn_kick(pool->listener);
}

static void pool_schedule_kick(struct db_pool *pool)
{
	uv_timer_start(&pool->kick, on_kick, 0, 0);
}

static void conn_init(struct db_pool *pool, struct db_conn *c, bool listener)
{
	memset(c, 0, sizeof(*c));
	c->pool = pool;
	c->fd = -1;
	c->listener = listener;
	backoff_init(&c->backoff, (uint32_t)pool->reconnect_min_ms,
		     (uint32_t)pool->reconnect_max_ms);
	/* uv_timer_init cannot fail: it only fills in the handle. */
	uv_timer_init(pool->loop, &c->timer);
	c->timer.data = c;
	pool->handles++;
	uv_timer_start(&c->timer, on_timer, 0, 0);
}

static int pool_configure(struct db_pool *pool,
			  const struct db_pool_config *cfg)
{
	pool->nconns = cfg->size ? cfg->size : 2;
	pool->max_queue = cfg->max_queue ? cfg->max_queue : DB_POOL_MAX_QUEUE;
	pool->reconnect_min_ms =
	    cfg->reconnect_min_ms > 0 ? cfg->reconnect_min_ms : 250;
	pool->reconnect_max_ms =
	    cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 10000;
	pool->connect_timeout_ms =
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
	if (pool->reconnect_min_ms > pool->reconnect_max_ms)
		return -EINVAL;
	pool->conninfo = strdup(cfg->conninfo);
	pool->conns = calloc(pool->nconns, sizeof(*pool->conns));
	if (!pool->conninfo || !pool->conns)
		return -ENOMEM;
	return 0;
}

int db_pool_new(uv_loop_t *loop, const struct db_pool_config *cfg,
		struct db_pool **ret_pool)
{
	struct db_pool *pool;
	int r;

	if (!loop || !cfg || !cfg->conninfo || !ret_pool)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->loop = loop;
	r = pool_configure(pool, cfg);
	if (r < 0) {
		free(pool->conns);
		free(pool->conninfo);
		free(pool);
		return r;
	}
	uv_timer_init(loop, &pool->kick);
	pool->kick.data = pool;
	pool->handles++;
	for (unsigned i = 0; i < pool->nconns; i++)
		conn_init(pool, &pool->conns[i], false);
	*ret_pool = pool;
	return 0;
}

int db_pool_set_conninfo(struct db_pool *pool, const char *conninfo)
{
	char *copy;

	if (!conninfo || !*conninfo)
		return -EINVAL;
	copy = strdup(conninfo);
	if (!copy)
		return -ENOMEM;
	free(pool->conninfo);
	pool->conninfo = copy;
	return 0;
}

void db_pool_set_state_cb(struct db_pool *pool, db_state_cb cb, void *userdata)
{
	pool->state_cb = cb;
	pool->state_userdata = userdata;
}

static struct db_stmt *pool_find_stmt(const struct db_pool *pool,
				      const char *name)
{
	for (size_t i = 0; i < pool->nstmts; i++) {
		if (strcmp(pool->stmts[i].name, name) == 0)
			return &pool->stmts[i];
	}
	return NULL;
}

int db_pool_prepare(struct db_pool *pool, const char *name, const char *sql,
		    int nparams)
{
	struct db_stmt *stmts;
	struct db_stmt s;

	if (pool->closing)
		return -ECANCELED;
	if (!name || !*name || !sql || nparams < 0 ||
	    nparams > DB_POOL_MAX_PARAMS)
		return -EINVAL;
	if (pool_find_stmt(pool, name))
		return -EEXIST;
	stmts = realloc(pool->stmts, (pool->nstmts + 1) * sizeof(*stmts));
	if (!stmts)
		return -ENOMEM;
	pool->stmts = stmts;
	s.name = strdup(name);
	s.sql = strdup(sql);
	s.nparams = nparams;
	if (!s.name || !s.sql) {
		free(s.name);
		free(s.sql);
		return -ENOMEM;
	}
	pool->stmts[pool->nstmts++] = s;
	pool_schedule_kick(pool);
	return 0;
}

static struct db_query *query_new(enum query_kind kind, const char *sql,
				  int nparams, const char *const *params)
{
	size_t len = sql ? strlen(sql) + 1 : 0;
	struct db_query *q;
	char *p;

	for (int i = 0; i < nparams; i++)
		len += params[i] ? strlen(params[i]) + 1 : 0;
	q = malloc(sizeof(*q) + (size_t)nparams * sizeof(q->params[0]) + len);
	if (!q)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->nparams = nparams;
	p = (char *)&q->params[nparams];
	for (int i = 0; i < nparams; i++) {
		q->params[i] = params[i] ? strcpy(p, params[i]) : NULL;
		p += params[i] ? strlen(params[i]) + 1 : 0;
	}
	q->sql = sql ? strcpy(p, sql) : NULL;
	return q;
}

/* Checks what every way of queueing shares; 0 means the query may be
 * accepted. */
static int pool_check(const struct db_pool *pool, int nparams,
		      const char *const *params, db_result_cb cb)
{
	if (pool->closing)
		return -ECANCELED;
	if (!cb || nparams < 0 || nparams > DB_POOL_MAX_PARAMS ||
	    (nparams > 0 && !params))
		return -EINVAL;
	if (pool->up == 0)
		return -ENOTCONN;
	if (pool->queued >= pool->max_queue)
		return -ENOBUFS;
	return 0;
}

static void pool_enqueue(struct db_pool *pool, struct db_query *q,
			 db_result_cb cb, void *userdata)
{
	q->cb = cb;
	q->userdata = userdata;
	if (pool->tail)
		pool->tail->next = q;
	else
		pool->head = q;
	pool->tail = q;
	pool->queued++;
	pool_schedule_kick(pool);
}

int db_pool_query(struct db_pool *pool, const char *sql, int nparams,
		  const char *const *params, db_result_cb cb, void *userdata)
{
	struct db_query *q;
	int r = pool_check(pool, nparams, params, cb);

	if (r < 0)
		return r;
	if (!sql)
		return -EINVAL;
	q = query_new(QUERY_PARAMS, sql, nparams, params);
	if (!q)
		return -ENOMEM;
	pool_enqueue(pool, q, cb, userdata);
	return 0;
}

int db_pool_execute(struct db_pool *pool, const char *stmt, int nparams,
		    const char *const *params, db_result_cb cb, void *userdata)
{
	const struct db_stmt *s;
	struct db_query *q;
	int r = pool_check(pool, nparams, params, cb);

	if (r < 0)
		return r;
	if (!stmt)
		return -EINVAL;
	s = pool_find_stmt(pool, stmt);
	if (!s)
		return -ENOENT;
	q = query_new(QUERY_PREPARED, NULL, nparams, params);
	if (!q)
		return -ENOMEM;
	q->stmt = (size_t)(s - pool->stmts);
	pool_enqueue(pool, q, cb, userdata);
	return 0;
}

int db_pool_script(struct db_pool *pool, const char *sql, db_result_cb cb,
		   void *userdata)
{
	struct db_query *q;
	int r = pool_check(pool, 0, NULL, cb);

	if (r < 0)
		return r;
	if (!sql)
		return -EINVAL;
	q = query_new(QUERY_SCRIPT, sql, 0, NULL);
	if (!q)
		return -ENOMEM;
	pool_enqueue(pool, q, cb, userdata);
	return 0;
}

static int pool_add_channel(struct db_pool *pool, const char *channel,
			    db_notify_cb cb, void *userdata)
{
	struct db_channel *chans;
	char *name;

	for (size_t i = 0; i < pool->nchans; i++) {
		if (strcmp(pool->chans[i].name, channel) == 0)
			return -EEXIST;
	}
	chans = realloc(pool->chans, (pool->nchans + 1) * sizeof(*chans));
	if (!chans)
		return -ENOMEM;
	pool->chans = chans;
	name = strdup(channel);
	if (!name)
		return -ENOMEM;
	chans[pool->nchans].name = name;
	chans[pool->nchans].cb = cb;
	chans[pool->nchans].userdata = userdata;
	pool->nchans++;
	return 0;
}

int db_pool_listen(struct db_pool *pool, const char *channel, db_notify_cb cb,
		   void *userdata)
{
	int r;

	if (pool->closing)
		return -ECANCELED;
	if (!channel || !*channel || strlen(channel) > DB_POOL_MAX_CHANNEL ||
	    !cb)
		return -EINVAL;
	if (!pool->listener) {
		pool->listener = malloc(sizeof(*pool->listener));
		if (!pool->listener)
			return -ENOMEM;
		conn_init(pool, pool->listener, true);
	}
	r = pool_add_channel(pool, channel, cb, userdata);
	if (r == 0)
		pool_schedule_kick(pool);
	return r;
}

unsigned db_pool_connected(const struct db_pool *pool)
{
	return pool->up;
}

size_t db_pool_pending(const struct db_pool *pool)
{
	return pool->queued + pool->inflight;
}

const char *db_pool_value(const PGresult *res, int row, const char *name)
{
	int col = PQfnumber(res, name);

	if (col < 0 || row < 0 || row >= PQntuples(res) ||
	    PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

/* Tears a connection down for good; returns its in-flight query, if any. */
static struct db_query *conn_close(struct db_conn *c)
{
	struct db_query *q = c->inflight;

	c->inflight = NULL;
	conn_teardown(c);
	pool_close_handle(c->pool, (uv_handle_t *)&c->timer);
	return q;
}

void db_pool_close(struct db_pool *pool)
{
	struct db_query *list = NULL, **tail = &list;

	if (!pool || pool->closing)
		return;
	pool->closing = true;
	for (unsigned i = 0; i < pool->nconns; i++) {
		struct db_query *q = conn_close(&pool->conns[i]);

		if (q) {
			*tail = q;
			tail = &q->next;
		}
	}
	if (pool->listener)
		conn_close(pool->listener);
	*tail = pool->head;
	pool->head = pool->tail = NULL;
	pool->queued = 0;
	pool->inflight = 0;
	pool->up = 0;
	pool_close_handle(pool, (uv_handle_t *)&pool->kick);
	query_fail_all(list, -ECANCELED);
}
