/*
 * What the slurm platform sends to slurmrestd and reads from it, and its
 * config: pure functions, tested without a cluster (tests/check_slurm.c).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http.h"
#include "message.h"
#include "secret.h"
#include "slurm_wire.h"

#define SLURM_DEFAULT_API	 "v0.0.38"
#define SLURM_DEFAULT_TIME_LIMIT 60
#define SLURM_MAX_TIME_LIMIT	 100000000L /* minutes; Slurm's is 32 bits */
#define SLURM_JOB_PATH		 "/usr/local/bin:/usr/bin:/bin"
#define SLURM_ERR_FIRST_JOB	 2000 /* ESLURM_*: the request was refused */

static const char *const slurm_fields[] = {
    "kind",	  "url",	"api_version",	   "user",
    "token_env",  "token_file", "shared_dir",	   "partition",
    "time_limit", "timeout",	"connect_timeout", "retries",
    "ca_file",	  NULL};

static const char *const slurm_conf_fields[] = {
    "partition",       "time_limit", "cpus_per_task",
    "memory_per_node", "nodes",	     NULL};

/*
 * Slurm's state names, flags first: in v0.0.38 a set flag is reported
 * instead of the base state, in this order; from v0.0.40 all are listed
 * and the first match here wins, which gives the same answer.
 */
static const struct {
	const char *name;
	enum run_state state;
} slurm_states[] = {
    {"COMPLETING", RUN_RUNNING},   {"STAGE_OUT", RUN_RUNNING},
    {"CONFIGURING", RUN_RUNNING},  {"RESIZING", RUN_RUNNING},
    {"REQUEUED", RUN_QUEUED},	   {"REQUEUE_FED", RUN_QUEUED},
    {"REQUEUE_HOLD", RUN_QUEUED},  {"SPECIAL_EXIT", RUN_FAILED},
    {"STOPPED", RUN_RUNNING},	   {"RESV_DEL_HOLD", RUN_QUEUED},
    {"SIGNALING", RUN_RUNNING},	   {"PENDING", RUN_QUEUED},
    {"RUNNING", RUN_RUNNING},	   {"SUSPENDED", RUN_RUNNING},
    {"COMPLETED", RUN_SUCCEEDED},  {"CANCELLED", RUN_CANCELLED},
    {"FAILED", RUN_FAILED},	   {"TIMEOUT", RUN_FAILED},
    {"NODE_FAIL", RUN_FAILED},	   {"PREEMPTED", RUN_FAILED},
    {"BOOT_FAIL", RUN_FAILED},	   {"DEADLINE", RUN_FAILED},
    {"OUT_OF_MEMORY", RUN_FAILED}, {"LAUNCH_FAILED", RUN_FAILED},
};

static bool is_listed(const char *const *list, const char *key)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], key) == 0)
			return true;
	return false;
}

/* Safe in an HTTP header and a log line: no control characters. */
static bool is_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool slurm_wire_number(const json_t *v, long long *out)
{
	if (json_is_object(v)) {
		const json_t *set = json_object_get(v, "set");
		if ((set && !json_is_true(set)) ||
		    json_is_true(json_object_get(v, "infinite")))
			return false;
		v = json_object_get(v, "number");
	}
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (json_is_real(v))
		*out = (long long)json_real_value(v);
	else
		return false;
	return true;
}

/* ---- job records ---- */

static int lookup_state(const char *name, enum run_state *state_out)
{
	size_t n = sizeof(slurm_states) / sizeof(slurm_states[0]);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(slurm_states[i].name, name) == 0) {
			*state_out = slurm_states[i].state;
			return 0;
		}
	}
	return -EPROTO;
}

static bool has_flag(const json_t *array, const char *name)
{
	for (size_t i = 0; i < json_array_size(array); i++) {
		const char *v = json_string_value(json_array_get(array, i));
		if (v && strcmp(v, name) == 0)
			return true;
	}
	return false;
}

