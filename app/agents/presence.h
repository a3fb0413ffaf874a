/* presence.h: which phones are registered, merged from the sources that know. */
#ifndef APP_AGENTS_PRESENCE_H
#define APP_AGENTS_PRESENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * Who tells that a phone is registered. What Asterisk 22 reports depends on
 * where it keeps the phone's endpoint and contacts (seen on the sandbox):
 *
 *   endpoint     contacts     ARI endpoint events, GET /endpoints state
 *   pjsip.conf   astdb        EndpointStateChange, PeerStatusChange and
 *                             ContactStatusChange at once; state follows
 *   realtime     astdb        the same (also for an endpoint loaded by the
 *                             REGISTER itself)
 *   realtime     ps_contacts  nothing: the state stays "offline" with a
 *                             live contact (one EndpointStateChange
 *                             "unknown" then "offline" when the endpoint is
 *                             first loaded); and an endpoint whose contact
 *                             was in ps_contacts when Asterisk started
 *                             stays "online" after the row is gone
 *
 * So ARI's endpoint state is one source, and Asterisk's realtime contacts
 * (ps_contacts, whose trigger notifies welcomedly_contacts) the other. A
 * phone is reachable while a trusted source says so: both at first, and
 * only the contacts once ps_contacts shows that Asterisk keeps its
 * contacts there (sorcery.conf maps contacts for every endpoint to one
 * store, so then ARI's state means nothing for any phone).
 */
enum agents_presence_source {
	AGENTS_PRESENCE_ARI = 1u << 0,
	AGENTS_PRESENCE_CONTACTS = 1u << 1,
};

struct agents_presence; /* opaque */

/* Named cap on the phones remembered (every endpoint the PBX reports). */
#define AGENTS_PRESENCE_MAX 200000

/* Returns 0 and sets *ret_presence, or -ENOMEM. */
int agents_presence_new(struct agents_presence **ret_presence);

/* NULL is a no-op. */
void agents_presence_free(struct agents_presence *presence);

/*
 * Records what source (one of enum agents_presence_source) says of the
 * phone username. Returns 1 when the phone's reachability (a trusted
 * source online) changed, 0 when it did not, -E2BIG past AGENTS_PRESENCE_MAX or
 * -ENOMEM (nothing changes).
 */
int agents_presence_set(struct agents_presence *presence, const char *username,
			unsigned source, bool online);

/*
 * Counts only the sources in the set trusted (both at first). cb runs once
 * per phone whose reachability changes by it, after the change. Returns
 * the number of such phones.
 */
int agents_presence_trust(struct agents_presence *presence, unsigned trusted,
			  void (*cb)(const char *username, bool online,
				     void *userdata),
			  void *userdata);

/* The trusted sources. */
unsigned agents_presence_trusted(const struct agents_presence *presence);

/* True while a trusted source says username's phone is registered. */
bool agents_presence_online(const struct agents_presence *presence,
			    const char *username);

/* What ARI says of an endpoint, from an EndpointStateChange or GET
 * /endpoints/PJSIP; the strings are borrowed, any of them may be NULL. */
struct agents_endpoint {
	const char *technology, *resource, *state;
};

/* Fills *ret_endpoint from an ARI Endpoint object (borrowed; NULL or not
 * an object gives all NULL). */
void agents_endpoint_from_json(const json_t *endpoint,
			       struct agents_endpoint *ret_endpoint);

/*
 * Reads an ARI endpoint (borrowed): a PJSIP endpoint is online for
 * AGENTS_PRESENCE_ARI when its state is "online" ("offline" and "unknown"
 * are not). Returns like agents_presence_set() and sets *ret_username
 * (borrowed from endpoint), or -EINVAL for anything but a PJSIP endpoint
 * with a resource and a state (*ret_username untouched).
 */
int agents_presence_endpoint(struct agents_presence *presence,
			     const struct agents_endpoint *endpoint,
			     const char **ret_username);

/* Called for each phone whose reachability changed; username borrowed. */
typedef void (*agents_presence_cb)(const char *username, bool online,
				   void *userdata);

/*
 * Replaces all that source says: the count phones of usernames are online,
 * every other one offline. cb runs once per phone whose reachability
 * changed, after the map is updated. Returns the number of changes or
 * -ENOMEM (the changes reported before it stand).
 */
int agents_presence_replace(struct agents_presence *presence, unsigned source,
			    const char *const *usernames, size_t count,
			    agents_presence_cb cb, void *userdata);

#endif /* APP_AGENTS_PRESENCE_H */
