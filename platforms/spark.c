/*
 * The Spark standalone platform: one run is one driver, created through
 * the master's REST submission server (/v1/submissions/create|status|kill).
 *
 * Every message names its class in "action"; an answer may be HTTP 200 and
 * still say success:false. The server has no upload, so a bundle's jar or
 * .py goes to the artifact store first and appResource is the URL the
 * workers read it by. Create has no idempotency key: it is sent once,
 * never retried, and spark.app.name carries the run key.
 *
 * `find` (spark_find.c, with "ui_url" only) resolves a create whose
 * answer was lost (a 500, a dropped connection, a crash): the master UI
 * lists the drivers, and the worker writes each driver's launch command,
 * "-Dspark.app.name=KEY" in it, at the head of its stderr. Without
 * "ui_url" nothing lists the drivers: the core ends such a run LOST
 * instead of risking a second driver.
 *
 * With "ui_url", the master UI JSON (GET /json/) answers for all drivers in
 * one request per poll. Output lives on the worker that ran the driver:
 * its web UI serves the raw log at /log?driverId=&logType=stdout|stderr in
 * pages headed "==== Bytes START-END of LENGTH of PATH ====" (the HTML
 * /logPage/ is for people).
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact.h"
#include "clock.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "message.h"
#include "secret.h"
#include "spark.h"
#include "spark_find.h"

#define SPARK_VERSION	     "3.5.0"
#define SPARK_PYTHON_RUNNER  "org.apache.spark.deploy.PythonRunner"
#define SPARK_CLUSTER_PREFIX "Exception from the cluster:\n"
#define SPARK_LOG_MAX	     (32L * 1024 * 1024) /* per stream */
#define SPARK_STDERR_TAIL    4096L
#define SPARK_LAUNCH_HEAD    (64L * 1024) /* where the launch command is */

struct spark {
	struct platform base;
	struct http *http;
	struct artifact_store *artifacts; /* NULL: conf.appResource only */
	char *url;			  /* REST server, no trailing slash */
	char *ui_url;			  /* master web UI, or NULL */
	char *version;
	long worker_ui_port;
	char *auth; /* "Authorization: Bearer ...": a secret, or NULL */
	const char *headers[2];
	struct spark_finder *finder;
};

/* What a job asks for, borrowed from its run_spec. */
struct spark_job {
	const char *main_class; /* NULL: none given */
	const char *resource;	/* a URL the workers read, or NULL */
	char local[PATH_MAX];	/* else the bundle file to upload */
	const json_t *props;	/* conf.sparkProperties, or NULL */
	const json_t *envs;	/* conf.environmentVariables, or NULL */
	bool is_python;
};

static const char *const spark_fields[] = {
    "kind",	 "url",	       "ui_url",    "worker_ui_port", "spark_version",
    "token_env", "token_file", "artifacts", "timeout",	      "connect_timeout",
    "retries",	 "ca_file",    NULL};

static const char *const spark_conf_fields[] = {
    "mainClass",       "appResource",	       "artifact",
    "sparkProperties", "environmentVariables", NULL};

static const struct {
	const char *name;
	enum run_state state;
} spark_states[] = {
    {"SUBMITTED", RUN_QUEUED},	  {"RUNNING", RUN_RUNNING},
    {"RELAUNCHING", RUN_RUNNING}, {"FINISHED", RUN_SUCCEEDED},
    {"FAILED", RUN_FAILED},	  {"ERROR", RUN_FAILED},
    {"KILLED", RUN_CANCELLED},
};

static struct spark *spark_from(struct platform *p)
{
	assert(p && p->ops == &spark_platform);
	return (struct spark *)p;
}

static bool is_listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Both non-NULL and equal. */
static bool is_same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *field_str(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(o, field));
}

/* ---- opening ---- */

static int check_fields(const json_t *fields, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)fields, key, v)
	{
		if (!is_listed(spark_fields, key))
			return message_fail(err, errlen, -EINVAL,
					    "unknown field \"%s\"", key);
	}
	return 0;
}

/* An http(s) URL without its trailing slashes; NULL when missing. */
static int get_url(const json_t *fields, const char *field, char **out,
		   char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, field);
	const char *s = json_string_value(v);
	*out = NULL;
	if (!v)
		return 0;
	if (!s || (strncmp(s, "http://", 7) && strncmp(s, "https://", 8)))
		return message_fail(
		    err, errlen, -EINVAL,
		    "field \"%s\": expected an http:// or https:// URL", field);
	size_t len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		len--;
	*out = strndup(s, len);
	return *out ? 0 : -ENOMEM;
}

