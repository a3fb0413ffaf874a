/* service.h: importing leads into a campaign. Each lead's phone is
 * normalized to E.164 with the campaign's numbering plan; bad leads are
 * reported by line (CSV) or position (JSON) and skipped, the good ones
 * inserted in one statement. */
#ifndef APP_LEADS_SERVICE_H
#define APP_LEADS_SERVICE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

struct campaign;
struct db_pool;
struct leads_import; /* opaque: one import's good rows and bad ones */

/* Starts an import into campaign (borrowed; must outlive the import).
 * Returns 0 and sets *ret_im, or -ENOMEM. */
int leads_import_new(const struct campaign *campaign,
		     struct leads_import **ret_im);

/* Frees im; NULL is a no-op. No store may be in flight. */
void leads_import_free(struct leads_import *im);

/* Reads len bytes of CSV (leads/csv.h). Returns 0, or the parser's
 * negative errno when the file was not read at all. */
int leads_import_csv(struct leads_import *im, const char *text, size_t len);

/* Reads a JSON array of {"phone", "name", "data"} objects. Returns 0, or
 * -EINVAL when text is not a JSON array. */
int leads_import_json(struct leads_import *im, const char *text, size_t len);

/* The number of good rows so far. */
size_t leads_import_count(const struct leads_import *im);

/* The rows skipped so far because an earlier row of the import had the
 * same normalized number. */
size_t leads_import_skipped(const struct leads_import *im);

/* The bad rows so far: an array of {"line", "detail"} (borrowed). */
json_t *leads_import_errors(const struct leads_import *im);

/* How a store ended: error 0, the rows imported and the rows skipped as
 * duplicates (of a row of the import, or of a lead the campaign already
 * had: one lead per campaign and number), or a negative errno with
 * the failed query's result when there is one (borrowed for the call). */
struct leads_stored {
	int error;
	const PGresult *db_res;
	int64_t imported;
	int64_t skipped;
};

typedef void (*leads_stored_cb)(const struct leads_stored *stored,
				void *userdata);

/* Inserts the good rows, but those whose number the campaign already has. Returns 0, and cb runs exactly once, later; or a
 * negative errno (-ENOMEM, db_pool_query()'s), and cb never runs. */
int leads_import_store(struct db_pool *db, struct leads_import *im,
		       leads_stored_cb cb, void *userdata);

#endif /* APP_LEADS_SERVICE_H */