static void join_names(const json_t *array, char *out, size_t len)
{
	size_t i, used = 0;
	json_t *v;
	out[0] = '\0';
	json_array_foreach(array, i, v)
	{
		int n = snprintf(out + used, len - used, "%s%s", i ? "," : "",
				 json_is_string(v) ? json_string_value(v) : "");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

int slurm_wire_map_state(const json_t *job_state, enum run_state *state_out,
			 char *name_out, size_t namelen)
{
	name_out[0] = '\0';
	if (json_is_string(job_state)) {
		snprintf(name_out, namelen, "%s", json_string_value(job_state));
		return lookup_state(json_string_value(job_state), state_out);
	}
	if (!json_is_array(job_state))
		return -EPROTO;
	join_names(job_state, name_out, namelen);
	size_t n = sizeof(slurm_states) / sizeof(slurm_states[0]);
	for (size_t i = 0; i < n; i++) {
		if (has_flag(job_state, slurm_states[i].name)) {
			*state_out = slurm_states[i].state;
			return 0;
		}
	}
	return -EPROTO;
}

int slurm_wire_exit_code(const json_t *exit_code)
{
	long long v;
	if (json_is_object(exit_code)) {
		const json_t *sig = json_object_get(exit_code, "signal");
		if (slurm_wire_number(json_object_get(sig, "id"), &v) &&
		    v > 0 && v < 128)
			return 128 + (int)v;
		bool has = slurm_wire_number(
		    json_object_get(exit_code, "return_code"), &v);
		return has && v >= 0 && v <= 255 ? (int)v : -1;
	}
	if (!json_is_integer(exit_code))
		return -1;
	v = json_integer_value(exit_code);
	if (v < 0 || v > 0xffff || (v & 0x7f) == 0x7f) /* 0x7f: stopped */
		return -1;
	if ((v & 0x7f) == 0)
		return (int)((v >> 8) & 0xff);
	return 128 + (int)(v & 0x7f);
}

const char *slurm_wire_string(const json_t *job, const char *key)
{
	const char *v = json_string_value(json_object_get(job, key));
	return v ? v : "";
}

static double job_time(const json_t *job, const char *key)
{
	long long t;
	return slurm_wire_number(json_object_get(job, key), &t) && t > 0
		   ? (double)t
		   : 0;
}

/* A job cancelled while pending has no batch host (and exit_code 0). */
static bool has_started(const json_t *job)
{
	const json_t *host = json_object_get(job, "batch_host");
	return !json_is_string(host) || json_string_length(host) > 0;
}

int slurm_wire_job_read(const json_t *job, struct call *c,
			struct run_status *out)
{
	int rc = slurm_wire_map_state(json_object_get(job, "job_state"),
				      &out->state, out->platform_state,
				      sizeof(out->platform_state));
	if (rc)
		return message_call_fail(c, rc, "unknown job state \"%s\"",
					 out->platform_state);
	bool started = has_started(job);
	if (out->state != RUN_QUEUED && started)
		out->started_at = job_time(job, "start_time");
	if (!state_is_terminal(out->state))
		return 0;
	out->ended_at = job_time(job, "end_time");
	/* after a launch failure exit_code is a Slurm error number */
	if (started && strcmp(slurm_wire_string(job, "state_reason"),
			      "JobLaunchFailure") != 0)
		out->exit_code =
		    slurm_wire_exit_code(json_object_get(job, "exit_code"));
	return 0;
}

/* ---- the batch script ---- */

static void put_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

int slurm_wire_script(const char *dir, const char *const *argv,
		      char **script_out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fputs("#!/bin/sh\ncd ", f);
	put_quoted(f, dir);
	fputs(" || exit 1\nexec", f);
	for (size_t i = 0; argv[i]; i++) {
		fputc(' ', f);
		put_quoted(f, argv[i]);
	}
	fputc('\n', f);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(buf);
		return -ENOMEM;
	}
	*script_out = buf;
	return 0;
}

/* ---- configuration ---- */

static int check_fields(const json_t *fields, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)fields, key, value)
	{
		if (!is_listed(slurm_fields, key)) {
			snprintf(
			    err, errlen,
			    "unknown field \"%s\"\nthe slurm platform "
			    "takes: kind, url, api_version, user, "
			    "token_env, token_file, shared_dir, partition, "
			    "time_limit, timeout, connect_timeout, "
			    "retries, ca_file",
			    key);
			return -EINVAL;
		}
	}
	return 0;
}

/* An optional string field: *out NULL when absent. */
static int get_string(const json_t *fields, const char *name, const char **out,
		      char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, name);
	*out = json_string_value(v);
	if (!v)
		return 0;
	if (!*out || !**out || !is_printable(*out))
		return message_fail(
		    err, errlen, -EINVAL,
		    "invalid field \"%s\"\nexpected a non-empty string", name);
	return 0;
}

