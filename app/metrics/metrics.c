/* metrics.c: families, series and the text exposition format. */
#include "metrics/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

/* The index key of a series: each value as "<length>:<value>", which keeps
 * keys of different value lists apart whatever bytes the values hold. */
#define KEY_MAX (METRICS_MAX_LABELS * (METRICS_MAX_LABEL_VALUE + 24))

struct series {
	char *key; /* in the family's index */
	char *values[METRICS_MAX_LABELS];
	double value; /* counter, gauge; histogram sum */
	uint64_t count;
	uint64_t buckets[]; /* histogram: per bucket, +Inf last; not
			       cumulative */
};

struct metrics_family {
	struct metrics *m;
	struct metrics_family *next;
	enum metrics_type type;
	char *name;
	char *help;
	size_t nlabels;
	char *labels[METRICS_MAX_LABELS];
	size_t nbuckets;
	double bounds[METRICS_MAX_BUCKETS];
	struct series **series; /* first-use order */
	size_t nseries;
	size_t series_cap;
	struct strmap *index; /* key -> series */
};

struct collector {
	struct collector *next;
	metrics_collect_cb cb;
	void *userdata;
};

struct metrics {
	struct metrics_family *families, **families_tail;
	struct collector *collectors, **collectors_tail;
	struct metrics_family *dropped;
};

/* ---- Names and values ---- */

static bool name_valid(const char *s, bool colon)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' ||
			  (colon && c == ':');

		if (!ok)
			return false;
	}
	return true;
}

/* Label names: valid, not reserved, not repeated, no "le" on histograms. */
static bool labels_valid(enum metrics_type type, size_t n,
			 const char *const names[])
{
	if (n > METRICS_MAX_LABELS || (n && !names))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!name_valid(names[i], false) ||
		    strncmp(names[i], "__", 2) == 0)
			return false;
		if (type == METRICS_HISTOGRAM && strcmp(names[i], "le") == 0)
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				return false;
	}
	return true;
}

static bool bounds_valid(size_t n, const double bounds[])
{
	if (n > METRICS_MAX_BUCKETS || (n && !bounds))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
			return false;
	}
	return true;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF,
 * since scrapers decode the whole page and fail on one bad byte. */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++, n, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3, cp = c & 0x07;
		else
			return false;
		for (unsigned i = 0; i < n; i++, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*s & 0x3f);
		}
		if ((n == 2 &&
		     (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
	}
	return true;
}

const char *metrics_format_value(double value, char *buf)
{
	if (isnan(value))
		return strcpy(buf, "NaN");
	if (isinf(value))
		return strcpy(buf, value > 0 ? "+Inf" : "-Inf");
	/* Below 2^63 an integral double prints exactly in 19 digits. */
	if (value == trunc(value) && fabs(value) < 9223372036854775808.0) {
		snprintf(buf, METRICS_VALUE_MAX, "%.0f",
			 value == 0 ? 0 : value);
		return buf;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, METRICS_VALUE_MAX, "%.*g", prec, value);
		if (strtod(buf, NULL) == value)
			break;
	}
	return buf;
}

/* ---- Registration ---- */

static void series_free(struct series *s)
{
	free(s->key);
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s);
}

static void family_free(struct metrics_family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i]);
	free(f->series);
	strmap_free(f->index);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->name);
	free(f->help);
	free(f);
}

