/* metrics.h: a small Prometheus registry rendered as text exposition format
 * 0.0.4. */
#ifndef APP_METRICS_H
#define APP_METRICS_H

#include <stddef.h>

/*
 * Families (counter, gauge, histogram) are registered up front with their
 * label names; a series is created the first time a set of label values is
 * used, and a family without labels has its one series from registration
 * on, at zero. Pure bookkeeping: no I/O, no clock, no global state.
 *
 * Label values usually come from outside (campaign names, HTTP codes), so
 * the number of series per family and the length of a value are capped.
 * An update refused for its label values (too long, not UTF-8) or because
 * the family already has METRICS_MAX_SERIES series is dropped and counted
 * in welcomedly_metrics_dropped_total, a counter every registry has as its
 * first family.
 */

struct metrics;        /* opaque */
struct metrics_family; /* opaque; owned by its registry */

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Label names per family. */
#define METRICS_MAX_LABELS 3
/* Series per family; updates that would create more are dropped. */
#define METRICS_MAX_SERIES 1024
/* Bucket upper bounds per histogram, +Inf not counted. */
#define METRICS_MAX_BUCKETS 32
/* Bytes of one label value. */
#define METRICS_MAX_LABEL_VALUE 256
/* The family counting dropped updates. */
#define METRICS_DROPPED_NAME "welcomedly_metrics_dropped_total"

/* Runs at each metrics_render, before any text is produced, to set gauges
 * from live state. It may update and clear families and register new ones;
 * it must not free the registry. */
typedef void (*metrics_collect_cb)(struct metrics *m, void *userdata);

/* Creates an empty registry (but for the dropped-updates counter). Returns
 * 0 and sets *ret, or -ENOMEM. */
int metrics_new(struct metrics **ret);

/* Frees the registry and its families; collect callbacks do not run.
 * NULL is a no-op. */
void metrics_free(struct metrics *m);

/*
 * Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* (for a
 * counter, the whole name, usually ending in _total); help (copied) may be
 * NULL for "". label_names holds nlabels (at most METRICS_MAX_LABELS)
 * distinct names matching [a-zA-Z_][a-zA-Z0-9_]* and not starting with
 * "__"; all strings are copied. Returns 0 and sets *ret (valid until
 * metrics_free), -EINVAL (a bad name or label), -EEXIST (name taken) or
 * -ENOMEM.
 */
int metrics_counter(struct metrics *m, const char *name, const char *help,
		    size_t nlabels, const char *const label_names[],
		    struct metrics_family **ret);
int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  size_t nlabels, const char *const label_names[],
		  struct metrics_family **ret);

/* Registers a histogram as above, with nbuckets (at most
 * METRICS_MAX_BUCKETS) finite, strictly increasing upper bounds (copied);
 * the +Inf bucket is implicit. No label may be named "le". Returns as
 * metrics_counter, -EINVAL also for bad bounds. */
int metrics_histogram(struct metrics *m, const char *name, const char *help,
		      size_t nlabels, const char *const label_names[],
		      size_t nbuckets, const double bounds[],
		      struct metrics_family **ret);

/*
 * Updates the series named by label_values, which holds one value per
 * label name of the family, in registration order (NULL when the family
 * has none); values are copied when a series is created.
 *   metrics_add: adds value to a counter (finite, >= 0) or a gauge (any).
 *   metrics_set: sets a gauge.
 *   metrics_observe: counts value (not NaN) in a histogram's buckets, sum
 *   and count.
 * Returns 0; -EINVAL for the wrong family type, a bad value or a NULL
 * label value; or, with the update dropped and counted: -E2BIG (a value
 * longer than METRICS_MAX_LABEL_VALUE), -EILSEQ (a value not UTF-8),
 * -ENOSPC (the series cap) or -ENOMEM.
 */
int metrics_add(struct metrics_family *f, double value,
		const char *const label_values[]);
int metrics_set(struct metrics_family *f, double value,
		const char *const label_values[]);
int metrics_observe(struct metrics_family *f, double value,
		    const char *const label_values[]);

/* Forgets every series of the family (a family without labels goes back
 * to zero), for collect callbacks that rebuild a gauge from scratch so
 * that values which disappeared do not linger. */
void metrics_clear(struct metrics_family *f);

/* Adds cb to the callbacks run, in registration order, at each render,
 * until metrics_free. Returns 0, -EINVAL (NULL cb) or -ENOMEM. */
int metrics_on_collect(struct metrics *m, metrics_collect_cb cb,
		       void *userdata);

/*
 * Runs the collect callbacks, then renders every family in registration
 * order (# HELP, # TYPE, then its series in first-use order) as text
 * exposition format 0.0.4. Returns 0 and sets *ret_text (malloc'd,
 * NUL-terminated; the caller frees it) and *ret_len (may be NULL), or
 * -ENOMEM.
 */
int metrics_render(struct metrics *m, char **ret_text, size_t *ret_len);

/* Formats value the way the exposition format expects: integers without
 * exponent where exact, the shortest text that reads back to the same
 * double otherwise, "+Inf", "-Inf", "NaN". buf must hold
 * METRICS_VALUE_MAX bytes; returns buf. */
#define METRICS_VALUE_MAX 32
const char *metrics_format_value(double value, char *buf);

#endif /* APP_METRICS_H */
