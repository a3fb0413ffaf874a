/* daemon.c: wires the features together on one libuv loop. */
#include "daemon.h"

#include "buildinfo.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agents/agents.h"
#include "agents/presence.h"
#include "api/api.h"
#include "calls/calls.h"
#include "campaigns/api.h"
#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "link/link.h"
#include "notify.h"
#include "routes.h"
#include "standby/standby.h"
#include "util/log.h"
#include "util/memtrim.h"
#include "webrtc/webrtc.h"

/* How long `run` waits for PostgreSQL before taking calls without
 * campaigns (callers then hear the prompt, and CDRs go to the journal). */
#define DAEMON_CONFIG_WAIT_MS 5000
/* How often the heap is looked at for free pages to give back. */
#define DAEMON_TRIM_MS 10000

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_signal_t sighup;
	struct config *cfg;           /* `run`: updated by reloads */
	struct reload_job *reloading; /* in the thread pool */
	bool reload_again;            /* SIGHUP while one was reading */
	struct db_pool *db;
	struct cdr_writer *cdr;
	struct agents *agents;
	struct campaigns *campaigns;
	bool loading;
	bool reload_pending; /* NOTIFY welcomedly_config during a load */
	/* Who waits for a configuration load: the one in flight, and the
	 * next one to start (the API, after it changed the database). */
	struct config_waiter *load_waiters, *next_waiters;
	unsigned db_up;      /* live query connections */
	bool schema_checked; /* against MIGRATIONS_DIR, once */
	struct link *link;
	struct link *phones; /* watches PJSIP endpoints (ARI_APP-phones) */
	struct calls *calls;
	struct api *api;
	struct webrtc_config webrtc; /* handed to browser softphones */
	struct notify notify;        /* systemd: READY, watchdog */
	bool has_notify;
	bool ari_up;  /* a resync has finished since start */
	bool serving; /* READY for serving calls was sent */
	/* Hot standby: the active lock, or NULL when this process runs
	 * alone. active: calls are this process's to handle (always true
	 * without standby). */
	struct standby *standby;
	bool active;
	/* A one-shot command's time limit; for `run`, how long ARI waits for
	 * the first configuration load. */
	uv_timer_t deadline;
	bool has_deadline;
	/* The heap given back to the kernel after a peak of calls. */
	struct memtrim trim;
	bool link_started;
	bool stopping;
	int result; /* of a one-shot command */
	const char *migrations_dir;
	const char *token_role; /* token create */
	long long token_agent;
};

/* READY=1 once calls can be served: ARI connected and resynced, which
 * happens once the campaigns are loaded or, with the database away, once
 * calls are taken without them: a start during an outage must not end in
 * the start timeout (writes wait in the journal, the configuration loads
 * when the database returns). */
static void maybe_ready(struct daemon *d)
{
	if (!d->has_notify || d->serving || d->stopping || !d->ari_up)
		return;
	d->serving = true;
	notify_ready(&d->notify, !d->db ? "serving calls: ARI up, no database"
				 : d->db_up
				     ? "serving calls: ARI and database up"
				     : "serving calls: ARI up, database away");
}

static void on_event(const struct ari_event *ev, void *userdata)
{
	struct daemon *d = userdata;

	calls_handle_event(d->calls, ev);
}

static void on_resync(const json_t *channel_ids, const json_t *channels,
		      const json_t *bridges, bool restarted, void *userdata)
{
	struct daemon *d = userdata;

	calls_resync(d->calls, channel_ids, channels, bridges, restarted);
	d->ari_up = true;
	maybe_ready(d);
}

/* With registrations in ps_contacts, ARI's endpoint states mean nothing
 * (see presence.h): the phones' application stops being told them, which
 * is two events of a trunk's for each call. Checked as they come. */
static void unwatch_if_contacts(struct daemon *d)
{
	if (agents_contacts_trusted(d->agents) && link_unwatch(d->phones) == 0)
		log_info("phones: endpoint states no longer watched, "
			 "registrations are read from ps_contacts");
}

