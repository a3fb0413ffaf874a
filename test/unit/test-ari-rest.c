/* test-ari-rest.c: ARI REST requests against a local test server. */
#include <arpa/inet.h>
#include <check.h>

#include "testlib.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ari/event.h"
#include "ari/internal.h"
#include "ari/rest.h"
#include "httpd.h"

#define MAX_RESULTS 32
#define RUN_LIMIT_MS 10000u
#define SMALL_CAP 1024u
#define AUTH_OK "Basic YXN0ZXJpc2s6c2VjcmV0" /* asterisk:secret */

struct fx;

/* What one request's callback saw. */
struct result {
	struct fx *fx;
	int calls;
	int error;
	long status;
	double elapsed_ms;
	bool has_body;
	size_t body_len;
	char body[256];
	json_t *json; /* a reference of our own */
};

struct fx {
	uv_loop_t loop;
	uv_timer_t watchdog;
	struct httpd *httpd;
	struct ari_rest *rest;
	struct ari_rest_config cfg;
	char base_url[64];
	int done; /* callbacks run, over all requests */
	struct result res[MAX_RESULTS];
	char big[4 * SMALL_CAP]; /* the body of /fits, /big, /bigstream */
	/* Set by tests whose callbacks chain or close. */
	int chain_left;
	bool in_request;
	struct ari_rest *closed_rest; /* while ari_rest_close() runs */
	int shutdown_error;
};

#define JSON "application/json"

/* The server's routes, on the path after "/ari" without its query. */
static const struct {
	const char *path;
	struct httpd_reply reply;
} routes[] = {
    {"/json",
     {.status = 200,
      .content_type = JSON "; charset=utf-8",
      .body = "{\"id\":\"abc\",\"n\":[1,2]}"}},
    {"/slow",
     {.status = 200,
      .content_type = JSON,
      .body = "{\"id\":\"abc\"}",
      .delay_ms = 20}},
    {"/echo", {.status = 200, .content_type = JSON}},
    {"/empty", {.status = 204}},
    {"/missing",
     {.status = 404,
      .content_type = JSON,
      .body = "{\"message\":\"Channel not found\"}"}},
    {"/conflict",
     {.status = 409,
      .content_type = JSON,
      .body = "{\"message\":\"Channel already exists\"}"}},
    {"/private", {.status = 200}},
    {"/hang", {.action = HTTPD_HANG}},
    {"/drop", {.action = HTTPD_DROP}},
    {"/fits", {.status = 200, .content_type = JSON, .body_len = SMALL_CAP}},
    {"/big", {.status = 200, .content_type = JSON, .body_len = 4 * SMALL_CAP}},
    {"/bigstream",
     {.status = 200,
      .content_type = JSON,
      .body_len = 4 * SMALL_CAP,
      .close_delimited = true}},
    {"/badjson", {.status = 200, .content_type = JSON, .body = "{nope"}},
    {"/text", {.status = 200, .content_type = "text/plain", .body = "hello"}},
};

/* Answers from the table; the bodies that depend on the request or on
 * the fixture are filled in here. Unknown paths get a bare 404. */
static void route(const struct httpd_request *req, struct httpd_reply *reply,
		  void *userdata)
{
	struct fx *fx = userdata;
	char p[64];

	snprintf(p, sizeof(p), "%s", req->path + strlen("/ari"));
	p[strcspn(p, "?")] = '\0';
	reply->status = 404;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!strcmp(p, routes[i].path))
			*reply = routes[i].reply;
	}
	if (!strcmp(p, "/echo"))
		reply->body = req->body;
	else if (!strcmp(p, "/private") && strcmp(req->authorization, AUTH_OK))
		reply->status = 401;
	else if (reply->body_len && !reply->body)
		reply->body = fx->big;
}

static void on_watchdog(uv_timer_t *timer)
{
}

static void fx_start_rest(struct fx *fx)
{
	ck_assert_int_eq(ari_rest_new(&fx->loop, &fx->cfg, &fx->rest), 0);
}

/* Starts the loop, the server and (unless tests adjust cfg first) a
 * client with credentials. */
