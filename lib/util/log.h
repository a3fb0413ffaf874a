/* log.h: leveled key=value logging to standard error. */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/*
 * The level is the one piece of process-wide state in lib/: every module
 * writes to the same sink, and the daemon sets the level once at start.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warning", "notice", "info" or "debug".
 * Returns 0 and sets *ret_level, or -EINVAL. */
int log_level_parse(const char *name, enum log_level *ret_level);

/* Returns the lower-case name of a level; never NULL. */
const char *log_level_name(enum log_level level);

/*
 * Whether standard error is the stream journal_stream names: systemd sets
 * $JOURNAL_STREAM to "<device>:<inode>" of the journal's socket, and a
 * stderr redirected elsewhere since then does not match. NULL or text not
 * of that shape is false.
 */
bool log_stderr_is(const char *journal_stream);

/* Lines up to this long are formatted on the stack; longer ones in an
 * allocation. Each line reaches standard error in one write. */
#define LOG_LINE_STACK 1024

/* Named cap on one journal line (journald's own default is 48 KiB). */
#define LOG_JOURNAL_LINE 8192

/* Journal lines: "<N><message>" with N the syslog priority of the level
 * (error 3 ... debug 7) and no time stamp, the journal keeping both. Off,
 * the default, lines are "<time> <level> <message>". */
void log_set_journal(bool on);

/* Writes one line to standard error in the current format. Callers use
 * the macros below, which skip formatting when the level is filtered out. */
void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_writev(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static inline bool log_enabled(enum log_level level)
{
	return level <= log_get_level();
}

#define log_at(level, ...)                                                     \
	do {                                                                   \
		if (log_enabled(level))                                        \
			log_write(level, __VA_ARGS__);                         \
	} while (0)

#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_at(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_at(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* UTIL_LOG_H */
