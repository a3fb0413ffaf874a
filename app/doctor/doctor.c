/* doctor.c: `welcomedlyd doctor`, a chain of checks on one libuv loop. */
#include "doctor/doctor.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ari/rest.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "util/log.h"

/* How long the dialplan check waits for its Local/ call to mark the
 * variable, and the database check for a connection. */
#define DOCTOR_CALL_WAIT_MS 3000
#define DOCTOR_POLL_MS 100
#define DOCTOR_DB_WAIT_MS 5000

/* The global variable welcomedly-check,check sets (asterisk-conf/freepbx/
 * extensions_custom.conf). */
#define DOCTOR_MARK "WELCOMEDLY_CHECKED"

struct doctor {
	uv_loop_t loop;
	uv_timer_t timer;
	const struct config *cfg;
	FILE *out;
	struct ari_rest *rest;
	struct db_pool *db;
	size_t step;
	unsigned faults;
	unsigned polls;
	bool ari_down; /* the ARI checks after the first are skipped */
	bool db_waiting;
	char db_last[32]; /* the last migration applied */
};

static void next(struct doctor *d);

static void report(struct doctor *d, bool ok, const char *check,
		   const char *what, const char *fix)
{
	fprintf(d->out, "%-5s %-12s %s\n", ok ? "ok" : "FAIL", check, what);
	if (!ok) {
		d->faults++;
		fprintf(d->out, "      fix: %s\n", fix);
	}
	fflush(d->out);
}

static void note(struct doctor *d, const char *check, const char *what)
{
	fprintf(d->out, "%-5s %-12s %s\n", "note", check, what);
	fflush(d->out);
}

/* ---- ARI user --------------------------------------------------------- */

static void on_info(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;
	char what[512];

	if (resp->error == -ECANCELED)
		return;
	if (resp->error == 0) {
		snprintf(what, sizeof(what), "ARI at %s/ari answers user '%s'",
			 d->cfg->ari_url, d->cfg->ari_username);
		report(d, true, "ari-user", what, NULL);
	} else if (resp->error == -EACCES) {
		snprintf(what, sizeof(what),
			 "ARI at %s refused user '%s' (HTTP 401)",
			 d->cfg->ari_url, d->cfg->ari_username);
		report(d, false, "ari-user", what,
		       "add the user to /etc/asterisk/ari_additional_custom."
		       "conf (asterisk-conf/freepbx/ari_additional_custom."
		       "conf) with ARI_PASSWORD's password, then asterisk -rx "
		       "\"module reload res_ari.so\"");
		d->ari_down = true;
	} else {
		snprintf(what, sizeof(what),
			 "nothing answers ARI at %s/ari (%s, HTTP %ld)",
			 d->cfg->ari_url, strerror(-resp->error),
			 resp->http_status);
		report(d, false, "ari-user", what,
		       "enable Asterisk's HTTP server (http.conf enabled = "
		       "yes, bindport 8088; FreePBX: Advanced Settings, mini-"
		       "HTTP server) and point ARI_URL at it, never at the AMI "
		       "port 5038");
		d->ari_down = true;
	}
	next(d);
}

static int check_ari_user(struct doctor *d)
{
	return ari_rest_request(d->rest, "GET", "/asterisk/info", NULL, on_info,
				d);
}

/* ---- the Stasis application ------------------------------------------- */

static void on_app(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;
	char what[512];

	if (resp->error == -ECANCELED)
		return;
	if (resp->error == 0)
		snprintf(what, sizeof(what),
			 "application '%s' is registered: welcomedlyd is "
			 "connected",
			 d->cfg->ari_app);
	else
		snprintf(what, sizeof(what),
			 "application '%s' is not registered: calls to "
			 "Stasis(%s) take the dialplan's fallback until "
			 "welcomedlyd runs",
			 d->cfg->ari_app, d->cfg->ari_app);
	note(d, "application", what);
	next(d);
}

static int check_app(struct doctor *d)
{
	char path[256];

	snprintf(path, sizeof(path), "/applications/%s", d->cfg->ari_app);
	return ari_rest_request(d->rest, "GET", path, NULL, on_app, d);
}

/* ---- the dialplan ----------------------------------------------------- */

/* A Local/ call is created even when its context does not exist (the ;2
 * half fails later), so the answer of POST /channels proves nothing: the
 * check extension marks a global variable, which is read back. */
