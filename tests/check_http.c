/*
 * The HTTP client against tests/emulators/httptest.py: answers and their
 * errnos, error messages, retries (counted on the server), Retry-After,
 * deadlines, connection errors, concurrency; and the pure retry policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "check_main.h"
#include "clock.h"
#include "emulator.h"
#include "http.h"
#include "livy_wire.h"
#include "log.h"

static struct emulator server;

static void server_up(void)
{
	ck_assert_int_eq(emulator_start(&server, "httptest.py", NULL), 0);
}

static void server_down(void)
{
	emulator_stop(&server);
}

static const char *url(const char *path)
{
	static __thread char buf[512];
	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", server.port, path);
	return buf;
}

static struct http *client(double timeout, int retries)
{
	struct http_settings s = {.name = "test",
				  .connect_timeout = 1,
				  .timeout = timeout,
				  .max_retries = retries,
				  .backoff_base = 0.01,
				  .backoff_max = 0.05};
	struct http *h;
	ck_assert_int_eq(http_new(&s, &h), 0);
	return h;
}

static struct call call_in(double seconds)
{
	struct call c = {.deadline = clock_mono() + seconds};
	return c;
}

/* How many requests the server saw for "METHOD /path". */
static long server_count(const char *what)
{
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	json_t *stats;
	ck_assert_int_eq(http_json(h, &c, "GET", url("/_stats"), NULL, NULL,
				   true, NULL, &stats),
			 0);
	long n = (long)json_integer_value(json_object_get(stats, what));
	json_decref(stats);
	http_free(h);
	return n;
}

START_TEST(json_round_trip)
{
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	json_t *body = json_pack("{s:s}", "name", "etl");
	const char *headers[] = {"X-Test: 1", NULL};
	long status;
	json_t *doc;
	ck_assert_int_eq(http_json(h, &c, "POST", url("/echo"), headers, body,
				   false, &status, &doc),
			 0);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "method")),
			 "POST");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "body")),
			 "{\"name\":\"etl\"}");
	json_t *sent = json_object_get(doc, "headers");
	ck_assert_str_eq(
	    json_string_value(json_object_get(sent, "content-type")),
	    "application/json");
	ck_assert_str_eq(json_string_value(json_object_get(sent, "accept")),
			 "application/json");
	ck_assert_str_eq(json_string_value(json_object_get(sent, "x-test")),
			 "1");
	ck_assert_ptr_null(json_object_get(sent, "expect"));
	ck_assert_int_eq(c.retries, 0);
	json_decref(doc);
	json_decref(body);
	http_free(h);
}
END_TEST

START_TEST(raw_methods_and_basic_auth)
{
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	static const char data[] = "a\0b";
	const char *headers[] = {"Content-Type: application/octet-stream",
				 NULL};
	struct http_request req = {.method = "PATCH",
				   .url = url("/echo?x=1"),
				   .headers = headers,
				   .body = data,
				   .body_len = 3,
				   .userpwd = "user:pw"};
	struct http_response r;
	ck_assert_int_eq(http_do(h, &c, &req, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_t *doc = json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "method")),
			 "PATCH");
	json_t *sent = json_object_get(doc, "headers");
	ck_assert_str_eq(
	    json_string_value(json_object_get(sent, "content-length")), "3");
	ck_assert_str_eq(
	    json_string_value(json_object_get(sent, "authorization")),
	    "Basic dXNlcjpwdw==");
	json_decref(doc);
	http_response_release(&r);

	req = (struct http_request){.method = "PUT", .url = url("/echo")};
	ck_assert_int_eq(http_do(h, &c, &req, &r), 0);
	doc = json_loadb(r.body, r.body_len, 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "method")),
			 "PUT");
	sent = json_object_get(doc, "headers");
	ck_assert_str_eq(
	    json_string_value(json_object_get(sent, "content-length")), "0");
	json_decref(doc);
	http_response_release(&r);
	http_free(h);
}
END_TEST

START_TEST(location_is_captured_not_followed)
{
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	struct http_request req = {
	    .method = "PUT",
	    .url = url("/status/307?location=http://elsewhere:1/x&body=")};
	struct http_response r;
	ck_assert_int_eq(http_do(h, &c, &req, &r), 0);
	ck_assert_int_eq(r.status, 307);
	ck_assert_str_eq(r.location, "http://elsewhere:1/x");
	ck_assert_str_eq(r.body, "");
	http_response_release(&r);
	http_free(h);
}
END_TEST

