/*
 * The Kubernetes platform: one run is one batch/v1 Job, its remote id the
 * Job's name, derived from the run key and attempt (kubernetes_wire.c).
 *
 * Create is safe to repeat: names are unique in a namespace, so a create
 * whose answer was lost is simply sent again and a 409 AlreadyExists means
 * the Job is there; it is read back and taken when its annotations name
 * this run (find does the same after a crash). A bundle small enough
 * ships as a ConfigMap of the same name, created after the Job and owned
 * by it (ownerReferences: it goes when the Job goes); the pod waits for it
 * to be mounted.
 *
 * Status: one poll lists the labelled Jobs (labelSelector=jobfs.run,
 * limit + continue) and their pods (for the exit code and image pull
 * errors), whatever the number of runs.
 *
 * Cancel deletes the Job with propagationPolicy=Background (the default
 * for Jobs orphans the pods). The names deleted are kept, in memory and in
 * STATE/deleted (the daemon may restart), so that a Job that is gone reads
 * CANCELLED for them and unknown (-ENOENT) otherwise.
 *
 * Output: the newest pod's log (limitBytes) is `log`, and `result` too.
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsutil.h"
#include "http.h"
#include "kubeconfig.h"
#include "kubernetes.h"
#include "kubernetes_wire.h"
#include "log.h"
#include "message.h"
#include "secret.h"

#define K8S_BUNDLE_LIMIT (1L << 20)
#define K8S_PULL_TIMEOUT 300.0
#define K8S_PAGE	 500
#define K8S_LOG_MAX	 (16L << 20)
#define K8S_DELETED_MAX	 (4L << 20)

struct k8s {
	struct platform base;
	struct http *http;
	char *server; /* no trailing slash */
	char *ns;     /* escaped for URLs */
	char *auth;   /* "Authorization: Bearer ...": a secret, or NULL */
	const char *headers[2];
	long bundle_limit;
	double pull_timeout;
	char deleted_path[PATH_MAX];
	pthread_mutex_t lock; /* guards deleted */
	json_t *deleted;      /* names this platform deleted: true */
};

static const char *const k8s_fields[] = {
    "kind",    "url",	     "namespace", "token_env", "token_file",
    "ca_file", "kubeconfig", "context",	  NULL};

/* numbers; http_settings_from_json checks its own */
static const char *const k8s_number_fields[] = {
    "bundle_limit", "image_pull_timeout",
    "timeout",	    "connect_timeout",
    "retries",	    NULL};

static struct k8s *k8s_from(struct platform *p)
{
	assert(p && p->ops == &kubernetes_platform);
	return (struct k8s *)p;
}

static const char *field_str(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(o, field));
}

/* ---- the deleted names ---- */

static int deleted_load(struct k8s *k)
{
	char *text = NULL;
	size_t len;
	int rc = fsutil_read_all(k->deleted_path, K8S_DELETED_MAX, &text, &len);
	if (rc == -ENOENT)
		return 0;
	for (char *save = NULL, *line = rc ? NULL : strtok_r(text, "\n", &save);
	     line; line = strtok_r(NULL, "\n", &save))
		if (json_object_set_new(k->deleted, line, json_true()))
			rc = -ENOMEM;
	free(text);
	return rc;
}

/* Adds or removes @name; written through before it returns. */
static int deleted_set(struct k8s *k, const char *name, bool on)
{
	char *text = NULL;
	size_t len = 0;
	const char *key;
	json_t *v;
	pthread_mutex_lock(&k->lock);
	int rc = on ? json_object_set_new(k->deleted, name, json_true())
		    : json_object_del(k->deleted, name);
	FILE *f = open_memstream(&text, &len);
	json_object_foreach(k->deleted, key, v) if (f) fprintf(f, "%s\n", key);
	if (!f || fclose(f))
		rc = -ENOMEM;
	else
		rc = fsutil_write_atomic(k->deleted_path, text, len, 0600);
	pthread_mutex_unlock(&k->lock);
	free(text);
	return rc;
}

static bool deleted_has(struct k8s *k, const char *name)
{
	pthread_mutex_lock(&k->lock);
	bool has = json_object_get(k->deleted, name) != NULL;
	pthread_mutex_unlock(&k->lock);
	return has;
}