static void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	ck_assert_int_eq(uv_loop_init(&fx->loop), 0);
	ck_assert_int_eq(uv_timer_init(&fx->loop, &fx->watchdog), 0);
	/* Keeps UV_RUN_ONCE from blocking past the run deadline. */
	ck_assert_int_eq(uv_timer_start(&fx->watchdog, on_watchdog, 20, 20), 0);
	ck_assert_int_eq(httpd_new(&fx->loop, route, fx, &fx->httpd), 0);
	snprintf(fx->base_url, sizeof(fx->base_url), "http://127.0.0.1:%d/ari/",
		 httpd_port(fx->httpd));
	/* "[1", blanks, "]": valid JSON when cut at SMALL_CAP. */
	memset(fx->big, ' ', sizeof(fx->big));
	fx->big[0] = '[';
	fx->big[1] = '1';
	fx->big[SMALL_CAP - 1] = ']';
	fx->big[sizeof(fx->big) - 1] = ']';
	fx->cfg.base_url = fx->base_url;
	fx->cfg.username = "asterisk";
	fx->cfg.password = "secret";
	for (size_t i = 0; i < MAX_RESULTS; i++)
		fx->res[i].fx = fx;
}

/* Closes everything, runs the loop dry and checks nothing was left. */
static void fx_done(struct fx *fx)
{
	ari_rest_close(fx->rest);
	httpd_close(fx->httpd);
	uv_close((uv_handle_t *)&fx->watchdog, NULL);
	ck_assert_int_eq(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&fx->loop), 0);
	for (size_t i = 0; i < MAX_RESULTS; i++)
		json_decref(fx->res[i].json);
}

static void run_until(struct fx *fx, int done)
{
	uint64_t deadline = uv_now(&fx->loop) + RUN_LIMIT_MS;

	while (fx->done < done) {
		ck_assert_msg(uv_now(&fx->loop) < deadline,
			      "loop ran too long");
		uv_run(&fx->loop, UV_RUN_ONCE);
	}
}

static void run_for(struct fx *fx, uint64_t ms)
{
	uint64_t until = uv_now(&fx->loop) + ms;

	while (uv_now(&fx->loop) < until)
		uv_run(&fx->loop, UV_RUN_ONCE);
}

static void record(const struct ari_response *resp, void *userdata)
{
	struct result *r = userdata;

	r->calls++;
	r->error = resp->error;
	r->status = resp->http_status;
	r->elapsed_ms = resp->elapsed_ms;
	r->has_body = resp->body != NULL;
	r->body_len = resp->body_len;
	if (resp->body)
		snprintf(r->body, sizeof(r->body), "%s", resp->body);
	json_decref(r->json);
	r->json = json_incref(resp->json);
	r->fx->done++;
}

/* Runs one request to completion and returns its result. */
static struct result *request(struct fx *fx, const char *method,
			      const char *path, const json_t *body)
{
	struct result *r = &fx->res[fx->done];

	ck_assert_int_eq(
	    ari_rest_request(fx->rest, method, path, body, record, r), 0);
	run_until(fx, fx->done + 1);
	ck_assert_int_eq(r->calls, 1);
	return r;
}

START_TEST(get_json_200)
{
	struct fx fx;
	const struct httpd_stats *st;
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/json", NULL);
	ck_assert_int_eq(r->error, 0);
	ck_assert_int_eq(r->status, 200);
	ck_assert(json_is_object(r->json));
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "id")),
			 "abc");
	ck_assert_str_eq(r->body, "{\"id\":\"abc\",\"n\":[1,2]}");
	ck_assert_uint_eq(r->body_len, strlen(r->body));
	ck_assert(r->elapsed_ms > 0.0);
	st = httpd_stats(fx.httpd);
	ck_assert_str_eq(st->last_method, "GET");
	ck_assert_str_eq(st->last_path, "/ari/json");
	ck_assert_str_eq(st->last_authorization, AUTH_OK);
	ck_assert_str_eq(st->last_content_type, "");
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 0);
	fx_done(&fx);
}
END_TEST

