/* config.h: the daemon's configuration, read from the environment and from
 * the environment file ENV_FILE names (again on SIGHUP). */
#ifndef APP_CONFIG_H
#define APP_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct config {
	char *ari_url; /* http://host:port, ARI under /ari */
	char *ari_username;
	char *ari_password;
	/* The platform's names, standing in for ARI_* when those are unset. */
	char *asterisk_host;
	char *asterisk_port;
	char *asterisk_user;
	char *asterisk_password;
	char *ari_app;
	char *ari_rest_transport; /* "websocket" or "http" */
	char *database_url;       /* libpq URI; empty disables the database */
	char *api_listen;         /* host:port */
	char *api_token;
	char *log_level;
	char *journal_dir;
	char *migrations_dir;
	char *prompt_sound; /* played to callers until the queue exists */
	char *pages_dir;    /* the browser pages served at /agent/ ... */
	/* What a browser softphone needs (GET /agents/{id}/webrtc). */
	char *sip_domain;    /* ASTERISK_SIP_DOMAIN; empty: the ARI host */
	char *wss_url;       /* ASTERISK_WSS_URL; empty: ws://ARI host/ws */
	char *stun_server;   /* stun:host:port, or empty */
	char *turn_server;   /* turn: URLs, comma-separated, or empty */
	char *turn_secret;   /* coturn's static-auth-secret */
	char *turn_ttl;      /* seconds a TURN credential lives */
	char *turn_username; /* a static TURN account when no secret */
	char *turn_password;
	char *env_file;    /* KEY=VALUE file read at start and on SIGHUP */
	char *hot_standby; /* "on": active or standby by the database's lock */
};

/* One documented setting: the table in config.c is the single list that
 * --help prints and that the README is checked against. */
struct config_key {
	const char *name;
	const char *fallback;
	const char *description;
	size_t offset;   /* of the char * inside struct config */
	bool reloadable; /* a running daemon applies a new value */
};

/* Returns the table of settings, terminated by an entry with name NULL. */
const struct config_key *config_keys(void);

/*
 * Fills cfg from getenv(), then from the file ENV_FILE names, if any: the
 * file's values win over the environment's, and each unset or empty
 * setting takes its default. Reads the file with blocking calls: off the
 * loop once it runs. Returns 0, -ENOMEM, or a negative errno with a
 * message in err (size errlen) when the file cannot be read or parsed or a
 * value is invalid. On failure cfg holds nothing to free.
 */
int config_load(struct config *cfg, char *err, size_t errlen);

/* The value of key in cfg; borrowed. */
const char *config_get(const struct config *cfg, const struct config_key *key);

/* Exchanges the value of key between a and b (a reload takes the new
 * value of a setting that can change live). */
void config_swap(struct config *a, struct config *b,
		 const struct config_key *key);

/* True when HOT_STANDBY is on: of the processes sharing DATABASE_URL and
 * ARI_APP, only the holder of the active lock handles calls. */
bool config_hot_standby(const struct config *cfg);

/* Frees the strings of cfg. */
void config_clear(struct config *cfg);

/* Prints the settings with defaults, for --help. */
void config_print_help(FILE *out);

#endif /* APP_CONFIG_H */
