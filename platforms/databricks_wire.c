/*
 * The JSON of the Databricks Jobs API for the databricks platform (see
 * databricks_wire.h). The job's "conf" holds the cluster (one of
 * existing_cluster_id, new_cluster, environment_key) and what the task
 * needs (main_class, package_name, wheel_entry_point), checked by name
 * and type so that a typo fails the deploy.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "databricks_wire.h"
#include "fsutil.h"
#include "http.h"

#define DBX_ERROR_MAX 400 /* characters of a failure line */
#define DBX_COUNT(a)  (sizeof(a) / sizeof((a)[0]))

struct dbx_name_state {
	const char *name;
	enum run_state state;
};

/* state.life_cycle_state; TERMINATED is decided by result_state. */
static const struct dbx_name_state dbx_life[] = {
    {"QUEUED", RUN_QUEUED},	{"PENDING", RUN_QUEUED},
    {"BLOCKED", RUN_QUEUED},	{"WAITING_FOR_RETRY", RUN_QUEUED},
    {"RUNNING", RUN_RUNNING},	{"TERMINATING", RUN_RUNNING},
    {"SKIPPED", RUN_CANCELLED}, {"INTERNAL_ERROR", RUN_FAILED},
};

static const struct dbx_name_state dbx_results[] = {
    {"SUCCESS", RUN_SUCCEEDED},
    {"SUCCESS_WITH_FAILURES", RUN_SUCCEEDED},
    {"FAILED", RUN_FAILED},
    {"TIMEDOUT", RUN_FAILED},
    {"UPSTREAM_FAILED", RUN_FAILED},
    {"CANCELED", RUN_CANCELLED},
    {"UPSTREAM_CANCELED", RUN_CANCELLED},
    {"MAXIMUM_CONCURRENT_RUNS_REACHED", RUN_CANCELLED},
    {"EXCLUDED", RUN_CANCELLED},
    {"DISABLED", RUN_CANCELLED},
};

enum dbx_conf_type { DBX_STRING, DBX_INT, DBX_OBJECT, DBX_ARRAY };

static const struct {
	const char *name;
	enum dbx_conf_type type;
} dbx_conf_fields[] = {
    {"existing_cluster_id", DBX_STRING}, {"new_cluster", DBX_OBJECT},
    {"environment_key", DBX_STRING},	 {"environments", DBX_ARRAY},
    {"main_class", DBX_STRING},		 {"package_name", DBX_STRING},
    {"wheel_entry_point", DBX_STRING},	 {"libraries", DBX_ARRAY},
    {"timeout_seconds", DBX_INT},	 {"tags", DBX_OBJECT},
};

static const char *const dbx_clusters[] = {"existing_cluster_id", "new_cluster",
					   "environment_key"};

static bool has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);
	return n > e && strcasecmp(path + n - e, ext) == 0;
}

static const char *conf_string(const json_t *conf, const char *key)
{
	return json_string_value(json_object_get(conf, key));
}

/* ---- validation ---- */

static bool is_conf_type(const json_t *v, enum dbx_conf_type type)
{
	switch (type) {
	case DBX_STRING:
		return json_is_string(v) && json_string_length(v) > 0;
	case DBX_INT:
		return json_is_integer(v) && json_integer_value(v) > 0;
	case DBX_OBJECT:
		return json_is_object(v);
	case DBX_ARRAY:
		return json_is_array(v);
	}
	return false;
}

static int conf_check(struct call *c, const json_t *conf)
{
	static const char *const expected[] = {"a non-empty string",
					       "a positive integer",
					       "an object", "an array"};
	const char *key;
	json_t *value;
	if (conf && !json_is_object(conf))
		return message_call_fail(c, -EINVAL,
					 "\"conf\" must be an object");
	json_object_foreach((json_t *)conf, key, value)
	{
		size_t i = 0;
		while (i < DBX_COUNT(dbx_conf_fields) &&
		       strcmp(dbx_conf_fields[i].name, key) != 0)
			i++;
		if (i == DBX_COUNT(dbx_conf_fields))
			return message_call_fail(
			    c, -EINVAL, "unknown conf field \"%s\"", key);
		if (!is_conf_type(value, dbx_conf_fields[i].type))
			return message_call_fail(
			    c, -EINVAL, "conf field \"%s\": expected %s", key,
			    expected[dbx_conf_fields[i].type]);
	}
	return 0;
}

