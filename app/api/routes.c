/* routes.c: finding the route of a request in a route table, and printing
 * a table. The table itself is the daemon's (app/routes.c): app/api names
 * no feature's handler. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

/* Matches path against a pattern segment by segment; {name} takes one
 * non-empty segment. */
static bool path_match(const char *pattern, const char *path,
		       char params[API_MAX_PARAMS][API_MAX_PARAM])
{
	unsigned np = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n >= API_MAX_PARAM ||
			    np >= API_MAX_PARAMS)
				return false;
			memcpy(params[np], path, n);
			params[np++][n] = '\0';
			path += n;
			pattern = strchr(pattern, '}');
			if (!pattern)
				return false;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

const struct api_route *api__match(const struct api_route *routes, size_t n,
				   const char *method, const char *path,
				   char params[API_MAX_PARAMS][API_MAX_PARAM],
				   bool *ret_path_known)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	*ret_path_known = false;
	for (size_t i = 0; i < n; i++) {
		if (!path_match(routes[i].path, path, params))
			continue;
		*ret_path_known = true;
		if (strcmp(routes[i].method, m) == 0)
			return &routes[i];
	}
	return NULL;
}

void api_print_routes(FILE *out, const struct api_route *routes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %s %s\n", routes[i].method, routes[i].path,
			api_role_name(routes[i].role));
}
