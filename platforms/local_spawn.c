/*
 * Starting a local run's supervisor, and telling afterwards whether it
 * ever started and whether it still runs (its pid file).
 *
 * The supervisor is double-forked from the multi-threaded daemon (so init
 * adopts it and a daemon's death does not take it along) and inherits
 * exactly one descriptor, the run's spawn lock: RUNDIR/spawn.lock, locked
 * with flock() by the daemon before it records the attempt in RUNDIR and
 * held, through the fork, by the supervisor for its whole life. A flock
 * lives as long as any process keeps the descriptor open, so after a
 * daemon was killed in the middle of a submit the lock says what happened:
 * held, or free with a pid file, means a supervisor ran (adopt the run);
 * free without one means none ever will (the run is safe to submit).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "local_run.h"

#define LOCAL_SPAWN_LOCK "spawn.lock"

int local_spawn_lock(const char *rundir, int *fd_out)
{
	char path[PATH_MAX];
	int rc = local_path_join(path, sizeof(path), rundir, LOCAL_SPAWN_LOCK);
	if (rc < 0)
		return rc;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

enum local_spawn_state local_spawn_probe(const char *rundir)
{
	char path[PATH_MAX];
	if (local_path_join(path, sizeof(path), rundir, LOCAL_SPAWN_LOCK) < 0)
		return LOCAL_SPAWN_UNKNOWN;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return LOCAL_SPAWN_UNKNOWN;
	/* Once this holds the lock, no supervisor lives and none can start. */
	int busy = flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno;
	enum local_spawn_state state;
	if (busy == EWOULDBLOCK)
		state = LOCAL_SPAWN_STARTED; /* held: a spawn or supervisor */
	else if (busy)
		state = LOCAL_SPAWN_UNKNOWN;
	else if (local_has_file(rundir, "pid") ||
		 local_has_file(rundir, "exit"))
		state = LOCAL_SPAWN_STARTED; /* one ran (pid comes first) */
	else
		state = LOCAL_SPAWN_NEVER;
	close(fd);
	return state;
}

void local_cloexec_all(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Reports errno @rc to the daemon through @errfd and exits. */
static _Noreturn void spawn_fail(int errfd, int rc)
{
	ssize_t ignored = write(errfd, &rc, sizeof(rc));
	(void)ignored;
	_exit(127);
}

/*
 * The forked child of a multi-threaded daemon: async-signal-safe calls
 * only. Forks the supervisor and exits, so that init adopts it.
 */
static _Noreturn void spawn_child(int errfd, char *const argv[],
				  char *const envp[], int keep_fd)
{
	pid_t pid = fork();
	if (pid < 0)
		spawn_fail(errfd, errno);
	if (pid > 0)
		_exit(0);
	sigset_t none;
	sigemptyset(&none);
	int null = open("/dev/null", O_RDWR);
	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		spawn_fail(errfd, errno);
	/* No daemon fd may outlive it in the supervisor (/dev/fuse!). */
	local_cloexec_all();
	if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) < 0)
		spawn_fail(errfd, errno);
	execve("/proc/self/exe", argv, envp);
	spawn_fail(errfd, errno);
}

int local_spawn(char *const argv[], char *const envp[], int keep_fd)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0)
		spawn_child(pfd[1], argv, envp, keep_fd);
	int rc = pid < 0 ? -errno : 0;
	close(pfd[1]);
	int child_errno = 0;
	ssize_t n = 0;
	if (pid > 0) {
		/* EOF once both children are gone or exec'd. */
		do
			n = read(pfd[0], &child_errno, sizeof(child_errno));
		while (n < 0 && errno == EINTR);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(pfd[0]);
	if (rc == 0 && n == (ssize_t)sizeof(child_errno))
		rc = -child_errno;
	return rc;
}

enum local_supervisor local_supervisor_state(const char *rundir, pid_t *pid_out)
{
	char path[PATH_MAX], *text = NULL, state;
	int pid;
	unsigned long long start, now_start;
	if (local_path_join(path, sizeof(path), rundir, "pid") < 0 ||
	    fsutil_read_all(path, LOCAL_SMALL_FILE, &text, NULL) < 0)
		return LOCAL_SUPERVISOR_MISSING;
	int n = sscanf(text, "%d %llu", &pid, &start);
	free(text);
	if (n != 2 || pid <= 0 ||
	    local_proc_stat(pid, &state, &now_start) < 0 ||
	    now_start != start || state == 'Z' || state == 'X')
		return LOCAL_SUPERVISOR_GONE;
	*pid_out = pid;
	return LOCAL_SUPERVISOR_ALIVE;
}
