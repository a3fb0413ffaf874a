/* observe.c: what ops watch: the live event feed, health, the Prometheus
 * metrics, the event loop's lag, and queue numbers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "api/internal.h"
#include "api/observe.h"
#include "api/reply.h"
#include "ari/rest.h"
#include "buildinfo.h"
#include "calls/calls.h"
#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "db/pool.h"
#include "feed/feed.h"
#include "link/link.h"
#include "metrics/metrics.h"
#include "util/log.h"

/* queue.stats for one queue at most this often. */
#define API_QUEUE_STATS_MS 1000

struct api_families {
	struct metrics_family *calls, *waiting, *agents, *reconnects, *rest,
	    *lag, *lag_hist, *journal, *pending, *http, *feed_subs,
	    *connections;
};

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1,   0.25,   0.5,   1,    2.5,   5};
static const double lag_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
				    0.025,  0.05,  0.1,    0.25,  1};

static void set_gauge(struct metrics_family *f, double v, const char *label)
{
	const char *labels[1] = {label};

	metrics_set(f, v, label ? labels : NULL);
}

static void collect_queue(struct campaign *c, void *userdata)
{
	struct api *api = userdata;
	unsigned waiting = 0, longest = 0;

	if (api->deps.calls)
		calls_queue_numbers(api->deps.calls, c->id, &waiting, &longest);
	set_gauge(api->fam->waiting, waiting, c->name);
}

static void collect_agents(struct api *api)
{
	unsigned counts[ACD_AGENT__COUNT] = {0};
	const struct acd_agent *acd;
	uint32_t n = 0;

	if (!api->deps.agents)
		return;
	acd = agents_acd(api->deps.agents, &n);
	for (uint32_t i = 0; i < n; i++) {
		struct agent *a = agents_at(api->deps.agents, i);

		if (a && !a->gone)
			counts[acd[i].state]++;
	}
	for (int s = 0; s < ACD_AGENT__COUNT; s++)
		set_gauge(api->fam->agents, counts[s],
			  acd_agent_state_name((enum acd_agent_state)s));
}

static void on_collect(struct metrics *m, void *userdata)
{
	struct api *api = userdata;
	struct cdr_writer_stats cs = {0};
	unsigned reconnects;

	(void)m;
	collect_agents(api);
	metrics_clear(api->fam->waiting);
	if (api->deps.campaigns)
		campaigns_foreach(api->deps.campaigns, collect_queue, api);
	if (api->deps.cdr) {
		cdr_writer_get_stats(api->deps.cdr, &cs);
		set_gauge(api->fam->journal, (double)cs.journal_bytes, NULL);
		set_gauge(api->fam->pending,
			  (double)(cs.journal_records + cs.waiting), NULL);
	}
	if (api->deps.link) {
		reconnects = link_reconnects(api->deps.link);
		if (reconnects > api->ari_reconnects_seen)
			metrics_add(api->fam->reconnects,
				    reconnects - api->ari_reconnects_seen,
				    NULL);
		api->ari_reconnects_seen = reconnects;
	}
	set_gauge(api->fam->feed_subs, (double)feed_subscribers(api->feed),
		  NULL);
	if (api->http)
		set_gauge(api->fam->connections,
			  http_server_connections(api->http), NULL);
}

static void on_rest_answer(const struct ari_response *resp, void *userdata)
{
	struct api *api = userdata;

	metrics_observe(api->fam->rest, resp->elapsed_ms / 1000.0, NULL);
}

void api__count(struct api *api, int status)
{
	char code[8];
	const char *labels[1] = {code};

	if (!api->fam)
		return;
	snprintf(code, sizeof(code), "%d", status);
	metrics_add(api->fam->http, 1, labels);
}

