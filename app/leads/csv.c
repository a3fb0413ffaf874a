/* csv.c: an RFC 4180 reader that reports bad rows by line, not failing. */
#include "leads/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"

/* How a field ended. */
enum end { END_COMMA, END_LINE, END_FILE };

/* What a step of the parse tells its caller: go on or stop reading (a
 * negative errno is a failure). */
enum { GO_ON = 0, STOP = 1 };

/* One record, as read; fields past LEADS_CSV_MAX_COLUMNS are counted but
 * not kept, and bytes past LEADS_CSV_MAX_FIELD are dropped. */
struct record {
	char field[LEADS_CSV_MAX_COLUMNS][LEADS_CSV_MAX_FIELD + 1];
	size_t len[LEADS_CSV_MAX_COLUMNS];
	size_t count;
	size_t line; /* where the record starts */
	bool quoted; /* some field was quoted: not an empty line */
	char problem[LEADS_CSV_MESSAGE_SIZE]; /* the first one; "" none */
};

struct parser {
	const char *p, *end;
	size_t line;
	struct record rec;
	char names[LEADS_CSV_MAX_COLUMNS][LEADS_CSV_MAX_FIELD + 1];
	size_t ncolumns;
	size_t phone, name; /* column indexes; SIZE_MAX: none */
	size_t rows, good, bad;
	struct leads_csv_error *errors;
	size_t nerrors, cap;
	leads_csv_row_cb cb;
	void *userdata;
};