static int cluster_check(struct call *c, const struct run_spec *run)
{
	int n = 0;
	for (size_t i = 0; i < DBX_COUNT(dbx_clusters); i++)
		n += json_object_get(run->conf, dbx_clusters[i]) != NULL;
	if (n == 0)
		return message_call_fail(
		    c, -EINVAL,
		    "no cluster: conf needs \"existing_cluster_id\", "
		    "\"new_cluster\" or \"environment_key\" (serverless)");
	if (n > 1)
		return message_call_fail(
		    c, -EINVAL,
		    "conf fields \"existing_cluster_id\", \"new_cluster\" and "
		    "\"environment_key\" exclude each other");
	if (json_object_size(run->env) > 0 &&
	    !json_object_get(run->conf, "new_cluster"))
		return message_call_fail(
		    c, -EINVAL,
		    "\"env\" needs conf \"new_cluster\" (it goes to "
		    "spark_env_vars; an existing or serverless cluster "
		    "has its own)");
	return 0;
}

enum dbx_task dbx_wire_task(const char *entry)
{
	if (has_ext(entry, ".jar"))
		return DBX_TASK_JAR;
	return has_ext(entry, ".whl") ? DBX_TASK_WHEEL : DBX_TASK_PYTHON;
}

int dbx_wire_validate(struct call *c, const struct run_spec *run)
{
	int rc = conf_check(c, run->conf);
	if (rc == 0)
		rc = cluster_check(c, run);
	if (rc)
		return rc;
	const char *entry = run->entry_point;
	if (!entry)
		return message_call_fail(
		    c, -EINVAL, "nothing to run: name an \"entry_point\"");
	if (!has_ext(entry, ".py") && !has_ext(entry, ".jar") &&
	    !has_ext(entry, ".whl"))
		return message_call_fail(
		    c, -EINVAL,
		    "field \"entry_point\": don't know how to run \"%s\" on "
		    "Databricks\nan entry point is a .py, .jar or .whl file",
		    entry);
	if (has_ext(entry, ".jar") && !conf_string(run->conf, "main_class"))
		return message_call_fail(
		    c, -EINVAL, "conf \"main_class\" is required to run \"%s\"",
		    entry);
	if (!run->bundle_dir && entry[0] != '/' && !strstr(entry, ":/"))
		return message_call_fail(
		    c, -EINVAL, "entry point \"%s\": no bundle to upload",
		    entry);
	return 0;
}

/* ---- the submit request ---- */

json_t *dbx_wire_library(const char *rel, const char *url)
{
	if (has_ext(rel, ".jar"))
		return json_pack("{s:s}", "jar", url);
	if (has_ext(rel, ".whl"))
		return json_pack("{s:s}", "whl", url);
	return NULL;
}

/* "my_pkg" of "my_pkg-1.0-py3-none-any.whl" (PEP 427), in @buf. */
static void wheel_package(const char *url, char *buf, size_t len)
{
	const char *base = strrchr(url, '/');
	base = base ? base + 1 : url;
	size_t n = strcspn(base, "-");
	if (n == strlen(base)) /* no version: drop ".whl" */
		n -= 4;
	snprintf(buf, len, "%.*s", (int)n, base);
}

static json_t *task_body(const struct run_spec *run, const char *entry_url)
{
	json_t *params = run->args ? json_deep_copy(run->args) : json_array();
	const json_t *conf = run->conf;
	char pkg[256];
	switch (dbx_wire_task(run->entry_point)) {
	case DBX_TASK_JAR:
		return json_pack(
		    "{s:{s:s,s:o}}", "spark_jar_task", "main_class_name",
		    conf_string(conf, "main_class"), "parameters", params);
	case DBX_TASK_WHEEL: {
		const char *name = conf_string(conf, "package_name");
		const char *ep = conf_string(conf, "wheel_entry_point");
		wheel_package(entry_url, pkg, sizeof(pkg));
		return json_pack("{s:{s:s,s:s,s:o}}", "python_wheel_task",
				 "package_name", name ? name : pkg,
				 "entry_point", ep ? ep : "main", "parameters",
				 params);
	}
	case DBX_TASK_PYTHON:
		break;
	}
	return json_pack("{s:{s:s,s:o}}", "spark_python_task", "python_file",
			 entry_url, "parameters", params);
}

