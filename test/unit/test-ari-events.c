/* test-ari-events.c: the ARI events WebSocket against a fake server. */
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include "ari/events.h"
#include "wsd.h"

#define WAIT_MS 5000
#define MAX_KEPT 8

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	bool expired;
	struct wsd *wsd;
	struct ari_events *ev;
	struct ari_events_config cfg;
	bool ev_closed;
	bool close_on_open;
	bool reconnect_on_close;
	unsigned opened, closed, messages, oversized;
	int last_error;
	size_t last_oversized;
	char *kept[MAX_KEPT]; /* the first messages, copied */
};

static void on_guard(uv_timer_t *t)
{
	struct fx *fx = t->data;

	fx->expired = true;
}

static void cb_opened(struct ari_events *ev, void *userdata)
{
	struct fx *fx = userdata;

	ck_assert(!fx->ev_closed);
	fx->opened++;
	if (fx->close_on_open) {
		fx->ev_closed = true;
		ari_events_close(ev);
	}
}

static void cb_message(struct ari_events *ev, const char *data, size_t len,
		       void *userdata)
{
	struct fx *fx = userdata;

	ck_assert(!fx->ev_closed);
	ck_assert_uint_eq(strlen(data), len);
	if (fx->messages < MAX_KEPT)
		fx->kept[fx->messages] = strdup(data);
	fx->messages++;
}

static void cb_oversized(struct ari_events *ev, size_t len_seen, void *userdata)
{
	struct fx *fx = userdata;

	ck_assert(!fx->ev_closed);
	fx->oversized++;
	fx->last_oversized = len_seen;
}

static void cb_closed(struct ari_events *ev, int error, void *userdata)
{
	struct fx *fx = userdata;

	ck_assert(!fx->ev_closed);
	ck_assert_int_lt(error, 0);
	fx->closed++;
	fx->last_error = error;
	if (fx->reconnect_on_close) {
		fx->reconnect_on_close = false;
		ck_assert_int_eq(ari_events_connect(ev), 0);
	}
}

static const struct ari_events_callbacks callbacks = {
    .opened = cb_opened,
    .message = cb_message,
    .oversized = cb_oversized,
    .closed = cb_closed,
};

