/* log.c: libwebsockets' own log lines, into ours. */
#include "lwsuv/log.h"

#include <libwebsockets.h>
#include <string.h>

#include "util/log.h"

static void emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_debug("lws level=%d %.*s", level, (int)n, line);
}

void lwsuv_log_route(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, emit);
}
