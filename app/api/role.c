/* role.c: the roles a token carries and their names. */
#include "api/role.h"

static const char *const role_names[] = {"none", "agent", "supervisor",
					 "admin"};

const char *api_role_name(enum api_role role)
{
	return role_names[role];
}

bool api_role_at_least(enum api_role have, enum api_role need)
{
	return have >= need;
}