/* Runs the loop until cond holds or WAIT_MS pass, then checks cond. */
#define WAIT_UNTIL(fx, cond)                                                   \
	do {                                                                   \
		(fx)->expired = false;                                         \
		uv_timer_start(&(fx)->guard, on_guard, WAIT_MS, 0);            \
		while (!(cond) && !(fx)->expired)                              \
			uv_run(&(fx)->loop, UV_RUN_ONCE);                      \
		uv_timer_stop(&(fx)->guard);                                   \
		ck_assert_msg(cond, "timed out waiting for " #cond);           \
	} while (0)

/* Runs the loop for ms, to show that nothing more happens. */
static void settle(struct fx *fx, uint64_t ms)
{
	fx->expired = false;
	uv_timer_start(&fx->guard, on_guard, ms, 0);
	while (!fx->expired)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

static void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	ck_assert_int_eq(uv_timer_init(&fx->loop, &fx->guard), 0);
	fx->guard.data = fx;
	ck_assert_int_eq(wsd_new(&fx->loop, "welcomedly", "secret", &fx->wsd),
			 0);
	fx->cfg.host = "127.0.0.1";
	fx->cfg.port = wsd_port(fx->wsd);
	fx->cfg.path_prefix = "/ari";
	fx->cfg.username = "welcomedly";
	fx->cfg.password = "secret";
	fx->cfg.app = "welcomedly";
}

static void fx_start(struct fx *fx)
{
	ck_assert_int_eq(
	    ari_events_new(&fx->loop, &fx->cfg, &callbacks, fx, &fx->ev), 0);
}

static void fx_connect(struct fx *fx)
{
	unsigned want = fx->opened + 1;

	ck_assert_int_eq(ari_events_connect(fx->ev), 0);
	WAIT_UNTIL(fx, fx->opened == want);
	ck_assert(ari_events_connected(fx->ev));
}

/* Closes everything and checks that the loop ends empty. */
static void fx_finish(struct fx *fx)
{
	if (!fx->ev_closed) {
		fx->ev_closed = true;
		ari_events_close(fx->ev);
	}
	wsd_free(fx->wsd);
	uv_close((uv_handle_t *)&fx->guard, NULL);
	ck_assert_int_eq(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
	for (unsigned i = 0; i < MAX_KEPT; i++)
		free(fx->kept[i]);
}

static void server_send(struct fx *fx, const char *msg, unsigned fragments)
{
	ck_assert_int_eq(wsd_send(fx->wsd, msg, strlen(msg), fragments), 0);
}

static char *filled(size_t len, char c)
{
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

START_TEST(connect_opens)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ck_assert(!ari_events_connected(fx.ev));
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	ck_assert_int_eq(ari_events_connect(fx.ev), -EALREADY);
	WAIT_UNTIL(&fx, fx.opened == 1);
	ck_assert(ari_events_connected(fx.ev));
	ck_assert_uint_eq(wsd_established(fx.wsd), 1);
	ck_assert_uint_eq(fx.closed, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(message_whole)
{
	static const char msg[] = "{\"type\":\"StasisStart\",\"args\":[]}";
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, msg, 1);
	WAIT_UNTIL(&fx, fx.messages == 1);
	ck_assert_str_eq(fx.kept[0], msg);
	fx_finish(&fx);
}
END_TEST

START_TEST(message_fragments)
{
	static const char msg[] =
	    "{\"type\":\"ChannelDtmfReceived\",\"digit\":\"5\"}";
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, msg, 3);
	server_send(&fx, "{\"type\":\"after\"}", 1);
	WAIT_UNTIL(&fx, fx.messages == 2);
	ck_assert_str_eq(fx.kept[0], msg);
	ck_assert_str_eq(fx.kept[1], "{\"type\":\"after\"}");
	fx_finish(&fx);
}
END_TEST

/* Bigger than lws's receive buffer, so lws hands each frame over in
 * pieces; whole or in 7 fragments, it must arrive once and intact. */
START_TEST(message_large)
{
	char *big = filled(300 * 1024, 'x');
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, big, 1);
	server_send(&fx, big, 7);
	WAIT_UNTIL(&fx, fx.messages == 2);
	ck_assert_str_eq(fx.kept[0], big);
	ck_assert_str_eq(fx.kept[1], big);
	ck_assert_uint_eq(fx.oversized, 0);
	free(big);
	fx_finish(&fx);
}
END_TEST

START_TEST(message_oversized)
{
	char *big = filled(5000, 'y');
	char *edge = filled(1024, 'z');
	struct fx fx;

	fx_init(&fx);
	fx.cfg.max_message_bytes = 1024;
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, big, 1);
	server_send(&fx, "{\"n\":1}", 1);
	server_send(&fx, big, 4);
	server_send(&fx, edge, 2);
	WAIT_UNTIL(&fx, fx.messages == 2 && fx.oversized == 2);
	ck_assert_uint_eq(fx.last_oversized, 5000);
	ck_assert_str_eq(fx.kept[0], "{\"n\":1}");
	ck_assert_str_eq(fx.kept[1], edge);
	ck_assert(ari_events_connected(fx.ev));
	free(big);
	free(edge);
	fx_finish(&fx);
}
END_TEST

START_TEST(wrong_password)
{
	struct fx fx;

	fx_init(&fx);
	fx.cfg.password = "wrong";
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -EACCES);
	ck_assert_uint_eq(fx.opened, 0);
	ck_assert_uint_eq(wsd_rejected(fx.wsd), 1);
	ck_assert(!ari_events_connected(fx.ev));
	fx_finish(&fx);
}
END_TEST

