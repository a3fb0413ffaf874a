-- 0011_routing_decision_seq.sql: routing decisions written through the
-- daemon's journal.
--
-- A decision is now written like agent states and queue entries: in the
-- statement that carries the rest of its turn, and into the journal while
-- the database is away, replayed when it returns or at the next start. A
-- replay may come after the row was stored; the decision's sequence number
-- (given by the writer, above every earlier one) keys it. Rows stored
-- before have none and are left as they are.
ALTER TABLE routing_decisions ADD COLUMN seq bigint;
CREATE UNIQUE INDEX routing_decisions_call_seq_idx
    ON routing_decisions (call_id, seq);
-- The new index starts with call_id: it serves the lookups of the old one.
DROP INDEX routing_decisions_call_id_idx;
