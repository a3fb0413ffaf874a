/* webrtc.c: the settings and credentials a browser softphone is given. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "webrtc/webrtc.h"

static int copy(char *dst, const char *src, const char *name, char *err,
		size_t errlen)
{
	if (snprintf(dst, WEBRTC_TEXT, "%s", src) >= WEBRTC_TEXT) {
		snprintf(err, errlen, "%s is longer than %d bytes", name,
			 WEBRTC_TEXT - 1);
		return -EINVAL;
	}
	return 0;
}

/* Host and port of ARI_URL, for the defaults. */
static int ari_host(const char *ari_url, char *host, size_t hsize, char *port,
		    size_t psize, int *ret_tls)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL, *s = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, ari_url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
		CURLUE_OK &&
	    (size_t)snprintf(host, hsize, "%s", h) < hsize &&
	    (size_t)snprintf(port, psize, "%s", p) < psize) {
		*ret_tls = strcmp(s, "https") == 0;
		r = 0;
	}
	curl_free(h);
	curl_free(p);
	curl_free(s);
	curl_url_cleanup(u);
	return r;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Each comma-separated URL of list starts with one of the schemes. */
static bool urls_valid(const char *list, const char *a, const char *b)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (!has_prefix(p, a) && !has_prefix(p, b)) ||
		    memchr(p, ' ', n))
			return false;
		p += n + (end ? 1 : 0);
	}
	return true;
}

static int check_urls(const char *list, const char *name, const char *a,
		      const char *b, char *err, size_t errlen)
{
	if (urls_valid(list, a, b))
		return 0;
	snprintf(err, errlen, "%s '%s' must be %s or %s URLs, comma-separated",
		 name, list, a, b);
	return -EINVAL;
}

int webrtc_config_init(struct webrtc_config *w, const struct config *cfg,
		       char *err, size_t errlen)
{
	char host[200], port[8];
	int tls = 0, r;

	memset(w, 0, sizeof(*w));
	r = ari_host(cfg->ari_url, host, sizeof(host), port, sizeof(port),
		     &tls);
	if (r < 0) {
		snprintf(err, errlen, "ARI_URL '%s' has no host", cfg->ari_url);
		return r;
	}
	if (*cfg->wss_url)
		r = copy(w->ws_url, cfg->wss_url, "ASTERISK_WSS_URL", err,
			 errlen);
	else
		snprintf(w->ws_url, sizeof(w->ws_url), "%s://%s:%s/ws",
			 tls ? "wss" : "ws", host, port);
	if (r == 0)
		r = copy(w->sip_domain,
			 *cfg->sip_domain ? cfg->sip_domain : host,
			 "ASTERISK_SIP_DOMAIN", err, errlen);
	if (r == 0)
		r = copy(w->stun, cfg->stun_server, "STUN_SERVER", err, errlen);
	if (r == 0)
		r = copy(w->turn, cfg->turn_server, "TURN_SERVER", err, errlen);
	if (r == 0)
		r = copy(w->turn_secret, cfg->turn_secret, "TURN_SECRET", err,
			 errlen);
	if (r == 0)
		r = copy(w->turn_username, cfg->turn_username, "TURN_USERNAME",
			 err, errlen);
	if (r == 0)
		r = copy(w->turn_password, cfg->turn_password, "TURN_PASSWORD",
			 err, errlen);
	if (r == 0 && !has_prefix(w->ws_url, "ws://") &&
	    !has_prefix(w->ws_url, "wss://")) {
		snprintf(err, errlen,
			 "ASTERISK_WSS_URL '%s' must be ws:// or "
			 "wss://",
			 w->ws_url);
		r = -EINVAL;
	}
	if (r == 0)
		r = check_urls(w->stun, "STUN_SERVER", "stun:", "stuns:", err,
			       errlen);
	if (r == 0)
		r = check_urls(w->turn, "TURN_SERVER", "turn:", "turns:", err,
			       errlen);
	w->ttl_s = strtoll(cfg->turn_ttl, NULL, 10);
	return r;
}

int webrtc_turn_credential(const char *secret, const char *username, char *out,
			   size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (size < 4 * ((20 + 2) / 3) + 1)
		return -ENOSPC;
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
		  (const unsigned char *)username, strlen(username), md, &n) ||
	    n != 20)
		return -EIO;
	return EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

/* The comma-separated list as a JSON array of strings. */
static json_t *url_array(const char *list)
{
	json_t *a = json_array();
	const char *p = list;

	while (a && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (json_array_append_new(a, json_stringn(p, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		p += n + (end ? 1 : 0);
	}
	return a;
}

static json_t *turn_entry(const struct webrtc_config *w, int64_t agent_id,
			  int64_t expires_s)
{
	char username[48], credential[32];

	if (*w->turn_secret) {
		snprintf(username, sizeof(username), "%lld:%lld",
			 (long long)expires_s, (long long)agent_id);
		if (webrtc_turn_credential(w->turn_secret, username, credential,
					   sizeof(credential)) < 0)
			return NULL;
		return json_pack("{s:o,s:s,s:s}", "urls", url_array(w->turn),
				 "username", username, "credential",
				 credential);
	}
	if (*w->turn_username)
		return json_pack("{s:o,s:s,s:s}", "urls", url_array(w->turn),
				 "username", w->turn_username, "credential",
				 w->turn_password);
	return json_pack("{s:o}", "urls", url_array(w->turn));
}

json_t *webrtc_ice_servers(const struct webrtc_config *w, int64_t agent_id,
			   int64_t expires_s)
{
	json_t *a = json_array();

	if (a && *w->stun &&
	    json_array_append_new(
		a, json_pack("{s:o}", "urls", url_array(w->stun))) < 0)
		goto fail;
	if (a && *w->turn &&
	    json_array_append_new(a, turn_entry(w, agent_id, expires_s)) < 0)
		goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}