static void dialplan_result(struct doctor *d, bool ok)
{
	report(d, ok, "dialplan",
	       ok ? "a Local/check@welcomedly-check call ran the kit's "
		    "dialplan"
		  : "a Local/check@welcomedly-check call found no kit "
		    "dialplan",
	       "append asterisk-conf/freepbx/extensions_custom.conf to "
	       "/etc/asterisk/extensions_custom.conf, then asterisk -rx "
	       "\"dialplan reload\"");
	next(d);
}

static void poll_mark(uv_timer_t *timer);

static void on_mark(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;
	const char *value;

	if (resp->error == -ECANCELED)
		return;
	value = json_string_value(json_object_get(resp->json, "value"));
	if (resp->error == 0 && value && strcmp(value, "0") != 0) {
		dialplan_result(d, true);
		return;
	}
	if (++d->polls * DOCTOR_POLL_MS >= DOCTOR_CALL_WAIT_MS) {
		dialplan_result(d, false);
		return;
	}
	uv_timer_start(&d->timer, poll_mark, DOCTOR_POLL_MS, 0);
}

static void poll_mark(uv_timer_t *timer)
{
	struct doctor *d = timer->data;

	if (ari_rest_request(d->rest, "GET",
			     "/asterisk/variable?variable=" DOCTOR_MARK, NULL,
			     on_mark, d) < 0)
		dialplan_result(d, false);
}

static void on_originated(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;

	if (resp->error == -ECANCELED)
		return;
	if (resp->error < 0) {
		dialplan_result(d, false);
		return;
	}
	d->polls = 0;
	uv_timer_start(&d->timer, poll_mark, DOCTOR_POLL_MS, 0);
}

static void on_mark_cleared(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;

	if (resp->error == -ECANCELED)
		return;
	if (ari_rest_request(d->rest, "POST",
			     "/channels?endpoint=Local%2Fcheck%40welcomedly-"
			     "check&context=welcomedly-check&extension=check&"
			     "priority=1&timeout=5",
			     NULL, on_originated, d) < 0)
		dialplan_result(d, false);
}

static int check_dialplan(struct doctor *d)
{
	return ari_rest_request(d->rest, "POST",
				"/asterisk/variable?variable=" DOCTOR_MARK
				"&value=0",
				NULL, on_mark_cleared, d);
}

/* ---- the recording spool ---------------------------------------------- */

static void on_recordings(const struct ari_response *resp, void *userdata)
{
	struct doctor *d = userdata;
	char what[256];

	if (resp->error == -ECANCELED)
		return;
	snprintf(what, sizeof(what),
		 resp->error == 0 ? "Asterisk lists its recording spool "
				    "(%zu recordings)"
				  : "Asterisk cannot list its recording spool",
		 json_array_size(resp->json));
	report(d, resp->error == 0, "recordings", what,
	       "create Asterisk's recording spool (astspooldir/recording, "
	       "/var/spool/asterisk/recording by default), owned by the "
	       "user Asterisk runs as");
	next(d);
}

static int check_recordings(struct doctor *d)
{
	return ari_rest_request(d->rest, "GET", "/recordings/stored", NULL,
				on_recordings, d);
}

/* ---- the database ----------------------------------------------------- */

static void db_result(struct doctor *d, bool ok, const char *what,
		      const char *fix)
{
	uv_timer_stop(&d->timer);
	d->db_waiting = false;
	report(d, ok, "database", what, fix);
	next(d);
}

/* The files of MIGRATIONS_DIR the database lacks: a binary upgraded before
 * `welcomedlyd migrate`. */
static void on_pending(int error, unsigned pending, const char *first,
		       void *userdata)
{
	struct doctor *d = userdata;
	char what[256 + PATH_MAX];

	if (error == -ECANCELED)
		return;
	if (error < 0)
		snprintf(what, sizeof(what),
			 "PostgreSQL answers; last migration %s (not compared "
			 "with %s: %s)",
			 d->db_last, d->cfg->migrations_dir, strerror(-error));
	else if (pending > 0)
		snprintf(what, sizeof(what),
			 "PostgreSQL answers; last migration %s, but %u "
			 "migration(s) of %s not applied, first %s",
			 d->db_last, pending, d->cfg->migrations_dir, first);
	else
		snprintf(what, sizeof(what),
			 "PostgreSQL answers; last migration %s", d->db_last);
	db_result(d, error < 0 || pending == 0, what,
		  "run welcomedlyd migrate, then restart welcomedlyd");
}

