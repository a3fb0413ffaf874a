/* notify.h: what the daemon tells systemd: READY once it serves, RELOADING
 * around a re-read of its settings, STOPPING, and WATCHDOG=1 from the loop
 * for as long as the loop turns. */
#ifndef APP_NOTIFY_H
#define APP_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct notify {
	uv_timer_t watchdog;
	/* $NOTIFY_SOCKET, "" when not run by systemd; sized as sun_path. */
	char socket[108];
	uint64_t watchdog_ms; /* between two WATCHDOG=1; 0: none asked */
	bool ready;
	bool failing; /* the last notification failed: logged once */
	bool started; /* the timer handle was initialized */
};

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from the environment
 * and, when the manager asks this process for a watchdog, sends WATCHDOG=1
 * at half its interval from a timer on loop. Without NOTIFY_SOCKET every
 * notify_* is a no-op. Returns 0 or a negative errno; the timer must then
 * be closed with notify_close().
 */
int notify_init(struct notify *n, uv_loop_t *loop);

/* READY=1 with a STATUS line, once: later calls only update STATUS. */
void notify_ready(struct notify *n, const char *status);

/* RELOADING=1: the settings are being read again. */
void notify_reloading(struct notify *n);

/* READY=1 again after a reload, if it was sent before; a STATUS line. */
void notify_reloaded(struct notify *n, const char *status);

/* STOPPING=1, and closes the watchdog timer. Safe to call once after a
 * successful notify_init; the loop frees nothing. */
void notify_close(struct notify *n);

#endif /* APP_NOTIFY_H */