START_TEST(server_rejects)
{
	struct fx fx;

	fx_init(&fx);
	wsd_set_reject(fx.wsd, true);
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -EACCES);
	wsd_set_reject(fx.wsd, false);
	fx_connect(&fx);
	fx_finish(&fx);
}
END_TEST

/* A port that was free a moment ago: bind to port 0, read it, close. */
static int free_port(uv_loop_t *loop)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	uv_tcp_t tcp;

	uv_ip4_addr("127.0.0.1", 0, &addr);
	ck_assert_int_eq(uv_tcp_init(loop, &tcp), 0);
	ck_assert_int_eq(uv_tcp_bind(&tcp, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(
	    uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &len), 0);
	uv_close((uv_handle_t *)&tcp, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

START_TEST(connection_refused)
{
	struct fx fx;

	fx_init(&fx);
	fx.cfg.port = free_port(&fx.loop);
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -ECONNREFUSED);
	ck_assert_uint_eq(fx.opened, 0);
	fx_finish(&fx);
}
END_TEST

static void on_silent_connection(uv_stream_t *server, int status)
{
	/* Left in the backlog: the TCP handshake completes, the upgrade
	 * request gets no answer. */
}

START_TEST(connect_timeout)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	uv_tcp_t silent;
	struct fx fx;

	fx_init(&fx);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	ck_assert_int_eq(uv_tcp_init(&fx.loop, &silent), 0);
	ck_assert_int_eq(uv_tcp_bind(&silent, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(
	    uv_listen((uv_stream_t *)&silent, 4, on_silent_connection), 0);
	uv_tcp_getsockname(&silent, (struct sockaddr *)&bound, &len);
	fx.cfg.port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	fx.cfg.connect_timeout_s = 1;
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -ETIMEDOUT);
	ck_assert_uint_eq(fx.opened, 0);
	uv_close((uv_handle_t *)&silent, NULL);
	fx_finish(&fx);
}
END_TEST

#define FILLERS 8

static void on_filler_connected(uv_connect_t *req, int status)
{
}

/* With the listener's accept queue full the TCP handshake stalls in the
 * kernel: little or nothing happens on the socket, and our own timer must
 * end the attempt. */
START_TEST(connect_timeout_syn_dropped)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	uv_tcp_t full, fillers[FILLERS];
	uv_connect_t reqs[FILLERS];
	struct fx fx;

	fx_init(&fx);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	ck_assert_int_eq(uv_tcp_init(&fx.loop, &full), 0);
	ck_assert_int_eq(uv_tcp_bind(&full, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(
	    uv_listen((uv_stream_t *)&full, 1, on_silent_connection), 0);
	uv_tcp_getsockname(&full, (struct sockaddr *)&bound, &len);
	for (unsigned i = 0; i < FILLERS; i++) {
		uv_tcp_init(&fx.loop, &fillers[i]);
		uv_tcp_connect(&reqs[i], &fillers[i], (struct sockaddr *)&bound,
			       on_filler_connected);
	}
	settle(&fx, 100);
	fx.cfg.port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	fx.cfg.connect_timeout_s = 1;
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -ETIMEDOUT);
	for (unsigned i = 0; i < FILLERS; i++)
		uv_close((uv_handle_t *)&fillers[i], NULL);
	uv_close((uv_handle_t *)&full, NULL);
	fx_finish(&fx);
}
END_TEST

static void server_closes(bool graceful)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	ck_assert_int_eq(wsd_close_newest(fx.wsd, graceful), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -ECONNRESET);
	ck_assert(!ari_events_connected(fx.ev));
	WAIT_UNTIL(&fx, wsd_open(fx.wsd) == 0);
	fx_connect(&fx);
	server_send(&fx, "{\"again\":true}", 1);
	WAIT_UNTIL(&fx, fx.messages == 1);
	ck_assert_uint_eq(wsd_established(fx.wsd), 2);
	fx_finish(&fx);
}

START_TEST(server_closes_then_reconnect)
{
	server_closes(true);
}
END_TEST

