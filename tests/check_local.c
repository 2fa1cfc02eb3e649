/*
 * The local platform with real processes: output split, exit codes, argv
 * without a shell, merged env, private cwd, interpreters, cancel with and
 * without the grace period, runs outliving a killed daemon, and the
 * changed() callback. Each test has its own temp dir.
 *
 * submit() starts the supervisor as /proc/self/exe, i.e. this program, so
 * main() dispatches `--platform-helper local ...` like the daemon's does.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "clock.h"
#include "fsutil.h"
#include "local.h"

/* What the changed() callback saw. */
struct changes {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int count;
};

struct fixture {
	char root[PATH_MAX];
	char state[PATH_MAX + 16];
	char bundle[PATH_MAX + 16];
	char out[PATH_MAX + 16];
	struct platform *p;
	struct call c;
	struct changes changes;
};

static struct fixture fx;

static void on_changed(void *ctx, const char *remote_id)
{
	struct changes *ch = ctx;
	pthread_mutex_lock(&ch->lock);
	ch->count++;
	pthread_cond_broadcast(&ch->cond);
	pthread_mutex_unlock(&ch->lock);
}

/* Whether at least @n calls happened within @timeout seconds. */
static bool wait_changes(struct changes *ch, int n, double timeout)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)timeout;
	pthread_mutex_lock(&ch->lock);
	int rc = 0;
	while (ch->count < n && rc == 0)
		rc = pthread_cond_timedwait(&ch->cond, &ch->lock, &until);
	bool ok = ch->count >= n;
	pthread_mutex_unlock(&ch->lock);
	return ok;
}

static int open_local(const char *fields_json, struct platform **out, char *err,
		      size_t errlen)
{
	json_t *fields = json_loads(fields_json, 0, NULL);
	ck_assert_ptr_nonnull(fields);
	struct platform_env env = {.name = "here",
				   .state_dir = fx.state,
				   .fields = fields,
				   .changed = on_changed,
				   .changed_ctx = &fx.changes};
	int rc = local_platform.open(&env, out, err, errlen);
	json_decref(fields);
	return rc;
}

static void setup(void)
{
	snprintf(fx.root, sizeof(fx.root), "/tmp/check_local.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx.root));
	snprintf(fx.state, sizeof(fx.state), "%s/state", fx.root);
	snprintf(fx.bundle, sizeof(fx.bundle), "%s/app", fx.root);
	snprintf(fx.out, sizeof(fx.out), "%s/out", fx.root);
	ck_assert_int_eq(mkdir(fx.state, 0700), 0);
	ck_assert_int_eq(mkdir(fx.bundle, 0755), 0);
	pthread_mutex_init(&fx.changes.lock, NULL);
	pthread_cond_init(&fx.changes.cond, NULL);
	fx.changes.count = 0;
	char err[256] = "";
	ck_assert_int_eq(open_local("{\"kind\":\"local\",\"grace\":1}", &fx.p,
				    err, sizeof(err)),
			 0);
	fx.c = (struct call){.deadline = clock_mono() + 30};
}

static void teardown(void)
{
	local_platform.close(fx.p);
	fsutil_rm_rf(fx.root);
}

static void write_file(const char *dir, const char *name, const char *text,
		       mode_t mode)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(fsutil_write_atomic(path, text, strlen(text), mode),
			 0);
}

/* The file's content (caller frees), or NULL when it does not exist. */
static char *read_file(const char *dir, const char *name)
{
	char path[PATH_MAX * 2], *text;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return fsutil_read_all(path, 1 << 20, &text, NULL) == 0 ? text : NULL;
}

static void run_dir(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/runs/%s", fx.state, id);
}

static struct run_spec spec(const char *key, const char *entry)
{
	return (struct run_spec){.job_name = "t",
				 .run_key = key,
				 .bundle_dir = fx.bundle,
				 .entry_point = entry,
				 .output_dir = fx.out,
				 .attempt = 1};
}

