/* config.c: environment settings, one table. */
#include "config.h"

#include "buildinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/envfile.h"
#include "util/log.h"

#include <curl/curl.h>

#define KEY(field, env, def, desc)                                             \
	{                                                                      \
		env, def, desc, offsetof(struct config, field), false          \
	}
/* A setting that SIGHUP applies to the running daemon. */
#define LIVE_KEY(field, env, def, desc)                                        \
	{                                                                      \
		env, def, desc, offsetof(struct config, field), true           \
	}

static const struct config_key keys[] = {
    KEY(ari_url, "ARI_URL", "http://127.0.0.1:8088",
	"Asterisk HTTP server; ARI is under /ari"),
    LIVE_KEY(ari_username, "ARI_USERNAME", "welcomedly", "ARI user (ari.conf)"),
    LIVE_KEY(ari_password, "ARI_PASSWORD", "welcomedly", "ARI password"),
    KEY(asterisk_host, "ASTERISK_HOST", "",
	"Asterisk's host: ARI_URL is http://ASTERISK_HOST:ASTERISK_PORT when "
	"ARI_URL is not set"),
    KEY(asterisk_port, "ASTERISK_PORT", "",
	"Asterisk's HTTP port for ARI_URL (8088 when empty; never 5038, the "
	"AMI port)"),
    KEY(asterisk_user, "ASTERISK_USER", "",
	"ARI user when ARI_USERNAME is not set"),
    KEY(asterisk_password, "ASTERISK_PASSWORD", "",
	"ARI password when ARI_PASSWORD is not set"),
    KEY(ari_app, "ARI_APP", "welcomedly",
	"Stasis application name used in the dialplan"),
    KEY(ari_rest_transport, "ARI_REST_TRANSPORT", "websocket",
	"websocket (call control over the events socket; Asterisk 20.14, "
	"21.9, 22.4 or later) or http"),
    LIVE_KEY(database_url, "DATABASE_URL", "",
	     "PostgreSQL libpq URI; empty runs without a database"),
    KEY(api_listen, "API_LISTEN", "127.0.0.1:8090",
	"Address of the admin REST API"),
    LIVE_KEY(api_token, "API_TOKEN", "", "First admin bearer token"),
    LIVE_KEY(log_level, "LOG_LEVEL", "info",
	     "error, warning, notice, info or debug"),
    KEY(journal_dir, "JOURNAL_DIR", "/var/lib/welcomedly",
	"Directory of the CDR journal kept while PostgreSQL is away"),
    KEY(migrations_dir, "MIGRATIONS_DIR", WELCOMEDLY_MIGRATIONS_DIR,
	"SQL migrations applied by 'welcomedlyd migrate'"),
    KEY(prompt_sound, "PROMPT_SOUND", "sound:all-circuits-busy-now",
	"Prompt played to a caller the daemon cannot serve"),
    KEY(pages_dir, "PAGES_DIR", WELCOMEDLY_PAGES_DIR,
	"Browser pages served at /agent/ (read once at start)"),
    KEY(sip_domain, "ASTERISK_SIP_DOMAIN", "",
	"SIP domain of browser agents' URIs; empty: ARI_URL's host"),
    KEY(wss_url, "ASTERISK_WSS_URL", "",
	"WebSocket URL browsers register at; empty: ws://<ARI_URL "
	"host:port>/ws"),
    LIVE_KEY(stun_server, "STUN_SERVER", "",
	     "STUN URL handed to browsers, e.g. stun:turn.example.com:3478"),
    LIVE_KEY(turn_server, "TURN_SERVER", "",
	     "TURN URLs handed to browsers, comma-separated, e.g. "
	     "turn:turn.example.com:3478?transport=udp"),
    LIVE_KEY(
	turn_secret, "TURN_SECRET", "",
	"coturn's static-auth-secret: browsers get credentials made from it"),
    LIVE_KEY(
	turn_ttl, "TURN_TTL", "3600",
	"Seconds a TURN credential (and a browser's SIP password) is valid"),
    LIVE_KEY(turn_username, "TURN_USERNAME", "",
	     "A static TURN account, used when TURN_SECRET is empty"),
    LIVE_KEY(turn_password, "TURN_PASSWORD", "", "Its password"),
    KEY(env_file, "ENV_FILE", "",
	"KEY=VALUE file read at start and on SIGHUP; its values win over "
	"the environment's"),
    KEY(hot_standby, "HOT_STANDBY", "off",
	"on: several welcomedlyd share DATABASE_URL and ARI_APP, the holder "
	"of a PostgreSQL advisory lock handles calls, the others wait to take "
	"over; off: this process alone"),
    {NULL, NULL, NULL, 0, false},
};