START_TEST(post_json_body)
{
	struct fx fx;
	const struct httpd_stats *st;
	json_t *body = json_pack("{s:s, s:i}", "endpoint", "PJSIP/100", "n", 1);
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "POST", "/echo?app=welcomedly", body);
	st = httpd_stats(fx.httpd);
	ck_assert_str_eq(st->last_method, "POST");
	ck_assert_str_eq(st->last_path, "/ari/echo?app=welcomedly");
	ck_assert_str_eq(st->last_content_type, "application/json");
	ck_assert_str_eq(st->last_body, "{\"endpoint\":\"PJSIP/100\",\"n\":1}");
	ck_assert_int_eq(r->error, 0);
	ck_assert(json_equal(r->json, body));
	json_decref(body);
	fx_done(&fx);
}
END_TEST

START_TEST(no_body_methods)
{
	static const char *const methods[] = {"POST", "PUT", "DELETE", "GET"};
	struct fx fx;
	const struct httpd_stats *st;

	fx_init(&fx);
	fx_start_rest(&fx);
	st = httpd_stats(fx.httpd);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct result *r = request(&fx, methods[i], "/empty", NULL);

		ck_assert_int_eq(r->error, 0);
		ck_assert_int_eq(r->status, 204);
		ck_assert(!r->has_body);
		ck_assert_ptr_null(r->json);
		ck_assert_str_eq(st->last_method, methods[i]);
		ck_assert_str_eq(st->last_content_type, "");
		ck_assert_uint_eq(st->last_body_len, 0);
	}
	fx_done(&fx);
}
END_TEST

START_TEST(http_errors_map_to_errno)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx.cfg.password = "wrong";
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/missing", NULL);
	ck_assert_int_eq(r->error, -ENOENT);
	ck_assert_int_eq(r->status, 404);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "message")),
			 "Channel not found");
	r = request(&fx, "POST", "/conflict", NULL);
	ck_assert_int_eq(r->error, -EEXIST);
	ck_assert_int_eq(r->status, 409);
	r = request(&fx, "GET", "/private", NULL);
	ck_assert_int_eq(r->error, -EACCES);
	ck_assert_int_eq(r->status, 401);
	fx_done(&fx);
}
END_TEST

START_TEST(credentials_accepted)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/private", NULL);
	ck_assert_int_eq(r->error, 0);
	ck_assert_int_eq(r->status, 200);
	fx_done(&fx);
}
END_TEST

static void on_closed_probe(uv_handle_t *handle)
{
}

/* A port that was just free: bound, read back, closed. */
static int closed_port(uv_loop_t *loop)
{
	uv_tcp_t tcp;
	struct sockaddr_in addr;
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	ck_assert_int_eq(uv_tcp_init(loop, &tcp), 0);
	uv_ip4_addr("127.0.0.1", 0, &addr);
	ck_assert_int_eq(uv_tcp_bind(&tcp, (struct sockaddr *)&addr, 0), 0);
	ck_assert_int_eq(uv_tcp_getsockname(&tcp, (struct sockaddr *)&ss, &len),
			 0);
	uv_close((uv_handle_t *)&tcp, on_closed_probe);
	uv_run(loop, UV_RUN_NOWAIT);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

START_TEST(connection_refused)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	snprintf(fx.base_url, sizeof(fx.base_url), "http://127.0.0.1:%d/ari",
		 closed_port(&fx.loop));
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/json", NULL);
	ck_assert_int_eq(r->error, -ECONNREFUSED);
	ck_assert_int_eq(r->status, 0);
	ck_assert(!r->has_body);
	fx_done(&fx);
}
END_TEST

/* The second request waits for the one connection the whole time: the
 * time-out counts from ari_rest_request(), queueing included. */
START_TEST(silent_server_times_out)
{
	struct fx fx;

	fx_init(&fx);
	fx.cfg.timeout_ms = 200;
	fx.cfg.max_connections = 1;
	fx_start_rest(&fx);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/hang", NULL,
						  record, &fx.res[i]),
				 0);
	run_until(&fx, 2);
	for (int i = 0; i < 2; i++) {
		struct result *r = &fx.res[i];

		ck_assert_int_eq(r->calls, 1);
		ck_assert_int_eq(r->error, -ETIMEDOUT);
		ck_assert_int_eq(r->status, 0);
		ck_assert_msg(r->elapsed_ms >= 190.0 && r->elapsed_ms < 2000.0,
			      "elapsed %.1f ms", r->elapsed_ms);
	}
	ck_assert_uint_eq(httpd_stats(fx.httpd)->requests, 1);
	fx_done(&fx);
}
END_TEST