static char *submit(struct platform *p, const struct run_spec *r)
{
	char *id = NULL;
	int rc = local_platform.submit(p, &fx.c, r, &id);
	ck_assert_msg(rc == 0, "submit: %d %s", rc, fx.c.err);
	ck_assert_ptr_nonnull(id);
	return id;
}

/* Polls status until the run ends; fails after @timeout seconds. */
static struct run_status wait_end(struct platform *p, const char *id,
				  double timeout)
{
	double until = clock_mono() + timeout;
	struct run_status st;
	struct timespec tick = {0, 20 * 1000 * 1000};
	for (;;) {
		ck_assert_int_eq(local_platform.status(p, &fx.c, id, &st), 0);
		if (state_is_terminal(st.state))
			return st;
		ck_assert_msg(clock_mono() < until, "run %s did not end", id);
		nanosleep(&tick, NULL);
	}
}

/* Runs @script as main.sh with @args and waits for its end. */
static struct run_status run_script(const char *script, json_t *args,
				    json_t *env, char **id_out)
{
	write_file(fx.bundle, "main.sh", script, 0644);
	struct run_spec r = spec("t.1", "main.sh");
	r.args = args;
	r.env = env;
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	if (id_out)
		*id_out = id;
	else
		free(id);
	return st;
}

static void wait_for_file(const char *dir, const char *name, double timeout)
{
	double until = clock_mono() + timeout;
	struct timespec tick = {0, 10 * 1000 * 1000};
	char *text;
	while (!(text = read_file(dir, name)) || !*text) {
		free(text);
		ck_assert_msg(clock_mono() < until, "no %s/%s", dir, name);
		nanosleep(&tick, NULL);
	}
	free(text);
}

START_TEST(success_splits_stdout_and_stderr)
{
	struct run_status st =
	    run_script("echo out; echo err >&2; echo more\n", NULL, NULL, NULL);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	ck_assert_int_eq(st.exit_code, 0);
	ck_assert_str_eq(st.platform_state, "exited");
	ck_assert_ptr_null(st.error);
	ck_assert(st.started_at > 0 && st.ended_at >= st.started_at);
	char *result = read_file(fx.out, "result");
	char *log = read_file(fx.out, "log");
	ck_assert_str_eq(result, "out\nmore\n");
	ck_assert_ptr_nonnull(strstr(log, "out\n"));
	ck_assert_ptr_nonnull(strstr(log, "err\n"));
	ck_assert_ptr_nonnull(strstr(log, "more\n"));
	ck_assert_uint_eq(strlen(log), strlen("out\nerr\nmore\n"));
	free(result);
	free(log);
}
END_TEST

START_TEST(failure_reports_status_and_last_stderr_line)
{
	struct run_status st = run_script(
	    "echo first >&2; echo 'bad thing' >&2; echo >&2; exit 3\n", NULL,
	    NULL, NULL);
	ck_assert_int_eq(st.state, RUN_FAILED);
	ck_assert_int_eq(st.exit_code, 3);
	ck_assert_str_eq(st.platform_state, "exited");
	ck_assert_str_eq(st.error, "exited with status 3: bad thing");
	free(st.error);
}
END_TEST

START_TEST(death_by_signal_is_128_plus_n)
{
	struct run_status st =
	    run_script("echo oops >&2; kill -9 $$\n", NULL, NULL, NULL);
	ck_assert_int_eq(st.state, RUN_FAILED);
	ck_assert_int_eq(st.exit_code, 137);
	ck_assert_str_eq(st.platform_state, "killed");
	ck_assert_str_eq(st.error, "killed by signal 9 (SIGKILL): oops");
	free(st.error);
}
END_TEST

START_TEST(args_are_passed_without_a_shell)
{
	char pwned[PATH_MAX * 2], evil[PATH_MAX * 3], expect[PATH_MAX * 4];
	snprintf(pwned, sizeof(pwned), "%s/pwned", fx.root);
	snprintf(evil, sizeof(evil), "$(touch %s); *", pwned);
	json_t *args = json_pack("[s,s,s,s]", evil, "a  b", "", "'q\"");
	struct run_status st =
	    run_script("for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n",
		       args, NULL, NULL);
	json_decref(args);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	snprintf(expect, sizeof(expect), "[%s]\n[a  b]\n[]\n['q\"]\n", evil);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, expect);
	free(result);
	ck_assert_int_ne(access(pwned, F_OK), 0);
}
END_TEST

