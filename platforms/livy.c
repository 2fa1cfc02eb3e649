/*
 * Spark batches through Apache Livy, and through Azure Synapse, which
 * speaks a Livy dialect: one file, two ops tables, as curl's https reuses
 * http. What differs between the two is data in struct livy_variant (the
 * config fields, how the endpoint and its credentials are opened, the
 * detailed view, the list page size, whether a log endpoint exists); the
 * code branches on those fields, never on a kind's name.
 *
 * The remote id is the batch id. Livy has no idempotency key, so a batch
 * is named after its run: "RUN_KEY[.aN]@TAG", with ".aN" for attempt
 * N > 1 (Livy refuses a name that a retained session already carries)
 * and TAG a random mark kept in STATE/instance, since a run key is only
 * unique within one state dir and a Livy may serve many users. A create
 * whose answer was lost or garbled is reconciled by listing the batches
 * and matching that name, inside submit and, after a crash, in find.
 * Creates are therefore never simply resent: a resend only follows a
 * listing that did not show the batch, and Livy itself refuses a second
 * session of the same name.
 *
 * Livy forgets batches: DELETE removes the session, and finished sessions
 * are garbage-collected after livy.server.session.state-retain.sec; both
 * then answer 404. The ids this platform deleted are kept, in memory and
 * in STATE/deleted (the daemon may restart), so that a 404 for one of
 * them reads CANCELLED rather than unknown; any other 404 is -ENOENT and
 * the core keeps whatever terminal state it saw before.
 *
 * Output: the batch's log (paged through GET /batches/{id}/log, or the
 * lines of the batch object where there is no log endpoint) becomes
 * `log` while the batch runs, and `result` too once it has ended: the
 * platform's run output is its final log.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "aad.h"
#include "artifact.h"
#include "clock.h"
#include "fsutil.h"
#include "http.h"
#include "livy.h"
#include "livy_wire.h"
#include "log.h"
#include "secret.h"

#define LIVY_PAGE	   100		/* batches per list request */
#define LIVY_SYNAPSE_PAGE  20		/* Synapse's default and maximum */
#define LIVY_LOG_PAGE	   1000		/* log lines per request */
#define LIVY_LOG_MAX	   (64UL << 20) /* bytes of log kept */
#define LIVY_UNSEEN	   1		/* rcs[i] before a run is found */
#define LIVY_SYNAPSE_SCOPE "https://dev.azuresynapse.net/.default"
#define LIVY_SYNAPSE_API   "2019-11-01-preview"
#define LIVY_CSRF_HEADER   "X-Requested-By: jobfs"

struct livy;

/* What tells plain Livy and Synapse apart. */
struct livy_variant {
	const struct platform_ops *ops;
	const char *const *fields; /* config fields of this kind alone */
	/* Reads the endpoint and credential fields: batches_url, auth. */
	int (*open_endpoint)(struct livy *l, const json_t *fields, char *err,
			     size_t errlen);
	const char *detail; /* query asking for the detailed view, or NULL */
	int page_size;	    /* batches per list request */
	bool has_log;	    /* GET /batches/{id}/log exists */
	bool has_result;    /* batches carry "result" and "errorInfo" */
};

struct livy {
	struct platform base;
	const struct livy_variant *v;
	struct http *http;
	struct aad *aad;	      /* bearer tokens, or NULL */
	struct artifact_store *store; /* where bundles go, or NULL */
	char *batches_url;	      /* ".../batches" */
	char *basic_header;	      /* "Authorization: Basic ..." (secret) */
	char *proxy_user;
	bool csrf;
	int max_retries;
	char tag[LIVY_WIRE_TAG_LEN + 1]; /* this state dir's batch name mark */
	struct livy_wire_ids deleted;	 /* batches this platform deleted */
};

static const char *const livy_common_fields[] = {
    "kind", "timeout", "connect_timeout", "retries", "ca_file", "artifacts",
    "csrf", NULL};

