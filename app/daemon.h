/* daemon.h: the daemon's commands, each running its own libuv loop. */
#ifndef APP_DAEMON_H
#define APP_DAEMON_H

#include "config.h"

/* Runs the Stasis application until SIGTERM or SIGINT, then closes every
 * handle. On SIGHUP the settings are read again (config_load) and those
 * that can change live replace their values in cfg, which must outlive the
 * call; the others are named in the log. Returns 0 after a clean stop, or
 * a negative errno. */
int daemon_run(struct config *cfg);

/* Applies pending migrations from cfg->migrations_dir to cfg->database_url.
 * Returns 0 or a negative errno (the reason is logged). */
int daemon_migrate(const struct config *cfg);

/* Makes an API token with role ("admin", "supervisor", or "agent" with
 * agent_id > 0), stores its hash and prints the token on stdout. Returns 0
 * or a negative errno. */
int daemon_token_create(const struct config *cfg, const char *role,
			long long agent_id);

#endif /* APP_DAEMON_H */
