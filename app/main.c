/* main.c: welcomedlyd, the Welcomedly Stasis application. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <curl/curl.h>

#include "buildinfo.h"

#include "config.h"
#include "calls/calls.h"
#include "daemon.h"
#include "link/link.h"
#include "util/log.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: welcomedlyd [--help] [--version] [COMMAND]\n"
	    "\n"
	    "Without a command, runs the Stasis application: connects to\n"
	    "Asterisk's ARI and handles every call sent to Stasis(ARI_APP).\n"
	    "\n"
	    "Commands:\n"
	    "  run        the default\n"
	    "  migrate    apply the SQL migrations in MIGRATIONS_DIR to "
	    "DATABASE_URL\n"
	    "\n");
	config_print_help(out);
}

static int parse_args(int argc, char **argv, const char **ret_command)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("welcomedlyd %s\n", WELCOMEDLY_VERSION);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "welcomedlyd: too many arguments\n");
		return -EINVAL;
	}
	*ret_command = optind < argc ? argv[optind] : "run";
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	enum log_level level;
	const char *command = NULL;
	char err[256] = "";
	int r;

	if (parse_args(argc, argv, &command) < 0)
		return 2;
	r = config_load(&cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "welcomedlyd: %s\n", *err ? err : strerror(-r));
		return 2;
	}
	log_level_parse(cfg.log_level, &level);
	log_set_level(level);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(command, "run") == 0) {
		r = daemon_run(&cfg);
	} else if (strcmp(command, "migrate") == 0) {
		r = daemon_migrate(&cfg);
	} else {
		fprintf(stderr, "welcomedlyd: unknown command '%s'\n", command);
		r = -EINVAL;
	}
	config_clear(&cfg);
	curl_global_cleanup();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
