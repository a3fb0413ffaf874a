/* notify.c: systemd notifications, sent from the loop. */
#include "notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sdnotify.h"

static void send_state(struct notify *n, const char *message)
{
	int r = sdnotify_send(n->socket, message);

	if (r < 0 && !n->failing)
		log_warning("systemd notification not sent socket=%s error=%s, "
			    "ignoring",
			    n->socket, strerror(-r));
	n->failing = r < 0;
}

static void on_watchdog(uv_timer_t *timer)
{
	send_state(timer->data, "WATCHDOG=1");
}

/* The watchdog interval this process must keep, in microseconds: 0 when
 * none is asked, or when it is asked of another process. */
static uint64_t watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");

	if (!usec || !*usec)
		return 0;
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	return strtoull(usec, NULL, 10);
}

int notify_init(struct notify *n, uv_loop_t *loop)
{
	const char *path = getenv("NOTIFY_SOCKET");
	uint64_t usec;
	int r;

	memset(n, 0, sizeof(*n));
	if (path && strlen(path) >= sizeof(n->socket))
		log_warning("NOTIFY_SOCKET too long, ignoring");
	else if (path)
		snprintf(n->socket, sizeof(n->socket), "%s", path);
	r = uv_timer_init(loop, &n->watchdog);
	if (r < 0)
		return r;
	n->watchdog.data = n;
	n->started = true;
	usec = *n->socket ? watchdog_usec() : 0;
	n->watchdog_ms = usec / 2000;
	if (n->watchdog_ms == 0)
		return 0;
	log_info("systemd watchdog interval_ms=%llu",
		 (unsigned long long)(usec / 1000));
	send_state(n, "WATCHDOG=1");
	return uv_timer_start(&n->watchdog, on_watchdog, n->watchdog_ms,
			      n->watchdog_ms);
}

void notify_ready(struct notify *n, const char *status)
{
	char message[256];

	snprintf(message, sizeof(message), "%sSTATUS=%s",
		 n->ready ? "" : "READY=1\n", status);
	if (!n->ready)
		log_notice("ready status=\"%s\"", status);
	n->ready = true;
	send_state(n, message);
}

void notify_reloading(struct notify *n)
{
	send_state(n, "RELOADING=1");
}

void notify_reloaded(struct notify *n, const char *status)
{
	char message[256];

	snprintf(message, sizeof(message), "%sSTATUS=%s",
		 n->ready ? "READY=1\n" : "", status);
	send_state(n, message);
}

void notify_close(struct notify *n)
{
	if (!n->started)
		return;
	n->started = false;
	send_state(n, "STOPPING=1");
	uv_close((uv_handle_t *)&n->watchdog, NULL);
}
