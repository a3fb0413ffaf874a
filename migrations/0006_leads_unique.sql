-- 0006_leads_unique.sql: one lead per number in a campaign, so that
-- importing the same list twice does not dial the same people twice.

-- Earlier imports may have left duplicates. The oldest lead of each number
-- is kept (it carries the longest history); the calls of the others are
-- moved to it first, so that no CDR loses its lead.
UPDATE calls c SET lead_id = d.keep
FROM (SELECT id, min(id) OVER (PARTITION BY campaign_id, phone) AS keep
      FROM leads) d
WHERE c.lead_id = d.id AND d.id <> d.keep;

DELETE FROM leads l
WHERE EXISTS (SELECT 1 FROM leads o
              WHERE o.campaign_id = l.campaign_id AND o.phone = l.phone
                AND o.id < l.id);

CREATE UNIQUE INDEX leads_campaign_id_phone_key ON leads (campaign_id, phone);
