/* campaigns.h: campaign queues' settings, members and numbers. */
#ifndef APP_CAMPAIGNS_H
#define APP_CAMPAIGNS_H

#include <stdbool.h>
#include <stdint.h>

#include "acd/dispatcher.h"
#include "agents/agents.h"
#include "campaigns/stats.h"
#include "db/pool.h"
#include "outbound/guard.h"

struct campaign {
	int64_t id;
	char *name;
	unsigned ring_timeout_s;
	unsigned retry_delay_s;
	unsigned max_queue_length;
	unsigned wrapup_s;
	unsigned announce_s;
	char *moh_class;
	unsigned max_wait_s;        /* 0: no limit */
	bool overflow_on_no_agents; /* else prompt and hang up */
	int64_t overflow_id;        /* 0: none */
	unsigned max_no_answer;     /* 0: never auto-pause */
	struct acd_campaign acd;    /* members point into members below */
	struct acd_member *members;
	uint32_t nmembers;
	struct acd_member *next_members; /* being read by a reload */
	uint32_t next_nmembers;
	double avg_wait_s; /* moving average of answered callers' waits */
	unsigned service_level_s;
	struct campaign_stats stats;
	/* Outbound calls: the dial template ({number} replaced), caller id
	 * (NULL: the trunk's), and the toll-fraud guard's plan and policy,
	 * which point into the strings below. */
	char *dial_template;
	char *caller_id;
	char **prefixes;
	size_t nprefixes;
	char *plan_country, *plan_trunk, *plan_intl;
	struct guard_plan plan;
	struct guard_policy policy;
	unsigned seen; /* the load that last found it */
	bool gone;     /* deleted from the database: routes nothing */
};

struct campaigns; /* opaque */

int campaigns_new(struct db_pool *db, struct agents *agents,
		  struct campaigns **ret_campaigns);

/* (Re)loads campaigns, members and numbers; campaigns keep their address
 * (and rrmemory cursor) across reloads. cb runs once. Returns 0 or a
 * negative errno. */
int campaigns_load(struct campaigns *campaigns,
		   void (*cb)(int error, void *userdata), void *userdata);

struct campaign *campaigns_by_id(const struct campaigns *campaigns, int64_t id);

/* Finds a campaign by the Stasis argument (its name or id) or, failing
 * that, by the dialed number in `dids`. Returns NULL when neither. */
struct campaign *campaigns_route(const struct campaigns *campaigns,
				 const char *arg, const char *dialed);

/* True when agent is a member of campaign. */
bool campaigns_has_member(const struct campaign *campaign, uint32_t agent);

/* Calls fn for every campaign not deleted. */
void campaigns_foreach(struct campaigns *campaigns,
		       void (*fn)(struct campaign *campaign, void *userdata),
		       void *userdata);

void campaigns_free(struct campaigns *campaigns);

#endif /* APP_CAMPAIGNS_H */
