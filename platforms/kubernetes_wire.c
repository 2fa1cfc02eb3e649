/*
 * Job and ConfigMap bodies, names, and states read from Job and Pod
 * objects. Field names and meanings follow the Kubernetes API reference
 * (batch/v1 JobSpec/JobStatus/JobCondition, core/v1 PodStatus,
 * ContainerStatus, ConfigMap, ConfigMapVolumeSource).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fsutil.h"
#include "kubernetes_wire.h"
#include "message.h"

#define K8S_VOLUME   "jobfs-app"
#define K8S_EXEC     0755 /* mode of the bundle's files in the pod */
#define K8S_FILE_MAX (64L << 20)

static const char *const k8s_conf_fields[] = {"image",
					      "command",
					      "resources",
					      "serviceAccountName",
					      "backoffLimit",
					      "ttlSecondsAfterFinished",
					      NULL};

static const char *field_str(const json_t *o, const char *field)
{
	return json_string_value(json_object_get(o, field));
}

static bool is_listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static bool is_string_array(const json_t *v)
{
	size_t i;
	const json_t *item;
	bool ok = json_is_array(v) && json_array_size(v) > 0;
	json_array_foreach(v, i, item) ok &= json_is_string(item);
	return ok;
}

/* ---- names ---- */

/* FNV-1a of the key and attempt. */
static uint32_t name_hash(const char *key, int attempt)
{
	uint32_t h = 2166136261u;
	char tail[16];
	snprintf(tail, sizeof(tail), "#%d", attempt);
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = tail; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

void k8s_wire_job_name(const char *run_key, int attempt,
		       char out[K8S_NAME_MAX + 1])
{
	char base[K8S_NAME_MAX * 4 + 16];
	size_t n = 0;
	bool changed = false;
	for (const char *p = run_key; *p && n < sizeof(base) - 16; p++) {
		char ch = (char)tolower((unsigned char)*p);
		bool ok = isalnum((unsigned char)ch) && isascii(ch);
		bool dash = n > 0 && base[n - 1] != '-';
		/* a '-' kept as it is changes nothing */
		changed |= ch != *p || (!ok && (*p != '-' || !dash));
		if (ok)
			base[n++] = ch;
		else if (dash)
			base[n++] = '-';
	}
	if (attempt > 1)
		n += (size_t)snprintf(base + n, sizeof(base) - n, "-a%d",
				      attempt);
	while (n > 0 && base[n - 1] == '-')
		n--, changed = true;
	base[n] = '\0';
	if (!changed && n > 0 && n <= K8S_NAME_MAX) {
		memcpy(out, base, n + 1);
		return;
	}
	size_t keep = n < K8S_NAME_MAX - 9 ? n : K8S_NAME_MAX - 9;
	while (keep > 0 && base[keep - 1] == '-')
		keep--;
	snprintf(out, K8S_NAME_MAX + 1, "%.*s-%08x", keep ? (int)keep : 5,
		 keep ? base : "jobfs", name_hash(run_key, attempt));
}

/* A label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
static bool is_label_value(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > K8S_NAME_MAX || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (; *s; s++)
		if (!isascii(*s) ||
		    !(isalnum((unsigned char)*s) || strchr("_.-", *s)))
			return false;
	return true;
}

const char *k8s_wire_run_label(const char *run_key, const char *name)
{
	return is_label_value(run_key) ? run_key : name;
}

/* ---- the job's conf ---- */

static int conf_long(const json_t *conf, const char *field, long *out,
		     char *err, size_t errlen)
{
	const json_t *v = json_object_get(conf, field);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > INT32_MAX)
		return message_fail(err, errlen, -EINVAL,
				    "conf.%s must be a whole number >= 0",
				    field);
	*out = (long)json_integer_value(v);
	return 0;
}

