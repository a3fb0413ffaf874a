/* crud.h: resources that are rows of one table, listed, read, created,
 * changed and deleted by one set of handlers driven by a field table. A
 * route names its resource in its data. */
#ifndef APP_API_CRUD_H
#define APP_API_CRUD_H

#include <jansson.h>
#include <stdbool.h>

#include "api/body.h"

struct api_resource {
	const char *table;
	const char *key;    /* primary key column */
	bool key_is_int;    /* else text */
	const char *parent; /* column set from path parameter 0, or NULL */
	const struct api_field *fields;
	const char *row_json; /* SQL giving the JSON of row alias t */
	const char *noun;     /* for messages, e.g. "campaign" */
	bool upsert;          /* create updates an existing row (nested) */
	/* Overlays live state on each object read (borrowed), or NULL. */
	void (*decorate)(const struct api_deps *deps, json_t *obj);
};

/* The handlers; each answers the request. */
void api_crud_list(struct api_ctx *ctx);
void api_crud_get(struct api_ctx *ctx);
void api_crud_create(struct api_ctx *ctx);
void api_crud_update(struct api_ctx *ctx);
void api_crud_delete(struct api_ctx *ctx);

#endif /* APP_API_CRUD_H */
