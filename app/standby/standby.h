/* standby.h: hot standby: of the welcomedlyd sharing one database and one
 * Stasis application, the one holding a PostgreSQL advisory lock is active.
 *
 * The lock is a session lock, pg_try_advisory_lock() on a connection of its
 * own: it is held exactly as long as that session lives, whatever happens
 * to the daemon's other connections. A process that is not active tries it
 * every STANDBY_TRY_MS. The active one proves every STANDBY_CHECK_MS that
 * its session still holds it, and holds call control only for a lease of
 * STANDBY_LEASE_MS after the last proof: when the lease runs out (no
 * answer: the database or the network is gone) or a check says the lock is
 * not held or the session dropped, the owner is told at once, and steps
 * down before anyone can take the lock over.
 *
 * Why the lock cannot change hands before the old owner stepped down: the
 * server keeps a session whose client vanished (a network split, no FIN or
 * RST) until TCP gives up on it. The lock session sets, for its own
 * backend, tcp_keepalives_idle 5 s, interval 1 s, count 3 and
 * tcp_user_timeout STANDBY_SERVER_TIMEOUT_MS (10 s): Linux then ends the
 * session no sooner than 10 s after the last segment it received from us,
 * whether it was sending (user timeout) or idle (keepalives, which under a
 * user timeout close once that much time has passed). Our last query that
 * was answered left us at most STANDBY_LEASE_MS before its answer (a check
 * that takes longer ends the lease), so the server ends the session no
 * sooner than answer - 3 s + 10 s = answer + 7 s, while our lease runs out
 * at answer + 3 s at the latest: 4 s of margin on a loop that turns. Without
 * those settings a split session would hold the lock for the kernel's
 * default of two hours and no standby would ever take over. A process that
 * dies (crash, SIGKILL) or exits closes its socket, and the server frees the
 * lock at once: the standby takes over within STANDBY_TRY_MS plus its start.
 * A loop stalled longer than the margin (SIGSTOP) is not covered: the lease
 * is checked by a timer of that same loop.
 */
#ifndef APP_STANDBY_H
#define APP_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct standby; /* opaque */

/* How often a standby tries to take the lock. */
#define STANDBY_TRY_MS 500
/* How often the active one checks that its session holds the lock. */
#define STANDBY_CHECK_MS 1000
/* Call control lasts this long after the last answered check. */
#define STANDBY_LEASE_MS 3000
/* The server gives up on the lock session's dead TCP peer after this. */
#define STANDBY_SERVER_TIMEOUT_MS 10000

struct standby_handlers {
	/* The lock is ours: run as the active process. Runs at most once. */
	void (*active)(void *userdata);
	/* The active process lost the lock, or may have (why says how): it
	 * must stop call control now. Runs at most once, after active. */
	void (*lost)(const char *why, void *userdata);
};

/*
 * Creates the lock's connection to conninfo (a libpq URI or key=value
 * string; copied, with the keepalive settings above added) for the lock
 * named after app (ARI_APP; copied): processes with the same app on the
 * same database compete for the same lock. Nothing is tried before
 * standby_start. Returns 0 and sets *ret_standby, -EINVAL or -ENOMEM.
 */
int standby_new(uv_loop_t *loop, const char *conninfo, const char *app,
		const struct standby_handlers *handlers, void *userdata,
		struct standby **ret_standby);

/* Starts trying the lock. Returns 0 or a negative errno. */
int standby_start(struct standby *sb);

/* True once the lock was taken and until it is lost. */
bool standby_is_active(const struct standby *sb);

/*
 * Adds the lock session's settings to conninfo into buf (size bytes): as
 * URI parameters for a postgres:// or postgresql:// URI, as key=value pairs
 * otherwise. Returns 0, or -ENAMETOOLONG when buf is too small.
 */
int standby_conninfo(const char *conninfo, char *buf, size_t size);

/* A new connection string for the lock's next session (SIGHUP changed
 * DATABASE_URL); the session up stays, and with it the lock. Returns 0,
 * -EINVAL or -ENOMEM, the old one then still in use. */
int standby_set_conninfo(struct standby *sb, const char *conninfo);

/* Closes the connection (the server frees the lock) and frees sb once its
 * handles have closed; no handler runs after this. NULL is a no-op. */
void standby_close(struct standby *sb);

#endif /* APP_STANDBY_H */
