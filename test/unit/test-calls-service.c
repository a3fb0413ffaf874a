/* test-calls-service.c: the call service through its public header, one
 * table row per scenario, each replaying a recorded ARI event trace. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents/agents.h"
#include "ari/event.h"
#include "ari/rest.h"
#include "calls/calls.h"
#include "campaigns/campaigns.h"
#include "cdr/cdr.h"
#include "db/migrate.h"
#include "db/pool.h"
#include "httpd.h"
#include "pgtest.h"
#include "testlib.h"
#include "util/log.h"

/*
 * A row is a trace (test/data/calls/<name>.json: one ARI event per line, as
 * the sandbox Asterisk sent it, with the ids the daemon generated replaced
 * by placeholders such as $LEG1), faults to script into the fake ARI, and
 * steps. Placeholders in expected requests bind to the generated ids on
 * first sight; before the row starts, $CALLER (then $CALLER2, ...) is bound
 * to the channels of the trace that entered Stasis with ids Asterisk chose,
 * and $NEW to the first that replaced another. Between two steps the loop runs until
 * every REST reply has arrived (but one a fault delays on purpose), so each
 * event is handled after the replies to the requests before it.
 *
 * After the last step a row fails if the service sent a request, emitted a
 * feed event or left a trace event that no step accounted for.
 */
enum op {
	END = 0,
	EV,        /* feeds trace events up to the next of this type; an
		      optional second word is its channel ($NAME) or Dial
		      status */
	SKIP,      /* like EV, but the events are dropped (placeholders
		      never bound stay as they are): what Asterisk would not
		      have sent after a scripted fault */
	REQ,       /* the next request: "METHOD /path?query" */
	ANY,       /* "N": the N REQ steps that follow, in any order */
	STATE,     /* "$ID state": the call's "state", "-" when not live */
	FIELD,     /* "$ID key>=N": waits until the call's integer field key
		      reaches N */
	AGENT,     /* "N state": agent N's state */
	FEED,      /* the next feed event's type */
	CDR,       /* "$ID key=value ...": the call's final row in calls;
		      "key>=N" for a lower bound */
	HANGUP,    /* calls_hangup("$ID") */
	TRANSFER,  /* calls_transfer: "$ID context exten" */
	ORIGINATE, /* "NAME agent number [local-ringback]": calls_originate,
		      binds $NAME */
	SUPERVISE, /* "$ID agent mode": calls_supervise (or _mode when the
		      agent supervises already); mode "end": _end */
	RESYNC,    /* calls_resync with the channel of the trace event fed
		      or skipped last, as GET /channels would list it after
		      a restart */
	QUIET,     /* no request sent that no step accounted for */
	DB,        /* every database query sent so far has its answer */
};

struct step {
	enum op op;
	const char *arg;
};

/* A reply other than the default, for the first request matching. */
struct fault {
	const char *request; /* "METHOD /path", may end with '*' */
	int status;          /* 0: the default reply */
	unsigned delay_ms;   /* sent this late; steps meanwhile go on */
};

struct row {
	const char *name;
	const char *trace; /* under test/data/calls/ */
	const char *sql;   /* run after the fixture, or NULL */
	const struct fault *faults;
	const struct step *steps;
};

#define FAULTS(...) ((const struct fault[]){__VA_ARGS__, {NULL, 0, 0}})

/* Named caps of the harness. */
#define MAX_ANY 8
#define MAX_BINDINGS 32
#define MAX_REQUESTS 128
#define MAX_FEED 64
#define MAX_FAULTS 8
#define MAX_TRACE 512
#define TEXT_MAX 2048
/* How long one step may wait for what it expects. Every wait ends as soon
 * as it is met, so this only bounds a failure: it is generous for runs
 * under valgrind on a busy machine (4 s once ran out there, with a reply
 * from the local server still pending). */
#define STEP_TIMEOUT_MS 15000

/* Three agents (1, 2, 3 with phones agent1..3, all logged in and
 * registered), campaign 1 "sales" (linear: agent 1 then 2, 15 s ring, no
 * retry delay, 15 s wrap-up, caller id +12125550100) on 5000, campaign 2
 * "support" (agent 3 only) on 5001. */
static const char fixture_sql[] =
    "INSERT INTO agents (name, state) VALUES ('Ann', 'available'),"
    " ('Bob', 'available'), ('Cid', 'available');"
    "INSERT INTO sip_peers (agent_id, sip_username, sip_password,"
    " sip_server) VALUES (1, 'agent1', 'x', 'pbx'), (2, 'agent2', 'x',"
    " 'pbx'), (3, 'agent3', 'x', 'pbx');"
    "INSERT INTO ps_contacts (id, uri, expiration_time, endpoint)"
    " SELECT 'agent' || i || '^3B@1', 'sip:agent' || i || '@127.0.0.1',"
    " 4102444800, 'agent' || i FROM generate_series(1, 3) i;"
    "INSERT INTO campaigns (name, strategy, ring_timeout, retry_delay,"
    " wrapup_time, announce_frequency) VALUES"
    " ('sales', 'linear', 15, 0, 15, 0), ('support', 'linear', 15, 0, 15, 0);"
    "UPDATE campaigns SET caller_id = '+12125550100' WHERE id = 1;"
    "INSERT INTO campaign_agents (campaign_id, agent_id, penalty) VALUES"
    " (1, 1, 0), (1, 2, 0), (2, 3, 0);"
    "INSERT INTO dids (number, campaign_id) VALUES ('5000', 1), ('5001', 2);";

/* Everything one row runs on. */
struct fx {
	const struct row *row;
	uv_loop_t loop;
	struct db_pool *pool;
	struct httpd *httpd;
	struct ari_rest *rest;
	struct agents *agents;
	struct campaigns *campaigns;
	struct cdr_writer *cdr;
	struct calls *calls;
	char dir[64];
	char journal[128];
	char *trace[MAX_TRACE];
	size_t ntrace, next_event;
	char *requests[MAX_REQUESTS];
	size_t nrequests, next_request;
	char *feed[MAX_FEED];
	size_t nfeed, next_feed;
	bool fault_used[MAX_FAULTS];
	uv_timer_t hold;
	bool holding; /* a delayed reply is on its way */
	/* run_until()'s: one timer for the row, as the loop must not run
	 * between a wait's end and its answer (a stack timer's close would). */
	uv_timer_t deadline;
	bool expired;
	struct {
		char name[32];
		char value[128];
	} bindings[MAX_BINDINGS];
	size_t nbindings;
};

/* Placeholders ---------------------------------------------------------- */

static size_t name_len(const char *s)
{
	size_t n = 0;

	while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
	       s[n] == '_')
		n++;
	return n;
}

static const char *bound(const struct fx *fx, const char *name, size_t len)
{
	for (size_t i = 0; i < fx->nbindings; i++)
		if (strlen(fx->bindings[i].name) == len &&
		    strncmp(fx->bindings[i].name, name, len) == 0)
			return fx->bindings[i].value;
	return NULL;
}

static void bind_name(struct fx *fx, const char *name, size_t len,
		      const char *value, size_t vlen)
{
	ck_assert_uint_lt(fx->nbindings, MAX_BINDINGS);
	snprintf(fx->bindings[fx->nbindings].name, sizeof(fx->bindings[0].name),
		 "%.*s", (int)len, name);
	snprintf(fx->bindings[fx->nbindings].value,
		 sizeof(fx->bindings[0].value), "%.*s", (int)vlen, value);
	fx->nbindings++;
}

static bool is_bound_value(const struct fx *fx, const char *value, size_t len)
{
	for (size_t i = 0; i < fx->nbindings; i++)
		if (strlen(fx->bindings[i].value) == len &&
		    strncmp(fx->bindings[i].value, value, len) == 0)
			return true;
	return false;
}

/* Replaces every bound $NAME of in; unbound ones stay as they are. */
static void expand(const struct fx *fx, const char *in, char *out, size_t size)
{
	size_t o = 0;

	while (*in && o + 1 < size) {
		size_t len = *in == '$' ? name_len(in + 1) : 0;
		const char *value = len ? bound(fx, in + 1, len) : NULL;

		if (value) {
			o += (size_t)snprintf(out + o, size - o, "%s", value);
			in += 1 + len;
		} else {
			out[o++] = *in++;
		}
	}
	out[o < size ? o : size - 1] = '\0';
}

/*
 * Matches actual against pattern; an unbound $NAME takes the characters up
 * to the pattern's next one, which must not be the value of another name,
 * and is bound when learn is set and the whole pattern matches. A trailing
 * '*' matches any rest.
 */
static bool match(struct fx *fx, const char *pattern, const char *actual,
		  bool learn)
{
	size_t before = fx->nbindings;

	while (*pattern) {
		size_t len = *pattern == '$' ? name_len(pattern + 1) : 0;
		const char *value = len ? bound(fx, pattern + 1, len) : NULL;

		if (pattern[0] == '*' && pattern[1] == '\0')
			goto matched;
		if (value) {
			if (strncmp(actual, value, strlen(value)) != 0)
				goto fail;
			actual += strlen(value);
		} else if (len) {
			char stop = pattern[1 + len];
			size_t vlen = stop ? strcspn(actual, (char[]){stop, 0})
					   : strlen(actual);
			/* A new placeholder names a new id. */
			if (vlen == 0 || is_bound_value(fx, actual, vlen))
				goto fail;
			bind_name(fx, pattern + 1, len, actual, vlen);
			actual += vlen;
		} else if (*actual++ != *pattern) {
			goto fail;
		}
		pattern += len ? 1 + len : 1;
	}
	if (*actual)
		goto fail;
matched:
	if (!learn)
		fx->nbindings = before;
	return true;
fail:
	fx->nbindings = before;
	return false;
}

/* The fake ARI ----------------------------------------------------------- */

/* Asterisk answers 200 with the object for what creates one, else 204. */
static bool returns_object(const char *method, const char *path)
{
	return strcmp(method, "POST") == 0 &&
	       (strstr(path, "/create?") || strstr(path, "/play/") ||
		strstr(path, "/record?") || strstr(path, "/snoop?") ||
		(strncmp(path, "/bridges/", 9) == 0 &&
		 !strstr(path, "/addChannel")));
}

