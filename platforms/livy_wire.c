/*
 * Livy's JSON: the batch create request and the batch object; and the
 * platform's state files (see livy_wire.h). Shared by the "livy" and "synapse"
 * kinds, which differ here only in Synapse's "result" and "errorInfo"
 * (@has_result).
 *
 * The job's "conf" holds Livy's CreateBatchRequest fields, checked by
 * name and type so that a typo fails the deploy, plus "artifact" as a
 * synonym of "file". Spark conf values go as strings, as Livy wants them.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "message.h"
#include "fsutil.h"
#include "livy_wire.h"
#include "log.h"
#include "secret.h"

#define LIVY_ERROR_MAX 400 /* characters of a failure line */
#define LIVY_COUNT(a)  (sizeof(a) / sizeof((a)[0]))

struct livy_name_state {
	const char *name;
	enum run_state state;
};

static const struct livy_name_state livy_states[] = {
    {"not_started", RUN_QUEUED},
    {"starting", RUN_QUEUED},
    /* Livy restarted and is finding its apps again: they were running */
    {"recovering", RUN_RUNNING},
    {"running", RUN_RUNNING},
    {"idle", RUN_RUNNING},
    {"busy", RUN_RUNNING},
    {"shutting_down", RUN_RUNNING},
    {"success", RUN_SUCCEEDED},
    {"dead", RUN_FAILED},
    {"error", RUN_FAILED},
    {"killed", RUN_CANCELLED},
};

/* Synapse's "result" once the batch has ended ("Uncertain" before). */
static const struct livy_name_state livy_results[] = {
    {"Succeeded", RUN_SUCCEEDED},
    {"Failed", RUN_FAILED},
    {"Cancelled", RUN_CANCELLED},
};

enum livy_conf_type { LIVY_STRING, LIVY_INT, LIVY_LIST, LIVY_MAP };

/* The job's "conf" fields: Livy's CreateBatchRequest, plus "artifact". */
static const struct {
	const char *name;
	enum livy_conf_type type;
} livy_conf_fields[] = {
    {"file", LIVY_STRING},	     {"artifact", LIVY_STRING},
    {"className", LIVY_STRING},	     {"conf", LIVY_MAP},
    {"driverMemory", LIVY_STRING},   {"driverCores", LIVY_INT},
    {"executorMemory", LIVY_STRING}, {"executorCores", LIVY_INT},
    {"numExecutors", LIVY_INT},	     {"jars", LIVY_LIST},
    {"pyFiles", LIVY_LIST},	     {"files", LIVY_LIST},
    {"archives", LIVY_LIST},	     {"queue", LIVY_STRING},
};

static bool has_ext(const char *path, const char *ext)
{
	size_t n = strlen(path), e = strlen(ext);
	return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* A URL or an absolute path: something the cluster reads as it is. */
static bool is_cluster_path(const char *path)
{
	return path[0] == '/' || strstr(path, "://") != NULL;
}

/* ---- batches ---- */

static bool is_section_header(const char *line)
{
	static const char *const headers[] = {
	    "stdout:", "stderr:", "YARN Diagnostics:"};
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		size_t n = strlen(headers[i]);
		if (strncmp(line, headers[i], n) == 0 &&
		    line[n + strspn(line + n, " \t")] == '\0')
			return true;
	}
	return false;
}

/* Livy has no error field: the last telling line of the batch's log. */
static const char *last_log_line(const json_t *log)
{
	const char *best = NULL;
	size_t i;
	json_t *item;
	json_array_foreach(log, i, item)
	{
		const char *line = json_string_value(item);
		if (!line)
			continue;
		line += strspn(line, " \t\r\n");
		if (*line && !is_section_header(line))
			best = line;
	}
	return best;
}