/* ---- opening ---- */

static bool is_listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static int check_fields(const json_t *fields, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)fields, key, v)
	{
		bool is_number = is_listed(k8s_number_fields, key);
		if (!is_number && !is_listed(k8s_fields, key))
			return message_fail(err, errlen, -EINVAL,
					    "unknown field \"%s\"", key);
		if (!is_number && !json_is_string(v))
			return message_fail(err, errlen, -EINVAL,
					    "field \"%s\": not a string", key);
	}
	return 0;
}

static int take_server(struct k8s *k, const char *url, char *err, size_t errlen)
{
	if (!url)
		return message_fail(err, errlen, -EINVAL,
				    "field \"url\": missing\nset the API "
				    "server's URL, or \"kubeconfig\"");
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return message_fail(err, errlen, -EINVAL,
				    "field \"url\": expected an http:// or "
				    "https:// URL");
	size_t len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	k->server = strndup(url, len);
	return k->server ? 0 : -ENOMEM;
}

static int take_token(struct k8s *k, const json_t *fields, char *kc_token,
		      char *err, size_t errlen)
{
	char *token = NULL;
	int rc = secret_get(fields, "token", &token, err, errlen);
	if (rc == -ENOENT) {
		rc = 0;
		token = kc_token ? strdup(kc_token) : NULL;
	}
	if (rc || !token)
		return rc;
	if (asprintf(&k->auth, "Authorization: Bearer %s", token) < 0)
		k->auth = NULL;
	secret_free(token);
	k->headers[0] = k->auth;
	return k->auth ? 0 : -ENOMEM;
}

static int get_number(const json_t *fields, const char *field, double min,
		      double *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, field);
	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < min)
		return message_fail(err, errlen, -EINVAL,
				    "field \"%s\": must be a number >= %g",
				    field, min);
	*out = json_number_value(v);
	return 0;
}

static int get_http(struct k8s *k, const struct platform_env *env,
		    const struct kubeconfig *kc, char *err, size_t errlen)
{
	struct http_settings hs;
	int rc =
	    http_settings_from_json(env->fields, env->name, &hs, err, errlen);
	if (rc)
		return rc;
	if (!hs.ca_file && !kc->ca_pem)
		hs.ca_file = kc->ca_file;
	if (!hs.ca_file)
		hs.ca_pem = kc->ca_pem;
	hs.cert_pem = kc->cert_pem;
	hs.key_pem = kc->key_pem;
	return http_new(&hs, &k->http);
}

static int get_settings(struct k8s *k, const struct platform_env *env,
			const struct kubeconfig *kc, char *err, size_t errlen)
{
	const json_t *f = env->fields;
	double limit = K8S_BUNDLE_LIMIT;
	const char *ns = field_str(f, "namespace");
	k->pull_timeout = K8S_PULL_TIMEOUT;
	int rc = get_number(f, "bundle_limit", 0, &limit, err, errlen);
	if (rc == 0)
		rc = get_number(f, "image_pull_timeout", 0, &k->pull_timeout,
				err, errlen);
	k->bundle_limit = (long)limit;
	if (rc == 0 && !(ns = ns ? ns : kc->namespace))
		ns = "default";
	if (rc == 0 && !(k->ns = http_escape(ns)))
		rc = -ENOMEM;
	if (rc == 0 &&
	    (size_t)snprintf(k->deleted_path, sizeof(k->deleted_path),
			     "%s/deleted",
			     env->state_dir) >= sizeof(k->deleted_path))
		rc = -ENAMETOOLONG;
	if (rc == 0 && !(k->deleted = json_object()))
		rc = -ENOMEM;
	return rc ? rc : deleted_load(k);
}