static void on_hold_over(uv_timer_t *timer)
{
	struct fx *fx = timer->data;

	fx->holding = false;
}

static void on_request(const struct httpd_request *req,
		       struct httpd_reply *reply, void *userdata)
{
	struct fx *fx = userdata;
	char line[TEXT_MAX];
	const struct fault *f = fx->row->faults;

	snprintf(line, sizeof(line), "%s %s", req->method, req->path);
	if (getenv("CALLS_TEST_DUMP"))
		fprintf(stderr, "  request: %s\n", line);
	if (fx->nrequests < MAX_REQUESTS)
		fx->requests[fx->nrequests++] = strdup(line);
	for (size_t i = 0; f && f[i].request && i < MAX_FAULTS; i++) {
		if (fx->fault_used[i] || !match(fx, f[i].request, line, false))
			continue;
		fx->fault_used[i] = true;
		if (f[i].delay_ms) {
			reply->delay_ms = f[i].delay_ms;
			fx->holding = true;
			uv_timer_start(&fx->hold, on_hold_over, f[i].delay_ms,
				       0);
		}
		if (f[i].status) {
			reply->status = f[i].status;
			reply->content_type = "application/json";
			reply->body = "{\"message\":\"scripted fault\"}";
			return;
		}
		break;
	}
	if (returns_object(req->method, req->path)) {
		reply->content_type = "application/json";
		reply->body = "{}";
	} else {
		reply->status = 204;
	}
}

/* Running the loop ------------------------------------------------------- */

static void on_deadline(uv_timer_t *timer)
{
	struct fx *fx = timer->data;

	fx->expired = true;
}

/* Runs the loop until pred(fx) or timeout_ms; returns pred(fx), as it was
 * when the loop stopped. */
static bool run_until(struct fx *fx, bool (*pred)(struct fx *),
		      uint64_t timeout_ms)
{
	bool met;

	fx->expired = false;
	uv_update_time(&fx->loop);
	uv_timer_start(&fx->deadline, on_deadline, timeout_ms, 0);
	while (!(met = pred(fx)) && !fx->expired)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_timer_stop(&fx->deadline);
	return met;
}

/* Every reply is in, but the one a fault delays while it is held back. */
static bool replies_in(struct fx *fx)
{
	return ari_rest_pending(fx->rest) <= (fx->holding ? 1u : 0u);
}

static bool request_waiting(struct fx *fx)
{
	return fx->nrequests > fx->next_request;
}

/* Every REST reply arrives before the next step. */
static void settle(struct fx *fx)
{
	ck_assert_msg(run_until(fx, replies_in, STEP_TIMEOUT_MS),
		      "%s: REST replies never came", fx->row->name);
}

static bool db_answered(struct fx *fx)
{
	return db_pool_pending(fx->pool) == 0;
}

/* Set-up ------------------------------------------------------------------ */

static void on_migrated(int error, unsigned applied, const char *detail,
			void *userdata)
{
	int *ret = userdata;

	*ret = error < 0 ? error : 1;
	if (error < 0)
		fprintf(stderr, "migration failed: %s\n", detail);
}

/* One schema for the whole run, migrated once (migrations are most of a
 * row's set-up time, under valgrind above all); each row empties it. */
static uv_loop_t shared_loop;
static struct pgtest_schema shared;

static void migrate(uv_loop_t *loop, struct db_pool *pool)
{
	const char *data = getenv("WELCOMEDLY_TEST_DATA");
	char dir[4096];
	int result = 0;

	snprintf(dir, sizeof(dir), "%s/../../migrations",
		 data ? data : "test/data");
	ck_assert_int_eq(db_migrate_run(pool, dir, on_migrated, &result), 0);
	while (result == 0)
		uv_run(loop, UV_RUN_ONCE);
	ck_assert_int_eq(result, 1);
}

static void shared_schema_up(void)
{
	struct db_pool *pool;

	ck_assert_int_eq(uv_loop_init(&shared_loop), 0);
	pgtest_schema_create(&shared_loop, &shared);
	pool = pgtest_pool(&shared_loop, shared.conninfo, NULL);
	migrate(&shared_loop, pool);
	db_pool_close(pool);
	pgtest_run_for(&shared_loop, 10);
}

static void shared_schema_down(void)
{
	pgtest_schema_drop(&shared_loop, &shared);
	pgtest_loop_close(&shared_loop);
}

static const char reset_sql[] =
    "DO $$ BEGIN EXECUTE (SELECT 'TRUNCATE ' || string_agg("
    "quote_ident(tablename), ', ') || ' RESTART IDENTITY CASCADE'"
    " FROM pg_tables WHERE schemaname = current_schema()"
    " AND tablename <> 'schema_migrations'); END $$";

struct load_wait {
	bool done;
	int error;
};

static void on_loaded(int error, void *userdata)
{
	struct load_wait *w = userdata;

	w->done = true;
	w->error = error;
}

static void load(struct fx *fx,
		 int (*fn)(void *, void (*)(int, void *), void *), void *what)
{
	struct load_wait w = {0};

	ck_assert_int_eq(fn(what, on_loaded, &w), 0);
	ck_assert(pgtest_run_until(&fx->loop, &w.done, PGTEST_TIMEOUT_MS));
	ck_assert_int_eq(w.error, 0);
}

static int load_agents(void *a, void (*cb)(int, void *), void *u)
{
	return agents_load(a, cb, u);
}

static int load_campaigns(void *c, void (*cb)(int, void *), void *u)
{
	return campaigns_load(c, cb, u);
}

static void on_agent_changed(struct agent *agent, void *userdata)
{
	struct fx *fx = userdata;

	if (fx->calls)
		calls_dispatch(fx->calls);
}

static void on_feed(const char *type, int64_t agent_id, int64_t campaign_id,
		    json_t *data, void *userdata)
{
	struct fx *fx = userdata;

	if (fx->nfeed < MAX_FEED)
		fx->feed[fx->nfeed++] = strdup(type);
	if (getenv("CALLS_TEST_DUMP"))
		fprintf(stderr, "  feed: %s\n", type);
	json_decref(data);
}

static void read_trace(struct fx *fx)
{
	char name[256];
	size_t len;
	char *text, *line, *save = NULL;

	snprintf(name, sizeof(name), "calls/%s.json", fx->row->trace);
	text = testlib_read_data(name, &len);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ck_assert_uint_lt(fx->ntrace, MAX_TRACE);
		fx->trace[fx->ntrace++] = strdup(line);
	}
	free(text);
}

/* $CALLER, $CALLER2, ...: the channels Asterisk named that entered Stasis,
 * in order; $NEW: the first that replaced another (a masquerade). */
static void bind_asterisk_ids(struct fx *fx)
{
	unsigned callers = 0;

	for (size_t i = 0; i < fx->ntrace; i++) {
		struct ari_event ev;
		const char *id;
		char name[16] = "NEW";

		if (ari_event_parse(fx->trace[i], strlen(fx->trace[i]), &ev) <
		    0)
			continue;
		id = ev.channel_id;
		if (ev.type == ARI_EVENT_STASIS_START && id && id[0] != '$' &&
		    !is_bound_value(fx, id, strlen(id))) {
			if (!ev.replace_channel_id && callers++ == 0)
				snprintf(name, sizeof(name), "CALLER");
			else if (!ev.replace_channel_id)
				snprintf(name, sizeof(name), "CALLER%u",
					 callers);
			if (!bound(fx, name, strlen(name)))
				bind_name(fx, name, strlen(name), id,
					  strlen(id));
		}
		ari_event_clear(&ev);
	}
}

static void setup(struct fx *fx, const struct row *row)
{
	struct ari_rest_config rc = {.timeout_ms = 2000};
	struct calls_config cc = {.prompt_sound = "sound:all-circuits-busy-now",
				  .app = "welcomedly"};
	struct calls_deps deps = {0};
	char url[64];

	memset(fx, 0, sizeof(*fx));
	fx->row = row;
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	fx->pool = pgtest_pool(&fx->loop, shared.conninfo, NULL);
	ck_assert_int_eq(pgtest_script(&fx->loop, fx->pool, reset_sql), 0);
	ck_assert_int_eq(pgtest_script(&fx->loop, fx->pool, fixture_sql), 0);
	if (row->sql)
		ck_assert_int_eq(pgtest_script(&fx->loop, fx->pool, row->sql),
				 0);
	uv_timer_init(&fx->loop, &fx->hold);
	fx->hold.data = fx;
	uv_timer_init(&fx->loop, &fx->deadline);
	fx->deadline.data = fx;
	ck_assert_int_eq(httpd_new(&fx->loop, on_request, fx, &fx->httpd), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d",
		 httpd_port(fx->httpd));
	rc.base_url = url;
	ck_assert_int_eq(ari_rest_new(&fx->loop, &rc, &fx->rest), 0);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/wt-calls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx->dir));
	snprintf(fx->journal, sizeof(fx->journal), "%s/cdr.journal", fx->dir);
	ck_assert_int_eq(
	    cdr_writer_new(&fx->loop, fx->pool, fx->journal, &fx->cdr), 0);
	ck_assert_int_eq(
	    agents_new(&fx->loop, fx->pool, on_agent_changed, fx, &fx->agents),
	    0);
	ck_assert_int_eq(campaigns_new(fx->pool, fx->agents, &fx->campaigns),
			 0);
	load(fx, load_agents, fx->agents);
	load(fx, load_campaigns, fx->campaigns);
	for (int i = 1; i <= 3; i++) {
		char sip[16];

		snprintf(sip, sizeof(sip), "agent%d", i);
		agents_set_reachable(fx->agents, sip, true);
	}
	deps.rest = fx->rest;
	deps.cdr = fx->cdr;
	deps.db = fx->pool;
	deps.agents = fx->agents;
	deps.campaigns = fx->campaigns;
	ck_assert_int_eq(calls_init(&fx->loop, &deps, &cc, &fx->calls), 0);
	calls_set_event_cb(fx->calls, on_feed, fx);
	read_trace(fx);
	bind_asterisk_ids(fx);
}