static int families(struct api *api)
{
	static const char *const dir_result[] = {"direction", "result"};
	static const char *const campaign[] = {"campaign"};
	static const char *const state[] = {"state"};
	static const char *const code[] = {"code"};
	struct api_families *f = calloc(1, sizeof(*f));
	struct metrics *m = api->metrics;
	int r = 0;

	if (!f)
		return -ENOMEM;
	api->fam = f;
	r |= metrics_counter(m, "welcomedly_calls_total",
			     "Calls ended, by direction and result.", 2,
			     dir_result, &f->calls);
	r |= metrics_gauge(m, "welcomedly_queue_waiting",
			   "Callers waiting in each campaign's queue.", 1,
			   campaign, &f->waiting);
	r |= metrics_gauge(m, "welcomedly_agents", "Agents by state.", 1, state,
			   &f->agents);
	r |= metrics_counter(m, "welcomedly_ari_reconnects_total",
			     "Times the ARI link was established again.", 0,
			     NULL, &f->reconnects);
	r |= metrics_histogram(m, "welcomedly_ari_rest_duration_seconds",
			       "ARI REST request latency.", 0, NULL,
			       sizeof(latency_bounds) / sizeof(*latency_bounds),
			       latency_bounds, &f->rest);
	r |= metrics_gauge(m, "welcomedly_event_loop_lag_seconds",
			   "Latest lag of the event loop behind its timer.", 0,
			   NULL, &f->lag);
	r |= metrics_histogram(
	    m, "welcomedly_event_loop_lag_distribution_seconds",
	    "Lag of the event loop behind its timer, sampled every 250 ms.", 0,
	    NULL, sizeof(lag_bounds) / sizeof(*lag_bounds), lag_bounds,
	    &f->lag_hist);
	r |= metrics_gauge(m, "welcomedly_cdr_journal_bytes",
			   "Bytes of CDRs in the local journal, not yet in "
			   "PostgreSQL.",
			   0, NULL, &f->journal);
	r |= metrics_gauge(m, "welcomedly_journal_pending_records",
			   "Writes not yet in PostgreSQL (CDRs, agent states, "
			   "queue entries): journaled, or waiting in memory.",
			   0, NULL, &f->pending);
	r |=
	    metrics_counter(m, "welcomedly_http_requests_total",
			    "API responses by status code.", 1, code, &f->http);
	r |= metrics_gauge(m, "welcomedly_feed_subscribers",
			   "Open event-feed WebSockets.", 0, NULL,
			   &f->feed_subs);
	r |= metrics_gauge(m, "welcomedly_api_connections",
			   "Open API connections.", 0, NULL, &f->connections);
	if (r < 0)
		return r;
	return metrics_on_collect(m, on_collect, api);
}

static void publish(struct api *api, const char *type, int64_t agent_id,
		    bool agents_see, json_t *data)
{
	uint64_t seq;

	if (!data)
		return;
	if (feed_publish(api->feed, type, agent_id, agents_see, cdr_now_us(),
			 data, &seq) < 0)
		log_warning("feed: %s not published", type);
}

static void publish_queue(struct campaign *c, void *userdata)
{
	struct api *api = userdata;
	uint64_t now = uv_now(api->loop);

	campaigns_stats_tick(&c->stats, cdr_now_us());
	if (!c->stats.dirty || now < c->stats.published_ms + API_QUEUE_STATS_MS)
		return;
	c->stats.dirty = false;
	c->stats.published_ms = now;
	publish(api, "queue.stats", 0, false, api->queue_json(&api->deps, c));
}

static void on_tick(uv_timer_t *timer)
{
	struct api *api = timer->data;
	uint64_t now = uv_hrtime();
	double lag =
	    now > api->tick_due_ns ? (double)(now - api->tick_due_ns) / 1e9 : 0;

	metrics_set(api->fam->lag, lag, NULL);
	metrics_observe(api->fam->lag_hist, lag, NULL);
	api->tick_due_ns = now + (uint64_t)API_TICK_MS * 1000000;
	if (api->deps.campaigns && api->queue_json)
		campaigns_foreach(api->deps.campaigns, publish_queue, api);
}

static void mark_member_queue(struct campaign *c, void *userdata)
{
	const struct agent *agent = userdata;

	if (campaigns_has_member(c, agent->index))
		c->stats.dirty = true;
}

