/* csv.h: leads imported from CSV text (RFC 4180), validated row by row. */
#ifndef APP_LEADS_CSV_H
#define APP_LEADS_CSV_H

#include <jansson.h>
#include <stddef.h>

/*
 * The first non-empty line names the columns: "phone" is required, "name"
 * is optional (both matched without regard to case or surrounding spaces),
 * and every other column goes into the row's data object as a string under
 * its name as written. Fields follow RFC 4180: separated by commas, quoted
 * with '"' when they hold commas, quotes ("" inside quotes) or line breaks;
 * lines end with CRLF, LF or a lone CR; a UTF-8 byte order mark is skipped
 * and empty lines are ignored. Each bad row is reported with the line it
 * starts on and skipped; the rest of the file is still read.
 * Nothing here does I/O or keeps state.
 */

/* Named caps on what an uploaded file controls. */
#define LEADS_CSV_MAX_ROWS 100000  /* data rows, bad ones included */
#define LEADS_CSV_MAX_FIELD 1024   /* bytes of one field, after unquoting */
#define LEADS_CSV_MAX_COLUMNS 64   /* fields of one line */
#define LEADS_CSV_MAX_ERRORS 1000  /* bad rows reported before giving up */
#define LEADS_CSV_MESSAGE_SIZE 160 /* one message, NUL included */

/* One bad row, or the reason the file was not read (further). */
struct leads_csv_error {
	size_t line; /* 1-based line the row starts on */
	char message[LEADS_CSV_MESSAGE_SIZE]; /* a sentence, no line number */
};

/*
 * Receives one good row: line is where it starts; phone (trimmed, never
 * empty) and name (trimmed; NULL when there is no name column or it is
 * empty) are borrowed for the call; data is a borrowed object of the other
 * columns, json_incref() it to keep it. Returns 0 to go on, or a negative
 * errno that stops the parse and is returned by leads_csv_parse().
 */
typedef int (*leads_csv_row_cb)(void *userdata, size_t line, const char *phone,
				const char *name, json_t *data);

/*
 * Parses len bytes of text (no NUL needed), calling cb once for each good
 * row in file order, and returns the number of good rows. On success
 * *ret_errors is a malloc'd array of *ret_nerrors reports (NULL and 0 when
 * every row was good) for the caller to free(); a file whose header is
 * unusable gives 0 rows and one report for line 1. After
 * LEADS_CSV_MAX_ERRORS bad rows, or past LEADS_CSV_MAX_ROWS rows, one more
 * report says the rest was not read, and parsing stops.
 * Returns -EINVAL when text (with len > 0), cb, ret_errors or ret_nerrors is
 * NULL, -ENOMEM, or cb's negative return; then *ret_errors and *ret_nerrors
 * are untouched and nothing is left allocated.
 */
int leads_csv_parse(const char *text, size_t len, leads_csv_row_cb cb,
		    void *userdata, struct leads_csv_error **ret_errors,
		    size_t *ret_nerrors);

#endif /* APP_LEADS_CSV_H */