START_TEST(server_drops_then_reconnect)
{
	server_closes(false);
}
END_TEST

/* The owner may reconnect from inside closed. */
START_TEST(reconnect_from_closed)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	fx.reconnect_on_close = true;
	ck_assert_int_eq(wsd_close_newest(fx.wsd, true), 0);
	WAIT_UNTIL(&fx, fx.opened == 2);
	ck_assert_uint_eq(fx.closed, 1);
	fx_finish(&fx);
}
END_TEST

START_TEST(make_before_break)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, "{\"type\":\"on-first\"}", 1);
	WAIT_UNTIL(&fx, fx.messages == 1);
	fx_connect(&fx);
	ck_assert_uint_eq(wsd_established(fx.wsd), 2);
	ck_assert_uint_eq(wsd_replaced(fx.wsd), 1);
	WAIT_UNTIL(&fx, wsd_open(fx.wsd) == 1);
	ck_assert_uint_eq(wsd_peer_closes(fx.wsd), 1);
	server_send(&fx, "{\"type\":\"on-second\"}", 1);
	WAIT_UNTIL(&fx, fx.messages == 2);
	settle(&fx, 200);
	ck_assert_uint_eq(fx.closed, 0);
	ck_assert_uint_eq(fx.messages, 2);
	ck_assert_str_eq(fx.kept[0], "{\"type\":\"on-first\"}");
	ck_assert_str_eq(fx.kept[1], "{\"type\":\"on-second\"}");
	ck_assert(ari_events_connected(fx.ev));
	fx_finish(&fx);
}
END_TEST

/* Someone else taking the app over is news: it is delivered. */
START_TEST(foreign_replacement_delivered)
{
	static const char msg[] =
	    "{\"type\":\"ApplicationReplaced\",\"application\":\"welcomedly\"}";
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, msg, 1);
	WAIT_UNTIL(&fx, fx.messages == 1);
	ck_assert_str_eq(fx.kept[0], msg);
	fx_finish(&fx);
}
END_TEST

/* A failed make-before-break attempt is reported, and the old socket
 * carries on. */
START_TEST(failed_replacement_keeps_socket)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	wsd_set_reject(fx.wsd, true);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.closed == 1);
	ck_assert_int_eq(fx.last_error, -EACCES);
	ck_assert(ari_events_connected(fx.ev));
	server_send(&fx, "{\"still\":true}", 1);
	WAIT_UNTIL(&fx, fx.messages == 1);
	ck_assert_uint_eq(fx.opened, 1);
	fx_finish(&fx);
}
END_TEST

/* A silent socket (no pong) is replaced make-before-break: a new one
 * opens, then the old one goes without a close being reported. */
START_TEST(pong_timeout)
{
	struct fx fx;

	fx_init(&fx);
	fx.cfg.ping_interval_s = 1;
	fx.cfg.pong_timeout_s = 2;
	fx_start(&fx);
	fx_connect(&fx);
	/* Pings keep an idle but healthy socket open past the timeout. */
	settle(&fx, 2500);
	ck_assert_uint_eq(fx.closed, 0);
	wsd_set_deaf(fx.wsd, true);
	WAIT_UNTIL(&fx, fx.opened == 2);
	ck_assert_uint_eq(fx.closed, 0);
	ck_assert(ari_events_connected(fx.ev));
	ck_assert_uint_ge(wsd_replaced(fx.wsd), 1);
	fx_finish(&fx);
}
END_TEST

/* A silent socket whose replacement is refused goes after the connect
 * timeout: both failures are reported, the socket is gone. */
START_TEST(pong_timeout_replacement_refused)
{
	struct fx fx;

	fx_init(&fx);
	fx.cfg.ping_interval_s = 1;
	fx.cfg.pong_timeout_s = 2;
	fx.cfg.connect_timeout_s = 1;
	fx_start(&fx);
	fx_connect(&fx);
	wsd_set_reject(fx.wsd, true);
	wsd_set_deaf(fx.wsd, true);
	WAIT_UNTIL(&fx, fx.closed == 2);
	ck_assert_int_eq(fx.last_error, -ETIMEDOUT);
	ck_assert(!ari_events_connected(fx.ev));
	ck_assert_uint_eq(fx.opened, 1);
	fx_finish(&fx);
}
END_TEST

