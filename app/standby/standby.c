/* standby.c: the active lock's session, its tries and its lease. */
#include "standby/standby.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool.h"
#include "util/log.h"

/* The lock session's settings: the client notices a dead server within
 * seconds, the server keeps a silent client's session for at least
 * STANDBY_SERVER_TIMEOUT_MS (see standby.h for why both). */
#define CLIENT_SETTINGS                                                        \
	"keepalives=1 keepalives_idle=1 keepalives_interval=1 "                \
	"keepalives_count=3 application_name=welcomedlyd-lock"
#define SERVER_SETTINGS                                                        \
	"-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 "               \
	"-c tcp_keepalives_count=3 -c tcp_user_timeout=10000"
#define URI_SETTINGS                                                           \
	"keepalives=1&keepalives_idle=1&keepalives_interval=1&"                \
	"keepalives_count=3&application_name=welcomedlyd-lock&options="        \
	"-c%20tcp_keepalives_idle%3D5%20-c%20tcp_keepalives_interval%3D1%20"   \
	"-c%20tcp_keepalives_count%3D3%20-c%20tcp_user_timeout%3D10000"

#define TRY_SQL "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS got"
/* The session holds no other advisory lock: any granted one is ours. */
#define CHECK_SQL                                                              \
	"SELECT count(*) AS held FROM pg_locks WHERE locktype = 'advisory' "   \
	"AND pid = pg_backend_pid() AND granted"

enum standby_state {
	STANDBY_WAITING, /* trying the lock every STANDBY_TRY_MS */
	STANDBY_ACTIVE,  /* holding it, checked every STANDBY_CHECK_MS */
	STANDBY_LOST,    /* it was ours and may not be: the end */
};

struct standby {
	struct db_pool *db; /* one connection: the lock's session */
	uv_timer_t tick;    /* the next try or check */
	uv_timer_t lease;   /* runs out STANDBY_LEASE_MS after a proof */
	struct standby_handlers handlers;
	void *userdata;
	char lock_name[128];
	enum standby_state state;
	unsigned handles; /* open uv handles: freed at zero */
	bool inflight;    /* a try or a check awaits its answer */
	bool started;
	bool closing;
};

static void lose(struct standby *sb, const char *why)
{
	if (sb->state != STANDBY_ACTIVE || sb->closing)
		return;
	sb->state = STANDBY_LOST;
	uv_timer_stop(&sb->tick);
	uv_timer_stop(&sb->lease);
	sb->handlers.lost(why, sb->userdata);
}

static void on_lease_over(uv_timer_t *timer)
{
	lose(timer->data, "no proof of the lock within the lease");
}

static void on_checked(int error, const PGresult *res, void *userdata)
{
	struct standby *sb = userdata;
	const char *held = res ? db_pool_value(res, 0, "held") : NULL;

	sb->inflight = false;
	if (error == -ECANCELED || sb->state != STANDBY_ACTIVE)
		return;
	if (error < 0) {
		lose(sb, "the lock check failed");
		return;
	}
	if (!held || strcmp(held, "0") == 0) {
		lose(sb, "the session no longer holds the lock");
		return;
	}
	uv_timer_start(&sb->lease, on_lease_over, STANDBY_LEASE_MS, 0);
}

static void become_active(struct standby *sb)
{
	sb->state = STANDBY_ACTIVE;
	uv_timer_start(&sb->lease, on_lease_over, STANDBY_LEASE_MS, 0);
	uv_timer_set_repeat(&sb->tick, STANDBY_CHECK_MS);
	log_notice("standby: the active lock is ours lock=\"%s\"",
		   sb->lock_name);
	sb->handlers.active(sb->userdata);
}

static void on_tried(int error, const PGresult *res, void *userdata)
{
	struct standby *sb = userdata;
	const char *got = res ? db_pool_value(res, 0, "got") : NULL;

	sb->inflight = false;
	if (error == -ECANCELED || sb->state != STANDBY_WAITING)
		return;
	if (error < 0)
		log_debug("standby: lock try failed error=%s",
			  strerror(-error));
	else if (got && strcmp(got, "t") == 0)
		become_active(sb);
}

