/* reaper.c: destroying a libwebsockets 4.1 context on a foreign libuv loop. */
#include "lwsuv/reaper.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * lws 4.1.6 closes its event pipe descriptor twice when a context on a
 * foreign loop is destroyed: at once in lws_context_destroy(), and again in
 * the uv close callback of the pipe's poll handle, in a later loop phase.
 * A descriptor that anyone opens in between gets that number and is then
 * closed behind its owner's back. So, around the first call, every poll
 * descriptor that lws closed is taken again at once, with dup3() onto a
 * private memfd (a unique inode); lws's second close then closes only our
 * copy, and any copy still ours at the end is closed by us.
 */
static int poll_fd(const uv_handle_t *handle)
{
	uv_os_fd_t fd;

	if (handle->type != UV_POLL || uv_fileno(handle, &fd) < 0)
		return -1;
	return fd;
}

static void collect_poll_fd(uv_handle_t *handle, void *arg)
{
	struct lwsuv_reaper *r = arg;
	int fd = poll_fd(handle);

	if (fd < 0)
		return;
	if (r->fds && r->n_fds < r->cap_fds)
		r->fds[r->n_fds] = fd;
	r->n_fds++;
}

/* Lists the descriptors of the loop's poll handles: two walks, one to
 * count and one to fill. */
static void guards_collect(struct lwsuv_reaper *r)
{
	r->n_fds = 0;
	r->cap_fds = 0;
	uv_walk(r->loop, collect_poll_fd, r);
	r->fds = calloc(r->n_fds ? r->n_fds : 1, sizeof(*r->fds));
	r->cap_fds = r->fds ? r->n_fds : 0;
	r->n_fds = 0;
	if (r->fds)
		uv_walk(r->loop, collect_poll_fd, r);
	if (r->n_fds > r->cap_fds)
		r->n_fds = r->cap_fds;
}

/* Takes back every listed descriptor that is closed now; keeps the numbers
 * it took. */
static void guards_take(struct lwsuv_reaper *r)
{
	size_t kept = 0;

	for (size_t i = 0; i < r->n_fds; i++) {
		if (fcntl(r->fds[i], F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (r->guard < 0) {
			r->guard = memfd_create("lwsuv-fd-guard", MFD_CLOEXEC);
			if (r->guard < 0 || fstat(r->guard, &r->guard_st) < 0)
				break;
		}
		if (dup3(r->guard, r->fds[i], O_CLOEXEC) >= 0)
			r->fds[kept++] = r->fds[i];
	}
	r->n_fds = kept;
}

static bool fd_is_guard(const struct lwsuv_reaper *r, int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_ino == r->guard_st.st_ino &&
	       st.st_dev == r->guard_st.st_dev;
}

static void guards_release(struct lwsuv_reaper *r)
{
	for (size_t i = 0; r->guard >= 0 && i < r->n_fds; i++) {
		if (fd_is_guard(r, r->fds[i]))
			close(r->fds[i]);
	}
	if (r->guard >= 0)
		close(r->guard);
	free(r->fds);
	r->fds = NULL;
	r->n_fds = 0;
	r->guard = -1;
}

static void find_lws_handle(uv_handle_t *handle, void *arg)
{
	struct lwsuv_reaper *r = arg;

	if (handle->data == r->ctx)
		r->lws_busy = true;
}

static void idle_closed(uv_handle_t *handle)
{
	struct lwsuv_reaper *r = handle->data;

	r->done(r->arg);
}

/*
 * The first call closes every socket and starts closing lws's uv handles;
 * the second, once those have closed, frees the context. The uv event lib
 * gives each of its own per-loop handles the context as data and closes
 * them last, so none left on the loop means the second call is safe.
 */
static void reap(uv_idle_t *idle)
{
	struct lwsuv_reaper *r = idle->data;

	if (!r->destroying) {
		r->destroying = true;
		guards_collect(r);
		lws_context_destroy(r->ctx);
		guards_take(r);
		return;
	}
	r->lws_busy = false;
	uv_walk(r->loop, find_lws_handle, r);
	if (r->lws_busy)
		return;
	lws_context_destroy(r->ctx);
	r->ctx = NULL;
	guards_release(r);
	uv_idle_stop(idle);
	uv_close((uv_handle_t *)idle, idle_closed);
}

void lwsuv_reaper_start(struct lwsuv_reaper *reaper, uv_loop_t *loop,
			struct lws_context *ctx, void (*done)(void *arg),
			void *arg)
{
	memset(reaper, 0, sizeof(*reaper));
	reaper->loop = loop;
	reaper->ctx = ctx;
	reaper->done = done;
	reaper->arg = arg;
	reaper->guard = -1;
	uv_idle_init(loop, &reaper->idle);
	reaper->idle.data = reaper;
	uv_idle_start(&reaper->idle, reap);
}
