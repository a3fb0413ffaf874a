/* log.c: leveled logging to standard error. */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static bool journal;

/* syslog(3) priorities, which the journal reads from a "<N>" prefix. */
static const int level_priorities[] = {
    [LOG_LEVEL_ERROR] = 3, [LOG_LEVEL_WARNING] = 4, [LOG_LEVEL_NOTICE] = 5,
    [LOG_LEVEL_INFO] = 6,  [LOG_LEVEL_DEBUG] = 7,
};

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",   [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name, enum log_level *ret_level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*ret_level = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_LEVEL_DEBUG)
		return "unknown";
	return level_names[level];
}

void log_set_journal(bool on)
{
	journal = on;
}

bool log_stderr_is(const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!journal_stream ||
	    sscanf(journal_stream, "%llu:%llu%n", &dev, &ino, &end) != 2 ||
	    journal_stream[end] != '\0' || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* The journal takes each line as a record: a message's own line breaks
 * (a libpq error ends with one) become spaces, so one event stays one
 * record with its priority. Longer messages are cut at LOG_JOURNAL_LINE. */
static void write_journal(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void write_journal(enum log_level level, const char *fmt, va_list ap)
{
	char line[LOG_JOURNAL_LINE];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n;

	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	while (len > 0 && line[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	fprintf(
	    stderr, "<%d>%.*s\n",
	    level_priorities[(unsigned)level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG
							       : level],
	    (int)len, line);
}

void log_writev(enum log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (journal) {
		write_journal(level, fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One fprintf per part is fine: stderr is unbuffered, but flockfile
	 * keeps a line whole if a helper thread ever logs too. */
	flockfile(stderr);
	fprintf(stderr, "%s.%03ldZ %s ", stamp, ts.tv_nsec / 1000000L,
		log_level_name(level));
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_writev(level, fmt, ap);
	va_end(ap);
}