static void on_migrations(int error, const PGresult *res, void *userdata)
{
	struct doctor *d = userdata;
	char what[256 + PATH_MAX];
	int r;

	if (error == -ECANCELED)
		return;
	if (error < 0) {
		db_result(d, false, "the database has no migrations applied",
			  "run welcomedlyd migrate");
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		db_result(d, false, "PostgreSQL answers; last migration none",
			  "run welcomedlyd migrate");
		return;
	}
	snprintf(d->db_last, sizeof(d->db_last), "%s", PQgetvalue(res, 0, 0));
	/* A directory that cannot be listed checks nothing more. */
	r = db_migrate_check(d->db, d->cfg->migrations_dir, on_pending, d);
	if (r < 0) {
		snprintf(what, sizeof(what),
			 "PostgreSQL answers; last migration %s (%s not read: "
			 "%s)",
			 d->db_last, d->cfg->migrations_dir, strerror(-r));
		db_result(d, true, what, NULL);
	}
}

static void on_db_state(unsigned up, void *userdata)
{
	struct doctor *d = userdata;

	if (!up || !d->db_waiting)
		return;
	d->db_waiting = false;
	if (db_pool_query(d->db, "SELECT max(version) FROM schema_migrations",
			  0, NULL, on_migrations, d) < 0)
		db_result(d, false, "cannot query the database",
			  "check DATABASE_URL");
}

static void on_db_timeout(uv_timer_t *timer)
{
	struct doctor *d = timer->data;

	if (d->db_waiting)
		db_result(d, false, "no connection to DATABASE_URL in 5 s",
			  "check DATABASE_URL and that PostgreSQL accepts "
			  "the connection");
}

static int check_database(struct doctor *d)
{
	struct db_pool_config pc = {.conninfo = d->cfg->database_url,
				    .size = 1};
	int r;

	if (!*d->cfg->database_url) {
		db_result(d, false, "DATABASE_URL is empty",
			  "set DATABASE_URL to welcomedlyd's PostgreSQL, then "
			  "welcomedlyd migrate");
		return 0;
	}
	r = db_pool_new(&d->loop, &pc, &d->db);
	if (r < 0)
		return r;
	d->db_waiting = true;
	db_pool_set_state_cb(d->db, on_db_state, d);
	uv_timer_start(&d->timer, on_db_timeout, DOCTOR_DB_WAIT_MS, 0);
	return 0;
}

/* ---- the chain -------------------------------------------------------- */

static const struct {
	int (*start)(struct doctor *d);
	bool needs_ari;
} checks[] = {
    {check_ari_user, true},   {check_app, true},       {check_dialplan, true},
    {check_recordings, true}, {check_database, false},
};

static void finish(struct doctor *d)
{
	uv_close((uv_handle_t *)&d->timer, NULL);
	ari_rest_close(d->rest);
	d->rest = NULL;
	db_pool_close(d->db);
	d->db = NULL;
}

/* Starts the next check; one that cannot start counts as failed. */
static void next(struct doctor *d)
{
	int r;

	while (d->step < sizeof(checks) / sizeof(checks[0])) {
		size_t i = d->step++;

		if (checks[i].needs_ari && d->ari_down)
			continue;
		r = checks[i].start(d);
		if (r == 0)
			return;
		fprintf(d->out, "FAIL  check %zu could not start: %s\n", i,
			strerror(-r));
		d->faults++;
	}
	finish(d);
}

int doctor_run(const struct config *cfg, FILE *out)
{
	struct doctor d = {.cfg = cfg, .out = out};
	struct ari_rest_config rc = {0};
	char base[1024];
	int r = uv_loop_init(&d.loop);

	if (r < 0)
		return r;
	snprintf(base, sizeof(base), "%s/ari", cfg->ari_url);
	rc.base_url = base;
	rc.username = cfg->ari_username;
	rc.password = cfg->ari_password;
	uv_timer_init(&d.loop, &d.timer);
	d.timer.data = &d;
	r = ari_rest_new(&d.loop, &rc, &d.rest);
	if (r < 0) {
		uv_close((uv_handle_t *)&d.timer, NULL);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		return r;
	}
	next(&d);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&d.loop);
	if (r < 0)
		log_error("doctor: the loop still has handles");
	fprintf(out, "%s\n",
		d.faults ? "something is wrong: see the fixes above"
			 : "everything welcomedlyd needs is there");
	return d.faults ? -EPROTO : 0;
}