static int get_settings(struct spark *s, const json_t *fields, char *err,
			size_t errlen)
{
	const json_t *ver = json_object_get(fields, "spark_version");
	const json_t *port = json_object_get(fields, "worker_ui_port");
	s->worker_ui_port = port ? json_integer_value(port) : 8081;
	if (ver && !json_is_string(ver))
		return message_fail(err, errlen, -EINVAL,
				    "field \"spark_version\": not a string");
	if (s->worker_ui_port < 1 || s->worker_ui_port > 65535)
		return message_fail(err, errlen, -EINVAL,
				    "field \"worker_ui_port\": not a port");
	s->version = strdup(ver ? json_string_value(ver) : SPARK_VERSION);
	return s->version ? 0 : -ENOMEM;
}

static int get_token(struct spark *s, const json_t *fields, char *err,
		     size_t errlen)
{
	char *token = NULL;
	int rc = secret_get(fields, "token", &token, err, errlen);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (asprintf(&s->auth, "Authorization: Bearer %s", token) < 0)
		s->auth = NULL;
	secret_free(token);
	s->headers[0] = s->auth;
	return s->auth ? 0 : -ENOMEM;
}

static int get_http(struct spark *s, const struct platform_env *env, char *err,
		    size_t errlen)
{
	struct http_settings hs;
	int rc =
	    http_settings_from_json(env->fields, env->name, &hs, err, errlen);
	if (rc == 0)
		rc = http_new(&hs, &s->http);
	const json_t *art = json_object_get(env->fields, "artifacts");
	if (rc == 0 && art)
		rc = artifact_store_open(art, env->name, &s->artifacts, err,
					 errlen);
	return rc;
}

static void spark_close(struct platform *p)
{
	struct spark *s = spark_from(p);
	if (s->artifacts)
		artifact_store_free(s->artifacts);
	http_free(s->http);
	free(s->url);
	free(s->ui_url);
	free(s->version);
	secret_free(s->auth);
	spark_finder_free(s->finder);
	free(s);
}

static int spark_open(const struct platform_env *env, struct platform **out,
		      char *err, size_t errlen)
{
	struct spark *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &spark_platform;
	int rc = check_fields(env->fields, err, errlen);
	if (rc == 0)
		rc = get_url(env->fields, "url", &s->url, err, errlen);
	if (rc == 0 && !s->url)
		rc = message_fail(err, errlen, -EINVAL,
				  "field \"url\": missing");
	if (rc == 0)
		rc = get_url(env->fields, "ui_url", &s->ui_url, err, errlen);
	if (rc == 0)
		rc = get_settings(s, env->fields, err, errlen);
	if (rc == 0)
		rc = get_token(s, env->fields, err, errlen);
	if (rc == 0)
		rc = get_http(s, env, err, errlen);
	if (rc == 0)
		rc = spark_finder_new(&s->finder);
	if (rc) {
		spark_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return 0;
}

/* ---- the job ---- */

static bool is_strings(const json_t *v)
{
	const char *key;
	json_t *item;
	bool ok = json_is_object(v);
	json_object_foreach((json_t *)v, key, item) ok &= json_is_string(item);
	return ok;
}

static int parse_conf(const json_t *conf, struct spark_job *job, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)conf, key, v)
	{
		bool is_map = !strcmp(key, "sparkProperties") ||
			      !strcmp(key, "environmentVariables");
		if (!is_listed(spark_conf_fields, key))
			return message_fail(err, errlen, -EINVAL,
					    "unknown conf field \"%s\"", key);
		if (is_map ? !is_strings(v) : !json_is_string(v))
			return message_fail(
			    err, errlen, -EINVAL, "conf.%s must be %s", key,
			    is_map ? "an object of strings" : "a string");
	}
	job->main_class = field_str(conf, "mainClass");
	job->resource = field_str(conf, "appResource");
	job->props = json_object_get(conf, "sparkProperties");
	job->envs = json_object_get(conf, "environmentVariables");
	if (job->resource && field_str(conf, "artifact"))
		return message_fail(err, errlen, -EINVAL,
				    "conf.appResource and conf.artifact "
				    "both set\nthey mean the same: set one");
	if (!job->resource)
		job->resource = field_str(conf, "artifact");
	return 0;
}

