/*
 * Azure AD client-credentials tokens.
 *
 * The client secret is read once, at aad_new, and kept in memory (wiped
 * at aad_free). The token is cached under a mutex. Fetches are single
 * flight: while one caller fetches, the others wait on a condition
 * variable (bounded by their own deadline) and then use its token, so a
 * burst of calls after expiry costs one request; if that fetch failed,
 * the next waiter tries itself. The form body (it holds the secret) and
 * the raw answer (it holds the token) are wiped after use.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "aad.h"
#include "clock.h"
#include "log.h"
#include "secret.h"

#define AAD_AUTHORITY "https://login.microsoftonline.com"
#define AAD_MARGIN    300.0 /* seconds before expiry a token is replaced */

struct aad {
	struct http *http; /* borrowed */
	char *token_url;
	char *client_id;
	char *secret;
	char *scope;
	pthread_mutex_t lock;
	pthread_cond_t fetched;
	bool fetching;
	char *token;	 /* cached, or NULL */
	double renew_at; /* CLOCK_MONOTONIC seconds */
};

static const char *string_field(const json_t *fields, const char *key)
{
	const char *s = json_string_value(json_object_get(fields, key));
	return s && *s ? s : NULL;
}

static int token_url(const json_t *fields, char **url_out, char *err,
		     size_t errlen)
{
	const char *tenant = string_field(fields, "tenant_id");
	const json_t *auth = json_object_get(fields, "authority");
	const char *authority = auth ? json_string_value(auth) : AAD_AUTHORITY;
	if (!tenant) {
		snprintf(err, errlen, "field \"tenant_id\": must be a string");
		return -EINVAL;
	}
	if (!authority || (strncmp(authority, "https://", 8) != 0 &&
			   strncmp(authority, "http://", 7) != 0)) {
		snprintf(err, errlen, "field \"authority\": must be a URL");
		return -EINVAL;
	}
	size_t len = strlen(authority);
	while (len > 0 && authority[len - 1] == '/')
		len--;
	char *escaped = curl_easy_escape(NULL, tenant, 0);
	if (!escaped)
		return -ENOMEM;
	int n = asprintf(url_out, "%.*s/%s/oauth2/v2.0/token", (int)len,
			 authority, escaped);
	curl_free(escaped);
	return n < 0 ? -ENOMEM : 0;
}

static int read_secret(const json_t *fields, char **secret_out, char *err,
		       size_t errlen)
{
	int rc = secret_get(fields, "client_secret", secret_out, err, errlen);
	if (rc == -ENOMEM)
		return rc;
	return rc < 0 ? -EINVAL : 0;
}