/* env(1) prints the environment as received: duplicates would show. */
START_TEST(env_is_merged_and_run_env_wins)
{
	setenv("JOBFS_CHECK_INHERITED", "daemon", 1);
	setenv("JOBFS_CHECK_OVERRIDDEN", "daemon", 1);
	json_t *env = json_pack("{s:s,s:s}", "GREETING", "hi there",
				"JOBFS_CHECK_OVERRIDDEN", "job");
	struct run_spec r = spec("t.1", "/usr/bin/env");
	r.bundle_dir = NULL;
	r.env = env;
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	json_decref(env);
	free(id);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	char *result = read_file(fx.out, "result");
	ck_assert_ptr_nonnull(strstr(result, "\nGREETING=hi there\n"));
	ck_assert_ptr_nonnull(
	    strstr(result, "\nJOBFS_CHECK_INHERITED=daemon\n"));
	char *job = strstr(result, "\nJOBFS_CHECK_OVERRIDDEN=");
	ck_assert_ptr_nonnull(job);
	ck_assert_int_eq(strncmp(job, "\nJOBFS_CHECK_OVERRIDDEN=job\n", 28), 0);
	ck_assert_ptr_null(strstr(job + 1, "\nJOBFS_CHECK_OVERRIDDEN="));
	ck_assert(strncmp(result, "PATH=", 5) == 0 ||
		  strstr(result, "\nPATH="));
	free(result);
}
END_TEST

START_TEST(cwd_is_a_private_copy_per_run)
{
	const char *script = "if [ -e made.txt ]; then echo stale; else echo "
			     "fresh; fi; echo x > made.txt; pwd\n";
	char *id1, *id2, work[PATH_MAX * 2], expect[PATH_MAX * 3];
	struct run_status st = run_script(script, NULL, NULL, &id1);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	struct run_spec r = spec("t.2", "main.sh");
	id2 = submit(fx.p, &r);
	st = wait_end(fx.p, id2, 10);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	run_dir(id2, work, sizeof(work));
	snprintf(expect, sizeof(expect), "fresh\n%s/work\n", work);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, expect);
	free(result);
	char *made = read_file(fx.bundle, "made.txt");
	ck_assert_ptr_null(made);
	free(id1);
	free(id2);
}
END_TEST

START_TEST(python_runs_by_extension)
{
	write_file(fx.bundle, "main.py",
		   "import sys\nprint('py', sys.argv[1:])\n", 0644);
	struct run_spec r = spec("t.1", "main.py");
	json_t *args = json_pack("[s]", "a b");
	r.args = args;
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	json_decref(args);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, "py ['a b']\n");
	free(result);
	free(id);
}
END_TEST

START_TEST(shebang_without_exec_bit_runs)
{
	write_file(fx.bundle, "tool", "#!/bin/sh\necho shebang \"$1\"\n", 0644);
	struct run_spec r = spec("t.1", "tool");
	json_t *args = json_pack("[s]", "x");
	r.args = args;
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	json_decref(args);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, "shebang x\n");
	free(result);
	free(id);
	struct stat sb;
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/tool", fx.bundle);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0644); /* the bundle is untouched */
}
END_TEST

START_TEST(program_on_host_without_bundle)
{
	struct run_spec r = spec("t.1", "/bin/echo");
	r.bundle_dir = NULL;
	json_t *args = json_pack("[s,s]", "hello", "$HOME");
	r.args = args;
	ck_assert_int_eq(local_platform.validate(fx.p, &fx.c, &r), 0);
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	json_decref(args);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, "hello $HOME\n");
	free(result);
	free(id);
}
END_TEST

