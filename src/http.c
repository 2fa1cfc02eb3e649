/*
 * The libcurl client of the remote platforms.
 *
 * Threads: an easy handle may only be used by one thread at a time, so each
 * call borrows one from a small mutex-protected free list and gives it back
 * afterwards (a few idle handles are kept; more are created on demand).
 * A handle keeps its live connections across curl_easy_reset(), so pooling
 * the handles is what reuses connections. DNS and TLS sessions are shared
 * through a CURLSH with one mutex per kind of data; the connection cache is
 * deliberately NOT put in the share, because libcurl does not support
 * sharing connections between concurrent threads (CURLSHOPT_SHARE(3)).
 *
 * Retries: the policy is two pure functions (http_should_retry,
 * http_backoff) so that it can be tested without a server. Every attempt
 * gets the smaller of the configured timeout and the time left before the
 * call's deadline (0 means no deadline), and no backoff sleeps past it.
 *
 * Logs carry method, host, path (never the query string), status and
 * latency; never headers, bodies or credentials.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "message.h"
#include "clock.h"
#include "http.h"
#include "log.h"
#include "secret.h"

#define HTTP_POOL_IDLE	 8	       /* idle easy handles kept */
#define HTTP_MAX_BODY	 (256UL << 20) /* larger answers are refused */
#define HTTP_MAX_HEADERS 32

struct http {
	char *name;
	char *ca_file;
	char *ca_pem, *cert_pem, *key_pem; /* key_pem: a secret */
	char *unix_socket;
	struct http_settings s; /* strings point at the copies above */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *idle[HTTP_POOL_IDLE];
	size_t n_idle;
};

/* One call in flight: what the callbacks fill and what the logs name. */
struct http_xfer {
	struct http_response *resp;
	size_t cap;
	char what[200]; /* "GET host/path" */
};

/* ---- policy (pure) ---- */

bool http_should_retry(int curl_code, long status)
{
	switch (curl_code) {
	case CURLE_OK:
		return status == 429 || (status >= 500 && status <= 599);
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

double http_backoff(const struct http_settings *s, int retry,
		    double retry_after, double rand01)
{
	double cap = s->backoff_base * ldexp(1.0, retry < 60 ? retry : 60);
	if (cap > s->backoff_max)
		cap = s->backoff_max;
	double delay = rand01 * cap;
	return delay < retry_after ? retry_after : delay;
}

int http_status_errno(long status)
{
	if (status >= 200 && status <= 299)
		return 0;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 404 || status == 410)
		return -ENOENT;
	if (status == 429 || status == 503)
		return -EAGAIN;
	if (status == 408 || status == 504)
		return -ETIMEDOUT;
	if (status >= 400 && status <= 499)
		return -EINVAL;
	if (status >= 500 && status <= 599)
		return -EIO;
	return -EPROTO;
}

static int curl_errno(CURL *e, CURLcode code)
{
	long os_errno = 0;
	switch (code) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
			return -EHOSTUNREACH;
		return os_errno == ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		return -EFBIG; /* only our write callback refuses data */
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EPROTO; /* TLS failures, garbled answers */
	}
}

/* libcurl's text for @code in the lower case of our messages. */
static const char *curl_text(CURLcode code, char *buf, size_t len)
{
	snprintf(buf, len, "%s", curl_easy_strerror(code));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

/* ---- the share handle and the pool ---- */

static void share_lock(CURL *e, curl_lock_data data, curl_lock_access access,
		       void *userp)
{
	struct http *h = userp;
	pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *e, curl_lock_data data, void *userp)
{
	struct http *h = userp;
	pthread_mutex_unlock(&h->share_locks[data]);
}

static int share_setup(struct http *h)
{
	h->share = curl_share_init();
	if (!h->share)
		return -ENOMEM;
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_SSL_SESSION))
		return -ENOMEM;
	return 0;
}

static CURL *pool_get(struct http *h)
{
	CURL *e = NULL;
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle > 0)
		e = h->idle[--h->n_idle];
	pthread_mutex_unlock(&h->pool_lock);
	return e ? e : curl_easy_init();
}

static void pool_put(struct http *h, CURL *e)
{
	curl_easy_reset(e); /* options go, live connections stay */
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle < HTTP_POOL_IDLE) {
		h->idle[h->n_idle++] = e;
		e = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (e)
		curl_easy_cleanup(e);
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *copy = s ? strdup(s) : NULL;
	if (s && !copy)
		*failed = true;
	return copy;
}

