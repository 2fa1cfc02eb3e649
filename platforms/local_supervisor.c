/*
 * The supervisor of one local run, a process of its own (single-threaded),
 * started by local_submit() through `jobfs --platform-helper local`.
 *
 * It runs the job in its own process group, copies the job's stdout to
 * result and log and its stderr to log, turns a SIGTERM from a cancel into
 * SIGTERM to the job's group and SIGKILL after the grace period, and
 * records the exit status (0-255, 128+N for signal N) in RUNDIR/exit. It
 * lives in its own session, so a killed daemon does not take it along.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fsutil.h"
#include "local_run.h"

struct supervisor {
	const char *rundir;
	double grace;
	pid_t child; /* the job, leader of its own process group */
	int wait_status;
	bool reaped;
	bool cancelled;
	bool killed;
	double kill_at; /* SIGKILL to the group, after a cancel */
	double reaped_at;
	double last_data;
	int sig_fd;
	int out_pipe; /* read ends; -1 once at EOF */
	int err_pipe;
	int result_fd;
	int log_fd;
	char line[LOCAL_LASTERR_MAX + 1]; /* the stderr line being read */
	size_t line_len;
	char lasterr[LOCAL_LASTERR_MAX + 1];
};

/* Records why the supervisor could not run the job, as the job's error. */
static void sup_note(struct supervisor *s, const char *what, const char *name,
		     int rc)
{
	snprintf(s->lasterr, sizeof(s->lasterr), "jobfs: %s \"%s\": %s", what,
		 name, strerror(-rc));
}

/* SIGTERM and SIGCHLD arrive through a signalfd, in the poll loop. */
static int sup_signals(struct supervisor *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	/* Inherited SIG_IGN would discard them (and reap the child). */
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	return s->sig_fd < 0 ? -errno : 0;
}

static int sup_write_pid(const struct supervisor *s)
{
	char state, text[64];
	unsigned long long start;
	int rc = local_proc_stat(0, &state, &start);
	if (rc < 0)
		return rc;
	snprintf(text, sizeof(text), "%d %llu\n", (int)getpid(), start);
	return local_write_run_file(s->rundir, "pid", text);
}

static int sup_open_output(const char *dir, const char *name, int flags,
			   int *fd_out, struct supervisor *s)
{
	char path[PATH_MAX];
	int rc = local_path_join(path, sizeof(path), dir, name);
	if (rc == 0) {
		*fd_out = open(
		    path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | flags,
		    0644);
		rc = *fd_out < 0 ? -errno : 0;
	}
	if (rc < 0)
		sup_note(s, "cannot open", path, rc);
	return rc;
}

/* The job's process: own group, cwd work/, stdout and stderr to pipes. */
static _Noreturn void sup_exec_job(int out_w, int err_w, const char *work,
				   char **argv)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	setpgid(0, 0);
	int null = open("/dev/null", O_RDONLY);
	if (null >= 0)
		dup2(null, 0);
	dup2(out_w, 1);
	dup2(err_w, 2);
	if (chdir(work) < 0) {
		dprintf(2, "jobfs: cannot enter \"%s\": %s\n", work,
			strerror(errno));
		_exit(127);
	}
	execvp(argv[0], argv);
	dprintf(2, "jobfs: cannot run \"%s\": %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int sup_start_job(struct supervisor *s, char **argv)
{
	char work[PATH_MAX];
	int out[2], err[2];
	int rc = local_path_join(work, sizeof(work), s->rundir, "work");
	if (rc < 0)
		return rc;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0) {
		rc = -errno;
		close(out[0]);
		close(out[1]);
		return rc;
	}
	s->child = fork();
	if (s->child == 0)
		sup_exec_job(out[1], err[1], work, argv);
	rc = s->child < 0 ? -errno : 0;
	if (rc == 0) {
		setpgid(s->child, s->child); /* before any kill of the group */
		/* from now on a cancel reaches the job itself: RUNNING */
		rc = local_write_run_file(s->rundir, "started", "");
	}
	close(out[1]);
	close(err[1]);
	s->out_pipe = out[0];
	s->err_pipe = err[0];
	return rc;
}

static void sup_write(struct supervisor *s, int fd, const char *buf, size_t len,
		      const char *name)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* Keep draining: a full disk must not block the job. */
			sup_note(s, "cannot write", name, -errno);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void sup_track_line(struct supervisor *s, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && s->line_len > 0) {
			memcpy(s->lasterr, s->line, s->line_len);
			s->lasterr[s->line_len] = '\0';
			s->line_len = 0;
		} else if (buf[i] != '\n' && buf[i] != '\r' &&
			   s->line_len < LOCAL_LASTERR_MAX) {
			s->line[s->line_len++] = buf[i];
		}
	}
}