static void on_phone_event(const struct ari_event *ev, void *userdata)
{
	struct daemon *d = userdata;
	struct agents_endpoint e = {ev->endpoint_technology,
				    ev->endpoint_resource, ev->endpoint_state};

	if (ev->type == ARI_EVENT_ENDPOINT_STATE_CHANGE)
		agents_phone_endpoint(d->agents, &e);
	unwatch_if_contacts(d);
}

static void on_phone_endpoints(const json_t *endpoints, void *userdata)
{
	struct daemon *d = userdata;
	size_t i;
	json_t *e;

	json_array_foreach(endpoints, i, e)
	{
		struct agents_endpoint endpoint;

		agents_endpoint_from_json(e, &endpoint);
		agents_phone_endpoint(d->agents, &endpoint);
	}
	agents_phones_synced(d->agents);
	unwatch_if_contacts(d);
}

static void on_phones_replaced(void *userdata)
{
	(void)userdata;
}

static void on_contacts_notify(const char *channel, const char *payload,
			       void *userdata)
{
	struct daemon *d = userdata;

	(void)channel;
	if (d->active)
		agents_contacts_changed(d->agents, payload);
}

/* Calls are taken only once campaigns are known, so that calls adopted
 * after a restart go back to their queue rather than to a prompt. */
static void start_link(struct daemon *d)
{
	int r;

	if (d->link_started || d->stopping)
		return;
	d->link_started = true;
	r = link_start(d->link);
	if (r < 0)
		log_error("ARI link cannot start error=%s", strerror(-r));
}

static void on_config_deadline(uv_timer_t *timer)
{
	struct daemon *d = timer->data;

	if (!d->link_started)
		log_warning("no campaigns loaded within %d ms: taking calls "
			    "without them",
			    DAEMON_CONFIG_WAIT_MS);
	start_link(d);
}

struct config_waiter {
	void (*done)(int error, void *userdata);
	void *userdata;
	struct config_waiter *next;
};

/* Runs every waiter of list once, in the order they came. */
static void run_config_waiters(struct config_waiter *list, int error)
{
	struct config_waiter *w, *next, *prev = NULL;

	for (w = list; w; w = next) { /* pushed newest first */
		next = w->next;
		w->next = prev;
		prev = w;
	}
	for (w = prev; w; w = next) {
		next = w->next;
		w->done(error, w->userdata);
		free(w);
	}
}

static void load_config(struct daemon *d);

static void on_campaigns_loaded(int error, void *userdata)
{
	struct daemon *d = userdata;
	struct config_waiter *served = d->load_waiters;

	d->load_waiters = NULL;
	d->loading = false;
	if (error == 0)
		start_link(d);
	if (error < 0)
		log_warning("campaigns not loaded error=%s, retrying when the "
			    "database returns",
			    strerror(-error));
	else
		calls_dispatch(d->calls);
	run_config_waiters(served, d->stopping ? -ECANCELED : error);
	/* A change notified while this load ran may have been read too late
	 * by it: load again. */
	if ((d->reload_pending || d->next_waiters) && error == 0) {
		d->reload_pending = false;
		load_config(d);
	}
}

static void on_agents_loaded(int error, void *userdata)
{
	struct daemon *d = userdata;
	int r = error;

	if (r == 0)
		r = campaigns_load(d->campaigns, on_campaigns_loaded, d);
	if (r < 0)
		on_campaigns_loaded(r, d);
}

/* Agents, then campaigns (whose members point at agents). A standby loads
 * nothing: it reads the state when it takes over, as a restart does. */
static void load_config(struct daemon *d)
{
	int r;

	if (!d->agents || d->stopping || !d->active)
		return;
	if (d->loading) {
		d->reload_pending = true;
		return;
	}
	d->loading = true;
	d->load_waiters = d->next_waiters;
	d->next_waiters = NULL;
	r = agents_load(d->agents, on_agents_loaded, d);
	if (r < 0)
		on_campaigns_loaded(r, d);
}