static int parse_conf(const json_t *conf, struct k8s_job *job, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)conf, key, v)
	{
		if (!is_listed(k8s_conf_fields, key))
			return message_fail(err, errlen, -EINVAL,
					    "unknown conf field \"%s\"", key);
	}
	job->image = field_str(conf, "image");
	job->command = json_object_get(conf, "command");
	job->resources = json_object_get(conf, "resources");
	job->account = field_str(conf, "serviceAccountName");
	job->ttl = -1;
	if (!job->image || !*job->image)
		return message_fail(err, errlen, -EINVAL,
				    "conf.image is required\nthe container "
				    "image the job runs in, e.g. python:3.12");
	if (job->command && !is_string_array(job->command))
		return message_fail(err, errlen, -EINVAL,
				    "conf.command must be an array of strings");
	if (job->resources && !json_is_object(job->resources))
		return message_fail(err, errlen, -EINVAL,
				    "conf.resources must be an object "
				    "({\"limits\": {\"cpu\": \"1\"}})");
	if (json_object_get(conf, "serviceAccountName") && !job->account)
		return message_fail(err, errlen, -EINVAL,
				    "conf.serviceAccountName must be a string");
	int rc =
	    conf_long(conf, "backoffLimit", &job->backoff_limit, err, errlen);
	return rc ? rc
		  : conf_long(conf, "ttlSecondsAfterFinished", &job->ttl, err,
			      errlen);
}

/* Appends the regular files under @dir/@rel to @files, sorted per dir. */
static int list_files(const char *dir, const char *rel, json_t *files)
{
	char path[PATH_MAX], sub[PATH_MAX];
	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	struct dirent **ents;
	int n = scandir(path, &ents, NULL, alphasort), rc = 0;
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		struct stat st;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 name);
		snprintf(path, sizeof(path), "%s/%s", dir, sub);
		if (rc || !strcmp(name, ".") || !strcmp(name, "..") ||
		    lstat(path, &st) < 0)
			;
		else if (S_ISDIR(st.st_mode))
			rc = list_files(dir, sub, files);
		else if (S_ISREG(st.st_mode) &&
			 json_array_append_new(files, json_string(sub)))
			rc = -ENOMEM;
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static int parse_bundle(const struct run_spec *run, long limit,
			struct k8s_job *job, char *err, size_t errlen)
{
	uint64_t size = 0;
	int rc = fsutil_tree_size(run->bundle_dir, &size);
	if (rc)
		return message_fail(err, errlen, rc, "cannot read the bundle");
	if (size > (uint64_t)limit && !job->command)
		return message_fail(
		    err, errlen, -EINVAL,
		    "the bundle is %llu bytes, over bundle_limit (%ld) for a "
		    "ConfigMap\nbuild the code into conf.image and set "
		    "conf.command",
		    (unsigned long long)size, limit);
	if (size > (uint64_t)limit)
		return 0; /* the image has the code */
	job->in_configmap = true;
	job->files = json_array();
	rc = job->files ? list_files(run->bundle_dir, "", job->files) : -ENOMEM;
	if (rc == 0 && !job->command && run->entry_point &&
	    run->entry_point[0] == '/')
		rc = message_fail(err, errlen, -EINVAL,
				  "entry point \"%s\" is not in the bundle",
				  run->entry_point);
	return rc;
}

int k8s_wire_parse_job(const struct run_spec *run, long bundle_limit,
		       struct k8s_job *job, char *err, size_t errlen)
{
	memset(job, 0, sizeof(*job));
	int rc = parse_conf(run->conf, job, err, errlen);
	if (rc == 0 && run->bundle_dir)
		rc = parse_bundle(run, bundle_limit, job, err, errlen);
	if (rc == 0)
		k8s_wire_job_name(run->run_key, run->attempt, job->name);
	if (rc)
		k8s_wire_job_release(job);
	return rc;
}

void k8s_wire_job_release(struct k8s_job *job)
{
	json_decref(job->files);
	job->files = NULL;
}

/* ---- the Job ---- */

