/* service.c: the agent registry, its transitions and their persistence. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agents/agents.h"
#include "agents/presence.h"
#include "cdr/cdr.h"
#include "util/log.h"
#include "util/strmap.h"

/* Period of the sweep that ends wrap-up times and holds on phones. */
#define AGENTS_SWEEP_MS 250
/* How long a phone that a dial found unavailable (CHANUNAVAIL) is not
 * offered although it is still registered: a dead phone keeps its contact
 * until it expires, a briefly busy network does not. */
#define AGENTS_UNAVAIL_HOLD_MS 1000
/* Named cap on agents loaded from the database. */
#define AGENTS_MAX 100000

struct agents {
	uv_loop_t *loop;
	struct db_pool *db;
	agents_changed_cb changed;
	void *userdata;
	struct agent **list;
	struct acd_agent *acd;
	uint32_t count, capacity;
	struct strmap *by_sip;
	struct strmap *by_id; /* decimal id -> agent: loads look up every row */
	uv_timer_t sweep;
	unsigned generation; /* of the last load: rows seen carry it */
	agents_transition_cb transition;
	void *transition_data;
	struct agents_presence *presence;
	bool phones_synced; /* ARI's endpoints were read once: statuses go */
	unsigned status_writes;    /* sip_peers.status writes in flight */
	bool closed;               /* freed once nothing is in flight */
	unsigned loads;            /* loads in flight */
	struct cdr_writer *writer; /* borrowed; NULL: states not stored */
};

static const char load_sql[] =
    "SELECT a.id, a.name, a.state, a.state_reason,"
    " (extract(epoch FROM a.state_since) * 1000000)::bigint, p.sip_username,"
    " p.status = 'registered'"
    " FROM agents a LEFT JOIN sip_peers p ON p.agent_id = a.id ORDER BY a.id";

static void free_agents(struct agents *agents);
static void read_contacts(struct agents *agents);

/* A closed registry goes once nothing it started is in flight. */
static void free_if_idle(struct agents *agents)
{
	if (agents->closed && agents->loads == 0 && agents->status_writes == 0)
		free_agents(agents);
}

int agents_stored(struct agents *agents, void (*cb)(int error, void *userdata),
		  void *userdata)
{
	if (!agents->writer) {
		cb(0, userdata);
		return 0;
	}
	return cdr_writer_durable(agents->writer, cb, userdata);
}

/* The change goes through the writer, which journals it while the
 * database is away; its sequence number keeps the history in order and
 * a replay harmless. */
static void persist(struct agents *agents, const struct agent *agent,
		    enum acd_agent_state from, enum acd_agent_state to)
{
	json_t *rec;

	if (!agents->writer)
		return;
	rec = json_pack("{s:I, s:s, s:s, s:s?, s:I}", "agent_id",
			(json_int_t)agent->id, "from_state",
			acd_agent_state_name(from), "to_state",
			acd_agent_state_name(to), "reason", agent->reason,
			"at_us", (json_int_t)cdr_now_us());
	if (!rec || cdr_writer_submit_kind(agents->writer, CDR_KIND_AGENT_STATE,
					   rec) < 0)
		log_warning("agent=%lld state=%s not stored, ignoring",
			    (long long)agent->id, acd_agent_state_name(to));
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

static void apply_pending(struct agents *agents, struct agent *agent)
{
	enum agents_input input = agent->pending;
	char *reason = agent->pending_reason;

	agent->has_pending = false;
	agent->pending_reason = NULL;
	agents_input(agents, agent, input, reason, 0);
	free(reason);
}

int agents_input(struct agents *agents, struct agent *agent,
		 enum agents_input input, const char *reason, unsigned wrapup_s)
{
	struct acd_agent *acd = &agents->acd[agent->index];
	enum acd_agent_state from = acd->state;
	int next = agents_state_next(from, input);