const struct config_key *config_keys(void)
{
	return keys;
}

static char **field(struct config *cfg, const struct config_key *key)
{
	return (char **)((char *)cfg + key->offset);
}

static int check_url(const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int r = 0;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(err, errlen, "ARI_URL '%s' is not an http(s) URL",
			 url);
		r = -EINVAL;
	}
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

static bool ttl_valid(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *text && !*end && v >= 60 && v <= 604800;
}

static int validate(const struct config *cfg, char *err, size_t errlen)
{
	enum log_level level;

	if (log_level_parse(cfg->log_level, &level) < 0) {
		snprintf(err, errlen,
			 "LOG_LEVEL '%s' is not one of error, warning, notice, "
			 "info, debug",
			 cfg->log_level);
		return -EINVAL;
	}
	if (strlen(cfg->ari_app) == 0 ||
	    strspn(cfg->ari_app,
		   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
		   "TUVWXYZ0123456789_-") != strlen(cfg->ari_app)) {
		snprintf(err, errlen, "ARI_APP '%s' must be [A-Za-z0-9_-]+",
			 cfg->ari_app);
		return -EINVAL;
	}
	if (strcmp(cfg->ari_rest_transport, "websocket") != 0 &&
	    strcmp(cfg->ari_rest_transport, "http") != 0) {
		snprintf(err, errlen,
			 "ARI_REST_TRANSPORT '%s' must be websocket or http",
			 cfg->ari_rest_transport);
		return -EINVAL;
	}
	if (!strchr(cfg->api_listen, ':')) {
		snprintf(err, errlen, "API_LISTEN '%s' must be host:port",
			 cfg->api_listen);
		return -EINVAL;
	}
	if (!ttl_valid(cfg->turn_ttl)) {
		snprintf(err, errlen,
			 "TURN_TTL '%s' must be a number of seconds from 60 to "
			 "604800",
			 cfg->turn_ttl);
		return -EINVAL;
	}
	if (strcmp(cfg->hot_standby, "on") != 0 &&
	    strcmp(cfg->hot_standby, "off") != 0) {
		snprintf(err, errlen, "HOT_STANDBY '%s' must be on or off",
			 cfg->hot_standby);
		return -EINVAL;
	}
	if (config_hot_standby(cfg) && !*cfg->database_url) {
		snprintf(err, errlen,
			 "HOT_STANDBY on needs DATABASE_URL: the active "
			 "process is the holder of a lock in that database");
		return -EINVAL;
	}
	return check_url(cfg->ari_url, err, errlen);
}

bool config_hot_standby(const struct config *cfg)
{
	return strcmp(cfg->hot_standby, "on") == 0;
}

