/* test-metrics.c: registration, updates and the exact exposition text of
 * the metrics registry. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "metrics/metrics.h"

#define L(...) ((const char *const[]){__VA_ARGS__})

#define DROPPED_HEAD                                                           \
	"# HELP welcomedly_metrics_dropped_total Metric updates dropped for "  \
	"their label values or the series cap.\n"                              \
	"# TYPE welcomedly_metrics_dropped_total counter\n"
#define DROPPED(n) DROPPED_HEAD "welcomedly_metrics_dropped_total " #n "\n"

/* ---- A line grammar for the exposition format ---- */

static bool is_name_char(char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (colon && c == ':'))
		return true;
	return !first && c >= '0' && c <= '9';
}

/* Skips a name; returns the first byte after it or NULL if empty. */
static const char *skip_name(const char *p, bool colon)
{
	const char *start = p;

	while (is_name_char(*p, p == start, colon))
		p++;
	return p == start ? NULL : p;
}

/* Skips {name="value",...}; NULL on a syntax error. */
static const char *skip_labels(const char *p)
{
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		p = skip_name(p, false);
		if (!p || p[0] != '=' || p[1] != '"')
			return NULL;
		for (p += 2; *p != '"'; p++) {
			if (!*p)
				return NULL;
			if (*p == '\\' && p[1] != '\\' && p[1] != '"' &&
			    p[1] != 'n')
				return NULL;
			if (*p == '\\')
				p++;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

static bool value_valid(const char *p)
{
	char *end;

	if (!strcmp(p, "+Inf") || !strcmp(p, "-Inf") || !strcmp(p, "NaN"))
		return true;
	if (!*p || strpbrk(p, "xXpP"))
		return false;
	strtod(p, &end);
	return *end == '\0';
}

/* Every non-comment line is name{labels} value; comments are HELP/TYPE. */
static void check_line(const char *line)
{
	const char *p;

	if (line[0] == '#') {
		ck_assert_msg(!strncmp(line, "# HELP ", 7) ||
				  !strncmp(line, "# TYPE ", 7),
			      "bad comment: %s", line);
		p = skip_name(line + 7, true);
		ck_assert_msg(p && *p == ' ', "bad comment: %s", line);
		if (line[2] == 'T')
			ck_assert_msg(!strcmp(p, " counter") ||
					  !strcmp(p, " gauge") ||
					  !strcmp(p, " histogram"),
				      "bad type: %s", line);
		return;
	}
	p = skip_name(line, true);
	ck_assert_msg(p != NULL, "no name: %s", line);
	p = skip_labels(p);
	ck_assert_msg(p && *p == ' ', "bad labels: %s", line);
	ck_assert_msg(value_valid(p + 1), "bad value: %s", line);
}

static void check_grammar(const char *text, size_t len)
{
	char *copy = strdup(text), *save = NULL;

	ck_assert_uint_eq(strlen(text), len);
	ck_assert_msg(len > 0 && text[len - 1] == '\n', "no final newline");
	ck_assert_ptr_null(strstr(text, "\n\n"));
	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		check_line(line);
	free(copy);
}

/* Renders, checks the grammar and returns the text (the caller frees). */
static char *render(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(metrics_render(m, &text, &len), 0);
	check_grammar(text, len);
	return text;
}

static void assert_render(struct metrics *m, const char *expected)
{
	char *text = render(m);

	ck_assert_str_eq(text, expected);
	free(text);
}

static struct metrics *metrics_make(void)
{
	struct metrics *m = NULL;

	ck_assert_int_eq(metrics_new(&m), 0);
	return m;
}

/* ---- Tests ---- */

START_TEST(metrics_empty)
{
	struct metrics *m = metrics_make();

	assert_render(m, DROPPED(0));
	metrics_free(m);
	metrics_free(NULL);
}
END_TEST

START_TEST(metrics_counters)
{
	struct metrics *m = metrics_make();
	struct metrics_family *calls, *reconnects;

	ck_assert_int_eq(metrics_counter(m, "welcomedly_calls_total",
					 "Calls by direction and result.", 2,
					 L("direction", "result"), &calls),
			 0);
	ck_assert_int_eq(metrics_counter(m, "welcomedly_ari_reconnects_total",
					 "ARI reconnections.", 0, NULL,
					 &reconnects),
			 0);
	ck_assert_int_eq(metrics_add(calls, 1, L("inbound", "answered")), 0);
	ck_assert_int_eq(metrics_add(calls, 2, L("outbound", "failed")), 0);
	ck_assert_int_eq(metrics_add(calls, 1, L("inbound", "answered")), 0);
	ck_assert_int_eq(metrics_add(calls, 0.5, L("inbound", "abandoned")), 0);
	assert_render(m, DROPPED(0) "# HELP welcomedly_calls_total Calls by "
				    "direction and result.\n"
				    "# TYPE welcomedly_calls_total counter\n"
				    "welcomedly_calls_total{direction="
				    "\"inbound\",result=\"answered\"} 2\n"
				    "welcomedly_calls_total{direction="
				    "\"outbound\",result=\"failed\"} 2\n"
				    "welcomedly_calls_total{direction="
				    "\"inbound\",result=\"abandoned\"} 0.5\n"
				    "# HELP welcomedly_ari_reconnects_total "
				    "ARI reconnections.\n"
				    "# TYPE welcomedly_ari_reconnects_total "
				    "counter\n"
				    "welcomedly_ari_reconnects_total 0\n");
	ck_assert_int_eq(metrics_add(reconnects, 3, NULL), 0);
	ck_assert_int_eq(metrics_add(reconnects, 0, NULL), 0);
	ck_assert_int_eq(metrics_add(reconnects, -1, NULL), -EINVAL);
	ck_assert_int_eq(metrics_add(reconnects, NAN, NULL), -EINVAL);
	ck_assert_int_eq(metrics_add(reconnects, INFINITY, NULL), -EINVAL);
	ck_assert_int_eq(metrics_set(reconnects, 1, NULL), -EINVAL);
	ck_assert_int_eq(metrics_observe(reconnects, 1, NULL), -EINVAL);
	{
		char *text = render(m);

		ck_assert_ptr_nonnull(
		    strstr(text, "\nwelcomedly_ari_reconnects_total 3\n"));
		free(text);
	}
	metrics_free(m);
}
END_TEST

START_TEST(metrics_gauges)
{
	struct metrics *m = metrics_make();
	struct metrics_family *lag, *waiting;

	ck_assert_int_eq(metrics_gauge(m, "welcomedly_event_loop_lag_seconds",
				       NULL, 0, NULL, &lag),
			 0);
	ck_assert_int_eq(metrics_gauge(m, "welcomedly_queue_waiting",
				       "Callers waiting.", 1, L("campaign"),
				       &waiting),
			 0);
	ck_assert_int_eq(metrics_set(lag, 0.0025, NULL), 0);
	ck_assert_int_eq(metrics_set(waiting, 4, L("sales")), 0);
	ck_assert_int_eq(metrics_add(waiting, -5, L("sales")), 0);
	ck_assert_int_eq(metrics_add(waiting, 7, L("support")), 0);
	ck_assert_int_eq(metrics_set(waiting, INFINITY, L("inf")), 0);
	ck_assert_int_eq(metrics_set(waiting, NAN, L("nan")), 0);
	ck_assert_int_eq(metrics_observe(waiting, 1, L("x")), -EINVAL);
	assert_render(m, DROPPED(0) "# HELP welcomedly_event_loop_lag_seconds "
				    "\n"
				    "# TYPE welcomedly_event_loop_lag_seconds "
				    "gauge\n"
				    "welcomedly_event_loop_lag_seconds 0.0025\n"
				    "# HELP welcomedly_queue_waiting Callers "
				    "waiting.\n"
				    "# TYPE welcomedly_queue_waiting gauge\n"
				    "welcomedly_queue_waiting{campaign="
				    "\"sales\"} -1\n"
				    "welcomedly_queue_waiting{campaign="
				    "\"support\"} 7\n"
				    "welcomedly_queue_waiting{campaign="
				    "\"inf\"} +Inf\n"
				    "welcomedly_queue_waiting{campaign="
				    "\"nan\"} NaN\n");
	metrics_free(m);
}
END_TEST

START_TEST(metrics_histograms)
{
	static const double bounds[] = {0.25, 0.5, 1};
	struct metrics *m = metrics_make();
	struct metrics_family *rest, *lag;

	ck_assert_int_eq(
	    metrics_histogram(m, "welcomedly_ari_rest_duration_seconds",
			      "ARI REST durations.", 1, L("method"), 3, bounds,
			      &rest),
	    0);
	ck_assert_int_eq(metrics_histogram(m, "lag_seconds", "Lag.", 0, NULL, 1,
					   (const double[]){0.001}, &lag),
			 0);
	/* 0.5 lands in le="0.5": upper bounds are inclusive. */
	ck_assert_int_eq(metrics_observe(rest, 0.125, L("GET")), 0);
	ck_assert_int_eq(metrics_observe(rest, 0.5, L("GET")), 0);
	ck_assert_int_eq(metrics_observe(rest, 0.75, L("GET")), 0);
	ck_assert_int_eq(metrics_observe(rest, 2, L("GET")), 0);
	ck_assert_int_eq(metrics_observe(rest, 1, L("POST")), 0);
	ck_assert_int_eq(metrics_observe(rest, NAN, L("POST")), -EINVAL);
	ck_assert_int_eq(metrics_add(rest, 1, L("POST")), -EINVAL);
	ck_assert_int_eq(metrics_set(rest, 1, L("POST")), -EINVAL);
	assert_render(
	    m, DROPPED(0) "# HELP welcomedly_ari_rest_duration_seconds ARI "
			  "REST durations.\n"
			  "# TYPE welcomedly_ari_rest_duration_seconds "
			  "histogram\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"GET\",le=\"0.25\"} 1\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"GET\",le=\"0.5\"} 2\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"GET\",le=\"1\"} 3\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"GET\",le=\"+Inf\"} 4\n"
			  "welcomedly_ari_rest_duration_seconds_sum{method="
			  "\"GET\"} 3.375\n"
			  "welcomedly_ari_rest_duration_seconds_count{method="
			  "\"GET\"} 4\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"POST\",le=\"0.25\"} 0\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"POST\",le=\"0.5\"} 0\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"POST\",le=\"1\"} 1\n"
			  "welcomedly_ari_rest_duration_seconds_bucket{method="
			  "\"POST\",le=\"+Inf\"} 1\n"
			  "welcomedly_ari_rest_duration_seconds_sum{method="
			  "\"POST\"} 1\n"
			  "welcomedly_ari_rest_duration_seconds_count{method="
			  "\"POST\"} 1\n"
			  "# HELP lag_seconds Lag.\n"
			  "# TYPE lag_seconds histogram\n"
			  "lag_seconds_bucket{le=\"0.001\"} 0\n"
			  "lag_seconds_bucket{le=\"+Inf\"} 0\n"
			  "lag_seconds_sum 0\n"
			  "lag_seconds_count 0\n");
	metrics_free(m);
}
END_TEST

START_TEST(metrics_escaping)
{
	struct metrics *m = metrics_make();
	struct metrics_family *f;

	ck_assert_int_eq(metrics_counter(m, "esc_total",
					 "Back\\slash, \"quotes\"\nand a "
					 "newline.",
					 1, L("v"), &f),
			 0);
	ck_assert_int_eq(metrics_add(f, 1, L("a\\b\"c\nd")), 0);
	ck_assert_int_eq(metrics_add(f, 1, L("caf\xc3\xa9 {x=\"1\"}")), 0);
	ck_assert_int_eq(metrics_add(f, 1, L("")), 0);
	assert_render(m,
		      DROPPED(0) "# HELP esc_total Back\\\\slash, "
				 "\"quotes\"\\nand a newline.\n"
				 "# TYPE esc_total counter\n"
				 "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"
				 "esc_total{v=\"caf\xc3\xa9 {x=\\\"1\\\"}\"} "
				 "1\n"
				 "esc_total{v=\"\"} 1\n");
	metrics_free(m);
}
END_TEST

START_TEST(metrics_values)
{
	static const struct {
		double value;
		const char *text;
	} rows[] = {
	    {0, "0"},
	    {-0.0, "0"},
	    {1, "1"},
	    {-3, "-3"},
	    {0.1, "0.1"},
	    {2.5, "2.5"},
	    {1e-05, "1e-05"},
	    {1.0 / 3, "0.3333333333333333"},
	    {0.1 + 0.2, "0.30000000000000004"},
	    {123456789012.5, "123456789012.5"},
	    {9007199254740992.0, "9007199254740992"},
	    {1e18, "1000000000000000000"},
	    {1e20, "1e+20"},
	    {INFINITY, "+Inf"},
	    {-INFINITY, "-Inf"},
	    {NAN, "NaN"},
	};
	char buf[METRICS_VALUE_MAX];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ck_assert_str_eq(metrics_format_value(rows[i].value, buf),
				 rows[i].text);
		if (isfinite(rows[i].value))
			ck_assert(strtod(buf, NULL) == rows[i].value);
	}
}
END_TEST

struct agents_fixture {
	struct metrics_family *agents;
	const char *states[4];
	double counts[4];
	size_t n;
	int runs;
};

/* Rebuilds the gauge from "live state", the way the daemon would. */
static void collect_agents(struct metrics *m, void *userdata)
{
	struct agents_fixture *fx = userdata;

	fx->runs++;
	metrics_clear(fx->agents);
	for (size_t i = 0; i < fx->n; i++)
		ck_assert_int_eq(
		    metrics_set(fx->agents, fx->counts[i], L(fx->states[i])),
		    0);
}

START_TEST(metrics_collect)
{
	struct metrics *m = metrics_make();
	struct agents_fixture fx = {
	    .states = {"available", "paused", "in_call"},
	    .counts = {3, 1, 2},
	    .n = 3,
	};

	ck_assert_int_eq(metrics_gauge(m, "welcomedly_agents",
				       "Agents by state.", 1, L("state"),
				       &fx.agents),
			 0);
	ck_assert_int_eq(metrics_on_collect(m, collect_agents, &fx), 0);
	ck_assert_int_eq(metrics_on_collect(m, NULL, NULL), -EINVAL);
	ck_assert_int_eq(fx.runs, 0);
	assert_render(m, DROPPED(0) "# HELP welcomedly_agents Agents by "
				    "state.\n"
				    "# TYPE welcomedly_agents gauge\n"
				    "welcomedly_agents{state=\"available\"} 3\n"
				    "welcomedly_agents{state=\"paused\"} 1\n"
				    "welcomedly_agents{state=\"in_call\"} 2\n");
	ck_assert_int_eq(fx.runs, 1);
	/* The paused state is gone from the live state: no stale series. */
	fx.states[1] = "in_call";
	fx.counts[1] = 4;
	fx.n = 2;
	assert_render(m, DROPPED(0) "# HELP welcomedly_agents Agents by "
				    "state.\n"
				    "# TYPE welcomedly_agents gauge\n"
				    "welcomedly_agents{state=\"available\"} 3\n"
				    "welcomedly_agents{state=\"in_call\"} 4\n");
	ck_assert_int_eq(fx.runs, 2);
	metrics_free(m);
}
END_TEST

START_TEST(metrics_clear_unlabelled)
{
	struct metrics *m = metrics_make();
	struct metrics_family *g, *h;

	ck_assert_int_eq(metrics_gauge(m, "g", "G.", 0, NULL, &g), 0);
	ck_assert_int_eq(metrics_histogram(m, "h", "H.", 0, NULL, 1,
					   (const double[]){1}, &h),
			 0);
	ck_assert_int_eq(metrics_set(g, 5, NULL), 0);
	ck_assert_int_eq(metrics_observe(h, 5, NULL), 0);
	metrics_clear(g);
	metrics_clear(h);
	assert_render(m, DROPPED(0) "# HELP g G.\n# TYPE g gauge\ng 0\n"
				    "# HELP h H.\n# TYPE h histogram\n"
				    "h_bucket{le=\"1\"} 0\n"
				    "h_bucket{le=\"+Inf\"} 0\n"
				    "h_sum 0\nh_count 0\n");
	metrics_free(m);
}
END_TEST

START_TEST(metrics_series_cap)
{
	struct metrics *m = metrics_make();
	struct metrics_family *f;
	char value[METRICS_MAX_LABEL_VALUE + 2], *text, *p;
	size_t lines = 0;

	ck_assert_int_eq(
	    metrics_counter(m, "codes_total", "Codes.", 1, L("code"), &f), 0);
	for (int i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(value, sizeof(value), "%d", i);
		ck_assert_int_eq(metrics_add(f, 1, L(value)), 0);
	}
	ck_assert_int_eq(metrics_add(f, 1, L("one too many")), -ENOSPC);
	/* Existing series still count. */
	ck_assert_int_eq(metrics_add(f, 1, L("7")), 0);
	/* Values too long or not UTF-8 are dropped too. */
	memset(value, 'v', METRICS_MAX_LABEL_VALUE + 1);
	value[METRICS_MAX_LABEL_VALUE + 1] = '\0';
	ck_assert_int_eq(metrics_add(f, 1, L(value)), -E2BIG);
	ck_assert_int_eq(metrics_add(f, 1, L("bad\xff")), -EILSEQ);
	ck_assert_int_eq(metrics_add(f, 1, L("\xc0\xaf")), -EILSEQ);
	ck_assert_int_eq(metrics_add(f, 1, L("\xed\xa0\x80")), -EILSEQ);
	/* Caller bugs are refused but not counted as drops. */
	ck_assert_int_eq(metrics_add(f, 1, NULL), -EINVAL);
	ck_assert_int_eq(metrics_add(f, 1, L(NULL)), -EINVAL);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text, DROPPED(5)));
	ck_assert_ptr_nonnull(strstr(text, "\ncodes_total{code=\"7\"} 2\n"));
	ck_assert_ptr_null(strstr(text, "one too many"));
	for (p = text; (p = strstr(p, "\ncodes_total{")); p++)
		lines++;
	ck_assert_uint_eq(lines, METRICS_MAX_SERIES);
	free(text);
	/* At exactly the cap, a value is accepted. */
	value[METRICS_MAX_LABEL_VALUE] = '\0';
	metrics_clear(f);
	ck_assert_int_eq(metrics_add(f, 1, L(value)), 0);
	metrics_free(m);
}
END_TEST

