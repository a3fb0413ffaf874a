/* test-util-sdnotify.c: datagrams to path and abstract sockets, never
 * blocking on a manager that does not read. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/sdnotify.h"

/* A bound datagram socket standing for the service manager. */
static int listen_at(const char *name, struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(bind(fd, (struct sockaddr *)sa, len) == 0, "bind %s: %s",
		      name, strerror(errno));
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	ck_assert_int_eq(n, (ssize_t)strlen(want));
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(sends_to_a_path_socket)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/sdnotify-XXXXXX";
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	fd = listen_at(sa.sun_path, &sa, sizeof(sa));
	ck_assert_int_eq(sdnotify_send(sa.sun_path, "READY=1"), 1);
	expect_datagram(fd, "READY=1");
	ck_assert_int_eq(sdnotify_send(sa.sun_path, "WATCHDOG=1"), 1);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
}
END_TEST

/* An abstract name: '@' in $NOTIFY_SOCKET, a NUL in the address, and no
 * terminator counted in its length. */
static int listen_abstract(char *name, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(name, size, "@welcomedly-test-%ld", (long)getpid());

	memcpy(sa.sun_path + 1, name + 1, (size_t)n - 1);
	return listen_at(
	    name, &sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n));
}

START_TEST(sends_to_an_abstract_socket)
{
	char name[64];
	int fd = listen_abstract(name, sizeof(name));

	ck_assert_int_eq(sdnotify_send(name, "READY=1\nSTATUS=up"), 1);
	expect_datagram(fd, "READY=1\nSTATUS=up");
	close(fd);
}
END_TEST

START_TEST(never_blocks_when_the_manager_does_not_read)
{
	char name[64];
	int fd = listen_abstract(name, sizeof(name));
	int r = 1;

	/* The receive queue fills up; the sender must then fail at once. */
	for (int i = 0; i < 100000 && r == 1; i++)
		r = sdnotify_send(name, "WATCHDOG=1");
	ck_assert_int_eq(r, -EAGAIN);
	close(fd);
}
END_TEST

START_TEST(nothing_to_do_without_a_socket)
{
	ck_assert_int_eq(sdnotify_send(NULL, "READY=1"), 0);
	ck_assert_int_eq(sdnotify_send("", "READY=1"), 0);
}
END_TEST

START_TEST(rejects_bad_addresses_and_messages)
{
	char long_path[200];

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	ck_assert_int_eq(sdnotify_send("relative/path", "READY=1"), -EINVAL);
	ck_assert_int_eq(sdnotify_send("@", "READY=1"), -EINVAL);
	ck_assert_int_eq(sdnotify_send(long_path, "READY=1"), -EINVAL);
	ck_assert_int_eq(sdnotify_send("/tmp/x", ""), -EINVAL);
	ck_assert_int_eq(sdnotify_send("/nonexistent/notify", "READY=1"),
			 -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util-sdnotify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sends_to_a_path_socket);
	tcase_add_test(tc, sends_to_an_abstract_socket);
	tcase_add_test(tc, never_blocks_when_the_manager_does_not_read);
	tcase_add_test(tc, nothing_to_do_without_a_socket);
	tcase_add_test(tc, rejects_bad_addresses_and_messages);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