static void on_cdr_closed(void *userdata)
{
	*(bool *)userdata = true;
}

static void teardown(struct fx *fx)
{
	bool closed = false;

	ari_rest_close(fx->rest);
	calls_close(fx->calls);
	agents_close(fx->agents);
	httpd_close(fx->httpd);
	uv_close((uv_handle_t *)&fx->hold, NULL);
	uv_close((uv_handle_t *)&fx->deadline, NULL);
	cdr_writer_close(fx->cdr, on_cdr_closed, &closed);
	ck_assert(pgtest_run_until(&fx->loop, &closed, PGTEST_TIMEOUT_MS));
	campaigns_free(fx->campaigns);
	db_pool_close(fx->pool);
	pgtest_loop_close(&fx->loop);
	unlink(fx->journal);
	rmdir(fx->dir);
	for (size_t i = 0; i < fx->ntrace; i++)
		free(fx->trace[i]);
	for (size_t i = 0; i < fx->nrequests; i++)
		free(fx->requests[i]);
	for (size_t i = 0; i < fx->nfeed; i++)
		free(fx->feed[i]);
}

/* Steps ------------------------------------------------------------------- */

/* Whether ev is the one "Type [$CHANNEL|STATUS]" names. */
static bool is_target(struct fx *fx, const struct ari_event *ev,
		      const char *arg)
{
	char want[TEXT_MAX], *sp;

	expand(fx, arg, want, sizeof(want));
	sp = strchr(want, ' ');
	if (sp)
		*sp++ = '\0';
	if (strcmp(ev->type_name, want) != 0)
		return false;
	if (!sp)
		return true;
	if (arg[strcspn(arg, " ") + 1] == '$')
		return ev->channel_id && strcmp(ev->channel_id, sp) == 0;
	return ev->dial_status && strcmp(ev->dial_status, sp) == 0;
}

static bool has_placeholder(const char *text)
{
	for (const char *p = strchr(text, '$'); p; p = strchr(p + 1, '$'))
		if (name_len(p + 1) > 0)
			return true;
	return false;
}

static void step_event(struct fx *fx, const char *arg, bool feed)
{
	for (;;) {
		char text[64 * 1024];
		struct ari_event ev;
		bool last;

		ck_assert_msg(fx->next_event < fx->ntrace,
			      "%s: no event \"%s\" left in the trace",
			      fx->row->name, arg);
		settle(fx);
		expand(fx, fx->trace[fx->next_event++], text, sizeof(text));
		ck_assert_msg(!feed || !has_placeholder(text),
			      "%s: unbound placeholder in trace line %zu",
			      fx->row->name, fx->next_event);
		ck_assert_int_eq(ari_event_parse(text, strlen(text), &ev), 0);
		last = is_target(fx, &ev, arg);
		if (feed)
			calls_handle_event(fx->calls, &ev);
		ari_event_clear(&ev);
		if (last)
			return;
	}
}

static void step_request(struct fx *fx, const char *arg)
{
	const char *actual;

	ck_assert_msg(run_until(fx, request_waiting, STEP_TIMEOUT_MS),
		      "%s: no request, expected %s", fx->row->name, arg);
	settle(fx);
	actual = fx->requests[fx->next_request++];
	ck_assert_msg(match(fx, arg, actual, true),
		      "%s: request %zu is\n  %s\nexpected\n  %s", fx->row->name,
		      fx->next_request, actual, arg);
}

/* Splits "$ID rest" into the expanded id and rest. */
static const char *split_id(struct fx *fx, const char *arg, char *id,
			    size_t size)
{
	size_t len = strcspn(arg, " ");
	char raw[256];

	snprintf(raw, sizeof(raw), "%.*s", (int)len, arg);
	expand(fx, raw, id, size);
	return arg[len] ? arg + len + 1 : "";
}

static void step_state(struct fx *fx, const char *arg)
{
	char id[256];
	const char *want = split_id(fx, arg, id, sizeof(id));
	json_t *call;
	const char *state;

	settle(fx);
	call = calls_get_json(fx->calls, id);
	state = call ? json_string_value(json_object_get(call, "state")) : "-";
	ck_assert_msg(state && strcmp(state, want) == 0,
		      "%s: call %s is %s, expected %s", fx->row->name, id,
		      state ? state : "(no state)", want);
	json_decref(call);
}

struct field_wait {
	const char *id, *key;
	json_int_t least;
};

static struct field_wait field_wait;

static bool field_reached(struct fx *fx)
{
	json_t *call = calls_get_json(fx->calls, field_wait.id);
	bool reached =
	    json_integer_value(json_object_get(call, field_wait.key)) >=
	    field_wait.least;

	json_decref(call);
	return reached;
}

static void step_field(struct fx *fx, const char *arg)
{
	char id[256], key[64];
	const char *rest = split_id(fx, arg, id, sizeof(id));
	const char *ge = strstr(rest, ">=");

	ck_assert_ptr_nonnull(ge);
	snprintf(key, sizeof(key), "%.*s", (int)(ge - rest), rest);
	field_wait = (struct field_wait){id, key, strtoll(ge + 2, NULL, 10)};
	ck_assert_msg(run_until(fx, field_reached, STEP_TIMEOUT_MS),
		      "%s: call %s never had %s", fx->row->name, id, rest);
}

static void step_agent(struct fx *fx, const char *arg)
{
	char *end;
	long id = strtol(arg, &end, 10);
	struct agent *agent = agents_by_id(fx->agents, id);
	const char *state;

	settle(fx);
	ck_assert_ptr_nonnull(agent);
	state = acd_agent_state_name(agents_state(fx->agents, agent));
	ck_assert_msg(strcmp(state, end + 1) == 0,
		      "%s: agent %ld is %s, expected %s", fx->row->name, id,
		      state, end + 1);
}

static void step_feed(struct fx *fx, const char *arg)
{
	settle(fx);
	ck_assert_msg(fx->next_feed < fx->nfeed,
		      "%s: no feed event, expected %s", fx->row->name, arg);
	ck_assert_msg(strcmp(fx->feed[fx->next_feed], arg) == 0,
		      "%s: feed event %zu is %s, expected %s", fx->row->name,
		      fx->next_feed + 1, fx->feed[fx->next_feed], arg);
	fx->next_feed++;
}

/* The row as "key=value" words, once the call's last snapshot is in. */
static const char cdr_sql[] =
    "SELECT concat_ws(' ', 'dir=' || direction,"
    " 'disposition=' || replace(disposition, ' ', '_'),"
    " 'by=' || coalesce(hangup_by, '-'),"
    " 'agent=' || coalesce(agent_id::text, '-'),"
    " 'campaign=' || coalesce(campaign_id::text, '-'),"
    " 'abandoned=' || abandoned,"
    " 'answered=' || (answer_time IS NOT NULL),"
    " 'wait=' || coalesce(queue_wait_seconds::text, '-'),"
    " 'rec=' || coalesce(recording_url, '-'),"
    " 'cause=' || coalesce(hangup_cause::text, '-'),"
    " 'chan=' || coalesce(caller_channel_id, '-'))"
    " FROM calls WHERE call_id = $1 AND disposition IS NOT NULL";

/* Whether actual has "key=N" with N >= the bound in "key>=bound". */
static bool at_least(const char *actual, const char *word)
{
	const char *ge = strstr(word, ">=");
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), " %.*s=", (int)(ge - word), word);
	p = strstr(actual, key);
	return p &&
	       strtol(p + strlen(key), NULL, 10) >= strtol(ge + 2, NULL, 10);
}

/* True when every word of want is a word of actual. */
static bool has_words(const char *actual, const char *want,
		      const char **ret_missing)
{
	char copy[TEXT_MAX], *word, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", want);
	for (word = strtok_r(copy, " ", &save); word;
	     word = strtok_r(NULL, " ", &save)) {
		size_t len = strlen(word);
		const char *p = actual;
		bool found = strstr(word, ">=") && at_least(actual, word);

		while (!found && (p = strstr(p, word))) {
			if ((p == actual || p[-1] == ' ') &&
			    (p[len] == ' ' || p[len] == '\0')) {
				found = true;
				break;
			}
			p += len;
		}
		if (!found) {
			*ret_missing = want + (word - copy);
			return false;
		}
	}
	return true;
}

static void step_cdr(struct fx *fx, const char *arg)
{
	char id[256], want[TEXT_MAX], actual[TEXT_MAX] = "";
	const char *rest = split_id(fx, arg, id, sizeof(id));
	const char *params[1] = {id};
	const char *missing = NULL;
	uint64_t start = uv_now(&fx->loop);

	expand(fx, rest, want, sizeof(want));
	settle(fx);
	while (uv_now(&fx->loop) - start < STEP_TIMEOUT_MS) {
		ck_assert_int_eq(pgtest_query(&fx->loop, fx->pool, cdr_sql, 1,
					      params, actual, sizeof(actual)),
				 0);
		if (actual[0])
			break;
		pgtest_run_for(&fx->loop, 20);
	}
	ck_assert_msg(actual[0], "%s: no final CDR for %s", fx->row->name, id);
	ck_assert_msg(has_words(actual, want, &missing),
		      "%s: CDR of %s is\n  %s\nexpected %s", fx->row->name, id,
		      actual, missing);
}

static void step_originate(struct fx *fx, const char *arg)
{
	char name[32], number[64], endpoint[128], id[128], flag[32] = "";
	long agent_id;
	struct calls_outbound req = {0};

	ck_assert_int_ge(
	    sscanf(arg, "%31s %ld %63s %31s", name, &agent_id, number, flag),
	    3);
	ck_assert_msg(!flag[0] || strcmp(flag, "local-ringback") == 0,
		      "%s: ORIGINATE flag \"%s\"", fx->row->name, flag);
	req.local_ringback = flag[0] != 0;
	settle(fx);
	snprintf(endpoint, sizeof(endpoint), "PJSIP/%s@trunk", number);
	req.agent = agents_by_id(fx->agents, agent_id);
	req.campaign = campaigns_by_id(fx->campaigns, 1);
	req.number = number;
	req.endpoint = endpoint;
	req.caller_id = req.campaign->caller_id;
	ck_assert_int_eq(calls_originate(fx->calls, &req, id, sizeof(id)), 0);
	bind_name(fx, name, strlen(name), id, strlen(id));
}

