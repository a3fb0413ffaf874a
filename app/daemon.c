/* daemon.c: wires the features together on one libuv loop. */
#include "daemon.h"

#include "buildinfo.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <uv.h>

#include "calls/calls.h"
#include "link/link.h"
#include "util/log.h"

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	struct link *link;
	struct calls *calls;
	bool stopping;
};

static void on_event(const struct ari_event *ev, void *userdata)
{
	struct daemon *d = userdata;

	calls_handle_event(d->calls, ev);
}

static void on_resync(const json_t *channel_ids, const json_t *channels,
		      const json_t *bridges, void *userdata)
{
	struct daemon *d = userdata;

	calls_resync(d->calls, channel_ids, channels, bridges);
}

static void stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	link_close(d->link);
	calls_close(d->calls);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
}

/* Another process took the application over, which is how a new version
 * takes over without a window where Stasis() fails: this one hands over
 * and exits. The calls stay in Stasis for the new owner to adopt. */
static void on_replaced(void *userdata)
{
	struct daemon *d = userdata;

	log_notice(
	    "handing over to the new owner of the application, stopping");
	stop(d);
}

static void on_signal(uv_signal_t *handle, int signum)
{
	struct daemon *d = handle->data;

	log_notice("signal=%s stopping", strsignal(signum));
	stop(d);
}

static const struct link_handlers link_handlers = {
    .event = on_event,
    .resync = on_resync,
    .replaced = on_replaced,
};

static int start(struct daemon *d, const struct config *cfg)
{
	struct link_config lc = {
	    .ari_url = cfg->ari_url,
	    .username = cfg->ari_username,
	    .password = cfg->ari_password,
	    .app = cfg->ari_app,
	};
	struct calls_config cc = {.prompt_sound = cfg->prompt_sound};
	int r;

	r = link_new(&d->loop, &lc, &link_handlers, d, &d->link);
	if (r < 0)
		return r;
	r = calls_new(&d->loop, link_rest(d->link), &cc, &d->calls);
	if (r < 0)
		return r;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	return link_start(d->link);
}

int daemon_run(const struct config *cfg)
{
	struct daemon d = {0};
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = uv_loop_init(&d.loop);
	if (r < 0)
		return r;
	log_notice("welcomedlyd %s starting ari=%s app=%s", WELCOMEDLY_VERSION,
		   cfg->ari_url, cfg->ari_app);
	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	r = start(&d, cfg);
	if (r < 0) {
		log_error("cannot start error=%s", strerror(-r));
		stop(&d);
	}
	uv_run(&d.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d.loop) != 0) {
		log_error("event loop still has handles at exit");
		return -EBUSY;
	}
	log_notice("stopped");
	return r;
}

int daemon_migrate(const struct config *cfg)
{
	return -ENOSYS;
}