static int take_url(struct slurm_wire_config *s, const json_t *fields,
		    char *err, size_t errlen)
{
	const char *url, *api;
	int rc = get_string(fields, "url", &url, err, errlen);
	if (rc == 0)
		rc = get_string(fields, "api_version", &api, err, errlen);
	if (rc)
		return rc;
	if (!url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s field \"url\"\nslurmrestd's address, e.g. "
		    "\"http://127.0.0.1:6820\"",
		    url ? "invalid" : "missing");
	api = api ? api : SLURM_DEFAULT_API;
	size_t digits = strlen(api) > 5 ? strspn(api + 5, "0123456789") : 0;
	if (strncmp(api, "v0.0.", 5) || digits == 0 || api[5 + digits] ||
	    digits > 4)
		return message_fail(
		    err, errlen, -EINVAL,
		    "invalid field \"api_version\"\nexpected e.g. \"%s\"",
		    SLURM_DEFAULT_API);
	s->api_minor = (int)strtol(api + 5, NULL, 10);
	size_t len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (asprintf(&s->base_url, "%.*s/slurm/%s", (int)len, url, api) < 0) {
		s->base_url = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int base64url_value(char ch)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = ch ? strchr(alphabet, ch) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

/* Decodes @len base64url characters (no padding) into a new string. */
static char *base64url_decode(const char *in, size_t len)
{
	char *out = malloc(len * 3 / 4 + 1);
	size_t n = 0;
	unsigned bits = 0, nbits = 0;
	for (size_t i = 0; out && i < len; i++) {
		int v = base64url_value(in[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[n++] = (char)((bits >> nbits) & 0xff);
		}
	}
	if (out)
		out[n] = '\0';
	return out;
}

/* The "sun" (Slurm user name) claim of a JWT's payload, or NULL. */
static char *token_user(const char *token)
{
	const char *dot = strchr(token, '.');
	const char *end = dot ? strchr(dot + 1, '.') : NULL;
	if (!end)
		return NULL;
	char *payload = base64url_decode(dot + 1, (size_t)(end - dot - 1));
	json_t *claims = payload ? json_loads(payload, 0, NULL) : NULL;
	const char *sun = json_string_value(json_object_get(claims, "sun"));
	char *user = sun && *sun && is_printable(sun) ? strdup(sun) : NULL;
	json_decref(claims);
	free(payload);
	return user;
}

static int take_credentials(struct slurm_wire_config *s, const json_t *fields,
			    char *err, size_t errlen)
{
	const char *user;
	int rc = get_string(fields, "user", &user, err, errlen);
	char *token = NULL;
	if (rc == 0)
		rc = secret_get(fields, "token", &token, err, errlen);
	if (rc == -ENOENT)
		rc = message_fail(err, errlen, -EINVAL,
				  "missing field \"token_env\" or "
				  "\"token_file\"\nthe JWT for slurmrestd "
				  "(scontrol token)");
	if (rc == 0 && (!*token || !is_printable(token)))
		rc = message_fail(err, errlen, -EINVAL,
				  "the token is empty or has control "
				  "characters");
	if (rc == 0) {
		s->user = user ? strdup(user) : token_user(token);
		if (!s->user && !user)
			rc = message_fail(
			    err, errlen, -EINVAL,
			    "missing field \"user\"\nthe token names no "
			    "user (no \"sun\" claim)");
	}
	if (rc == 0 &&
	    (asprintf(&s->user_header, "X-SLURM-USER-NAME: %s", s->user) < 0 ||
	     asprintf(&s->token_header, "X-SLURM-USER-TOKEN: %s", token) < 0))
		rc = -ENOMEM;
	secret_free(token);
	return rc;
}

static int take_shared_dir(struct slurm_wire_config *s, const json_t *fields,
			   char *err, size_t errlen)
{
	const char *dir;
	struct stat st;
	int rc = get_string(fields, "shared_dir", &dir, err, errlen);
	if (rc)
		return rc;
	/* Slurm expands %x and \ in output paths: keep them out */
	if (!dir || dir[0] != '/' || strpbrk(dir, "%\\"))
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s field \"shared_dir\"\nan absolute path the "
		    "cluster's nodes can read and write, without %% or \\",
		    dir ? "invalid" : "missing");
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return message_fail(err, errlen, -EINVAL,
				    "field \"shared_dir\": \"%s\" is not a "
				    "directory",
				    dir);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 1)
		return message_fail(err, errlen, -EINVAL,
				    "invalid field \"shared_dir\": \"/\"");
	s->shared_dir = strndup(dir, len);
	return s->shared_dir ? 0 : -ENOMEM;
}

static int take_job_defaults(struct slurm_wire_config *s, const json_t *fields,
			     char *err, size_t errlen)
{
	const char *partition;
	int rc = get_string(fields, "partition", &partition, err, errlen);
	if (rc)
		return rc;
	s->partition = partition ? strdup(partition) : NULL;
	if (partition && !s->partition)
		return -ENOMEM;
	const json_t *limit = json_object_get(fields, "time_limit");
	s->time_limit =
	    limit ? (long)json_integer_value(limit) : SLURM_DEFAULT_TIME_LIMIT;
	if (limit && (!json_is_integer(limit) || s->time_limit <= 0 ||
		      s->time_limit > SLURM_MAX_TIME_LIMIT))
		return message_fail(
		    err, errlen, -EINVAL,
		    "invalid field \"time_limit\"\nminutes, a positive "
		    "integer");
	return 0;
}

int slurm_wire_config_parse(const json_t *fields, struct slurm_wire_config *out,
			    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	int rc = check_fields(fields, err, errlen);
	if (rc == 0)
		rc = take_url(out, fields, err, errlen);
	if (rc == 0)
		rc = take_credentials(out, fields, err, errlen);
	if (rc == 0)
		rc = take_shared_dir(out, fields, err, errlen);
	if (rc == 0)
		rc = take_job_defaults(out, fields, err, errlen);
	return rc;
}

void slurm_wire_config_release(struct slurm_wire_config *cfg)
{
	secret_free(cfg->token_header);
	free(cfg->user_header);
	free(cfg->user);
	free(cfg->base_url);
	free(cfg->shared_dir);
	free(cfg->partition);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- answers ---- */

int slurm_wire_first_error(const json_t *json, const char **text_out)
{
	const json_t *e = json_array_get(json_object_get(json, "errors"), 0);
	const char *text = json_string_value(json_object_get(e, "description"));
	if (!text || !*text)
		text = json_string_value(json_object_get(e, "error"));
	*text_out = text ? text : "";
	long long code = 0;
	if (!slurm_wire_number(json_object_get(e, "error_number"), &code))
		slurm_wire_number(json_object_get(e, "error_code"), &code);
	return e ? (int)code : 0;
}

int slurm_wire_error_text(const char *body, size_t len, char *out,
			  size_t outlen)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const char *text;
	slurm_wire_first_error(doc, &text);
	int rc = *text ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(out, outlen, "%s", text);
	json_decref(doc);
	return rc;
}

int slurm_wire_reply_errno(struct call *c, const char *path,
			   struct slurm_reply *r)
{
	const char *text;
	r->code = slurm_wire_first_error(r->json, &text);
	if (r->status >= 200 && r->status < 300 && r->json)
		return 0;
	if (r->status >= 200 && r->status < 300)
		return message_call_fail(
		    c, -EPROTO, "HTTP %ld: the answer is not JSON", r->status);
	if (r->status == 404) {
		snprintf(
		    c->err, sizeof(c->err),
		    "HTTP 404 for \"%s\": check \"url\" and \"api_version\"",
		    path);
		return -EPROTO;
	}
	if (r->status == 401 || r->status == 403)
		return message_call_fail(
		    c, -EACCES,
		    "HTTP %ld: authentication failure (check \"user\" "
		    "and the token)",
		    r->status);
	int rc = r->code == SLURM_ERR_INVALID_JOB_ID
		     ? -ENOENT
		     : http_status_errno(r->status);
	return message_call_fail(
	    c, rc, "HTTP %ld: %s (error %d)%s", r->status,
	    *text ? text : "no reason given", r->code,
	    r->code == -1 ? "; an invalid or expired token gives this too"
			  : "");
}

void slurm_wire_reply_release(struct slurm_reply *r)
{
	json_decref(r->json);
	r->json = NULL;
}

/* ---- a job's conf ---- */

static bool is_positive_int(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) > 0 &&
	       json_integer_value(v) <= INT32_MAX;
}