/* The cluster of the task; env goes to new_cluster.spark_env_vars. */
static int task_cluster(const struct run_spec *run, json_t *task, json_t *body)
{
	const json_t *conf = run->conf;
	const char *key = conf_string(conf, "environment_key");
	if (conf_string(conf, "existing_cluster_id"))
		return json_object_set(
		    task, "existing_cluster_id",
		    json_object_get(conf, "existing_cluster_id"));
	if (key) {
		json_t *envs = json_object_get(conf, "environments");
		json_t *list =
		    envs ? json_deep_copy(envs)
			 : json_pack("[{s:s,s:{s:s}}]", "environment_key", key,
				     "spec", "client", "1");
		if (json_object_set_new(body, "environments", list))
			return -1;
		return json_object_set(
		    task, "environment_key",
		    json_object_get(conf, "environment_key"));
	}
	json_t *cluster = json_deep_copy(json_object_get(conf, "new_cluster"));
	if (json_object_size(run->env) > 0) {
		json_t *vars = json_object_get(cluster, "spark_env_vars");
		if (!json_is_object(vars))
			json_object_set_new(cluster, "spark_env_vars",
					    vars = json_object());
		json_object_update_missing(vars, (json_t *)run->env);
	}
	return json_object_set_new(task, "new_cluster", cluster);
}

int dbx_wire_submit_body(struct call *c, const struct run_spec *run,
			 const char *token, const char *entry_url,
			 const json_t *libs, json_t **body_out)
{
	json_t *task = task_body(run, entry_url);
	json_t *body = json_pack("{s:s,s:s,s:[]}", "run_name", token,
				 "idempotency_token", token, "tasks");
	json_t *extra = json_object_get(run->conf, "libraries");
	json_t *all = json_deep_copy(libs);
	int rc = task && body && all ? 0 : -ENOMEM;
	if (rc == 0 && extra)
		rc = json_array_extend(all, extra) ? -ENOMEM : 0;
	if (rc == 0 &&
	    json_object_set_new(task, "task_key", json_string("main")))
		rc = -ENOMEM;
	if (rc == 0 && json_array_size(all) > 0 &&
	    json_object_set(task, "libraries", all))
		rc = -ENOMEM;
	if (rc == 0 && task_cluster(run, task, body))
		rc = -ENOMEM;
	const char *keys[] = {"timeout_seconds", "tags"};
	for (size_t i = 0; rc == 0 && i < DBX_COUNT(keys); i++) {
		json_t *v = json_object_get(run->conf, keys[i]);
		if (v && json_object_set(body, keys[i], v))
			rc = -ENOMEM;
	}
	if (rc == 0 && json_array_append(json_object_get(body, "tasks"), task))
		rc = -ENOMEM;
	json_decref(task);
	json_decref(all);
	if (rc) {
		json_decref(body);
		return message_call_fail(c, rc, "cannot build the request");
	}
	*body_out = body;
	return 0;
}

/* ---- runs ---- */

static bool lookup(const struct dbx_name_state *t, size_t n, const char *name,
		   enum run_state *out)
{
	for (size_t i = 0; name && i < n; i++)
		if (strcmp(t[i].name, name) == 0) {
			*out = t[i].state;
			return true;
		}
	return false;
}

static const char *state_message(const json_t *run)
{
	const char *m = json_string_value(
	    json_object_get(json_object_get(run, "state"), "state_message"));
	return m && *m ? m : NULL;
}

/* The run's state_message, else its first task's that has one. */
static const char *run_message(const json_t *run)
{
	const char *m = state_message(run);
	size_t i;
	json_t *task;
	json_array_foreach(json_object_get(run, "tasks"), i, task)
	{
		if (!m)
			m = state_message(task);
	}
	return m;
}

static double ms_time(const json_t *obj, const char *key)
{
	json_int_t ms = json_integer_value(json_object_get(obj, key));
	return ms > 0 ? (double)ms / 1000.0 : 0;
}

/* The run_state of a RunState object, with its name in @name. */
static enum run_state map_state(const json_t *state, char *name, size_t len,
				const char **unknown_out)
{
	const char *life =
	    json_string_value(json_object_get(state, "life_cycle_state"));
	const char *result =
	    json_string_value(json_object_get(state, "result_state"));
	enum run_state st = RUN_QUEUED;
	*unknown_out = NULL;
	snprintf(name, len, "%s%s%s", life, result ? "/" : "",
		 result ? result : "");
	if (strcmp(life, "TERMINATED") == 0) {
		if (!lookup(dbx_results, DBX_COUNT(dbx_results), result, &st)) {
			st = RUN_FAILED; /* ended, how is not known */
			*unknown_out = result ? result : "(none)";
		}
	} else if (!lookup(dbx_life, DBX_COUNT(dbx_life), life, &st)) {
		st = RUN_QUEUED; /* a new state: keep what the run had */
	}
	return st;
}