/*
 * GET /status/CODE with @body through a client whose error_text is @fn
 * (may be NULL); returns rc, message in c->err.
 */
static int status_via(int (*fn)(const char *, size_t, char *, size_t),
		      struct call *c, int code, const char *body)
{
	struct http_settings s = {.name = "test",
				  .connect_timeout = 1,
				  .timeout = 2,
				  .error_text = fn};
	struct http *h;
	ck_assert_int_eq(http_new(&s, &h), 0);
	char *escaped = http_escape(body);
	char path[512];
	snprintf(path, sizeof(path), "/status/%d?body=%s", code, escaped);
	free(escaped);
	*c = call_in(2);
	json_t *doc = NULL;
	long status = 0;
	int rc =
	    http_json(h, c, "GET", url(path), NULL, NULL, false, &status, &doc);
	ck_assert_int_eq(status, code);
	ck_assert_ptr_null(doc);
	http_free(h);
	return rc;
}

static int status_with_body(struct call *c, int code, const char *body)
{
	return status_via(NULL, c, code, body);
}

START_TEST(status_errors_carry_the_message)
{
	struct call c;
	ck_assert_int_eq(
	    status_with_body(&c, 404, "{\"message\":\"no job 7\"}"), -ENOENT);
	ck_assert_str_eq(c.err, "HTTP 404: no job 7");
	ck_assert_int_eq(
	    status_with_body(&c, 403,
			     "{\"error\":{\"code\":\"X\",\"message\":"
			     "\"denied\\nsecond line\"}}"),
	    -EACCES);
	ck_assert_str_eq(c.err, "HTTP 403: denied");
	ck_assert_int_eq(status_with_body(&c, 409, "{\"detail\":\"exists\"}"),
			 -EINVAL);
	ck_assert_str_eq(c.err, "HTTP 409: exists");
	ck_assert_int_eq(status_with_body(&c, 401, "plain words\nmore"),
			 -EACCES);
	ck_assert_str_eq(c.err, "HTTP 401: plain words");
	ck_assert_int_eq(status_with_body(&c, 422, "<html>x</html>"), -EINVAL);
	ck_assert_str_eq(c.err, "HTTP 422");
}
END_TEST

/*
 * A platform's own error shape is read by its error_text, asked first;
 * the generic shapes stay the fallback. Livy's {"msg"} (livy_wire.c)
 * here; Slurm's errors[] is in check_slurm.c, WebHDFS's RemoteException
 * in check_artifact.c.
 */
START_TEST(error_text_reads_the_platform_shape)
{
	struct call c;
	ck_assert_int_eq(
	    status_via(livy_wire_error_text, &c, 400, "{\"msg\":\"bad kind\"}"),
	    -EINVAL);
	ck_assert_str_eq(c.err, "HTTP 400: bad kind");
	ck_assert_int_eq(status_via(livy_wire_error_text, &c, 404,
				    "{\"message\":\"no job 7\"}"),
			 -ENOENT);
	ck_assert_str_eq(c.err, "HTTP 404: no job 7");
	ck_assert_int_eq(
	    status_via(livy_wire_error_text, &c, 401, "plain words\nmore"),
	    -EACCES);
	ck_assert_str_eq(c.err, "HTTP 401: plain words");
	/* without it the shape is not known: just the status */
	ck_assert_int_eq(status_with_body(&c, 400, "{\"msg\":\"bad kind\"}"),
			 -EINVAL);
	ck_assert_str_eq(c.err, "HTTP 400");
}
END_TEST

START_TEST(idempotent_calls_are_retried)
{
	struct http *h = client(2, 4);
	struct call c = call_in(5);
	json_t *doc;
	ck_assert_int_eq(http_json(h, &c, "GET", url("/flaky/r1?fail=2"), NULL,
				   NULL, true, NULL, &doc),
			 0);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "count")), 3);
	ck_assert_int_eq(c.retries, 2);
	ck_assert_int_eq(server_count("GET /flaky/r1"), 3);
	json_decref(doc);
	http_free(h);
}
END_TEST

/* A service that says "slow down" in a 400 (as AWS's ThrottlingException). */
static bool says_flaky(long status, const char *body, size_t len)
{
	return status == 400 && len > 0 && strstr(body, "flaky") != NULL;
}

