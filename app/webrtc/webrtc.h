/* webrtc.h: what a browser softphone needs to register and reach media:
 * the WebSocket URL and SIP domain of Asterisk, and the STUN and TURN
 * servers with credentials that coturn checks by itself (the TURN REST
 * scheme: username "<unix expiry>:<agent id>", credential
 * base64(HMAC-SHA1(secret, username))). */
#ifndef APP_WEBRTC_H
#define APP_WEBRTC_H

#include <jansson.h>
#include <stdint.h>

struct config;

#define WEBRTC_TEXT 256 /* each setting, with its NUL */

struct webrtc_config {
	char ws_url[WEBRTC_TEXT];     /* ws(s)://host:port/ws */
	char sip_domain[WEBRTC_TEXT]; /* host part of sip:<user>@<domain> */
	char stun[WEBRTC_TEXT];       /* one stun: URL, or "" */
	char turn[WEBRTC_TEXT];       /* turn:/turns: URLs, comma-separated */
	char turn_secret[WEBRTC_TEXT];
	char turn_username[WEBRTC_TEXT]; /* static account, no secret */
	char turn_password[WEBRTC_TEXT];
	int64_t ttl_s; /* life of a credential and a SIP password */
};

/* Fills w from the daemon's settings: an empty ASTERISK_WSS_URL becomes
 * ws://<ARI_URL's host:port>/ws (wss:// when ARI_URL is https), an empty
 * ASTERISK_SIP_DOMAIN ARI_URL's host. Returns 0, or -EINVAL with a message
 * in err when a value does not fit or a URL has the wrong scheme. */
int webrtc_config_init(struct webrtc_config *w, const struct config *cfg,
		       char *err, size_t errlen);

/* The TURN REST credential of username under secret: base64 of
 * HMAC-SHA1, into out (29 bytes with the NUL are enough). Returns its
 * length, -ENOSPC or -EIO. */
int webrtc_turn_credential(const char *secret, const char *username, char *out,
			   size_t size);

/* The ice_servers array (RTCIceServer shape) for agent_id, credentials
 * valid until expires_s (unix seconds): the STUN entry, then the TURN
 * entry (with a REST credential from the secret, or the static account,
 * or none when neither is set). A new reference, or NULL (no memory). */
json_t *webrtc_ice_servers(const struct webrtc_config *w, int64_t agent_id,
			   int64_t expires_s);

#endif /* APP_WEBRTC_H */