/* The writer's statement and the API's queries need the newest schema: a
 * daemon upgraded before `welcomedlyd migrate` says so at once, not in the
 * errors of every write. */
static void on_schema_checked(int error, unsigned pending, const char *first,
			      void *userdata)
{
	struct daemon *d = userdata;

	if (error == -ECANCELED)
		return;
	if (error < 0) {
		/* The connection went meanwhile: at the next one. */
		d->schema_checked = false;
		log_notice("database schema not checked error=%s, again at "
			   "the next connection",
			   strerror(-error));
	} else if (pending > 0) {
		/* A statement prepared on the old schema stays refused on
		 * its connection: hence the restart. */
		log_error("database schema lacks migrations=%u first=%s: run "
			  "welcomedlyd migrate, then restart welcomedlyd; "
			  "writes that need them fail until then",
			  pending, first);
	} else {
		log_info("database schema current");
	}
}

/* The directory is listed on the loop, once: a few names. */
static void check_schema(struct daemon *d)
{
	int r;

	if (d->schema_checked)
		return;
	d->schema_checked = true;
	r = db_migrate_check(d->db, d->cfg->migrations_dir, on_schema_checked,
			     d);
	if (r < 0)
		log_notice("database schema not checked: dir=%s not read "
			   "error=%s",
			   d->cfg->migrations_dir, strerror(-r));
}

static void on_db_state(unsigned up, void *userdata)
{
	struct daemon *d = userdata;

	unsigned was = d->db_up;

	d->db_up = up;
	log_info("database connections up=%u", up);
	if (d->cdr)
		cdr_writer_db_state(d->cdr, up);
	/* Back from none: what changed meanwhile was not notified. */
	if (up && !was)
		check_schema(d);
	if (up && !was)
		load_config(d);
	if (up && !was && d->api && d->active)
		api_db_up(d->api);
	if (up)
		maybe_ready(d);
}

static void on_agent_changed(struct agent *agent, void *userdata)
{
	struct daemon *d = userdata;

	if (d->calls)
		calls_dispatch(d->calls);
}

/* NOTIFY welcomedly_agent, '<agent id> <login|pause|logout> [reason]': how
 * agents log in until the admin API does it. */
static void on_agent_notify(const char *channel, const char *payload,
			    void *userdata)
{
	static const struct {
		const char *word;
		enum agents_input input;
	} words[] = {
	    {"login", AGENTS_INPUT_LOGIN},
	    {"pause", AGENTS_INPUT_PAUSE},
	    {"logout", AGENTS_INPUT_LOGOUT},
	};
	struct daemon *d = userdata;
	char word[16] = "", reason[64] = "";
	long long id = 0;
	struct agent *agent;

	if (!d->active)
		return;
	if (sscanf(payload, "%lld %15s %63s", &id, word, reason) < 2 ||
	    !(agent = agents_by_id(d->agents, id))) {
		log_warning("agent request \"%s\" not understood, ignoring",
			    payload);
		return;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcmp(word, words[i].word) == 0) {
			agents_request(d->agents, agent, words[i].input,
				       *reason ? reason : NULL);
			return;
		}
	}
	log_warning("agent request \"%s\": unknown action, ignoring", payload);
}

static void on_agent_transition(struct agent *agent, enum acd_agent_state from,
				enum acd_agent_state to, const char *reason,
				void *userdata)
{
	struct daemon *d = userdata;

	api_agent_transition(d->api, agent, from, to, reason);
}

static void on_call_event(const char *type, int64_t agent_id,
			  int64_t campaign_id, json_t *data, void *userdata)
{
	struct daemon *d = userdata;

	if (d->api)
		api_call_event(d->api, type, agent_id, campaign_id, data);
	else
		json_decref(data);
}

/* NOTIFY welcomedly_tokens: API tokens were created or revoked. */
static void on_tokens_notify(const char *channel, const char *payload,
			     void *userdata)
{
	struct daemon *d = userdata;

	api_tokens_changed(d->api);
}

