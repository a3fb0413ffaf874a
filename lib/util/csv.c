/* csv.c: quoting and formula neutralization of CSV output cells. */
#include "util/csv.h"

#include <stdbool.h>
#include <string.h>

/* Characters that start a formula; a number after them is still a number. */
#define FORMULA_STARTS "=+-@"
/* Characters that spreadsheets skip before looking for a formula, so that
 * "\t=cmd()" runs as "=cmd()": neutralized whatever follows them. */
#define FORMULA_BLANKS "\t\r"

static bool needs_neutralizing(const char *v)
{
	if (*v == '\0')
		return false;
	if (strchr(FORMULA_BLANKS, *v))
		return true;
	return strchr(FORMULA_STARTS, *v) &&
	       strspn(v + 1, "0123456789") != strlen(v + 1);
}

unsigned csv_cell_flags(const char *v)
{
	unsigned flags = 0;

	if (strpbrk(v, ",\"\r\n"))
		flags |= CSV_CELL_QUOTE;
	if (needs_neutralizing(v))
		flags |= CSV_CELL_NEUTRALIZE;
	return flags;
}
