/* record.c: the CDR of one call and its JSON snapshots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdr/cdr.h"

int64_t cdr_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int cdr_init_inbound(struct cdr *cdr, const char *call_id, const char *caller,
		     const char *callee, const char *channel_id,
		     int64_t start_us)
{
	struct cdr c = {0};

	c.direction = "inbound";
	c.call_id = strdup(call_id);
	c.caller_number = dup_or_null(caller);
	c.callee_number = dup_or_null(callee);
	c.caller_channel_id = dup_or_null(channel_id);
	c.start_us = start_us;
	c.queue_wait_seconds = -1;
	if (!c.call_id || (caller && !c.caller_number) ||
	    (callee && !c.callee_number) ||
	    (channel_id && !c.caller_channel_id)) {
		cdr_clear(&c);
		return -ENOMEM;
	}
	*cdr = c;
	return 0;
}

/* Q.850 causes that Asterisk's CDR reports as BUSY or FAILED when the call
 * was never answered. */
static const char *unanswered_disposition(int cause)
{
	switch (cause) {
	case 17: /* user busy */
		return "BUSY";
	case 1:  /* unallocated number */
	case 27: /* destination out of order */
	case 34: /* no circuit available (congestion) */
	case 38: /* network out of order */
		return "FAILED";
	default:
		return "NO ANSWER";
	}
}

void cdr_finish(struct cdr *cdr, int64_t end_us, int cause,
		const char *cause_text, const char *hangup_by)
{
	cdr->end_us = end_us < cdr->start_us ? cdr->start_us : end_us;
	cdr->hangup_cause = cause;
	free(cdr->hangup_cause_text);
	cdr->hangup_cause_text = dup_or_null(cause_text);
	cdr->hangup_by = hangup_by;
	cdr->disposition =
	    cdr->answer_us ? "ANSWERED" : unanswered_disposition(cause);
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

static int set_int(json_t *o, const char *key, int64_t v)
{
	return v ? json_object_set_new(o, key, json_integer(v)) : 0;
}

/* The supervisor's entry that has not ended, or NULL. */
static json_t *open_supervision(json_t *list, int64_t supervisor_id)
{
	size_t i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		if (json_integer_value(json_object_get(
			e, "supervisor_agent_id")) == supervisor_id &&
		    !json_object_get(e, "ended_us"))
			return e;
	}
	return NULL;
}

/* The open entry e takes mode (and adds it to modes) unless it has it. */
static int supervision_mode(json_t *e, const char *mode)
{
	const char *now = json_string_value(json_object_get(e, "mode"));

	if (now && strcmp(now, mode) == 0)
		return 0;
	if (json_object_set_new(e, "mode", json_string(mode)) < 0)
		return -ENOMEM;
	return json_array_append_new(json_object_get(e, "modes"),
				     json_string(mode)) < 0
		   ? -ENOMEM
		   : 0;
}

int cdr_supervision(struct cdr *cdr, int64_t supervisor_id, const char *mode,
		    int64_t now_us, int64_t answered_us, int64_t ended_us)
{
	json_t *e;
	int r = 0;

	if (!cdr->supervisions && !(cdr->supervisions = json_array()))
		return -ENOMEM;
	e = open_supervision(cdr->supervisions, supervisor_id);
	if (!e) {
		if (!mode)
			return 0; /* nothing open to update */
		e = json_pack("{s:I,s:s,s:[s],s:I}", "supervisor_agent_id",
			      (json_int_t)supervisor_id, "mode", mode, "modes",
			      mode, "started_us", (json_int_t)now_us);
		if (!e || json_array_append_new(cdr->supervisions, e) < 0)
			return -ENOMEM;
		mode = NULL;
	}
	if (mode)
		r = supervision_mode(e, mode);
	if (r == 0 && answered_us)
		r = json_object_set_new(e, "answered_us",
					json_integer(answered_us));
	if (r == 0 && ended_us)
		r = json_object_set_new(e, "ended_us", json_integer(ended_us));
	return r < 0 ? -ENOMEM : 0;
}

json_t *cdr_snapshot(struct cdr *cdr)
{
	json_t *o = json_object();
	int64_t now = cdr_now_us();
	int r = 0;

	if (!o)
		return NULL;
	cdr->revision = now > cdr->revision ? now : cdr->revision + 1;
	r |= json_object_set_new(o, "call_id", json_string(cdr->call_id));
	r |= json_object_set_new(o, "revision", json_integer(cdr->revision));
	r |= set_str(o, "direction", cdr->direction);
	r |= set_str(o, "caller_number", cdr->caller_number);
	r |= set_str(o, "callee_number", cdr->callee_number);
	r |= set_str(o, "caller_channel_id", cdr->caller_channel_id);
	r |= set_str(o, "agent_channel_id", cdr->agent_channel_id);
	r |= set_str(o, "bridge_id", cdr->bridge_id);
	r |= set_str(o, "recording_url", cdr->recording_url);
	r |= set_int(o, "agent_id", cdr->agent_id);
	r |= set_int(o, "campaign_id", cdr->campaign_id);
	r |= set_int(o, "lead_id", cdr->lead_id);
	r |= set_int(o, "start_us", cdr->start_us);
	r |= set_int(o, "answer_us", cdr->answer_us);
	r |= set_int(o, "end_us", cdr->end_us);
	if (cdr->queue_wait_seconds >= 0)
		r |= json_object_set_new(o, "queue_wait_seconds",
					 json_integer(cdr->queue_wait_seconds));
	r |= json_object_set_new(o, "abandoned", json_boolean(cdr->abandoned));
	r |= set_int(o, "hangup_cause", cdr->hangup_cause);
	r |= set_str(o, "hangup_cause_text", cdr->hangup_cause_text);
	r |= set_str(o, "hangup_by", cdr->hangup_by);
	r |= set_str(o, "disposition", cdr->disposition);
	if (json_array_size(cdr->supervisions) > 0)
		r |= json_object_set_new(o, "supervisions",
					 json_deep_copy(cdr->supervisions));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void cdr_clear(struct cdr *cdr)
{
	free(cdr->call_id);
	free(cdr->caller_number);
	free(cdr->callee_number);
	free(cdr->caller_channel_id);
	free(cdr->agent_channel_id);
	free(cdr->bridge_id);
	free(cdr->recording_url);
	free(cdr->hangup_cause_text);
	json_decref(cdr->supervisions);
	memset(cdr, 0, sizeof(*cdr));
}