static int get_config(struct k8s *k, const struct platform_env *env, char *err,
		      size_t errlen)
{
	const json_t *f = env->fields;
	const char *path = field_str(f, "kubeconfig");
	struct kubeconfig kc = {0};
	int rc = check_fields(f, err, errlen);
	if (rc == 0 && path)
		rc = kubeconfig_read(path, field_str(f, "context"), &kc, err,
				     errlen);
	else if (rc == 0 && field_str(f, "context"))
		rc = message_fail(err, errlen, -EINVAL,
				  "field \"context\": needs \"kubeconfig\"");
	const char *url = field_str(f, "url");
	if (rc == 0)
		rc = take_server(k, url ? url : kc.server, err, errlen);
	if (rc == 0)
		rc = take_token(k, f, kc.token, err, errlen);
	if (rc == 0)
		rc = get_settings(k, env, &kc, err, errlen);
	if (rc == 0)
		rc = get_http(k, env, &kc, err, errlen);
	kubeconfig_release(&kc);
	return rc;
}

static void k8s_close(struct platform *p)
{
	struct k8s *k = k8s_from(p);
	http_free(k->http);
	free(k->server);
	free(k->ns);
	secret_free(k->auth);
	json_decref(k->deleted);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

static int k8s_open(const struct platform_env *env, struct platform **out,
		    char *err, size_t errlen)
{
	struct k8s *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->base.ops = &kubernetes_platform;
	pthread_mutex_init(&k->lock, NULL);
	int rc = get_config(k, env, err, errlen);
	if (rc) {
		k8s_close(&k->base);
		return rc;
	}
	*out = &k->base;
	return 0;
}

/* ---- requests ---- */

/*
 * URL of a namespaced resource: @api ("apis/batch/v1" or "api/v1"),
 * @kind ("jobs"), @name (may be NULL) and @tail ("/log?..." or "?...").
 */
static char *url_of(const struct k8s *k, const char *api, const char *kind,
		    const char *name, const char *tail)
{
	char *ename = name ? http_escape(name) : NULL, *url = NULL;
	if ((!name || ename) &&
	    asprintf(&url, "%s/%s/namespaces/%s/%s%s%s%s", k->server, api,
		     k->ns, kind, name ? "/" : "", name ? ename : "",
		     tail ? tail : "") < 0)
		url = NULL;
	free(ename);
	return url;
}

/* One JSON request; @url is taken. *status_out may be NULL. */
static int call_json(struct k8s *k, struct call *c, const char *method,
		     char *url, const json_t *body, long *status_out,
		     json_t **out)
{
	if (!url)
		return -ENOMEM;
	/* every call here is safe to repeat (see the top of the file) */
	int rc = http_json(k->http, c, method, url, k->headers, body, true,
			   status_out, out);
	if (rc == 0 && out && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = message_call_fail(c, -EPROTO,
				       "not a JSON object from "
				       "the API server");
	}
	free(url);
	return rc;
}

/*
 * All items of a labelled list of @kind, paged with limit and continue,
 * into a new {"items": [...]}. An expired continue token (410 Gone)
 * starts the list again, once.
 */
static int list_all(struct k8s *k, struct call *c, const char *api,
		    const char *kind, const char *selector, json_t **out)
{
	char *esel = http_escape(selector), *cont = NULL, tail[4096];
	json_t *all = json_pack("{s:[]}", "items");
	json_t *items = json_object_get(all, "items");
	int rc = esel && all ? 0 : -ENOMEM, restarts = 0;
	while (rc == 0) {
		json_t *page = NULL;
		long status = 0;
		snprintf(tail, sizeof(tail), "?labelSelector=%s&limit=%d%s%s",
			 esel, K8S_PAGE, cont ? "&continue=" : "",
			 cont ? cont : "");
		free(cont);
		cont = NULL;
		rc = call_json(k, c, "GET", url_of(k, api, kind, NULL, tail),
			       NULL, &status, &page);
		if (rc && status == 410 && restarts++ == 0) {
			c->err[0] = '\0';
			rc = json_array_clear(items); /* from the first page */
			continue;
		}
		if (rc == 0 &&
		    json_array_extend(items, json_object_get(page, "items")))
			rc = -ENOMEM;
		const char *next =
		    field_str(json_object_get(page, "metadata"), "continue");
		if (rc == 0 && next && *next && !(cont = http_escape(next)))
			rc = -ENOMEM;
		json_decref(page);
		if (!cont)
			break;
	}
	free(cont);
	free(esel);
	if (rc)
		json_decref(all);
	else
		*out = all;
	return rc;
}

static int get_job(struct k8s *k, struct call *c, const char *name,
		   json_t **out)
{
	return call_json(k, c, "GET",
			 url_of(k, "apis/batch/v1", "jobs", name, NULL), NULL,
			 NULL, out);
}

static int pods_of(struct k8s *k, struct call *c, const char *name,
		   json_t **out)
{
	char sel[128];
	snprintf(sel, sizeof(sel), "%s=%s", K8S_JOB_LABEL, name);
	return list_all(k, c, "api/v1", "pods", sel, out);
}

/* ---- submit and find ---- */

static int k8s_validate(struct platform *p, struct call *c,
			const struct run_spec *run)
{
	struct k8s_job job;
	int rc = k8s_wire_parse_job(run, k8s_from(p)->bundle_limit, &job,
				    c->err, sizeof(c->err));
	if (rc == 0)
		k8s_wire_job_release(&job);
	return rc;
}

static void take_uid(const json_t *obj, char uid[128])
{
	const char *s = field_str(json_object_get(obj, "metadata"), "uid");
	snprintf(uid, 128, "%s", s ? s : "");
}

/* The Job @name, when it is this run's: its uid into @uid. */
static int take_existing(struct k8s *k, struct call *c,
			 const struct run_spec *run, const char *name,
			 char uid[128])
{
	json_t *obj = NULL;
	int rc = get_job(k, c, name, &obj);
	if (rc == 0 && !k8s_wire_is_run(obj, run->run_key, run->attempt))
		rc = message_call_fail(c, -EINVAL,
				       "a Job named \"%s\" exists and is not "
				       "this run's",
				       name);
	if (rc == 0)
		take_uid(obj, uid);
	json_decref(obj);
	return rc;
}

/* The bundle's ConfigMap; one already there (a repeat) is fine. */
static int make_configmap(struct k8s *k, struct call *c,
			  const struct run_spec *run, const struct k8s_job *job,
			  const char *uid)
{
	json_t *cm = NULL;
	long status = 0;
	int rc = k8s_wire_configmap(run, job, uid, &cm, c->err, sizeof(c->err));
	if (rc == 0)
		rc = call_json(k, c, "POST",
			       url_of(k, "api/v1", "configmaps", NULL, NULL),
			       cm, &status, NULL);
	if (rc && status == 409) {
		c->err[0] = '\0';
		rc = 0;
	}
	json_decref(cm);
	return rc;
}

static int create_job(struct k8s *k, struct call *c, const struct run_spec *run,
		      const struct k8s_job *job, char uid[128])
{
	json_t *body = k8s_wire_job(run, job), *made = NULL;
	long status = 0;
	int rc = body
		     ? call_json(k, c, "POST",
				 url_of(k, "apis/batch/v1", "jobs", NULL, NULL),
				 body, &status, &made)
		     : -ENOMEM;
	json_decref(body);
	if (rc && status == 409) /* AlreadyExists: made by a lost answer */
		return take_existing(k, c, run, job->name, uid);
	if (rc == 0)
		take_uid(made, uid);
	json_decref(made);
	return rc;
}

static int k8s_submit(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct k8s *k = k8s_from(p);
	struct k8s_job job;
	char uid[128] = "";
	int rc = k8s_wire_parse_job(run, k->bundle_limit, &job, c->err,
				    sizeof(c->err));
	if (rc)
		return rc;
	rc = create_job(k, c, run, &job, uid);
	if (rc == 0 && job.in_configmap)
		rc = make_configmap(k, c, run, &job, uid);
	if (rc == 0 && !(*remote_id_out = strdup(job.name)))
		rc = -ENOMEM;
	if (rc == 0)
		log_info("platform \"%s\": run \"%s\" is Job \"%s\"", p->name,
			 run->run_key, job.name);
	k8s_wire_job_release(&job);
	return rc;
}

static int k8s_find(struct platform *p, struct call *c,
		    const struct run_spec *run, char **remote_id_out)
{
	struct k8s *k = k8s_from(p);
	struct k8s_job job;
	char uid[128] = "";
	int rc = k8s_wire_parse_job(run, k->bundle_limit, &job, c->err,
				    sizeof(c->err));
	if (rc)
		return rc;
	rc = take_existing(k, c, run, job.name, uid);
	if (rc == 0 && job.in_configmap)
		rc = make_configmap(k, c, run, &job, uid);
	if (rc == 0 && !(*remote_id_out = strdup(job.name)))
		rc = -ENOMEM;
	k8s_wire_job_release(&job);
	return rc;
}

/* ---- status ---- */

/* The answer for a Job that is not there (any more). */
static int job_gone(struct k8s *k, struct call *c, const char *name,
		    struct run_status *out)
{
	if (!deleted_has(k, name))
		return message_call_fail(c, -ENOENT, "no Job \"%s\"", name);
	c->err[0] = '\0';
	out->state = RUN_CANCELLED;
	out->exit_code = -1;
	snprintf(out->platform_state, sizeof(out->platform_state), "Deleted");
	return 0;
}

/* A pod that will never pull its image: the Job goes (best effort). */
static void drop_stuck(struct k8s *k, const struct call *c, const char *name)
{
	struct call dc = *c;
	json_t *resp = NULL;
	log_info("platform \"%s\": Job \"%s\" cannot pull its image: deleted",
		 k->base.name, name);
	if (call_json(k, &dc, "DELETE",
		      url_of(k, "apis/batch/v1", "jobs", name,
			     "?propagationPolicy=Background"),
		      NULL, NULL, &resp))
		log_info("platform \"%s\": delete of \"%s\": %s", k->base.name,
			 name, dc.err);
	json_decref(resp);
}

static int job_status(struct k8s *k, const struct call *c, const json_t *job,
		      const json_t *pods, struct run_status *out)
{
	const char *name = field_str(json_object_get(job, "metadata"), "name");
	const json_t *pod = k8s_wire_pod_of(pods, name ? name : "");
	int rc =
	    k8s_wire_status(job, pod, (double)time(NULL), k->pull_timeout, out);
	const char *ps = out->platform_state;
	if (rc == 0 && out->state == RUN_FAILED &&
	    (!strcmp(ps, "ErrImagePull") || !strcmp(ps, "ImagePullBackOff")))
		drop_stuck(k, c, name);
	return rc;
}

static int k8s_status(struct platform *p, struct call *c, const char *remote_id,
		      struct run_status *out)
{
	struct k8s *k = k8s_from(p);
	json_t *job = NULL, *pods = NULL;
	int rc = get_job(k, c, remote_id, &job);
	if (rc == -ENOENT)
		return job_gone(k, c, remote_id, out);
	if (rc == 0)
		rc = pods_of(k, c, remote_id, &pods);
	if (rc == 0)
		rc = job_status(k, c, job, pods, out);
	json_decref(job);
	json_decref(pods);
	return rc;
}

static const json_t *job_named(const json_t *jobs, const char *name)
{
	const json_t *j;
	size_t i;
	json_array_foreach(json_object_get(jobs, "items"), i, j)
	{
		const char *n =
		    field_str(json_object_get(j, "metadata"), "name");
		if (n && strcmp(n, name) == 0)
			return j;
	}
	return NULL;
}

/* One list of the labelled Jobs and one of their pods, for all runs. */
static int k8s_status_many(struct platform *p, struct call *c,
			   const char *const *remote_ids,
			   struct run_status *statuses, int *rcs, size_t n)
{
	struct k8s *k = k8s_from(p);
	json_t *jobs = NULL, *pods = NULL;
	int rc = list_all(k, c, "apis/batch/v1", "jobs", K8S_LABEL_RUN, &jobs);
	if (rc == 0)
		rc = list_all(k, c, "api/v1", "pods", K8S_LABEL_RUN, &pods);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const json_t *job = job_named(jobs, remote_ids[i]);
		struct call one = *c;
		rcs[i] = job ? job_status(k, &one, job, pods, &statuses[i])
			     : job_gone(k, &one, remote_ids[i], &statuses[i]);
	}
	json_decref(jobs);
	json_decref(pods);
	return rc;
}