/* NOTIFY welcomedly_config: campaigns, members or agents changed. */
static void on_config_notify(const char *channel, const char *payload,
			     void *userdata)
{
	load_config(userdata);
}

/* The pool goes last: the CDR writer may still hand it a statement until
 * it has put everything unconfirmed in the journal. */
static void on_cdr_closed(void *userdata)
{
	struct daemon *d = userdata;

	db_pool_close(d->db);
	d->db = NULL;
}

static void stop(struct daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	run_config_waiters(d->next_waiters, -ECANCELED);
	d->next_waiters = NULL;
	api_close(d->api);
	d->api = NULL;
	link_close(d->link);
	link_close(d->phones);
	calls_close(d->calls);
	agents_close(d->agents);
	campaigns_free(d->campaigns);
	d->campaigns = NULL;
	if (d->cdr)
		cdr_writer_close(d->cdr, on_cdr_closed, d);
	else
		on_cdr_closed(d);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
	if (d->has_deadline)
		uv_close((uv_handle_t *)&d->deadline, NULL);
	if (d->has_notify)
		notify_close(&d->notify);
	memtrim_close(&d->trim);
	standby_close(d->standby);
	d->standby = NULL;
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

/* SIGHUP: the environment file is read in the thread pool (file system
 * calls do not belong on the loop), then applied on the loop. */
struct reload_job {
	uv_work_t req;
	struct daemon *d;
	struct config cfg;
	char err[512];
	int result;
};

static void start_reload(struct daemon *d);

/* Whether key may take fresh's value without a restart. DATABASE_URL may
 * change but not appear or go: the database's users exist or not. */
static bool changes_live(const struct daemon *d, const struct config *fresh,
			 const struct config_key *key)
{
	if (!key->reloadable)
		return false;
	if (strcmp(key->name, "DATABASE_URL") == 0)
		return *d->cfg->database_url && *fresh->database_url;
	return true;
}

/* Hands the running features the reloadable settings now in d->cfg. */
static void apply_live(struct daemon *d)
{
	const struct config *cfg = d->cfg;
	enum log_level level;
	int r;

	if (log_level_parse(cfg->log_level, &level) == 0)
		log_set_level(level);
	r = link_set_credentials(d->link, cfg->ari_username, cfg->ari_password);
	if (r == 0 && d->db)
		r = db_pool_set_conninfo(d->db, cfg->database_url);
	if (r == 0 && d->standby)
		r = standby_set_conninfo(d->standby, cfg->database_url);
	if (r == 0 && d->api)
		r = api_set_bootstrap_token(d->api, cfg->api_token);
	if (r < 0)
		log_error("settings only partly applied error=%s",
			  strerror(-r));
}

/* Takes the changed settings of fresh that can change live (fresh keeps
 * the old values), names the others; returns how many were taken. */
static unsigned take_settings(struct daemon *d, struct config *fresh)
{
	unsigned taken = 0;

	for (const struct config_key *k = config_keys(); k->name; k++) {
		if (strcmp(config_get(d->cfg, k), config_get(fresh, k)) == 0)
			continue;
		if (!changes_live(d, fresh, k)) {
			log_warning("setting=%s changed but takes effect at "
				    "the next start, ignoring",
				    k->name);
			continue;
		}
		config_swap(d->cfg, fresh, k);
		taken++;
	}
	return taken;
}

static void apply_settings(struct daemon *d, struct config *fresh)
{
	struct webrtc_config webrtc;
	char err[512];
	unsigned taken;

	/* The browser settings are checked before anything changes. */
	if (webrtc_config_init(&webrtc, fresh, err, sizeof(err)) < 0) {
		log_error("settings not reloaded: %s, keeping the running ones",
			  err);
		return;
	}
	taken = take_settings(d, fresh);
	apply_live(d);
	if (webrtc_config_init(&webrtc, d->cfg, err, sizeof(err)) == 0)
		d->webrtc = webrtc;
	log_notice("settings reloaded changed=%u log_level=%s", taken,
		   d->cfg->log_level);
}

static void reload_work(uv_work_t *req)
{
	struct reload_job *job = req->data;

	job->result = config_load(&job->cfg, job->err, sizeof(job->err));
}

static void after_reload(uv_work_t *req, int status)
{
	struct reload_job *job = req->data;
	struct daemon *d = job->d;

	d->reloading = NULL;
	if (status == 0 && job->result < 0 && !d->stopping)
		log_error("settings not reloaded: %s, keeping the running ones",
			  *job->err ? job->err : strerror(-job->result));
	else if (status == 0 && !d->stopping)
		apply_settings(d, &job->cfg);
	if (status == 0 && job->result == 0)
		config_clear(&job->cfg);
	free(job);
	if (d->stopping)
		return;
	notify_reloaded(&d->notify, "serving calls: settings reloaded");
	if (d->reload_again) {
		d->reload_again = false;
		start_reload(d);
	}
}

static void start_reload(struct daemon *d)
{
	struct reload_job *job;
	int r;

	if (d->reloading) {
		d->reload_again = true;
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		log_error("settings not reloaded error=%s", strerror(ENOMEM));
		return;
	}
	job->d = d;
	job->req.data = job;
	notify_reloading(&d->notify);
	r = uv_queue_work(&d->loop, &job->req, reload_work, after_reload);
	if (r < 0) {
		log_error("settings not reloaded error=%s", uv_strerror(r));
		free(job);
		return;
	}
	d->reloading = job;
}

static void on_sighup(uv_signal_t *handle, int signum)
{
	struct daemon *d = handle->data;

	log_notice("signal=%s reloading settings env_file=%s",
		   strsignal(signum),
		   *d->cfg->env_file ? d->cfg->env_file : "(none)");
	if (!d->stopping)
		start_reload(d);
}

static const struct link_handlers link_handlers = {
    .event = on_event,
    .resync = on_resync,
    .replaced = on_replaced,
};

static const struct link_handlers phones_handlers = {
    .event = on_phone_event,
    .replaced = on_phones_replaced,
    .endpoints = on_phone_endpoints,
};

/* Reachability comes from a second application that no call enters (see
 * link_config.endpoints): it is told every change of a PJSIP endpoint's
 * state, and lists them all after each (re)connect. */
static int open_phones(struct daemon *d, const struct config *cfg)
{
	char app[256];
	struct link_config lc = {
	    .ari_url = cfg->ari_url,
	    .username = cfg->ari_username,
	    .password = cfg->ari_password,
	    .app = app,
	    .endpoints = "PJSIP",
	};

	snprintf(app, sizeof(app), "%s-phones", cfg->ari_app);
	return link_new(&d->loop, &lc, &phones_handlers, d, &d->phones);
}

static int open_db(struct daemon *d, const struct config *cfg)
{
	struct db_pool_config pc = {.conninfo = cfg->database_url};
	int r;

	r = db_pool_new(&d->loop, &pc, &d->db);
	if (r < 0)
		return r;
	db_pool_set_state_cb(d->db, on_db_state, d);
	return 0;
}

static int open_cdr(struct daemon *d, const struct config *cfg)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/cdr.journal", cfg->journal_dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return cdr_writer_new(&d->loop, d->db, path, &d->cdr);
}

