/* routes.h: the shape of a route; the daemon's table lives in app/routes.c. */
#ifndef APP_API_ROUTES_H
#define APP_API_ROUTES_H

#include "api/server.h"

typedef void (*api_handler)(struct api_ctx *ctx);

/* How a route treats agent tokens beyond the minimum role. */
enum api_self {
	API_SELF_NO = 0,
	API_SELF_AGENT,  /* {id} is an agent id: an agent token only its own */
	API_SELF_CALL,   /* {id} is a call: an agent token only its own calls */
	API_SELF_SCOPED, /* lists: agent tokens see only their own rows */
};

struct api_route {
	const char *method;
	const char *path; /* full path; {name} matches one segment */
	enum api_role role;
	enum api_self self;
	api_handler handler;
	const void *data; /* for generic handlers, e.g. a resource */
};

#endif /* APP_API_ROUTES_H */