/* ---- fetch, cancel, health ---- */

static int write_output(const char *dir, const char *text, size_t len)
{
	char path[PATH_MAX];
	int rc = 0;
	for (int i = 0; rc == 0 && i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir,
			 i ? "log" : "result");
		rc = fsutil_write_atomic(path, text ? text : "", len, 0644);
	}
	return rc;
}

/* The pod's log; a container that has not started has none yet (400). */
static int pod_log(struct k8s *k, struct call *c, const char *pod,
		   struct http_response *resp)
{
	char tail[128];
	snprintf(tail, sizeof(tail), "/log?container=%s&limitBytes=%ld",
		 K8S_CONTAINER, K8S_LOG_MAX);
	char *url = url_of(k, "api/v1", "pods", pod, tail);
	struct http_request req = {.method = "GET",
				   .url = url,
				   .headers = k->headers,
				   .idempotent = true};
	int rc = url ? http_do(k->http, c, &req, resp) : -ENOMEM;
	free(url);
	if (rc == 0 && resp->status == 400) {
		resp->body_len = 0;
		return 0;
	}
	if (rc == 0)
		rc = http_check_status(k->http, c, resp);
	if (rc)
		http_response_release(resp);
	return rc;
}

static int k8s_fetch(struct platform *p, struct call *c, const char *remote_id,
		     const char *output_dir)
{
	struct k8s *k = k8s_from(p);
	json_t *pods = NULL;
	struct http_response resp = {0};
	int rc = pods_of(k, c, remote_id, &pods);
	const json_t *pod = rc ? NULL : k8s_wire_pod_of(pods, remote_id);
	const char *name = field_str(json_object_get(pod, "metadata"), "name");
	if (rc == 0 && !name) /* no pod (yet, or any more): no output */
		rc = write_output(output_dir, NULL, 0);
	else if (rc == 0 && (rc = pod_log(k, c, name, &resp)) == 0) {
		rc = write_output(output_dir, resp.body, resp.body_len);
		http_response_release(&resp);
	}
	json_decref(pods);
	return rc;
}