static bool is_outside(const char *rel)
{
	size_t len = strlen(rel);
	return rel[0] == '/' || strcmp(rel, "..") == 0 ||
	       strncmp(rel, "../", 3) == 0 || strstr(rel, "/../") ||
	       (len >= 3 && strcmp(rel + len - 3, "/..") == 0);
}

/* The bundle's entry point, which submit uploads. */
static int bundle_file(const struct spark *s, const struct run_spec *run,
		       struct spark_job *job, char *err, size_t errlen)
{
	const char *ep = run->entry_point;
	struct stat st;
	if (!ep || !*ep || is_outside(ep))
		return message_fail(err, errlen, -EINVAL,
				    "entry point \"%s\" is not in the bundle",
				    ep ? ep : "");
	int n = snprintf(job->local, sizeof(job->local), "%s/%s",
			 run->bundle_dir, ep);
	if (n < 0 || (size_t)n >= sizeof(job->local) ||
	    stat(job->local, &st) < 0 || !S_ISREG(st.st_mode))
		return message_fail(err, errlen, -EINVAL,
				    "entry point \"%s\" not found in bundle",
				    ep);
	if (!s->artifacts)
		return message_fail(
		    err, errlen, -EINVAL,
		    "no artifact store for the bundle\nset \"artifacts\" "
		    "in the platform config, or conf.appResource");
	return 0;
}

/* Where the driver's code comes from, and whether it needs a main class. */
static int parse_job(const struct spark *s, const struct run_spec *run,
		     struct spark_job *job, char *err, size_t errlen)
{
	memset(job, 0, sizeof(*job));
	int rc = parse_conf(run->conf, job, err, errlen);
	if (rc)
		return rc;
	const char *ep = run->entry_point;
	if (!job->resource && run->bundle_dir) {
		rc = bundle_file(s, run, job, err, errlen);
	} else if (!job->resource && ep && strstr(ep, "://")) {
		job->resource = ep; /* a URL given as the entry point */
	} else if (!job->resource) {
		rc = message_fail(err, errlen, -EINVAL,
				  "nothing to run\ndeploy a .jar or .py "
				  "bundle, or set conf.appResource");
	}
	if (rc)
		return rc;
	job->is_python =
	    has_suffix(job->resource ? job->resource : job->local, ".py");
	if (!job->is_python && !job->main_class)
		return message_fail(err, errlen, -EINVAL,
				    "conf.mainClass is required for a jar");
	return 0;
}

static int spark_validate(struct platform *p, struct call *c,
			  const struct run_spec *run)
{
	struct spark_job job;
	return parse_job(spark_from(p), run, &job, c->err, sizeof(c->err));
}

/* ---- requests ---- */

/* A JSON object; with @action, a Spark message of that class. */
static int get_json(struct spark *s, struct call *c, const char *method,
		    const char *url, const json_t *body, bool idempotent,
		    const char *action, json_t **out)
{
	json_t *resp = NULL;
	int rc = http_json(s->http, c, method, url, s->headers, body,
			   idempotent, NULL, &resp);
	if (rc == 0 &&
	    (!json_is_object(resp) ||
	     (action && !is_same(field_str(resp, "action"), action))))
		rc = message_call_fail(c, -EPROTO,
				       "unexpected answer from \"%s\"", url);
	if (rc)
		json_decref(resp);
	else
		*out = resp;
	return rc;
}

/* A garbled answer (a proxy's hiccup) is asked again, as a 5xx would be. */
static int get_json_retry(struct spark *s, struct call *c, const char *method,
			  const char *url, const json_t *body, bool idempotent,
			  const char *action, json_t **out)
{
	int rc = get_json(s, c, method, url, body, idempotent, action, out);
	for (int i = 0;
	     rc == -EPROTO && idempotent && i < 2 && clock_mono() < c->deadline;
	     i++) {
		c->retries++;
		rc = get_json(s, c, method, url, body, idempotent, action, out);
	}
	return rc;
}