static struct metrics_family *family_find(const struct metrics *m,
					  const char *name)
{
	for (struct metrics_family *f = m->families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static int series_get(struct metrics_family *f, const char *const values[],
		      struct series **ret);

/* Copies the strings and bounds into a new family; NULL when out of
 * memory. */
static struct metrics_family *family_new(enum metrics_type type,
					 const char *name, const char *help,
					 size_t nlabels,
					 const char *const label_names[],
					 size_t nbuckets, const double bounds[])
{
	struct metrics_family *f = calloc(1, sizeof(*f));
	bool ok;

	if (!f)
		return NULL;
	f->type = type;
	f->nlabels = nlabels;
	f->nbuckets = nbuckets;
	if (nbuckets)
		memcpy(f->bounds, bounds, nbuckets * sizeof(*bounds));
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->index = strmap_new();
	ok = f->name && f->help && f->index;
	for (size_t i = 0; i < nlabels; i++) {
		f->labels[i] = strdup(label_names[i]);
		ok = ok && f->labels[i] != NULL;
	}
	if (!ok) {
		family_free(f);
		return NULL;
	}
	return f;
}

static int family_register(struct metrics *m, enum metrics_type type,
			   const char *name, const char *help, size_t nlabels,
			   const char *const label_names[], size_t nbuckets,
			   const double bounds[], struct metrics_family **ret)
{
	struct metrics_family *f;
	struct series *s;

	if (!name_valid(name, true) ||
	    !labels_valid(type, nlabels, label_names) ||
	    !bounds_valid(nbuckets, bounds))
		return -EINVAL;
	if (family_find(m, name))
		return -EEXIST;
	f = family_new(type, name, help, nlabels, label_names, nbuckets,
		       bounds);
	if (!f)
		return -ENOMEM;
	f->m = m;
	/* A family without labels shows its zero from the start, as the
	 * reference clients do, so that rate() has a first sample. */
	if (nlabels == 0 && series_get(f, NULL, &s) < 0) {
		family_free(f);
		return -ENOMEM;
	}
	*m->families_tail = f;
	m->families_tail = &f->next;
	if (ret)
		*ret = f;
	return 0;
}

int metrics_counter(struct metrics *m, const char *name, const char *help,
		    size_t nlabels, const char *const label_names[],
		    struct metrics_family **ret)
{
	return family_register(m, METRICS_COUNTER, name, help, nlabels,
			       label_names, 0, NULL, ret);
}

int metrics_gauge(struct metrics *m, const char *name, const char *help,
		  size_t nlabels, const char *const label_names[],
		  struct metrics_family **ret)
{
	return family_register(m, METRICS_GAUGE, name, help, nlabels,
			       label_names, 0, NULL, ret);
}

int metrics_histogram(struct metrics *m, const char *name, const char *help,
		      size_t nlabels, const char *const label_names[],
		      size_t nbuckets, const double bounds[],
		      struct metrics_family **ret)
{
	return family_register(m, METRICS_HISTOGRAM, name, help, nlabels,
			       label_names, nbuckets, bounds, ret);
}

int metrics_new(struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->families_tail = &m->families;
	m->collectors_tail = &m->collectors;
	r = metrics_counter(m, METRICS_DROPPED_NAME,
			    "Metric updates dropped for their label values or "
			    "the series cap.",
			    0, NULL, &m->dropped);
	if (r < 0) {
		metrics_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	struct metrics_family *f, *fnext;
	struct collector *c, *cnext;

	if (!m)
		return;
	for (f = m->families; f; f = fnext) {
		fnext = f->next;
		family_free(f);
	}
	for (c = m->collectors; c; c = cnext) {
		cnext = c->next;
		free(c);
	}
	free(m);
}

int metrics_on_collect(struct metrics *m, metrics_collect_cb cb, void *userdata)
{
	struct collector *c;

	if (!cb)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	c->userdata = userdata;
	*m->collectors_tail = c;
	m->collectors_tail = &c->next;
	return 0;
}

/* ---- Series ---- */

/* Checks the label values and builds the index key into key (KEY_MAX). */
static int series_key(const struct metrics_family *f,
		      const char *const values[], char *key)
{
	size_t used = 0;

	key[0] = '\0';
	if (f->nlabels && !values)
		return -EINVAL;
	for (size_t i = 0; i < f->nlabels; i++) {
		size_t len;

		if (!values[i])
			return -EINVAL;
		len = strlen(values[i]);
		if (len > METRICS_MAX_LABEL_VALUE)
			return -E2BIG;
		if (!utf8_valid((const unsigned char *)values[i]))
			return -EILSEQ;
		used += (size_t)snprintf(key + used, KEY_MAX - used, "%zu:%s",
					 len, values[i]);
	}
	return 0;
}

static struct series *series_new(const struct metrics_family *f,
				 const char *key, const char *const values[])
{
	size_t nb = f->type == METRICS_HISTOGRAM ? f->nbuckets + 1 : 0;
	struct series *s = calloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]));

	if (!s)
		return NULL;
	s->key = strdup(key);
	if (!s->key) {
		series_free(s);
		return NULL;
	}
	for (size_t i = 0; i < f->nlabels; i++) {
		s->values[i] = strdup(values[i]);
		if (!s->values[i]) {
			series_free(s);
			return NULL;
		}
	}
	return s;
}