/* Zero timeouts and backoffs (an unset field) take the defaults. */
static void settings_fill(struct http_settings *s)
{
	if (s->connect_timeout <= 0)
		s->connect_timeout = 5;
	if (s->timeout <= 0)
		s->timeout = 30;
	if (s->max_retries < 0)
		s->max_retries = 0;
	if (s->backoff_base <= 0)
		s->backoff_base = 0.2;
	if (s->backoff_max <= 0)
		s->backoff_max = 10;
}

int http_new(const struct http_settings *settings, struct http **out)
{
	struct http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	bool failed = false;
	h->s = *settings;
	h->name =
	    dup_or_null(settings->name ? settings->name : "http", &failed);
	h->ca_file = dup_or_null(settings->ca_file, &failed);
	h->ca_pem = dup_or_null(settings->ca_pem, &failed);
	h->cert_pem = dup_or_null(settings->cert_pem, &failed);
	h->key_pem = dup_or_null(settings->key_pem, &failed);
	h->unix_socket = dup_or_null(settings->unix_socket, &failed);
	h->s.name = h->name;
	h->s.ca_file = h->ca_file;
	h->s.ca_pem = h->ca_pem;
	h->s.cert_pem = h->cert_pem;
	h->s.key_pem = h->key_pem;
	h->s.unix_socket = h->unix_socket;
	settings_fill(&h->s);
	if (failed || share_setup(h) < 0) {
		http_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_idle; i++)
		curl_easy_cleanup(h->idle[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	pthread_mutex_destroy(&h->pool_lock);
	free(h->name);
	free(h->ca_file);
	free(h->ca_pem);
	free(h->cert_pem);
	secret_free(h->key_pem);
	free(h->unix_socket);
	free(h);
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct http_xfer *x = userp;
	struct http_response *r = x->resp;
	size_t len = size * n;
	if (len > HTTP_MAX_BODY - r->body_len)
		return 0;
	if (r->body_len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		while (cap < r->body_len + len + 1)
			cap *= 2;
		char *body = realloc(r->body, cap);
		if (!body)
			return 0;
		r->body = body;
		x->cap = cap;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

/* Seconds from a Retry-After value: delta-seconds or an HTTP-date. */
static double retry_after_seconds(const char *value)
{
	char *end;
	errno = 0;
	long secs = strtol(value, &end, 10);
	if (end != value && *end == '\0' && errno == 0)
		return secs > 0 ? (double)secs : 0;
	time_t when = curl_getdate(value, NULL);
	if (when == -1)
		return 0;
	double delta = difftime(when, time(NULL));
	return delta > 0 ? delta : 0;
}

static bool header_is(const char *line, size_t len, const char *name,
		      const char **value)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*value = line + n + 1;
	return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct http_xfer *x = userp;
	size_t total = size * n, len = total;
	char line[2048];
	if (len >= sizeof(line))
		return total; /* longer than any header we look at */
	memcpy(line, data, len);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	line[len] = '\0';
	const char *value;
	if (strncmp(line, "HTTP/", 5) == 0) { /* a new (maybe final) answer */
		free(x->resp->location);
		x->resp->location = NULL;
		x->resp->retry_after = 0;
	} else if (header_is(line, len, "location", &value)) {
		value += strspn(value, " \t");
		free(x->resp->location);
		x->resp->location = strdup(value);
		if (!x->resp->location)
			return 0;
	} else if (header_is(line, len, "retry-after", &value)) {
		x->resp->retry_after =
		    retry_after_seconds(value + strspn(value, " \t"));
	}
	return total;
}

/* ---- one call ---- */

/* "GET host:port/path" without query string or credentials. */
static void describe(const char *method, const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_HOST, &host, 0);
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_PATH, &path, 0);
	}
	snprintf(buf, len, "%s %s%s%s%s", method, host ? host : "?",
		 port ? ":" : "", port ? port : "", path ? path : "");
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
}

static struct curl_slist *build_headers(const struct http_request *req)
{
	struct curl_slist *list = NULL, *next;
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		next = curl_slist_append(list, req->headers[i]);
		if (!next)
			goto oom;
		list = next;
	}
	/* no "Expect: 100-continue" round trip before a body */
	next = curl_slist_append(list, "Expect:");
	if (!next)
		goto oom;
	return next;
