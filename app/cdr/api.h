/* api.h: the REST handlers of call detail records. Agent tokens see their
 * own calls' records only. */
#ifndef APP_CDR_API_H
#define APP_CDR_API_H

struct api_ctx;

/* Answers the record of the ended call {id} (404 when none). */
void cdr_api_get(struct api_ctx *ctx);

/* GET /cdr: records newest first, filtered by ?from=, ?to=, ?agent=,
 * ?campaign=, ?direction=, ?disposition=; CSV for ?format=csv or
 * Accept: text/csv. */
void cdr_api_list(struct api_ctx *ctx);

#endif /* APP_CDR_API_H */