/* conf.command, else how the bundle's entry point runs, else NULL. */
static json_t *command_of(const struct run_spec *run, const struct k8s_job *job)
{
	const char *ep = run->entry_point;
	char path[PATH_MAX];
	if (job->command)
		return json_deep_copy(job->command);
	if (!ep || !*ep)
		return NULL;
	if (!job->in_configmap)
		return json_pack("[s]", ep);
	snprintf(path, sizeof(path), "%s/%s", K8S_APP_DIR, ep);
	size_t n = strlen(ep);
	if (n > 3 && strcmp(ep + n - 3, ".py") == 0)
		return json_pack("[ss]", "python3", path);
	if (n > 3 && strcmp(ep + n - 3, ".sh") == 0)
		return json_pack("[ss]", "sh", path);
	return json_pack("[s]", path);
}

static json_t *env_of(const json_t *env)
{
	json_t *list = json_array();
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)env, key, v)
	{
		if (list && json_array_append_new(
				list, json_pack("{s:s, s:s?}", "name", key,
						"value", json_string_value(v))))
			return json_decref(list), NULL;
	}
	return list;
}

static json_t *container(const struct run_spec *run, const struct k8s_job *job)
{
	json_t *c = json_pack(
	    "{s:s, s:s, s:o, s:o}", "name", K8S_CONTAINER, "image", job->image,
	    "args",
	    json_is_array(run->args) ? json_deep_copy(run->args) : json_array(),
	    "env", env_of(run->env));
	json_t *cmd = command_of(run, job);
	if (c && cmd && json_object_set_new(c, "command", cmd))
		return json_decref(c), NULL;
	if (c && job->resources &&
	    json_object_set_new(c, "resources", json_deep_copy(job->resources)))
		return json_decref(c), NULL;
	if (c && job->in_configmap &&
	    json_object_set_new(c, "volumeMounts",
				json_pack("[{s:s, s:s, s:b}]", "name",
					  K8S_VOLUME, "mountPath", K8S_APP_DIR,
					  "readOnly", 1)))
		return json_decref(c), NULL;
	return c;
}

static json_t *volume(const struct k8s_job *job)
{
	json_t *items = json_array();
	const json_t *f;
	size_t i;
	json_array_foreach(job->files, i, f)
	{
		char key[32];
		snprintf(key, sizeof(key), "f%zu", i);
		if (items &&
		    json_array_append_new(
			items, json_pack("{s:s, s:O}", "key", key, "path", f)))
			return json_decref(items), NULL;
	}
	return json_pack("[{s:s, s:{s:s, s:o, s:i}}]", "name", K8S_VOLUME,
			 "configMap", "name", job->name, "items", items,
			 "defaultMode", K8S_EXEC);
}

static json_t *pod_spec(const struct run_spec *run, const struct k8s_job *job)
{
	json_t *spec = json_pack("{s:s, s:[o]}", "restartPolicy", "Never",
				 "containers", container(run, job));
	if (spec && job->account &&
	    json_object_set_new(spec, "serviceAccountName",
				json_string(job->account)))
		return json_decref(spec), NULL;
	if (spec && job->in_configmap &&
	    json_object_set_new(spec, "volumes", volume(job)))
		return json_decref(spec), NULL;
	return spec;
}

json_t *k8s_wire_job(const struct run_spec *run, const struct k8s_job *job)
{
	const char *label = k8s_wire_run_label(run->run_key, job->name);
	char attempt[16];
	snprintf(attempt, sizeof(attempt), "%d", run->attempt);
	json_t *spec = json_pack("{s:I, s:{s:{s:{s:s}}, s:o}}", "backoffLimit",
				 (json_int_t)job->backoff_limit, "template",
				 "metadata", "labels", K8S_LABEL_RUN, label,
				 "spec", pod_spec(run, job));
	if (spec && job->ttl >= 0 &&
	    json_object_set_new(spec, "ttlSecondsAfterFinished",
				json_integer(job->ttl)))
		return json_decref(spec), NULL;
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}, s:{s:s, s:s}}, s:o}",
			 "apiVersion", "batch/v1", "kind", "Job", "metadata",
			 "name", job->name, "labels", K8S_LABEL_RUN, label,
			 "annotations", K8S_ANNOT_KEY, run->run_key,
			 K8S_ANNOT_TRY, attempt, "spec", spec);
}