START_TEST(throttled_answers_are_retried_like_429)
{
	struct http_settings s = {.name = "test",
				  .connect_timeout = 1,
				  .timeout = 2,
				  .max_retries = 3,
				  .backoff_base = 0.01,
				  .backoff_max = 0.05,
				  .is_throttled = says_flaky};
	struct http *h;
	ck_assert_int_eq(http_new(&s, &h), 0);
	struct call c = call_in(5);
	json_t *doc;
	ck_assert_int_eq(http_json(h, &c, "POST",
				   url("/flaky/t1?fail=2&code=400"), NULL, NULL,
				   true, NULL, &doc),
			 0);
	ck_assert_int_eq(c.retries, 2);
	json_decref(doc);
	/* given up: transient (-EAGAIN), not a rejected request (-EINVAL) */
	c = call_in(5);
	ck_assert_int_eq(http_json(h, &c, "POST",
				   url("/flaky/t2?fail=99&code=400"), NULL,
				   NULL, true, NULL, NULL),
			 -EAGAIN);
	ck_assert_int_eq(c.retries, 3);
	ck_assert_str_eq(c.err, "HTTP 400: flaky 4");
	http_free(h);
	/* without is_throttled a 400 is final */
	h = client(2, 3);
	c = call_in(5);
	ck_assert_int_eq(http_json(h, &c, "POST",
				   url("/flaky/t3?fail=1&code=400"), NULL, NULL,
				   true, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(c.retries, 0);
	http_free(h);
}
END_TEST

START_TEST(other_calls_are_sent_once)
{
	struct http *h = client(2, 4);
	struct call c = call_in(5);
	long status;
	ck_assert_int_eq(http_json(h, &c, "POST", url("/flaky/r2?fail=1"), NULL,
				   NULL, false, &status, NULL),
			 -EAGAIN);
	ck_assert_int_eq(status, 503);
	ck_assert_str_eq(c.err, "HTTP 503: flaky 1");
	ck_assert_int_eq(c.retries, 0);
	ck_assert_int_eq(server_count("POST /flaky/r2"), 1);
	http_free(h);
}
END_TEST

START_TEST(retries_give_up_with_the_last_answer)
{
	struct http *h = client(2, 3);
	struct call c = call_in(5);
	long status;
	ck_assert_int_eq(http_json(h, &c, "GET", url("/flaky/r3?fail=99"), NULL,
				   NULL, true, &status, NULL),
			 -EAGAIN);
	ck_assert_int_eq(status, 503);
	ck_assert_int_eq(c.retries, 3);
	ck_assert_int_eq(server_count("GET /flaky/r3"), 4);
	http_free(h);
}
END_TEST

START_TEST(retry_after_is_honoured)
{
	struct http *h = client(2, 2);
	struct call c = call_in(5);
	double t0 = clock_mono();
	ck_assert_int_eq(
	    http_json(h, &c, "GET",
		      url("/flaky/r4?fail=1&code=429&retry_after=1"), NULL,
		      NULL, true, NULL, NULL),
	    0);
	ck_assert_double_ge(clock_mono() - t0, 1.0);
	ck_assert_int_eq(c.retries, 1);
	http_free(h);
}
END_TEST

START_TEST(retry_after_past_the_deadline_is_not_awaited)
{
	struct http *h = client(2, 2);
	struct call c = call_in(1);
	double t0 = clock_mono();
	struct http_request req = {
	    .method = "GET",
	    .url = url("/flaky/r5?fail=9&code=503&retry_after=5"),
	    .idempotent = true};
	struct http_response r;
	ck_assert_int_eq(http_do(h, &c, &req, &r), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_double_eq_tol(r.retry_after, 5, 0.01);
	ck_assert_double_lt(clock_mono() - t0, 0.5);
	ck_assert_int_eq(c.retries, 0);
	http_response_release(&r);
	http_free(h);
}
END_TEST

START_TEST(deadline_cuts_a_slow_answer)
{
	struct http *h = client(10, 4);
	struct call c = call_in(0.5);
	double t0 = clock_mono();
	ck_assert_int_eq(http_json(h, &c, "GET", url("/delay?ms=3000"), NULL,
				   NULL, true, NULL, NULL),
			 -ETIMEDOUT);
	ck_assert_double_lt(clock_mono() - t0, 0.5 + 0.3);
	ck_assert_msg(strstr(c.err, "GET 127.0.0.1:") != NULL, "%s", c.err);
	http_free(h);
}
END_TEST

START_TEST(attempt_timeout_applies)
{
	struct http *h = client(0.3, 0);
	struct call c = call_in(10);
	double t0 = clock_mono();
	ck_assert_int_eq(http_json(h, &c, "POST", url("/delay?ms=2000"), NULL,
				   NULL, false, NULL, NULL),
			 -ETIMEDOUT);
	ck_assert_double_lt(clock_mono() - t0, 0.6);
	http_free(h);
}
END_TEST

START_TEST(spent_deadline_sends_nothing)
{
	struct http *h = client(2, 4);
	struct call c = call_in(-1);
	ck_assert_int_eq(http_json(h, &c, "GET", url("/echo/late"), NULL, NULL,
				   true, NULL, NULL),
			 -ETIMEDOUT);
	ck_assert_msg(strstr(c.err, "deadline") != NULL, "%s", c.err);
	ck_assert_int_eq(server_count("GET /echo/late"), 0);
	http_free(h);
}
END_TEST

/* A port nobody listens on: bound, then closed. */
static int dead_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

START_TEST(refused_connections)
{
	struct http *h = client(2, 2);
	struct call c = call_in(5);
	char where[64];
	snprintf(where, sizeof(where), "http://127.0.0.1:%d/x?token=SECRET",
		 dead_port());
	ck_assert_int_eq(
	    http_json(h, &c, "GET", where, NULL, NULL, false, NULL, NULL),
	    -ECONNREFUSED);
	ck_assert_int_eq(c.retries, 0);
	ck_assert_ptr_null(strstr(c.err, "SECRET"));
	ck_assert_msg(strstr(c.err, "/x: couldn't connect") != NULL, "%s",
		      c.err);
	c = call_in(5);
	ck_assert_int_eq(
	    http_json(h, &c, "GET", where, NULL, NULL, true, NULL, NULL),
	    -ECONNREFUSED);
	ck_assert_int_eq(c.retries, 2);
	http_free(h);
}
END_TEST

START_TEST(dropped_connections)
{
	struct http *h = client(2, 1);
	struct call c = call_in(5);
	ck_assert_int_eq(http_json(h, &c, "POST", url("/drop"), NULL, NULL,
				   false, NULL, NULL),
			 -ECONNRESET);
	ck_assert_int_eq(c.retries, 0);
	c = call_in(5);
	ck_assert_int_eq(
	    http_json(h, &c, "GET", url("/drop"), NULL, NULL, true, NULL, NULL),
	    -ECONNRESET);
	ck_assert_int_eq(c.retries, 1);
	http_free(h);
}
END_TEST

START_TEST(invalid_json_is_eproto)
{
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	json_t *doc = (json_t *)1;
	ck_assert_int_eq(http_json(h, &c, "GET", url("/badjson"), NULL, NULL,
				   true, NULL, &doc),
			 -EPROTO);
	ck_assert_ptr_null(doc);
	ck_assert_msg(strstr(c.err, "not JSON") != NULL, "%s", c.err);
	http_free(h);
}
END_TEST

struct worker {
	struct http *h;
	int id;
	int ok;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/echo?w=%d&i=%d", w->id, i);
		struct call c = call_in(5);
		json_t *doc;
		if (http_json(w->h, &c, "GET", url(path), NULL, NULL, true,
			      NULL, &doc) < 0)
			continue;
		json_t *q = json_object_get(doc, "query");
		char want[16];
		snprintf(want, sizeof(want), "%d", w->id);
		if (strcmp(json_string_value(json_object_get(q, "w")), want) ==
		    0)
			w->ok++;
		json_decref(doc);
	}
	return NULL;
}

START_TEST(threads_share_one_client)
{
	struct http *h = client(5, 0);
	pthread_t t[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.h = h, .id = i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].ok, 20);
	}
	http_free(h);
}
END_TEST