void api_agent_transition(struct api *api, const struct agent *agent, int from,
			  int to, const char *reason)
{
	if (!api || api->closing)
		return;
	/* The queues it serves count agents by state. */
	if (api->deps.campaigns)
		campaigns_foreach(api->deps.campaigns, mark_member_queue,
				  (void *)agent);
	publish(api, "agent.state_changed", agent->id, true,
		json_pack("{s:I, s:s, s:s, s:s?}", "agent_id",
			  (json_int_t)agent->id, "from",
			  acd_agent_state_name((enum acd_agent_state)from),
			  "to", acd_agent_state_name((enum acd_agent_state)to),
			  "reason", reason));
}

static const char *call_result(const json_t *data)
{
	const char *d = json_string_value(json_object_get(data, "disposition"));

	if (json_is_true(json_object_get(data, "abandoned")))
		return "abandoned";
	if (!d)
		return "unknown";
	if (strcmp(d, "ANSWERED") == 0)
		return "answered";
	if (strcmp(d, "NO ANSWER") == 0)
		return "no_answer";
	if (strcmp(d, "BUSY") == 0)
		return "busy";
	return "failed";
}

void api_call_event(struct api *api, const char *type, int64_t agent_id,
		    int64_t campaign_id, json_t *data)
{
	(void)campaign_id;
	if (!api || api->closing) {
		json_decref(data);
		return;
	}
	if (strcmp(type, "call.ended") == 0) {
		const char *labels[2] = {
		    json_string_value(json_object_get(data, "direction")),
		    call_result(data)};

		if (labels[0])
			metrics_add(api->fam->calls, 1, labels);
	}
	publish(api, type, agent_id, true, data);
}

int api__observe_init(struct api *api)
{
	int r;

	snprintf(api->epoch, sizeof(api->epoch), "%" PRIx64,
		 (uint64_t)api->started_us);
	r = feed_new(0, api->epoch, &api->feed);
	if (r < 0)
		return r;
	r = metrics_new(&api->metrics);
	if (r < 0)
		return r;
	r = families(api);
	if (r < 0)
		return r;
	if (api->deps.link)
		ari_rest_set_observer(link_rest(api->deps.link), on_rest_answer,
				      api);
	uv_timer_init(api->loop, &api->tick);
	api->tick.data = api;
	api->open_handles++;
	api->tick_due_ns = uv_hrtime() + (uint64_t)API_TICK_MS * 1000000;
	uv_timer_start(&api->tick, on_tick, API_TICK_MS, API_TICK_MS);
	return 0;
}

static void on_tick_closed(uv_handle_t *handle)
{
	struct api *api = handle->data;

	api__unref(api);
}

void api__observe_close(struct api *api)
{
	if (api->deps.link)
		ari_rest_set_observer(link_rest(api->deps.link), NULL, NULL);
	if (api->open_handles) {
		api__ref(api);
		uv_close((uv_handle_t *)&api->tick, on_tick_closed);
		api->open_handles = 0;
	}
}

void api__observe_free(struct api *api)
{
	feed_free(api->feed);
	api->feed = NULL;
	metrics_free(api->metrics);
	api->metrics = NULL;
	free(api->fam);
	api->fam = NULL;
}

void api_observe_healthz(struct api_ctx *ctx)
{
	bool ari = ctx->deps->link && link_ready(ctx->deps->link);
	bool db = ctx->deps->db && db_pool_connected(ctx->deps->db) > 0;
	struct cdr_writer_stats cs = {0};

	if (ctx->deps->cdr)
		cdr_writer_get_stats(ctx->deps->cdr, &cs);
	api_reply_json(ctx, ari ? 200 : 503,
		       json_pack("{s:s, s:s, s:s, s:I, s:s}", "status",
				 !ari ? "unavailable"
				 : db ? "ok"
				      : "degraded",
				 "ari", ari ? "up" : "down", "database",
				 db ? "up" : "down", "journal_pending",
				 (json_int_t)(cs.journal_records + cs.waiting),
				 "version", WELCOMEDLY_VERSION));
}

void api_observe_metrics(struct api_ctx *ctx)
{
	char *text = NULL;
	size_t len = 0;

	if (metrics_render(ctx->api->metrics, &text, &len) < 0) {
		api_problem(ctx, 500, "internal", "metrics not rendered");
		return;
	}
	api_reply_raw(ctx, 200, "text/plain; version=0.0.4; charset=utf-8",
		      NULL, text, len);
}
