-- 0008_call_supervisions.sql: who listened to, whispered in or barged into
-- a call, in its CDR. One entry per supervision, in the order they began:
-- {supervisor_agent_id, mode (the last), modes (every mode used, in
-- order), started_at (the supervisor's phone rung), answered_at, ended_at}.

ALTER TABLE calls ADD COLUMN supervisions jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(supervisions) = 'array');