START_TEST(exec_failure_is_127_with_reason)
{
	write_file(fx.bundle, "tool", "#!/nonexistent/interp\n", 0755);
	struct run_spec r = spec("t.1", "tool");
	char *id = submit(fx.p, &r);
	struct run_status st = wait_end(fx.p, id, 10);
	ck_assert_int_eq(st.state, RUN_FAILED);
	ck_assert_int_eq(st.exit_code, 127);
	ck_assert_msg(strstr(st.error, "exited with status 127: jobfs: "
				       "cannot run"),
		      "%s", st.error);
	free(st.error);
	free(id);
}
END_TEST

START_TEST(cancel_stops_the_job_with_sigterm)
{
	write_file(fx.bundle, "main.sh", "echo up > started; sleep 60\n", 0644);
	struct run_spec r = spec("t.1", "main.sh");
	char *id = submit(fx.p, &r);
	struct run_status st;
	ck_assert_int_eq(local_platform.status(fx.p, &fx.c, id, &st), 0);
	ck_assert_int_eq(st.state, RUN_RUNNING);
	ck_assert_str_eq(st.platform_state, "running");
	char dir[PATH_MAX * 2], work[PATH_MAX * 2 + 8];
	run_dir(id, dir, sizeof(dir));
	snprintf(work, sizeof(work), "%s/work", dir);
	/* the job itself must run, or a cancel ends it before its start */
	wait_for_file(work, "started", 10);
	double t0 = clock_mono();
	ck_assert_int_eq(local_platform.cancel(fx.p, &fx.c, id, "enough"), 0);
	st = wait_end(fx.p, id, 2);
	ck_assert(clock_mono() - t0 < 2);
	ck_assert_int_eq(st.state, RUN_CANCELLED);
	ck_assert_str_eq(st.platform_state, "cancelled");
	ck_assert_int_eq(st.exit_code, 143);
	char *reason = read_file(dir, "cancel_reason");
	ck_assert_str_eq(reason, "enough");
	free(reason);
	free(id);
}
END_TEST

START_TEST(cancel_kills_after_the_grace_period)
{
	write_file(fx.bundle, "main.sh", "trap '' TERM; echo ready; sleep 60\n",
		   0644);
	struct run_spec r = spec("t.1", "main.sh");
	char *id = submit(fx.p, &r);
	wait_for_file(fx.out, "result", 5); /* the trap is set */
	double t0 = clock_mono();
	ck_assert_int_eq(local_platform.cancel(fx.p, &fx.c, id, NULL), 0);
	struct run_status st = wait_end(fx.p, id, 5);
	double took = clock_mono() - t0;
	ck_assert_msg(took > 0.9 && took < 3, "took %.2f s", took);
	ck_assert_int_eq(st.state, RUN_CANCELLED);
	ck_assert_int_eq(st.exit_code, 137);
	free(id);
}
END_TEST

START_TEST(cancel_of_an_ended_run_fails)
{
	char *id, dir[PATH_MAX * 2];
	run_script("true\n", NULL, NULL, &id);
	ck_assert_int_eq(local_platform.cancel(fx.p, &fx.c, id, "late"),
			 -EINVAL);
	ck_assert_str_eq(fx.c.err, "run already ended");
	run_dir(id, dir, sizeof(dir));
	char *reason = read_file(dir, "cancel_reason");
	ck_assert_ptr_null(reason);
	free(id);
}
END_TEST

/* The "daemon" is a child process that submits and dies by SIGKILL. */
static pid_t submit_and_die(int fd)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	struct platform *p;
	char err[256], *id = NULL;
	struct run_spec r = spec("t.1", "main.sh");
	if (open_local("{\"kind\":\"local\"}", &p, err, sizeof(err)) < 0 ||
	    local_platform.submit(p, &fx.c, &r, &id) < 0 ||
	    write(fd, id, strlen(id)) < 0)
		_exit(1);
	raise(SIGKILL);
	_exit(1);
}

