/* role.h: the roles a token carries, in rising order of power, and their
 * names as routes, tokens and the database spell them. */
#ifndef APP_API_ROLE_H
#define APP_API_ROLE_H

#include <stdbool.h>

enum api_role {
	API_ROLE_NONE = 0, /* no token needed */
	API_ROLE_AGENT,
	API_ROLE_SUPERVISOR,
	API_ROLE_ADMIN,
};

/* True when have grants at least what need demands. */
bool api_role_at_least(enum api_role have, enum api_role need);
/* The role's name as routes and tokens spell it (static text). */
const char *api_role_name(enum api_role role);

#endif /* APP_API_ROLE_H */