static void step_resync(struct fx *fx)
{
	json_t *event, *ids, *channels, *channel;
	const char *text;

	settle(fx);
	ck_assert_uint_gt(fx->next_event, 0);
	text = fx->trace[fx->next_event - 1];
	event = json_loads(text, 0, NULL);
	channel = json_object_get(event, "channel");
	ck_assert_ptr_nonnull(channel);
	ids = json_pack("[O]", json_object_get(channel, "id"));
	channels = json_pack("[O]", channel);
	calls_resync(fx->calls, ids, channels, NULL, false);
	json_decref(ids);
	json_decref(channels);
	json_decref(event);
}

static void step_call_op(struct fx *fx, const struct step *s)
{
	char id[256], context[64] = "", exten[64] = "";
	const char *rest = split_id(fx, s->arg, id, sizeof(id));

	settle(fx);
	if (s->op == HANGUP) {
		ck_assert_int_eq(calls_hangup(fx->calls, id), 0);
		return;
	}
	ck_assert_int_eq(sscanf(rest, "%63s %63s", context, exten), 2);
	ck_assert_int_eq(calls_transfer(fx->calls, id, context, exten), 0);
}

static void step_supervise(struct fx *fx, const char *arg)
{
	static const char *const modes[] = {"listen", "whisper", "barge"};
	char id[256], mode[16] = "";
	const char *rest = split_id(fx, arg, id, sizeof(id));
	long long agent_id = 0;
	struct agent *agent;
	int r;

	settle(fx);
	ck_assert_int_eq(sscanf(rest, "%lld %15s", &agent_id, mode), 2);
	if (strcmp(mode, "end") == 0) {
		ck_assert_int_eq(calls_supervise_end(fx->calls, id, agent_id),
				 0);
		return;
	}
	agent = agents_by_id(fx->agents, agent_id);
	ck_assert_ptr_nonnull(agent);
	for (int m = 0; m < CALLS_SUPERVISE__COUNT; m++) {
		if (strcmp(mode, modes[m]) != 0)
			continue;
		r = calls_supervise(fx->calls, id, agent,
				    (enum calls_supervise_mode)m);
		if (r == -EEXIST)
			r = calls_supervise_mode(fx->calls, id, agent_id,
						 (enum calls_supervise_mode)m);
		ck_assert_int_eq(r, 0);
		return;
	}
	ck_abort_msg("%s: no mode %s", fx->row->name, mode);
}

static void step_quiet(struct fx *fx)
{
	settle(fx);
	pgtest_run_for(&fx->loop, 20);
	ck_assert_msg(fx->next_request == fx->nrequests,
		      "%s: unexpected request %s", fx->row->name,
		      fx->next_request < fx->nrequests
			  ? fx->requests[fx->next_request]
			  : "");
}

/* The n REQ steps at s, matched by the next n requests in any order:
 * requests sent together beyond the client's connections wait for one,
 * and go out in no set order. */
static void step_requests_any(struct fx *fx, const struct step *s, size_t n)
{
	bool used[MAX_ANY] = {false};

	ck_assert_uint_le(n, MAX_ANY);
	for (size_t k = 0; k < n; k++) {
		const char *actual;
		size_t j = 0;

		ck_assert_msg(run_until(fx, request_waiting, STEP_TIMEOUT_MS),
			      "%s: no request, expected %zu in any order",
			      fx->row->name, n - k);
		settle(fx);
		actual = fx->requests[fx->next_request++];
		while (j < n && (used[j] || s[j].op != REQ ||
				 !match(fx, s[j].arg, actual, true)))
			j++;
		ck_assert_msg(j < n,
			      "%s: request %zu is\n  %s\nnot one of the %zu "
			      "expected in any order",
			      fx->row->name, fx->next_request, actual, n);
		used[j] = true;
	}
}

/* Runs the step at s; returns how many steps it took. */
static size_t run_step(struct fx *fx, const struct step *s)
{
	switch (s->op) {
	case ANY:
		step_requests_any(fx, s + 1, strtoul(s->arg, NULL, 10));
		return 1 + strtoul(s->arg, NULL, 10);
	case EV:
	case SKIP:
		step_event(fx, s->arg, s->op == EV);
		break;
	case REQ:
		step_request(fx, s->arg);
		break;
	case STATE:
		step_state(fx, s->arg);
		break;
	case FIELD:
		step_field(fx, s->arg);
		break;
	case AGENT:
		step_agent(fx, s->arg);
		break;
	case FEED:
		step_feed(fx, s->arg);
		break;
	case CDR:
		step_cdr(fx, s->arg);
		break;
	case HANGUP:
	case TRANSFER:
		step_call_op(fx, s);
		break;
	case ORIGINATE:
		step_originate(fx, s->arg);
		break;
	case SUPERVISE:
		step_supervise(fx, s->arg);
		break;
	case RESYNC:
		step_resync(fx);
		break;
	case QUIET:
		step_quiet(fx);
		break;
	case DB:
		ck_assert_msg(run_until(fx, db_answered, STEP_TIMEOUT_MS),
			      "%s: database answers never came", fx->row->name);
		break;
	case END:
		break;
	}
	return 1;
}

/* Nothing left that no step accounted for. */
static void check_all_seen(struct fx *fx)
{
	settle(fx);
	pgtest_run_for(&fx->loop, 50);
	settle(fx);
	ck_assert_msg(fx->next_request == fx->nrequests,
		      "%s: unexpected request %s", fx->row->name,
		      fx->next_request < fx->nrequests
			  ? fx->requests[fx->next_request]
			  : "");
	ck_assert_msg(fx->next_feed == fx->nfeed,
		      "%s: unexpected feed event %s", fx->row->name,
		      fx->next_feed < fx->nfeed ? fx->feed[fx->next_feed] : "");
	ck_assert_msg(fx->next_event == fx->ntrace,
		      "%s: trace line %zu never fed", fx->row->name,
		      fx->next_event + 1);
}

/* The table --------------------------------------------------------------- */

/* Shared openings: a caller on 5000 queued in campaign 1, answered and
 * waiting with music, after the offers made on arrival (the agent's leg is
 * asked for before the caller's answer); agent N offered the call on leg
 * $LEG and dialed once the leg is in Stasis. */
/* clang-format would take the last braces of each list apart. */
/* clang-format off */
#define ARRIVED                                                                \
	{EV, "StasisStart $CALLER"},                                           \
	{FEED, "call.queued"}
#define WAITING                                                                \
	{REQ, "POST /channels/$CALLER/answer"},                                \
	{REQ, "POST /channels/$CALLER/moh?mohClass=default"}
