/*
 * The HTTP client every remote platform uses (libcurl).
 *
 * One struct http per platform instance: a pool of easy handles sharing
 * connections, DNS and TLS sessions (curl share handle), explicit connect
 * and total timeouts per call, TLS verification always on (a CA file may
 * be named, verification can never be turned off). Idempotent calls are
 * retried on connection errors, 5xx and 429 with exponential backoff and
 * full jitter, honouring Retry-After, within the call's deadline; other
 * calls are sent once. Each retry is counted in call->retries.
 *
 * Logs name method, host, path, status and latency; never headers, bodies,
 * query strings or credentials.
 */
#ifndef JOBFS_HTTP_H
#define JOBFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "call.h"

struct http;

struct http_settings {
	const char *name;	 /* platform name, for logs */
	double connect_timeout;	 /* seconds; default 5 */
	double timeout;		 /* seconds per attempt; default 30 */
	int max_retries;	 /* default 4 */
	double backoff_base;	 /* seconds; default 0.2 */
	double backoff_max;	 /* seconds; default 10 */
	const char *ca_file;	 /* NULL: the system's CA store */
	const char *unix_socket; /* NULL: TCP */
	/*
	 * May be NULL. PEM text kept in memory only (a kubeconfig's
	 * *-data): the CA (instead of ca_file), and a client certificate
	 * with its key for TLS client authentication. Copied; the key is
	 * wiped when the client is freed.
	 */
	const char *ca_pem;
	const char *cert_pem;
	const char *key_pem;
	/*
	 * May be NULL. The message of an error answer in the shape of the
	 * service behind this client: 0 with it in @out, or -ENOENT when
	 * @body (@len bytes, NUL-terminated) is not of that shape; then the
	 * generic shapes apply (see http_check_status).
	 */
	int (*error_text)(const char *body, size_t len, char *out,
			  size_t outlen);
	/*
	 * May be NULL. Whether an error answer that the generic policy does
	 * not repeat (a 4xx) says the service is throttling all the same, as
	 * AWS's ThrottlingException in a 400 does: it is then retried like a
	 * 429, and http_check_status() gives -EAGAIN for it.
	 */
	bool (*is_throttled)(long status, const char *body, size_t len);
};

/* Reads "timeout", "connect_timeout", "retries", "ca_file" from @fields. */
int http_settings_from_json(const json_t *fields, const char *name,
			    struct http_settings *out, char *err,
			    size_t errlen);

int http_new(const struct http_settings *settings, struct http **out);
void http_free(struct http *h);

struct http_request {
	const char *method;	    /* GET POST PUT PATCH DELETE */
	const char *url;	    /* absolute */
	const char *const *headers; /* "Name: value", NULL-terminated */
	const void *body;	    /* or NULL */
	size_t body_len;
	const char *userpwd; /* basic auth "user:password", or NULL */
	/*
	 * NULL, or libcurl's CURLOPT_AWS_SIGV4 parameter
	 * ("aws:amz:REGION:SERVICE"): libcurl then signs the request with
	 * AWS Signature Version 4, @userpwd being "ACCESS_KEY_ID:SECRET".
	 */
	const char *aws_sigv4;
	bool idempotent; /* may be retried */
};

struct http_response {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, malloc'd (may be empty) */
	size_t body_len;
	char *location;	    /* Location header, or NULL */
	double retry_after; /* seconds from Retry-After, 0 if none */
};

/*
 * Performs @req. 0 when an HTTP answer arrived (whatever its status, after
 * retries for idempotent calls), else -ETIMEDOUT, -ECONNREFUSED,
 * -EHOSTUNREACH, -ECONNRESET, -EPROTO (TLS or a garbled answer) with
 * c->err set. Release @out with http_response_release() (on error there
 * is nothing to release). Redirects are not followed (see location).
 * c->deadline 0 means no deadline.
 */
int http_do(struct http *h, struct call *c, const struct http_request *req,
	    struct http_response *out);
void http_response_release(struct http_response *r);

/*
 * The errno for an HTTP status: 2xx 0, 401/403 -EACCES, 404 -ENOENT,
 * 400/409/422 -EINVAL, 429/503 -EAGAIN, other 5xx -EIO.
 */
int http_status_errno(long status);

/*
 * For an answer of http_do() on @h: 0 for 2xx, else http_status_errno()
 * with c->err = "HTTP 404: <message from the body, if any>", the first
 * line of it. The message is what the settings' error_text finds, else
 * the generic shapes: {"message"}, RFC 7807's {"detail"}, OAuth's
 * {"error_description"}, {"error": {"message"}}, {"error": "..."}, else a
 * plain-text body (not an HTML page). A throttled answer (the settings'
 * is_throttled) gives -EAGAIN whatever its status.
 */
int http_check_status(const struct http *h, struct call *c,
		      const struct http_response *r);

/*
 * JSON round trip: sends @body (may be NULL) as application/json and
 * parses the answer. A non-2xx status gives http_status_errno() with
 * c->err = "HTTP 404: <message from the body, if any>"; an answer that is
 * not JSON gives -EPROTO. *json_out (may be NULL to ignore) is a new
 * reference, NULL on error and JSON null for an empty 2xx answer (204);
 * *status_out (may be NULL) the status, 0 when no answer came.
 */
int http_json(struct http *h, struct call *c, const char *method,
	      const char *url, const char *const *headers, const json_t *body,
	      bool idempotent, long *status_out, json_t **json_out);

/*
 * The retry policy, pure so that it can be tested alone. Whether an
 * attempt that ended with the libcurl code @curl_code (CURLE_OK when an
 * answer came) and HTTP @status may be repeated: connection failures,
 * timeouts, dropped answers, 5xx and 429.
 */
bool http_should_retry(int curl_code, long status);

/*
 * Seconds to wait before retry number @retry (0, 1, ...): full jitter,
 * @rand01 (in [0, 1)) times min(backoff_max, backoff_base * 2^retry), but
 * at least @retry_after.
 */
double http_backoff(const struct http_settings *s, int retry,
		    double retry_after, double rand01);

/* Percent-encodes @s for a URL path segment or query value; caller frees. */
char *http_escape(const char *s);

#endif
