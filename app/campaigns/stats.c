/* stats.c: a campaign queue's figures for the day and the last minutes. */
#include <string.h>
#include <time.h>

#include "campaigns/stats.h"

#define MINUTE_US 60000000LL

/* The local day of us, as a number that changes at each midnight. */
static int day_of(int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	localtime_r(&t, &tm);
	return (tm.tm_year + 1900) * 1000 + tm.tm_yday;
}

/* The local midnight that began the day of us. Asked for only when the day
 * changed: mktime(3) reads the time zone again (a stat(2) of
 * /etc/localtime) on every call. */
static int64_t midnight_of(int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000000;
}

void campaigns_stats_init(struct campaign_stats *st, int64_t now_us)
{
	memset(st, 0, sizeof(*st));
	st->since_us = now_us;
	st->day = day_of(now_us);
}

/* A new day starts the day's figures again, at midnight. */
static void roll_day(struct campaign_stats *st, int64_t now_us)
{
	int day = day_of(now_us);

	if (day == st->day)
		return;
	st->day = day;
	st->since_us = midnight_of(now_us);
	memset(&st->today, 0, sizeof(st->today));
}

/* The bucket of now_us's minute, emptied if it held an older minute. */
static struct campaign_figures *bucket(struct campaign_stats *st,
				       int64_t now_us)
{
	int64_t minute = now_us / MINUTE_US;
	unsigned i = (unsigned)(minute % CAMPAIGN_STATS_WINDOW_MIN);

	if (st->recent[i].minute != minute) {
		st->recent[i].minute = minute;
		memset(&st->recent[i].f, 0, sizeof(st->recent[i].f));
	}
	return &st->recent[i].f;
}

static void add(struct campaign_figures *f, const struct campaign_figures *d)
{
	f->answered += d->answered;
	f->abandoned += d->abandoned;
	f->answered_in_sl += d->answered_in_sl;
	f->wait_sum_s += d->wait_sum_s;
}

static void count(struct campaign_stats *st, const struct campaign_figures *d,
		  int64_t now_us)
{
	roll_day(st, now_us);
	add(&st->today, d);
	add(bucket(st, now_us), d);
	st->dirty = true;
}

void campaigns_stats_answered(struct campaign_stats *st, double wait_s,
			      unsigned sl_s, int64_t now_us)
{
	struct campaign_figures d = {.answered = 1,
				     .answered_in_sl = wait_s <= (double)sl_s,
				     .wait_sum_s = wait_s};

	count(st, &d, now_us);
}

void campaigns_stats_abandoned(struct campaign_stats *st, int64_t now_us)
{
	struct campaign_figures d = {.abandoned = 1};

	count(st, &d, now_us);
}

void campaigns_stats_day(const struct campaign_stats *st, int64_t now_us,
			 struct campaign_figures *out, int64_t *ret_since_us)
{
	if (day_of(now_us) != st->day) {
		memset(out, 0, sizeof(*out));
		*ret_since_us = midnight_of(now_us);
		return;
	}
	*out = st->today;
	*ret_since_us = st->since_us;
}

void campaigns_stats_recent(const struct campaign_stats *st, int64_t now_us,
			    struct campaign_figures *out)
{
	int64_t minute = now_us / MINUTE_US;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < CAMPAIGN_STATS_WINDOW_MIN; i++)
		if (st->recent[i].minute > minute - CAMPAIGN_STATS_WINDOW_MIN &&
		    st->recent[i].minute <= minute)
			add(out, &st->recent[i].f);
}

bool campaigns_stats_tick(struct campaign_stats *st, int64_t now_us)
{
	int64_t minute = now_us / MINUTE_US;
	bool moved = false;

	if (minute == st->tick_minute)
		return false;
	st->tick_minute = minute;
	for (unsigned i = 0; i < CAMPAIGN_STATS_WINDOW_MIN && !moved; i++)
		moved = st->recent[i].minute >=
			    minute - CAMPAIGN_STATS_WINDOW_MIN - 1 &&
			(st->recent[i].f.answered || st->recent[i].f.abandoned);
	moved = moved || day_of(now_us) != st->day;
	st->dirty = st->dirty || moved;
	return moved;
}