START_TEST(send_messages)
{
	char *big = filled(ARI_EVENTS_MAX_SEND + 1, 'a');
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ck_assert_int_eq(ari_events_send(fx.ev, "x", 1), -ENOTCONN);
	fx_connect(&fx);
	ck_assert_int_eq(ari_events_send(fx.ev, big, strlen(big)), -EMSGSIZE);
	ck_assert_int_eq(ari_events_send(fx.ev, big, ARI_EVENTS_MAX_SEND), 0);
	ck_assert_int_eq(ari_events_send(fx.ev, "{\"type\":\"x\"}", 12), 0);
	WAIT_UNTIL(&fx, wsd_received(fx.wsd) == 2);
	free(big);
	fx_finish(&fx);
}
END_TEST

/* A message is written when sent, not on the loop's next turn: with a
 * peer that reads nothing and the loop not running, more than the queue's
 * cap is accepted (the kernel took the first ones), and what waited in the
 * queue follows once the peer reads. */
START_TEST(send_writes_at_once)
{
	size_t len = ARI_EVENTS_MAX_SEND / 2;
	char *msg = filled(len, 'b');
	unsigned sent = 0;
	struct fx fx;
	int r;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	wsd_set_deaf(fx.wsd, true);
	while ((r = ari_events_send(fx.ev, msg, len)) == 0)
		sent++;
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_uint_gt(sent, ARI_EVENTS_MAX_SEND_QUEUE / len);
	wsd_set_deaf(fx.wsd, false);
	WAIT_UNTIL(&fx, wsd_received(fx.wsd) == sent);
	ck_assert_int_eq(ari_events_send(fx.ev, "{}", 2), 0);
	WAIT_UNTIL(&fx, wsd_received(fx.wsd) == sent + 1);
	free(msg);
	fx_finish(&fx);
}
END_TEST