static struct livy *livy_from(struct platform *p)
{
	assert(p && (p->ops == &livy_platform || p->ops == &synapse_platform));
	return (struct livy *)p;
}

static int parse_id(const char *s, long *id_out)
{
	char *end;
	errno = 0;
	long id = strtol(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end || errno || id < 0)
		return -EINVAL;
	*id_out = id;
	return 0;
}

static char *url_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *url_printf(const char *fmt, ...)
{
	char *url;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&url, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : url;
}

/* .../batches/ID[SUFFIX], with the detailed view when @detailed. */
static char *batch_url(const struct livy *l, long id, const char *suffix,
		       bool detailed)
{
	const char *q = detailed && l->v->detail ? l->v->detail : NULL;
	return url_printf("%s/%ld%s%s%s", l->batches_url, id, suffix,
			  q ? "?" : "", q ? q : "");
}

/* ---- requests ---- */

/* Auth and CSRF headers of one request; the bearer line is a secret. */
struct livy_headers {
	char *bearer;
	const char *list[3];
};

static int headers_init(struct livy *l, struct call *c, bool modifies,
			struct livy_headers *h)
{
	size_t n = 0;
	h->bearer = NULL;
	if (l->aad) {
		char *token = NULL;
		int rc = aad_token(l->aad, c, &token);
		if (rc)
			return rc;
		if (asprintf(&h->bearer, "Authorization: Bearer %s", token) < 0)
			h->bearer = NULL;
		secret_free(token);
		if (!h->bearer)
			return -ENOMEM;
		h->list[n++] = h->bearer;
	} else if (l->basic_header) {
		h->list[n++] = l->basic_header;
	}
	if (modifies && l->csrf)
		h->list[n++] = LIVY_CSRF_HEADER;
	h->list[n] = NULL;
	return 0;
}

/*
 * One JSON round trip. GET and DELETE may be repeated: http.c retries them
 * on transport errors, 5xx and 429, and this on an answer that is not
 * JSON. A create (POST) is sent once.
 */
static int livy_call(struct livy *l, struct call *c, const char *method,
		     const char *url, const json_t *body, json_t **doc_out)
{
	bool idempotent = strcmp(method, "POST") != 0;
	struct livy_headers h;
	int rc = headers_init(l, c, strcmp(method, "GET") != 0, &h);
	for (int tries = 0; rc == 0; tries++) {
		rc = http_json(l->http, c, method, url, h.list, body,
			       idempotent, NULL, doc_out);
		if (rc != -EPROTO || !idempotent || tries >= l->max_retries)
			break;
		c->retries++;
		rc = 0;
	}
	secret_free(h.bearer);
	return rc;
}

/* GET @url (taken: freed here; NULL is out of memory) into *doc_out. */
static int get_doc(struct livy *l, struct call *c, char *url, json_t **doc_out)
{
	int rc = url ? livy_call(l, c, "GET", url, NULL, doc_out) : -ENOMEM;
	free(url);
	return rc;
}

