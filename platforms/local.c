/*
 * The local platform: every run is a process on this host.
 *
 * A run lives in STATE/runs/ID/ (ID is the run key, plus ".ATTEMPT" when a
 * retry reuses the key): work/ is a private copy of the bundle and the
 * job's cwd, and a few small files are written atomically by a supervisor,
 * `jobfs --platform-helper local ...`, one per run:
 *
 *   pid            "PID STARTTIME" of the supervisor; the start time (field
 *                  22 of /proc/PID/stat) guards against pid reuse
 *   exit           "CODE CANCELLED SIGNAL" once the job has ended
 *   lasterr        the job's last stderr line, for the error message
 *   cancel_reason  written by cancel; a supervisor that has not started
 *                  the job yet does not start it
 *   attempt        the attempt number, written by submit
 *   spawn.lock     flock()ed by submit and then by the supervisor: after
 *                  a crash it tells whether a supervisor ever started
 *                  (local_spawn.c)
 *
 * The supervisor is detached from the daemon (double fork, own session),
 * so a run survives a crash or restart of the daemon: it starts the job in
 * its own process group, copies stdout to result and log and stderr to
 * log, turns a SIGTERM from cancel into SIGTERM to the job's group and
 * SIGKILL after the grace period, and finally records the exit status.
 * status and cancel only read these files, so any instance opened on the
 * same state dir, e.g. a restarted daemon's, sees every run.
 *
 * One watcher thread follows the run dirs with inotify and calls
 * env->changed when a pid or exit file appears, so the core does not have
 * to wait for its next poll to see a run start or end.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "program.h"
#include "clock.h"
#include "fsutil.h"
#include "local.h"
#include "local_run.h"
#include "log.h"

#define LOCAL_DEFAULT_GRACE 5.0
#define LOCAL_MAX_GRACE	    86400.0
#define LOCAL_START_WAIT    2.0	 /* submit waits this long for the pid file */
#define LOCAL_STARTING_AGE  10.0 /* a run dir without pid file is starting */

struct local_watch {
	int wd;
	char *id;
};

struct local {
	struct platform base;
	char *runs_dir; /* absolute: the job's cwd changes, paths must not */
	double grace;
	void (*changed)(void *ctx, const char *remote_id);
	void *changed_ctx;
	int inotify_fd;
	int wake_fd; /* eventfd: tells the watcher thread to stop */
	pthread_t watcher;
	pthread_mutex_t lock; /* guards watches */
	struct local_watch *watches;
	size_t nwatches;
	size_t watches_cap;
};

/* A NULL-terminated array of strings it owns (argv, envp). */
struct strv {
	char **v;
	size_t n;
	size_t cap;
};

static struct local *local_from(struct platform *p)
{
	assert(p && p->ops == &local_platform);
	return (struct local *)p;
}

int local_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Run ids are file names we made: refuse anything else (no "../x"). */
static bool is_valid_id(const char *id)
{
	size_t len = id ? strlen(id) : 0;
	if (len == 0 || len > NAME_MAX || id[0] == '.')
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789._-") == len;
}

bool local_has_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	return local_path_join(path, sizeof(path), dir, name) == 0 &&
	       stat(path, &st) == 0;
}

/* Modification time in epoch seconds, 0 when the file is missing. */
static double file_mtime(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	if (local_path_join(path, sizeof(path), dir, name) < 0 ||
	    stat(path, &st) < 0)
		return 0;
	return (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9;
}

static int read_run_file(const char *dir, const char *name, char **text_out)
{
	char path[PATH_MAX];
	int rc = local_path_join(path, sizeof(path), dir, name);
	if (rc < 0)
		return rc;
	return fsutil_read_all(path, LOCAL_SMALL_FILE, text_out, NULL);
}

int local_write_run_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	int rc = local_path_join(path, sizeof(path), dir, name);
	if (rc < 0)
		return rc;
	return fsutil_write_atomic(path, text, strlen(text), 0644);
}