static int open_acd(struct daemon *d)
{
	int r = agents_new(&d->loop, d->db, on_agent_changed, d, &d->agents);

	if (r < 0)
		return r;
	r = campaigns_new(d->db, d->agents, &d->campaigns);
	if (r < 0)
		return r;
	agents_set_transition_cb(d->agents, on_agent_transition, d);
	agents_set_writer(d->agents, d->cdr);
	r = db_pool_listen(d->db, "welcomedly_agent", on_agent_notify, d);
	if (r == 0)
		r = db_pool_listen(d->db, "welcomedly_tokens", on_tokens_notify,
				   d);
	if (r == 0)
		r = db_pool_listen(d->db, "welcomedly_contacts",
				   on_contacts_notify, d);
	if (r < 0)
		return r;
	return db_pool_listen(d->db, "welcomedly_config", on_config_notify, d);
}

/* api_deps.reload: a load that starts after now; done runs when it ends. */
static int reload_config(void *reload_data,
			 void (*done)(int error, void *userdata),
			 void *userdata)
{
	struct daemon *d = reload_data;
	struct config_waiter *w;

	if (!d->agents || d->stopping || !d->active)
		return -ECANCELED;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct config_waiter){done, userdata, d->next_waiters};
	d->next_waiters = w;
	load_config(d);
	return 0;
}