/*
 * The state is checked first: deleting an ended Job would lose it. The
 * name is recorded before the DELETE: once sent, a Job gone is ours.
 */
static int k8s_cancel(struct platform *p, struct call *c, const char *remote_id,
		      const char *reason)
{
	struct k8s *k = k8s_from(p);
	struct run_status st = {0};
	json_t *resp = NULL;
	int rc = k8s_status(p, c, remote_id, &st);
	free(st.error);
	if (rc == 0 && (state_is_terminal(st.state) ||
			!strcmp(st.platform_state, "Deleted")))
		rc = message_call_fail(c, -EINVAL, "run already ended");
	if (rc)
		return rc;
	rc = deleted_set(k, remote_id, true);
	if (rc == 0)
		rc = call_json(k, c, "DELETE",
			       url_of(k, "apis/batch/v1", "jobs", remote_id,
				      "?propagationPolicy=Background"),
			       NULL, NULL, &resp);
	json_decref(resp);
	if (rc == -ENOENT) /* a repeat after a lost answer */
		rc = 0;
	if (rc == -EINVAL || rc == -EACCES) /* refused: not deleted */
		deleted_set(k, remote_id, false);
	if (rc == 0)
		log_info("platform \"%s\": deleted Job \"%s\" (%s)", p->name,
			 remote_id, reason && *reason ? reason : "cancelled");
	return rc;
}

/* The smallest list: the server answers and takes our credentials. */
static int k8s_health(struct platform *p, struct call *c)
{
	struct k8s *k = k8s_from(p);
	json_t *resp = NULL;
	int rc = call_json(k, c, "GET",
			   url_of(k, "apis/batch/v1", "jobs", NULL, "?limit=1"),
			   NULL, NULL, &resp);
	json_decref(resp);
	return rc;
}

const struct platform_ops kubernetes_platform = {
    .kind = "kubernetes",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_UPLOAD | PLATFORM_CAP_LOG,
    .open = k8s_open,
    .close = k8s_close,
    .validate = k8s_validate,
    .submit = k8s_submit,
    .find = k8s_find,
    .status = k8s_status,
    .status_many = k8s_status_many,
    .fetch = k8s_fetch,
    .cancel = k8s_cancel,
    .health = k8s_health,
};
