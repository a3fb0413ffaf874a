/* calls.h: the calls the daemon owns in Stasis, and what it does with them. */
#ifndef APP_CALLS_H
#define APP_CALLS_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "ari/event.h"
#include "ari/rest.h"
#include "cdr/cdr.h"

struct calls; /* opaque */

struct calls_config {
	const char
	    *prompt_sound; /* media URI, e.g. "sound:vm-goodbye"; copied */
	const char *app;   /* the Stasis application; copied */
};

struct agents;
struct campaigns;

/* What the registry works with; all borrowed, and all must outlive it. */
struct calls_deps {
	struct ari_rest *rest;
	struct cdr_writer *cdr;      /* NULL: no CDRs */
	struct db_pool *db;          /* NULL: queue entries not stored */
	struct agents *agents;       /* NULL: no queues, every call prompted */
	struct campaigns *campaigns; /* NULL: likewise */
};

/* Creates the call registry. Returns 0 or a negative errno; *ret_calls
 * untouched on failure. */
int calls_new(uv_loop_t *loop, const struct calls_deps *deps,
	      const struct calls_config *cfg, struct calls **ret_calls);

/* Offers waiting calls to available agents; call after agent changes. */
void calls_dispatch(struct calls *calls);

/* Feeds one ARI event (borrowed) to the calls it concerns. */
void calls_handle_event(struct calls *calls, const struct ari_event *ev);

/* Reconciles after a (re)connect: calls whose channel is gone are ended,
 * channels in our application that we do not know are adopted, and
 * bridges with our id prefix that nothing owns are destroyed. All
 * arguments borrowed; any may be NULL. */
void calls_resync(struct calls *calls, const json_t *channel_ids,
		  const json_t *channels, const json_t *bridges);

/* Number of calls currently owned. */
size_t calls_count(const struct calls *calls);

/* Number of calls handled since start (for tests and metrics). */
unsigned long calls_handled(const struct calls *calls);

/* Forgets every call without touching Asterisk (the calls stay in Stasis
 * for the next process to adopt) and frees the registry once its timer has
 * closed; the loop must run. NULL is a no-op. */
void calls_close(struct calls *calls);

#endif /* APP_CALLS_H */