static void sup_pump(struct supervisor *s, int *fd, bool is_stdout)
{
	char buf[65536];
	ssize_t n = read(*fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	s->last_data = clock_mono();
	if (is_stdout)
		sup_write(s, s->result_fd, buf, (size_t)n, "result");
	sup_write(s, s->log_fd, buf, (size_t)n, "log");
	if (!is_stdout)
		sup_track_line(s, buf, (size_t)n);
}

static void sup_on_signal(struct supervisor *s)
{
	struct signalfd_siginfo si;
	if (read(s->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGTERM && !s->reaped && !s->cancelled) {
		s->cancelled = true;
		kill(-s->child, SIGTERM);
		s->kill_at = clock_mono() + s->grace;
	}
	if (si.ssi_signo == SIGCHLD && !s->reaped &&
	    waitpid(s->child, &s->wait_status, WNOHANG) == s->child) {
		s->reaped = true;
		s->reaped_at = s->last_data = clock_mono();
	}
}

/* The time of the next deadline (SIGKILL or end of draining), or 0. */
static double sup_next_deadline(const struct supervisor *s)
{
	if (!s->reaped)
		return s->cancelled && !s->killed ? s->kill_at : 0;
	double idle = s->last_data + LOCAL_DRAIN_IDLE;
	double cap = s->reaped_at + LOCAL_DRAIN_MAX;
	return idle < cap ? idle : cap;
}

static bool sup_is_done(const struct supervisor *s)
{
	if (!s->reaped)
		return false;
	return (s->out_pipe < 0 && s->err_pipe < 0) ||
	       clock_mono() >= sup_next_deadline(s);
}

static void sup_loop(struct supervisor *s)
{
	while (!sup_is_done(s)) {
		double next = sup_next_deadline(s), now = clock_mono();
		int timeout = next <= 0	    ? -1
			      : next <= now ? 0
					    : (int)((next - now) * 1000) + 1;
		struct pollfd pfd[3] = {
		    {.fd = s->sig_fd, .events = POLLIN},
		    {.fd = s->out_pipe, .events = POLLIN},
		    {.fd = s->err_pipe, .events = POLLIN},
		};
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			return;
		if (pfd[0].revents)
			sup_on_signal(s);
		if (pfd[1].revents)
			sup_pump(s, &s->out_pipe, true);
		if (pfd[2].revents)
			sup_pump(s, &s->err_pipe, false);
		if (s->cancelled && !s->reaped && !s->killed &&
		    clock_mono() >= s->kill_at) {
			kill(-s->child, SIGKILL);
			s->killed = true;
		}
	}
}

static int sup_write_exit(const struct supervisor *s, int code, bool cancelled,
			  int sig)
{
	char text[64];
	if (s->lasterr[0])
		local_write_run_file(s->rundir, "lasterr", s->lasterr);
	snprintf(text, sizeof(text), "%d %d %d\n", code, cancelled ? 1 : 0,
		 sig);
	return local_write_run_file(s->rundir, "exit", text);
}

static int sup_finish(struct supervisor *s)
{
	if (!s->reaped)
		while (waitpid(s->child, &s->wait_status, 0) < 0 &&
		       errno == EINTR)
			;
	/* Whatever of the group is left goes with a cancelled run. */
	if (s->cancelled)
		kill(-s->child, SIGKILL);
	if (s->line_len > 0) {
		memcpy(s->lasterr, s->line, s->line_len);
		s->lasterr[s->line_len] = '\0';
	}
	fdatasync(s->result_fd);
	fdatasync(s->log_fd);
	int st = s->wait_status;
	int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	int code = sig ? 128 + sig : WEXITSTATUS(st);
	return sup_write_exit(s, code, s->cancelled, sig);
}

static int sup_run(struct supervisor *s, const char *output_dir, char **argv)
{
	int rc =
	    sup_open_output(output_dir, "result", O_TRUNC, &s->result_fd, s);
	if (rc == 0)
		rc = sup_open_output(output_dir, "log", 0, &s->log_fd, s);
	if (rc == 0) {
		rc = sup_start_job(s, argv);
		if (rc < 0)
			sup_note(s, "cannot start", argv[0], rc);
	}
	if (rc < 0)
		return sup_write_exit(s, 127, false, 0);
	sup_loop(s);
	return sup_finish(s);
}

static void sup_close(struct supervisor *s)
{
	int *fds[] = {&s->sig_fd, &s->out_pipe, &s->err_pipe, &s->result_fd,
		      &s->log_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

/* argv: local RUNDIR GRACE OUTPUT_DIR -- PROGRAM [ARG...] */
int local_supervise(int argc, char **argv)
{
	char *end = NULL;
	double grace = argc > 2 ? strtod(argv[2], &end) : -1;
	if (argc < 6 || strcmp(argv[4], "--") != 0 || !end || *end ||
	    grace < 0) {
		fprintf(stderr, "usage: jobfs --platform-helper local RUNDIR "
				"GRACE OUTPUT_DIR -- PROGRAM [ARG...]\n");
		return 2;
	}
	struct supervisor s = {.rundir = argv[1],
			       .grace = grace,
			       .sig_fd = -1,
			       .out_pipe = -1,
			       .err_pipe = -1,
			       .result_fd = -1,
			       .log_fd = -1};
	/* The spawn lock it inherited stays held here, never in the job. */
	local_cloexec_all();
	/* Keep no directory busy: every path here is absolute. */
	int rc = chdir("/") < 0 ? -errno : sup_signals(&s);
	if (rc == 0)
		rc = sup_write_pid(&s);
	if (rc == 0 && local_has_file(s.rundir, "cancel_reason"))
		rc = sup_write_exit(&s, -1, true, 0); /* never started */
	else if (rc == 0)
		rc = sup_run(&s, argv[3], argv + 5);
	sup_close(&s);
	return rc < 0 ? 1 : 0;
}
