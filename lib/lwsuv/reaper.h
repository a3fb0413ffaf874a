/* reaper.h: destroying a libwebsockets 4.1 context that runs on a foreign
 * libuv loop. */
#ifndef LWSUV_REAPER_H
#define LWSUV_REAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <uv.h>

struct lws_context;

/* Private state, embedded by the owner so that starting it cannot fail. */
struct lwsuv_reaper {
	uv_loop_t *loop;
	struct lws_context *ctx;
	void (*done)(void *arg);
	void *arg;
	uv_idle_t idle;
	bool destroying;
	bool lws_busy;
	int *fds; /* poll descriptors lws closed, now held by the guard */
	size_t n_fds, cap_fds;
	int guard;
	struct stat guard_st;
};

/*
 * Destroys ctx, which runs on loop as a foreign loop, from an idle handle:
 * never from inside this call, so it may be called from any lws callback.
 * lws 4.1.6 needs two lws_context_destroy() calls on a foreign loop (the
 * second only once its own uv handles have closed) and closes its event
 * pipe descriptor twice; both are handled here. Sockets close during the
 * first step, so the context's protocol callbacks still run then. done(arg)
 * runs exactly once, after the context is gone and the reaper's own handle
 * has closed; reaper may then be freed. The loop must keep running.
 */
void lwsuv_reaper_start(struct lwsuv_reaper *reaper, uv_loop_t *loop,
			struct lws_context *ctx, void (*done)(void *arg),
			void *arg);

#endif /* LWSUV_REAPER_H */