/* Sleeps before retry @n (0..) of a create; false when past the deadline. */
static bool backoff(struct call *c, int n)
{
	double delay = 0.25 * (double)(1 << (n < 4 ? n : 4));
	if (c->deadline > 0 && clock_mono() + delay + 1 >= c->deadline)
		return false;
	struct timespec ts = {.tv_sec = (time_t)delay};
	ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

/* The answer for a batch Livy does not know (any more). */
static int batch_gone(struct livy *l, long id, struct run_status *out)
{
	if (!livy_wire_ids_has(&l->deleted, id))
		return -ENOENT;
	out->state = RUN_CANCELLED;
	out->exit_code = -1;
	snprintf(out->platform_state, sizeof(out->platform_state), "deleted");
	return 0;
}

/* ---- listing ---- */

/* A walk over the batch list; embed it first in the walker's context. */
struct walk {
	/* Called for each batch; true stops the walk. */
	bool (*visit)(struct walk *w, const json_t *batch);
	/* May be NULL. After each page, with the pages left; true stops. */
	bool (*paged)(struct walk *w, long pages_left);
};

static int list_page(struct livy *l, struct call *c, long from,
		     json_t **doc_out)
{
	const char *q = l->v->detail;
	int rc =
	    get_doc(l, c,
		    url_printf("%s?from=%ld&size=%d%s%s", l->batches_url, from,
			       l->v->page_size, q ? "&" : "", q ? q : ""),
		    doc_out);
	if (rc == 0 && (!json_is_array(json_object_get(*doc_out, "sessions")) ||
			!json_is_integer(json_object_get(*doc_out, "total")))) {
		json_decref(*doc_out);
		rc = message_call_fail(c, -EPROTO,
				       "batch list without sessions or total");
	}
	return rc;
}

/*
 * Pages through GET /batches?from=&size=. A full page is followed by
 * another even when "total" says otherwise (Synapse documents it as the
 * number of sessions fetched).
 */
static int list_walk(struct livy *l, struct call *c, struct walk *w)
{
	long page = l->v->page_size;
	for (long from = 0;;) {
		json_t *doc = NULL;
		int rc = list_page(l, c, from, &doc);
		if (rc)
			return rc;
		const json_t *sessions = json_object_get(doc, "sessions");
		long total =
		    (long)json_integer_value(json_object_get(doc, "total"));
		long n = (long)json_array_size(sessions);
		bool stop = false;
		for (long i = 0; !stop && i < n; i++)
			stop = w->visit(w, json_array_get(sessions, (size_t)i));
		json_decref(doc);
		from += n;
		if (stop || n == 0 || (from >= total && n < page))
			return 0;
		long left = from < total ? (total - from + page - 1) / page : 1;
		if (w->paged && w->paged(w, left))
			return 0;
	}
}

struct name_walk {
	struct walk w;
	const char *name;
	long id; /* the newest batch of that name, -1 none */
};

static bool name_visit(struct walk *w, const json_t *batch)
{
	struct name_walk *nw = (struct name_walk *)w;
	const char *name = json_string_value(json_object_get(batch, "name"));
	json_int_t id = json_integer_value(json_object_get(batch, "id"));
	if (name && strcmp(name, nw->name) == 0 && id > nw->id)
		nw->id = (long)id;
	return false;
}

static int find_batch(struct livy *l, struct call *c, const char *name,
		      long *id_out)
{
	struct name_walk nw = {
	    .w = {.visit = name_visit}, .name = name, .id = -1};
	int rc = list_walk(l, c, &nw.w);
	if (rc == 0 && nw.id < 0)
		rc = message_call_fail(c, -ENOENT, "no batch named \"%s\"",
				       name);
	if (rc == 0)
		*id_out = nw.id;
	return rc;
}

/* ---- open and close ---- */

static bool is_known_field(const char *const *fields, const char *key)
{
	for (size_t i = 0; fields[i]; i++)
		if (strcmp(fields[i], key) == 0)
			return true;
	return false;
}

static int check_fields(const struct livy_variant *v, const json_t *fields,
			char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)fields, key, value)
	{
		if (is_known_field(livy_common_fields, key) ||
		    is_known_field(v->fields, key))
			continue;
		int n = snprintf(err, errlen,
				 "unknown field \"%s\"\n%s takes:", key,
				 v->ops->kind);
		const char *const *lists[] = {livy_common_fields, v->fields};
		for (size_t k = 0; k < 2; k++)
			for (size_t i = 0;
			     lists[k][i] && n > 0 && (size_t)n < errlen; i++)
				n += snprintf(err + n, errlen - (size_t)n,
					      " %s", lists[k][i]);
		return -EINVAL;
	}
	return 0;
}