START_TEST(dropped_connection_resets)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/drop", NULL);
	ck_assert_int_eq(r->error, -ECONNRESET);
	ck_assert_int_eq(r->status, 0);
	fx_done(&fx);
}
END_TEST

START_TEST(body_over_cap)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx.cfg.max_response_bytes = SMALL_CAP;
	fx_start_rest(&fx);
	/* Exactly at the cap is fine. */
	r = request(&fx, "GET", "/fits", NULL);
	ck_assert_int_eq(r->error, 0);
	ck_assert_uint_eq(r->body_len, SMALL_CAP);
	ck_assert(json_is_array(r->json));
	/* Over it, announced by Content-Length. */
	r = request(&fx, "GET", "/big", NULL);
	ck_assert_int_eq(r->error, -EMSGSIZE);
	ck_assert(!r->has_body);
	/* Over it, with no length announced: the body ends at close. */
	r = request(&fx, "GET", "/bigstream", NULL);
	ck_assert_int_eq(r->error, -EMSGSIZE);
	ck_assert_int_eq(r->status, 200);
	ck_assert(!r->has_body);
	fx_done(&fx);
}
END_TEST

START_TEST(content_types)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/badjson", NULL);
	ck_assert_int_eq(r->error, -EPROTO);
	ck_assert_int_eq(r->status, 200);
	ck_assert_str_eq(r->body, "{nope");
	r = request(&fx, "GET", "/text", NULL);
	ck_assert_int_eq(r->error, 0);
	ck_assert_ptr_null(r->json);
	ck_assert_str_eq(r->body, "hello");
	fx_done(&fx);
}
END_TEST

/* Chains the next request from inside the previous one's callback. */
static void chain_next(const struct ari_response *resp, void *userdata)
{
	struct result *r = userdata;
	struct fx *fx = r->fx;

	ck_assert(!fx->in_request);
	record(resp, userdata);
	if (--fx->chain_left == 0)
		return;
	fx->in_request = true;
	ck_assert_int_eq(ari_rest_request(fx->rest, "GET", "/json", NULL,
					  chain_next, &fx->res[fx->done]),
			 0);
	fx->in_request = false;
}

START_TEST(sequential_requests_reuse_one_connection)
{
	struct fx fx;
	const struct httpd_stats *st;

	fx_init(&fx);
	fx_start_rest(&fx);
	fx.chain_left = 20;
	ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/json", NULL,
					  chain_next, &fx.res[0]),
			 0);
	run_until(&fx, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(fx.res[i].calls, 1);
		ck_assert_int_eq(fx.res[i].error, 0);
	}
	st = httpd_stats(fx.httpd);
	ck_assert_uint_eq(st->requests, 20);
	ck_assert_uint_eq(st->accepted, 1);
	fx_done(&fx);
}
END_TEST

/* Asterisk closes connections idle past session_keep_alive; libcurl finds
 * the cached one dead and opens another. */
START_TEST(server_closed_idle_connection)
{
	struct fx fx;
	struct result *r;

	fx_init(&fx);
	fx_start_rest(&fx);
	r = request(&fx, "GET", "/json", NULL);
	ck_assert_int_eq(r->error, 0);
	httpd_drop_idle(fx.httpd);
	run_for(&fx, 20);
	r = request(&fx, "POST", "/echo", NULL);
	ck_assert_int_eq(r->error, 0);
	ck_assert_uint_eq(httpd_stats(fx.httpd)->accepted, 2);
	ck_assert_uint_eq(httpd_stats(fx.httpd)->requests, 2);
	fx_done(&fx);
}
END_TEST