static int open_api(struct daemon *d, const struct config *cfg)
{
	struct api_config ac = {
	    .listen = cfg->api_listen,
	    .bootstrap_token = cfg->api_token,
	    .routes = routes_table,
	    .nroutes = routes_count,
	    .queue_json = campaigns_api_queue_json,
	    .pages_dir = cfg->pages_dir,
	};
	struct api_deps deps = {
	    .db = d->db,
	    .agents = d->agents,
	    .campaigns = d->campaigns,
	    .calls = d->calls,
	    .link = d->link,
	    .cdr = d->cdr,
	    .webrtc = &d->webrtc,
	    .reload = reload_config,
	    .reload_data = d,
	};
	char err[512];
	int r = webrtc_config_init(&d->webrtc, cfg, err, sizeof(err));

	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = api_new(&d->loop, &ac, &deps, &d->api);
	if (r < 0)
		log_error("API cannot listen on %s error=%s", cfg->api_listen,
			  strerror(-r));
	return r;
}

/* What a process that handles calls starts with: the phones' link at once,
 * the calls' link once the campaigns are loaded (or after
 * DAEMON_CONFIG_WAIT_MS without them). */
static int take_calls(struct daemon *d)
{
	int r;

	d->active = true;
	if (!d->agents) {
		start_link(d);
		return 0;
	}
	r = link_start(d->phones);
	if (r < 0)
		return r;
	uv_timer_init(&d->loop, &d->deadline);
	d->deadline.data = d;
	d->has_deadline = true;
	uv_timer_start(&d->deadline, on_config_deadline, DAEMON_CONFIG_WAIT_MS,
		       0);
	if (d->db_up)
		load_config(d);
	return 0;
}

/* The lock is ours: from here on it is a restart's start, which adopts what
 * the previous active process left (resync). */
static void on_standby_active(void *userdata)
{
	struct daemon *d = userdata;
	int r;

	if (d->stopping)
		return;
	log_notice("hot standby: taking over as the active process");
	api_set_role(d->api, "active");
	api_count_takeover(d->api);
	if (d->has_notify)
		notify_ready(&d->notify, "active: taking calls over");
	if (d->db_up)
		api_db_up(d->api);
	r = take_calls(d);
	if (r < 0) {
		log_error("cannot take calls over error=%s", strerror(-r));
		d->result = r;
		stop(d);
	}
}

/* Stepping down is exiting: the ARI sockets close without a hangup, so
 * the calls stay in Stasis for the next active process, and the supervisor
 * (systemd's Restart=on-failure) starts this one again, as a standby. The
 * lock session closes last, once call control has stopped. */
static void on_standby_lost(const char *why, void *userdata)
{
	struct daemon *d = userdata;

	log_error("hot standby: lost the active lock (%s): stepping down, "
		  "calls stay in Stasis for the next active process",
		  why);
	d->result = -ENOLCK;
	stop(d); /* the API first, then the ARI links, the lock last */
}

static const struct standby_handlers standby_handlers = {
    .active = on_standby_active,
    .lost = on_standby_lost,
};

/* A standby holds no call: it waits for the lock, serving /healthz and
 * /metrics meanwhile. */