#define QUEUED_ON_5000 ARRIVED, WAITING
#define QUEUED_OFFERED(n, leg) ARRIVED, OFFERED(n, leg), WAITING
#define OFFERED(n, leg)                                                        \
	{FEED, "call.offered"},                                                \
	{REQ, "POST /channels/create?endpoint=PJSIP/agent" #n                  \
	      "&app=welcomedly&appArgs=agent,$CALLER,1&channelId=$" #leg},     \
	{AGENT, #n " ringing"}
#define DIALED(leg)                                                            \
	{EV, "StasisStart $" #leg},                                            \
	{REQ, "POST /channels/$" #leg "/dial?caller=$CALLER&timeout=15"}
/* The agent on leg answered: out of the queue, bridged, recorded. */
#define BRIDGED(leg) JOINING(leg), RECORDED("$CALLER", "$CALLER")
/* The agent on leg answered: out of the queue, joining the caller in a
 * bridge. */
#define JOINING(leg)                                                           \
	{EV, "Dial ANSWER"},                                                   \
	{FEED, "call.answered"},                                               \
	{REQ, "DELETE /channels/$CALLER/moh"},                                 \
	{REQ, "POST /bridges/$BRIDGE?type=mixing&name=$CALLER"},               \
	{REQ, "POST /bridges/$BRIDGE/addChannel?channel=$CALLER,$" #leg}
/* The call (id) is recorded through a snoop on its peer's channel, once
 * the snoop is in Stasis. */
#define RECORDED(peer, id)                                                     \
	{REQ, "POST /channels/" peer "/snoop?spy=both&app=welcomedly"          \
	      "&appArgs=record," id "&snoopId=$REC1"},                         \
	{STATE, id " talking"},                                                \
	{EV, "StasisStart $REC1"},                                             \
	{REQ, "POST /channels/$REC1/record?name=" id "&format=wav"             \
	      "&ifExists=overwrite&terminateOn=none&beep=false"}
/* clang-format on */
#define RECORDING "rec=/api/v1/calls/$CALLER/recording"
/* Everyone paused: a caller waits in the queue. */
#define ALL_PAUSED "UPDATE agents SET state = 'paused'"

/* Inbound, answered by agent 1, bridged and recorded; the caller hangs
 * up; the agent goes to wrap-up. */
static const struct step inbound_answered[] = {
    QUEUED_OFFERED(1, LEG1),
    {STATE, "$CALLER queued"},
    DIALED(LEG1),
    BRIDGED(LEG1),
    {AGENT, "1 in_call"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    /* The recorder is not hung up: it goes with the caller it snoops
     * on. */
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {STATE, "$CALLER -"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER dir=inbound disposition=ANSWERED by=caller agent=1 "
	  "campaign=1 abandoned=false answered=true wait=0 " RECORDING},
    {END, NULL},
};

/* The agent's leg enters Stasis before the reply to its create (ARI does
 * not order them): it is dialed once both are in, whichever comes last. */
static const struct step leg_before_reply[] = {
    QUEUED_OFFERED(1, LEG1),
    {EV, "StasisStart $LEG1"},
    {QUIET, NULL},
    {REQ, "POST /channels/$LEG1/dial?caller=$CALLER&timeout=15"},
    BRIDGED(LEG1),
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=1 " RECORDING},
    {END, NULL},
};

/* max_queue_length 1: while the first caller waits (agent 1 ringing), a
 * second is refused with the prompt; then the first gives up. */
static const struct step queue_full[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    {EV, "Dial RINGING"},
    {EV, "StasisStart $CALLER2"},
    {REQ, "POST /channels/$CALLER2/answer"},
    {REQ, "POST /channels/$CALLER2/play/$PB1"
	  "?media=sound:all-circuits-busy-now"},
    {STATE, "$CALLER2 prompting"},
    {STATE, "$CALLER queued"},
    {EV, "PlaybackFinished"},
    {REQ, "DELETE /channels/$CALLER2?reason_code=16"},
    {EV, "StasisEnd $CALLER2"},
    {FEED, "call.ended"},
    {CDR, "$CALLER2 disposition=ANSWERED by=system agent=- campaign=1 "
	  "abandoned=false answered=true wait=- rec=-"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {AGENT, "1 available"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=NO_ANSWER by=caller agent=- campaign=1 "
	  "abandoned=true answered=false wait=0 rec=-"},
    {END, NULL},
};

/* Agent 1's phone is busy (486): the leg gets a hangup request with cause
 * 17, then StasisEnd without a cause. Nobody else is offered within the
 * retry delay; the caller gives up. */
static const struct step agent_busy[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    {EV, "StasisEnd $LEG1"},
    /* Busy is not the agent's doing: the cause 17 of the leg's hangup
     * request (StasisEnd has none) keeps max_no_answer 1 from pausing
     * agent 1, who is not offered this caller again for retry_delay. */
    {AGENT, "1 available"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {CDR, "$CALLER disposition=NO_ANSWER by=caller agent=- campaign=1 "
	  "abandoned=true answered=false rec=-"},
    {END, NULL},
};

/* The caller hangs up while agent 1 rings: the leg is hung up, the agent
 * is free again, the call counts as abandoned. */
static const struct step abandoned_ringing[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    {EV, "Dial RINGING"},
    {STATE, "$CALLER queued"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {AGENT, "1 available"},
    {STATE, "$CALLER -"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER dir=inbound disposition=NO_ANSWER by=caller agent=- "
	  "campaign=1 abandoned=true answered=false wait=0 rec=-"},
    {END, NULL},
};

/* ringall: both agents answer; agent 2 answered first and wins, agent 1's
 * late answer is ignored and its leg hung up. */
static const struct step ringall_race[] = {
    ARRIVED,
    OFFERED(1, LEG1),
    OFFERED(2, LEG2),
    WAITING,
    DIALED(LEG1),
    DIALED(LEG2),
    {EV, "Dial ANSWER"},
    {FEED, "call.answered"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /channels/$CALLER/moh"},
    {REQ, "POST /bridges/$BRIDGE?type=mixing&name=$CALLER"},
    {AGENT, "1 available"},
    {EV, "Dial ANSWER"},
    {REQ, "POST /bridges/$BRIDGE/addChannel?channel=$CALLER,$LEG2"},
    {REQ, "POST /channels/$CALLER/snoop?spy=both&app=welcomedly"
	  "&appArgs=record,$CALLER&snoopId=$REC1"},
    {STATE, "$CALLER talking"},
    {AGENT, "2 in_call"},
    {EV, "StasisEnd $LEG1"},
    {AGENT, "1 available"},
    {EV, "StasisStart $REC1"},
    {REQ, "POST /channels/$REC1/record?name=$CALLER&format=wav"
	  "&ifExists=overwrite&terminateOn=none&beep=false"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG2?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {AGENT, "2 after_call_work"},
    {EV, "ChannelDestroyed $LEG2"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=2 abandoned=false "
	  "answered=true " RECORDING},
    {END, NULL},
};

/* Agent 1's phone rings out (Asterisk ends the leg at the dial timeout:
 * no Dial status, only StasisEnd); agent 2 is offered next and answers. */
static const struct step ring_no_answer[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    {EV, "Dial RINGING"},
    {EV, "StasisEnd $LEG1"},
    {AGENT, "1 available"},
    OFFERED(2, LEG2),
    {EV, "ChannelDestroyed $LEG1"},
    DIALED(LEG2),
    BRIDGED(LEG2),
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG2?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {AGENT, "2 after_call_work"},
    {EV, "ChannelDestroyed $LEG2"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=2 abandoned=false "
	  "answered=true " RECORDING},
    {END, NULL},
};

/* The prompt: answered, played, hung up by us. */
/* clang-format off */
#define PROMPTED                                                               \
	{EV, "StasisStart $CALLER"},                                           \
	{REQ, "POST /channels/$CALLER/answer"},                                \
	{REQ, "POST /channels/$CALLER/play/$PB1"                               \
	      "?media=sound:all-circuits-busy-now"},                           \
	{STATE, "$CALLER prompting"},                                          \
	{EV, "PlaybackFinished"},                                              \
	{REQ, "DELETE /channels/$CALLER?reason_code=16"},                      \
	{STATE, "$CALLER hanging_up"},                                         \
	{EV, "StasisEnd $CALLER"},                                             \
	{FEED, "call.ended"},                                                  \
	{STATE, "$CALLER -"}
/* clang-format on */

/* A number no campaign owns: a prompt. */
static const struct step prompt_unknown[] = {
    PROMPTED,
    {CDR, "$CALLER disposition=ANSWERED by=system agent=- campaign=- "
	  "abandoned=false answered=true wait=- rec=-"},
    {END, NULL},
};

/* Campaign 1 with nobody logged in (no_agents_action hangup): a prompt. */
static const struct step prompt_no_agents[] = {
    PROMPTED,
    {CDR, "$CALLER disposition=ANSWERED by=system agent=- campaign=1 "
	  "abandoned=false answered=true wait=- rec=-"},
    {END, NULL},
};

/* 5001 rings campaign 2, whose only agent is logged out: it overflows to
 * campaign 1, where agent 1 answers. */
static const struct step overflow[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=1 campaign=1 "
	  "abandoned=false " RECORDING},
    {END, NULL},
};

/* Everyone paused: the caller waits, hears one announcement after 1 s,
 * and at the campaign's 2 s maximum is sent to the prompt (which Asterisk
 * plays once the announcement ends). */
static const struct step max_wait[] = {
    QUEUED_ON_5000,
    {REQ, "DELETE /channels/$CALLER/moh"},
    {REQ, "POST /channels/$CALLER/play/$PB1?media=sound:queue-thereare,"
	  "number:1,sound:queue-callswaiting,sound:queue-holdtime,number:1,"
	  "sound:queue-minutes"},
    {EV, "PlaybackStarted"},
    {STATE, "$CALLER queued"},
    {REQ, "POST /channels/$CALLER/play/$PB2"
	  "?media=sound:all-circuits-busy-now"},
    {STATE, "$CALLER prompting"},
    {EV, "PlaybackFinished"},
    {STATE, "$CALLER prompting"},
    {EV, "PlaybackFinished"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {CDR, "$CALLER disposition=ANSWERED by=system agent=- campaign=1 "
	  "abandoned=false answered=true wait>=1 rec=-"},
    {END, NULL},
};

/* clang-format off */
/* Outbound: agent 1's phone rings first (the call id is the agent's leg,
 * $OUT), with the number it is about to call; how: "" or
 * " local-ringback" (the phone plays its own). */
#define OUT_AGENT_RINGING_AS(number, how)                                      \
	{ORIGINATE, "OUT 1 +" number how},                                     \
	{FEED, "call.offered"},                                                \
	{REQ, "POST /channels/create?endpoint=PJSIP/agent1&app=welcomedly"     \
	      "&appArgs=outbound,1&channelId=$OUT"},                           \
	{AGENT, "1 ringing"},                                                  \
	{STATE, "$OUT connecting"},                                            \
	{EV, "StasisStart $OUT"},                                              \
	{REQ, "POST /channels/$OUT/dial?timeout=15"}
#define OUT_AGENT_RINGING(number) OUT_AGENT_RINGING_AS(number, "")
/* The customer's leg with the campaign's caller id, dialed once in
 * Stasis. */
#define OUT_CUSTOMER_DIALED(number)                                            \
	{REQ, "POST /channels/create?endpoint=PJSIP%2F%2B" number "%40trunk"   \
	      "&app=welcomedly&appArgs=customer,$OUT&channelId=$CUST"},        \
	{EV, "StasisStart $CUST"},                                             \
	{REQ, "POST /channels/$CUST/variable?variable=CONNECTEDLINE(all)"      \
	      "&value=%22%2B12125550100%22%20%3C%2B12125550100%3E"},           \
	{REQ, "POST /channels/$CUST/dial?timeout=45"},                         \
	{STATE, "$OUT connecting"}
/* The agent answered: ringback, then the customer's leg. */
#define OUT_CUSTOMER_RINGING(number)                                           \
	{EV, "Dial ANSWER"},                                                   \
	{AGENT, "1 in_call"},                                                  \
	{REQ, "POST /channels/$OUT/play/$PB1?media=tone:ring"},                \
	OUT_CUSTOMER_DIALED(number)
#define OUT_BRIDGED                                                            \
	{REQ, "POST /bridges/$BRIDGE?type=mixing&name=$OUT"},                  \
	{REQ, "POST /bridges/$BRIDGE/addChannel?channel=$OUT,$CUST"}
/* The customer answered: ringback stopped, bridged, recorded. */
#define OUT_TALKING                                                            \
	{EV, "Dial ANSWER"},                                                   \
	{FEED, "call.answered"},                                               \
	{REQ, "DELETE /playbacks/$PB1"},                                       \
	OUT_BRIDGED,                                                           \
	RECORDED("$CUST", "$OUT")
/* Talking; the customer hangs up first. */
#define OUT_CUSTOMER_HANGS_UP                                                  \
	{EV, "StasisEnd $CUST"},                                               \
	{REQ, "DELETE /channels/$OUT?reason_code=16"},                         \
	{REQ, "DELETE /bridges/$BRIDGE"},                                      \
	{EV, "StasisEnd $OUT"},                                                \
	{FEED, "call.ended"},                                                  \
	{AGENT, "1 after_call_work"},                                          \
	{STATE, "$OUT -"},                                                     \
	{EV, "ChannelDestroyed $OUT"},                                         \
	{CDR, "$OUT dir=outbound disposition=ANSWERED by=caller agent=1 "      \
	      "answered=true rec=/api/v1/calls/$OUT/recording"},               \
	{END, NULL}
/* clang-format on */

/* Outbound, answered by the customer, ended through the API: the agent's
 * leg and the bridge go with the talk, then the customer's leg. */
static const struct step outbound_api_hangup[] = {
    OUT_AGENT_RINGING("12123453927"),
    OUT_CUSTOMER_RINGING("12123453927"),
    OUT_TALKING,
    {HANGUP, "$OUT"},
    {REQ, "DELETE /channels/$OUT?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$CUST?reason_code=16"},
    {STATE, "$OUT hanging_up"},
    {EV, "StasisEnd $OUT"},
    {EV, "StasisEnd $CUST"},
    {FEED, "call.ended"},
    {STATE, "$OUT -"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $OUT"},
    {CDR, "$OUT dir=outbound disposition=ANSWERED by=system agent=1 "
	  "campaign=1 answered=true rec=/api/v1/calls/$OUT/recording"},
    {END, NULL},
};

/* Talking; the agent hangs up first: the bridge goes with the talk, then
 * the customer's leg is hung up. */
static const struct step outbound_agent_hangs_up[] = {
    OUT_AGENT_RINGING("12125683586"),
    OUT_CUSTOMER_RINGING("12125683586"),
    OUT_TALKING,
    {EV, "StasisEnd $OUT"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$CUST?reason_code=16"},
    {STATE, "$OUT hanging_up"},
    {EV, "StasisEnd $CUST"},
    {FEED, "call.ended"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $CUST"},
    {CDR, "$OUT dir=outbound disposition=ANSWERED by=agent agent=1 "
	  "answered=true rec=/api/v1/calls/$OUT/recording"},
    {END, NULL},
};

/* Talking; the customer hangs up first. */
static const struct step outbound_customer_hangs_up[] = {
    OUT_AGENT_RINGING("12129295757"),
    OUT_CUSTOMER_RINGING("12129295757"),
    OUT_TALKING,
    OUT_CUSTOMER_HANGS_UP,
};

/* As above, but the agent's phone plays its own ringback (a browser): none
 * is played to it, nor stopped when the customer answers (the trace's
 * playback event is not fed). */
static const struct step outbound_local_ringback[] = {
    OUT_AGENT_RINGING_AS("12129295757", " local-ringback"),
    {EV, "Dial ANSWER"},
    {AGENT, "1 in_call"},
    OUT_CUSTOMER_DIALED("12129295757"),
    {EV, "Dial ANSWER"},
    {FEED, "call.answered"},
    OUT_BRIDGED,
    {SKIP, "PlaybackFinished"},
    RECORDED("$CUST", "$OUT"),
    OUT_CUSTOMER_HANGS_UP,
};

/* The customer is busy: Asterisk sends no Dial BUSY, only a hangup
 * request with cause 17 before StasisEnd. The agent's leg is hung up and
 * the agent, who answered, goes to wrap-up. */
static const struct step outbound_busy[] = {
    OUT_AGENT_RINGING("12129583694"),
    OUT_CUSTOMER_RINGING("12129583694"),
    {EV, "StasisEnd $CUST"},
    {FEED, "call.customer_failed"},
    {REQ, "DELETE /channels/$OUT?reason_code=16"},
    {STATE, "$OUT hanging_up"},
    {EV, "StasisEnd $OUT"},
    {FEED, "call.ended"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $OUT"},
    {CDR, "$OUT dir=outbound disposition=BUSY by=system agent=1 campaign=1 "
	  "answered=false rec=- cause=17"},
    {END, NULL},
};

/* The customer does not answer: the leg ends while ringing (here sooner
 * than the 45 s the daemon asked for; the test does not wait for it). */
static const struct step outbound_no_answer[] = {
    OUT_AGENT_RINGING("12122986423"),
    OUT_CUSTOMER_RINGING("12122986423"),
    {EV, "Dial RINGING"},
    {EV, "StasisEnd $CUST"},
    {FEED, "call.customer_failed"},
    {REQ, "DELETE /channels/$OUT?reason_code=16"},
    {EV, "StasisEnd $OUT"},
    {FEED, "call.ended"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $OUT"},
    {CDR, "$OUT dir=outbound disposition=NO_ANSWER by=system agent=1 "
	  "answered=false rec=-"},
    {END, NULL},
};

/* The agent's phone rings out: Asterisk ends the leg at the dial timeout
 * with no Dial NOANSWER. The customer is never dialed. */
static const struct step outbound_agent_no_answer[] = {
    OUT_AGENT_RINGING("12122082976"),
    {EV, "Dial RINGING"},
    {EV, "StasisEnd $OUT"},
    {FEED, "call.ended"},
    {STATE, "$OUT -"},
    /* A ring-out through /dial's timeout sends no Dial status: the leg
     * that left unanswered is the miss, and max_no_answer 1 pauses. */
    {AGENT, "1 paused"},
    {EV, "ChannelDestroyed $OUT"},
    {CDR, "$OUT dir=outbound disposition=NO_ANSWER by=agent agent=1 "
	  "answered=false rec=-"},
    {END, NULL},
};

/* The agent's phone is busy (486): hangup cause 17, no Dial status. */
static const struct step outbound_agent_busy[] = {
    OUT_AGENT_RINGING("12125857639"),
    {EV, "StasisEnd $OUT"},
    {FEED, "call.ended"},
    {AGENT, "1 available"},
    {EV, "ChannelDestroyed $OUT"},
    {CDR, "$OUT dir=outbound disposition=BUSY by=agent agent=1 "
	  "answered=false rec=- cause=17"},
    {END, NULL},
};

/* The agent hangs up first: the caller is hung up by us, the agent goes
 * to wrap-up. */
static const struct step agent_hangs_up[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    {EV, "StasisEnd $LEG1"},
    /* The leg that left is not hung up again: the bridge goes, then the
     * caller, and with the caller the recorder snooping on it. */
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {STATE, "$CALLER hanging_up"},
    {AGENT, "1 after_call_work"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {CDR, "$CALLER disposition=ANSWERED by=agent agent=1 campaign=1 "
	  "abandoned=false answered=true wait=0 " RECORDING},
    {END, NULL},
};

/* The caller hangs up while waiting, nobody rang: abandoned. */
static const struct step abandoned_queued[] = {
    QUEUED_ON_5000,
    {STATE, "$CALLER queued"},
    {AGENT, "1 paused"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {CDR, "$CALLER disposition=NO_ANSWER by=caller agent=- campaign=1 "
	  "abandoned=true answered=false wait=0 rec=-"},
    {END, NULL},
};

/* A queued call hung up through the API: music stops, the channel is hung
 * up, and the call ends on its StasisEnd. */
static const struct step api_hangup_queued[] = {
    QUEUED_ON_5000,
    {STATE, "$CALLER queued"},
    {HANGUP, "$CALLER"},
    {REQ, "DELETE /channels/$CALLER/moh"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {STATE, "$CALLER hanging_up"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {CDR, "$CALLER disposition=NO_ANSWER by=system agent=- campaign=1 "
	  "abandoned=false answered=false wait=0 rec=- cause=32"},
    {END, NULL},
};

/* The same in a campaign without music on hold (moh_class ""): the caller
 * waits in silence, so no music is started or stopped. */
static const struct step silent_queue[] = {
    {EV, "StasisStart $CALLER"},
    {REQ, "POST /channels/$CALLER/answer"},
    {FEED, "call.queued"},
    {STATE, "$CALLER queued"},
    {HANGUP, "$CALLER"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {STATE, "$CALLER hanging_up"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {CDR, "$CALLER disposition=NO_ANSWER by=system agent=- campaign=1 "
	  "abandoned=false answered=false wait=0 rec=- cause=32"},
    {END, NULL},
};

/* The same, but the hangup races the caller's own: 404, the channel is
 * already gone, which ends the call at once. */
static const struct step hangup_404[] = {
    QUEUED_ON_5000,
    {HANGUP, "$CALLER"},
    {REQ, "DELETE /channels/$CALLER/moh"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {EV, "StasisEnd $CALLER"},
    {CDR, "$CALLER disposition=NO_ANSWER by=system agent=- campaign=1 "
	  "abandoned=false answered=false rec=-"},
    {END, NULL},
};

/* Answering the caller fails (the fault in the row, answered late) after
 * agent 1's phone was asked for: the offer is taken back, the caller leaves
 * the queue and is hung up, and agent 1 is free again. */
static const struct step answer_fails[] = {
    QUEUED_OFFERED(1, LEG1),
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /channels/$CALLER/moh"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {STATE, "$CALLER hanging_up"},
    {AGENT, "1 available"},
    /* The leg, hung up, never rang; the caller's hangup ends the call. */
    {SKIP, "Dial RINGING"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=NO_ANSWER by=system agent=- campaign=1 "
	  "abandoned=false answered=false rec=-"},
    {END, NULL},
};

/* Joining the bridge fails (the fault in the row): the agent's leg, the
 * bridge and the caller are hung up; nothing was recorded. */
static const struct step addchannel_fails[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    JOINING(LEG1),
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {STATE, "$CALLER hanging_up"},
    /* Today's behaviour: the agent, who never talked, still gets wrap-up. */
    {AGENT, "1 after_call_work"},
    /* What follows a join and a recording did not happen. */
    {SKIP, "StasisStart $REC1"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {SKIP, "StasisEnd $REC1"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=system agent=1 campaign=1 "
	  "abandoned=false answered=true rec=-"},
    {END, NULL},
};

/* The recorder cannot be made (the fault in the row): the call talks on
 * unrecorded and ends as usual. */
static const struct step recorder_fails[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    JOINING(LEG1),
    {REQ, "POST /channels/$CALLER/snoop?spy=both&app=welcomedly"
	  "&appArgs=record,$CALLER&snoopId=$REC1"},
    {STATE, "$CALLER talking"},
    {AGENT, "1 in_call"},
    /* What a snoop that was made would have sent. */
    {SKIP, "StasisStart $REC1"},
    {QUIET, NULL},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {AGENT, "1 after_call_work"},
    {SKIP, "StasisEnd $REC1"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=1 campaign=1 "
	  "answered=true " RECORDING},
    {END, NULL},
};

/* A supervisor (agent 2) listens, barges, whispers and leaves; supervises
 * again, and the call's end ends it. Side legs never move the call or the
 * supervisor's own state. */
static const struct step supervise[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    /* Listen: the phone rings, answers, and meets a snoop on the agent's
     * leg in a bridge of its own. */
    {SUPERVISE, "$CALLER 2 listen"},
    {REQ, "POST /channels/create?endpoint=PJSIP/agent2&app=welcomedly"
	  "&appArgs=supervisor,$CALLER&channelId=$SUP1"},
    {EV, "StasisStart $SUP1"},
    {REQ, "POST /channels/$SUP1/dial?timeout=30"},
    {EV, "Dial ANSWER"},
    {REQ, "POST /bridges/$BRIDGE2?type=mixing&name=sup-$CALLER"},
    {REQ, "POST /channels/$LEG1/snoop?spy=both&whisper=none&app=welcomedly"
	  "&appArgs=snoop,$CALLER,listen&snoopId=$SNOOP1"},
    {EV, "StasisStart $SNOOP1"},
    {REQ, "POST /bridges/$BRIDGE2/addChannel?channel=$SNOOP1,$SUP1"},
    {FEED, "call.supervised"},
    {STATE, "$CALLER talking"},
    /* Barge: the snoop goes, the phone joins the call's bridge (which
     * takes it out of its own), then its own bridge goes. */
    {SUPERVISE, "$CALLER 2 barge"},
    {REQ, "DELETE /channels/$SNOOP1?reason_code=16"},
    {REQ, "POST /bridges/$BRIDGE/addChannel?channel=$SUP1"},
    {REQ, "DELETE /bridges/$BRIDGE2"},
    {FEED, "call.supervised"},
    {EV, "StasisEnd $SNOOP1"},
    /* Whisper: a new snoop that speaks, in a new bridge the phone joins
     * straight from the call's. */
    {SUPERVISE, "$CALLER 2 whisper"},
    {REQ, "POST /bridges/$BRIDGE3?type=mixing&name=sup-$CALLER"},
    {REQ, "POST /channels/$LEG1/snoop?spy=both&whisper=out&app=welcomedly"
	  "&appArgs=snoop,$CALLER,whisper&snoopId=$SNOOP2"},
    {EV, "StasisStart $SNOOP2"},
    {REQ, "POST /bridges/$BRIDGE3/addChannel?channel=$SNOOP2,$SUP1"},
    {FEED, "call.supervised"},
    /* Ended: the snoop, its bridge and the phone go. */
    {SUPERVISE, "$CALLER 2 end"},
    {REQ, "DELETE /channels/$SNOOP2?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE3"},
    {REQ, "DELETE /channels/$SUP1?reason_code=16"},
    {FEED, "call.supervision_ended"},
    {EV, "StasisEnd $SUP1"},
    {AGENT, "1 in_call"},
    {AGENT, "2 available"},
    /* Again; then the call is hung up, and the supervision with it. */
    {SUPERVISE, "$CALLER 2 listen"},
    {REQ, "POST /channels/create?endpoint=PJSIP/agent2&app=welcomedly"
	  "&appArgs=supervisor,$CALLER&channelId=$SUP2"},
    {EV, "StasisStart $SUP2"},
    {REQ, "POST /channels/$SUP2/dial?timeout=30"},
    {EV, "Dial ANSWER"},
    {REQ, "POST /bridges/$BRIDGE4?type=mixing&name=sup-$CALLER"},
    {REQ, "POST /channels/$LEG1/snoop?spy=both&whisper=none&app=welcomedly"
	  "&appArgs=snoop,$CALLER,listen&snoopId=$SNOOP3"},
    {EV, "StasisStart $SNOOP3"},
    {REQ, "POST /bridges/$BRIDGE4/addChannel?channel=$SNOOP3,$SUP2"},
    {FEED, "call.supervised"},
    {HANGUP, "$CALLER"},
    /* The supervision's parts go, then the talk's: more at once than the
     * client's four connections carry, so those waiting for one go out in
     * no set order. */
    {ANY, "6"},
    {REQ, "DELETE /channels/$SNOOP3?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE4"},
    {REQ, "DELETE /channels/$SUP2?reason_code=16"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$CALLER?reason_code=16"},
    {FEED, "call.supervision_ended"},
    {STATE, "$CALLER hanging_up"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {AGENT, "1 after_call_work"},
    {AGENT, "2 available"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=system agent=1 " RECORDING},
    {END, NULL},
};

/* Blind transfer of a talking call: the caller continues in the dialplan
 * (StasisEnd without a hangup), the agent's leg and the bridge go. */
static const struct step blind_transfer[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    {TRANSFER, "$CALLER welcomedly-transfer agent2"},
    {REQ, "POST /channels/$CALLER/variable?variable=WELCOMEDLY_TRANSFER"
	  "&value=agent2"},
    /* The recorder goes before the caller does: it would record on. */
    {REQ, "DELETE /channels/$REC1?reason_code=16"},
    {REQ, "POST /channels/$CALLER/continue?context=welcomedly-transfer"
	  "&extension=agent2&priority=1"},
    {STATE, "$CALLER talking"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=agent agent=1 campaign=1 "
	  "abandoned=false answered=true " RECORDING},
    {END, NULL},
};

/* A number (checked by the API): its "+" escaped in both queries. */
static const struct step blind_transfer_number[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    {TRANSFER, "$CALLER welcomedly-transfer +12125550100"},
    {REQ, "POST /channels/$CALLER/variable?variable=WELCOMEDLY_TRANSFER"
	  "&value=%2B12125550100"},
    {REQ, "DELETE /channels/$REC1?reason_code=16"},
    {REQ, "POST /channels/$CALLER/continue?context=welcomedly-transfer"
	  "&extension=%2B12125550100&priority=1"},
    {STATE, "$CALLER talking"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {AGENT, "1 after_call_work"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=agent agent=1 campaign=1 "
	  "abandoned=false answered=true " RECORDING},
    {END, NULL},
};

/* A masquerade while talking: a new channel takes the caller's place
 * (StasisStart with replace_channel), then StasisEnd of the old id, which
 * must not end the call. The call keeps its id; later requests use the new
 * channel, and the record names it. */
static const struct step masquerade[] = {
    QUEUED_OFFERED(1, LEG1),
    DIALED(LEG1),
    BRIDGED(LEG1),
    {EV, "StasisStart"},
    {EV, "StasisEnd $CALLER"},
    {STATE, "$CALLER talking"},
    {AGENT, "1 in_call"},
    {HANGUP, "$CALLER"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {REQ, "DELETE /channels/$NEW?reason_code=16"},
    {EV, "StasisEnd $NEW"},
    {FEED, "call.ended"},
    {STATE, "$CALLER -"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR,
     "$CALLER disposition=ANSWERED by=system agent=1 chan=$NEW " RECORDING},
    {END, NULL},
};

/* A call found in Stasis after a restart (its StasisStart went to the
 * earlier process; GET /channels lists it): adopted, answered again, queued
 * at the place its queue_entries row kept (30 s ago), offered once that
 * place is read back, then answered. */
static const struct step adopted[] = {
    /* What the earlier process received: the caller's channel, as GET
     * /channels lists it after the restart (there it is Up, answered; the
     * adoption does not go by its state). */
    {SKIP, "StasisStart $CALLER"},
    {RESYNC, NULL},
    {REQ, "POST /channels/$CALLER/answer"},
    {FEED, "call.queued"},
    {REQ, "POST /channels/$CALLER/moh?mohClass=default"},
    {DB, NULL},
    OFFERED(1, LEG1),
    {FIELD, "$CALLER wait_seconds>=30"},
    DIALED(LEG1),
    BRIDGED(LEG1),
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG1?reason_code=16"},
    {REQ, "DELETE /bridges/$BRIDGE"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=ANSWERED by=caller agent=1 campaign=1 "
	  "abandoned=false answered=true wait>=30 " RECORDING},
    {END, NULL},
};

/* The agent's leg is created in Asterisk, but the reply comes too late
 * (Asterisk stalled under load): the leg counts as not created, and its
 * StasisStart then names a leg no call owns. It is hung up as an orphan,
 * not taken for a new caller (no answer, no queue, no record of its own). */
static const struct step leg_create_timed_out[] = {
    QUEUED_OFFERED(1, LEG1),
    /* Two seconds later the create times out: agent 2 is offered. */
    {REQ, "POST /channels/create?endpoint=PJSIP/agent2"
	  "&app=welcomedly&appArgs=agent,$CALLER,1&channelId=$LEG2"},
    {FEED, "call.offered"},
    {AGENT, "2 ringing"},
    {AGENT, "1 available"},
    {EV, "StasisStart $LEG1"},
    {REQ, "DELETE /channels/$LEG1"},
    {STATE, "$LEG1 -"},
    {STATE, "$CALLER queued"},
    {EV, "StasisEnd $CALLER"},
    {FEED, "call.ended"},
    {REQ, "DELETE /channels/$LEG2?reason_code=16"},
    {AGENT, "2 available"},
    {EV, "ChannelDestroyed $LEG1"},
    {CDR, "$CALLER disposition=NO_ANSWER by=caller agent=- campaign=1 "
	  "abandoned=true answered=false rec=-"},
    {END, NULL},
};

static const struct row rows[] = {
    {"inbound-answered", "inbound-answered", NULL, NULL, inbound_answered},
    {"leg-before-reply", "inbound-answered", NULL,
     FAULTS({"POST /channels/create*", 0, 300}), leg_before_reply},
    {"leg-create-timed-out", "abandoned-ringing", NULL,
     FAULTS({"POST /channels/create*", 0, 2500}), leg_create_timed_out},
    {"agent-hangs-up", "agent-hangs-up", NULL,
     FAULTS({"DELETE /channels/$LEG1?reason_code=16", 404, 0}), agent_hangs_up},
    {"queue-full", "queue-full",
     "UPDATE campaigns SET max_queue_length = 1 WHERE id = 1", NULL,
     queue_full},
    {"agent-busy", "agent-busy",
     "UPDATE campaigns SET max_no_answer = 1, retry_delay = 5", NULL,
     agent_busy},
    {"abandoned-queued", "abandoned-queued", ALL_PAUSED, NULL,
     abandoned_queued},
    {"abandoned-ringing", "abandoned-ringing", NULL, NULL, abandoned_ringing},
    {"ringall-race", "ringall-race",
     "UPDATE campaigns SET strategy = 'ringall' WHERE id = 1", NULL,
     ringall_race},
    {"ring-no-answer", "ring-no-answer", NULL, NULL, ring_no_answer},
    {"prompt-unknown", "prompt-unknown", NULL, NULL, prompt_unknown},
    {"prompt-no-agents", "prompt-no-agents",
     "UPDATE agents SET state = 'offline'", NULL, prompt_no_agents},
    {"overflow", "overflow",
     "UPDATE agents SET state = 'offline' WHERE id = 3;"
     "UPDATE campaigns SET no_agents_action = 'overflow',"
     " overflow_campaign_id = 1 WHERE id = 2",
     NULL, overflow},
    {"max-wait", "max-wait",
     ALL_PAUSED "; UPDATE campaigns SET announce_frequency = 1,"
		" max_wait_time = 2",
     NULL, max_wait},
    {"outbound-api-hangup", "outbound-api-hangup", NULL, NULL,
     outbound_api_hangup},
    {"outbound-agent-hangs-up", "outbound-agent-hangs-up", NULL, NULL,
     outbound_agent_hangs_up},
    {"outbound-customer-hangs-up", "outbound-customer-hangs-up", NULL, NULL,
     outbound_customer_hangs_up},
    {"outbound-local-ringback", "outbound-customer-hangs-up", NULL, NULL,
     outbound_local_ringback},
    {"outbound-busy", "outbound-busy", NULL, NULL, outbound_busy},
    {"outbound-no-answer", "outbound-no-answer", NULL, NULL,
     outbound_no_answer},
    {"outbound-agent-no-answer", "outbound-agent-no-answer",
     "UPDATE campaigns SET max_no_answer = 1", NULL, outbound_agent_no_answer},
    {"outbound-agent-busy", "outbound-agent-busy", NULL, NULL,
     outbound_agent_busy},
    {"api-hangup-queued", "api-hangup-queued", ALL_PAUSED, NULL,
     api_hangup_queued},
    {"silent-queue", "api-hangup-queued",
     ALL_PAUSED "; UPDATE campaigns SET moh_class = ''", NULL, silent_queue},
    {"hangup-404", "api-hangup-queued", ALL_PAUSED,
     FAULTS({"DELETE /channels/$CALLER?reason_code=16", 404, 0}), hangup_404},
    {"answer-500", "abandoned-ringing", NULL,
     FAULTS({"POST /channels/$CALLER/answer", 500, 300}), answer_fails},
    {"addchannel-404", "inbound-answered", NULL,
     FAULTS({"POST /bridges/$BRIDGE/addChannel*", 404, 0}), addchannel_fails},
    {"addchannel-409", "inbound-answered", NULL,
     FAULTS({"POST /bridges/$BRIDGE/addChannel*", 409, 0}), addchannel_fails},
    {"addchannel-422", "inbound-answered", NULL,
     FAULTS({"POST /bridges/$BRIDGE/addChannel*", 422, 0}), addchannel_fails},
    {"recorder-500", "inbound-answered", NULL,
     FAULTS({"POST /channels/$CALLER/snoop*", 500, 0}), recorder_fails},
    {"blind-transfer", "blind-transfer", NULL, NULL, blind_transfer},
    {"supervise", "supervise", NULL, NULL, supervise},
    {"blind-transfer-number", "blind-transfer", NULL, NULL,
     blind_transfer_number},
    {"masquerade", "masquerade", NULL, NULL, masquerade},
    {"adopted", "adopted",
     "INSERT INTO queue_entries (call_id, campaign_id, caller_number,"
     " channel_id, joined_at) VALUES ('htestd-1796539097.83', 1,"
     " '15550001', 'htestd-1796539097.83', now() - interval '30 s')",
     NULL, adopted},
};

START_TEST(row)
{
	const struct row *r = &rows[_i];
	struct fx *fx = calloc(1, sizeof(*fx));

	ck_assert_ptr_nonnull(fx);
	setup(fx, r);
	for (const struct step *s = r->steps; s->op != END;)
		s += run_step(fx, s);
	check_all_seen(fx);
	teardown(fx);
	free(fx);
}
END_TEST

static void on_durable(int error, void *userdata)
{
	ck_assert_int_eq(error, 0);
	*(bool *)userdata = true;
}

static void submit_state(struct cdr_writer *w, int agent, const char *to)
{
	json_t *rec = json_pack("{s:i, s:s, s:s, s:I}", "agent_id", agent,
				"from_state", "available", "to_state", to,
				"at_us", (json_int_t)cdr_now_us());

	ck_assert_int_eq(cdr_writer_submit_kind(w, CDR_KIND_AGENT_STATE, rec),
			 0);
}

/* What a call changes in one turn of the loop (here three agents' states)
 * goes to the database in one statement; what comes while it is in flight
 * goes in the next one. */
START_TEST(one_statement_per_turn)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct cdr_writer_stats st;
	bool durable = false;
	char count[16];

	ck_assert_ptr_nonnull(fx);
	setup(fx, &rows[0]);
	pgtest_run_for(&fx->loop, 200);
	cdr_writer_get_stats(fx->cdr, &st);
	const uint64_t before = st.statements;
	for (int i = 1; i <= 3; i++)
		submit_state(fx->cdr, i, "paused");
	ck_assert_int_eq(cdr_writer_durable(fx->cdr, on_durable, &durable), 0);
	ck_assert(pgtest_run_until(&fx->loop, &durable, PGTEST_TIMEOUT_MS));
	cdr_writer_get_stats(fx->cdr, &st);
	ck_assert_uint_eq(st.statements - before, 1);
	ck_assert_int_eq(
	    pgtest_query(&fx->loop, fx->pool,
			 "SELECT count(*) FROM agents WHERE state = 'paused'",
			 0, NULL, count, sizeof(count)),
	    0);
	ck_assert_str_eq(count, "3");
	teardown(fx);
	free(fx);
}
END_TEST

/* A routing decision reaches routing_decisions once, however often the
 * writer sends it (a replay resends what may be stored already), with its
 * arrays as the dispatcher wrote them; one whose campaign is gone keeps
 * its row without one. */
START_TEST(decision_stored_once)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	bool durable = false;
	char got[256];
	json_t *rec[2];

	ck_assert_ptr_nonnull(fx);
	setup(fx, &rows[0]);
	for (int i = 0; i < 2; i++) {
		rec[i] = json_pack(
		    "{s:s, s:i, s:s, s:s, s:s, s:I}", "call_id", "c-1",
		    "campaign_id", i == 0 ? 1 : 999, "strategy", "linear",
		    "chosen", i == 0 ? "{2}" : "{}", "candidates",
		    i == 0 ? "[{\"agent\":2,\"skip\":\"chosen\",\"penalty\":0}]"
			   : "[]",
		    "at_us", (json_int_t)cdr_now_us());
		ck_assert_int_eq(
		    cdr_writer_submit_kind(fx->cdr, CDR_KIND_ROUTING_DECISION,
					   json_incref(rec[i])),
		    0);
	}
	ck_assert_int_eq(cdr_writer_durable(fx->cdr, on_durable, &durable), 0);
	ck_assert(pgtest_run_until(&fx->loop, &durable, PGTEST_TIMEOUT_MS));
	/* Sent again as a replay sends them: stamped already. */
	durable = false;
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(cdr_writer_submit(fx->cdr, rec[i]), 0);
	ck_assert_int_eq(cdr_writer_durable(fx->cdr, on_durable, &durable), 0);
	ck_assert(pgtest_run_until(&fx->loop, &durable, PGTEST_TIMEOUT_MS));
	ck_assert_int_eq(
	    pgtest_query(
		&fx->loop, fx->pool,
		"SELECT string_agg(concat_ws('|', campaign_id, strategy,"
		" chosen, candidates->0->>'skip', seq IS NOT NULL),"
		" ';' ORDER BY seq) FROM routing_decisions"
		" WHERE call_id = 'c-1'",
		0, NULL, got, sizeof(got)),
	    0);
	ck_assert_str_eq(got, "1|linear|{2}|chosen|t;linear|{}|t");
	teardown(fx);
	free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calls-service");
	TCase *tc = tcase_create("rows");
	TCase *writer = tcase_create("writer");
	const char *only = getenv("CALLS_TEST_ROW");

	if (pgtest_require_url() != 0)
		return EXIT_FAILURE;
	log_set_level(getenv("CALLS_TEST_DEBUG") ? LOG_LEVEL_DEBUG
						 : LOG_LEVEL_ERROR);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (!only || strcmp(only, rows[i].name) == 0)
			tcase_add_loop_test(tc, row, (int)i, (int)i + 1);
	tcase_add_unchecked_fixture(tc, shared_schema_up, shared_schema_down);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	if (!only) {
		tcase_add_test(writer, one_statement_per_turn);
		tcase_add_test(writer, decision_stored_once);
		tcase_add_unchecked_fixture(writer, shared_schema_up,
					    shared_schema_down);
		suite_add_tcase(s, writer);
	}
	return testlib_run(s);
}