/* POST or GET /v1/submissions/ACTION[/ID] on the REST server. */
static int rest_call(struct spark *s, struct call *c, const char *method,
		     const char *op, const char *id, const json_t *body,
		     const char *action, json_t **out)
{
	char *eid = id ? http_escape(id) : NULL, *url;
	if ((id && !eid) || asprintf(&url, "%s/v1/submissions/%s%s%s", s->url,
				     op, id ? "/" : "", eid ? eid : "") < 0) {
		free(eid);
		return -ENOMEM;
	}
	/* Only create changes anything twice: status and kill may repeat. */
	bool idempotent = strcmp(op, "create") != 0;
	int rc =
	    get_json_retry(s, c, method, url, body, idempotent, action, out);
	free(eid);
	free(url);
	return rc;
}

static int get_ui(struct spark *s, struct call *c, json_t **out)
{
	char *url;
	if (asprintf(&url, "%s/json/", s->ui_url) < 0)
		return -ENOMEM;
	int rc = get_json_retry(s, c, "GET", url, NULL, true, NULL, out);
	free(url);
	return rc;
}

/* ---- submit ---- */

static json_t *object_of(const json_t *a, const json_t *b)
{
	json_t *o = json_object();
	if (o && ((a && json_object_update(o, (json_t *)a)) ||
		  (b && json_object_update(o, (json_t *)b)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * PythonRunner takes [file, pyFiles, args...]. Running a .py this way
 * through the standalone REST server is an UNCONFIRMED workaround (the
 * server's comment says python is not supported in cluster mode).
 */
static json_t *app_args(const struct spark_job *job, const char *url,
			const json_t *args)
{
	json_t *a = json_is_array(args) ? json_deep_copy(args) : json_array();
	if (a && job->is_python && !job->main_class &&
	    (json_array_insert_new(a, 0, json_string("")) ||
	     json_array_insert_new(a, 0, json_string(url)))) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int build_request(const struct spark *s, const struct run_spec *run,
			 const struct spark_job *job, const char *url,
			 json_t **out)
{
	json_t *props = object_of(job->props, NULL);
	/* the run key names the driver in the master UI */
	if (!props || json_object_set_new(props, "spark.app.name",
					  json_string(run->run_key))) {
		json_decref(props);
		return -ENOMEM;
	}
	const char *main_class =
	    job->main_class ? job->main_class : SPARK_PYTHON_RUNNER;
	/* "o" steals, also when packing fails */
	*out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "action",
			 "CreateSubmissionRequest", "clientSparkVersion",
			 s->version, "appResource", url, "mainClass",
			 main_class, "appArgs", app_args(job, url, run->args),
			 "sparkProperties", props, "environmentVariables",
			 object_of(run->env, job->envs));
	return *out ? 0 : -ENOMEM;
}

/* The URL the workers read the code by: given, or uploaded now. */
static int resource_url(struct spark *s, struct call *c,
			const struct run_spec *run, const struct spark_job *job,
			char **url_out)
{
	if (job->resource) {
		*url_out = strdup(job->resource);
		return *url_out ? 0 : -ENOMEM;
	}
	const char *base = strrchr(job->local, '/');
	char *name;
	if (asprintf(&name, "%s/%s", run->run_key,
		     base ? base + 1 : job->local) < 0)
		return -ENOMEM;
	int rc = artifact_put(s->artifacts, c, job->local, name, url_out);
	free(name);
	return rc;
}

static int take_submission(struct call *c, const json_t *resp, char **id_out)
{
	const char *id = field_str(resp, "submissionId");
	const char *msg = field_str(resp, "message");
	if (!json_is_true(json_object_get(resp, "success")))
		return message_call_fail(c, -EINVAL,
					 "the master refused it: %s",
					 msg ? msg : "no reason given");
	if (!id)
		return message_call_fail(c, -EPROTO,
					 "no submissionId in answer");
	*id_out = strdup(id);
	return *id_out ? 0 : -ENOMEM;
}

static int spark_submit(struct platform *p, struct call *c,
			const struct run_spec *run, char **remote_id_out)
{
	struct spark *s = spark_from(p);
	struct spark_job job;
	char *url = NULL;
	json_t *req = NULL, *resp = NULL;
	int rc = parse_job(s, run, &job, c->err, sizeof(c->err));
	if (rc == 0)
		rc = resource_url(s, c, run, &job, &url);
	if (rc == 0)
		rc = build_request(s, run, &job, url, &req);
	if (rc == 0)
		rc = rest_call(s, c, "POST", "create", NULL, req,
			       "CreateSubmissionResponse", &resp);
	if (rc == 0)
		rc = take_submission(c, resp, remote_id_out);
	if (rc == 0)
		log_info("platform \"%s\": run \"%s\" is driver \"%s\"",
			 p->name, run->run_key, *remote_id_out);
	json_decref(req);
	json_decref(resp);
	free(url);
	return rc;
}

/* ---- worker logs ---- */

/* The worker's web UI: as the master UI names it, else host:worker_ui_port. */
static int worker_ui(struct spark *s, struct call *c, const json_t *st,
		     const json_t *ui, char **base_out)
{
	const char *wid = field_str(st, "workerId");
	const char *hp = field_str(st, "workerHostPort");
	const json_t *w;
	size_t i;
	json_array_foreach(json_object_get(ui, "workers"), i, w)
	{
		const char *addr = field_str(w, "webuiaddress");
		if (addr && is_same(field_str(w, "id"), wid)) {
			*base_out =
			    strndup(addr, strlen(addr) - has_suffix(addr, "/"));
			return *base_out ? 0 : -ENOMEM;
		}
	}
	const char *colon = hp ? strrchr(hp, ':') : NULL;
	if (!colon)
		return message_call_fail(c, -ENOENT,
					 "the driver has no worker");
	return asprintf(base_out, "http://%.*s:%ld", (int)(colon - hp), hp,
			s->worker_ui_port) < 0
		   ? -ENOMEM
		   : 0;
}

/*
 * Bytes [0, @len) of a driver's log, or the last @len bytes when @tail,
 * into @f. The worker answers one page of any length we ask for.
 */
static int read_log(struct spark *s, struct call *c, const char *base,
		    const char *eid, const char *type, bool tail, long len,
		    FILE *f)
{
	char url[2048];
	snprintf(url, sizeof(url),
		 "%s/log?driverId=%s&logType=%s%s&byteLength=%ld", base, eid,
		 type, tail ? "" : "&offset=0", len);
	/* the worker UI may sit behind the same JWS filter as the master */
	struct http_request req = {.method = "GET",
				   .url = url,
				   .headers = s->headers,
				   .idempotent = true};
	struct http_response resp = {0};
	int rc = http_do(s->http, c, &req, &resp);
	long long start, end, total = 0;
	int head = 0;
	if (rc == 0 && resp.status != 200) {
		rc = resp.status / 100 == 2 ? -EPROTO
					    : http_status_errno(resp.status);
		message_call_fail(c, rc, "HTTP %ld from \"%s\"", resp.status,
				  base);
	}
	if (rc == 0 &&
	    sscanf(resp.body, "==== Bytes %lld-%lld of %lld of %*[^\n]%n",
		   &start, &end, &total, &head) < 3)
		rc = message_call_fail(c, -EPROTO, "no log from \"%s\"", base);
	/* "0-0 of 0" with text is the worker's error: no such log yet */
	if (rc == 0 && total > 0 && head > 0 && resp.body[head] == '\n')
		fwrite(resp.body + head + 1, 1,
		       resp.body_len - (size_t)head - 1, f);
	http_response_release(&resp);
	return rc;
}

/* The last line of the driver's stderr that says something, or NULL. */
static char *stderr_tail(struct spark *s, struct call *c, const char *eid,
			 const json_t *st, const json_t *ui)
{
	char *base = NULL, *text = NULL, *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f && worker_ui(s, c, st, ui, &base) == 0)
		read_log(s, c, base, eid, "stderr", true, SPARK_STDERR_TAIL, f);
	if (f)
		fclose(f);
	while (text && len > 0 && strchr(" \t\r\n", text[len - 1]))
		text[--len] = '\0';
	char *nl = text ? strrchr(text, '\n') : NULL;
	if (text && len > 0)
		line = strdup(nl ? nl + 1 : text);
	free(text);
	free(base);
	return line;
}

/* ---- find ---- */

static int launch_head(void *ctx, struct call *c, const char *base,
		       const char *eid, FILE *f)
{
	return read_log(ctx, c, base, eid, "stderr", false, SPARK_LAUNCH_HEAD,
			f);
}

/* The driver a create of @run made, from the master UI: spark_find.h. */
static int spark_find(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct spark *s = spark_from(p);
	if (!s->ui_url)
		return message_call_fail(c, -ENOTSUP,
					 "no \"ui_url\": nothing lists the "
					 "drivers");
	const char *main_class = field_str(run->conf, "mainClass");
	json_t *ui = NULL;
	int rc = get_ui(s, c, &ui);
	struct spark_find_io io = {.ctx = s, .stderr_head = launch_head};
	if (rc == 0)
		rc = spark_finder_find(s->finder, c, ui, run->run_key,
				       main_class ? main_class
						  : SPARK_PYTHON_RUNNER,
				       &io, remote_id_out);
	json_decref(ui);
	return rc;
}

/* ---- status ---- */

static enum run_state map_state(const char *name)
{
	for (size_t i = 0; i < sizeof(spark_states) / sizeof(spark_states[0]);
	     i++)
		if (strcmp(spark_states[i].name, name) == 0)
			return spark_states[i].state;
	/*
	 * UNKNOWN (the master is recovering) and names added later are
	 * transient: QUEUED is the earliest state a submitted run can be in,
	 * and the core never shows a run going back, so this keeps whatever
	 * the run shows now.
	 */
	return RUN_QUEUED;
}

static void set_state(struct run_status *out, const char *state)
{
	snprintf(out->platform_state, sizeof(out->platform_state), "%s", state);
	out->state = map_state(state);
	out->exit_code = -1;
}

/* Why a driver failed: the cluster's exception, else its last stderr. */
static int failure(struct spark *s, const struct call *c, const char *eid,
		   const json_t *st, const json_t *ui, struct run_status *out)
{
	const char *msg = field_str(st, "message");
	bool is_error = !strcmp(out->platform_state, "ERROR");
	char *tail = NULL;
	if (msg &&
	    !strncmp(msg, SPARK_CLUSTER_PREFIX, strlen(SPARK_CLUSTER_PREFIX)))
		msg += strlen(SPARK_CLUSTER_PREFIX);
	if (!msg || !*msg) {
		struct call tc = *c; /* the tail is a bonus: its errors stay */
		msg = tail = stderr_tail(s, &tc, eid, st, ui);
	}
	int n = msg ? (int)strcspn(msg, "\n") : 0;
	int rc = asprintf(&out->error, "%s%s%.*s",
			  is_error ? "driver could not run" : "driver failed",
			  msg ? ": " : "", n, msg ? msg : "");
	free(tail);
	if (rc < 0)
		out->error = NULL;
	return rc < 0 ? -ENOMEM : 0;
}

/* Fills @out from a SubmissionStatusResponse @st; @ui may be NULL. */
static int take_status(struct spark *s, struct call *c, const char *id,
		       const json_t *st, const json_t *ui,
		       struct run_status *out)
{
	const char *state = field_str(st, "driverState");
	if (!state)
		return message_call_fail(
		    c, -ENOENT, "driver \"%s\" is not known to the master", id);
	set_state(out, state);
	if (out->state != RUN_FAILED)
		return 0;
	char *eid = http_escape(id);
	int rc = eid ? failure(s, c, eid, st, ui, out) : -ENOMEM;
	free(eid);
	return rc;
}

static int spark_status(struct platform *p, struct call *c,
			const char *remote_id, struct run_status *out)
{
	struct spark *s = spark_from(p);
	json_t *st = NULL;
	int rc = rest_call(s, c, "GET", "status", remote_id, NULL,
			   "SubmissionStatusResponse", &st);
	if (rc == 0)
		rc = take_status(s, c, remote_id, st, NULL, out);
	json_decref(st);
	return rc;
}

static const json_t *ui_driver(const json_t *ui, const char *id)
{
	const char *lists[] = {"activedrivers", "completeddrivers"};
	const json_t *d;
	size_t i;
	for (size_t k = 0; k < 2; k++) {
		json_array_foreach(json_object_get(ui, lists[k]), i, d)
		{
			if (is_same(field_str(d, "id"), id))
				return d;
		}
	}
	return NULL;
}

/* One run from the master UI's listing; failures ask for their reason. */
static int status_from_ui(struct spark *s, struct call *c, const json_t *ui,
			  const char *id, struct run_status *out)
{
	const json_t *d = ui_driver(ui, id);
	const char *state = field_str(d, "state");
	if (!state)
		return -ENOENT;
	if (map_state(state) != RUN_FAILED) {
		set_state(out, state);
		return 0;
	}
	json_t *st = NULL;
	int rc = rest_call(s, c, "GET", "status", id, NULL,
			   "SubmissionStatusResponse", &st);
	if (rc == 0)
		rc = take_status(s, c, id, st, ui, out);
	json_decref(st);
	return rc;
}

/* With a master UI one request answers for all; without, one each. */
static int spark_status_many(struct platform *p, struct call *c,
			     const char *const *remote_ids,
			     struct run_status *statuses, int *rcs, size_t n)
{
	struct spark *s = spark_from(p);
	json_t *ui = NULL;
	int rc = s->ui_url ? get_ui(s, c, &ui) : 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rcs[i] =
		    ui ? status_from_ui(s, c, ui, remote_ids[i], &statuses[i])
		       : spark_status(p, c, remote_ids[i], &statuses[i]);
	json_decref(ui);
	return rc;
}

/* ---- fetch and cancel ---- */

static int write_file(const char *dir, const char *name, const char *data,
		      size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return fsutil_write_atomic(path, data ? data : "", len, 0644);
}

/* result = the driver's stdout; log = stdout, then stderr. */
static int spark_fetch(struct platform *p, struct call *c,
		       const char *remote_id, const char *output_dir)
{
	struct spark *s = spark_from(p);
	char *base = NULL, *text = NULL, *eid = http_escape(remote_id);
	size_t len = 0, out_len = 0;
	json_t *st = NULL, *ui = NULL;
	FILE *f = open_memstream(&text, &len);
	int rc = f && eid ? rest_call(s, c, "GET", "status", remote_id, NULL,
				      "SubmissionStatusResponse", &st)
			  : -ENOMEM;
	if (rc == 0 && s->ui_url && get_ui(s, c, &ui))
		c->err[0] = '\0'; /* the worker UI can be guessed without it */
	if (rc == 0)
		rc = worker_ui(s, c, st, ui, &base);
	if (rc == -ENOENT) /* never got a worker (killed while waiting) */
		rc = 0;
	else if (rc == 0)
		rc = read_log(s, c, base, eid, "stdout", false, SPARK_LOG_MAX,
			      f);
	if (rc == 0 && fflush(f) == 0)
		out_len = len;
	if (rc == 0 && base)
		rc = read_log(s, c, base, eid, "stderr", false, SPARK_LOG_MAX,
			      f);
	if (f && fclose(f))
		rc = rc ? rc : -ENOMEM;
	if (rc == 0)
		rc = write_file(output_dir, "result", text, out_len);
	if (rc == 0)
		rc = write_file(output_dir, "log", text, len);
	json_decref(st);
	json_decref(ui);
	free(base);
	free(eid);
	free(text);
	return rc;
}

static int spark_cancel(struct platform *p, struct call *c,
			const char *remote_id, const char *reason)
{
	struct spark *s = spark_from(p);
	json_t *resp = NULL;
	int rc = rest_call(s, c, "POST", "kill", remote_id, NULL,
			   "KillSubmissionResponse", &resp);
	if (rc == 0 && !json_is_true(json_object_get(resp, "success"))) {
		/* "Driver ... has already finished or does not exist" */
		const char *msg = field_str(resp, "message");
		log_info("platform \"%s\": kill of \"%s\": %s", p->name,
			 remote_id, msg ? msg : "refused");
		rc = message_call_fail(c, -EINVAL, "run already ended");
	}
	json_decref(resp);
	return rc;
}

/* A status request for no driver: cheap, harmless, and needs the master. */
static int spark_health(struct platform *p, struct call *c)
{
	json_t *st = NULL;
	int rc = rest_call(spark_from(p), c, "GET", "status", "driver-health",
			   NULL, "SubmissionStatusResponse", &st);
	json_decref(st);
	return rc;
}

const struct platform_ops spark_platform = {
    .kind = "spark",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_UPLOAD,
    .open = spark_open,
    .close = spark_close,
    .validate = spark_validate,
    .submit = spark_submit,
    .find = spark_find,
    .status = spark_status,
    .status_many = spark_status_many,
    .fetch = spark_fetch,
    .cancel = spark_cancel,
    .health = spark_health,
};