/* State and start time of a process; @pid 0 is this process. */
int local_proc_stat(pid_t pid, char *state_out, unsigned long long *start_out)
{
	char path[64], *text;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	int rc = fsutil_read_all(path, LOCAL_SMALL_FILE, &text, NULL);
	if (rc < 0)
		return rc;
	/* The command name may hold spaces and parens: parse after the last. */
	const char *p = strrchr(text, ')');
	int n = p ? sscanf(p + 1,
			   " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			   "%*s %*s %*s %*s %*s %*s %*s %llu",
			   state_out, start_out)
		  : 0;
	free(text);
	return n == 2 ? 0 : -EPROTO;
}

/* ---- argv and environment ---- */

/* Appends @str, which it takes (NULL means out of memory). */
static int strv_take(struct strv *s, char *str)
{
	if (!str)
		return -ENOMEM;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			free(str);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
}

static int strv_push(struct strv *s, const char *str)
{
	return strv_take(s, strdup(str));
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* The job's environment: the daemon's, with run->env winning. */
static int build_envp(const json_t *env, struct strv *out)
{
	int rc = 0;
	for (char **e = environ; rc == 0 && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && !json_object_getn(env, *e, (size_t)(eq - *e)))
			rc = strv_push(out, *e);
	}
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)env, key, value)
	{
		char *entry;
		if (rc == 0 && asprintf(&entry, "%s=%s", key,
					json_string_value(value)) < 0)
			rc = -ENOMEM;
		else if (rc == 0)
			rc = strv_take(out, entry);
	}
	return rc;
}

/* jobfs --platform-helper local RUNDIR GRACE OUTPUT_DIR -- PROGRAM ARGS */
static int build_argv(const struct local *l, const char *rundir,
		      const char *output_dir, const struct program_entry *e,
		      const char *program, const json_t *args, struct strv *out)
{
	char grace[32];
	snprintf(grace, sizeof(grace), "%.3f", l->grace);
	const char *head[] = {"jobfs", "--platform-helper", "local", rundir,
			      grace,   output_dir,	    "--"};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < sizeof(head) / sizeof(head[0]); i++)
		rc = strv_push(out, head[i]);
	for (size_t i = 0; rc == 0 && e->interp && e->interp[i]; i++)
		rc = strv_push(out, e->interp[i]);
	if (rc == 0)
		rc = strv_push(out, program);
	for (size_t i = 0; rc == 0 && i < json_array_size(args); i++)
		rc = strv_push(out, json_string_value(json_array_get(args, i)));
	return rc;
}

/* ---- validation ---- */

/* Typos must not pass silently: this platform takes no conf at all. */
static int check_conf(const json_t *conf, char *err, size_t errlen)
{
	void *it = json_object_iter((json_t *)conf);
	if (!it)
		return 0;
	return message_fail(
	    err, errlen, -EINVAL,
	    "unknown conf field \"%s\"\nthe local platform takes no conf",
	    json_object_iter_key(it));
}

/* Without a bundle the entry point is a program already on this host. */
static int resolve_on_host(const struct run_spec *run, struct program_entry *e,
			   char *err, size_t errlen)
{
	const char *ep = run->entry_point;
	struct stat st;
	if (!ep || !*ep)
		return message_fail(
		    err, errlen, -EINVAL,
		    "nothing to run: no bundle and no entry point");
	if (ep[0] != '/')
		return message_fail(
		    err, errlen, -EINVAL,
		    "entry point \"%s\" is not an absolute path\nwithout "
		    "a bundle it must name a file on this host",
		    ep);
	if (stat(ep, &st) < 0 || !S_ISREG(st.st_mode) ||
	    snprintf(e->file, sizeof(e->file), "%s", ep) >=
		(int)sizeof(e->file))
		return message_fail(err, errlen, -EINVAL,
				    "entry point \"%s\" not found", ep);
	e->interp = program_interpreter(ep);
	if (e->interp || access(ep, X_OK) == 0)
		return 0;
	return message_fail(err, errlen, -EINVAL,
			    "entry point \"%s\" is not executable", ep);
}

