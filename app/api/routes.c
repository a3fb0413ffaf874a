/* routes.c: the route table, the one place that says which paths exist,
 * who may call them and what handles them. `welcomedlyd routes` prints it
 * and a test holds it equal to schemas/openapi.yaml. */
#include <stdio.h>
#include <string.h>

#include "agents/api.h"
#include "api/crud.h"
#include "api/feed.h"
#include "api/internal.h"
#include "api/observe.h"
#include "api/tokens.h"
#include "calls/api.h"
#include "campaigns/api.h"
#include "cdr/api.h"
#include "dispositions/api.h"
#include "leads/api.h"
#include "outbound/api.h"

#define V1 "/api/v1"

const struct api_route api_routes[] = {
    {"GET", "/healthz", API_ROLE_NONE, 0, api_observe_healthz, NULL},
    {"GET", "/metrics", API_ROLE_NONE, 0, api_observe_metrics, NULL},

    {"GET", V1 "/tokens", API_ROLE_ADMIN, 0, api_crud_list, &api_res_tokens},
    {"POST", V1 "/tokens", API_ROLE_ADMIN, 0, api_tokens_create, NULL},
    {"DELETE", V1 "/tokens/{id}", API_ROLE_ADMIN, 0, api_tokens_revoke, NULL},

    {"GET", V1 "/campaigns", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &campaigns_api_resource},
    {"POST", V1 "/campaigns", API_ROLE_ADMIN, 0, api_crud_create,
     &campaigns_api_resource},
    {"GET", V1 "/campaigns/{id}", API_ROLE_SUPERVISOR, 0, api_crud_get,
     &campaigns_api_resource},
    {"PATCH", V1 "/campaigns/{id}", API_ROLE_ADMIN, 0, api_crud_update,
     &campaigns_api_resource},
    {"DELETE", V1 "/campaigns/{id}", API_ROLE_ADMIN, 0, campaigns_api_delete,
     &campaigns_api_resource},
    {"GET", V1 "/campaigns/{id}/agents", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &campaigns_api_members},
    {"POST", V1 "/campaigns/{id}/agents", API_ROLE_ADMIN, 0, api_crud_create,
     &campaigns_api_members},
    {"DELETE", V1 "/campaigns/{id}/agents/{agent_id}", API_ROLE_ADMIN, 0,
     api_crud_delete, &campaigns_api_members},
    {"GET", V1 "/campaigns/{id}/dispositions", API_ROLE_AGENT, 0, api_crud_list,
     &dispositions_api_codes},
    {"POST", V1 "/campaigns/{id}/dispositions", API_ROLE_ADMIN, 0,
     api_crud_create, &dispositions_api_codes},
    {"DELETE", V1 "/campaigns/{id}/dispositions/{code}", API_ROLE_ADMIN, 0,
     api_crud_delete, &dispositions_api_codes},

    {"GET", V1 "/dids", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &campaigns_api_dids},
    {"POST", V1 "/dids", API_ROLE_ADMIN, 0, api_crud_create,
     &campaigns_api_dids},
    {"GET", V1 "/dids/{number}", API_ROLE_SUPERVISOR, 0, api_crud_get,
     &campaigns_api_dids},
    {"PATCH", V1 "/dids/{number}", API_ROLE_ADMIN, 0, api_crud_update,
     &campaigns_api_dids},
    {"DELETE", V1 "/dids/{number}", API_ROLE_ADMIN, 0, api_crud_delete,
     &campaigns_api_dids},

    {"GET", V1 "/agents", API_ROLE_SUPERVISOR, 0, api_crud_list,
     &agents_api_resource},
    {"POST", V1 "/agents", API_ROLE_ADMIN, 0, agents_api_create, NULL},
    {"GET", V1 "/agents/{id}", API_ROLE_AGENT, API_SELF_AGENT, api_crud_get,
     &agents_api_resource},
    {"PATCH", V1 "/agents/{id}", API_ROLE_ADMIN, 0, agents_api_update, NULL},
    {"DELETE", V1 "/agents/{id}", API_ROLE_ADMIN, 0, agents_api_delete, NULL},
    {"POST", V1 "/agents/{id}/state", API_ROLE_AGENT, API_SELF_AGENT,
     agents_api_state, NULL},

    {"GET", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, calls_api_list, NULL},
    {"POST", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, outbound_api_place,
     NULL},
    {"POST", V1 "/calls/{id}/disposition", API_ROLE_AGENT, API_SELF_CALL,
     dispositions_api_record, NULL},
    {"POST", V1 "/campaigns/{id}/leads", API_ROLE_ADMIN, 0, leads_api_import,
     NULL},
    {"GET", V1 "/leads", API_ROLE_SUPERVISOR, 0, leads_api_list, NULL},
    {"GET", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL, calls_api_get,
     NULL},
    {"DELETE", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL,
     calls_api_hangup, NULL},
    {"POST", V1 "/calls/{id}/transfer", API_ROLE_AGENT, API_SELF_CALL,
     calls_api_transfer, NULL},
    {"GET", V1 "/calls/{id}/recording", API_ROLE_SUPERVISOR, 0,
     calls_api_recording, NULL},
    {"GET", V1 "/calls/{id}/routing", API_ROLE_SUPERVISOR, 0, calls_api_routing,
     NULL},

    {"GET", V1 "/cdr", API_ROLE_AGENT, API_SELF_SCOPED, cdr_api_list, NULL},

    {"GET", V1 "/queues", API_ROLE_SUPERVISOR, 0, campaigns_api_queues, NULL},
    {"GET", V1 "/queues/{campaign_id}", API_ROLE_SUPERVISOR, 0,
     campaigns_api_queue, NULL},

    {"GET", V1 "/events", API_ROLE_AGENT, API_SELF_SCOPED, api_feed_plain,
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
