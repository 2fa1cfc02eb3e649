/*
 * The Slurm platform: every run is a batch job submitted to slurmrestd.
 *
 * slurmrestd never moves files, so the cluster and this host must share a
 * directory ("shared_dir"). Each attempt of a run gets its own directory
 * there, SHARED/RUNKEY.ATTEMPT/: a copy of the bundle, the job's working
 * directory, and the job's stdout and stderr files, which fetch copies to
 * the run's result and log. The job runs as whichever user the token
 * belongs to, usually not the user running jobfs, so the directory is
 * made world-writable (chmod -R a+rwX): shared_dir should not be readable
 * by users who must not see the jobs' bundles and output.
 *
 * Submits are not idempotent in Slurm, so they are sent once, and each job
 * is named after the run key: find looks that name up in the job list to
 * tell whether a submit cut short by a crash reached the cluster. The job
 * list also serves status_many, one request per poll for every run. A
 * small cache maps job ids to their directories so that fetch, which the
 * core calls on every poll while a run's log grows, needs no request.
 *
 * Every request carries X-SLURM-USER-NAME and X-SLURM-USER-TOKEN; the
 * token lives only in memory and is wiped when the platform closes.
 *
 * This file holds the ops and what they do on this host (job directories,
 * output copies); the JSON exchanged with slurmrestd and the config are
 * in slurm_wire.c. Tested against a real slurmrestd (tests/fs/slurm.test).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "message.h"
#include "program.h"
#include "slurm.h"
#include "slurm_wire.h"

#define SLURM_LASTERR_MAX 200
#define SLURM_DIR_CACHE	  4096

struct slurm_dir {
	long long id;
	char *dir;
};

struct slurm {
	struct platform base;
	char *name;
	struct http *http;
	struct slurm_wire_config cfg;
	pthread_mutex_t lock; /* guards dirs and next_dir */
	struct slurm_dir dirs[SLURM_DIR_CACHE];
	size_t next_dir;
};

/* What the batch script executes. */
struct slurm_entry {
	struct program_entry prog; /* its interpreter; the file if bundled */
	char path[PATH_MAX]; /* as the script names it, relative to the dir */
};

static struct slurm *slurm_from(struct platform *p)
{
	assert(p && p->ops == &slurm_platform);
	return (struct slurm *)p;
}

/* A Slurm job id: digits only (it goes into URLs and file names). */
static bool parse_job_id(const char *s, long long *id_out)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > 18 || strspn(s, "0123456789") != len)
		return false;
	*id_out = strtoll(s, NULL, 10);
	return *id_out > 0;
}

/* ---- open, close ---- */

static int take_http(struct slurm *s, const json_t *fields, char *err,
		     size_t errlen)
{
	struct http_settings settings;
	int rc =
	    http_settings_from_json(fields, s->name, &settings, err, errlen);
	/* slurm_call reads its answers itself; this is for http.c's own */
	settings.error_text = slurm_wire_error_text;
	if (rc == 0)
		rc = http_new(&settings, &s->http);
	if (rc && !err[0])
		message_fail(err, errlen, rc,
			     "cannot set up the HTTP client: %s",
			     strerror(-rc));
	return rc;
}

static void slurm_free(struct slurm *s)
{
	if (!s)
		return;
	http_free(s->http);
	for (size_t i = 0; i < SLURM_DIR_CACHE; i++)
		free(s->dirs[i].dir);
	pthread_mutex_destroy(&s->lock);
	slurm_wire_config_release(&s->cfg);
	free(s->name);
	free(s);
}

