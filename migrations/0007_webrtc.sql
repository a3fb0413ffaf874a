-- 0007_webrtc.sql: agents whose phone is a browser softphone (WebRTC).
--
-- sip_peers.webrtc says which kind an agent's phone is, and
-- welcomedly_set_phone() is the one place that writes the agent's PJSIP
-- endpoint for either kind, so that the daemon, the demo data and an
-- operator at psql make the same endpoint. Switching kinds keeps the
-- agent's id, history and campaigns: only the endpoint row changes, and
-- the registrations of the old phone go (they could not carry the new
-- kind of media).

ALTER TABLE sip_peers ADD COLUMN webrtc boolean NOT NULL DEFAULT false;

-- A browser endpoint: webrtc=yes (which sets ICE, AVPF, rtcp-mux, bundle
-- and DTLS-SRTP with fingerprint verification, actpass), a certificate
-- that Asterisk generates, opus first (codec_opus transcodes to the
-- trunk's ulaw/alaw), over the WebSocket transport. A SIP phone: UDP,
-- ulaw/alaw. Both: one registration at a time, the newest winning
-- (max_contacts and remove_existing live on the AOR).
CREATE FUNCTION welcomedly_set_phone(endpoint_id text, browser boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    was text;
    want text := CASE WHEN browser THEN 'yes' ELSE 'no' END;
BEGIN
    SELECT webrtc INTO was FROM ps_endpoints WHERE id = endpoint_id;
    INSERT INTO ps_endpoints (id, transport, aors, auth, context, disallow,
                              allow, direct_media, send_connected_line,
                              webrtc, dtls_auto_generate_cert)
    VALUES (endpoint_id,
            CASE WHEN browser THEN 'transport-ws' ELSE 'transport-udp' END,
            endpoint_id, endpoint_id, 'welcomedly-agents', 'all',
            CASE WHEN browser THEN 'opus,ulaw,alaw' ELSE 'ulaw,alaw' END,
            'no', 'no',
            want, CASE WHEN browser THEN 'yes' END)
    ON CONFLICT (id) DO UPDATE SET
        transport = excluded.transport, allow = excluded.allow,
        webrtc = excluded.webrtc,
        dtls_auto_generate_cert = excluded.dtls_auto_generate_cert;
    IF coalesce(was, 'no') <> want THEN
        DELETE FROM ps_contacts WHERE endpoint = endpoint_id;
    END IF;
    RETURN browser;
END;
$$;