/* The parent and the session of a process, from /proc. */
static void proc_ids(pid_t pid, pid_t *ppid_out, pid_t *session_out)
{
	char path[64], *text;
	int ppid = -1, session = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert_int_eq(fsutil_read_all(path, 4096, &text, NULL), 0);
	ck_assert_int_eq(
	    sscanf(strrchr(text, ')'), ") %*c %d %*d %d", &ppid, &session), 2);
	free(text);
	*ppid_out = ppid;
	*session_out = session;
}

START_TEST(run_outlives_a_killed_daemon)
{
	write_file(fx.bundle, "main.sh", "sleep 1; echo done\n", 0644);
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t daemon = submit_and_die(pfd[1]);
	close(pfd[1]);
	char id[256] = "", dir[PATH_MAX * 2];
	ck_assert_int_gt(read(pfd[0], id, sizeof(id) - 1), 0);
	close(pfd[0]);
	int ws;
	ck_assert_int_eq(waitpid(daemon, &ws, 0), daemon);
	ck_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

	run_dir(id, dir, sizeof(dir));
	char *pid_text = read_file(dir, "pid");
	ck_assert_ptr_nonnull(pid_text);
	pid_t sup = (pid_t)strtol(pid_text, NULL, 10);
	free(pid_text);
	pid_t ppid, session;
	proc_ids(sup, &ppid, &session);
	ck_assert_int_ne(ppid, daemon);
	ck_assert_int_ne(ppid, getpid());
	ck_assert_int_eq(session, sup); /* no hangup from the daemon's tty */

	/* A new instance on the same state dir: the restarted daemon. */
	struct platform *again;
	char err[256];
	ck_assert_int_eq(
	    open_local("{\"kind\":\"local\"}", &again, err, sizeof(err)), 0);
	struct run_status st;
	ck_assert_int_eq(local_platform.status(again, &fx.c, id, &st), 0);
	ck_assert_int_eq(st.state, RUN_RUNNING);
	ck_assert(wait_changes(&fx.changes, 1, 5)); /* exit seen by "again" */
	st = wait_end(again, id, 1);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	char *result = read_file(fx.out, "result");
	ck_assert_str_eq(result, "done\n");
	free(result);
	local_platform.close(again);
}
END_TEST

START_TEST(changed_is_called_when_a_run_starts_and_ends)
{
	write_file(fx.bundle, "main.sh", "sleep 0.3\n", 0644);
	struct run_spec r = spec("t.1", "main.sh");
	char *id = submit(fx.p, &r);
	ck_assert(wait_changes(&fx.changes, 2, 5)); /* pid, then exit */
	struct run_status st;
	ck_assert_int_eq(local_platform.status(fx.p, &fx.c, id, &st), 0);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	free(id);
}
END_TEST

START_TEST(lost_when_the_supervisor_is_gone)
{
	write_file(fx.bundle, "main.sh", "echo $$ > job.pid; exec sleep 60\n",
		   0644);
	struct run_spec r = spec("t.1", "main.sh");
	char *id = submit(fx.p, &r), dir[PATH_MAX * 2], work[PATH_MAX * 3];
	run_dir(id, dir, sizeof(dir));
	snprintf(work, sizeof(work), "%s/work", dir);
	wait_for_file(work, "job.pid", 5);
	char *text = read_file(dir, "pid");
	pid_t sup = (pid_t)strtol(text, NULL, 10);
	free(text);
	text = read_file(work, "job.pid");
	pid_t job = (pid_t)strtol(text, NULL, 10);
	free(text);
	ck_assert_int_eq(kill(sup, SIGKILL), 0);
	struct run_status st = wait_end(fx.p, id, 2);
	kill(-job, SIGKILL);
	ck_assert_int_eq(st.state, RUN_LOST);
	ck_assert_str_eq(st.error, "supervisor process gone");
	ck_assert_int_eq(local_platform.cancel(fx.p, &fx.c, id, NULL), -EINVAL);
	free(st.error);
	free(id);
}
END_TEST