/* Appends s to the first-use list and the index. */
static int series_insert(struct metrics_family *f, struct series *s)
{
	if (f->nseries == f->series_cap) {
		size_t cap = f->series_cap ? f->series_cap * 2 : 8;
		struct series **grown =
		    realloc(f->series, cap * sizeof(*f->series));

		if (!grown)
			return -ENOMEM;
		f->series = grown;
		f->series_cap = cap;
	}
	if (strmap_put(f->index, s->key, s) < 0)
		return -ENOMEM;
	f->series[f->nseries++] = s;
	return 0;
}

/* Finds or creates the series for values; returns 0 or a negative errno
 * from the table in metrics.h (without counting the drop). */
static int series_get(struct metrics_family *f, const char *const values[],
		      struct series **ret)
{
	char key[KEY_MAX];
	struct series *s;
	int r;

	r = series_key(f, values, key);
	if (r < 0)
		return r;
	s = strmap_get(f->index, key);
	if (!s) {
		if (f->nseries >= METRICS_MAX_SERIES)
			return -ENOSPC;
		s = series_new(f, key, values);
		if (!s)
			return -ENOMEM;
		r = series_insert(f, s);
		if (r < 0) {
			series_free(s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

/* series_get, counting refused updates as dropped. A NULL label value is
 * a caller's bug, not a drop. */
static int series_for_update(struct metrics_family *f,
			     const char *const values[], struct series **ret)
{
	int r = series_get(f, values, ret);

	if (r < 0 && r != -EINVAL)
		f->m->dropped->series[0]->value += 1;
	return r;
}

int metrics_add(struct metrics_family *f, double value,
		const char *const label_values[])
{
	struct series *s;
	int r;

	if (f->type == METRICS_HISTOGRAM ||
	    (f->type == METRICS_COUNTER && !(isfinite(value) && value >= 0)))
		return -EINVAL;
	r = series_for_update(f, label_values, &s);
	if (r < 0)
		return r;
	s->value += value;
	return 0;
}

int metrics_set(struct metrics_family *f, double value,
		const char *const label_values[])
{
	struct series *s;
	int r;

	if (f->type != METRICS_GAUGE)
		return -EINVAL;
	r = series_for_update(f, label_values, &s);
	if (r < 0)
		return r;
	s->value = value;
	return 0;
}

int metrics_observe(struct metrics_family *f, double value,
		    const char *const label_values[])
{
	struct series *s;
	size_t i = 0;
	int r;

	if (f->type != METRICS_HISTOGRAM || isnan(value))
		return -EINVAL;
	r = series_for_update(f, label_values, &s);
	if (r < 0)
		return r;
	/* Upper bounds are inclusive ("le"); past the last is +Inf. */
	while (i < f->nbuckets && value > f->bounds[i])
		i++;
	s->buckets[i]++;
	s->count++;
	s->value += value;
	return 0;
}

void metrics_clear(struct metrics_family *f)
{
	size_t nb = f->type == METRICS_HISTOGRAM ? f->nbuckets + 1 : 0;
	struct series *s;

	if (f->nlabels == 0) {
		s = f->series[0];
		s->value = 0;
		s->count = 0;
		memset(s->buckets, 0, nb * sizeof(s->buckets[0]));
		return;
	}
	for (size_t i = 0; i < f->nseries; i++) {
		s = f->series[i];
		strmap_remove(f->index, s->key);
		series_free(s);
	}
	f->nseries = 0;
}

/* ---- Rendering ---- */

/* A growing text; after the first allocation failure every append is a
 * no-op and failed stays set. */
struct out {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

static bool out_reserve(struct out *o, size_t extra)
{
	size_t cap = o->cap ? o->cap : 4096;
	char *grown;

	if (o->failed)
		return false;
	if (o->len + extra < o->cap)
		return true;
	while (cap <= o->len + extra)
		cap *= 2;
	grown = realloc(o->data, cap);
	if (!grown) {
		o->failed = true;
		return false;
	}
	o->data = grown;
	o->cap = cap;
	return true;
}

static void out_putc(struct out *o, char c)
{
	if (out_reserve(o, 1)) {
		o->data[o->len++] = c;
		o->data[o->len] = '\0';
	}
}

static void out_puts(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (out_reserve(o, len)) {
		memcpy(o->data + o->len, s, len + 1);
		o->len += len;
	}
}

/* Escapes backslash and newline, and the double quote inside label
 * values, as the exposition format requires. */
static void out_escaped(struct out *o, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			out_puts(o, "\\\\");
		else if (*s == '\n')
			out_puts(o, "\\n");
		else if (*s == '"' && quote)
			out_puts(o, "\\\"");
		else
			out_putc(o, *s);
	}
}

static void out_label(struct out *o, bool first, const char *name,
		      const char *value)
{
	if (!first)
		out_putc(o, ',');
	out_puts(o, name);
	out_puts(o, "=\"");
	out_escaped(o, value, true);
	out_putc(o, '"');
}

/* One line: name+suffix{labels[,le]} value. */
static void render_sample(struct out *o, const struct metrics_family *f,
			  const struct series *s, const char *suffix,
			  const char *le, const char *value)
{
	out_puts(o, f->name);
	out_puts(o, suffix);
	if (f->nlabels || le) {
		out_putc(o, '{');
		for (size_t i = 0; i < f->nlabels; i++)
			out_label(o, i == 0, f->labels[i], s->values[i]);
		if (le)
			out_label(o, f->nlabels == 0, "le", le);
		out_putc(o, '}');
	}
	out_putc(o, ' ');
	out_puts(o, value);
	out_putc(o, '\n');
}

/* Buckets are stored apart and summed here: the format wants each bucket
 * to count every observation at or below its bound. */
static void render_histogram(struct out *o, const struct metrics_family *f,
			     const struct series *s)
{
	char le[METRICS_VALUE_MAX], num[32];
	uint64_t cumulative = 0;

	for (size_t i = 0; i <= f->nbuckets; i++) {
		cumulative += s->buckets[i];
		snprintf(num, sizeof(num), "%" PRIu64, cumulative);
		render_sample(o, f, s, "_bucket",
			      i < f->nbuckets
				  ? metrics_format_value(f->bounds[i], le)
				  : "+Inf",
			      num);
	}
	render_sample(o, f, s, "_sum", NULL,
		      metrics_format_value(s->value, le));
	snprintf(num, sizeof(num), "%" PRIu64, s->count);
	render_sample(o, f, s, "_count", NULL, num);
}

static void render_family(struct out *o, const struct metrics_family *f)
{
	static const char *const type_names[] = {
	    [METRICS_COUNTER] = "counter",
	    [METRICS_GAUGE] = "gauge",
	    [METRICS_HISTOGRAM] = "histogram",
	};
	char num[METRICS_VALUE_MAX];

	out_puts(o, "# HELP ");
	out_puts(o, f->name);
	out_putc(o, ' ');
	out_escaped(o, f->help, false);
	out_puts(o, "\n# TYPE ");
	out_puts(o, f->name);
	out_putc(o, ' ');
	out_puts(o, type_names[f->type]);
	out_putc(o, '\n');
	for (size_t i = 0; i < f->nseries; i++) {
		const struct series *s = f->series[i];

		if (f->type == METRICS_HISTOGRAM)
			render_histogram(o, f, s);
		else
			render_sample(o, f, s, "", NULL,
				      metrics_format_value(s->value, num));
	}
}

int metrics_render(struct metrics *m, char **ret_text, size_t *ret_len)
{
	struct out o = {0};

	for (struct collector *c = m->collectors; c; c = c->next)
		c->cb(m, c->userdata);
	for (const struct metrics_family *f = m->families; f; f = f->next)
		render_family(&o, f);
	if (o.failed) {
		free(o.data);
		return -ENOMEM;
	}
	*ret_text = o.data;
	if (ret_len)
		*ret_len = o.len;
	return 0;
}
