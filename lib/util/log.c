/* log.c: leveled logging to standard error. */
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The time and level, then the message: into buf when it fits, else into
 * an allocation the caller frees (or cut at the buffer should that fail).
 * Returns the line, which ends with '\n', and sets *ret_len. */
static char *format_line(char *buf, size_t size, size_t *ret_len,
			 enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static char *format_line(char *buf, size_t size, size_t *ret_len,
			 enum log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char *line = buf;
	va_list again;
	int head, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	head = snprintf(buf, size, "%s.%03ldZ %s ", stamp,
			ts.tv_nsec / 1000000L, log_level_name(level));
	va_copy(again, ap);
	n = vsnprintf(buf + head, size - (size_t)head, fmt, ap);
	if (n < 0)
		n = 0;
	*ret_len = (size_t)head + (size_t)n + 1;
	if (*ret_len > size) {
		line = malloc(*ret_len + 1);
		if (line) {
			memcpy(line, buf, (size_t)head);
			vsnprintf(line + head, (size_t)n + 1, fmt, again);
		} else {
			line = buf;
			*ret_len = size;
		}
	}
	va_end(again);
	line[*ret_len - 1] = '\n';
	return line;
}

/* One write per line: a line is never split between writes, so nothing
 * another process writes to the same stream lands inside it, and a busy
 * daemon makes one system call per line instead of three. */
void log_writev(enum log_level level, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_STACK];
	char *line;
	size_t len;

	if (journal) {
		write_journal(level, fmt, ap);
		return;
	}
	line = format_line(buf, sizeof(buf), &len, level, fmt, ap);
	fwrite(line, 1, len, stderr);
	if (line != buf)
		free(line);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_writev(level, fmt, ap);
	va_end(ap);
}
