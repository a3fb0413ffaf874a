/* page.h: lists answered a page at a time, as {"items": [...],
 * "next_cursor": ...}, whether the rows come from SQL or from memory. */
#ifndef APP_API_PAGE_H
#define APP_API_PAGE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>

#include "api/db.h"

/*
 * A page query in the shape api_reply_page() reads (the items as one JSON
 * array, whether more may follow, the cursor), in three steps around the
 * caller's own columns and WHERE clause:
 *   api_page_open():  SELECT <items>, <more>, <cursor>   (more columns may
 *                     follow: api_reply_page reads the first three)
 *   api_page_rows():  FROM (SELECT <row_json> AS j, <key> AS k FROM <from>
 *   (the caller's " WHERE ..." comes here)
 *   api_page_close(): AND <key> after the cursor, ORDER BY, LIMIT, ")"
 * key is an expression over from's alias (e.g. "t.id"); newest_first
 * orders by it descending.
 */
struct api_page {
	const char *key;
	bool newest_first;
	int limit_param;
};
void api_page_open(struct api_sql *sql, struct api_page *page, unsigned limit);
void api_page_rows(struct api_sql *sql, const struct api_page *page,
		   const char *row_json, const char *from);
/* cursor: NULL for the first page; key_type: its SQL type ("bigint"). */
void api_page_close(struct api_sql *sql, const struct api_page *page,
		    const char *cursor, const char *key_type);

/* The live view of the route's resource (crud.h) over JSON text (an object
 * or an array of them), as new malloc'd text; NULL when the route has no
 * resource with a decorate hook, or out of memory (then the text stands as
 * it is). */
char *api_page_decorated(const struct api_ctx *ctx, const char *text);

/* An api_db_cb: answers the page of a page query (with the route's
 * resource's live view laid over, if any). */
void api_reply_page(struct api_ctx *ctx, const PGresult *res);

/* Answers a page of items (stolen) built in memory, ordered by key (an
 * integer or string field), honouring ?limit= and ?cursor=. */
void api_reply_items(struct api_ctx *ctx, json_t *items, const char *key);

#endif /* APP_API_PAGE_H */