	if (next < 0)
		return next;
	acd->state = (enum acd_agent_state)next;
	acd->state_since_us = cdr_now_us();
	set_str(&agent->reason, next == ACD_AGENT_PAUSED ? reason : NULL);
	if (input == AGENTS_INPUT_CALL_END) {
		acd->last_call_end_us = acd->state_since_us;
		acd->calls_taken++;
		agent->wrapup_deadline_ms =
		    uv_now(agents->loop) + (uint64_t)wrapup_s * 1000;
	}
	if (next == ACD_AGENT_AVAILABLE || next == ACD_AGENT_OFFLINE ||
	    next == ACD_AGENT_PAUSED)
		agents_set_call(agent, NULL);
	log_info("agent=%lld %s --%s--> %s%s%s", (long long)agent->id,
		 acd_agent_state_name(from), agents_input_name(input),
		 acd_agent_state_name(acd->state),
		 agent->reason ? " reason=" : "",
		 agent->reason ? agent->reason : "");
	if (from != acd->state)
		persist(agents, agent, from, acd->state);
	if (from != acd->state && agents->transition)
		agents->transition(agent, from, acd->state, agent->reason,
				   agents->transition_data);
	if (acd->state == ACD_AGENT_AVAILABLE && agent->has_pending)
		apply_pending(agents, agent);
	else if (agents->changed)
		agents->changed(agent, agents->userdata);
	return acd->state;
}

void agents_set_transition_cb(struct agents *agents, agents_transition_cb cb,
			      void *userdata)
{
	agents->transition = cb;
	agents->transition_data = userdata;
}

enum acd_agent_state agents_state(const struct agents *agents,
				  const struct agent *agent)
{
	return agents->acd[agent->index].state;
}

bool agents_reachable(const struct agents *agents, const struct agent *agent)
{
	return agents->acd[agent->index].reachable;
}

int agents_request(struct agents *agents, struct agent *agent,
		   enum agents_input input, const char *reason)
{
	if (input != AGENTS_INPUT_LOGIN && input != AGENTS_INPUT_PAUSE &&
	    input != AGENTS_INPUT_LOGOUT)
		return -EINVAL;
	if (agents_state_busy(agents->acd[agent->index].state)) {
		agent->has_pending = true;
		agent->pending = input;
		set_str(&agent->pending_reason, reason);
		log_info("agent=%lld %s deferred until the call ends",
			 (long long)agent->id, agents_input_name(input));
		return 1;
	}
	agent->has_pending = false;
	return agents_input(agents, agent, input, reason, 0) < 0 ? -EINVAL : 0;
}

struct agent *agents_by_id(const struct agents *agents, int64_t id)
{
	char key[24];

