-- PJSIP realtime tables that Asterisk 22 reads through res_config_pgsql and
-- res_sorcery_realtime (asterisk-conf/realtime/sorcery.conf): agents'
-- endpoints, their digest credentials, their addresses of record, and the
-- contacts their phones REGISTER.
--
-- Columns, sizes and value sets follow Asterisk's own schema (the alembic
-- scripts in contrib/ast-db-manage, up to the rtp_port_start/rtp_port_end
-- revision), so rows can be written with Asterisk's documentation at hand.
-- Asterisk's PostgreSQL ENUM types become domains over varchar with the same
-- names and values: they reject the same bad values, but accept text
-- parameters from the controller without casts, and a later value is added by
-- replacing one CHECK rather than by ALTER TYPE. The one addition is 'digest'
-- in pjsip_auth_type_values_v2, the auth_type Asterisk 22 documents in place
-- of the deprecated 'userpass' and 'md5'.
--
-- Plain SQL with no transaction control: the migration runner applies it in
-- one transaction (by hand: psql -1 -f migrations/0002_pjsip_realtime.sql).
-- It depends on no other migration.

CREATE DOMAIN yesno_values AS varchar(3)
    CHECK (VALUE IN ('yes', 'no'));
CREATE DOMAIN ast_bool_values AS varchar(5)
    CHECK (VALUE IN ('0', '1', 'off', 'on', 'false', 'true', 'no', 'yes'));
CREATE DOMAIN pjsip_connected_line_method_values AS varchar(8)
    CHECK (VALUE IN ('invite', 'reinvite', 'update'));
CREATE DOMAIN pjsip_direct_media_glare_mitigation_values AS varchar(8)
    CHECK (VALUE IN ('none', 'outgoing', 'incoming'));
CREATE DOMAIN pjsip_dtmf_mode_values_v3 AS varchar(9)
    CHECK (VALUE IN ('rfc4733', 'inband', 'info', 'auto', 'auto_info'));
CREATE DOMAIN pjsip_timer_values AS varchar(8)
    CHECK (VALUE IN ('forced', 'no', 'required', 'yes'));
CREATE DOMAIN pjsip_cid_privacy_values AS varchar(23)
    CHECK (VALUE IN ('allowed_not_screened', 'allowed_passed_screened',
                     'allowed_failed_screened', 'allowed', 'prohib_not_screened',
                     'prohib_passed_screened', 'prohib_failed_screened', 'prohib',
                     'unavailable'));
CREATE DOMAIN pjsip_100rel_values_v2 AS varchar(14)
    CHECK (VALUE IN ('no', 'required', 'peer_supported', 'yes'));
CREATE DOMAIN pjsip_media_encryption_values AS varchar(4)
    CHECK (VALUE IN ('no', 'sdes', 'dtls'));
CREATE DOMAIN pjsip_t38udptl_ec_values AS varchar(10)
    CHECK (VALUE IN ('none', 'fec', 'redundancy'));
CREATE DOMAIN pjsip_dtls_setup_values AS varchar(7)
    CHECK (VALUE IN ('active', 'passive', 'actpass'));
CREATE DOMAIN pjsip_redirect_method_values AS varchar(9)
    CHECK (VALUE IN ('user', 'uri_core', 'uri_pjsip'));
CREATE DOMAIN sha_hash_values AS varchar(7)
    CHECK (VALUE IN ('SHA-1', 'SHA-256'));
CREATE DOMAIN pjsip_incoming_call_offer_pref_values AS varchar(12)
    CHECK (VALUE IN ('local', 'local_first', 'remote', 'remote_first'));
CREATE DOMAIN pjsip_outgoing_call_offer_pref_values AS varchar(12)
    CHECK (VALUE IN ('local', 'local_merge', 'local_first', 'remote', 'remote_merge',
                     'remote_first'));
CREATE DOMAIN security_negotiation_values AS varchar(8)
    CHECK (VALUE IN ('no', 'mediasec'));
CREATE DOMAIN pjsip_auth_type_values_v2 AS varchar(12)
    CHECK (VALUE IN ('md5', 'userpass', 'google_oauth', 'digest'));