oom:
	curl_slist_free_all(list);
	return NULL;
}

static void setup_method(CURL *e, const struct http_request *req)
{
	bool is_post = strcmp(req->method, "POST") == 0;
	bool sends = req->body || is_post || strcmp(req->method, "PUT") == 0 ||
		     strcmp(req->method, "PATCH") == 0;
	if (sends) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
				 req->body ? req->body : "");
		if (!is_post)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

/* In-memory PEM (libcurl >= 7.77 copies each blob). */
static void set_blobs(const struct http *h, CURL *e)
{
	struct curl_blob b = {.flags = CURL_BLOB_COPY};
	if (h->s.ca_pem) {
		b.data = (void *)h->s.ca_pem;
		b.len = strlen(h->s.ca_pem);
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	}
	if (h->s.cert_pem && h->s.key_pem) {
		b.data = (void *)h->s.cert_pem;
		b.len = strlen(h->s.cert_pem);
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		b.data = (void *)h->s.key_pem;
		b.len = strlen(h->s.key_pem);
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
}

static void setup(struct http *h, CURL *e, const struct http_request *req,
		  struct curl_slist *headers, struct http_xfer *x)
{
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->s.ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->s.ca_file);
	set_blobs(h, e);
	if (h->s.unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, h->s.unix_socket);
	if (req->userpwd && req->aws_sigv4) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, req->aws_sigv4);
		curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
	} else if (req->userpwd) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERPWD, req->userpwd);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	/* libcurl resends a request whose reused connection died without an
	 * answer; a request that must go at most once gets a connection of
	 * its own, so that a lost answer is never a second submit */
	if (!req->idempotent)
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	setup_method(e, req);
}

static void response_reset(struct http_xfer *x)
{
	http_response_release(x->resp);
	x->cap = 0;
}

/*
 * One attempt within the deadline. 0 with resp->status when an answer
 * came, else a negative errno with c->err; *code_out is libcurl's code.
 */
static int attempt(struct http *h, CURL *e, struct call *c, struct http_xfer *x,
		   CURLcode *code_out)
{
	double timeout = h->s.timeout;
	double left = c->deadline > 0 ? c->deadline - clock_mono() : timeout;
	*code_out = CURLE_OPERATION_TIMEDOUT;
	if (left <= 0)
		return message_call_fail(c, -ETIMEDOUT,
					 "http %s: deadline exceeded", x->what);
	if (left < timeout)
		timeout = left;
	long ms = (long)ceil(timeout * 1000);
	long connect_ms = (long)ceil(h->s.connect_timeout * 1000);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 connect_ms < ms ? connect_ms : ms);
	response_reset(x);
	double t0 = clock_mono();
	CURLcode code = curl_easy_perform(e);
	double elapsed_ms = (clock_mono() - t0) * 1000;
	*code_out = code;
	if (code != CURLE_OK) {
		char text[128];
		curl_text(code, text, sizeof(text));
		log_debug("http %s -> %s in %.1f ms", x->what, text,
			  elapsed_ms);
		return message_call_fail(c, curl_errno(e, code), "http %s: %s",
					 x->what, text);
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->resp->status);
	log_debug("http %s -> %ld in %.1f ms", x->what, x->resp->status,
		  elapsed_ms);
	return 0;
}

