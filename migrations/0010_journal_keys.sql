-- 0010_journal_keys.sql: keys that make journaled writes idempotent.
--
-- Agent states and state events are written through the daemon's journal
-- while the database is away, and replayed when it returns or at the next
-- start; a record may be replayed after it was stored. Each change carries
-- a sequence number: the history keeps one row per (agent, seq), and an
-- agent's row only takes a change newer than the one it holds.
ALTER TABLE agents ADD COLUMN state_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE agent_state_events ADD COLUMN seq bigint;
CREATE UNIQUE INDEX agent_state_events_agent_seq_idx
    ON agent_state_events (agent_id, seq);