/* The interpreter is looked up in the job's PATH, as execvp() will. */
static int check_interpreter(const struct run_spec *run,
			     const struct program_entry *e, char *err,
			     size_t errlen)
{
	if (!e->interp)
		return 0;
	const char *path = json_string_value(json_object_get(run->env, "PATH"));
	if (!path)
		path = getenv("PATH");
	if (program_is_in_path(e->interp[0], path ? path : "/usr/bin:/bin"))
		return 0;
	return message_fail(err, errlen, -EINVAL,
			    "cannot run \"%s\": \"%s\" not found in PATH",
			    run->entry_point, e->interp[0]);
}

static int prepare(const struct run_spec *run, struct program_entry *e,
		   char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	int rc = program_check_args(run->args, err, errlen);
	if (rc == 0)
		rc = program_check_env(run->env, err, errlen);
	if (rc == 0)
		rc = check_conf(run->conf, err, errlen);
	if (rc == 0 && run->bundle_dir)
		rc = program_resolve_in_bundle(
		    run->bundle_dir, run->entry_point, e, err, errlen);
	else if (rc == 0)
		rc = resolve_on_host(run, e, err, errlen);
	if (rc == 0)
		rc = check_interpreter(run, e, err, errlen);
	return rc;
}

static int local_validate(struct platform *p, struct call *c,
			  const struct run_spec *run)
{
	struct program_entry e;
	(void)local_from(p); /* checks the instance */
	return prepare(run, &e, c->err, sizeof(c->err));
}

/* ---- the watcher thread ---- */

/* Watches @rundir for pid and exit; returns the watch or -errno. */
static int watch_run(struct local *l, const char *id, const char *rundir)
{
	int wd =
	    inotify_add_watch(l->inotify_fd, rundir, IN_MOVED_TO | IN_ONLYDIR);
	if (wd < 0) {
		int rc = -errno;
		log_warn("cannot watch run \"%s\": %s", id, strerror(-rc));
		return rc;
	}
	int rc = 0;
	pthread_mutex_lock(&l->lock);
	if (l->nwatches == l->watches_cap) {
		size_t cap = l->watches_cap ? l->watches_cap * 2 : 16;
		struct local_watch *w = realloc(l->watches, cap * sizeof(*w));
		rc = w ? 0 : -ENOMEM;
		if (w) {
			l->watches = w;
			l->watches_cap = cap;
		}
	}
	char *copy = rc == 0 ? strdup(id) : NULL;
	if (copy)
		l->watches[l->nwatches++] = (struct local_watch){wd, copy};
	else
		inotify_rm_watch(l->inotify_fd, wd);
	pthread_mutex_unlock(&l->lock);
	return copy ? wd : -ENOMEM;
}

/*
 * Forgets the watch @wd; with @remove also drops it from inotify. Returns
 * its run id (caller frees) when @want_id, NULL when unknown.
 */
static char *unwatch(struct local *l, int wd, bool remove, bool want_id)
{
	char *id = NULL;
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < l->nwatches; i++) {
		if (l->watches[i].wd != wd)
			continue;
		if (want_id)
			id = strdup(l->watches[i].id);
		free(l->watches[i].id);
		l->watches[i] = l->watches[--l->nwatches];
		if (remove)
			inotify_rm_watch(l->inotify_fd, wd);
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return id;
}

static void on_event(struct local *l, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		log_warn(
		    "local: inotify queue overflow, the poller catches up");
	if (ev->mask & IN_IGNORED) {
		free(unwatch(l, ev->wd, false, false));
		return;
	}
	bool is_exit = ev->len && strcmp(ev->name, "exit") == 0;
	if (!is_exit && !(ev->len && strcmp(ev->name, "started") == 0))
		return;
	char *id = NULL;
	if (is_exit) {
		id = unwatch(l, ev->wd, true, true);
	} else {
		pthread_mutex_lock(&l->lock);
		for (size_t i = 0; !id && i < l->nwatches; i++)
			if (l->watches[i].wd == ev->wd)
				id = strdup(l->watches[i].id);
		pthread_mutex_unlock(&l->lock);
	}
	if (id && l->changed)
		l->changed(l->changed_ctx, id);
	free(id);
}