static void problem(struct record *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int report(struct parser *ps, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Notes what is wrong with the record being read; the first problem is the
 * one reported. */
static void problem(struct record *rec, const char *fmt, ...)
{
	va_list ap;

	if (rec->problem[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rec->problem, sizeof(rec->problem), fmt, ap);
	va_end(ap);
}

/* Adds a report for line; returns GO_ON or -ENOMEM. */
static int report(struct parser *ps, size_t line, const char *fmt, ...)
{
	struct leads_csv_error *e;
	va_list ap;

	if (ps->nerrors == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 8;

		e = realloc(ps->errors, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		ps->errors = e;
		ps->cap = cap;
	}
	e = &ps->errors[ps->nerrors++];
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return GO_ON;
}

/* Appends c to the current field, or notes that it is too long. */
static void append(struct record *rec, size_t idx, size_t *n, char c)
{
	if (idx >= LEADS_CSV_MAX_COLUMNS)
		return;
	if (*n < LEADS_CSV_MAX_FIELD)
		rec->field[idx][(*n)++] = c;
	else
		problem(rec, "field %zu is longer than %d bytes", idx + 1,
			LEADS_CSV_MAX_FIELD);
}

/* Reads the inside of a quoted field, after its opening quote. Returns
 * false when the file ends before the closing quote. */
static bool read_quoted(struct parser *ps, size_t idx, size_t *n)
{
	while (ps->p < ps->end) {
		char c = *ps->p++;

		if (c == '"' && (ps->p == ps->end || *ps->p != '"'))
			return true;
		if (c == '"')
			ps->p++;
		else if (c == '\n' ||
			 (c == '\r' && (ps->p == ps->end || *ps->p != '\n')))
			ps->line++;
		append(&ps->rec, idx, n, c);
	}
	problem(&ps->rec, "a quoted field is not closed before the end of "
			  "the file");
	return false;
}

/* Consumes a line break at p, if there is one. */
static bool line_break(struct parser *ps)
{
	if (*ps->p == '\n') {
		ps->p++;
	} else if (*ps->p == '\r') {
		ps->p++;
		if (ps->p < ps->end && *ps->p == '\n')
			ps->p++;
	} else {
		return false;
	}
	ps->line++;
	return true;
}

/* Reads one field, quoted or not, and the comma or line break after it.
 * Problems are noted in the record, whose reading goes on to its end so
 * that the next record starts in the right place. */
static enum end read_field(struct parser *ps)
{
	struct record *rec = &ps->rec;
	size_t idx = rec->count++, n = 0;
	bool quoted = ps->p < ps->end && *ps->p == '"';
	enum end end = END_FILE;

	if (idx == LEADS_CSV_MAX_COLUMNS)
		problem(rec, "the row has more than %d fields",
			LEADS_CSV_MAX_COLUMNS);
	if (quoted) {
		ps->p++;
		rec->quoted = true;
		if (!read_quoted(ps, idx, &n))
			goto out;
	}
	while (ps->p < ps->end) {
		if (*ps->p == ',') {
			ps->p++;
			end = END_COMMA;
			goto out;
		}
		if (line_break(ps)) {
			end = END_LINE;
			goto out;
		}
		if (quoted)
			problem(rec,
				"field %zu has text after its closing quote",
				idx + 1);
		else if (*ps->p == '"')
			problem(rec,
				"field %zu holds a quote but is not quoted as "
				"a whole",
				idx + 1);
		append(rec, idx, &n, *ps->p++);
	}
out:
	if (idx < LEADS_CSV_MAX_COLUMNS) {
		rec->field[idx][n] = '\0';
		rec->len[idx] = n;
	}
	return end;
}

/* Reads the next record; returns false at the end of the text. */
static bool read_record(struct parser *ps)
{
	struct record *rec = &ps->rec;

	if (ps->p >= ps->end)
		return false;
	rec->count = 0;
	rec->line = ps->line;
	rec->quoted = false;
	rec->problem[0] = '\0';
	while (read_field(ps) == END_COMMA)
		continue;
	return true;
}

/* True for a line with nothing but spaces and tabs. */
static bool record_is_empty(const struct record *rec)
{
	const char *f = rec->field[0];

	return rec->count == 1 && !rec->quoted &&
	       strspn(f, " \t") == rec->len[0];
}

/* Trims spaces and tabs around a field, in place. */
static char *trim(char *s)
{
	size_t n;

	s += strspn(s, " \t");
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Checks one header name, notes a problem with it, and keeps it. */
static void header_column(struct parser *ps, size_t i)
{
	struct record *rec = &ps->rec;
	bool valid = utf8_valid(rec->field[i], rec->len[i]);
	char *name = trim(rec->field[i]);

	if (!valid)
		problem(rec, "column %zu's name is not valid UTF-8 text",
			i + 1);
	else if (!*name)
		problem(rec, "column %zu has no name", i + 1);
	for (size_t k = 0; k < i && !rec->problem[0]; k++) {
		if (strcasecmp(ps->names[k], name) == 0)
			problem(rec,
				"columns %zu and %zu are both named \"%.40s\"",
				k + 1, i + 1, name);
	}
	memmove(ps->names[i], name, strlen(name) + 1);
	if (strcasecmp(name, "phone") == 0)
		ps->phone = i;
	else if (strcasecmp(name, "name") == 0)
		ps->name = i;
}

/* Takes the record just read as the header. Returns GO_ON, or STOP after
 * reporting why the file cannot be read. */
static int header(struct parser *ps)
{
	struct record *rec = &ps->rec;

	ps->phone = ps->name = SIZE_MAX;
	for (size_t i = 0; i < rec->count && i < LEADS_CSV_MAX_COLUMNS; i++)
		header_column(ps, i);
	if (ps->phone == SIZE_MAX)
		problem(rec, "no column is named \"phone\"");
	if (rec->problem[0]) {
		int r = report(ps, rec->line, "the header line is unusable: %s",
			       rec->problem);

		return r < 0 ? r : STOP;
	}
	ps->ncolumns = rec->count;
	return GO_ON;
}

/* Finds what is wrong with the data row just read, if anything. */
static void check_row(struct parser *ps)
{
	struct record *rec = &ps->rec;

	if (rec->count != ps->ncolumns)
		problem(rec,
			"the row has %zu field%s where the header names %zu",
			rec->count, rec->count == 1 ? "" : "s", ps->ncolumns);
	for (size_t i = 0; i < rec->count && !rec->problem[0]; i++) {
		if (!utf8_valid(rec->field[i], rec->len[i]))
			problem(rec,
				"field %zu (%.40s) is not valid UTF-8 text",
				i + 1, ps->names[i]);
	}
	if (!rec->problem[0] && !*trim(rec->field[ps->phone]))
		problem(rec, "the phone is empty");
}

/* Collects the columns other than phone and name; NULL when out of
 * memory. */
static json_t *row_data(struct parser *ps)
{
	struct record *rec = &ps->rec;
	json_t *data = json_object();

	for (size_t i = 0; data && i < ps->ncolumns; i++) {
		if (i == ps->phone || i == ps->name)
			continue;
		if (json_object_set_new(
			data, ps->names[i],
			json_stringn(rec->field[i], rec->len[i])) < 0) {
			json_decref(data);
			data = NULL;
		}
	}
	return data;
}

/* Reports the bad row just read; STOP when there were too many. */
static int bad_row(struct parser *ps)
{
	if (ps->bad++ == LEADS_CSV_MAX_ERRORS) {
		int r = report(ps, ps->rec.line,
			       "more than %d rows are bad; the rest of the "
			       "file was not read",
			       LEADS_CSV_MAX_ERRORS);

		return r < 0 ? r : STOP;
	}
	return report(ps, ps->rec.line, "%s", ps->rec.problem);
}

/* Delivers or reports the data row just read. */
static int row(struct parser *ps)
{
	struct record *rec = &ps->rec;
	const char *phone, *name = NULL;
	json_t *data;
	int r;

	check_row(ps);
	if (rec->problem[0])
		return bad_row(ps);
	phone = trim(rec->field[ps->phone]);
	if (ps->name != SIZE_MAX && *trim(rec->field[ps->name]))
		name = trim(rec->field[ps->name]);
	data = row_data(ps);
	if (!data)
		return -ENOMEM;
	r = ps->cb(ps->userdata, rec->line, phone, name, data);
	json_decref(data);
	if (r < 0)
		return r;
	ps->good++;
	return GO_ON;
}

/* Reads the next non-empty record; false at the end of the text. */
static bool next_record(struct parser *ps)
{
	while (read_record(ps)) {
		if (!record_is_empty(&ps->rec))
			return true;
	}
	return false;
}

static int run(struct parser *ps)
{
	int r;

	if (!next_record(ps)) {
		r = report(ps, 1,
			   "the file is empty; its first line must name the "
			   "columns");
		return r < 0 ? r : STOP;
	}
	r = header(ps);
	while (r == GO_ON && next_record(ps)) {
		if (ps->rows++ == LEADS_CSV_MAX_ROWS) {
			r = report(ps, ps->rec.line,
				   "the file has more than %d rows; the rest "
				   "was not read",
				   LEADS_CSV_MAX_ROWS);
			break;
		}
		r = row(ps);
	}
	return r < 0 ? r : GO_ON;
}

int leads_csv_parse(const char *text, size_t len, leads_csv_row_cb cb,
		    void *userdata, struct leads_csv_error **ret_errors,
		    size_t *ret_nerrors)
{
	struct parser *ps;
	int r;

	if ((!text && len > 0) || !cb || !ret_errors || !ret_nerrors)
		return -EINVAL;
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	/* An empty text may come as NULL, which takes no arithmetic. */
	ps->p = text ? text : "";
	ps->end = ps->p + len;
	ps->line = 1;
	ps->cb = cb;
	ps->userdata = userdata;
	if (len >= 3 && memcmp(ps->p, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;
	r = run(ps);
	if (r < 0) {
		free(ps->errors);
		goto out;
	}
	*ret_errors = ps->errors;
	*ret_nerrors = ps->nerrors;
	r = (int)ps->good;
out:
	free(ps);
	return r;
}