static void on_tick(uv_timer_t *timer)
{
	struct standby *sb = timer->data;
	const char *params[1] = {sb->lock_name};
	int r;

	if (sb->inflight || sb->state == STANDBY_LOST)
		return;
	if (sb->state == STANDBY_WAITING)
		r = db_pool_query(sb->db, TRY_SQL, 1, params, on_tried, sb);
	else
		r = db_pool_query(sb->db, CHECK_SQL, 0, NULL, on_checked, sb);
	sb->inflight = r == 0;
	if (r < 0 && r != -ENOTCONN)
		log_warning("standby: lock query not sent error=%s, ignoring",
			    strerror(-r));
}

/* A new session holds nothing: the lock went with the old one. A session
 * that comes up tries the lock at once rather than at the next tick. */
static void on_db_state(unsigned up, void *userdata)
{
	struct standby *sb = userdata;

	if (up == 0)
		lose(sb, "the lock's session dropped");
	else if (sb->state == STANDBY_WAITING && sb->started)
		on_tick(&sb->tick);
}

int standby_conninfo(const char *conninfo, char *buf, size_t size)
{
	bool uri = strncmp(conninfo, "postgres://", 11) == 0 ||
		   strncmp(conninfo, "postgresql://", 13) == 0;
	int n;

	if (uri)
		n = snprintf(buf, size, "%s%c%s", conninfo,
			     strchr(conninfo, '?') ? '&' : '?', URI_SETTINGS);
	else
		n = snprintf(buf, size, "%s %s options='%s'", conninfo,
			     CLIENT_SETTINGS, SERVER_SETTINGS);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int standby_new(uv_loop_t *loop, const char *conninfo, const char *app,
		const struct standby_handlers *handlers, void *userdata,
		struct standby **ret_standby)
{
	struct db_pool_config pc = {
	    .size = 1, .reconnect_min_ms = 250, .reconnect_max_ms = 2000};
	struct standby *sb;
	char info[4096];
	int r = standby_conninfo(conninfo, info, sizeof(info));

	if (r < 0)
		return -EINVAL;
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return -ENOMEM;
	snprintf(sb->lock_name, sizeof(sb->lock_name), "welcomedlyd active %s",
		 app);
	pc.conninfo = info;
	r = db_pool_new(loop, &pc, &sb->db);
	if (r < 0) {
		free(sb);
		return r;
	}
	db_pool_set_state_cb(sb->db, on_db_state, sb);
	sb->handlers = *handlers;
	sb->userdata = userdata;
	uv_timer_init(loop, &sb->tick);
	uv_timer_init(loop, &sb->lease);
	sb->tick.data = sb->lease.data = sb;
	sb->handles = 2;
	*ret_standby = sb;
	return 0;
}

int standby_set_conninfo(struct standby *sb, const char *conninfo)
{
	char info[4096];

	if (standby_conninfo(conninfo, info, sizeof(info)) < 0)
		return -EINVAL;
	return db_pool_set_conninfo(sb->db, info);
}

int standby_start(struct standby *sb)
{
	sb->started = true;
	return uv_timer_start(&sb->tick, on_tick, STANDBY_TRY_MS,
			      STANDBY_TRY_MS);
}

bool standby_is_active(const struct standby *sb)
{
	return sb->state == STANDBY_ACTIVE;
}

static void on_closed(uv_handle_t *handle)
{
	struct standby *sb = handle->data;

	if (--sb->handles == 0)
		free(sb);
}

void standby_close(struct standby *sb)
{
	if (!sb)
		return;
	sb->closing = true;
	db_pool_close(sb->db); /* runs the pending callbacks, ignored */
	sb->db = NULL;
	uv_close((uv_handle_t *)&sb->tick, on_closed);
	uv_close((uv_handle_t *)&sb->lease, on_closed);
}