static bool is_conf_value_ok(const char *key, const json_t *v)
{
	const char *str = json_string_value(v);
	if (strcmp(key, "partition") == 0)
		return str && *str && is_printable(str);
	if (strcmp(key, "nodes") == 0 && str) /* a count or "MIN-MAX" */
		return *str && strspn(str, "0123456789-") == strlen(str);
	return is_positive_int(v);
}

int slurm_wire_check_conf(const json_t *conf, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)conf, key, value)
	{
		if (!is_listed(slurm_conf_fields, key)) {
			snprintf(
			    err, errlen,
			    "unknown conf field \"%s\"\nthe slurm platform "
			    "takes: partition, time_limit, cpus_per_task, "
			    "memory_per_node, nodes",
			    key);
			return -EINVAL;
		}
		if (!is_conf_value_ok(key, value))
			return message_fail(
			    err, errlen, -EINVAL,
			    "invalid conf field \"%s\"\nexpected %s", key,
			    strcmp(key, "partition") == 0
				? "a partition name"
				: "a positive integer");
	}
	return 0;
}

/* ---- submit ---- */

static int build_script(const struct run_spec *run, const char *const *interp,
			const char *path, const char *dir, char **script_out)
{
	size_t nargs = json_array_size(run->args);
	const char **argv = calloc(nargs + 4, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; interp && interp[i]; i++)
		argv[n++] = interp[i];
	argv[n++] = path;
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = json_string_value(json_array_get(run->args, i));
	int rc = slurm_wire_script(dir, argv, script_out);
	free(argv);
	return rc;
}