static int url_field(const json_t *fields, const char *key, const char **out,
		     char *err, size_t errlen)
{
	int rc = livy_wire_string_field(fields, key, out, err, errlen);
	if (rc == -ENOENT)
		return message_fail(err, errlen, -EINVAL,
				    "missing field \"%s\"", key);
	if (rc == 0 && strncmp(*out, "http://", 7) != 0 &&
	    strncmp(*out, "https://", 8) != 0)
		return message_fail(err, errlen, -EINVAL,
				    "field \"%s\": expected an http(s) URL",
				    key);
	return rc;
}

/* Length of @url without trailing slashes. */
static int trimmed(const char *url)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return (int)n;
}

static int open_plain(struct livy *l, const json_t *fields, char *err,
		      size_t errlen)
{
	const char *url, *proxy_user;
	int rc = url_field(fields, "url", &url, err, errlen);
	if (rc)
		return rc;
	l->batches_url = url_printf("%.*s/batches", trimmed(url), url);
	if (!l->batches_url)
		return -ENOMEM;
	rc = livy_wire_string_field(fields, "proxy_user", &proxy_user, err,
				    errlen);
	if (rc == 0 && !(l->proxy_user = strdup(proxy_user)))
		rc = -ENOMEM;
	if (rc == 0 || rc == -ENOENT)
		rc =
		    livy_wire_basic_auth(fields, &l->basic_header, err, errlen);
	return rc;
}

static int open_synapse(struct livy *l, const json_t *fields, char *err,
			size_t errlen)
{
	const char *ws, *pool, *version;
	int rc = url_field(fields, "workspace_url", &ws, err, errlen);
	if (rc)
		return rc;
	rc = livy_wire_string_field(fields, "spark_pool", &pool, err, errlen);
	if (rc == -ENOENT)
		return message_fail(err, errlen, -EINVAL,
				    "missing field \"spark_pool\"");
	if (rc)
		return -EINVAL;
	rc = livy_wire_string_field(fields, "api_version", &version, err,
				    errlen);
	if (rc == -EINVAL)
		return rc;
	char *epool = http_escape(pool);
	char *ever = http_escape(rc ? LIVY_SYNAPSE_API : version);
	if (epool && ever)
		l->batches_url =
		    url_printf("%.*s/livyApi/versions/%s/sparkPools/%s/batches",
			       trimmed(ws), ws, ever, epool);
	free(epool);
	free(ever);
	if (!l->batches_url)
		return -ENOMEM;
	return aad_new(fields, LIVY_SYNAPSE_SCOPE, l->http, &l->aad, err,
		       errlen);
}

static int open_options(struct livy *l, const struct platform_env *env,
			char *err, size_t errlen)
{
	const json_t *csrf = json_object_get(env->fields, "csrf");
	if (csrf && !json_is_boolean(csrf))
		return message_fail(err, errlen, -EINVAL,
				    "field \"csrf\": expected true or false");
	l->csrf = !csrf || json_is_true(csrf);
	const json_t *artifacts = json_object_get(env->fields, "artifacts");
	if (!artifacts)
		return 0;
	char why[256] = "";
	int rc = artifact_store_open(artifacts, env->name, &l->store, why,
				     sizeof(why));
	if (rc)
		return message_fail(err, errlen, rc, "field \"artifacts\": %s",
				    why);
	return 0;
}

static void livy_free(struct livy *l)
{
	aad_free(l->aad);
	http_free(l->http);
	artifact_store_free(l->store);
	free(l->batches_url);
	secret_free(l->basic_header);
	free(l->proxy_user);
	livy_wire_ids_release(&l->deleted);
	free(l);
}