/* The log names method, host and path; never query, headers or body. */
START_TEST(logs_hold_no_secrets)
{
	char path[] = "/tmp/check_http_log.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	log_init(true, LOG_LEVEL_DEBUG);
	struct http *h = client(2, 0);
	struct call c = call_in(2);
	const char *headers[] = {"Authorization: Bearer TOKSECRET", NULL};
	json_t *body = json_pack("{s:s}", "password", "BODYSECRET");
	http_json(h, &c, "POST", url("/status/500?sig=QUERYSECRET"), headers,
		  body, false, NULL, NULL);
	json_decref(body);
	http_free(h);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	char text[4096] = "";
	ck_assert_int_ge(pread(fd, text, sizeof(text) - 1, 0), 1);
	close(fd);
	unlink(path);
	ck_assert_msg(strstr(text, "http POST 127.0.0.1:") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "/status/500 -> 500 in ") != NULL, "%s",
		      text);
	ck_assert_ptr_null(strstr(text, "SECRET"));
}
END_TEST

START_TEST(retry_policy)
{
	ck_assert(http_should_retry(CURLE_OK, 503));
	ck_assert(http_should_retry(CURLE_OK, 500));
	ck_assert(http_should_retry(CURLE_OK, 429));
	ck_assert(!http_should_retry(CURLE_OK, 200));
	ck_assert(!http_should_retry(CURLE_OK, 404));
	ck_assert(!http_should_retry(CURLE_OK, 400));
	ck_assert(http_should_retry(CURLE_COULDNT_CONNECT, 0));
	ck_assert(http_should_retry(CURLE_OPERATION_TIMEDOUT, 0));
	ck_assert(http_should_retry(CURLE_GOT_NOTHING, 0));
	ck_assert(http_should_retry(CURLE_RECV_ERROR, 0));
	ck_assert(http_should_retry(CURLE_SEND_ERROR, 0));
	ck_assert(http_should_retry(CURLE_PARTIAL_FILE, 0));
	ck_assert(!http_should_retry(CURLE_SSL_CONNECT_ERROR, 0));
	ck_assert(!http_should_retry(CURLE_PEER_FAILED_VERIFICATION, 0));
	ck_assert(!http_should_retry(CURLE_COULDNT_RESOLVE_HOST, 0));
}
END_TEST