static int open_standby(struct daemon *d, const struct config *cfg)
{
	int r = standby_new(&d->loop, cfg->database_url, cfg->ari_app,
			    &standby_handlers, d, &d->standby);

	if (r == 0)
		r = standby_start(d->standby);
	if (r < 0)
		return r;
	api_set_role(d->api, "standby");
	log_notice("hot standby: standby, waiting for the active lock");
	if (d->has_notify)
		notify_ready(&d->notify,
			     "standby: waiting for the active lock");
	return 0;
}

static int start(struct daemon *d, const struct config *cfg)
{
	struct link_config lc = {
	    .ari_url = cfg->ari_url,
	    .username = cfg->ari_username,
	    .password = cfg->ari_password,
	    .app = cfg->ari_app,
	    .rest_over_ws = strcmp(cfg->ari_rest_transport, "websocket") == 0,
	};
	struct calls_config cc = {.prompt_sound = cfg->prompt_sound,
				  .app = cfg->ari_app};
	struct calls_deps deps = {0};
	int r;

	if (*cfg->database_url) {
		r = open_db(d, cfg);
		if (r < 0)
			return r;
		r = open_cdr(d, cfg);
		if (r < 0)
			return r;
		r = open_acd(d);
		if (r < 0)
			return r;
	} else {
		log_warning("DATABASE_URL is empty: no CDRs are written");
	}
	lc.events = calls_event_types(&lc.n_events);
	r = link_new(&d->loop, &lc, &link_handlers, d, &d->link);
	if (r == 0 && d->agents)
		r = open_phones(d, cfg);
	if (r < 0)
		return r;
	deps.rest = link_rest(d->link);
	deps.cdr = d->cdr;
	deps.db = d->db;
	deps.agents = d->agents;
	deps.campaigns = d->campaigns;
	r = calls_init(&d->loop, &deps, &cc, &d->calls);
	if (r < 0)
		return r;
	calls_set_event_cb(d->calls, on_call_event, d);
	r = open_api(d, cfg);
	if (r < 0)
		return r;
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_start(&d->sighup, on_sighup, SIGHUP);
	r = memtrim_start(&d->trim, &d->loop, DAEMON_TRIM_MS);
	if (r < 0)
		return r;
	if (config_hot_standby(cfg))
		return open_standby(d, cfg);
	return take_calls(d);
}

/* Sets up the loop and the signal handles every command owns. */
static int daemon_init(struct daemon *d)
{
	int r = uv_loop_init(&d->loop);

	if (r < 0)
		return r;
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigterm.data = d->sigint.data = d->sighup.data = d;
	return 0;
}

/* Runs the loop until every handle has closed. */
static int daemon_finish(struct daemon *d)
{
	uv_run(&d->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&d->loop) != 0) {
		log_error("event loop still has handles at exit");
		return -EBUSY;
	}
	return 0;
}

int daemon_run(struct config *cfg)
{
	struct daemon d = {0};
	int r;

	signal(SIGPIPE, SIG_IGN);
	d.cfg = cfg;
	r = daemon_init(&d);
	if (r < 0)
		return r;
	log_notice("welcomedlyd %s starting ari=%s app=%s", WELCOMEDLY_VERSION,
		   cfg->ari_url, cfg->ari_app);
	r = notify_init(&d.notify, &d.loop);
	d.has_notify = r == 0;
	if (r == 0)
		r = start(&d, cfg);
	if (r < 0) {
		log_error("cannot start error=%s", strerror(-r));
		stop(&d);
	}
	if (daemon_finish(&d) < 0 && r == 0)
		r = -EBUSY;
	if (r == 0 && d.result < 0)
		r = d.result;
	log_notice("stopped");
	return r;
}

static void on_migrated(int error, unsigned applied, const char *detail,
			void *userdata)
{
	struct daemon *d = userdata;

	if (error < 0)
		log_error("migration failed error=%s detail=%s",
			  strerror(-error), detail ? detail : "");
	else
		log_notice("migrations applied=%u", applied);
	d->result = error;
	stop(d);
}

/* Migrations wait for a connection: the pool fails fast while none is up,
 * and right after start none is. */