/* ---- the ConfigMap ---- */

static char *base64(const unsigned char *in, size_t len)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
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

static int file_data(const char *dir, const char *rel, json_t *data,
		     size_t index, char *err, size_t errlen)
{
	char path[PATH_MAX], key[32], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	snprintf(key, sizeof(key), "f%zu", index);
	int rc = fsutil_read_all(path, K8S_FILE_MAX, &text, &len);
	if (rc)
		return message_fail(err, errlen, rc, "cannot read \"%s\"", rel);
	char *b64 = base64((const unsigned char *)text, len);
	free(text);
	if (!b64 || json_object_set_new(data, key, json_string(b64)))
		rc = -ENOMEM;
	free(b64);
	return rc;
}

int k8s_wire_configmap(const struct run_spec *run, const struct k8s_job *job,
		       const char *job_uid, json_t **out, char *err,
		       size_t errlen)
{
	json_t *data = json_object();
	const json_t *f;
	size_t i;
	int rc = data ? 0 : -ENOMEM;
	json_array_foreach(job->files, i, f)
	{
		if (rc == 0)
			rc = file_data(run->bundle_dir, json_string_value(f),
				       data, i, err, errlen);
	}
	if (rc) {
		json_decref(data);
		return rc;
	}
	*out = json_pack(
	    "{s:s, s:s, s:{s:s, s:{s:s}, s:[{s:s, s:s, s:s, s:s}]}, s:o}",
	    "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
	    job->name, "labels", K8S_LABEL_RUN,
	    k8s_wire_run_label(run->run_key, job->name), "ownerReferences",
	    "apiVersion", "batch/v1", "kind", "Job", "name", job->name, "uid",
	    job_uid, "binaryData", data);
	return *out ? 0 : -ENOMEM;
}

/* ---- reading objects ---- */

bool k8s_wire_is_run(const json_t *obj, const char *run_key, int attempt)
{
	const json_t *an =
	    json_object_get(json_object_get(obj, "metadata"), "annotations");
	const char *key = field_str(an, K8S_ANNOT_KEY);
	const char *att = field_str(an, K8S_ANNOT_TRY);
	return key && att && strcmp(key, run_key) == 0 &&
	       strtol(att, NULL, 10) == attempt;
}

double k8s_wire_time(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	return end ? (double)timegm(&tm) : 0;
}

static const char *meta_str(const json_t *obj, const char *field)
{
	return field_str(json_object_get(obj, "metadata"), field);
}

static const char *pod_job(const json_t *pod)
{
	const json_t *labels =
	    json_object_get(json_object_get(pod, "metadata"), "labels");
	const char *name = field_str(labels, K8S_JOB_LABEL);
	return name ? name : field_str(labels, K8S_JOB_LABEL_V1);
}

const json_t *k8s_wire_pod_of(const json_t *pods, const char *name)
{
	const json_t *best = NULL, *pod;
	double best_t = -1;
	size_t i;
	json_array_foreach(json_object_get(pods, "items"), i, pod)
	{
		const char *job = pod_job(pod);
		double t = k8s_wire_time(meta_str(pod, "creationTimestamp"));
		if (job && strcmp(job, name) == 0 && t >= best_t) {
			best = pod;
			best_t = t;
		}
	}
	return best;
}

/* The first container's status, or NULL. */
static const json_t *container_status(const json_t *pod)
{
	return json_array_get(json_object_get(json_object_get(pod, "status"),
					      "containerStatuses"),
			      0);
}