START_TEST(close_with_socket_open)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	server_send(&fx, "{\"type\":\"late\"}", 1);
	ck_assert_int_eq(ari_events_send(fx.ev, "{}", 2), 0);
	fx.ev_closed = true;
	ari_events_close(fx.ev);
	WAIT_UNTIL(&fx, wsd_open(fx.wsd) == 0);
	ck_assert_uint_eq(fx.closed, 0);
	ck_assert_uint_eq(fx.messages, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(close_while_connecting)
{
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	fx.ev_closed = true;
	ari_events_close(fx.ev);
	settle(&fx, 100);
	ck_assert_uint_eq(fx.opened + fx.closed, 0);
	fx_finish(&fx);
}
END_TEST

START_TEST(close_from_callback)
{
	struct fx fx;

	fx_init(&fx);
	fx.close_on_open = true;
	fx_start(&fx);
	ck_assert_int_eq(ari_events_connect(fx.ev), 0);
	WAIT_UNTIL(&fx, fx.opened == 1);
	WAIT_UNTIL(&fx, wsd_open(fx.wsd) == 0);
	fx_finish(&fx);
}
END_TEST

struct fd_probe {
	unsigned runs;
	int fd;
	bool survived;
};

/* Runs right after the reaper's first step in the same loop iteration:
 * opens a descriptor, then checks one iteration later that it is open. */
static void probe_prepare(uv_prepare_t *prepare)
{
	struct fd_probe *probe = prepare->data;

	if (probe->runs++ == 0) {
		probe->fd = eventfd(0, EFD_CLOEXEC);
		return;
	}
	probe->survived = fcntl(probe->fd, F_GETFD) >= 0;
	if (probe->survived)
		close(probe->fd);
	uv_prepare_stop(prepare);
	uv_close((uv_handle_t *)prepare, NULL);
}

/* lws 4.1.6 closes its event pipe twice during destruction; a descriptor
 * opened in between must not be the victim. */
START_TEST(close_spares_new_fds)
{
	struct fd_probe probe = {0, -1, false};
	uv_prepare_t prepare;
	struct fx fx;

	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	uv_prepare_init(&fx.loop, &prepare);
	prepare.data = &probe;
	fx.ev_closed = true;
	ari_events_close(fx.ev);
	uv_prepare_start(&prepare, probe_prepare);
	WAIT_UNTIL(&fx, probe.runs == 2);
	ck_assert_int_ge(probe.fd, 0);
	ck_assert(probe.survived);
	fx_finish(&fx);
}
END_TEST

static void count_signals(uv_handle_t *handle, void *arg)
{
	if (handle->type == UV_SIGNAL)
		++*(unsigned *)arg;
}

/* lws must not take SIGINT or SIGTERM from the application. */
START_TEST(no_signal_handlers)
{
	struct sigaction before_int, before_term, after;
	unsigned signals = 0;
	struct fx fx;

	sigaction(SIGINT, NULL, &before_int);
	sigaction(SIGTERM, NULL, &before_term);
	fx_init(&fx);
	fx_start(&fx);
	fx_connect(&fx);
	uv_walk(&fx.loop, count_signals, &signals);
	ck_assert_uint_eq(signals, 0);
	sigaction(SIGINT, NULL, &after);
	ck_assert(after.sa_handler == before_int.sa_handler);
	sigaction(SIGTERM, NULL, &after);
	ck_assert(after.sa_handler == before_term.sa_handler);
	fx_finish(&fx);
}
END_TEST

START_TEST(new_rejects_bad_config)
{
	struct ari_events_callbacks no_closed = callbacks;
	struct ari_events *ev = NULL;
	struct fx fx;

	fx_init(&fx);
	no_closed.closed = NULL;
	ck_assert_int_eq(
	    ari_events_new(&fx.loop, &fx.cfg, &no_closed, &fx, &ev), -EINVAL);
	fx.cfg.app = NULL;
	ck_assert_int_eq(
	    ari_events_new(&fx.loop, &fx.cfg, &callbacks, &fx, &ev), -EINVAL);
	ck_assert_ptr_null(ev);
	fx.ev_closed = true;
	ari_events_close(NULL);
	fx_finish(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ari-events");
	TCase *tc = tcase_create("core");

	/* The fake server's context logs before any ari_events_new() routes
	 * lws's log to log_debug: keep its notices out of the test output. */
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	tcase_add_test(tc, connect_opens);
	tcase_add_test(tc, message_whole);
	tcase_add_test(tc, message_fragments);
	tcase_add_test(tc, message_large);
	tcase_add_test(tc, message_oversized);
	tcase_add_test(tc, wrong_password);
	tcase_add_test(tc, server_rejects);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, connect_timeout);
	tcase_add_test(tc, connect_timeout_syn_dropped);
	tcase_add_test(tc, server_closes_then_reconnect);
	tcase_add_test(tc, server_drops_then_reconnect);
	tcase_add_test(tc, reconnect_from_closed);
	tcase_add_test(tc, make_before_break);
	tcase_add_test(tc, foreign_replacement_delivered);
	tcase_add_test(tc, failed_replacement_keeps_socket);
	tcase_add_test(tc, pong_timeout);
	tcase_add_test(tc, pong_timeout_replacement_refused);
	tcase_add_test(tc, send_messages);
	tcase_add_test(tc, close_with_socket_open);
	tcase_add_test(tc, close_while_connecting);
	tcase_add_test(tc, close_from_callback);
	tcase_add_test(tc, close_spares_new_fds);
	tcase_add_test(tc, send_writes_at_once);
	tcase_add_test(tc, no_signal_handlers);
	tcase_add_test(tc, new_rejects_bad_config);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