START_TEST(concurrent_requests_respect_connection_limit)
{
	struct fx fx;
	const struct httpd_stats *st;

	fx_init(&fx);
	fx.cfg.max_connections = 2;
	fx_start_rest(&fx);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/slow", NULL,
						  record, &fx.res[i]),
				 0);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 20);
	ck_assert_int_eq(fx.done, 0);
	run_until(&fx, 20);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(fx.res[i].calls, 1);
		ck_assert_int_eq(fx.res[i].error, 0);
	}
	st = httpd_stats(fx.httpd);
	ck_assert_uint_eq(st->requests, 20);
	ck_assert_uint_le(st->accepted, 2);
	ck_assert_uint_le(st->max_open, 2);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 0);
	fx_done(&fx);
}
END_TEST

START_TEST(reentrant_request_completes_later)
{
	struct fx fx;

	fx_init(&fx);
	fx_start_rest(&fx);
	fx.chain_left = 2;
	fx.in_request = true;
	ck_assert_int_eq(ari_rest_request(fx.rest, "POST", "/empty", NULL,
					  chain_next, &fx.res[0]),
			 0);
	fx.in_request = false;
	run_until(&fx, 2);
	ck_assert_int_eq(fx.res[0].calls, 1);
	ck_assert_int_eq(fx.res[1].calls, 1);
	ck_assert_int_eq(fx.res[1].status, 200);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 0);
	fx_done(&fx);
}
END_TEST

/* Records a cancellation and checks the client refuses new work. */
static void record_canceled(const struct ari_response *resp, void *userdata)
{
	struct result *r = userdata;

	record(resp, userdata);
	r->fx->shutdown_error =
	    ari_rest_request(r->fx->rest, "GET", "/json", NULL, record, r);
}

/* Closes with four requests on the wire and a fifth still queued inside
 * libcurl (four connections by default): every callback runs once, with
 * -ECANCELED, before ari_rest_close() returns. */
START_TEST(close_cancels_pending)
{
	struct fx fx;
	const struct httpd_stats *st;
	uint64_t deadline;

	fx_init(&fx);
	fx_start_rest(&fx);
	st = httpd_stats(fx.httpd);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/hang", NULL,
						  record_canceled, &fx.res[i]),
				 0);
	deadline = uv_now(&fx.loop) + RUN_LIMIT_MS;
	while (st->requests < 4) {
		ck_assert(uv_now(&fx.loop) < deadline);
		uv_run(&fx.loop, UV_RUN_ONCE);
	}
	ck_assert_int_eq(fx.done, 0);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 5);
	ari_rest_close(fx.rest);
	ck_assert_int_eq(fx.done, 5);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(fx.res[i].calls, 1);
		ck_assert_int_eq(fx.res[i].error, -ECANCELED);
		ck_assert_int_eq(fx.res[i].status, 0);
	}
	ck_assert_int_eq(fx.shutdown_error, -ESHUTDOWN);
	fx.rest = NULL;
	run_for(&fx, 50);
	ck_assert_int_eq(fx.done, 5);
	ck_assert_uint_eq(st->requests, 4);
	fx_done(&fx);
}
END_TEST

/* The first answer closes the client from its own callback. */
static void close_from_callback(const struct ari_response *resp, void *userdata)
{
	struct result *r = userdata;
	struct ari_rest *rest = r->fx->rest;

	record(resp, userdata);
	r->fx->rest = NULL;
	r->fx->closed_rest = rest;
	ari_rest_close(rest);
	r->fx->closed_rest = NULL;
	ck_assert_int_eq(r->fx->done, 4);
}

/* A cancelled request's callback closes the client a second time. */
static void close_again(const struct ari_response *resp, void *userdata)
{
	struct result *r = userdata;

	record(resp, userdata);
	ck_assert_ptr_nonnull(r->fx->closed_rest);
	ari_rest_close(r->fx->closed_rest);
}

START_TEST(close_from_inside_callback)
{
	struct fx fx;

	fx_init(&fx);
	fx_start_rest(&fx);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/hang", NULL,
						  close_again, &fx.res[i]),
				 0);
	ck_assert_int_eq(ari_rest_request(fx.rest, "GET", "/slow", NULL,
					  close_from_callback, &fx.res[0]),
			 0);
	run_until(&fx, 4);
	ck_assert_int_eq(fx.res[0].calls, 1);
	ck_assert_int_eq(fx.res[0].error, 0);
	for (int i = 1; i < 4; i++) {
		ck_assert_int_eq(fx.res[i].calls, 1);
		ck_assert_int_eq(fx.res[i].error, -ECANCELED);
	}
	run_for(&fx, 50);
	ck_assert_int_eq(fx.done, 4);
	fx_done(&fx);
}
END_TEST

