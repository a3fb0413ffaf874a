-- 0001_core.sql: the contact-center schema: agents, campaigns, leads, the
-- call records (calls) and what hangs off them.
--
-- lib/db/migrate.c runs this file as one transaction together with its
-- schema_migrations row, so it holds no BEGIN/COMMIT. Asterisk's own ps_*
-- tables come in 0002_pjsip_realtime.sql.

-- Keeps updated_at honest whoever writes the row: application code, a
-- journal replay or a person in psql.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE agents (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    -- The user id in the CRM that owns this agent; NULL for local agents.
    external_user_id text UNIQUE,
    state text NOT NULL DEFAULT 'offline'
        CHECK (state IN ('offline', 'available', 'ringing', 'in_call',
                         'after_call_work', 'paused')),
    state_reason text,
    state_since timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    -- The names of Asterisk's queue strategies, plus longest_idle.
    strategy text NOT NULL DEFAULT 'rrmemory'
        CHECK (strategy IN ('ringall', 'leastrecent', 'fewestcalls', 'random',
                            'rrmemory', 'linear', 'wrandom', 'longest_idle')),
    -- Seconds an agent's phone rings before the next agent is tried.
    ring_timeout int NOT NULL DEFAULT 30 CHECK (ring_timeout > 0),
    -- Seconds between two rounds of ringing agents.
    retry_delay int NOT NULL DEFAULT 5 CHECK (retry_delay >= 0),
    max_queue_length int NOT NULL DEFAULT 100 CHECK (max_queue_length >= 0),
    -- Seconds of after-call work before an agent is offered calls again.
    wrapup_time int NOT NULL DEFAULT 15 CHECK (wrapup_time >= 0),
    -- Seconds between position announcements to a waiting caller; 0: none.
    announce_frequency int NOT NULL DEFAULT 90
        CHECK (announce_frequency >= 0),
    moh_class text NOT NULL DEFAULT 'default',
    -- How an outbound number becomes a dial string: {number} is replaced.
    dial_template text NOT NULL DEFAULT 'PJSIP/{number}@trunk',
    caller_id text,
    -- Outbound numbers must start with one of these; empty allows any.
    allowed_prefixes text[] NOT NULL DEFAULT '{}',
    -- Seconds a caller may wait in the queue; NULL: no limit.
    max_wait_time int CHECK (max_wait_time > 0),
    -- What happens to a caller when no agent is logged in. 'overflow'
    -- with no overflow campaign (or after it was deleted) hangs up.
    no_agents_action text NOT NULL DEFAULT 'hangup'
        CHECK (no_agents_action IN ('hangup', 'overflow')),
    overflow_campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    -- Calls answered within this many seconds count as within service level.
    service_level_seconds int NOT NULL DEFAULT 20
        CHECK (service_level_seconds > 0),
    -- Unanswered offers in a row after which an agent is paused.
    max_no_answer int NOT NULL DEFAULT 3 CHECK (max_no_answer >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (overflow_campaign_id IS DISTINCT FROM id)
);

CREATE TABLE campaign_agents (
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    -- Lower penalties are offered calls first, as in Asterisk's queues.
    penalty int NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    skills jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (campaign_id, agent_id)
);
-- The primary key serves lookups by campaign; this one serves by agent.
CREATE INDEX campaign_agents_agent_id_idx ON campaign_agents (agent_id);

CREATE TABLE leads (
    id bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone text NOT NULL,
    name text,
    data jsonb NOT NULL DEFAULT '{}',
    -- Left open: each campaign's dispositions decide the statuses past
    -- 'new'.
    status text NOT NULL DEFAULT 'new',
    attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_call_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The dialer's question: which leads of this campaign, in this status, are
-- due now.
CREATE INDEX leads_campaign_status_next_idx
    ON leads (campaign_id, status, next_call_at);

CREATE TABLE dids (
    number text PRIMARY KEY,
    -- NULL: the number is owned but routes nowhere (kept, not deleted, when
    -- its campaign goes).
    campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dids_campaign_id_idx ON dids (campaign_id);

CREATE TABLE dispositions (
    id bigserial PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    code text NOT NULL,
    label text NOT NULL,
    is_sale boolean NOT NULL DEFAULT false,
    is_callback boolean NOT NULL DEFAULT false,
    is_do_not_call boolean NOT NULL DEFAULT false,
    -- The lead is finished: the dialer never calls it again.
    is_final boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, code)
);

-- The call detail records. Agents, campaigns and leads may be deleted; the
-- record of the call stays with a NULL reference.
CREATE TABLE calls (
    id bigserial PRIMARY KEY,
    call_id text NOT NULL UNIQUE,
    agent_id bigint REFERENCES agents (id) ON DELETE SET NULL,
    campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    lead_id bigint REFERENCES leads (id) ON DELETE SET NULL,
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    caller_number text,
    callee_number text,
    start_time timestamptz NOT NULL DEFAULT now(),
    answer_time timestamptz,
    end_time timestamptz,
    -- Seconds from start to end, and from answer to end, as in Asterisk's
    -- CDR.
    duration int NOT NULL DEFAULT 0 CHECK (duration >= 0),
    billsec int NOT NULL DEFAULT 0 CHECK (billsec >= 0),
    -- NULL while the call is up.
    disposition text
        CHECK (disposition IN ('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED')),
    recording_url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Seconds the caller waited in the queue before an agent answered or
    -- the caller gave up.
    queue_wait_seconds int CHECK (queue_wait_seconds >= 0),
    -- The caller hung up while queued, before any agent answered.
    abandoned boolean NOT NULL DEFAULT false,
    -- Q.850 cause code and its text, as ARI reports them on hangup.
    hangup_cause int,
    hangup_cause_text text,
    hangup_by text CHECK (hangup_by IN ('caller', 'agent', 'system')),
    caller_channel_id text,
    agent_channel_id text,
    bridge_id text,
    revision bigint NOT NULL DEFAULT 0,
    CHECK (billsec <= duration),
    CHECK (answer_time >= start_time),
    CHECK (end_time >= start_time)
);
CREATE INDEX calls_agent_id_idx ON calls (agent_id);
CREATE INDEX calls_campaign_id_idx ON calls (campaign_id);
CREATE INDEX calls_start_time_idx ON calls (start_time);
-- Lets ON DELETE SET NULL find a deleted lead's calls without a scan.
CREATE INDEX calls_lead_id_idx ON calls (lead_id);
COMMENT ON COLUMN calls.revision IS
    'Revision of the last snapshot of the call applied to this row: the '
    'wall-clock microsecond the daemon took it, strictly increasing per call '
    'even across restarts. Snapshots reach this table through batches and, '
    'while the database is away or after a crash, through a local journal '
    'replayed later, so one can arrive twice or after a newer one. Writers '
    'update only WHERE revision < the snapshot''s revision: replay is '
    'idempotent and an old snapshot never overwrites a newer one.';

CREATE TABLE sip_peers (
    id bigserial PRIMARY KEY,
    agent_id bigint NOT NULL UNIQUE REFERENCES agents (id) ON DELETE CASCADE,
    sip_username text NOT NULL UNIQUE,
    sip_password text NOT NULL,
    sip_server text NOT NULL,
    websocket_url text,
    status text NOT NULL DEFAULT 'offline'
        CHECK (status IN ('offline', 'online', 'registered')),
    last_registered timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- An append-only history of agent states, for reports and audits.
CREATE TABLE agent_state_events (
    id bigserial PRIMARY KEY,
    agent_id bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    -- NULL for the first state an agent ever had.
    from_state text
        CHECK (from_state IN ('offline', 'available', 'ringing', 'in_call',
                              'after_call_work', 'paused')),
    to_state text NOT NULL
        CHECK (to_state IN ('offline', 'available', 'ringing', 'in_call',
                            'after_call_work', 'paused')),
    reason text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_state_events_agent_id_at_idx
    ON agent_state_events (agent_id, at);

-- Callers waiting now, so that a restarted daemon knows who was queued.
-- call_id has no foreign key: the calls row is written through the journal
-- and may land later than the queue entry.
CREATE TABLE queue_entries (
    call_id text PRIMARY KEY,
    campaign_id bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    -- Higher priorities are answered first; equal ones by joined_at.
    priority int NOT NULL DEFAULT 0,
    caller_number text,
    channel_id text
);
CREATE INDEX queue_entries_campaign_order_idx
    ON queue_entries (campaign_id, priority DESC, joined_at);

CREATE TABLE do_not_call (
    number text PRIMARY KEY,
    added_at timestamptz NOT NULL DEFAULT now(),
    reason text
);

-- Tokens are stored hashed: a leaked table grants nothing.
CREATE TABLE api_tokens (
    id bigserial PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    agent_id bigint REFERENCES agents (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    -- An agent token acts for one agent and must name it.
    CHECK (role <> 'agent' OR agent_id IS NOT NULL)
);

CREATE TRIGGER agents_set_updated_at BEFORE UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER campaigns_set_updated_at BEFORE UPDATE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER leads_set_updated_at BEFORE UPDATE ON leads
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER calls_set_updated_at BEFORE UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