static void sleep_seconds(double secs)
{
	struct timespec ts = {.tv_sec = (time_t)secs};
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Whether an answer that came is a throttled one (settings.is_throttled). */
static bool is_throttled(const struct http *h, const struct http_response *r)
{
	return h->s.is_throttled && r->status >= 400 &&
	       h->s.is_throttled(r->status, r->body ? r->body : "",
				 r->body ? r->body_len : 0);
}

/* Whether to try again after retry number @retry (0..), sleeping first. */
static bool wait_to_retry(struct http *h, struct call *c, int retry,
			  CURLcode code, struct http_xfer *x, unsigned *seed)
{
	bool again = http_should_retry((int)code, x->resp->status) ||
		     (code == CURLE_OK && is_throttled(h, x->resp));
	if (retry >= h->s.max_retries || !again)
		return false;
	double rand01 = (double)rand_r(seed) / ((double)RAND_MAX + 1);
	double delay = http_backoff(&h->s, retry, x->resp->retry_after, rand01);
	if (c->deadline > 0 && clock_mono() + delay >= c->deadline)
		return false;
	sleep_seconds(delay);
	c->retries++;
	return true;
}

static void log_outcome(int rc, struct call *c, struct http_xfer *x, double t0,
			int retries)
{
	double ms = (clock_mono() - t0) * 1000;
	if (rc < 0)
		log_info("%s after %.1f ms, %d retries", c->err, ms, retries);
	else if (x->resp->status >= 400)
		log_info("http %s -> %ld in %.1f ms, %d retries", x->what,
			 x->resp->status, ms, retries);
}

static int perform(struct http *h, CURL *e, struct call *c,
		   const struct http_request *req, struct http_xfer *x)
{
	unsigned seed = (unsigned)(clock_mono() * 1e6) ^ (unsigned)(uintptr_t)x;
	double t0 = clock_mono();
	int rc;
	CURLcode code;
	int retry = 0;
	for (;; retry++) {
		rc = attempt(h, e, c, x, &code);
		if (!req->idempotent ||
		    !wait_to_retry(h, c, retry, code, x, &seed))
			break;
	}
	log_outcome(rc, c, x, t0, retry);
	return rc;
}

int http_do(struct http *h, struct call *c, const struct http_request *req,
	    struct http_response *out)
{
	memset(out, 0, sizeof(*out));
	struct http_xfer x = {.resp = out};
	describe(req->method, req->url, x.what, sizeof(x.what));
	struct curl_slist *headers = build_headers(req);
	CURL *e = headers ? pool_get(h) : NULL;
	if (!e) {
		curl_slist_free_all(headers);
		return message_call_fail(c, -ENOMEM, "http %s: out of memory",
					 x.what);
	}
	setup(h, e, req, headers, &x);
	int rc = perform(h, e, c, req, &x);
	pool_put(h, e);
	curl_slist_free_all(headers);
	if (rc == 0 && !out->body)
		out->body = strdup("");
	if (rc == 0 && !out->body)
		rc = message_call_fail(c, -ENOMEM, "http %s: out of memory",
				       x.what);
	if (rc < 0)
		http_response_release(out);
	return rc;
}

void http_response_release(struct http_response *r)
{
	free(r->body);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

/* ---- JSON ---- */

static const char *json_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && *s ? s : NULL;
}

/*
 * The human message of the error bodies many services send; a platform
 * with a shape of its own reads it in its settings' error_text.
 */
static const char *error_message(const json_t *doc)
{
	const char *msg = json_str(doc, "message"); /* Spark, generic */
	if (!msg)
		msg = json_str(doc, "detail"); /* RFC 7807 */
	if (!msg)
		msg = json_str(doc, "error_description"); /* OAuth */
	const json_t *error = json_object_get(doc, "error");
	if (!msg)
		msg = json_str(error, "message"); /* {"error":{"message"}} */
	if (!msg)
		msg = json_string_value(error);
	return msg;
}

/* c->err = "HTTP 404: <first line of the message>". */
static void status_error(const struct http *h, struct call *c, long status,
			 const char *body, size_t len)
{
	char text[256];
	const char *msg = NULL;
	if (h->s.error_text &&
	    h->s.error_text(body, len, text, sizeof(text)) == 0)
		msg = text;
	json_t *doc = msg ? NULL : json_loads(body, JSON_DECODE_ANY, NULL);
	if (doc)
		msg = error_message(doc);
	else if (!msg && body[0] != '<') /* plain text, not an HTML page */
		msg = body;
	int n = msg ? (int)strcspn(msg, "\r\n") : 0;
	if (n > 200)
		n = 200;
	if (n > 0)
		snprintf(c->err, sizeof(c->err), "HTTP %ld: %.*s", status, n,
			 msg);
	else
		snprintf(c->err, sizeof(c->err), "HTTP %ld", status);
	json_decref(doc);
}

int http_check_status(const struct http *h, struct call *c,
		      const struct http_response *r)
{
	int rc = http_status_errno(r->status);
	if (rc < 0)
		status_error(h, c, r->status, r->body ? r->body : "",
			     r->body ? r->body_len : 0);
	return rc < 0 && is_throttled(h, r) ? -EAGAIN : rc;
}

static int json_headers(const char *const *headers, bool has_body,
			const char **all, size_t max)
{
	size_t n = 0;
	for (; headers && headers[n]; n++)
		if (n + 3 >= max)
			return -EINVAL;
	if (n > 0)
		memcpy(all, headers, n * sizeof(*all));
	all[n++] = "Accept: application/json";
	if (has_body)
		all[n++] = "Content-Type: application/json";
	all[n] = NULL;
	return 0;
}

static int parse_answer(const struct http *h, struct call *c,
			const struct http_response *r, const char *what,
			json_t **json_out)
{
	int rc = http_check_status(h, c, r);
	if (rc < 0)
		return rc;
	if (r->body_len == 0) { /* e.g. 204 No Content */
		*json_out = json_null();
		return 0;
	}
	json_error_t jerr;
	*json_out = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
	if (!*json_out)
		return message_call_fail(c, -EPROTO,
					 "http %s: answer is not JSON: %s",
					 what, jerr.text);
	return 0;
}

int http_json(struct http *h, struct call *c, const char *method,
	      const char *url, const char *const *headers, const json_t *body,
	      bool idempotent, long *status_out, json_t **json_out)
{
	const char *all[HTTP_MAX_HEADERS];
	if (json_headers(headers, body != NULL, all, HTTP_MAX_HEADERS) < 0)
		return message_call_fail(c, -EINVAL,
					 "http %s: too many headers", method);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !text)
		return message_call_fail(
		    c, -ENOMEM, "http %s: cannot encode the body", method);
	struct http_request req = {.method = method,
				   .url = url,
				   .headers = all,
				   .body = text,
				   .body_len = text ? strlen(text) : 0,
				   .idempotent = idempotent};
	struct http_response r;
	int rc = http_do(h, c, &req, &r);
	free(text);
	if (status_out)
		*status_out = rc == 0 ? r.status : 0;
	json_t *doc = NULL;
	if (rc == 0) {
		char what[200];
		describe(method, url, what, sizeof(what));
		rc = parse_answer(h, c, &r, what, &doc);
		http_response_release(&r);
	}
	if (json_out)
		*json_out = doc;
	else
		json_decref(doc);
	return rc;
}