START_TEST(backoff_is_capped_full_jitter)
{
	struct http_settings s = {.backoff_base = 0.2, .backoff_max = 10};
	ck_assert_double_eq_tol(http_backoff(&s, 0, 0, 0.5), 0.1, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 3, 0, 0.5), 0.8, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 3, 0, 0.999), 1.5984, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 10, 0, 0.999), 9.99, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 1000, 0, 0.5), 5, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 2, 0, 0), 0, 1e-9);
	/* Retry-After is a floor, not a cap */
	ck_assert_double_eq_tol(http_backoff(&s, 0, 3, 0.5), 3, 1e-9);
	ck_assert_double_eq_tol(http_backoff(&s, 10, 3, 0.5), 5, 1e-9);
	for (int n = 0; n < 40; n++)
		ck_assert_double_le(http_backoff(&s, n, 0, 0.999999), 10);
}
END_TEST

START_TEST(status_errnos)
{
	ck_assert_int_eq(http_status_errno(200), 0);
	ck_assert_int_eq(http_status_errno(204), 0);
	ck_assert_int_eq(http_status_errno(401), -EACCES);
	ck_assert_int_eq(http_status_errno(403), -EACCES);
	ck_assert_int_eq(http_status_errno(404), -ENOENT);
	ck_assert_int_eq(http_status_errno(400), -EINVAL);
	ck_assert_int_eq(http_status_errno(409), -EINVAL);
	ck_assert_int_eq(http_status_errno(422), -EINVAL);
	ck_assert_int_eq(http_status_errno(429), -EAGAIN);
	ck_assert_int_eq(http_status_errno(503), -EAGAIN);
	ck_assert_int_eq(http_status_errno(500), -EIO);
	ck_assert_int_eq(http_status_errno(502), -EIO);
	ck_assert_int_eq(http_status_errno(302), -EPROTO);
}
END_TEST