int dbx_wire_status(const json_t *run, struct call *c, struct run_status *out)
{
	const json_t *state = json_object_get(run, "state");
	json_int_t id = json_integer_value(json_object_get(run, "run_id"));
	if (!json_is_string(json_object_get(state, "life_cycle_state")))
		return message_call_fail(c, -EPROTO,
					 "run %lld has no life_cycle_state",
					 (long long)id);
	const char *unknown;
	out->state = map_state(state, out->platform_state,
			       sizeof(out->platform_state), &unknown);
	out->exit_code = -1;
	out->started_at = ms_time(run, "start_time");
	out->ended_at =
	    state_is_terminal(out->state) ? ms_time(run, "end_time") : 0;
	if (out->state != RUN_FAILED)
		return 0;
	const char *msg = run_message(run);
	int n;
	if (unknown)
		n = asprintf(&out->error, "run %lld ended with result_state %s",
			     (long long)id, unknown);
	else if (msg)
		n = asprintf(&out->error, "run %lld %s: %.*s", (long long)id,
			     out->platform_state, DBX_ERROR_MAX, msg);
	else
		n = asprintf(&out->error, "run %lld %s", (long long)id,
			     out->platform_state);
	if (n < 0) {
		out->error = NULL;
		return -ENOMEM;
	}
	return 0;
}

int dbx_wire_task_run_id(const json_t *run, struct call *c, long long *id_out)
{
	const json_t *id = json_object_get(
	    json_array_get(json_object_get(run, "tasks"), 0), "run_id");
	if (!json_is_integer(id))
		return message_call_fail(c, -EPROTO,
					 "run without a task run_id");
	*id_out = (long long)json_integer_value(id);
	return 0;
}

static json_t *step_of(const json_t *task)
{
	char name[128], state[64];
	const char *key = json_string_value(json_object_get(task, "task_key"));
	json_int_t attempt =
	    json_integer_value(json_object_get(task, "attempt_number"));
	const char *unknown;
	const json_t *st = json_object_get(task, "state");
	if (!json_is_string(json_object_get(st, "life_cycle_state")))
		return NULL;
	enum run_state rs = map_state(st, state, sizeof(state), &unknown);
	if (attempt > 0)
		snprintf(name, sizeof(name), "%s#%lld", key ? key : "task",
			 (long long)attempt + 1);
	else
		snprintf(name, sizeof(name), "%s", key ? key : "task");
	json_t *step = json_pack(
	    "{s:s,s:s,s:f,s:f}", "name", name, "state", state_name(rs),
	    "started", ms_time(task, "start_time"), "ended",
	    state_is_terminal(rs) ? ms_time(task, "end_time") : 0.0);
	const char *msg = state_message(task);
	if (step && msg)
		json_object_set_new(step, "message", json_string(msg));
	return step;
}

int dbx_wire_steps(const json_t *run, json_t **steps_out)
{
	json_t *steps = json_array(), *task;
	size_t i;
	if (!steps)
		return -ENOMEM;
	json_array_foreach(json_object_get(run, "tasks"), i, task)
	{
		json_t *step = step_of(task);
		if (step && json_array_append_new(steps, step)) {
			json_decref(steps);
			return -ENOMEM;
		}
	}
	*steps_out = steps;
	return 0;
}

/* ---- output ---- */

const char *dbx_wire_output_error(const json_t *output)
{
	const char *e = json_string_value(json_object_get(output, "error"));
	return e && *e ? e : NULL;
}

static int write_file(const char *dir, const char *name, const char *text,
		      size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return fsutil_write_atomic(path, text, len, 0644);
}

static void put_text(FILE *f, const char *s)
{
	size_t n = strlen(s);
	fputs(s, f);
	if (n > 0 && s[n - 1] != '\n')
		fputc('\n', f);
}

int dbx_wire_write_output(const json_t *output, const char *dir, bool ended)
{
	const char *logs = json_string_value(json_object_get(output, "logs"));
	const char *trace =
	    json_string_value(json_object_get(output, "error_trace"));
	const char *error = dbx_wire_output_error(output);
	const char *result = json_string_value(json_object_get(
	    json_object_get(output, "notebook_output"), "result"));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	if (json_is_true(json_object_get(output, "logs_truncated")))
		fputs("[databricks: the logs are truncated; this is their "
		      "last 5 MB]\n",
		      f);
	if (logs)
		put_text(f, logs);
	if (error)
		fprintf(f, "error: %s\n", error);
	if (trace && *trace)
		put_text(f, trace);
	int rc = fclose(f) ? -ENOMEM : 0;
	if (rc == 0)
		rc = write_file(dir, "log", text, len);
	if (rc == 0 && ended)
		rc = result ? write_file(dir, "result", result, strlen(result))
			    : write_file(dir, "result", logs ? logs : "",
					 logs ? strlen(logs) : 0);
	free(text);
	return rc;
}