static int open_variant(const struct livy_variant *v,
			const struct platform_env *env, struct platform **out,
			char *err, size_t errlen)
{
	struct http_settings hs;
	int rc = check_fields(v, env->fields, err, errlen);
	if (rc == 0)
		rc = http_settings_from_json(env->fields, env->name, &hs, err,
					     errlen);
	if (rc)
		return rc;
	struct livy *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base.ops = v->ops;
	l->v = v;
	l->max_retries = hs.max_retries;
	hs.error_text = livy_wire_error_text;
	livy_wire_ids_init(&l->deleted);
	rc = http_new(&hs, &l->http);
	if (rc)
		rc = message_fail(err, errlen, rc,
				  "cannot make an http client: %s",
				  strerror(-rc));
	if (rc == 0)
		rc = v->open_endpoint(l, env->fields, err, errlen);
	if (rc == 0)
		rc = open_options(l, env, err, errlen);
	if (rc == 0)
		rc = livy_wire_ids_load(&l->deleted, env->state_dir, "deleted",
					err, errlen);
	if (rc == 0)
		rc = livy_wire_tag(env->state_dir, l->tag, err, errlen);
	if (rc) {
		livy_free(l);
		return rc;
	}
	*out = &l->base;
	return 0;
}

static void livy_close(struct platform *p)
{
	livy_free(livy_from(p));
}

/* ---- ops ---- */

static int livy_validate(struct platform *p, struct call *c,
			 const struct run_spec *run)
{
	struct livy *l = livy_from(p);
	struct livy_wire_target t = {p->name, l->proxy_user, l->store};
	return livy_wire_validate(&t, c, run);
}