int aad_new(const json_t *fields, const char *scope, struct http *http,
	    struct aad **out, char *err, size_t errlen)
{
	const char *client_id = string_field(fields, "client_id");
	if (!client_id) {
		snprintf(err, errlen, "field \"client_id\": must be a string");
		return -EINVAL;
	}
	struct aad *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->http = http;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->fetched, &attr);
	pthread_condattr_destroy(&attr);
	int rc = token_url(fields, &a->token_url, err, errlen);
	if (rc == 0)
		rc = read_secret(fields, &a->secret, err, errlen);
	if (rc == 0) {
		a->client_id = strdup(client_id);
		a->scope = strdup(scope);
		if (!a->client_id || !a->scope)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		aad_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void aad_free(struct aad *a)
{
	if (!a)
		return;
	secret_free(a->token);
	secret_free(a->secret);
	free(a->token_url);
	free(a->client_id);
	free(a->scope);
	pthread_cond_destroy(&a->fetched);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* "grant_type=client_credentials&client_id=..&client_secret=..&scope=.." */
static char *form_body(const struct aad *a)
{
	char *id = curl_easy_escape(NULL, a->client_id, 0);
	char *secret = curl_easy_escape(NULL, a->secret, 0);
	char *scope = curl_easy_escape(NULL, a->scope, 0);
	char *body = NULL;
	if (id && secret && scope &&
	    asprintf(&body,
		     "grant_type=client_credentials&client_id=%s"
		     "&client_secret=%s&scope=%s",
		     id, secret, scope) < 0)
		body = NULL;
	if (secret)
		explicit_bzero(secret, strlen(secret));
	curl_free(id);
	curl_free(secret);
	curl_free(scope);
	return body;
}

/* c->err for a refusal: "azure ad: invalid_client: AADSTS7000215: ..." */
static int refused(struct call *c, long status, const json_t *doc)
{
	const char *error = string_field(doc, "error");
	const char *text = string_field(doc, "error_description");
	int n = text ? (int)strcspn(text, "\r\n") : 0;
	if (error && n > 0)
		snprintf(c->err, sizeof(c->err), "azure ad: %s: %.*s", error, n,
			 text);
	else if (error)
		snprintf(c->err, sizeof(c->err), "azure ad: %s", error);
	else
		snprintf(c->err, sizeof(c->err), "azure ad: HTTP %ld", status);
	return status == 400 || status == 401 ? -EACCES
					      : http_status_errno(status);
}

/* The token and its lifetime from a 200 answer. */
static int parse_token(struct call *c, const json_t *doc, char **token_out,
		       double *lifetime_out)
{
	const char *token = string_field(doc, "access_token");
	const json_t *expires = json_object_get(doc, "expires_in");
	double lifetime = json_is_string(expires)
			      ? strtod(json_string_value(expires), NULL)
			      : json_number_value(expires);
	if (!token || !(lifetime > 0)) {
		snprintf(c->err, sizeof(c->err),
			 "azure ad: answer without access_token or expires_in");
		return -EPROTO;
	}
	*token_out = strdup(token);
	*lifetime_out = lifetime;
	return *token_out ? 0 : -ENOMEM;
}

static int answer(struct call *c, const struct http_response *r,
		  char **token_out, double *lifetime_out)
{
	json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
	int rc;
	if (r->status == 200 && doc)
		rc = parse_token(c, doc, token_out, lifetime_out);
	else if (r->status >= 400 && r->status <= 599)
		rc = refused(c, r->status, doc);
	else {
		snprintf(c->err, sizeof(c->err),
			 "azure ad: unexpected answer (HTTP %ld)", r->status);
		rc = -EPROTO;
	}
	json_decref(doc);
	return rc;
}

static int fetch(struct aad *a, struct call *c, char **token_out,
		 double *lifetime_out)
{
	char *body = form_body(a);
	if (!body)
		return -ENOMEM;
	const char *headers[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json", NULL};
	struct http_request req = {.method = "POST",
				   .url = a->token_url,
				   .headers = headers,
				   .body = body,
				   .body_len = strlen(body),
				   .idempotent = true};
	struct http_response r;
	int rc = http_do(a->http, c, &req, &r);
	explicit_bzero(body, strlen(body));
	free(body);
	if (rc < 0)
		return rc;
	rc = answer(c, &r, token_out, lifetime_out);
	explicit_bzero(r.body, r.body_len);
	http_response_release(&r);
	if (rc < 0)
		log_info("%s", c->err);
	return rc;
}

/* Waits for another caller's fetch; false when @c's deadline passed. */
static bool wait_fetch(struct aad *a, struct call *c)
{
	if (c->deadline <= 0)
		return pthread_cond_wait(&a->fetched, &a->lock) == 0;
	struct timespec until = {.tv_sec = (time_t)c->deadline};
	until.tv_nsec = (long)((c->deadline - floor(c->deadline)) * 1e9);
	return pthread_cond_timedwait(&a->fetched, &a->lock, &until) == 0;
}

/* With a->lock held: a copy of the cached token when it is still good. */
static int cached(struct aad *a, char **token_out)
{
	if (!a->token || clock_mono() >= a->renew_at)
		return -ENOENT;
	*token_out = strdup(a->token);
	return *token_out ? 0 : -ENOMEM;
}

static int fetch_and_store(struct aad *a, struct call *c, char **token_out)
{
	a->fetching = true;
	pthread_mutex_unlock(&a->lock);
	char *token = NULL;
	double lifetime = 0;
	int rc = fetch(a, c, &token, &lifetime);
	if (rc == 0) {
		*token_out = strdup(token);
		rc = *token_out ? 0 : -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	if (token) {
		secret_free(a->token);
		a->token = token;
		/* short-lived tokens (tests) are kept for half their life */
		double keep = lifetime - AAD_MARGIN;
		a->renew_at =
		    clock_mono() + (keep > lifetime / 2 ? keep : lifetime / 2);
	}
	a->fetching = false;
	pthread_cond_broadcast(&a->fetched);
	return rc;
}

int aad_token(struct aad *a, struct call *c, char **token_out)
{
	pthread_mutex_lock(&a->lock);
	int rc;
	for (;;) {
		rc = cached(a, token_out);
		if (rc != -ENOENT)
			break;
		if (!a->fetching) {
			rc = fetch_and_store(a, c, token_out);
			break;
		}
		if (!wait_fetch(a, c) && a->fetching) {
			rc = -ETIMEDOUT;
			snprintf(c->err, sizeof(c->err),
				 "azure ad: deadline exceeded waiting for a "
				 "token");
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}