START_TEST(fire_and_forget)
{
	struct fx fx;
	uint64_t deadline;

	fx_init(&fx);
	fx_start_rest(&fx);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, "DELETE", "/empty", NULL, NULL, NULL), 0);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 1);
	deadline = uv_now(&fx.loop) + RUN_LIMIT_MS;
	while (ari_rest_pending(fx.rest) > 0) {
		ck_assert(uv_now(&fx.loop) < deadline);
		uv_run(&fx.loop, UV_RUN_ONCE);
	}
	ck_assert_str_eq(httpd_stats(fx.httpd)->last_method, "DELETE");
	fx_done(&fx);
}
END_TEST

START_TEST(invalid_arguments)
{
	struct fx fx;
	char sentinel;
	struct ari_rest *untouched = (struct ari_rest *)&sentinel;
	json_t *scalar = json_integer(1);

	fx_init(&fx);
	fx.cfg.base_url = NULL;
	ck_assert_int_eq(ari_rest_new(&fx.loop, &fx.cfg, &untouched), -EINVAL);
	ck_assert_ptr_eq(untouched, (struct ari_rest *)&sentinel);
	fx.cfg.base_url = fx.base_url;
	ck_assert_int_eq(ari_rest_new(NULL, &fx.cfg, &fx.rest), -EINVAL);
	fx_start_rest(&fx);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, "PATCH", "/json", NULL, record, NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, NULL, "/json", NULL, record, NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, "GET", "json", NULL, record, NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, "GET", "/a b", NULL, record, NULL),
	    -EINVAL);
	ck_assert_int_eq(
	    ari_rest_request(fx.rest, "POST", "/json", scalar, record, NULL),
	    -EINVAL);
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 0);
	run_for(&fx, 30);
	ck_assert_int_eq(fx.done, 0);
	ck_assert_uint_eq(httpd_stats(fx.httpd)->requests, 0);
	json_decref(scalar);
	ari_rest_close(NULL);
	ck_assert_uint_eq(ari_rest_pending(NULL), 0);
	fx_done(&fx);
}
END_TEST

START_TEST(escape)
{
	static const struct {
		const char *in;
		const char *out;
	} rows[] = {
	    {"", ""},
	    {"PJSIP/100", "PJSIP%2F100"},
	    {"a b&c=d?e#f", "a%20b%26c%3Dd%3Fe%23f"},
	    {"Az09-._~", "Az09-._~"},
	    {"caf\xc3\xa9", "caf%C3%A9"},
	};
	char sentinel;
	char *out = &sentinel;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *escaped = NULL;

		ck_assert_int_eq(ari_rest_escape(rows[i].in, &escaped), 0);
		ck_assert_str_eq(escaped, rows[i].out);
		free(escaped);
	}
	ck_assert_int_eq(ari_rest_escape(NULL, &out), -EINVAL);
	ck_assert_ptr_eq(out, &sentinel);
}
END_TEST

