/* envfile.h: environment files, the KEY=VALUE format of systemd's
 * EnvironmentFile= and of /etc/default: one setting a line, '#' or ';'
 * comment lines, an optional "export ", values bare (trimmed), in '...'
 * (as they are) or in "..." (a backslash takes the next character). */
#ifndef UTIL_ENVFILE_H
#define UTIL_ENVFILE_H

#include <stddef.h>

/* Named cap on a file: settings, not data. */
#define ENVFILE_MAX_SIZE (64u << 10)

/* One setting; key and value are borrowed for the call only. Returns 0 to
 * go on, or a negative errno that stops the parse and is returned by it. */
typedef int (*envfile_cb)(const char *key, const char *value, void *userdata);

/*
 * Parses text, calling cb once per setting in file order. Returns 0, the
 * callback's negative errno, -ENOMEM, or -EINVAL when a line is not a
 * setting (*ret_line then holds its number, from 1; ret_line may be NULL
 * and is untouched on success).
 */
int envfile_parse(const char *text, envfile_cb cb, void *userdata,
		  unsigned *ret_line);

/*
 * Reads path and parses it as envfile_parse does. Blocks on the file
 * system: call it off the event loop. Returns what envfile_parse returns,
 * -EFBIG past ENVFILE_MAX_SIZE, or the negative errno of open or read.
 */
int envfile_read(const char *path, envfile_cb cb, void *userdata,
		 unsigned *ret_line);

#endif /* UTIL_ENVFILE_H */