static void on_migrate_db_state(unsigned up, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	if (!up || d->stopping || d->result != 1)
		return;
	d->result = 0;
	r = db_migrate_run(d->db, d->migrations_dir, on_migrated, d);
	if (r < 0)
		on_migrated(r, 0, "cannot start", d);
}

static void on_oneshot_timeout(uv_timer_t *timer)
{
	struct daemon *d = timer->data;

	log_error("no database connection within 30 s");
	d->result = -ETIMEDOUT;
	stop(d);
}

/* A command that needs one database connection and then stops: on_up
 * runs when the connection is there (d->result is 1 until then). */
static int run_oneshot(struct daemon *d, const struct config *cfg,
		       db_state_cb on_up)
{
	int r;

	if (!*cfg->database_url) {
		log_error("this command needs DATABASE_URL");
		return -EINVAL;
	}
	r = daemon_init(d);
	if (r < 0)
		return r;
	d->result = 1; /* waiting for a connection */
	uv_timer_init(&d->loop, &d->deadline);
	d->deadline.data = d;
	d->has_deadline = true;
	uv_timer_start(&d->deadline, on_oneshot_timeout, 30000, 0);
	r = open_db(d, cfg);
	if (r < 0) {
		log_error("cannot open the database error=%s", strerror(-r));
		d->result = r;
		stop(d);
	} else {
		db_pool_set_state_cb(d->db, on_up, d);
		uv_signal_start(&d->sigterm, on_signal, SIGTERM);
		uv_signal_start(&d->sigint, on_signal, SIGINT);
	}
	r = daemon_finish(d);
	return d->result < 0 ? d->result : r;
}

int daemon_migrate(const struct config *cfg)
{
	struct daemon d = {0};

	d.migrations_dir = cfg->migrations_dir;
	return run_oneshot(&d, cfg, on_migrate_db_state);
}

struct token_job {
	struct daemon *d;
	char token[65];
};

static void on_token_stored(int error, const PGresult *res, void *userdata)
{
	struct token_job *job = userdata;
	struct daemon *d = job->d;

	if (error < 0) {
		log_error("token not stored: %s",
			  res ? PQresultErrorMessage(res) : strerror(-error));
		d->result = error;
	} else {
		printf("%s\n", job->token);
		fflush(stdout);
		d->result = 0;
	}
	free(job);
	stop(d);
}

static void on_token_db_state(unsigned up, void *userdata)
{
	struct daemon *d = userdata;
	struct token_job *job;
	char hash[65], agent[24];
	const char *params[3] = {hash, d->token_role, NULL};
	int r;

	if (!up || d->stopping || d->result != 1)
		return;
	d->result = 0;
	job = calloc(1, sizeof(*job));
	if (!job || api_token_generate(job->token) < 0 ||
	    api_token_hash(job->token, hash) < 0) {
		free(job);
		d->result = -EIO;
		stop(d);
		return;
	}
	job->d = d;
	if (d->token_agent > 0) {
		snprintf(agent, sizeof(agent), "%lld", d->token_agent);
		params[2] = agent;
	}
	r = db_pool_query(d->db,
			  "INSERT INTO api_tokens (token_hash, role, agent_id) "
			  "VALUES ($1, $2, $3)",
			  3, params, on_token_stored, job);
	if (r < 0)
		on_token_stored(r, NULL, job);
}

int daemon_token_create(const struct config *cfg, const char *role,
			long long agent_id)
{
	struct daemon d = {0};

	if (strcmp(role, "admin") != 0 && strcmp(role, "supervisor") != 0 &&
	    strcmp(role, "agent") != 0) {
		log_error("token role must be admin, supervisor or agent");
		return -EINVAL;
	}
	if ((strcmp(role, "agent") == 0) != (agent_id > 0)) {
		log_error("an agent token names its agent, and only it does");
		return -EINVAL;
	}
	d.token_role = role;
	d.token_agent = agent_id;
	return run_oneshot(&d, cfg, on_token_db_state);
}
