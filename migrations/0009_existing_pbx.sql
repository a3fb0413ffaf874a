-- 0009_existing_pbx.sql: phones the PBX already has, and registrations
-- pushed rather than polled.
--
-- An agent may use an endpoint that the PBX defines itself (pjsip.conf,
-- FreePBX): its sip_peers row then says provisioned = false, and nothing
-- writes realtime rows (ps_endpoints, ps_auths, ps_aors) for it.
--
-- Asterisk reports no endpoint state to ARI for phones whose contacts it
-- keeps in ps_contacts (realtime); this trigger tells welcomedlyd when a
-- registration comes or goes, so that it never polls the table. A refresh
-- (an UPDATE of expiration_time) changes nothing and is not notified.

ALTER TABLE sip_peers ADD COLUMN provisioned boolean NOT NULL DEFAULT true;

CREATE FUNCTION notify_contacts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('welcomedly_contacts', coalesce(OLD.endpoint, ''));
    ELSE
        PERFORM pg_notify('welcomedly_contacts', coalesce(NEW.endpoint, ''));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER ps_contacts_notify AFTER INSERT OR DELETE ON ps_contacts
    FOR EACH ROW EXECUTE FUNCTION notify_contacts();
