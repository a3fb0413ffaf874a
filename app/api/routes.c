/* routes.c: the route table, the one place that says which paths exist,
 * who may call them and what handles them. `welcomedlyd routes` prints it
 * and a test holds it equal to schemas/openapi.yaml. */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

#define V1 "/api/v1"

const struct api_route api_routes[] = {
    {"GET", "/healthz", API_ROLE_NONE, 0, api_healthz, NULL},
    {"GET", "/metrics", API_ROLE_NONE, 0, api_metrics, NULL},

    {"GET", V1 "/tokens", API_ROLE_ADMIN, 0, api_crud_list, &api_res_tokens},
    {"POST", V1 "/tokens", API_ROLE_ADMIN, 0, api_tokens_create, NULL},
    {"DELETE", V1 "/tokens/{id}", API_ROLE_ADMIN, 0, api_tokens_revoke, NULL},

    {"GET", V1 "/campaigns", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &api_res_campaigns},
    {"POST", V1 "/campaigns", API_ROLE_ADMIN, 0, api_crud_create,
     &api_res_campaigns},
    {"GET", V1 "/campaigns/{id}", API_ROLE_SUPERVISOR, 0, api_crud_get,
     &api_res_campaigns},
    {"PATCH", V1 "/campaigns/{id}", API_ROLE_ADMIN, 0, api_crud_update,
     &api_res_campaigns},
    {"DELETE", V1 "/campaigns/{id}", API_ROLE_ADMIN, 0, api_campaigns_delete,
     &api_res_campaigns},
    {"GET", V1 "/campaigns/{id}/agents", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &api_res_members},
    {"POST", V1 "/campaigns/{id}/agents", API_ROLE_ADMIN, 0, api_crud_create,
     &api_res_members},
    {"DELETE", V1 "/campaigns/{id}/agents/{agent_id}", API_ROLE_ADMIN, 0,
     api_crud_delete, &api_res_members},
    {"GET", V1 "/campaigns/{id}/dispositions", API_ROLE_AGENT, 0, api_crud_list,
     &api_res_dispositions},
    {"POST", V1 "/campaigns/{id}/dispositions", API_ROLE_ADMIN, 0,
     api_crud_create, &api_res_dispositions},
    {"DELETE", V1 "/campaigns/{id}/dispositions/{code}", API_ROLE_ADMIN, 0,
     api_crud_delete, &api_res_dispositions},

    {"GET", V1 "/dids", API_ROLE_SUPERVISOR, 0, api_crud_list, &api_res_dids},
    {"POST", V1 "/dids", API_ROLE_ADMIN, 0, api_crud_create, &api_res_dids},
    {"GET", V1 "/dids/{number}", API_ROLE_SUPERVISOR, 0, api_crud_get,
     &api_res_dids},
    {"PATCH", V1 "/dids/{number}", API_ROLE_ADMIN, 0, api_crud_update,
     &api_res_dids},
    {"DELETE", V1 "/dids/{number}", API_ROLE_ADMIN, 0, api_crud_delete,
     &api_res_dids},

    {"GET", V1 "/agents", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &api_res_agents},
    {"POST", V1 "/agents", API_ROLE_ADMIN, 0, api_agents_create, NULL},
    {"GET", V1 "/agents/{id}", API_ROLE_AGENT, API_SELF_AGENT, api_crud_get,
     &api_res_agents},
    {"PATCH", V1 "/agents/{id}", API_ROLE_ADMIN, 0, api_agents_update, NULL},
    {"DELETE", V1 "/agents/{id}", API_ROLE_ADMIN, 0, api_agents_delete, NULL},
    {"POST", V1 "/agents/{id}/state", API_ROLE_AGENT, API_SELF_AGENT,
     api_agents_state, NULL},

    {"GET", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, api_calls_list, NULL},
    {"POST", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, api_calls_place,
     NULL},
    {"POST", V1 "/calls/{id}/disposition", API_ROLE_AGENT, API_SELF_CALL,
     api_calls_disposition, NULL},
    {"POST", V1 "/campaigns/{id}/leads", API_ROLE_ADMIN, 0, api_leads_import,
     NULL},
    {"GET", V1 "/leads", API_ROLE_SUPERVISOR, 0, api_leads_list, NULL},
    {"GET", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL, api_calls_get,
     NULL},
    {"DELETE", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL,
     api_calls_hangup, NULL},
    {"POST", V1 "/calls/{id}/transfer", API_ROLE_AGENT, API_SELF_CALL,
     api_calls_transfer, NULL},
    {"GET", V1 "/calls/{id}/recording", API_ROLE_SUPERVISOR, 0,
     api_calls_recording, NULL},
    {"GET", V1 "/calls/{id}/routing", API_ROLE_SUPERVISOR, 0, api_calls_routing,
     NULL},

    {"GET", V1 "/cdr", API_ROLE_AGENT, API_SELF_SCOPED, api_cdr_list, NULL},

    {"GET", V1 "/queues", API_ROLE_SUPERVISOR, 0, api_queues_list, NULL},
    {"GET", V1 "/queues/{campaign_id}", API_ROLE_SUPERVISOR, 0, api_queues_get,
     NULL},

    {"GET", V1 "/events", API_ROLE_AGENT, API_SELF_SCOPED, api_events_plain,
     NULL},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(*api_routes);

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

const struct api_route *api__match(const char *method, const char *path,
				   char params[API_MAX_PARAMS][API_MAX_PARAM],
				   bool *ret_path_known)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;

	*ret_path_known = false;
	for (size_t i = 0; i < api_nroutes; i++) {
		if (!path_match(api_routes[i].path, path, params))
			continue;
		*ret_path_known = true;
		if (strcmp(api_routes[i].method, m) == 0)
			return &api_routes[i];
	}
	return NULL;
}

void api_print_routes(FILE *out)
{
	for (size_t i = 0; i < api_nroutes; i++)
		fprintf(out, "%s %s %s\n", api_routes[i].method,
			api_routes[i].path, api_role_name(api_routes[i].role));
}