static int slurm_open(const struct platform_env *env, struct platform **out,
		      char *err, size_t errlen)
{
	struct slurm *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &slurm_platform;
	pthread_mutex_init(&s->lock, NULL);
	int rc = slurm_wire_config_parse(env->fields, &s->cfg, err, errlen);
	if (rc == 0 && !(s->name = strdup(env->name)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = take_http(s, env->fields, err, errlen);
	if (rc) {
		slurm_free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

static void slurm_close(struct platform *p)
{
	slurm_free(slurm_from(p));
}

/* ---- requests ---- */

/*
 * One request to BASE@path. 0 for a 2xx JSON answer; else an errno with
 * c->err, and @out still holds what came back. Release with
 * slurm_wire_reply_release.
 */
static int slurm_call(struct slurm *s, struct call *c, const char *method,
		      const char *path, const json_t *body, bool idempotent,
		      struct slurm_reply *out)
{
	memset(out, 0, sizeof(*out));
	char *url = NULL, *text = NULL;
	if (asprintf(&url, "%s%s", s->cfg.base_url, path) < 0)
		return -ENOMEM;
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !text) {
		free(url);
		return -ENOMEM;
	}
	const char *headers[] = {
	    s->cfg.user_header, s->cfg.token_header, "Accept: application/json",
	    text ? "Content-Type: application/json" : NULL, NULL};
	struct http_request req = {.method = method,
				   .url = url,
				   .headers = headers,
				   .body = text,
				   .body_len = text ? strlen(text) : 0,
				   .idempotent = idempotent};
	struct http_response resp = {0};
	int rc = http_do(s->http, c, &req, &resp);
	free(url);
	free(text);
	if (rc)
		return rc;
	out->status = resp.status;
	out->json =
	    json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
	http_response_release(&resp);
	return slurm_wire_reply_errno(c, path, out);
}

/* GET job/ID: *job_out is borrowed from @r. */
static int get_job(struct slurm *s, struct call *c, long long id,
		   struct slurm_reply *r, const json_t **job_out)
{
	char path[64];
	snprintf(path, sizeof(path), "/job/%lld", id);
	int rc = slurm_call(s, c, "GET", path, NULL, true, r);
	const json_t *jobs = json_object_get(r->json, "jobs");
	size_t i;
	json_t *job;
	*job_out = NULL;
	json_array_foreach(jobs, i, job)
	{
		long long jid;
		if (slurm_wire_number(json_object_get(job, "job_id"), &jid) &&
		    jid == id)
			*job_out = job;
	}
	if (rc == 0 && !*job_out)
		rc = message_call_fail(c, -ENOENT, "job %lld not in the answer",
				       id);
	return rc;
}

/* ---- job directories ---- */

/* @path lies inside shared_dir (so it is one of ours, safe to read). */
static bool is_ours(const struct slurm *s, const char *path)
{
	size_t len = strlen(s->cfg.shared_dir);
	return path && strncmp(path, s->cfg.shared_dir, len) == 0 &&
	       path[len] == '/' && path[len + 1] && !strstr(path, "/../");
}

/* Out of memory leaves a slot empty: fetch then asks Slurm. */
static void remember_dir(struct slurm *s, long long id, const char *dir)
{
	if (!is_ours(s, dir))
		return;
	pthread_mutex_lock(&s->lock);
	struct slurm_dir *d = NULL;
	for (size_t i = 0; !d && i < SLURM_DIR_CACHE; i++)
		if (s->dirs[i].id == id)
			d = &s->dirs[i];
	if (!d) { /* the oldest entry makes room */
		d = &s->dirs[s->next_dir];
		s->next_dir = (s->next_dir + 1) % SLURM_DIR_CACHE;
		free(d->dir);
		*d = (struct slurm_dir){.id = id};
	}
	if (!d->dir || strcmp(d->dir, dir) != 0) {
		free(d->dir);
		d->dir = strdup(dir);
	}
	pthread_mutex_unlock(&s->lock);
}

/* The cached directory of job @id (caller frees), or NULL. */
static char *recall_dir(struct slurm *s, long long id)
{
	char *dir = NULL;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; !dir && i < SLURM_DIR_CACHE; i++)
		if (s->dirs[i].id == id && s->dirs[i].dir)
			dir = strdup(s->dirs[i].dir);
	pthread_mutex_unlock(&s->lock);
	return dir;
}

static int run_dir(const struct slurm *s, const struct run_spec *run, char *buf,
		   size_t len)
{
	int n = snprintf(buf, len, "%s/%s.%d", s->cfg.shared_dir, run->run_key,
			 run->attempt);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int make_shared(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_SL || type == FTW_SLN)
		return 0;
	bool is_exec = S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	/* no set-id bits on files anyone may now change */
	mode_t mode = (st->st_mode & 01777) | (is_exec ? 0777 : 0666);
	return chmod(path, mode) < 0 ? errno : 0;
}

/* A shebang script without the exec bit: the copy gets it. */
static int make_executable(const char *dir, const char *rel)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	return chmod(path, 0777) < 0 ? -errno : 0;
}

/* Fills SHARED/RUNKEY.ATTEMPT afresh: the bundle, writable by the job. */
static int prepare_dir(struct slurm *s, const struct run_spec *run,
		       const struct slurm_entry *e, const char *dir,
		       struct call *c)
{
	int rc = fsutil_rm_rf(dir);
	if (rc == 0 && run->bundle_dir)
		rc = fsutil_copy_tree(run->bundle_dir, dir);
	else if (rc == 0 && mkdir(dir, 0777) < 0)
		rc = -errno;
	if (rc == 0) {
		int n = nftw(dir, make_shared, 16, FTW_PHYS);
		rc = n == -1 ? -errno : -n;
	}
	if (rc == 0 && e->prog.needs_exec_bit)
		rc = make_executable(dir, run->entry_point);
	if (rc)
		message_call_fail(c, rc, "cannot prepare \"%s\": %s", dir,
				  strerror(-rc));
	return rc;
}

/*
 * Opens a file the job wrote. The directory is writable by everyone, so
 * the file may have been swapped for a link or a FIFO: only a regular
 * file is read. -ENOENT when it is missing.
 */
static int open_job_file(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Makes @text fit for JSON: control characters and bad UTF-8 replaced. */
static void make_text(char *text)
{
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	json_t *probe = json_string(text);
	if (!probe) /* not UTF-8: keep the ASCII */
		for (char *p = text; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	json_decref(probe);
}

/* The last non-empty line of @path, at most SLURM_LASTERR_MAX bytes. */
static char *last_line(const char *path)
{
	char buf[4096];
	struct stat st;
	int fd = open_job_file(path, &st);
	if (fd < 0)
		return NULL;
	off_t from = st.st_size > (off_t)sizeof(buf) - 1
			 ? st.st_size - (off_t)sizeof(buf) + 1
			 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	close(fd);
	while (n > 0 && strchr("\r\n\t ", buf[n - 1]))
		n--;
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	size_t len = strlen(start);
	if (len > SLURM_LASTERR_MAX) { /* cut between UTF-8 characters */
		len = SLURM_LASTERR_MAX;
		while (len > 0 && ((unsigned char)start[len] & 0xc0) == 0x80)
			len--;
	}
	char *line = strndup(start, len);
	if (line)
		make_text(line);
	return line;
}

/* ---- job records ---- */

/* "NonZeroExitCode: <last line of stderr>" */
static char *failure_text(struct slurm *s, const json_t *job, const char *state)
{
	const char *reason = slurm_wire_string(job, "state_reason");
	const char *err_path = slurm_wire_string(job, "standard_error");
	char *line = is_ours(s, err_path) ? last_line(err_path) : NULL;
	if (!*reason || strcmp(reason, "None") == 0)
		reason = state;
	if (!line && strcmp(reason, "JobLaunchFailure") == 0)
		line = strdup("can the job's user enter and write "
			      "\"shared_dir\"?");
	char *text;
	if (asprintf(&text, "%s%s%s", reason, line ? ": " : "",
		     line ? line : "") < 0)
		text = NULL;
	free(line);
	return text;
}

/* Reads one job record into @out, and remembers the job's directory. */
static int job_status(struct slurm *s, struct call *c, const json_t *job,
		      struct run_status *out)
{
	long long id = 0;
	int rc = slurm_wire_job_read(job, c, out);
	if (rc)
		return rc;
	if (slurm_wire_number(json_object_get(job, "job_id"), &id))
		remember_dir(
		    s, id, slurm_wire_string(job, "current_working_directory"));
	if (out->state != RUN_FAILED)
		return 0;
	out->error = failure_text(s, job, out->platform_state);
	return out->error ? 0 : -ENOMEM;
}

/* ---- validation ---- */

static int resolve_in_bundle(const struct run_spec *run, struct slurm_entry *e,
			     char *err, size_t errlen)
{
	int rc = program_resolve_in_bundle(run->bundle_dir, run->entry_point,
					   &e->prog, err, errlen);
	if (rc)
		return rc;
	/* the script runs in the bundle's copy: a bare name needs "./" */
	int n = snprintf(e->path, sizeof(e->path), "%s%s",
			 e->prog.interp ? "" : "./", run->entry_point);
	return n < 0 || (size_t)n >= sizeof(e->path) ? -ENAMETOOLONG : 0;
}

/* Without a bundle the entry point is a program on the cluster's nodes. */
static int resolve_on_cluster(const struct run_spec *run, struct slurm_entry *e,
			      char *err, size_t errlen)
{
	const char *ep = run->entry_point;
	if (ep[0] != '/')
		return message_fail(
		    err, errlen, -EINVAL,
		    "entry point \"%s\" is not an absolute path\nwithout "
		    "a bundle it must name a program on the cluster",
		    ep);
	e->prog.interp = program_interpreter(ep);
	int n = snprintf(e->path, sizeof(e->path), "%s", ep);
	return n < 0 || (size_t)n >= sizeof(e->path) ? -ENAMETOOLONG : 0;
}

/* Run keys become directory and job names: only plain characters. */
static bool is_valid_key(const char *key)
{
	size_t len = key ? strlen(key) : 0;
	return len > 0 && len < NAME_MAX - 16 && key[0] != '.' &&
	       strspn(key,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789._-") == len;
}

static int prepare(const struct run_spec *run, struct slurm_entry *e, char *err,
		   size_t errlen)
{
	memset(e, 0, sizeof(*e));
	int rc = program_check_args(run->args, err, errlen);
	if (rc == 0)
		rc = program_check_env(run->env, err, errlen);
	if (rc == 0)
		rc = slurm_wire_check_conf(run->conf, err, errlen);
	if (rc == 0 && (!run->entry_point || !*run->entry_point))
		rc = message_fail(
		    err, errlen, -EINVAL,
		    "no entry point\nset \"entry_point\" in the config");
	if (rc == 0 && run->bundle_dir)
		rc = resolve_in_bundle(run, e, err, errlen);
	else if (rc == 0)
		rc = resolve_on_cluster(run, e, err, errlen);
	return rc;
}

static int slurm_validate(struct platform *p, struct call *c,
			  const struct run_spec *run)
{
	struct slurm_entry e;
	(void)slurm_from(p);
	return prepare(run, &e, c->err, sizeof(c->err));
}

/* ---- find ---- */

static bool is_job_of(const struct slurm *s, const json_t *job,
		      const struct run_spec *run, const char *dir)
{
	const char *cwd = slurm_wire_string(job, "current_working_directory");
	return strcmp(slurm_wire_string(job, "name"), run->run_key) == 0 &&
	       strcmp(slurm_wire_string(job, "user_name"), s->cfg.user) == 0 &&
	       (!*cwd || strcmp(cwd, dir) == 0);
}

/*
 * The newest job a submit of @run made (its name is the run key, its
 * directory the attempt's): 0 with *id_out, or -ENOENT.
 */
static int find_job(struct slurm *s, struct call *c, const struct run_spec *run,
		    const char *dir, long long *id_out)
{
	struct slurm_reply r;
	int rc = slurm_call(s, c, "GET", "/jobs", NULL, true, &r);
	const json_t *jobs = json_object_get(r.json, "jobs");
	*id_out = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(jobs); i++) {
		const json_t *job = json_array_get(jobs, i);
		long long id;
		if (is_job_of(s, job, run, dir) &&
		    slurm_wire_number(json_object_get(job, "job_id"), &id) &&
		    id > *id_out)
			*id_out = id;
	}
	slurm_wire_reply_release(&r);
	if (rc == 0 && *id_out == 0)
		rc = message_call_fail(c, -ENOENT, "no job named \"%s\"",
				       run->run_key);
	return rc;
}

/* ---- submit ---- */

static void log_submit_warning(struct slurm *s, const struct run_spec *run,
			       long long id, const struct slurm_reply *r)
{
	const char *text;
	int code = slurm_wire_first_error(r->json, &text);
	log_warn("slurm \"%s\": job %lld for \"%s\" submitted with a "
		 "warning: %s (error %d)",
		 s->name, id, run->run_key, text, code);
}

/*
 * A submit whose fate is unknown (timeout, dropped connection, an answer
 * without a job id) fails with a transient error: the core then asks
 * find before it submits again.
 */
static int post_job(struct slurm *s, struct call *c, const struct run_spec *run,
		    const json_t *body, long long *id_out)
{
	struct slurm_reply r;
	int rc = slurm_call(s, c, "POST", "/job/submit", body, false, &r);
	bool has_id =
	    slurm_wire_number(json_object_get(r.json, "job_id"), id_out) &&
	    *id_out > 0;
	if (has_id && r.code) /* e.g. 2042 "Job is in held state" */
		log_submit_warning(s, run, *id_out, &r);
	if (!has_id && rc == 0)
		rc = message_call_fail(c, -EPROTO,
				       "the submit answer has no job_id");
	rc = has_id ? 0 : slurm_wire_submit_errno(rc, &r);
	slurm_wire_reply_release(&r);
	return rc;
}

static int slurm_submit(struct platform *p, struct call *c,
			const struct run_spec *run, char **remote_id_out)
{
	struct slurm *s = slurm_from(p);
	struct slurm_entry e;
	char dir[PATH_MAX];
	json_t *body = NULL;
	int rc = prepare(run, &e, c->err, sizeof(c->err));
	if (rc == 0 && !is_valid_key(run->run_key))
		rc = message_call_fail(c, -EINVAL, "invalid run key \"%s\"",
				       run->run_key);
	if (rc == 0)
		rc = run_dir(s, run, dir, sizeof(dir));
	if (rc == -ENAMETOOLONG)
		message_call_fail(c, rc, "run directory name too long");
	if (rc == 0)
		rc = prepare_dir(s, run, &e, dir, c);
	if (rc == 0)
		rc = slurm_wire_submit_body(&s->cfg, run, dir, e.prog.interp,
					    e.path, &body);
	long long id;
	if (rc == 0)
		rc = post_job(s, c, run, body, &id);
	json_decref(body);
	if (rc)
		return rc;
	remember_dir(s, id, dir);
	log_info("slurm \"%s\": \"%s\" submitted as job %lld", s->name,
		 run->run_key, id);
	return asprintf(remote_id_out, "%lld", id) < 0 ? -ENOMEM : 0;
}

/* ---- status ---- */

static int slurm_find(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct slurm *s = slurm_from(p);
	char dir[PATH_MAX];
	long long id;
	int rc = run_dir(s, run, dir, sizeof(dir));
	if (rc == 0)
		rc = find_job(s, c, run, dir, &id);
	if (rc)
		return rc;
	remember_dir(s, id, dir);
	return asprintf(remote_id_out, "%lld", id) < 0 ? -ENOMEM : 0;
}

static int slurm_status(struct platform *p, struct call *c,
			const char *remote_id, struct run_status *out)
{
	struct slurm *s = slurm_from(p);
	struct slurm_reply r;
	const json_t *job;
	long long id;
	if (!parse_job_id(remote_id, &id))
		return message_call_fail(c, -ENOENT, "invalid job id \"%s\"",
					 remote_id);
	int rc = get_job(s, c, id, &r, &job);
	if (rc == 0)
		rc = job_status(s, c, job, out);
	slurm_wire_reply_release(&r);
	return rc;
}

struct slurm_index {
	long long id;
	const json_t *job;
};

static int compare_index(const void *a, const void *b)
{
	long long x = ((const struct slurm_index *)a)->id;
	long long y = ((const struct slurm_index *)b)->id;
	return (x > y) - (x < y);
}

/* The jobs of a list answer sorted by id, for bsearch. */
static struct slurm_index *index_jobs(const json_t *jobs, size_t *n_out)
{
	size_t n = 0;
	struct slurm_index *idx =
	    calloc(json_array_size(jobs) + 1, sizeof(*idx));
	for (size_t i = 0; idx && i < json_array_size(jobs); i++) {
		const json_t *job = json_array_get(jobs, i);
		if (slurm_wire_number(json_object_get(job, "job_id"),
				      &idx[n].id))
			idx[n++].job = job;
	}
	if (idx)
		qsort(idx, n, sizeof(*idx), compare_index);
	*n_out = n;
	return idx;
}

static int slurm_status_many(struct platform *p, struct call *c,
			     const char *const *remote_ids,
			     struct run_status *statuses, int *rcs, size_t n)
{
	struct slurm *s = slurm_from(p);
	struct slurm_reply r;
	int rc = slurm_call(s, c, "GET", "/jobs", NULL, true, &r);
	size_t njobs = 0;
	struct slurm_index *idx =
	    rc ? NULL : index_jobs(json_object_get(r.json, "jobs"), &njobs);
	if (rc == 0 && !idx)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct slurm_index key = {0}, *hit = NULL;
		if (parse_job_id(remote_ids[i], &key.id))
			hit = bsearch(&key, idx, njobs, sizeof(*idx),
				      compare_index);
		rcs[i] =
		    hit ? job_status(s, c, hit->job, &statuses[i]) : -ENOENT;
	}
	free(idx);
	slurm_wire_reply_release(&r);
	return rc;
}

/* ---- fetch ---- */

/* Appends the file @src to @fd; a missing @src adds nothing. */
static int append_file(int fd, const char *src)
{
	char buf[65536];
	struct stat st;
	int in = open_job_file(src, &st);
	if (in < 0)
		return in == -ENOENT ? 0 : in;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		for (ssize_t done = 0; rc == 0 && done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));
			rc = w < 0 ? -errno : 0;
			done += w > 0 ? w : 0;
		}
		if (rc)
			break;
	}
	close(in);
	return rc;
}