START_TEST(metrics_bad_registrations)
{
	struct metrics *m = metrics_make();
	struct metrics_family *f = NULL;

	ck_assert_int_eq(metrics_counter(m, "", "", 0, NULL, &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, NULL, "", 0, NULL, &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "9x", "", 0, NULL, &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "a-b", "", 0, NULL, &f), -EINVAL);
	ck_assert_int_eq(
	    metrics_counter(m, "x", "", 4, L("a", "b", "c", "d"), &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "x", "", 1, NULL, &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "x", "", 2, L("a", "a"), &f),
			 -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "x", "", 1, L("__a"), &f), -EINVAL);
	ck_assert_int_eq(metrics_counter(m, "x", "", 1, L("a:b"), &f), -EINVAL);
	ck_assert_int_eq(metrics_histogram(m, "x", "", 1, L("le"), 1,
					   (const double[]){1}, &f),
			 -EINVAL);
	ck_assert_int_eq(metrics_histogram(m, "x", "", 0, NULL, 2,
					   (const double[]){1, 1}, &f),
			 -EINVAL);
	ck_assert_int_eq(metrics_histogram(m, "x", "", 0, NULL, 1,
					   (const double[]){INFINITY}, &f),
			 -EINVAL);
	ck_assert_int_eq(metrics_histogram(m, "x", "", 0, NULL,
					   METRICS_MAX_BUCKETS + 1,
					   (const double[]){0}, &f),
			 -EINVAL);
	ck_assert_int_eq(
	    metrics_counter(m, METRICS_DROPPED_NAME, "", 0, NULL, &f), -EEXIST);
	ck_assert_ptr_null(f);
	ck_assert_int_eq(metrics_gauge(m, "ns:x", "", 1, L("le"), &f), 0);
	ck_assert_int_eq(metrics_counter(m, "ns:x", "", 0, NULL, NULL),
			 -EEXIST);
	/* Nothing half-registered shows up. */
	assert_render(m, DROPPED(0) "# HELP ns:x \n# TYPE ns:x gauge\n");
	metrics_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, metrics_empty);
	tcase_add_test(tc, metrics_counters);
	tcase_add_test(tc, metrics_gauges);
	tcase_add_test(tc, metrics_histograms);
	tcase_add_test(tc, metrics_escaping);
	tcase_add_test(tc, metrics_values);
	tcase_add_test(tc, metrics_collect);
	tcase_add_test(tc, metrics_clear_unlabelled);
	tcase_add_test(tc, metrics_series_cap);
	tcase_add_test(tc, metrics_bad_registrations);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
