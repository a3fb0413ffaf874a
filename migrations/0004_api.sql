-- 0004_api.sql: what the admin API needs from the database.
--
-- Writers of configuration (the API, psql, a CRM sync) need not tell the
-- daemon: these triggers do. welcomedly_config makes it reload agents,
-- campaigns, members and numbers; welcomedly_tokens its token cache. Agent
-- state updates (state, state_reason, state_since) are the daemon's own
-- and do not fire.

CREATE FUNCTION notify_config() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('welcomedly_config', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE FUNCTION notify_tokens() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('welcomedly_tokens', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER campaigns_notify AFTER INSERT OR UPDATE OR DELETE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config();
CREATE TRIGGER campaign_agents_notify
    AFTER INSERT OR UPDATE OR DELETE ON campaign_agents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config();
CREATE TRIGGER dids_notify AFTER INSERT OR UPDATE OR DELETE ON dids
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config();
CREATE TRIGGER agents_notify
    AFTER INSERT OR DELETE OR UPDATE OF name, external_user_id ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config();
CREATE TRIGGER sip_peers_notify
    AFTER INSERT OR DELETE OR UPDATE OF sip_username ON sip_peers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_config();
CREATE TRIGGER api_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tokens();
