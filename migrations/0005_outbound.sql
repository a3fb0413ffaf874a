-- 0005_outbound.sql: outbound calls, their numbering plans and
-- dispositions.

-- How a campaign's people write their numbers (its national numbering
-- plan), and what its outbound calls may reach. The defaults are the North
-- American plan: +1, trunk prefix 1, international prefix 011, ten-digit
-- national numbers, home country only, no premium-rate numbers.
ALTER TABLE campaigns
    ADD COLUMN country_code text NOT NULL DEFAULT '1'
        CHECK (country_code ~ '^[1-9][0-9]{0,2}$'),
    ADD COLUMN trunk_prefix text NOT NULL DEFAULT '1'
        CHECK (trunk_prefix ~ '^[0-9]{0,4}$'),
    ADD COLUMN intl_prefix text NOT NULL DEFAULT '011'
        CHECK (intl_prefix ~ '^[0-9]{1,4}$'),
    ADD COLUMN national_min int NOT NULL DEFAULT 10
        CHECK (national_min BETWEEN 4 AND 14),
    ADD COLUMN national_max int NOT NULL DEFAULT 10
        CHECK (national_max BETWEEN 4 AND 14),
    ADD COLUMN allow_international boolean NOT NULL DEFAULT false,
    ADD COLUMN allow_premium boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT campaigns_national_range CHECK (national_min <= national_max);

-- The agent's disposition of a call, written once by
-- POST /api/v1/calls/{id}/disposition. The CDR writer never touches these
-- columns, so a late CDR snapshot cannot erase a disposition.
ALTER TABLE calls
    ADD COLUMN disposition_code text,
    ADD COLUMN disposition_notes text,
    ADD COLUMN disposition_at timestamptz,
    ADD COLUMN callback_at timestamptz;

CREATE INDEX leads_campaign_id_id_idx ON leads (campaign_id, id);