/* ---- settings ---- */

static int seconds_field(const json_t *fields, const char *key, double *out,
			 char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, key);
	if (!v)
		return 0;
	double secs = json_number_value(v);
	if (!json_is_number(v) || !(secs > 0) || secs > 86400) {
		snprintf(err, errlen,
			 "field \"%s\": must be a number of seconds in "
			 "(0, 86400]",
			 key);
		return -EINVAL;
	}
	*out = secs;
	return 0;
}

static int retries_field(const json_t *fields, int *out, char *err,
			 size_t errlen)
{
	const json_t *v = json_object_get(fields, "retries");
	if (!v)
		return 0;
	json_int_t n = json_integer_value(v);
	if (!json_is_integer(v) || n < 0 || n > 20) {
		snprintf(err, errlen,
			 "field \"retries\": must be an integer from 0 to 20");
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

static int ca_file_field(const json_t *fields, const char **out, char *err,
			 size_t errlen)
{
	const json_t *v = json_object_get(fields, "ca_file");
	if (!v)
		return 0;
	const char *path = json_string_value(v);
	if (!path || !*path) {
		snprintf(err, errlen, "field \"ca_file\": must be a path");
		return -EINVAL;
	}
	if (access(path, R_OK) < 0) {
		int rc = -errno;
		snprintf(err, errlen,
			 "field \"ca_file\": cannot read \"%s\": %s", path,
			 strerror(-rc));
		return -EINVAL;
	}
	*out = path;
	return 0;
}

int http_settings_from_json(const json_t *fields, const char *name,
			    struct http_settings *out, char *err, size_t errlen)
{
	*out = (struct http_settings){.name = name,
				      .connect_timeout = 5,
				      .timeout = 30,
				      .max_retries = 4,
				      .backoff_base = 0.2,
				      .backoff_max = 10};
	int rc = seconds_field(fields, "timeout", &out->timeout, err, errlen);
	if (rc == 0)
		rc = seconds_field(fields, "connect_timeout",
				   &out->connect_timeout, err, errlen);
	if (rc == 0)
		rc = retries_field(fields, &out->max_retries, err, errlen);
	if (rc == 0)
		rc = ca_file_field(fields, &out->ca_file, err, errlen);
	return rc;
}

char *http_escape(const char *s)
{
	char *escaped = curl_easy_escape(NULL, s, 0);
	if (!escaped)
		return NULL;
	char *copy = strdup(escaped); /* callers free() it, not curl_free() */
	curl_free(escaped);
	return copy;
}