START_TEST(a_cancel_before_the_start_wins)
{
	/* The supervisor finds cancel_reason: the job never starts. */
	char dir[PATH_MAX * 2],
	    *argv[] = {"local", dir, "1", fx.out, "--", "/bin/false", NULL};
	run_dir("t.9", dir, sizeof(dir));
	ck_assert_int_eq(fsutil_mkdir_p(dir, 0700), 0);
	write_file(dir, "cancel_reason", "early", 0644);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(local_platform.helper_main(6, argv));
	int ws;
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	struct run_status st;
	ck_assert_int_eq(local_platform.status(fx.p, &fx.c, "t.9", &st), 0);
	ck_assert_int_eq(st.state, RUN_CANCELLED);
	ck_assert_int_eq(st.exit_code, -1);
	ck_assert_int_eq(local_platform.helper_main(3, argv), 2);
}
END_TEST

START_TEST(a_retry_gets_its_own_run_dir)
{
	char *id1, *id2;
	run_script("echo one\n", NULL, NULL, &id1);
	struct run_spec r = spec("t.1", "main.sh");
	r.attempt = 2;
	id2 = submit(fx.p, &r);
	ck_assert_str_eq(id1, "t.1");
	ck_assert_str_eq(id2, "t.1.2");
	ck_assert_int_eq(wait_end(fx.p, id2, 10).state, RUN_SUCCEEDED);
	free(id1);
	free(id2);
}
END_TEST

/* find: the run an interrupted submit of the same key and attempt made. */
START_TEST(find_returns_the_run_of_the_same_attempt)
{
	char *id1, *found = NULL;
	run_script("echo one\n", NULL, NULL, &id1);
	struct run_spec r = spec("t.1", "main.sh");
	ck_assert_int_eq(local_platform.find(fx.p, &fx.c, &r, &found), 0);
	ck_assert_str_eq(found, id1);
	free(found);
	r.attempt = 2; /* not submitted yet: safe to submit */
	ck_assert_int_eq(local_platform.find(fx.p, &fx.c, &r, &found), -ENOENT);
	char *id2 = submit(fx.p, &r);
	ck_assert_int_eq(local_platform.find(fx.p, &fx.c, &r, &found), 0);
	ck_assert_str_eq(found, id2);
	free(found);
	r = spec("other.9", "main.sh");
	ck_assert_int_eq(local_platform.find(fx.p, &fx.c, &r, &found), -ENOENT);
	ck_assert_int_eq(wait_end(fx.p, id2, 10).state, RUN_SUCCEEDED);
	free(id1);
	free(id2);
}
END_TEST

static void expect_invalid(struct run_spec *r, const char *err)
{
	int rc = local_platform.validate(fx.p, &fx.c, r);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(fx.c.err, err);
	char *id = NULL;
	ck_assert_int_eq(local_platform.submit(fx.p, &fx.c, r, &id), -EINVAL);
	ck_assert_ptr_null(id);
}

START_TEST(validate_rejects_what_cannot_run)
{
	write_file(fx.bundle, "notes.txt", "hello\n", 0644);
	write_file(fx.bundle, "main.py", "print(1)\n", 0644);
	struct run_spec r = spec("t.1", "x.py");
	expect_invalid(&r, "entry point \"x.py\" not found in bundle");
	r.entry_point = "notes.txt";
	expect_invalid(&r, "don't know how to run \"notes.txt\"\nuse .py, "
			   ".sh, .jar, .R, a shebang line or the exec bit");
	r.entry_point = "../app/main.py";
	expect_invalid(&r, "entry point \"../app/main.py\" is outside the "
			   "bundle");
	r.bundle_dir = NULL;
	r.entry_point = NULL;
	expect_invalid(&r, "nothing to run: no bundle and no entry point");
	r.entry_point = "bin/tool";
	ck_assert_int_eq(local_platform.validate(fx.p, &fx.c, &r), -EINVAL);
	char plain[PATH_MAX * 2], expect[PATH_MAX * 3];
	snprintf(plain, sizeof(plain), "%s/notes.txt", fx.bundle);
	snprintf(expect, sizeof(expect), "entry point \"%s\" is not executable",
		 plain);
	r.entry_point = plain;
	expect_invalid(&r, expect);
}
END_TEST

