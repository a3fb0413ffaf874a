/* service.c: lead import: rows read from CSV or JSON, normalized, then
 * inserted together. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaigns/campaigns.h"
#include "db/pool.h"
#include "leads/csv.h"
#include "leads/service.h"
#include "outbound/guard.h"
#include "util/log.h"

struct leads_import {
	const struct campaign *campaign;
	json_t *rows;   /* [{phone, name, data}] */
	json_t *errors; /* [{line, detail}] */
	json_t *seen;   /* {number: true}: the numbers of rows */
	size_t skipped; /* rows whose number an earlier row had */
	leads_stored_cb cb;
	void *userdata;
};

int leads_import_new(const struct campaign *campaign,
		     struct leads_import **ret_im)
{
	struct leads_import *im = calloc(1, sizeof(*im));

	if (!im || !(im->rows = json_array()) || !(im->errors = json_array()) ||
	    !(im->seen = json_object())) {
		leads_import_free(im);
		return -ENOMEM;
	}
	im->campaign = campaign;
	*ret_im = im;
	return 0;
}

void leads_import_free(struct leads_import *im)
{
	if (!im)
		return;
	json_decref(im->rows);
	json_decref(im->errors);
	json_decref(im->seen);
	free(im);
}

size_t leads_import_count(const struct leads_import *im)
{
	return json_array_size(im->rows);
}

size_t leads_import_skipped(const struct leads_import *im)
{
	return im->skipped;
}

json_t *leads_import_errors(const struct leads_import *im)
{
	return im->errors;
}

static void import_error(struct leads_import *im, size_t line,
			 const char *detail)
{
	json_array_append_new(im->errors,
			      json_pack("{s:I, s:s}", "line", (json_int_t)line,
					"detail", detail));
}

static void import_row(struct leads_import *im, size_t line, const char *phone,
		       const char *name, json_t *data)
{
	char number[GUARD_NUMBER_SIZE], why[160];
	enum guard_verdict v = GUARD_ALLOWED;

	if (!phone ||
	    outbound_guard_normalize(&im->campaign->plan, phone, number,
				     sizeof(number), &v) < 0) {
		snprintf(why, sizeof(why), "phone: %s",
			 phone ? outbound_guard_verdict_text(v) : "is missing");
		import_error(im, line, why);
		return;
	}
	if (json_object_get(im->seen, number)) {
		im->skipped++;
		return;
	}
	json_object_set_new(im->seen, number, json_true());
	json_array_append_new(
	    im->rows,
	    json_pack("{s:s, s:s?, s:o}", "phone", number, "name", name, "data",
		      data ? json_incref(data) : json_object()));
}

static int on_csv_row(void *userdata, size_t line, const char *phone,
		      const char *name, json_t *data)
{
	import_row(userdata, line, phone, name, data);
	return 0;
}

int leads_import_csv(struct leads_import *im, const char *text, size_t len)
{
	struct leads_csv_error *errors = NULL;
	size_t nerrors = 0;
	int r = leads_csv_parse(text, len, on_csv_row, im, &errors, &nerrors);

	if (r < 0)
		return r;
	for (size_t i = 0; i < nerrors; i++)
		import_error(im, errors[i].line, errors[i].message);
	free(errors);
	return 0;
}

/* A lead object has a string phone, maybe a name and a data object, and
 * nothing else. */
static bool lead_valid(json_t *v)
{
	json_t *name = json_object_get(v, "name");
	json_t *data = json_object_get(v, "data");
	const char *k;
	json_t *x;

	if (!json_is_object(v) || !json_is_string(json_object_get(v, "phone")))
		return false;
	json_object_foreach(v, k, x) if (strcmp(k, "phone") &&
					 strcmp(k, "name") &&
					 strcmp(k, "data")) return false;
	return (!name || json_is_null(name) || json_is_string(name)) &&
	       (!data || json_is_object(data));
}

int leads_import_json(struct leads_import *im, const char *text, size_t len)
{
	json_error_t err;
	json_t *list = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err), *v;
	size_t i;

	if (!json_is_array(list)) {
		json_decref(list);
		return -EINVAL;
	}
	json_array_foreach(list, i, v)
	{
		if (!lead_valid(v)) {
			import_error(im, i + 1,
				     "a lead is {\"phone\": string, \"name\": "
				     "string, \"data\": object}, no other "
				     "fields");
			continue;
		}
		import_row(im, i + 1,
			   json_string_value(json_object_get(v, "phone")),
			   json_string_value(json_object_get(v, "name")),
			   json_object_get(v, "data"));
	}
	json_decref(list);
	return 0;
}

static void on_stored(int error, const PGresult *res, void *userdata)
{
	struct leads_import *im = userdata;
	struct leads_stored stored = {.error = error, .db_res = res};

	if (error == 0) {
		stored.imported =
		    strtoll(db_pool_value(res, 0, "imported"), NULL, 10);
		stored.skipped = (int64_t)im->skipped +
				 (int64_t)leads_import_count(im) -
				 stored.imported;
	}
	im->cb(&stored, im->userdata);
}

int leads_import_store(struct db_pool *db, struct leads_import *im,
		       leads_stored_cb cb, void *userdata)
{
	static const char sql[] =
	    "WITH i AS (INSERT INTO leads (campaign_id, phone, name, data)"
	    " SELECT $1, x.phone, x.name, coalesce(x.data, '{}')"
	    " FROM json_to_recordset($2::json) AS x(phone text, name text,"
	    " data jsonb) ON CONFLICT (campaign_id, phone) DO NOTHING"
	    " RETURNING id) SELECT count(*) AS imported FROM i";
	char campaign[24], *rows = json_dumps(im->rows, JSON_COMPACT);
	const char *params[2] = {campaign, rows};
	int r;

	if (!rows)
		return -ENOMEM;
	snprintf(campaign, sizeof(campaign), "%lld",
		 (long long)im->campaign->id);
	im->cb = cb;
	im->userdata = userdata;
	log_notice("leads import campaign=%lld rows=%zu duplicates=%zu bad=%zu",
		   (long long)im->campaign->id, leads_import_count(im),
		   im->skipped, json_array_size(im->errors));
	r = db_pool_query(db, sql, 2, params, on_stored, im);
	free(rows);
	return r;
}