START_TEST(settings_from_json)
{
	struct http_settings s;
	char err[256] = "";
	json_t *f = json_pack("{s:s}", "kind", "x");
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 0);
	ck_assert_double_eq(s.timeout, 30);
	ck_assert_double_eq(s.connect_timeout, 5);
	ck_assert_int_eq(s.max_retries, 4);
	ck_assert_ptr_null(s.ca_file);
	ck_assert_str_eq(s.name, "p");
	json_decref(f);

	f = json_pack("{s:f,s:i,s:i}", "timeout", 2.5, "connect_timeout", 1,
		      "retries", 0);
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 0);
	ck_assert_double_eq(s.timeout, 2.5);
	ck_assert_double_eq(s.connect_timeout, 1);
	ck_assert_int_eq(s.max_retries, 0);
	json_decref(f);

	f = json_pack("{s:s}", "timeout", "10");
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "field \"timeout\"") != NULL, "%s", err);
	json_decref(f);
	f = json_pack("{s:i}", "retries", -1);
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "field \"retries\"") != NULL, "%s", err);
	json_decref(f);
	f = json_pack("{s:i}", "connect_timeout", 0);
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "field \"connect_timeout\"") != NULL, "%s",
		      err);
	json_decref(f);
	f = json_pack("{s:s}", "ca_file", "/nonexistent/ca.pem");
	ck_assert_int_eq(http_settings_from_json(f, "p", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "field \"ca_file\"") != NULL, "%s", err);
	json_decref(f);
}
END_TEST

START_TEST(escape)
{
	char *s = http_escape("a b/c?d=é");
	ck_assert_str_eq(s, "a%20b%2Fc%3Fd%3D%C3%A9");
	free(s);
	s = http_escape("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(tls_is_verified)
{
	/* no server needed: a bad CA file fails the TLS set-up, never skips it
	 */
	struct http_settings set = {.ca_file = "/nonexistent/ca.pem",
				    .max_retries = 3};
	struct http *h;
	ck_assert_int_eq(http_new(&set, &h), 0);
	struct call c = call_in(2);
	char where[64];
	snprintf(where, sizeof(where), "https://127.0.0.1:%d/", server.port);
	ck_assert_int_eq(
	    http_json(h, &c, "GET", where, NULL, NULL, true, NULL, NULL),
	    -EPROTO);
	ck_assert_int_eq(c.retries, 0);
	http_free(h);
}
END_TEST

START_TEST(unix_socket)
{
	char dir[] = "/tmp/check_http.XXXXXX", sock[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s", dir);
	const char *args[] = {"--unix", sock, NULL};
	struct emulator em;
	ck_assert_int_eq(emulator_start(&em, "httptest.py", args), 0);
	struct http_settings set = {.unix_socket = sock};
	struct http *h;
	ck_assert_int_eq(http_new(&set, &h), 0);
	struct call c = call_in(2);
	json_t *doc = NULL;
	int rc = http_json(h, &c, "GET", "http://localhost/echo", NULL, NULL,
			   true, NULL, &doc);
	emulator_stop(&em);
	unlink(sock);
	rmdir(dir);
	ck_assert_msg(rc == 0, "%s", c.err);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "path")),
			 "/echo");
	json_decref(doc);
	http_free(h);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("http");
	TCase *pure = tcase_create("policy");
	tcase_add_test(pure, retry_policy);
	tcase_add_test(pure, backoff_is_capped_full_jitter);
	tcase_add_test(pure, status_errnos);
	tcase_add_test(pure, settings_from_json);
	tcase_add_test(pure, escape);
	suite_add_tcase(s, pure);

	TCase *tc = tcase_create("server");
	tcase_add_unchecked_fixture(tc, server_up, server_down);
	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, raw_methods_and_basic_auth);
	tcase_add_test(tc, location_is_captured_not_followed);
	tcase_add_test(tc, status_errors_carry_the_message);
	tcase_add_test(tc, error_text_reads_the_platform_shape);
	tcase_add_test(tc, idempotent_calls_are_retried);
	tcase_add_test(tc, throttled_answers_are_retried_like_429);
	tcase_add_test(tc, other_calls_are_sent_once);
	tcase_add_test(tc, retries_give_up_with_the_last_answer);
	tcase_add_test(tc, retry_after_is_honoured);
	tcase_add_test(tc, retry_after_past_the_deadline_is_not_awaited);
	tcase_add_test(tc, deadline_cuts_a_slow_answer);
	tcase_add_test(tc, attempt_timeout_applies);
	tcase_add_test(tc, spent_deadline_sends_nothing);
	tcase_add_test(tc, refused_connections);
	tcase_add_test(tc, dropped_connections);
	tcase_add_test(tc, invalid_json_is_eproto);
	tcase_add_test(tc, threads_share_one_client);
	tcase_add_test(tc, logs_hold_no_secrets);
	tcase_add_test(tc, tls_is_verified);
	tcase_add_test(tc, unix_socket);
	suite_add_tcase(s, tc);
	int rc = check_main_run(s);
	curl_global_cleanup();
	return rc;
}