/* Synapse's errorInfo[].message, joined by "; " (caller frees), or NULL. */
static char *error_info_text(const json_t *errors)
{
	char *text = NULL;
	size_t len = 0, i;
	json_t *item;
	bool first = true;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	json_array_foreach(errors, i, item)
	{
		const char *msg =
		    json_string_value(json_object_get(item, "message"));
		if (msg && *msg)
			fprintf(f, "%s%s", first ? "" : "; ", msg);
		first = first && !(msg && *msg);
	}
	if (fclose(f) != 0 || len == 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int failure_text(const json_t *batch, bool has_result, long id,
			const char *state, char **text_out)
{
	char *info = has_result
			 ? error_info_text(json_object_get(batch, "errorInfo"))
			 : NULL;
	const char *line =
	    info ? info : last_log_line(json_object_get(batch, "log"));
	int n = line ? asprintf(text_out, "batch %ld %s: %.*s", id, state,
				LIVY_ERROR_MAX, line)
		     : asprintf(text_out, "batch %ld %s", id, state);
	free(info);
	if (n < 0) {
		*text_out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Maps @name through @table; false when it is not there. */
static bool lookup_state(const struct livy_name_state *table, size_t n,
			 const char *name, enum run_state *state_out)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0) {
			*state_out = table[i].state;
			return true;
		}
	return false;
}

/*
 * A state Livy may add later maps to QUEUED: the core never moves a run
 * backwards, so that keeps whatever state the run had.
 */
int livy_wire_status(const json_t *batch, bool has_result, struct call *c,
		     struct run_status *out)
{
	const char *state = json_string_value(json_object_get(batch, "state"));
	json_int_t id = json_integer_value(json_object_get(batch, "id"));
	if (!state)
		return message_call_fail(
		    c, -EPROTO, "batch %lld has no \"state\"", (long long)id);
	snprintf(out->platform_state, sizeof(out->platform_state), "%s", state);
	if (!lookup_state(livy_states, LIVY_COUNT(livy_states), state,
			  &out->state))
		out->state = RUN_QUEUED;
	const char *result =
	    json_string_value(json_object_get(batch, "result"));
	if (has_result && result &&
	    lookup_state(livy_results, LIVY_COUNT(livy_results), result,
			 &out->state))
		snprintf(out->platform_state, sizeof(out->platform_state),
			 "%s/%s", state, result);
	out->exit_code = -1;
	if (out->state != RUN_FAILED)
		return 0;
	return failure_text(batch, has_result, (long)id, state, &out->error);
}

int livy_wire_batch_id(struct call *c, const json_t *batch, long *id_out)
{
	const json_t *id = json_object_get(batch, "id");
	if (!json_is_integer(id) || json_integer_value(id) < 0)
		return message_call_fail(c, -EPROTO, "batch without an \"id\"");
	*id_out = (long)json_integer_value(id);
	return 0;
}

int livy_wire_error_text(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *msg = json_string_value(json_object_get(doc, "msg"));
	int rc = msg && *msg ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(out, outlen, "%s", msg);
	json_decref(doc);
	return rc;
}

size_t livy_wire_log_lines(const json_t *lines, FILE *f)
{
	size_t i;
	json_t *line;
	json_array_foreach(lines, i, line)
	{
		const char *s = json_string_value(line);
		fprintf(f, "%s\n", s ? s : "");
	}
	return json_array_size(lines);
}

/* ---- basic auth ---- */

static char *base64(const unsigned char *in, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				  "stuvwxyz0123456789+/";
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

int livy_wire_string_field(const json_t *fields, const char *key,
			   const char **out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, key);
	*out = json_string_value(v);
	if (!v)
		return -ENOENT;
	if (*out && **out)
		return 0;
	return message_fail(err, errlen, -EINVAL,
			    "field \"%s\": expected a non-empty string", key);
}

int livy_wire_basic_auth(const json_t *fields, char **header_out, char *err,
			 size_t errlen)
{
	const char *user;
	char *password = NULL, *pair = NULL, *b64 = NULL;
	int urc = livy_wire_string_field(fields, "user", &user, err, errlen);
	int rc = urc == -EINVAL
		     ? urc
		     : secret_get(fields, "password", &password, err, errlen);
	*header_out = NULL;
	if (rc == -ENOENT && urc == -ENOENT)
		return 0;
	if (rc == -ENOENT || urc == -ENOENT)
		rc = message_fail(
		    err, errlen, -EINVAL, "field \"%s\" needs \"%s\"",
		    urc ? "password_env" : "user",
		    urc ? "user" : "password_env\" or \"password_file");
	if (rc == 0 && asprintf(&pair, "%s:%s", user, password) < 0)
		pair = NULL;
	if (rc == 0)
		b64 = pair ? base64((unsigned char *)pair, strlen(pair)) : NULL;
	if (rc == 0 &&
	    (!b64 || asprintf(header_out, "Authorization: Basic %s", b64) < 0))
		rc = -ENOMEM;
	if (rc == -ENOMEM)
		*header_out = NULL;
	secret_free(password);
	secret_free(pair);
	secret_free(b64);
	return rc;
}

/* ---- the create request ---- */

static bool is_conf_type(const json_t *v, enum livy_conf_type type)
{
	const char *key;
	size_t i;
	json_t *item;
	switch (type) {
	case LIVY_STRING:
		return json_is_string(v);
	case LIVY_INT:
		return json_is_integer(v) && json_integer_value(v) > 0;
	case LIVY_MAP:
		json_object_foreach((json_t *)v, key, item)
		{
			if (!json_is_string(item) && !json_is_number(item) &&
			    !json_is_boolean(item))
				return false;
		}
		return json_is_object(v);
	case LIVY_LIST:
		json_array_foreach(v, i, item)
		{
			if (!json_is_string(item))
				return false;
		}
		return json_is_array(v);
	}
	return false;
}

static int conf_check(const json_t *conf, struct call *c)
{
	static const char *const expected[] = {
	    "a string", "a positive integer", "an array of strings",
	    "an object of strings, numbers or booleans"};
	const char *key;
	json_t *value;
	if (conf && !json_is_object(conf))
		return message_call_fail(c, -EINVAL,
					 "\"conf\" must be an object");
	json_object_foreach((json_t *)conf, key, value)
	{
		size_t i = 0, n = sizeof(livy_conf_fields) /
				  sizeof(livy_conf_fields[0]);
		while (i < n && strcmp(livy_conf_fields[i].name, key) != 0)
			i++;
		if (i == n)
			return message_call_fail(
			    c, -EINVAL, "unknown conf field \"%s\"", key);
		if (!is_conf_type(value, livy_conf_fields[i].type))
			return message_call_fail(
			    c, -EINVAL, "conf field \"%s\": expected %s", key,
			    expected[livy_conf_fields[i].type]);
	}
	if (json_object_get(conf, "file") && json_object_get(conf, "artifact"))
		return message_call_fail(
		    c, -EINVAL,
		    "conf fields \"file\" and \"artifact\" exclude "
		    "each other");
	return 0;
}

static const char *conf_string(const json_t *conf, const char *key)
{
	return json_string_value(json_object_get(conf, key));
}

/* The URL the cluster already reads, when the job names one. */
static const char *conf_file(const json_t *conf)
{
	const char *file = conf_string(conf, "file");
	return file ? file : conf_string(conf, "artifact");
}

/* Spark conf values are strings to Livy ("spark.x": 2 becomes "2"). */
static json_t *conf_value(const json_t *v)
{
	char buf[64];
	if (json_is_string(v))
		return json_incref((json_t *)v);
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, sizeof(buf), "%s",
			 json_is_true(v) ? "true" : "false");
	else
		return NULL;
	return json_string(buf);
}

/* Sets @key of @obj unless the job's own spark conf has it. */
static int conf_default(json_t *obj, const char *prefix, const char *name,
			json_t *value)
{
	char key[512];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	if (json_object_get(obj, key))
		return 0;
	return json_object_set(obj, key, value) ? -ENOMEM : 0;
}

/* The spark conf: the job's, plus its env for the driver and executors. */
static int spark_conf(const struct run_spec *run, json_t *body)
{
	json_t *conf = json_object(), *value;
	const char *key;
	int rc = conf ? 0 : -ENOMEM;
	json_object_foreach(json_object_get(run->conf, "conf"), key, value)
	{
		if (rc == 0 &&
		    json_object_set_new(conf, key, conf_value(value)))
			rc = -ENOMEM; /* conf_check() let only scalars in */
	}
	json_object_foreach((json_t *)run->env, key, value)
	{
		if (rc == 0)
			rc = conf_default(conf, "spark.yarn.appMasterEnv.", key,
					  value);
		if (rc == 0)
			rc = conf_default(conf, "spark.executorEnv.", key,
					  value);
	}
	if (rc == 0 && json_object_size(conf) > 0 &&
	    json_object_set(body, "conf", conf))
		rc = -ENOMEM;
	json_decref(conf);
	return rc;
}

static int body_new(const struct livy_wire_target *t,
		    const struct run_spec *run, const char *name,
		    json_t **body_out)
{
	json_t *body = json_object(), *value;
	const char *key;
	int rc = body ? 0 : -ENOMEM;
	json_object_foreach((json_t *)run->conf, key, value)
	{
		if (rc == 0 && strcmp(key, "file") && strcmp(key, "artifact") &&
		    strcmp(key, "conf") && json_object_set(body, key, value))
			rc = -ENOMEM;
	}
	json_t *args = run->args ? json_deep_copy(run->args) : json_array();
	if (rc == 0 && json_object_set_new(body, "args", args))
		rc = -ENOMEM;
	if (rc == 0 && json_object_set_new(body, "name", json_string(name)))
		rc = -ENOMEM;
	if (rc == 0 && t->proxy_user &&
	    json_object_set_new(body, "proxyUser", json_string(t->proxy_user)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = spark_conf(run, body);
	if (rc)
		json_decref(body);
	else
		*body_out = body;
	return rc;
}

/* ---- uploading the bundle ---- */

struct upload {
	const struct livy_wire_target *t;
	struct call *c;
	const struct run_spec *run;
	json_t *body;
};

/* Where a bundle file other than the entry point goes in the request. */
static const char *extra_key(const char *entry, const char *rel)
{
	if (has_ext(rel, ".jar"))
		return "jars";
	if (has_ext(entry, ".py") &&
	    (has_ext(rel, ".py") || has_ext(rel, ".zip") ||
	     has_ext(rel, ".egg")))
		return "pyFiles";
	return "files";
}

static int body_add(json_t *body, const char *key, const char *url)
{
	json_t *list = json_object_get(body, key);
	if (strcmp(key, "file") == 0)
		return json_object_set_new(body, key, json_string(url))
			   ? -ENOMEM
			   : 0;
	if (!list) {
		list = json_array();
		if (json_object_set_new(body, key, list))
			return -ENOMEM;
	}
	return json_array_append_new(list, json_string(url)) ? -ENOMEM : 0;
}

static int upload_file(struct upload *u, const char *path, const char *rel)
{
	char name[PATH_MAX], *url = NULL;
	int n = snprintf(name, sizeof(name), "%s/%s", u->run->run_key, rel);
	if (n < 0 || (size_t)n >= sizeof(name))
		return message_call_fail(u->c, -ENAMETOOLONG,
					 "name too long: \"%s\"", rel);
	int rc = artifact_put(u->t->store, u->c, path, name, &url);
	if (rc)
		return rc;
	const char *entry = u->run->entry_point;
	rc = body_add(u->body,
		      strcmp(rel, entry) == 0 ? "file" : extra_key(entry, rel),
		      url);
	free(url);
	return rc;
}

/* Uploads every regular file under bundle_dir/@rel ("" the top). */
static int upload_dir(struct upload *u, const char *rel)
{
	char dir[PATH_MAX], path[PATH_MAX], sub[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s%s%s", u->run->bundle_dir,
		 *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	if (!d)
		return message_call_fail(u->c, -errno, "cannot read \"%s\": %s",
					 dir, strerror(errno));
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int n = snprintf(sub, sizeof(sub), "%s%s%s", rel,
				 *rel ? "/" : "", de->d_name);
		int m = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || m < 0 || (size_t)n >= sizeof(sub) ||
		    (size_t)m >= sizeof(path) || lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = upload_dir(u, sub);
		else if (S_ISREG(st.st_mode))
			rc = upload_file(u, path, sub);
	}
	closedir(d);
	return rc;
}

/* Sets the body's "file": the job's URL, or the uploaded entry point. */
static int set_file(const struct livy_wire_target *t, struct call *c,
		    const struct run_spec *run, json_t *body)
{
	const char *file = conf_file(run->conf);
	if (!file && is_cluster_path(run->entry_point))
		file = run->entry_point;
	if (file)
		return body_add(body, "file", file);
	if (!run->bundle_dir)
		return message_call_fail(c, -EINVAL,
					 "entry point \"%s\": no bundle",
					 run->entry_point);
	struct upload u = {.t = t, .c = c, .run = run, .body = body};
	int rc = upload_dir(&u, "");
	if (rc == 0 && !json_object_get(body, "file"))
		rc = message_call_fail(c, -EINVAL,
				       "entry point \"%s\" not found in bundle",
				       run->entry_point);
	return rc;
}

int livy_wire_body(const struct livy_wire_target *t, struct call *c,
		   const struct run_spec *run, const char *name,
		   json_t **body_out)
{
	json_t *body = NULL;
	int rc = body_new(t, run, name, &body);
	if (rc == 0)
		rc = set_file(t, c, run, body);
	if (rc)
		json_decref(body);
	else
		*body_out = body;
	return rc;
}

int livy_wire_validate(const struct livy_wire_target *t, struct call *c,
		       const struct run_spec *run)
{
	int rc = conf_check(run->conf, c);
	const char *file = conf_file(run->conf);
	const char *entry = file ? file : run->entry_point;
	if (rc)
		return rc;
	if (!entry)
		return message_call_fail(
		    c, -EINVAL,
		    "nothing to run\nname an \"entry_point\" in the "
		    "bundle or a conf \"file\" URL the cluster reads");
	if (!has_ext(entry, ".py") && !has_ext(entry, ".jar") &&
	    !has_ext(entry, ".r"))
		return message_call_fail(
		    c, -EINVAL,
		    "don't know how to run \"%s\" on Spark\n"
		    "an entry point is a .py, .jar or .R file",
		    entry);
	if (has_ext(entry, ".jar") && !conf_string(run->conf, "className"))
		return message_call_fail(
		    c, -EINVAL, "conf \"className\" is required to run \"%s\"",
		    entry);
	if (!file && !is_cluster_path(entry) && !t->store)
		return message_call_fail(
		    c, -EINVAL,
		    "no \"artifacts\" store to upload \"%s\" to\n"
		    "configure one for platform \"%s\", or give a "
		    "conf \"file\" URL the cluster reads",
		    entry, t->platform);
	return 0;
}

/* ---- state files ---- */

void livy_wire_ids_init(struct livy_wire_ids *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->path = NULL;
	s->n = 0;
}

void livy_wire_ids_release(struct livy_wire_ids *s)
{
	pthread_mutex_destroy(&s->lock);
	free(s->path);
}

/* Locked. */
static void ids_push(struct livy_wire_ids *s, long id)
{
	if (s->n == LIVY_WIRE_IDS_MAX) {
		memmove(s->ids, s->ids + 1, (s->n - 1) * sizeof(s->ids[0]));
		s->n--;
	}
	s->ids[s->n++] = id;
}

/* Locked. */
static int ids_save(struct livy_wire_ids *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%ld\n", s->ids[i]);
	int rc = fclose(f) == 0 ? 0 : -ENOMEM;
	if (rc == 0)
		rc = fsutil_write_atomic(s->path, text, len, 0600);
	free(text);
	return rc;
}

int livy_wire_ids_load(struct livy_wire_ids *s, const char *dir,
		       const char *name, char *err, size_t errlen)
{
	char *text = NULL, *end;
	size_t len;
	if (asprintf(&s->path, "%s/%s", dir, name) < 0) {
		s->path = NULL;
		return -ENOMEM;
	}
	int rc = fsutil_read_all(s->path, 1 << 20, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return message_fail(err, errlen, rc, "cannot read \"%s\": %s",
				    s->path, strerror(-rc));
	for (char *p = text; *p; p = end + strspn(end, "\n")) {
		long id = strtol(p, &end, 10);
		if (end == p)
			break;
		ids_push(s, id);
	}
	free(text);
	return 0;
}

bool livy_wire_ids_has(struct livy_wire_ids *s, long id)
{
	bool found = false;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; !found && i < s->n; i++)
		found = s->ids[i] == id;
	pthread_mutex_unlock(&s->lock);
	return found;
}

void livy_wire_ids_set(struct livy_wire_ids *s, long id, bool present)
{
	pthread_mutex_lock(&s->lock);
	size_t i = 0;
	while (i < s->n && s->ids[i] != id)
		i++;
	if (present == (i < s->n)) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (present)
		ids_push(s, id);
	else
		memmove(s->ids + i, s->ids + i + 1,
			(--s->n - i) * sizeof(s->ids[0]));
	int rc = ids_save(s);
	pthread_mutex_unlock(&s->lock);
	if (rc)
		log_warn("cannot write \"%s\": %s", s->path, strerror(-rc));
}

int livy_wire_tag(const char *dir, char *tag_out, char *err, size_t errlen)
{
	static const char hex[] = "0123456789abcdef";
	char path[PATH_MAX], *text = NULL;
	unsigned char raw[LIVY_WIRE_TAG_LEN / 2] = {0};
	size_t len;
	snprintf(path, sizeof(path), "%s/instance", dir);
	int rc = fsutil_read_all(path, 64, &text, &len);
	bool ok = rc == 0 && strspn(text, hex) >= LIVY_WIRE_TAG_LEN;
	if (ok)
		snprintf(tag_out, LIVY_WIRE_TAG_LEN + 1, "%s", text);
	free(text);
	if (ok)
		return 0;
	rc = getrandom(raw, sizeof(raw), 0) == sizeof(raw) ? 0 : -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		tag_out[2 * i] = hex[raw[i] >> 4];
		tag_out[2 * i + 1] = hex[raw[i] & 15];
	}
	tag_out[LIVY_WIRE_TAG_LEN] = '\0';
	if (rc == 0)
		rc =
		    fsutil_write_atomic(path, tag_out, LIVY_WIRE_TAG_LEN, 0600);
	if (rc)
		return message_fail(err, errlen, rc, "cannot write \"%s\": %s",
				    path, strerror(-rc));
	return 0;
}