static const struct config_key *find_key(const char *name)
{
	for (const struct config_key *k = keys; k->name; k++) {
		if (strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* Sets key to value, or to its default when value is NULL or empty. */
static int set_value(struct config *cfg, const struct config_key *key,
		     const char *value)
{
	char *copy = strdup(value && *value ? value : key->fallback);

	if (!copy)
		return -ENOMEM;
	free(*field(cfg, key));
	*field(cfg, key) = copy;
	return 0;
}

static int set_from_file(const char *name, const char *value, void *userdata)
{
	struct config *cfg = userdata;
	const struct config_key *key = find_key(name);

	/* The file does not name another file: one level only. */
	if (!key || strcmp(name, "ENV_FILE") == 0) {
		log_warning("env_file=%s setting=%s unknown, ignoring",
			    cfg->env_file, name);
		return 0;
	}
	return set_value(cfg, key, value);
}

static int read_env_file(struct config *cfg, char *err, size_t errlen)
{
	unsigned line = 0;
	int r = envfile_read(cfg->env_file, set_from_file, cfg, &line);

	if (r == -EINVAL)
		snprintf(err, errlen, "ENV_FILE %s: line %u is not KEY=VALUE",
			 cfg->env_file, line);
	else if (r < 0)
		snprintf(err, errlen, "ENV_FILE %s: %s", cfg->env_file,
			 strerror(-r));
	return r;
}

static bool unset(const char *name)
{
	const char *v = getenv(name);

	return !v || !*v;
}

static int replace(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* The names of the platform's .env (ASTERISK_*) stand in for the ARI_*
 * ones they mean when those are not set. ASTERISK_PORT is the HTTP port
 * that carries ARI: the AMI port is refused, since pointing ARI at it
 * would only fail to connect, again and again. */
static int apply_asterisk_names(struct config *c, char *err, size_t errlen)
{
	char url[512];
	char *end;
	long port = 8088;
	int r = 0;

	if (*c->asterisk_port) {
		port = strtol(c->asterisk_port, &end, 10);
		if (*end || port < 1 || port > 65535) {
			snprintf(err, errlen,
				 "ASTERISK_PORT '%s' is not a port number",
				 c->asterisk_port);
			return -EINVAL;
		}
		if (port == 5038) {
			snprintf(err, errlen,
				 "ASTERISK_PORT 5038 is Asterisk's AMI port: "
				 "welcomedlyd speaks ARI, which listens on "
				 "Asterisk's HTTP port (http.conf bindport, "
				 "8088 by default)");
			return -EINVAL;
		}
	}
	if (unset("ARI_URL") && *c->asterisk_host) {
		snprintf(url, sizeof(url), "http://%s:%ld", c->asterisk_host,
			 port);
		r = replace(&c->ari_url, url);
	}
	if (r == 0 && unset("ARI_USERNAME") && *c->asterisk_user)
		r = replace(&c->ari_username, c->asterisk_user);
	if (r == 0 && unset("ARI_PASSWORD") && *c->asterisk_password)
		r = replace(&c->ari_password, c->asterisk_password);
	return r;
}

int config_load(struct config *cfg, char *err, size_t errlen)
{
	struct config c = {0};
	int r = 0;

	for (const struct config_key *k = keys; k->name && r == 0; k++)
		r = set_value(&c, k, getenv(k->name));
	if (r == 0 && *c.env_file)
		r = read_env_file(&c, err, errlen);
	if (r == 0)
		r = apply_asterisk_names(&c, err, errlen);
	if (r == 0)
		r = validate(&c, err, errlen);
	if (r < 0) {
		config_clear(&c);
		return r;
	}
	*cfg = c;
	return 0;
}

const char *config_get(const struct config *cfg, const struct config_key *key)
{
	return *(char *const *)((const char *)cfg + key->offset);
}

void config_swap(struct config *a, struct config *b,
		 const struct config_key *key)
{
	char *t = *field(a, key);

	*field(a, key) = *field(b, key);
	*field(b, key) = t;
}

void config_clear(struct config *cfg)
{
	for (const struct config_key *k = keys; k->name; k++) {
		free(*field(cfg, k));
		*field(cfg, k) = NULL;
	}
}

void config_print_help(FILE *out)
{
	fprintf(out, "Environment:\n");
	for (const struct config_key *k = keys; k->name; k++)
		fprintf(out, "  %-16s %s (default: %s)\n", k->name,
			k->description, *k->fallback ? k->fallback : "empty");
}