	snprintf(key, sizeof(key), "%lld", (long long)id);
	return strmap_get(agents->by_id, key);
}

struct agent *agents_by_sip(const struct agents *agents, const char *username)
{
	return username ? strmap_get(agents->by_sip, username) : NULL;
}

struct agent *agents_at(const struct agents *agents, uint32_t index)
{
	return index < agents->count ? agents->list[index] : NULL;
}

const struct acd_agent *agents_acd(const struct agents *agents,
				   uint32_t *ret_count)
{
	*ret_count = agents->count;
	return agents->acd;
}

/* One sip_peers.status write: at most one per agent is in flight, so that
 * they commit in order; what changed meanwhile goes when it ends. */
struct status_write {
	struct agents *agents;
	struct agent *agent;
	bool registered;
};

static const char status_sql[] =
    "UPDATE sip_peers SET status = $2, last_registered = CASE WHEN"
    " $2 = 'registered' THEN now() ELSE last_registered END"
    " WHERE agent_id = $1 AND status <> $2";

static void store_status(struct agents *agents, struct agent *agent);

static void on_status_stored(int error, const PGresult *res, void *userdata)
{
	struct status_write *w = userdata;
	struct agents *agents = w->agents;

	agents->status_writes--;
	w->agent->status_writing = false;
	/* A failed write is not retried: the next change writes again. */
	w->agent->status_stored = w->registered;
	if (error < 0 && error != -ECANCELED)
		log_warning("agent=%lld phone status not stored error=%s %s, "
			    "ignoring",
			    (long long)w->agent->id, strerror(-error),
			    res ? PQresultErrorMessage(res) : "");
	if (!agents->closed && error == 0)
		store_status(agents, w->agent);
	free(w);
	free_if_idle(agents);
}

/* sip_peers.status and last_registered follow the phone, best effort and in
 * the background; not before ARI told the state of every endpoint once, so
 * that a start does not mark every phone offline for a moment. */
static void store_status(struct agents *agents, struct agent *agent)
{
	bool registered = agents->acd[agent->index].reachable;
	struct status_write *w;
	const char *params[2];
	char id[24];

	if (!agents->db || !agents->phones_synced || agent->status_writing ||
	    agent->gone || !agent->sip_username ||
	    agent->status_stored == registered)
		return;
	w = malloc(sizeof(*w));
	if (!w)
		return;
	*w = (struct status_write){agents, agent, registered};
	snprintf(id, sizeof(id), "%lld", (long long)agent->id);
	params[0] = id;
	params[1] = registered ? "registered" : "offline";
	if (db_pool_query(agents->db, status_sql, 2, params, on_status_stored,
			  w) < 0) {
		free(w);
		return;
	}
	agent->status_writing = true;
	agents->status_writes++;
}

/* The agent's reachable flag from what the sources say and any hold. */
static void sync_reachable(struct agents *agents, struct agent *agent)
{
	struct acd_agent *acd = &agents->acd[agent->index];
	bool want =
	    !agent->gone && agent->unavail_until_ms == 0 &&
	    agents_presence_online(agents->presence, agent->sip_username);

	if (acd->reachable == want)
		return;
	acd->reachable = want;
	log_info("agent=%lld phone=%s %s", (long long)agent->id,
		 agent->sip_username ? agent->sip_username : "",
		 want ? "reachable" : "unreachable");
	store_status(agents, agent);
	if (agents->changed)
		agents->changed(agent, agents->userdata);
}

static void on_phone_changed(const char *username, bool online, void *userdata)
{
	struct agents *agents = userdata;
	struct agent *agent = agents_by_sip(agents, username);

	(void)online;
	if (agent)
		sync_reachable(agents, agent);
}

void agents_phone_state(struct agents *agents, const char *username,
			unsigned source, bool online)
{
	int r = agents_presence_set(agents->presence, username, source, online);

	if (r < 0)
		log_warning("phone=%s state not kept error=%s, ignoring",
			    username, strerror(-r));
	else if (r > 0)
		on_phone_changed(username, online, agents);
}

int agents_phone_endpoint(struct agents *agents,
			  const struct agents_endpoint *endpoint)
{
	const char *username = NULL;
	int r = agents_presence_endpoint(agents->presence, endpoint, &username);

	if (r > 0)
		on_phone_changed(username, true, agents);
	else if (r == -E2BIG || r == -ENOMEM)
		log_warning("phone=%s state not kept error=%s, ignoring",
			    username, strerror(-r));
	return r == -EINVAL ? r : 0;
}

void agents_phones_synced(struct agents *agents)
{
	agents->phones_synced = true;
	for (uint32_t i = 0; i < agents->count; i++)
		store_status(agents, agents->list[i]);
}

void agents_set_reachable(struct agents *agents, const char *username,
			  bool reachable)
{
	struct agent *agent = agents_by_sip(agents, username);

	if (!agent)
		return;
	if (reachable) {
		agent->unavail_until_ms = 0;
		agents_phone_state(agents, username, AGENTS_PRESENCE_ARI, true);
	} else {
		agent->unavail_until_ms =
		    uv_now(agents->loop) + AGENTS_UNAVAIL_HOLD_MS;
	}
	sync_reachable(agents, agent);
}

int agents_set_skill(struct agents *agents, struct agent *agent, uint16_t skill,
		     uint8_t level)
{
	struct acd_agent *acd = &agents->acd[agent->index];

	for (uint8_t i = 0; i < acd->nskills; i++) {
		if (acd->skills[i].id == skill) {
			if (acd->skills[i].level < level)
				acd->skills[i].level = level;
			return 0;
		}
	}
	if (acd->nskills == ACD_MAX_SKILLS)
		return -ENOSPC;
	acd->skills[acd->nskills++] = (struct acd_skill){skill, level};
	return 0;
}

void agents_set_call(struct agent *agent, const char *call_id)
{
	set_str(&agent->call_id, call_id);
}

static int grow(struct agents *agents)
{
	uint32_t cap = agents->capacity ? agents->capacity * 2 : 64;
	struct agent **list;
	struct acd_agent *acd;

	if (cap > AGENTS_MAX)
		return -E2BIG;
	list = realloc(agents->list, cap * sizeof(*list));
	if (!list)
		return -ENOMEM;
	agents->list = list;
	acd = realloc(agents->acd, cap * sizeof(*acd));
	if (!acd)
		return -ENOMEM;
	agents->acd = acd;
	agents->capacity = cap;
	return 0;
}

/* A state stored by an earlier process: calls do not survive in memory, so
 * an agent that was ringing or talking starts available (or in wrap-up),
 * and resync reconciles what is left in Asterisk. */
static enum acd_agent_state restored_state(const char *name)
{
	enum acd_agent_state state = ACD_AGENT_OFFLINE;

