/* routes.c: the route table, the one place that says which paths exist,
 * who may call them and what handles them. It names the features' handlers,
 * so it lives above them and app/api: the daemon hands it to the API server
 * (api_config.routes). `welcomedlyd routes` prints it and a test holds it
 * equal to schemas/openapi.yaml. */
#include <stddef.h>

#include "agents/api.h"
#include "api/crud.h"
#include "api/feed.h"
#include "api/observe.h"
#include "api/tokens.h"
#include "calls/api.h"
#include "campaigns/api.h"
#include "cdr/api.h"
#include "dispositions/api.h"
#include "leads/api.h"
#include "outbound/api.h"
#include "routes.h"
#include "webrtc/api.h"

#define V1 "/api/v1"

const struct api_route routes_table[] = {
    {"GET", "/healthz", API_ROLE_NONE, 0, api_observe_healthz, NULL},
    {"GET", "/metrics", API_ROLE_NONE, 0, api_observe_metrics, NULL},

    {"GET", V1 "/me", API_ROLE_AGENT, 0, api_tokens_me, NULL},
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
    {"GET", V1 "/agents/{id}/webrtc", API_ROLE_AGENT, API_SELF_AGENT,
     webrtc_api_get, NULL},
    {"POST", V1 "/agents/{id}/state", API_ROLE_AGENT, API_SELF_AGENT,
     agents_api_state, NULL},

    {"GET", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, calls_api_list, NULL},
    {"POST", V1 "/calls", API_ROLE_AGENT, API_SELF_SCOPED, outbound_api_place,
     NULL},
    {"POST", V1 "/calls/{id}/disposition", API_ROLE_AGENT, API_SELF_CALL,
     dispositions_api_record, NULL},
    {"POST", V1 "/campaigns/{id}/leads", API_ROLE_ADMIN, 0, leads_api_import,
     NULL},
    {"GET", V1 "/leads", API_ROLE_AGENT, API_SELF_SCOPED, leads_api_list, NULL},
    {"GET", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL, calls_api_get,
     NULL},
    {"DELETE", V1 "/calls/{id}", API_ROLE_AGENT, API_SELF_CALL,
     calls_api_hangup, NULL},
    {"POST", V1 "/calls/{id}/transfer", API_ROLE_AGENT, API_SELF_CALL,
     calls_api_transfer, NULL},
    {"POST", V1 "/calls/{id}/supervise", API_ROLE_SUPERVISOR, 0,
     calls_api_supervise, NULL},
    {"PATCH", V1 "/calls/{id}/supervise", API_ROLE_SUPERVISOR, 0,
     calls_api_supervise_mode, NULL},
    {"DELETE", V1 "/calls/{id}/supervise", API_ROLE_SUPERVISOR, 0,
     calls_api_supervise_end, NULL},
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

const size_t routes_count = sizeof(routes_table) / sizeof(*routes_table);
