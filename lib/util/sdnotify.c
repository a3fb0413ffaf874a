/* sdnotify.c: a datagram to the service manager's notification socket. */
#include "util/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills sa for path; an '@' first names an abstract socket, whose name is
 * the rest after a NUL and whose length counts no terminator. */
static int make_address(const char *path, struct sockaddr_un *sa,
			socklen_t *ret_len)
{
	size_t n = strlen(path);

	if (n < 2 || n >= sizeof(sa->sun_path) ||
	    (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@') {
		sa->sun_path[0] = '\0';
		*ret_len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*ret_len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int sdnotify_send(const char *socket_path, const char *message)
{
	struct sockaddr_un sa;
	socklen_t len;
	ssize_t sent;
	int fd, r;

	if (!socket_path || !*socket_path)
		return 0;
	if (!message || !*message)
		return -EINVAL;
	r = make_address(socket_path, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	sent = sendto(fd, message, strlen(message), MSG_NOSIGNAL,
		      (const struct sockaddr *)&sa, len);
	r = sent < 0 ? -errno : 1;
	close(fd);
	return r;
}