static int set_error(struct run_status *out, const char *fmt, const char *a,
		     const char *b)
{
	free(out->error);
	if (asprintf(&out->error, fmt, a ? a : "", b ? b : "") < 0)
		out->error = NULL;
	/* one line: the core shows it as the run's error */
	if (out->error)
		out->error[strcspn(out->error, "\n")] = '\0';
	return out->error ? 0 : -ENOMEM;
}

static void set_state(struct run_status *out, enum run_state state,
		      const char *name)
{
	out->state = state;
	snprintf(out->platform_state, sizeof(out->platform_state), "%s", name);
}

/* The condition @type with status "True", or NULL. */
static const json_t *condition(const json_t *job, const char *type)
{
	const json_t *c;
	size_t i;
	json_array_foreach(
	    json_object_get(json_object_get(job, "status"), "conditions"), i, c)
	{
		const char *t = field_str(c, "type");
		const char *s = field_str(c, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
			return c;
	}
	return NULL;
}

/* ErrImagePull or ImagePullBackOff of a pending pod, with its times. */
static int image_pull(const json_t *pod, double now, double timeout,
		      struct run_status *out)
{
	const json_t *w = json_object_get(
	    json_object_get(container_status(pod), "state"), "waiting");
	const char *reason = field_str(w, "reason");
	if (!reason || (strcmp(reason, "ImagePullBackOff") &&
			strcmp(reason, "ErrImagePull")))
		return 1;
	double since = k8s_wire_time(meta_str(pod, "creationTimestamp"));
	bool give_up = since > 0 && now - since >= timeout;
	set_state(out, give_up ? RUN_FAILED : RUN_QUEUED, reason);
	if (give_up)
		out->ended_at = now;
	return set_error(out, "image pull failed (%s): %s", reason,
			 field_str(w, "message"));
}

static void take_exit(const json_t *pod, struct run_status *out)
{
	const json_t *t = json_object_get(
	    json_object_get(container_status(pod), "state"), "terminated");
	const json_t *code = json_object_get(t, "exitCode");
	if (json_is_integer(code))
		out->exit_code = (int)json_integer_value(code) & 0xff;
}

static int ended(const json_t *pod, const json_t *done, const json_t *failed,
		 struct run_status *out)
{
	const json_t *c = done ? done : failed;
	out->ended_at = k8s_wire_time(field_str(c, "lastTransitionTime"));
	take_exit(pod, out);
	set_state(out, done ? RUN_SUCCEEDED : RUN_FAILED,
		  done ? "Complete" : "Failed");
	if (done)
		return 0;
	int rc = set_error(out, "%s: %s", field_str(c, "reason"),
			   field_str(c, "message"));
	if (rc == 0 && out->exit_code > 0) {
		char *e = out->error;
		if (asprintf(&out->error, "%s (exit code %d)", e,
			     out->exit_code) < 0)
			out->error = NULL;
		free(e);
	}
	return out->error ? 0 : -ENOMEM;
}

int k8s_wire_status(const json_t *job, const json_t *pod, double now,
		    double pull_timeout, struct run_status *out)
{
	const json_t *st = json_object_get(job, "status");
	const json_t *done = condition(job, "Complete");
	const json_t *failed = condition(job, "Failed");
	out->exit_code = -1;
	out->started_at = k8s_wire_time(field_str(st, "startTime"));
	if (done || failed)
		return ended(pod, done, failed, out);
	if (condition(job, "Suspended")) {
		set_state(out, RUN_QUEUED, "Suspended");
		return 0;
	}
	int rc = pod ? image_pull(pod, now, pull_timeout, out) : 1;
	if (rc <= 0)
		return rc;
	const char *phase = field_str(json_object_get(pod, "status"), "phase");
	bool active = json_integer_value(json_object_get(st, "active")) > 0;
	if (active && (!phase || strcmp(phase, "Pending")))
		set_state(out, RUN_RUNNING, "Active");
	else
		set_state(out, RUN_QUEUED, "Pending");
	return 0;
}