START_TEST(curl_codes_map_to_errno)
{
	static const struct {
		CURLcode code;
		int error;
	} rows[] = {
	    {CURLE_OK, 0},
	    {CURLE_OPERATION_TIMEDOUT, -ETIMEDOUT},
	    {CURLE_COULDNT_CONNECT, -ECONNREFUSED},
	    {CURLE_GOT_NOTHING, -ECONNRESET},
	    {CURLE_RECV_ERROR, -ECONNRESET},
	    {CURLE_SEND_ERROR, -ECONNRESET},
	    {CURLE_PARTIAL_FILE, -ECONNRESET},
	    {CURLE_FILESIZE_EXCEEDED, -EMSGSIZE},
	    {CURLE_COULDNT_RESOLVE_HOST, -EHOSTUNREACH},
	    {CURLE_WEIRD_SERVER_REPLY, -EPROTO},
	    {CURLE_URL_MALFORMAT, -EINVAL},
	    {CURLE_OUT_OF_MEMORY, -ENOMEM},
	    {CURLE_SSL_CONNECT_ERROR, -EIO},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(ari__curl_to_errno(rows[i].code) == rows[i].error,
			      "curl code %d", (int)rows[i].code);
}
END_TEST

START_TEST(json_content_types)
{
	ck_assert(ari__content_type_is_json("application/json"));
	ck_assert(ari__content_type_is_json("Application/JSON; charset=utf-8"));
	ck_assert(ari__content_type_is_json(" application/json"));
	ck_assert(!ari__content_type_is_json("application/jsonp"));
	ck_assert(!ari__content_type_is_json("text/plain"));
	ck_assert(!ari__content_type_is_json(""));
	ck_assert(!ari__content_type_is_json(NULL));
}
END_TEST

/* REST over the events WebSocket --------------------------------------- */

/* What the fake events socket was given; fail makes it refuse. */
struct ws_sent {
	int count;
	int fail;
	json_t *last;
};

static int ws_capture(const char *text, size_t len, void *userdata)
{
	struct ws_sent *ws = userdata;

	if (ws->fail)
		return ws->fail;
	ws->count++;
	json_decref(ws->last);
	ws->last = json_loadb(text, len, 0, NULL);
	return 0;
}

/* Answers request id as Asterisk would, through the decoder the daemon
 * uses; returns what ari_rest_ws_answer() returned. */
static bool ws_answer(struct ari_rest *rest, const char *id, int status,
		      const char *body)
{
	json_t *msg =
	    json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "type", "RESTResponse",
		      "transaction_id", id, "request_id", id, "status_code",
		      status, "reason_phrase", "x", "uri", "channels/x");
	struct ari_event ev;
	char *text;
	bool answered;

	if (body) {
		json_object_set_new(msg, "content_type",
				    json_string("application/json"));
		json_object_set_new(msg, "message_body", json_string(body));
	}
	text = json_dumps(msg, 0);
	ck_assert_int_eq(ari_event_parse(text, strlen(text), &ev), 0);
	answered = ari_rest_ws_answer(rest, &ev);
	ari_event_clear(&ev);
	free(text);
	json_decref(msg);
	return answered;
}

/* Non-GET requests travel as RESTRequest messages and are answered by
 * RESTResponse ones; GETs stay on HTTP. */
START_TEST(ws_requests_and_answers)
{
	struct fx fx;
	struct ws_sent ws = {0};
	json_t *body = json_pack("{s:s}", "media", "sound:beep");
	const char *id;

	fx_init(&fx);
	fx_start_rest(&fx);
	ari_rest_set_ws(fx.rest, ws_capture, &ws);
	ck_assert_int_eq(ari_rest_request(fx.rest, "POST",
					  "/channels/c1/play?media=x", body,
					  record, &fx.res[0]),
			 0);
	ck_assert_int_eq(ws.count, 1);
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "type")),
			 "RESTRequest");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "method")),
			 "POST");
	ck_assert_str_eq(json_string_value(json_object_get(ws.last, "uri")),
			 "channels/c1/play?media=x");
	ck_assert_str_eq(
	    json_string_value(json_object_get(ws.last, "message_body")),
	    "{\"media\":\"sound:beep\"}");
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 1);
	id = json_string_value(json_object_get(ws.last, "request_id"));
	/* Someone else's answer is not ours. */
	ck_assert(!ws_answer(fx.rest, "nobody", 204, NULL));
	ck_assert(ws_answer(fx.rest, id, 200, "{\"id\":\"pb1\"}"));
	ck_assert_int_eq(fx.done, 1);
	ck_assert_int_eq(fx.res[0].error, 0);
	ck_assert_int_eq(fx.res[0].status, 200);
	ck_assert_str_eq(
	    json_string_value(json_object_get(fx.res[0].json, "id")), "pb1");
	ck_assert_uint_eq(ari_rest_pending(fx.rest), 0);
	/* An error status maps as over HTTP; a GET still goes over HTTP. */
	ck_assert_int_eq(ari_rest_request(fx.rest, "DELETE", "/channels/c1",
					  NULL, record, &fx.res[1]),
			 0);
	id = json_string_value(json_object_get(ws.last, "request_id"));
	ck_assert(
	    ws_answer(fx.rest, id, 404, "{\"message\":\"Channel not found\"}"));
	ck_assert_int_eq(fx.res[1].error, -ENOENT);
	request(&fx, "GET", "/json", NULL);
	ck_assert_int_eq(ws.count, 2);
	ck_assert_uint_eq(httpd_stats(fx.httpd)->requests, 1);
	json_decref(body);
	json_decref(ws.last);
	fx_done(&fx);
}
END_TEST

