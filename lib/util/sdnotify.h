/* sdnotify.h: systemd's readiness protocol without libsystemd: one datagram
 * to the service manager's socket ($NOTIFY_SOCKET, read by the caller). */
#ifndef UTIL_SDNOTIFY_H
#define UTIL_SDNOTIFY_H

/*
 * Sends message (e.g. "READY=1", "WATCHDOG=1", "RELOADING=1\nSTATUS=...")
 * as one datagram to socket_path: a file system path, or an abstract
 * socket when it starts with '@'. Never blocks: a manager that is not
 * reading costs -EAGAIN. Opens and closes its own socket each time, so it
 * owns nothing between calls.
 *
 * Returns 1 when sent, 0 when socket_path is NULL or empty (not run by a
 * service manager), -EINVAL for a path that does not fit a sockaddr_un
 * or a message that is empty, or the negative errno of socket or sendto.
 */
int sdnotify_send(const char *socket_path, const char *message);

#endif /* UTIL_SDNOTIFY_H */