static bool is_later(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/*
 * Whether @dst already is the concatenation of @srcs: as long, and written
 * after each changed. The core fetches every poll while a run runs, and
 * most polls find the output as it was.
 */
static bool is_current(const char *dst, const char *const *srcs, size_t nsrcs)
{
	struct stat d, st;
	off_t total = 0;
	if (stat(dst, &d) < 0)
		return false;
	for (size_t i = 0; i < nsrcs; i++) {
		if (lstat(srcs[i], &st) < 0) {
			if (errno == ENOENT)
				continue;
			return false;
		}
		if (!S_ISREG(st.st_mode) || !is_later(d.st_mtim, st.st_mtim))
			return false;
		total += st.st_size;
	}
	return total == d.st_size;
}

/* Replaces @dir/@name with the concatenation of @srcs (temp + rename). */
static int write_concat(const char *dir, const char *name,
			const char *const *srcs, size_t nsrcs)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
		(int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	if (is_current(dst, srcs, nsrcs))
		return 0;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nsrcs; i++)
		rc = append_file(fd, srcs[i]);
	if (rc == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, dst) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* The run's directory: cached, else from the job record. */
static int job_dir(struct slurm *s, struct call *c, long long id,
		   char **dir_out)
{
	*dir_out = recall_dir(s, id);
	if (*dir_out)
		return 0;
	struct slurm_reply r;
	const json_t *job;
	int rc = get_job(s, c, id, &r, &job);
	const char *cwd =
	    rc ? "" : slurm_wire_string(job, "current_working_directory");
	if (rc == 0 && !is_ours(s, cwd))
		rc = message_call_fail(
		    c, -ENOENT, "job %lld does not run in \"shared_dir\"", id);
	*dir_out = rc == 0 ? strdup(cwd) : NULL;
	if (rc == 0 && !*dir_out)
		rc = -ENOMEM;
	slurm_wire_reply_release(&r);
	return rc;
}

static int slurm_fetch(struct platform *p, struct call *c,
		       const char *remote_id, const char *output_dir)
{
	struct slurm *s = slurm_from(p);
	long long id;
	char *dir = NULL, out[PATH_MAX], err[PATH_MAX];
	if (!parse_job_id(remote_id, &id))
		return message_call_fail(c, -EINVAL, "invalid job id \"%s\"",
					 remote_id);
	int rc = job_dir(s, c, id, &dir);
	if (rc)
		return rc;
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	const char *srcs[] = {out, err};
	rc = write_concat(output_dir, "result", srcs, 1);
	if (rc == 0)
		rc = write_concat(output_dir, "log", srcs, 2);
	if (rc)
		message_call_fail(
		    c, rc, "cannot copy the output of job %lld from \"%s\": %s",
		    id, dir, strerror(-rc));
	free(dir);
	return rc;
}

/* ---- cancel, health ---- */

static int slurm_cancel(struct platform *p, struct call *c,
			const char *remote_id, const char *reason)
{
	struct slurm *s = slurm_from(p);
	struct slurm_reply r;
	const json_t *job;
	struct run_status st = {.exit_code = -1};
	long long id;
	char path[64];
	if (!parse_job_id(remote_id, &id))
		return message_call_fail(c, -EINVAL, "invalid job id \"%s\"",
					 remote_id);
	/* Slurm accepts cancelling a finished job: look first */
	int rc = get_job(s, c, id, &r, &job);
	if (rc == 0)
		rc = slurm_wire_map_state(json_object_get(job, "job_state"),
					  &st.state, st.platform_state,
					  sizeof(st.platform_state));
	slurm_wire_reply_release(&r);
	if (rc == -ENOENT || (rc == 0 && state_is_terminal(st.state)))
		return message_call_fail(c, -EINVAL, "run already ended");
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/job/%lld", id);
	rc = slurm_call(s, c, "DELETE", path, NULL, true, &r);
	if (rc && (r.code == SLURM_ERR_INVALID_JOB_ID ||
		   r.code == SLURM_ERR_ALREADY_DONE))
		rc = message_call_fail(c, -EINVAL, "run already ended");
	slurm_wire_reply_release(&r);
	if (rc == 0)
		log_info("slurm \"%s\": cancelled job %lld: %s", s->name, id,
			 reason ? reason : "");
	return rc;
}

static int slurm_health(struct platform *p, struct call *c)
{
	struct slurm *s = slurm_from(p);
	struct slurm_reply r;
	int rc = slurm_call(s, c, "GET", "/ping", NULL, true, &r);
	size_t i;
	json_t *ping;
	json_array_foreach(json_object_get(r.json, "pings"), i, ping)
	{
		const char *state = slurm_wire_string(ping, "ping");
		if (rc == 0 && *state && strcmp(state, "UP") != 0)
			rc = message_call_fail(
			    c, -EAGAIN, "slurmctld \"%s\" is %s",
			    slurm_wire_string(ping, "hostname"), state);
	}
	slurm_wire_reply_release(&r);
	return rc;
}

const struct platform_ops slurm_platform = {
    .kind = "slurm",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_LOG,
    .open = slurm_open,
    .close = slurm_close,
    .validate = slurm_validate,
    .submit = slurm_submit,
    .find = slurm_find,
    .status = slurm_status,
    .status_many = slurm_status_many,
    .fetch = slurm_fetch,
    .cancel = slurm_cancel,
    .health = slurm_health,
};
