/* csv.h: how one cell of CSV output must be written to be read back safely. */
#ifndef UTIL_CSV_H
#define UTIL_CSV_H

/* The cell holds a comma, a quote or a line break: write it between double
 * quotes (RFC 4180), doubling the quotes it holds. */
#define CSV_CELL_QUOTE 1u
/* The cell starts with a character that spreadsheets read as the start of
 * a formula (=, +, -, @) or strip before reading one (TAB, CR): write a '
 * before it. A signed number ("-5", "+12125550100") is left as it is. */
#define CSV_CELL_NEUTRALIZE 2u

/* Returns the CSV_CELL_* flags that the NUL-terminated text v needs (0 for
 * none); v may not be NULL. */
unsigned csv_cell_flags(const char *v);

#endif /* UTIL_CSV_H */
