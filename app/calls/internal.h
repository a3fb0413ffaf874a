/* internal.h: what stasis.c and service.c of the calls feature share. */
#ifndef APP_CALLS_INTERNAL_H
#define APP_CALLS_INTERNAL_H

#include <stdint.h>

#include "calls/calls.h"
#include "cdr/cdr.h"
#include "calls/state.h"
#include "util/ids.h"
#include "util/strmap.h"

struct call {
	struct calls *calls;
	char *channel_id;
	char playback_id[IDS_MAX];
	struct cdr cdr;
	const char *hangup_by; /* who ended it: NULL while up */
	int cause;             /* the Q.850 cause ARI reported, 0 until then */
	enum call_state state;
	uint64_t deadline_ms; /* loop time; 0 when the state has no limit */
	unsigned refs;        /* the registry's, plus one per request */
};

struct calls {
	uv_loop_t *loop;
	struct ari_rest *rest;
	struct strmap *by_channel;
	uv_timer_t sweep;
	char *prompt_sound;
	struct cdr_writer *cdr; /* borrowed; NULL without a database */
	unsigned long handled;
};

/* service.c */
struct call *calls__add(struct calls *calls, const char *channel_id,
			const char *caller, const char *callee,
			int64_t start_us);
struct call *calls__find(struct calls *calls, const char *channel_id);
void calls__input(struct call *call, enum call_input input);
void calls__hangup_cause(struct call *call, int cause);
void calls__rekey(struct calls *calls, const char *old_id, const char *new_id);

#endif /* APP_CALLS_INTERNAL_H */
