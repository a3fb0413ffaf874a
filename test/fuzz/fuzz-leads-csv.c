/* fuzz-leads-csv.c: libFuzzer harness for the lead import: any upload
 * through the CSV parser and the import service (phones normalized by the
 * guard, duplicates skipped), the way POST /campaigns/{id}/leads reads it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "campaigns/campaigns.h"
#include "leads/csv.h"
#include "leads/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct campaign campaign = {.id = 7, .plan = {"1", "1", "011", 10, 10}};

static int on_row(void *userdata, size_t line, const char *phone,
		  const char *name, json_t *data)
{
	size_t *rows = userdata;

	/* The parser's promises: a phone that is not empty, an object. */
	if (!phone || !*phone || !json_is_object(data) || line == 0)
		abort();
	(void)name;
	(*rows)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct leads_csv_error *errors = NULL;
	struct leads_import *im = NULL;
	size_t nerrors = 0, rows = 0;
	int r;

	r = leads_csv_parse((const char *)data, size, on_row, &rows, &errors,
			    &nerrors);
	if (r >= 0 && (size_t)r != rows)
		abort();
	free(errors);
	if (leads_import_new(&campaign, &im) < 0)
		return 0;
	if (leads_import_csv(im, (const char *)data, size) == 0 &&
	    leads_import_count(im) + leads_import_skipped(im) > rows)
		abort();
	(void)leads_import_json(im, (const char *)data, size);
	leads_import_free(im);
	return 0;
}