/* v0.0.39 and later take the environment as ["NAME=value", ...]. */
static json_t *env_list(const json_t *obj)
{
	json_t *list = json_array();
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)obj, key, value)
	{
		char *entry;
		if (!list || asprintf(&entry, "%s=%s", key,
				      json_string_value(value)) < 0) {
			json_decref(list);
			return NULL;
		}
		int rc = json_array_append_new(list, json_string(entry));
		free(entry);
		if (rc < 0) {
			json_decref(list);
			return NULL;
		}
	}
	return list;
}

/* The job's whole environment: Slurm passes nothing else (no HOME). */
static json_t *build_env(const struct slurm_wire_config *s, const json_t *env)
{
	json_t *obj = json_pack("{s:s}", "PATH", SLURM_JOB_PATH);
	if (obj && env && json_object_update(obj, (json_t *)env) < 0) {
		json_decref(obj);
		return NULL;
	}
	if (!obj || s->api_minor < 39)
		return obj;
	json_t *list = env_list(obj);
	json_decref(obj);
	return list;
}

/* partition and time_limit from the job's conf, else the platform's. */
static int add_job_conf(const struct slurm_wire_config *s, const json_t *conf,
			json_t *job)
{
	int rc = 0;
	if (s->partition)
		rc |= json_object_set_new(job, "partition",
					  json_string(s->partition));
	rc |=
	    json_object_set_new(job, "time_limit", json_integer(s->time_limit));
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)conf, key, value)
	{
		rc |= json_object_set(job, key, value);
	}
	return rc ? -ENOMEM : 0;
}

static int build_body(const struct slurm_wire_config *s,
		      const struct run_spec *run, const char *dir,
		      const char *script, json_t **body_out)
{
	char out[PATH_MAX + 8], err[PATH_MAX + 8];
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	json_t *job = json_pack("{s:s, s:s, s:o?, s:s, s:s}", "name",
				run->run_key, "current_working_directory", dir,
				"environment", build_env(s, run->env),
				"standard_output", out, "standard_error", err);
	json_t *body = json_object();
	int rc =
	    job && body && json_object_get(job, "environment") ? 0 : -ENOMEM;
	if (rc == 0)
		rc = add_job_conf(s, run->conf, job);
	json_t *holder = s->api_minor >= 40 ? job : body;
	if (rc == 0 &&
	    json_object_set_new(holder, "script", json_string(script)) < 0)
		rc = -ENOMEM;
	if (rc == 0 && json_object_set(body, "job", job) < 0)
		rc = -ENOMEM;
	json_decref(job);
	if (rc)
		json_decref(body);
	*body_out = rc ? NULL : body;
	return rc;
}

int slurm_wire_submit_body(const struct slurm_wire_config *cfg,
			   const struct run_spec *run, const char *dir,
			   const char *const *interp, const char *path,
			   json_t **body_out)
{
	char *script = NULL;
	int rc = build_script(run, interp, path, dir, &script);
	if (rc == 0)
		rc = build_body(cfg, run, dir, script, body_out);
	free(script);
	return rc;
}

int slurm_wire_submit_errno(int rc, const struct slurm_reply *r)
{
	if ((rc == -EIO || rc == -EINVAL) && r->code >= SLURM_ERR_FIRST_JOB)
		return -EINVAL;
	return rc;
}