-- One row per endpoint (an agent's phone or softphone). `aors` and `auth`
-- name rows of ps_aors and ps_auths; a NULL column takes Asterisk's default.
CREATE TABLE ps_endpoints (
    id varchar(40) NOT NULL,
    transport varchar(40),
    aors varchar(200),
    auth varchar(40),
    context varchar(40),
    disallow varchar(200),
    allow varchar(200),
    direct_media yesno_values,
    connected_line_method pjsip_connected_line_method_values,
    direct_media_method pjsip_connected_line_method_values,
    direct_media_glare_mitigation pjsip_direct_media_glare_mitigation_values,
    disable_direct_media_on_nat yesno_values,
    dtmf_mode pjsip_dtmf_mode_values_v3,
    external_media_address varchar(40),
    force_rport yesno_values,
    ice_support yesno_values,
    identify_by varchar(80),
    mailboxes varchar(40),
    moh_suggest varchar(40),
    outbound_auth varchar(40),
    outbound_proxy varchar(40),
    rewrite_contact yesno_values,
    rtp_ipv6 yesno_values,
    rtp_symmetric yesno_values,
    send_diversion yesno_values,
    send_pai yesno_values,
    send_rpid yesno_values,
    timers_min_se integer,
    timers pjsip_timer_values,
    timers_sess_expires integer,
    callerid varchar(40),
    callerid_privacy pjsip_cid_privacy_values,
    callerid_tag varchar(40),
    "100rel" pjsip_100rel_values_v2,
    aggregate_mwi yesno_values,
    trust_id_inbound yesno_values,
    trust_id_outbound yesno_values,
    use_ptime yesno_values,
    use_avpf yesno_values,
    media_encryption pjsip_media_encryption_values,
    inband_progress yesno_values,
    call_group varchar(40),
    pickup_group varchar(40),
    named_call_group varchar(40),
    named_pickup_group varchar(40),
    device_state_busy_at integer,
    fax_detect yesno_values,
    t38_udptl yesno_values,
    t38_udptl_ec pjsip_t38udptl_ec_values,
    t38_udptl_maxdatagram integer,
    t38_udptl_nat yesno_values,
    t38_udptl_ipv6 yesno_values,
    tone_zone varchar(40),
    language varchar(40),
    one_touch_recording yesno_values,
    record_on_feature varchar(40),
    record_off_feature varchar(40),
    rtp_engine varchar(40),
    allow_transfer yesno_values,
    allow_subscribe yesno_values,
    sdp_owner varchar(40),
    sdp_session varchar(40),
    tos_audio varchar(10),
    tos_video varchar(10),
    sub_min_expiry integer,
    from_domain varchar(40),
    from_user varchar(40),
    mwi_from_user varchar(40),
    dtls_verify varchar(40),
    dtls_rekey varchar(40),
    dtls_cert_file varchar(200),
    dtls_private_key varchar(200),
    dtls_cipher varchar(200),
    dtls_ca_file varchar(200),
    dtls_ca_path varchar(200),
    dtls_setup pjsip_dtls_setup_values,
    srtp_tag_32 yesno_values,
    media_address varchar(40),
    redirect_method pjsip_redirect_method_values,
    set_var text,
    cos_audio integer,
    cos_video integer,
    message_context varchar(40),
    force_avp yesno_values,
    media_use_received_transport yesno_values,
    accountcode varchar(80),
    user_eq_phone yesno_values,
    moh_passthrough yesno_values,
    media_encryption_optimistic yesno_values,
    rpid_immediate yesno_values,
    g726_non_standard yesno_values,
    rtp_keepalive integer,
    rtp_timeout integer,
    rtp_timeout_hold integer,
    bind_rtp_to_media_address yesno_values,
    voicemail_extension varchar(40),
    mwi_subscribe_replaces_unsolicited ast_bool_values,
    deny varchar(95),
    permit varchar(95),
    acl varchar(40),
    contact_deny varchar(95),
    contact_permit varchar(95),
    contact_acl varchar(40),
    subscribe_context varchar(40),
    fax_detect_timeout integer,
    contact_user varchar(80),
    preferred_codec_only yesno_values,
    asymmetric_rtp_codec yesno_values,
    rtcp_mux yesno_values,
    allow_overlap yesno_values,
    refer_blind_progress yesno_values,
    notify_early_inuse_ringing yesno_values,
    max_audio_streams integer,
    max_video_streams integer,
    webrtc yesno_values,
    dtls_fingerprint sha_hash_values,
    incoming_mwi_mailbox varchar(40),
    bundle yesno_values,
    dtls_auto_generate_cert yesno_values,
    follow_early_media_fork yesno_values,
    accept_multiple_sdp_answers yesno_values,
    suppress_q850_reason_headers yesno_values,
    trust_connected_line ast_bool_values,
    send_connected_line ast_bool_values,
    ignore_183_without_sdp ast_bool_values,
    codec_prefs_incoming_offer varchar(128),
    codec_prefs_outgoing_offer varchar(128),
    codec_prefs_incoming_answer varchar(128),
    codec_prefs_outgoing_answer varchar(128),
    stir_shaken ast_bool_values,
    send_history_info ast_bool_values,
    allow_unauthenticated_options ast_bool_values,
    t38_bind_udptl_to_media_address ast_bool_values,
    geoloc_incoming_call_profile varchar(80),
    geoloc_outgoing_call_profile varchar(80),
    incoming_call_offer_pref pjsip_incoming_call_offer_pref_values,
    outgoing_call_offer_pref pjsip_outgoing_call_offer_pref_values,
    stir_shaken_profile varchar(80),
    security_negotiation security_negotiation_values,
    security_mechanisms varchar(512),
    send_aoc ast_bool_values,
    overlap_context varchar(80),
    tenantid varchar(80),
    suppress_moh_on_sendonly ast_bool_values,
    follow_redirect_methods varchar(95),
    rtp_port_start integer,
    rtp_port_end integer,
    PRIMARY KEY (id)
);

-- Digest credentials. With auth_type 'digest' (or the older 'userpass'),
-- Asterisk challenges REGISTER and INVITE for `username` / `password`.
CREATE TABLE ps_auths (
    id varchar(40) NOT NULL,
    auth_type pjsip_auth_type_values_v2,
    nonce_lifetime integer,
    md5_cred varchar(40),
    password varchar(80),
    realm varchar(255),
    username varchar(40),
    refresh_token varchar(255),
    oauth_clientid varchar(255),
    oauth_secret varchar(255),
    password_digest varchar(1024),
    supported_algorithms_uas varchar(1024),
    supported_algorithms_uac varchar(1024),
    PRIMARY KEY (id)
);

-- Addresses of record: where an endpoint can be reached. An agent's phone
-- adds rows to ps_contacts by registering (max_contacts bounds how many);
-- `contact` holds static contacts instead.
CREATE TABLE ps_aors (
    id varchar(40) NOT NULL,
    contact varchar(255),
    default_expiration integer,
    mailboxes varchar(80),
    max_contacts integer,
    minimum_expiration integer,
    remove_existing yesno_values,
    qualify_frequency integer,
    authenticate_qualify yesno_values,
    maximum_expiration integer,
    outbound_proxy varchar(40),
    support_path yesno_values,
    qualify_timeout float,
    voicemail_extension varchar(40),
    remove_unavailable ast_bool_values,
    qualify_2xx_only ast_bool_values,
    PRIMARY KEY (id)
);

CREATE INDEX ps_aors_qualifyfreq_contact ON ps_aors (qualify_frequency, contact);

-- Registrations, written and deleted by Asterisk itself. `id` is
-- "<aor>;@<hash>", `endpoint` the registering endpoint, `expiration_time`
-- seconds since the epoch, and `reg_server` the systemname of the Asterisk
-- that accepted the registration.
CREATE TABLE ps_contacts (
    id varchar(255) NOT NULL,
    uri varchar(511),
    expiration_time bigint,
    qualify_frequency integer,
    outbound_proxy varchar(40),
    path text,
    user_agent varchar(255),
    qualify_timeout float,
    reg_server varchar(255),
    authenticate_qualify yesno_values,
    via_addr varchar(40),
    via_port integer,
    call_id varchar(255),
    endpoint varchar(40),
    prune_on_boot yesno_values,
    qualify_2xx_only ast_bool_values,
    PRIMARY KEY (id),
    CONSTRAINT ps_contacts_uq UNIQUE (id, reg_server)
);

CREATE INDEX ps_contacts_qualifyfreq_exp ON ps_contacts (qualify_frequency, expiration_time);
