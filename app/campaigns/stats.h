/* stats.h: a campaign queue's figures: answered and abandoned calls, those
 * answered within the service level, the waits of the answered. Kept for
 * the day (local time, since midnight or since the daemon started, if
 * later) and for the last 15 minutes (one-minute buckets). Pure: every
 * function takes the time. */
#ifndef APP_CAMPAIGNS_STATS_H
#define APP_CAMPAIGNS_STATS_H

#include <stdbool.h>
#include <stdint.h>

#define CAMPAIGN_STATS_WINDOW_MIN 15 /* the recent window, in minutes */

struct campaign_figures {
	unsigned long answered, abandoned;
	unsigned long answered_in_sl; /* within service_level_s */
	double wait_sum_s;            /* of answered callers */
};

struct campaign_stats {
	int64_t since_us; /* start of the day's figures */
	int day;          /* local y*1000+yday of since_us */
	struct campaign_figures today;
	struct {
		int64_t minute; /* since the epoch; 0: empty */
		struct campaign_figures f;
	} recent[CAMPAIGN_STATS_WINDOW_MIN];
	int64_t tick_minute;   /* of the last campaigns_stats_tick() */
	uint64_t published_ms; /* queue.stats last sent (loop ms) */
	bool dirty;            /* changed since published */
};

/* Starts the figures at now_us (the daemon's start, for the first day). */
void campaigns_stats_init(struct campaign_stats *st, int64_t now_us);
/* A caller answered after wait_s seconds; sl_s is the campaign's service
 * level threshold. */
void campaigns_stats_answered(struct campaign_stats *st, double wait_s,
			      unsigned sl_s, int64_t now_us);
/* A caller hung up while waiting. */
void campaigns_stats_abandoned(struct campaign_stats *st, int64_t now_us);
/* The day's figures at now_us (zero once the day has changed with no call
 * since), and when they started (midnight, or the start). */
void campaigns_stats_day(const struct campaign_stats *st, int64_t now_us,
			 struct campaign_figures *out, int64_t *ret_since_us);
/* The figures of the last CAMPAIGN_STATS_WINDOW_MIN whole minutes and the
 * current one, at now_us. */
void campaigns_stats_recent(const struct campaign_stats *st, int64_t now_us,
			    struct campaign_figures *out);

/* The figures also change with time alone: a passing minute drops the
 * window's oldest, midnight starts a new day. Returns true, at most once
 * a minute, when time may have changed them since the last call (and
 * marks them dirty). */
bool campaigns_stats_tick(struct campaign_stats *st, int64_t now_us);

#endif /* APP_CAMPAIGNS_STATS_H */