static int batch_name(const struct livy *l, const struct run_spec *run,
		      char *buf, size_t len)
{
	int n = run->attempt > 1
		    ? snprintf(buf, len, "%s.a%d@%s", run->run_key,
			       run->attempt, l->tag)
		    : snprintf(buf, len, "%s@%s", run->run_key, l->tag);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int post_batch(struct livy *l, struct call *c, const json_t *body,
		      long *id_out)
{
	const char *q = l->v->detail;
	char *url =
	    url_printf("%s%s%s", l->batches_url, q ? "?" : "", q ? q : "");
	json_t *doc = NULL;
	int rc = url ? livy_call(l, c, "POST", url, body, &doc) : -ENOMEM;
	if (rc == 0)
		rc = livy_wire_batch_id(c, doc, id_out);
	json_decref(doc);
	free(url);
	return rc;
}

/* Whether a failed create may have created the batch all the same. */
static bool is_ambiguous(int rc)
{
	return rc == -EIO || rc == -EPROTO || rc == -ETIMEDOUT ||
	       rc == -ECONNRESET || rc == -EINVAL; /* 400: a duplicate? */
}

/*
 * Creates the batch @name. When the answer leaves it unclear whether the
 * batch exists, the list says; only a batch that is not there is created
 * again (and Livy refuses a duplicate name anyway).
 */
static int create_batch(struct livy *l, struct call *c, const json_t *body,
			const char *name, long *id_out)
{
	for (int n = 0;; n++) {
		int rc = post_batch(l, c, body, id_out);
		if (rc == 0)
			return 0;
		if (is_ambiguous(rc)) {
			char why[sizeof(c->err)];
			memcpy(why, c->err, sizeof(why));
			int frc = find_batch(l, c, name, id_out);
			if (frc == 0) {
				log_info("platform \"%s\": batch \"%s\" was "
					 "created after all (%s)",
					 l->base.name, name, why);
				return 0;
			}
			memcpy(c->err, why, sizeof(why));
			if (frc != -ENOENT || rc == -EINVAL)
				return rc;
		} else if (rc != -EAGAIN && rc != -ECONNREFUSED) {
			return rc;
		}
		/* known not to exist (429, 503, refused, not listed): again */
		if (n >= l->max_retries || !backoff(c, n))
			return rc;
		c->retries++;
	}
}

static int livy_submit(struct platform *p, struct call *c,
		       const struct run_spec *run, char **remote_id_out)
{
	struct livy *l = livy_from(p);
	struct livy_wire_target t = {p->name, l->proxy_user, l->store};
	char name[512];
	json_t *body = NULL;
	long id;
	int rc = livy_wire_validate(&t, c, run);
	if (rc == 0 && batch_name(l, run, name, sizeof(name)))
		rc = message_call_fail(c, -EINVAL, "run key too long");
	if (rc == 0)
		rc = livy_wire_body(&t, c, run, name, &body);
	if (rc == 0)
		rc = create_batch(l, c, body, name, &id);
	json_decref(body);
	if (rc == 0 && asprintf(remote_id_out, "%ld", id) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		log_info("platform \"%s\": created batch %ld \"%s\"", p->name,
			 id, name);
	return rc;
}

static int livy_find(struct platform *p, struct call *c,
		     const struct run_spec *run, char **remote_id_out)
{
	struct livy *l = livy_from(p);
	char name[512];
	long id;
	if (batch_name(l, run, name, sizeof(name)))
		return message_call_fail(c, -EINVAL, "run key too long");
	int rc = find_batch(l, c, name, &id);
	if (rc == 0 && asprintf(remote_id_out, "%ld", id) < 0)
		rc = -ENOMEM;
	return rc;
}

static int livy_status(struct platform *p, struct call *c,
		       const char *remote_id, struct run_status *out)
{
	struct livy *l = livy_from(p);
	long id;
	if (parse_id(remote_id, &id))
		return message_call_fail(c, -ENOENT, "invalid batch id \"%s\"",
					 remote_id);
	json_t *doc = NULL;
	int rc = get_doc(l, c, batch_url(l, id, "", true), &doc);
	if (rc == 0)
		rc = livy_wire_status(doc, l->v->has_result, c, out);
	else if (rc == -ENOENT)
		rc = batch_gone(l, id, out);
	json_decref(doc);
	return rc;
}

/* A run asked about: its batch id and its place in the caller's arrays. */
struct id_slot {
	long id;
	size_t i;
};

struct status_walk {
	struct walk w;
	struct livy *l;
	struct call *c;
	const struct id_slot *slots; /* sorted by id */
	struct run_status *out;
	int *rcs;
	size_t n, unseen;
};

static int compare_slot(const void *a, const void *b)
{
	long x = ((const struct id_slot *)a)->id;
	long y = ((const struct id_slot *)b)->id;
	return (x > y) - (x < y);
}

/* The first slot of batch @id, or n: a listed batch costs O(log n). */
static size_t first_slot(const struct status_walk *sw, long id)
{
	size_t lo = 0, hi = sw->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sw->slots[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool status_visit(struct walk *w, const json_t *batch)
{
	struct status_walk *sw = (struct status_walk *)w;
	json_int_t id = json_integer_value(json_object_get(batch, "id"));
	for (size_t k = first_slot(sw, (long)id);
	     k < sw->n && sw->slots[k].id == id; k++) {
		size_t i = sw->slots[k].i;
		if (sw->rcs[i] != LIVY_UNSEEN)
			continue;
		sw->rcs[i] = livy_wire_status(batch, sw->l->v->has_result,
					      sw->c, &sw->out[i]);
		sw->unseen--;
	}
	return sw->unseen == 0;
}

/* Past a point, asking for each missing run is cheaper than paging. */
static bool status_paged(struct walk *w, long pages_left)
{
	struct status_walk *sw = (struct status_walk *)w;
	return pages_left > (long)sw->unseen;
}

/*
 * One list walk for all runs; the runs it did not show are asked for one
 * by one (a batch deleted between two pages shifts the list).
 */
static int livy_status_many(struct platform *p, struct call *c,
			    const char *const *remote_ids,
			    struct run_status *statuses, int *rcs, size_t n)
{
	struct livy *l = livy_from(p);
	struct id_slot *slots = calloc(n + 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	struct status_walk sw = {.w = {status_visit, status_paged},
				 .l = l,
				 .c = c,
				 .slots = slots,
				 .out = statuses,
				 .rcs = rcs};
	for (size_t i = 0; i < n; i++) {
		long id;
		rcs[i] = parse_id(remote_ids[i], &id) ? -ENOENT : LIVY_UNSEEN;
		if (rcs[i] == LIVY_UNSEEN)
			slots[sw.n++] = (struct id_slot){.id = id, .i = i};
	}
	sw.unseen = sw.n;
	qsort(slots, sw.n, sizeof(*slots), compare_slot);
	int rc = sw.unseen > 1 ? list_walk(l, c, &sw.w) : 0;
	for (size_t i = 0; i < n; i++)
		if (rcs[i] == LIVY_UNSEEN)
			rcs[i] =
			    rc ? rc
			       : livy_status(p, c, remote_ids[i], &statuses[i]);
	free(slots);
	return rc && sw.unseen == n ? rc : 0;
}

/* Whether @batch has ended: its log is then the final one. */
static bool is_ended(const struct livy *l, const json_t *batch)
{
	struct run_status st = {0};
	struct call c = {0};
	bool ended = livy_wire_status(batch, l->v->has_result, &c, &st) == 0 &&
		     state_is_terminal(st.state);
	free(st.error);
	return ended;
}

/* The state, then every page of GET /batches/{id}/log into @f. */
static int read_log(struct livy *l, struct call *c, long id, FILE *f,
		    bool *ended_out)
{
	json_t *doc = NULL;
	int rc = get_doc(l, c, batch_url(l, id, "/state", false), &doc);
	if (rc)
		return rc;
	*ended_out = is_ended(l, doc);
	json_decref(doc);
	for (long from = 0, total = 1; from < total;) {
		char suffix[64];
		snprintf(suffix, sizeof(suffix), "/log?from=%ld&size=%d", from,
			 LIVY_LOG_PAGE);
		rc = get_doc(l, c, batch_url(l, id, suffix, false), &doc);
		if (rc)
			return rc;
		total = (long)json_integer_value(json_object_get(doc, "total"));
		size_t n = livy_wire_log_lines(json_object_get(doc, "log"), f);
		from += (long)n;
		json_decref(doc);
		if (n == 0 || ftell(f) > (long)LIVY_LOG_MAX)
			break;
	}
	return 0;
}

/* Without a log endpoint: the lines the batch object carries. */
static int read_batch_log(struct livy *l, struct call *c, long id, FILE *f,
			  bool *ended_out)
{
	json_t *doc = NULL;
	int rc = get_doc(l, c, batch_url(l, id, "", true), &doc);
	if (rc)
		return rc;
	*ended_out = is_ended(l, doc);
	if (livy_wire_log_lines(json_object_get(doc, "log"), f) == 0) {
		const char *url_log = json_string_value(json_object_get(
		    json_object_get(doc, "appInfo"), "driverLogUrl"));
		fprintf(f, "%s keeps no log lines for batch %ld%s%s\n",
			l->base.ops->kind, id, url_log ? "; driver log: " : "",
			url_log ? url_log : "");
	}
	json_decref(doc);
	return 0;
}

static int write_output(const char *dir, const char *name, const char *text,
			size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return fsutil_write_atomic(path, text, len, 0644);
}

/* The batch is gone: 1 keeps what was fetched before, 0 says so in @f. */
static int fetch_gone(struct livy *l, long id, const char *dir, FILE *f)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/log", dir);
	if (access(path, F_OK) == 0)
		return 1;
	fprintf(f,
		"%s no longer has batch %ld (deleted or expired): its "
		"log is lost\n",
		l->base.ops->kind, id);
	return 0;
}

static int livy_fetch(struct platform *p, struct call *c, const char *remote_id,
		      const char *output_dir)
{
	struct livy *l = livy_from(p);
	char *text = NULL;
	size_t len = 0;
	long id;
	if (parse_id(remote_id, &id))
		return message_call_fail(c, -ENOENT, "invalid batch id \"%s\"",
					 remote_id);
	bool ended = true; /* a batch that is gone has ended */
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	int rc = l->v->has_log ? read_log(l, c, id, f, &ended)
			       : read_batch_log(l, c, id, f, &ended);
	if (rc == -ENOENT)
		rc = fetch_gone(l, id, output_dir, f);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = write_output(output_dir, "log", text, len);
	if (rc == 0 && ended) /* the result is the final log */
		rc = write_output(output_dir, "result", text, len);
	free(text);
	if (rc < 0 && c->err[0] == '\0')
		message_call_fail(c, rc,
				  "cannot write the output of batch %ld: %s",
				  id, strerror(-rc));
	return rc < 0 ? rc : 0;
}

/*
 * Livy happily deletes an ended batch (and forgets it), so the state is
 * checked first. The id is recorded before the DELETE: once it is sent,
 * a 404 means we removed the batch.
 */
static int livy_cancel(struct platform *p, struct call *c,
		       const char *remote_id, const char *reason)
{
	struct livy *l = livy_from(p);
	struct run_status st = {0};
	long id;
	int rc = livy_status(p, c, remote_id, &st);
	free(st.error);
	if (rc == 0 && state_is_terminal(st.state))
		rc = message_call_fail(c, -EINVAL, "run already ended");
	if (rc || parse_id(remote_id, &id))
		return rc;
	char *url = batch_url(l, id, "", false);
	if (!url)
		return -ENOMEM;
	livy_wire_ids_set(&l->deleted, id, true);
	rc = livy_call(l, c, "DELETE", url, NULL, NULL);
	free(url);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == -EINVAL || rc == -EACCES)
		livy_wire_ids_set(&l->deleted, id, false);
	if (rc == 0)
		log_info("platform \"%s\": deleted batch %ld (%s)", p->name, id,
			 reason && *reason ? reason : "cancelled");
	return rc;
}

/* The smallest list: the server answers and takes our credentials. */
static int livy_health(struct platform *p, struct call *c)
{
	struct livy *l = livy_from(p);
	return get_doc(l, c, url_printf("%s?from=0&size=1", l->batches_url),
		       NULL);
}

/* ---- the two kinds ---- */

static const char *const livy_plain_fields[] = {
    "url", "user", "password_env", "password_file", "proxy_user", NULL};

static const char *const livy_synapse_fields[] = {
    "workspace_url",	  "spark_pool", "api_version",
    "tenant_id",	  "client_id",	"client_secret_env",
    "client_secret_file", "authority",	NULL};

static const struct livy_variant livy_plain = {
    .ops = &livy_platform,
    .fields = livy_plain_fields,
    .open_endpoint = open_plain,
    .detail = NULL,
    .page_size = LIVY_PAGE,
    .has_log = true,
    .has_result = false,
};

static const struct livy_variant livy_synapse = {
    .ops = &synapse_platform,
    .fields = livy_synapse_fields,
    .open_endpoint = open_synapse,
    .detail = "detailed=true",
    .page_size = LIVY_SYNAPSE_PAGE,
    .has_log = false,
    .has_result = true,
};

static int livy_open(const struct platform_env *env, struct platform **out,
		     char *err, size_t errlen)
{
	return open_variant(&livy_plain, env, out, err, errlen);
}

static int synapse_open(const struct platform_env *env, struct platform **out,
			char *err, size_t errlen)
{
	return open_variant(&livy_synapse, env, out, err, errlen);
}

const struct platform_ops livy_platform = {
    .kind = "livy",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_LOG | PLATFORM_CAP_UPLOAD,
    .open = livy_open,
    .close = livy_close,
    .validate = livy_validate,
    .submit = livy_submit,
    .find = livy_find,
    .status = livy_status,
    .status_many = livy_status_many,
    .fetch = livy_fetch,
    .cancel = livy_cancel,
    .health = livy_health,
};

const struct platform_ops synapse_platform = {
    .kind = "synapse",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_LOG | PLATFORM_CAP_UPLOAD,
    .open = synapse_open,
    .close = livy_close,
    .validate = livy_validate,
    .submit = livy_submit,
    .find = livy_find,
    .status = livy_status,
    .status_many = livy_status_many,
    .fetch = livy_fetch,
    .cancel = livy_cancel,
    .health = livy_health,
};