static void drain_events(struct local *l)
{
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(l->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;
			on_event(l, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void *watch_main(void *arg)
{
	struct local *l = arg;
	struct pollfd pfd[2] = {{.fd = l->inotify_fd, .events = POLLIN},
				{.fd = l->wake_fd, .events = POLLIN}};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("local: watcher stops: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents)
			drain_events(l);
	}
	return NULL;
}

/* After a restart: watch the runs that have not ended yet. */
static int watch_unfinished(struct local *l)
{
	DIR *dir = opendir(l->runs_dir);
	if (!dir)
		return -errno;
	struct dirent *de;
	while ((de = readdir(dir))) {
		char rundir[PATH_MAX];
		struct stat st;
		if (!is_valid_id(de->d_name) ||
		    local_path_join(rundir, sizeof(rundir), l->runs_dir,
				    de->d_name) < 0 ||
		    stat(rundir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    local_has_file(rundir, "exit"))
			continue;
		int wd = watch_run(l, de->d_name, rundir);
		/* It may have ended before the watch existed. */
		if (wd >= 0 && local_has_file(rundir, "exit"))
			free(unwatch(l, wd, true, false));
	}
	closedir(dir);
	return 0;
}

/* ---- open and close ---- */

static int parse_fields(const json_t *fields, double *grace_out, char *err,
			size_t errlen)
{
	const char *key;
	json_t *value;
	*grace_out = LOCAL_DEFAULT_GRACE;
	json_object_foreach((json_t *)fields, key, value)
	{
		if (strcmp(key, "kind") == 0)
			continue;
		if (strcmp(key, "grace") != 0)
			return message_fail(
			    err, errlen, -EINVAL,
			    "unknown field \"%s\"\nthe local platform "
			    "takes: kind, grace",
			    key);
		*grace_out =
		    json_is_number(value) ? json_number_value(value) : -1;
		if (*grace_out < 0 || *grace_out > LOCAL_MAX_GRACE)
			return message_fail(
			    err, errlen, -EINVAL,
			    "invalid field \"grace\"\nseconds between "
			    "SIGTERM and SIGKILL, 0 to %.0f",
			    LOCAL_MAX_GRACE);
	}
	return 0;
}

static void local_free(struct local *l)
{
	for (size_t i = 0; i < l->nwatches; i++)
		free(l->watches[i].id);
	free(l->watches);
	if (l->inotify_fd >= 0)
		close(l->inotify_fd);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->lock);
	free(l->runs_dir);
	free(l);
}

static int make_runs_dir(struct local *l, const char *state_dir, char *err,
			 size_t errlen)
{
	char *abs = realpath(state_dir, NULL);
	int rc = abs ? 0 : -errno;
	if (rc == 0 && asprintf(&l->runs_dir, "%s/runs", abs) < 0) {
		l->runs_dir = NULL;
		rc = -ENOMEM;
	}
	if (rc == 0)
		rc = fsutil_mkdir_p(l->runs_dir, 0700);
	if (rc < 0)
		message_fail(err, errlen, rc,
			     "cannot open state dir \"%s\": %s", state_dir,
			     strerror(-rc));
	free(abs);
	return rc;
}

static int start_watcher(struct local *l, char *err, size_t errlen)
{
	l->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = l->inotify_fd < 0 || l->wake_fd < 0 ? -errno : 0;
	if (rc == 0)
		rc = watch_unfinished(l);
	if (rc == 0)
		rc = -pthread_create(&l->watcher, NULL, watch_main, l);
	if (rc < 0)
		message_fail(err, errlen, rc, "cannot watch runs in \"%s\": %s",
			     l->runs_dir, strerror(-rc));
	return rc;
}

static int local_open(const struct platform_env *env, struct platform **out,
		      char *err, size_t errlen)
{
	double grace;
	int rc = parse_fields(env->fields, &grace, err, errlen);
	if (rc < 0)
		return rc;
	struct local *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base.ops = &local_platform;
	l->grace = grace;
	l->changed = env->changed;
	l->changed_ctx = env->changed_ctx;
	l->inotify_fd = l->wake_fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	rc = make_runs_dir(l, env->state_dir, err, errlen);
	if (rc == 0)
		rc = start_watcher(l, err, errlen);
	if (rc < 0) {
		local_free(l);
		return rc;
	}
	*out = &l->base;
	return 0;
}

static void local_close(struct platform *p)
{
	if (!p)
		return;
	struct local *l = local_from(p);
	uint64_t one = 1;
	/* An eventfd write fails only when the counter would overflow. */
	ssize_t n = write(l->wake_fd, &one, sizeof(one));
	(void)n;
	pthread_join(l->watcher, NULL);
	local_free(l);
}

/* ---- submit ---- */

/* Reserves runs/ID: the key, or the key and attempt for a retry. */
static int make_run_dir(const struct local *l, const struct run_spec *run,
			char *id, size_t idlen, char *rundir, size_t dirlen)
{
	for (int n = 1; n < 100; n++) {
		int len = n == 1   ? snprintf(id, idlen, "%s", run->run_key)
			  : n == 2 ? snprintf(id, idlen, "%s.%d", run->run_key,
					      run->attempt)
				   : snprintf(id, idlen, "%s.%d.%d",
					      run->run_key, run->attempt, n);
		if (len < 0 || (size_t)len >= idlen ||
		    local_path_join(rundir, dirlen, l->runs_dir, id) < 0)
			return -ENAMETOOLONG;
		if (mkdir(rundir, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* The job's cwd: a copy of the bundle, or an empty dir. */
static int make_work_dir(const struct run_spec *run,
			 const struct program_entry *e, const char *rundir,
			 char *program, size_t len, char *err, size_t errlen)
{
	char work[PATH_MAX];
	struct stat st;
	int rc = local_path_join(work, sizeof(work), rundir, "work");
	if (rc == 0 && !run->bundle_dir) {
		rc = mkdir(work, 0700) < 0 ? -errno : 0;
		snprintf(program, len, "%s", e->file);
	} else if (rc == 0) {
		rc = fsutil_copy_tree(run->bundle_dir, work);
		if (rc == 0)
			rc = local_path_join(program, len, work,
					     run->entry_point);
		if (rc == 0 && e->needs_exec_bit &&
		    (stat(program, &st) < 0 ||
		     chmod(program, (st.st_mode & 07777) | S_IXUSR) < 0))
			rc = -errno;
	}
	if (rc < 0)
		message_fail(err, errlen, rc,
			     "cannot prepare the work dir of \"%s\": %s",
			     run->run_key, strerror(-rc));
	return rc;
}

static int start_supervisor(const struct local *l, const struct run_spec *run,
			    const struct program_entry *e, const char *rundir,
			    const char *program, int lock_fd, char *err,
			    size_t errlen)
{
	struct strv argv = {0}, envp = {0};
	char *output_dir = NULL;
	int rc =
	    run->output_dir ? fsutil_mkdir_p(run->output_dir, 0755) : -EINVAL;
	if (rc == 0 && !(output_dir = realpath(run->output_dir, NULL)))
		rc = -errno;
	if (rc == 0)
		rc = build_argv(l, rundir, output_dir, e, program, run->args,
				&argv);
	if (rc == 0)
		rc = build_envp(run->env, &envp);
	if (rc == 0)
		rc = local_spawn(argv.v, envp.v, lock_fd);
	if (rc < 0)
		message_fail(err, errlen, rc, "cannot start run \"%s\": %s",
			     run->run_key, strerror(-rc));
	free(output_dir);
	strv_free(&argv);
	strv_free(&envp);
	return rc;
}

/* So that a status right after submit already sees the run running. */
static void wait_started(const char *rundir, double deadline)
{
	double until = clock_mono() + LOCAL_START_WAIT;
	if (deadline > 0 && deadline < until)
		until = deadline;
	struct timespec tick = {0, 5 * 1000 * 1000};
	while (!local_has_file(rundir, "started") &&
	       !local_has_file(rundir, "exit") && clock_mono() < until)
		nanosleep(&tick, NULL);
}

static int local_submit(struct platform *p, struct call *c,
			const struct run_spec *run, char **remote_id_out)
{
	struct local *l = local_from(p);
	struct program_entry e;
	char id[NAME_MAX + 1], rundir[PATH_MAX], program[PATH_MAX];
	int rc = prepare(run, &e, c->err, sizeof(c->err));
	if (rc < 0)
		return rc;
	if (!is_valid_id(run->run_key))
		return message_call_fail(c, -EINVAL, "invalid run key \"%s\"",
					 run->run_key ? run->run_key : "");
	rc = make_run_dir(l, run, id, sizeof(id), rundir, sizeof(rundir));
	if (rc < 0)
		return message_call_fail(c, rc,
					 "cannot create run dir for \"%s\": %s",
					 run->run_key, strerror(-rc));
	char *remote_id = strdup(id), attempt[16];
	int wd = watch_run(l, id, rundir); /* before the pid file can exist */
	int lock_fd = -1;
	snprintf(attempt, sizeof(attempt), "%d\n", run->attempt);
	rc = remote_id ? local_spawn_lock(rundir, &lock_fd) : -ENOMEM;
	if (rc == 0)
		rc = local_write_run_file(rundir, "attempt", attempt);
	if (rc == 0)
		rc = make_work_dir(run, &e, rundir, program, sizeof(program),
				   c->err, sizeof(c->err));
	if (rc == 0)
		rc = start_supervisor(l, run, &e, rundir, program, lock_fd,
				      c->err, sizeof(c->err));
	if (lock_fd >= 0)
		close(lock_fd); /* the supervisor holds it now, if it runs */
	if (rc < 0) {
		if (wd >= 0)
			free(unwatch(l, wd, true, false));
		fsutil_rm_rf(rundir);
		free(remote_id);
		return rc;
	}
	wait_started(rundir, c->deadline);
	*remote_id_out = remote_id;
	return 0;
}

/* The attempt number a run dir records, or -1. */
static int parse_attempt(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);
	return end != text && (*end == '\n' || *end == '\0') ? (int)v : -1;
}

/*
 * A run dir that records the attempt: adopted (its id into @found) when a
 * supervisor was started in it; removed when none ever was, since then the
 * job never ran and submitting it again is safe.
 */
static void adopt_or_drop(const char *rundir, const char *id, char *found,
			  size_t len)
{
	if (local_spawn_probe(rundir) == LOCAL_SPAWN_NEVER)
		fsutil_rm_rf(rundir);
	else
		snprintf(found, len, "%s", id);
}

/*
 * The run dir an interrupted submit of this attempt made, if any: the
 * same names make_run_dir() tries, the last one that records the attempt
 * and where a supervisor was started.
 */
static int local_find(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct local *l = local_from(p);
	char id[NAME_MAX + 1], rundir[PATH_MAX], found[NAME_MAX + 1] = "";
	for (int n = 1; n < 100; n++) {
		int len = n == 1 ? snprintf(id, sizeof(id), "%s", run->run_key)
			  : n == 2 ? snprintf(id, sizeof(id), "%s.%d",
					      run->run_key, run->attempt)
				   : snprintf(id, sizeof(id), "%s.%d.%d",
					      run->run_key, run->attempt, n);
		char *attempt = NULL;
		if (len < 0 || (size_t)len >= sizeof(id) ||
		    local_path_join(rundir, sizeof(rundir), l->runs_dir, id) <
			0)
			break;
		if (read_run_file(rundir, "attempt", &attempt) == 0 &&
		    parse_attempt(attempt) == run->attempt)
			adopt_or_drop(rundir, id, found, sizeof(found));
		free(attempt);
	}
	if (!found[0])
		return message_call_fail(c, -ENOENT, "no run for \"%s\"",
					 run->run_key);
	*remote_id_out = strdup(found);
	return *remote_id_out ? 0 : -ENOMEM;
}

/* ---- status and cancel ---- */

static bool is_young(const char *rundir)
{
	return clock_wall() - file_mtime(rundir, ".") < LOCAL_STARTING_AGE;
}

/* "exited with status 3: last stderr line" */
static char *failure_text(const char *rundir, int code, int sig)
{
	char reason[64], *lasterr = NULL, *text;
	if (sig) {
		const char *name = sigabbrev_np(sig);
		snprintf(reason, sizeof(reason), "killed by signal %d (SIG%s)",
			 sig, name ? name : "?");
	} else {
		snprintf(reason, sizeof(reason), "exited with status %d", code);
	}
	read_run_file(rundir, "lasterr", &lasterr);
	size_t len = lasterr ? strcspn(lasterr, "\n") : 0;
	int n = len ? asprintf(&text, "%s: %.*s", reason, (int)len, lasterr)
		    : asprintf(&text, "%s", reason);
	free(lasterr);
	return n < 0 ? NULL : text;
}

static int fill_ended(const char *rundir, const char *text,
		      struct run_status *out)
{
	int code, cancelled, sig = 0;
	int n = sscanf(text, "%d %d %d", &code, &cancelled, &sig);
	if (n < 2 || code < -1 || code > 255 || sig < 0 || sig >= NSIG)
		return -EPROTO;
	out->exit_code = code;
	out->started_at = file_mtime(rundir, "pid");
	out->ended_at = file_mtime(rundir, "exit");
	const char *name = sig ? "killed" : "exited";
	if (cancelled) {
		out->state = RUN_CANCELLED;
		name = "cancelled";
	} else if (code == 0 && sig == 0) {
		out->state = RUN_SUCCEEDED;
	} else {
		out->state = RUN_FAILED;
		out->error = failure_text(rundir, code, sig);
		if (!out->error)
			return -ENOMEM;
	}
	snprintf(out->platform_state, sizeof(out->platform_state), "%s", name);
	return 0;
}

/* 0 with @out filled when the run has ended, -ENOENT when it has not. */
static int status_ended(const char *rundir, const char *id,
			struct run_status *out, struct call *c)
{
	char *text;
	int rc = read_run_file(rundir, "exit", &text);
	if (rc < 0 && rc != -ENOENT)
		message_call_fail(c, rc, "cannot read run \"%s\": %s", id,
				  strerror(-rc));
	if (rc < 0)
		return rc;
	rc = fill_ended(rundir, text, out);
	free(text);
	if (rc == -EPROTO)
		message_call_fail(
		    c, rc, "cannot parse the exit file of run \"%s\"", id);
	return rc;
}

static void set_active(struct run_status *out, enum run_state state,
		       const char *name)
{
	out->state = state;
	snprintf(out->platform_state, sizeof(out->platform_state), "%s", name);
}

/* Finds runs/ID; -ENOENT with c->err when there is no such run. */
static int find_run(const struct local *l, struct call *c, const char *id,
		    char *rundir, size_t len)
{
	struct stat st;
	if (is_valid_id(id) &&
	    local_path_join(rundir, len, l->runs_dir, id) == 0 &&
	    stat(rundir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return message_call_fail(c, -ENOENT, "no run \"%s\"", id ? id : "");
}

static int local_status(struct platform *p, struct call *c,
			const char *remote_id, struct run_status *out)
{
	struct local *l = local_from(p);
	char rundir[PATH_MAX];
	pid_t pid;
	*out = (struct run_status){.exit_code = -1};
	int rc = find_run(l, c, remote_id, rundir, sizeof(rundir));
	if (rc < 0)
		return rc;
	rc = status_ended(rundir, remote_id, out, c);
	if (rc != -ENOENT)
		return rc;
	enum local_supervisor sup = local_supervisor_state(rundir, &pid);
	if (sup == LOCAL_SUPERVISOR_ALIVE &&
	    local_has_file(rundir, "started")) {
		set_active(out, RUN_RUNNING, "running");
		out->started_at = file_mtime(rundir, "started");
		return 0;
	}
	if (sup == LOCAL_SUPERVISOR_ALIVE) {
		set_active(out, RUN_QUEUED, "starting");
		return 0;
	}
	/* It may have written exit and gone since we looked. */
	rc = status_ended(rundir, remote_id, out, c);
	if (rc != -ENOENT)
		return rc;
	if (sup == LOCAL_SUPERVISOR_MISSING && is_young(rundir)) {
		set_active(out, RUN_QUEUED, "starting");
		return 0;
	}
	set_active(out, RUN_LOST, "gone");
	out->error = strdup("supervisor process gone");
	return out->error ? 0 : -ENOMEM;
}

/*
 * The reason is written before the signal, and before a second look at a
 * missing pid file: the supervisor writes its pid file before it checks
 * for cancel_reason, so one of the two always sees the other.
 */
static int local_cancel(struct platform *p, struct call *c,
			const char *remote_id, const char *reason)
{
	struct local *l = local_from(p);
	char rundir[PATH_MAX];
	pid_t pid = 0;
	int rc = find_run(l, c, remote_id, rundir, sizeof(rundir));
	if (rc < 0)
		return rc;
	enum local_supervisor sup = local_supervisor_state(rundir, &pid);
	if (local_has_file(rundir, "exit") || sup == LOCAL_SUPERVISOR_GONE ||
	    (sup == LOCAL_SUPERVISOR_MISSING && !is_young(rundir)))
		return message_call_fail(c, -EINVAL, "run already ended");
	rc =
	    local_write_run_file(rundir, "cancel_reason", reason ? reason : "");
	if (rc < 0)
		return message_call_fail(
		    c, rc, "cannot record cancel of run \"%s\": %s", remote_id,
		    strerror(-rc));
	if (sup == LOCAL_SUPERVISOR_MISSING &&
	    local_supervisor_state(rundir, &pid) != LOCAL_SUPERVISOR_ALIVE)
		return 0;
	if (kill(pid, SIGTERM) == 0)
		return 0;
	if (errno == ESRCH)
		return message_call_fail(c, -EINVAL, "run already ended");
	rc = -errno;
	return message_call_fail(c, rc, "cannot cancel run \"%s\": %s",
				 remote_id, strerror(-rc));
}

/* Removes an ended run's dir, work/ and the small files: retention. */
static int local_forget(struct platform *p, struct call *c,
			const char *remote_id)
{
	char rundir[PATH_MAX];
	pid_t pid;
	if (find_run(local_from(p), c, remote_id, rundir, sizeof(rundir)) < 0)
		return 0; /* nothing left */
	int rc = local_supervisor_state(rundir, &pid) == LOCAL_SUPERVISOR_ALIVE
		     ? -EBUSY
		     : fsutil_rm_rf(rundir);
	return rc ? message_call_fail(c, rc, "cannot remove \"%s\": %s", rundir,
				      strerror(-rc))
		  : 0;
}

static int local_health(struct platform *p, struct call *c)
{
	struct local *l = local_from(p);
	if (access(l->runs_dir, W_OK | X_OK) == 0)
		return 0;
	int rc = -errno;
	return message_call_fail(c, rc, "cannot write \"%s\": %s", l->runs_dir,
				 strerror(-rc));
}

const struct platform_ops local_platform = {
    .kind = "local",
    .caps = PLATFORM_CAP_LOG,
    .open = local_open,
    .close = local_close,
    .validate = local_validate,
    .submit = local_submit,
    .find = local_find,
    .status = local_status,
    .status_many = NULL,
    .fetch = NULL,
    .cancel = local_cancel,
    .forget = local_forget,
    .health = local_health,
    .helper_main = local_supervise,
};
