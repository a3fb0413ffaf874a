/* main.c: welcomedlyd, the Welcomedly Stasis application. */
#include <errno.h>
#include <execinfo.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <curl/curl.h>

#include "buildinfo.h"

#include "config.h"
#include "calls/calls.h"
#include "api/api.h"
#include "daemon.h"
#include "doctor/doctor.h"
#include "link/link.h"
#include "routes.h"
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
	    "  token create [admin|supervisor|agent AGENT_ID]\n"
	    "             make an API token (admin by default), store its "
	    "hash,\n"
	    "             print it once\n"
	    "  routes     print the API's routes: METHOD PATH ROLE\n"
	    "  doctor     check the ARI user, the Stasis application, the\n"
	    "             dialplan, the recording spool and the database;\n"
	    "             print what is wrong and how to fix it (exit 1)\n"
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
	*ret_command = optind < argc ? argv[optind] : "run";
	return optind;
}

/* welcomedlyd token create [ROLE [AGENT_ID]] */
static int token_command(const struct config *cfg, int argc, char **argv)
{
	const char *role = argc > 1 ? argv[1] : "admin";
	long long agent = argc > 2 ? strtoll(argv[2], NULL, 10) : 0;

	if (argc < 1 || strcmp(argv[0], "create") != 0 || argc > 3) {
		fprintf(stderr, "usage: welcomedlyd token create "
				"[admin|supervisor|agent AGENT_ID]\n");
		return -EINVAL;
	}
	return daemon_token_create(cfg, role, agent);
}

/* A crash leaves its stack in the log (stderr), for the rare one that no
 * test reproduces at will; the sanitizer builds report their own. */
#if !defined(__SANITIZE_ADDRESS__)
static void on_fatal(int signum)
{
	static const char head[] = "fatal signal, stack:\n";
	void *frames[64];
	int n = backtrace(frames, 64);

	if (write(STDERR_FILENO, head, sizeof(head) - 1) > 0)
		backtrace_symbols_fd(frames, n, STDERR_FILENO);
	raise(signum); /* SA_RESETHAND: the default action now */
}

static void catch_fatal(void)
{
	static const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
	struct sigaction sa = {.sa_handler = on_fatal,
			       .sa_flags = (int)SA_RESETHAND};
	void *warm[1];

	backtrace(warm, 1); /* loads libgcc now, not inside the handler */
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}
#else
static void catch_fatal(void)
{
}
#endif

int main(int argc, char **argv)
{
	struct config cfg;
	enum log_level level;
	const char *command = NULL;
	char err[256] = "";
	int r;

	int first = parse_args(argc, argv, &command);

	if (first < 0)
		return 2;
	if (strcmp(command, "routes") == 0) {
		api_print_routes(stdout, routes_table, routes_count);
		return EXIT_SUCCESS;
	}
	if (strcmp(command, "token") != 0 && first < argc - 1) {
		fprintf(stderr, "welcomedlyd: too many arguments\n");
		return 2;
	}
	r = config_load(&cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "welcomedlyd: %s\n", *err ? err : strerror(-r));
		return 2;
	}
	log_level_parse(cfg.log_level, &level);
	log_set_level(level);
	/* Under systemd the journal keeps the time and the priority. */
	log_set_journal(log_stderr_is(getenv("JOURNAL_STREAM")));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	catch_fatal();
	if (strcmp(command, "run") == 0) {
		r = daemon_run(&cfg);
	} else if (strcmp(command, "doctor") == 0) {
		r = doctor_run(&cfg, stdout);
	} else if (strcmp(command, "migrate") == 0) {
		r = daemon_migrate(&cfg);
	} else if (strcmp(command, "token") == 0) {
		r = token_command(&cfg, argc - first - 1, argv + first + 1);
	} else {
		fprintf(stderr, "welcomedlyd: unknown command '%s'\n", command);
		r = -EINVAL;
	}
	config_clear(&cfg);
	curl_global_cleanup();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