int dbx_wire_error_text(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *code =
	    json_string_value(json_object_get(doc, "error_code"));
	const char *msg = json_string_value(json_object_get(doc, "message"));
	int rc = code || msg ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(out, outlen, "%s%s%s", code ? code : "",
			 code && msg ? ": " : "", msg ? msg : "");
	json_decref(doc);
	return rc;
}

char *dbx_wire_base64(const void *data, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				  "stuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	for (size_t i = 0; out && i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		v |= i + 1 < len ? (unsigned)in[i + 1] << 8 : 0;
		v |= i + 2 < len ? in[i + 2] : 0;
		*o++ = abc[(v >> 18) & 63];
		*o++ = abc[(v >> 12) & 63];
		*o++ = i + 1 < len ? abc[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? abc[v & 63] : '=';
	}
	if (out)
		*o = '\0';
	return out;
}

static const char *const dbx_fields[] = {"kind",
					 "host",
					 "api_version",
					 "token_env",
					 "token_file",
					 "client_id",
					 "client_secret_env",
					 "client_secret_file",
					 "workspace_id",
					 "upload",
					 "timeout",
					 "connect_timeout",
					 "retries",
					 "ca_file",
					 NULL};

int dbx_wire_check_fields(const json_t *fields, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)fields, key, value)
	{
		size_t i = 0;
		while (dbx_fields[i] && strcmp(dbx_fields[i], key) != 0)
			i++;
		if (dbx_fields[i])
			continue;
		int n =
		    snprintf(err, errlen,
			     "unknown field \"%s\"\ndatabricks takes:", key);
		for (i = 0; dbx_fields[i] && n > 0 && (size_t)n < errlen; i++)
			n += snprintf(err + n, errlen - (size_t)n, " %s",
				      dbx_fields[i]);
		return -EINVAL;
	}
	return 0;
}

void dbx_wire_token(const struct run_spec *run, const char *tag, char *buf,
		    size_t len)
{
	char key[512];
	size_t taglen = strlen(tag);
	if (run->attempt > 1)
		snprintf(key, sizeof(key), "%s.a%d", run->run_key,
			 run->attempt);
	else
		snprintf(key, sizeof(key), "%s", run->run_key);
	if (strlen(key) + 1 + taglen <= DBX_WIRE_TOKEN_MAX) {
		snprintf(buf, len, "%s@%s", key, tag);
		return;
	}
	unsigned long long h = 14695981039346656037ULL; /* FNV-1a */
	for (const char *s = key; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	snprintf(buf, len, "%.*s~%016llx@%s",
		 (int)(DBX_WIRE_TOKEN_MAX - 18 - taglen), key, h, tag);
}

char *dbx_wire_escape_path(const char *path)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	bool ok = true;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		char *seg = strndup(p, n);
		char *esc = seg ? http_escape(seg) : NULL;
		ok = ok && esc;
		fputs(esc ? esc : "", f);
		free(seg);
		free(esc);
		p += n;
		if (*p == '/')
			fputc(*p++, f);
	}
	if (fclose(f) || !ok) {
		free(out);
		return NULL;
	}
	return out;
}

int dbx_wire_upload(const json_t *f, enum dbx_upload *kind_out, char **path_out,
		    char *err, size_t len)
{
	static const char *const kinds[] = {"volume", "workspace", "dbfs"};
	const json_t *up = json_object_get(f, "upload");
	*kind_out = DBX_UP_NONE;
	*path_out = NULL;
	if (!up)
		return 0;
	const char *kind = json_string_value(json_object_get(up, "kind"));
	const char *path = json_string_value(json_object_get(up, "path"));
	size_t k = 0;
	while (kind && k < 3 && strcmp(kinds[k], kind))
		k++;
	if (!json_is_object(up) || !kind || k == 3)
		return message_fail(err, len, -EINVAL,
				    "field \"upload.kind\": \"volume\", "
				    "\"workspace\" or \"dbfs\"");
	if (path && k == 2 && strncmp(path, "dbfs:", 5) == 0)
		path += 5;
	if (!path || path[0] != '/' || json_object_size(up) != 2 ||
	    (k == 0 && strncmp(path, "/Volumes/", 9)))
		return message_fail(
		    err, len, -EINVAL,
		    "field \"upload.path\": an absolute path (a volume's "
		    "starts /Volumes/CATALOG/SCHEMA/VOLUME)");
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	*path_out = strndup(path, n);
	*kind_out = (enum dbx_upload)(k + 1);
	return *path_out ? 0 : -ENOMEM;
}