START_TEST(validate_rejects_bad_args_env_conf)
{
	write_file(fx.bundle, "main.py", "print(1)\n", 0644);
	struct run_spec r = spec("t.1", "main.py");
	json_t *env = json_pack("{s:s}", "PATH", "/nonexistent");
	r.env = env;
	expect_invalid(&r, "cannot run \"main.py\": \"python3\" not found in "
			   "PATH");
	json_decref(env);
	json_t *args = json_pack("[s,i]", "a", 1);
	r.env = NULL;
	r.args = args;
	expect_invalid(&r, "\"args\" must be an array of strings");
	json_decref(args);
	json_t *conf = json_pack("{s:i}", "cores", 4);
	r.args = NULL;
	r.conf = conf;
	expect_invalid(&r, "unknown conf field \"cores\"\nthe local platform "
			   "takes no conf");
	json_decref(conf);
	r.conf = NULL;
	r.run_key = "../escape";
	char *id = NULL;
	ck_assert_int_eq(local_platform.submit(fx.p, &fx.c, &r, &id), -EINVAL);
}
END_TEST

START_TEST(open_rejects_bad_fields)
{
	struct platform *p = NULL;
	char err[256] = "";
	ck_assert_int_eq(open_local("{\"kind\":\"local\",\"grase\":1}", &p, err,
				    sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown field \"grase\""));
	ck_assert_int_eq(open_local("{\"kind\":\"local\",\"grace\":-1}", &p,
				    err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "\"grace\""));
	ck_assert_int_eq(open_local("{\"kind\":\"local\",\"grace\":\"5\"}", &p,
				    err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(p);
}
END_TEST

START_TEST(unknown_runs_are_enoent)
{
	struct run_status st;
	ck_assert_int_eq(local_platform.status(fx.p, &fx.c, "nope.1", &st),
			 -ENOENT);
	ck_assert_str_eq(fx.c.err, "no run \"nope.1\"");
	ck_assert_int_eq(local_platform.status(fx.p, &fx.c, "../state", &st),
			 -ENOENT);
	ck_assert_int_eq(local_platform.cancel(fx.p, &fx.c, "nope.1", NULL),
			 -ENOENT);
	ck_assert_int_eq(local_platform.health(fx.p, &fx.c), 0);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--platform-helper") == 0)
		return local_platform.helper_main(argc - 2, argv + 2);
	Suite *s = suite_create("local");
	TCase *tc = tcase_create("runs");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, success_splits_stdout_and_stderr);
	tcase_add_test(tc, failure_reports_status_and_last_stderr_line);
	tcase_add_test(tc, death_by_signal_is_128_plus_n);
	tcase_add_test(tc, args_are_passed_without_a_shell);
	tcase_add_test(tc, env_is_merged_and_run_env_wins);
	tcase_add_test(tc, cwd_is_a_private_copy_per_run);
	tcase_add_test(tc, python_runs_by_extension);
	tcase_add_test(tc, shebang_without_exec_bit_runs);
	tcase_add_test(tc, program_on_host_without_bundle);
	tcase_add_test(tc, exec_failure_is_127_with_reason);
	tcase_add_test(tc, cancel_stops_the_job_with_sigterm);
	tcase_add_test(tc, cancel_kills_after_the_grace_period);
	tcase_add_test(tc, cancel_of_an_ended_run_fails);
	tcase_add_test(tc, run_outlives_a_killed_daemon);
	tcase_add_test(tc, changed_is_called_when_a_run_starts_and_ends);
	tcase_add_test(tc, lost_when_the_supervisor_is_gone);
	tcase_add_test(tc, a_cancel_before_the_start_wins);
	tcase_add_test(tc, a_retry_gets_its_own_run_dir);
	tcase_add_test(tc, find_returns_the_run_of_the_same_attempt);
	tcase_add_test(tc, validate_rejects_what_cannot_run);
	tcase_add_test(tc, validate_rejects_bad_args_env_conf);
	tcase_add_test(tc, open_rejects_bad_fields);
	tcase_add_test(tc, unknown_runs_are_enoent);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
