/* log.h: libwebsockets' own log lines, into ours. */
#ifndef LWSUV_LOG_H
#define LWSUV_LOG_H

/* Routes libwebsockets' errors and warnings to log_debug (they are about
 * peers and sockets the caller reports on itself) and silences the rest.
 * Process-wide, as lws_set_log_level() is; safe to call again. */
void lwsuv_log_route(void);

#endif /* LWSUV_LOG_H */