	if (acd_agent_state_parse(name, &state) < 0)
		return ACD_AGENT_OFFLINE;
	if (state == ACD_AGENT_RINGING || state == ACD_AGENT_IN_CALL ||
	    state == ACD_AGENT_AFTER_CALL_WORK)
		return ACD_AGENT_AVAILABLE;
	return state;
}

/* A phone already registered when its agent is loaded: no callback (the
 * load's end offers waiting calls anyway), but the same log line. */
static void load_reachable(struct agents *agents, struct agent *agent)
{
	struct acd_agent *acd = &agents->acd[agent->index];

	acd->reachable =
	    agents_presence_online(agents->presence, agent->sip_username);
	if (acd->reachable)
		log_info("agent=%lld phone=%s reachable", (long long)agent->id,
			 agent->sip_username);
}

static bool is_true(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	       strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static int add_row(struct agents *agents, const PGresult *res, int row)
{
	int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	const char *sip =
	    PQgetisnull(res, row, 5) ? NULL : PQgetvalue(res, row, 5);
	struct agent *agent = agents_by_id(agents, id);
	struct acd_agent *acd;
	enum acd_agent_state stored;
	char key[24];
	int r;

	if (agent) {
		agent->generation = agents->generation;
		if (strcmp(agent->name, PQgetvalue(res, row, 1)) != 0)
			set_str(&agent->name, PQgetvalue(res, row, 1));
		if (sip && !agents_by_sip(agents, sip) &&
		    !agent->sip_username) {
			set_str(&agent->sip_username, sip);
			strmap_put(agents->by_sip, sip, agent);
			load_reachable(agents, agent);
		}
		if (!agent->status_writing)
			agent->status_stored = is_true(res, row, 6);
		return 0;
	}
	if (agents->count == agents->capacity && (r = grow(agents)) < 0)
		return r;
	agent = calloc(1, sizeof(*agent));
	if (!agent)
		return -ENOMEM;
	snprintf(key, sizeof(key), "%lld", (long long)id);
	if (strmap_put(agents->by_id, key, agent) < 0) {
		free(agent);
		return -ENOMEM;
	}
	agent->id = id;
	agent->generation = agents->generation;
	agent->index = agents->count;
	agent->name = strdup(PQgetvalue(res, row, 1));
	agent->sip_username = sip ? strdup(sip) : NULL;
	agent->status_stored = is_true(res, row, 6);
	if (!PQgetisnull(res, row, 3))
		agent->reason = strdup(PQgetvalue(res, row, 3));
	acd = &agents->acd[agents->count];
	memset(acd, 0, sizeof(*acd));
	acd->id = id;
	acd->state = restored_state(PQgetvalue(res, row, 2));
	acd->state_since_us = strtoll(PQgetvalue(res, row, 4), NULL, 10);
	agents->list[agents->count++] = agent;
	load_reachable(agents, agent);
	/* A call state of an earlier process: the database says so too. */
	if (strcmp(PQgetvalue(res, row, 2), acd_agent_state_name(acd->state)) &&
	    acd_agent_state_parse(PQgetvalue(res, row, 2), &stored) == 0) {
		log_notice("agent=%lld was %s in an earlier process: now %s",
			   (long long)id, acd_agent_state_name(stored),
			   acd_agent_state_name(acd->state));
		acd->state_since_us = cdr_now_us();
		persist(agents, agent, stored, acd->state);
	}
	if (sip)
		strmap_put(agents->by_sip, sip, agent);
	return 0;
}

struct load {
	struct agents *agents;
	void (*cb)(int error, void *userdata);
	void *userdata;
};

/* An agent deleted from the database leaves the registry's maps and goes
 * offline; its slot stays (indexes are stable) but nothing finds it. A
 * call it is on ends normally. */
static void drop_gone(struct agents *agents)
{
	char key[24];

	for (uint32_t i = 0; i < agents->count; i++) {
		struct agent *agent = agents->list[i];

		if (agent->gone || agent->generation == agents->generation)
			continue;
		agent->gone = true;
		snprintf(key, sizeof(key), "%lld", (long long)agent->id);
		strmap_remove(agents->by_id, key);
		if (agent->sip_username &&
		    agents_by_sip(agents, agent->sip_username) == agent)
			strmap_remove(agents->by_sip, agent->sip_username);
		agents->acd[i].state = ACD_AGENT_OFFLINE;
		agents->acd[i].reachable = false;
		log_notice("agent id=%lld deleted: dropped",
			   (long long)agent->id);
	}
}

static void on_loaded(int error, const PGresult *res, void *userdata)
{
	struct load *load = userdata;
	struct agents *agents = load->agents;
	int r = error;

	agents->loads--;
	if (agents->closed) {
		load->cb(-ECANCELED, load->userdata);
		free(load);
		free_if_idle(agents);
		return;
	}
	load->agents->generation++;
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = add_row(load->agents, res, i);
	if (r == 0 && PQntuples(res) < AGENTS_MAX)
		drop_gone(load->agents);
	if (r == 0) {
		log_info("agents loaded count=%u", load->agents->count);
		for (uint32_t i = 0; i < agents->count; i++)
			store_status(agents, agents->list[i]);
		read_contacts(agents);
	}
	load->cb(r, load->userdata);
	free(load);
}

static int query_load(struct load *load)
{
	int r =
	    db_pool_query(load->agents->db, load_sql, 0, NULL, on_loaded, load);

	if (r == 0)
		load->agents->loads++;
	return r;
}

/* The first load waited for the journal of an earlier process. */
static void on_replayed(int error, void *userdata)
{
	struct load *load = userdata;
	struct agents *agents = load->agents;
	int r = error;

	agents->loads--;
	if (r == 0 && !agents->closed)
		r = query_load(load);
	if (r == 0)
		return;
	load->cb(agents->closed ? -ECANCELED : r, load->userdata);
	free(load);
	free_if_idle(agents);
}

int agents_load(struct agents *agents, void (*cb)(int error, void *userdata),
		void *userdata)
{
	struct load *load;
	int r;

	if (!agents->db)
		return -ENOTCONN;
	load = malloc(sizeof(*load));
	if (!load)
		return -ENOMEM;
	*load = (struct load){agents, cb, userdata};
	/* States that an earlier process journaled while the database was
	 * away are newer than the stored ones: the first load reads them
	 * only once they are replayed. */
	if (agents->generation == 0 && agents->writer) {
		agents->loads++;
		r = cdr_writer_replayed(agents->writer, on_replayed, load);
		if (r == 0)
			return 0;
		agents->loads--;
	}
	r = query_load(load);
	if (r < 0)
		free(load);
	return r;
}

/* Asterisk's realtime contacts (ps_contacts, when sorcery.conf keeps them
 * there) are the one store ARI says nothing about (see presence.h): they
 * are read after each load of the agents, and again for one endpoint when
 * its trigger (migration 0009) notifies welcomedly_contacts. A contact
 * that expires without a REGISTER leaves the table at Asterisk's next
 * contact_expiration_check_interval. */
static const char contacts_sql[] =
    "SELECT DISTINCT endpoint FROM ps_contacts WHERE endpoint IS NOT NULL"
    " AND expiration_time > extract(epoch FROM now())";

static const char contact_sql[] =
    "SELECT 1 FROM ps_contacts WHERE endpoint = $1"
    " AND expiration_time > extract(epoch FROM now()) LIMIT 1";

/* Contacts in ps_contacts: Asterisk keeps every endpoint's there, and its
 * endpoint state over ARI is stale for all of them (see presence.h). */
static void trust_contacts(struct agents *agents)
{
	if (agents_contacts_trusted(agents))
		return;
	log_notice("registrations are in ps_contacts: reachability follows "
		   "them, not ARI's endpoint state");
	agents_presence_trust(agents->presence, AGENTS_PRESENCE_CONTACTS,
			      on_phone_changed, agents);
}

bool agents_contacts_trusted(const struct agents *agents)
{
	return agents_presence_trusted(agents->presence) ==
	       AGENTS_PRESENCE_CONTACTS;
}

static void on_contacts(int error, const PGresult *res, void *userdata)
{
	struct agents *agents = userdata;
	const char **names = NULL;
	int n = error == 0 ? PQntuples(res) : 0;

	agents->loads--;
	if (error == 0 && !agents->closed &&
	    (names = calloc((size_t)n + 1, sizeof(*names)))) {
		for (int i = 0; i < n; i++)
			names[i] = PQgetvalue(res, i, 0);
		if (n > 0)
			trust_contacts(agents);
		if (agents_presence_replace(
			agents->presence, AGENTS_PRESENCE_CONTACTS, names,
			(size_t)n, on_phone_changed, agents) < 0)
			log_warning("contacts not read: out of memory, "
				    "ignoring");
		free(names);
	} else if (error < 0 && error != -ECANCELED) {
		log_warning("contacts not read error=%s, ignoring",
			    strerror(-error));
	}
	free_if_idle(agents);
}

static void read_contacts(struct agents *agents)
{
	if (db_pool_query(agents->db, contacts_sql, 0, NULL, on_contacts,
			  agents) == 0)
		agents->loads++;
}

struct contact_read {
	struct agents *agents;
	char endpoint[];
};

static void on_contact(int error, const PGresult *res, void *userdata)
{
	struct contact_read *c = userdata;
	struct agents *agents = c->agents;

	agents->loads--;
	if (error == 0 && !agents->closed && PQntuples(res) > 0)
		trust_contacts(agents);
	if (error == 0 && !agents->closed)
		agents_phone_state(agents, c->endpoint,
				   AGENTS_PRESENCE_CONTACTS,
				   PQntuples(res) > 0);
	else if (error < 0 && error != -ECANCELED)
		log_warning("phone=%s contacts not read error=%s, ignoring",
			    c->endpoint, strerror(-error));
	free(c);
	free_if_idle(agents);
}

void agents_contacts_changed(struct agents *agents, const char *endpoint)
{
	size_t len = strlen(endpoint);
	struct contact_read *c;
	const char *params[1] = {endpoint};

	if (!agents->db || len == 0 || len > 255)
		return;
	c = malloc(sizeof(*c) + len + 1);
	if (!c)
		return;
	c->agents = agents;
	memcpy(c->endpoint, endpoint, len + 1);
	if (db_pool_query(agents->db, contact_sql, 1, params, on_contact, c) <
	    0) {
		free(c);
		return;
	}
	agents->loads++;
}

/* Ends wrap-up times, and holds on phones a dial found unavailable. */
static void sweep(uv_timer_t *timer)
{
	struct agents *agents = timer->data;
	uint64_t now = uv_now(agents->loop);

	for (uint32_t i = 0; i < agents->count; i++) {
		struct agent *agent = agents->list[i];
		if (agents->acd[i].state == ACD_AGENT_AFTER_CALL_WORK &&
		    agent->wrapup_deadline_ms <= now)
			agents_input(agents, agent, AGENTS_INPUT_WRAPUP_DONE,
				     NULL, 0);
		if (agent->unavail_until_ms && agent->unavail_until_ms <= now) {
			agent->unavail_until_ms = 0;
			sync_reachable(agents, agent);
		}
	}
}

int agents_new(uv_loop_t *loop, struct db_pool *db, agents_changed_cb changed,
	       void *userdata, struct agents **ret_agents)
{
	struct agents *agents = calloc(1, sizeof(*agents));

	if (!agents)
		return -ENOMEM;
	agents->by_sip = strmap_new();
	agents->by_id = strmap_new();
	if (!agents->by_sip || !agents->by_id ||
	    agents_presence_new(&agents->presence) < 0) {
		strmap_free(agents->by_sip);
		strmap_free(agents->by_id);
		free(agents);
		return -ENOMEM;
	}
	agents->loop = loop;
	agents->db = db;
	agents->changed = changed;
	agents->userdata = userdata;
	uv_timer_init(loop, &agents->sweep);
	agents->sweep.data = agents;
	uv_timer_start(&agents->sweep, sweep, AGENTS_SWEEP_MS, AGENTS_SWEEP_MS);
	*ret_agents = agents;
	return 0;
}

void agents_set_writer(struct agents *agents, struct cdr_writer *writer)
{
	agents->writer = writer;
}

static void free_agents(struct agents *agents)
{
	for (uint32_t i = 0; i < agents->count; i++) {
		struct agent *agent = agents->list[i];
		free(agent->name);
		free(agent->sip_username);
		free(agent->reason);
		free(agent->call_id);
		free(agent->pending_reason);
		free(agent);
	}
	free(agents->list);
	free(agents->acd);
	strmap_free(agents->by_sip);
	strmap_free(agents->by_id);
	agents_presence_free(agents->presence);
	free(agents);
}

static void on_sweep_closed(uv_handle_t *handle)
{
	struct agents *agents = handle->data;

	/* Loads and status writes still in flight keep the registry until
	 * they end (the pool cancels them when it closes). */
	agents->closed = true;
	free_if_idle(agents);
}

void agents_close(struct agents *agents)
{
	if (!agents)
		return;
	uv_close((uv_handle_t *)&agents->sweep, on_sweep_closed);
}
