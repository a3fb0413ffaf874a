/* routes.h: the daemon's route table, which the API server serves and
 * `welcomedlyd routes` prints. */
#ifndef APP_ROUTES_H
#define APP_ROUTES_H

#include <stddef.h>

#include "api/routes.h"

/* Every route of the admin API, in match order (the first match wins). */
extern const struct api_route routes_table[];
extern const size_t routes_count;

#endif /* APP_ROUTES_H */