/* No answer within the timeout: -ETIMEDOUT; the socket going: the
 * requests waiting on it fail with -ECONNABORTED; a socket that refuses the
 * message: the request goes over HTTP. */
START_TEST(ws_timeout_reset_and_fallback)
{
	struct fx fx;
	struct ws_sent ws = {0};

	fx_init(&fx);
	fx.cfg.timeout_ms = 300;
	fx_start_rest(&fx);
	ari_rest_set_ws(fx.rest, ws_capture, &ws);
	ck_assert_int_eq(ari_rest_request(fx.rest, "POST",
					  "/channels/c1/answer", NULL, record,
					  &fx.res[0]),
			 0);
	run_until(&fx, 1);
	ck_assert_int_eq(fx.res[0].error, -ETIMEDOUT);
	ck_assert_msg(fx.res[0].elapsed_ms >= 290.0, "elapsed %.1f ms",
		      fx.res[0].elapsed_ms);
	ck_assert_int_eq(ari_rest_request(fx.rest, "POST",
					  "/channels/c2/answer", NULL, record,
					  &fx.res[1]),
			 0);
	ari_rest_set_ws(fx.rest, NULL, NULL);
	ck_assert_int_eq(fx.done, 2);
	ck_assert_int_eq(fx.res[1].error, -ECONNABORTED);
	ws.fail = -ENOBUFS;
	ari_rest_set_ws(fx.rest, ws_capture, &ws);
	request(&fx, "POST", "/echo", NULL);
	ck_assert_int_eq(fx.res[2].error, 0);
	ck_assert_uint_eq(httpd_stats(fx.httpd)->requests, 1);
	/* Close cancels what still waits for an answer. */
	ws.fail = 0;
	ck_assert_int_eq(ari_rest_request(fx.rest, "POST",
					  "/channels/c3/answer", NULL, record,
					  &fx.res[3]),
			 0);
	ari_rest_close(fx.rest);
	fx.rest = NULL;
	ck_assert_int_eq(fx.res[3].error, -ECANCELED);
	json_decref(ws.last);
	fx_done(&fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ari-rest");
	TCase *tc = tcase_create("core");

	/* The test server writes with plain write(2): a client that has
	 * already gone must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(tc, get_json_200);
	tcase_add_test(tc, post_json_body);
	tcase_add_test(tc, no_body_methods);
	tcase_add_test(tc, http_errors_map_to_errno);
	tcase_add_test(tc, credentials_accepted);
	tcase_add_test(tc, connection_refused);
	tcase_add_test(tc, silent_server_times_out);
	tcase_add_test(tc, dropped_connection_resets);
	tcase_add_test(tc, body_over_cap);
	tcase_add_test(tc, content_types);
	tcase_add_test(tc, sequential_requests_reuse_one_connection);
	tcase_add_test(tc, server_closed_idle_connection);
	tcase_add_test(tc, concurrent_requests_respect_connection_limit);
	tcase_add_test(tc, reentrant_request_completes_later);
	tcase_add_test(tc, close_cancels_pending);
	tcase_add_test(tc, close_from_inside_callback);
	tcase_add_test(tc, fire_and_forget);
	tcase_add_test(tc, invalid_arguments);
	tcase_add_test(tc, escape);
	tcase_add_test(tc, curl_codes_map_to_errno);
	tcase_add_test(tc, json_content_types);
	tcase_add_test(tc, ws_requests_and_answers);
	tcase_add_test(tc, ws_timeout_reset_and_fallback);
	suite_add_tcase(s, tc);
	return testlib_run(s);
}
