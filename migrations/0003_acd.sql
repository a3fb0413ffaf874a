-- What the dispatcher needs beyond the designed campaign settings.

-- Skills a campaign's callers need, as {"skill": minimum level 0..10}. While
-- a caller waits, every minimum drops by one each skill_relax_seconds, so
-- that a caller is never stranded waiting for a perfect match.
ALTER TABLE campaigns
    ADD COLUMN skill_requirements jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(skill_requirements) = 'object'),
    ADD COLUMN skill_relax_seconds int NOT NULL DEFAULT 30
        CHECK (skill_relax_seconds >= 0);

-- Skills of a member, as {"skill": level 0..10}.
ALTER TABLE campaign_agents
    ADD CONSTRAINT campaign_agents_skills_object
        CHECK (jsonb_typeof(skills) = 'object');

-- Every decision the dispatcher makes about a caller: who was considered,
-- who was chosen, and why each other member was skipped.
CREATE TABLE routing_decisions (
    id bigserial PRIMARY KEY,
    call_id text NOT NULL,
    campaign_id bigint REFERENCES campaigns (id) ON DELETE SET NULL,
    at timestamptz NOT NULL DEFAULT now(),
    strategy text NOT NULL,
    chosen bigint[] NOT NULL DEFAULT '{}',
    candidates jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX routing_decisions_call_id_idx ON routing_decisions (call_id);
