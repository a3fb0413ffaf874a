/* test-config.c: settings from the environment and from ENV_FILE, which
 * wins; the live ones marked; a file that does not parse is refused. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char path[] = "/tmp/test-config-XXXXXX";

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	setenv("ENV_FILE", path, 1);
}

static void teardown(void)
{
	unlink(path);
	strcpy(path, "/tmp/test-config-XXXXXX");
	unsetenv("ENV_FILE");
	unsetenv("LOG_LEVEL");
	unsetenv("ARI_APP");
}

START_TEST(file_wins_over_the_environment)
{
	struct config cfg;
	char err[256] = "";

	setenv("LOG_LEVEL", "debug", 1);
	setenv("ARI_APP", "fromenv", 1);
	write_file("# settings\nLOG_LEVEL=warning\nTURN_SECRET='s e c'\n"
		   "ARI_PASSWORD=\"p\\\"w\"\nAPI_TOKEN=\n");
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.log_level, "warning");
	ck_assert_str_eq(cfg.ari_app, "fromenv");
	ck_assert_str_eq(cfg.turn_secret, "s e c");
	ck_assert_str_eq(cfg.ari_password, "p\"w");
	ck_assert_str_eq(cfg.api_token, "");
	ck_assert_str_eq(cfg.env_file, path);
	config_clear(&cfg);
}
END_TEST

START_TEST(bad_files_and_values_are_refused)
{
	struct config cfg;
	char err[256] = "";

	write_file("LOG_LEVEL=info\nnot a setting\n");
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 2 is not KEY=VALUE"));
	write_file("LOG_LEVEL=loud\n");
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "LOG_LEVEL 'loud'"));
	unlink(path);
	ck_assert_int_eq(config_load(&cfg, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
}
END_TEST

START_TEST(live_settings_are_marked)
{
	static const char *const live[] = {
	    "LOG_LEVEL", "ARI_USERNAME",  "ARI_PASSWORD",  "DATABASE_URL",
	    "API_TOKEN", "TURN_SECRET",   "TURN_SERVER",   "STUN_SERVER",
	    "TURN_TTL",  "TURN_USERNAME", "TURN_PASSWORD",
	};
	unsigned n = 0;

	for (const struct config_key *k = config_keys(); k->name; k++) {
		bool want = false;

		for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
			want |= strcmp(k->name, live[i]) == 0;
		ck_assert_msg(k->reloadable == want, "%s", k->name);
		n += want;
	}
	ck_assert_uint_eq(n, sizeof(live) / sizeof(live[0]));
}
END_TEST

START_TEST(swap_exchanges_one_value)
{
	struct config a, b;
	char err[256];
	const struct config_key *level = NULL;

	write_file("LOG_LEVEL=error\n");
	ck_assert_int_eq(config_load(&a, err, sizeof(err)), 0);
	write_file("LOG_LEVEL=debug\nARI_APP=other\n");
	ck_assert_int_eq(config_load(&b, err, sizeof(err)), 0);
	for (const struct config_key *k = config_keys(); k->name; k++)
		if (strcmp(k->name, "LOG_LEVEL") == 0)
			level = k;
	ck_assert_ptr_nonnull(level);
	config_swap(&a, &b, level);
	ck_assert_str_eq(config_get(&a, level), "debug");
	ck_assert_str_eq(b.log_level, "error");
	ck_assert_str_eq(a.ari_app, "welcomedly");
	config_clear(&a);
	config_clear(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_wins_over_the_environment);
	tcase_add_test(tc, bad_files_and_values_are_refused);
	tcase_add_test(tc, live_settings_are_marked);
	tcase_add_test(tc, swap_exchanges_one_value);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
