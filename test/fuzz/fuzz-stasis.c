/* fuzz-stasis.c: libFuzzer harness for the Stasis dispatch: any bytes as a
 * trace of ARI events, one per line, decoded and fed to a fresh call
 * registry (no database, no agents, no campaigns: every call is
 * prompted) whose REST requests a fake ARI answers with 200 "{}", as
 * test/data/calls traces are replayed by test-calls-service.c. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ari/event.h"
#include "ari/rest.h"
#include "calls/calls.h"
#include "httpd.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Named caps of the harness: events of one input, and loop turns spent
 * waiting for the fake ARI's answers before the registry is closed. */
#define FUZZ_MAX_EVENTS 64
#define FUZZ_MAX_TURNS 10000

static uv_loop_t loop;
static struct httpd *httpd;
static struct ari_rest *rest;

static void on_request(const struct httpd_request *req,
		       struct httpd_reply *reply, void *userdata)
{
	(void)req;
	(void)userdata;
	reply->content_type = "application/json";
	reply->body = "{}";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct ari_rest_config rc = {.timeout_ms = 2000};
	char url[64];

	(void)argc;
	(void)argv;
	log_set_level(LOG_LEVEL_ERROR);
	if (uv_loop_init(&loop) != 0 ||
	    httpd_new(&loop, on_request, NULL, &httpd) != 0)
		abort();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", httpd_port(httpd));
	rc.base_url = url;
	if (ari_rest_new(&loop, &rc, &rest) != 0)
		abort();
	return 0;
}

/* Feeds the line [p, end) when it decodes as an event. */
static void feed_line(struct calls *calls, const char *p, const char *end)
{
	struct ari_event ev;

	if (ari_event_parse(p, (size_t)(end - p), &ev) < 0)
		return;
	calls_handle_event(calls, &ev);
	ari_event_clear(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct calls_config cc = {.prompt_sound = "sound:vm-goodbye",
				  .app = "welcomedly"};
	struct calls_deps deps = {.rest = rest};
	struct calls *calls;
	unsigned events = 0, turns = 0;

	if (calls_init(&loop, &deps, &cc, &calls) != 0)
		abort();
	while (p < end && events++ < FUZZ_MAX_EVENTS) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		feed_line(calls, p, eol);
		/* Replies arrive between events, as they would from ARI. */
		uv_run(&loop, UV_RUN_NOWAIT);
		p = eol + 1;
	}
	while (ari_rest_pending(rest) > 0 && turns++ < FUZZ_MAX_TURNS)
		uv_run(&loop, UV_RUN_ONCE);
	calls_close(calls);
	uv_run(&loop, UV_RUN_NOWAIT);
	while (ari_rest_pending(rest) > 0 && turns++ < FUZZ_MAX_TURNS)
		uv_run(&loop, UV_RUN_ONCE);
	return 0;
}
