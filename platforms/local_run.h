/*
 * What local.c (the platform, in the daemon) and local_supervisor.c (the
 * per-run supervisor, a process of its own) share: the run directory's
 * files and limits. Internal to the local platform.
 */
#ifndef JOBFS_LOCAL_RUN_H
#define JOBFS_LOCAL_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <sys/types.h>

#define LOCAL_DRAIN_IDLE  1.0  /* after the job exits: quiet pipes end it */
#define LOCAL_DRAIN_MAX	  10.0 /* ... and a chatty background process too */
#define LOCAL_LASTERR_MAX 200
#define LOCAL_SMALL_FILE  4096

/* DIR/NAME into @buf: -ENAMETOOLONG when it does not fit. */
int local_path_join(char *buf, size_t len, const char *dir, const char *name);

bool local_has_file(const char *dir, const char *name);

/* Writes DIR/NAME atomically (fsutil_write_atomic). */
int local_write_run_file(const char *dir, const char *name, const char *text);

/* State and start time of a process; @pid 0 is this process. */
int local_proc_stat(pid_t pid, char *state_out, unsigned long long *start_out);

/*
 * Creates and locks RUNDIR/spawn.lock; *@fd_out (close-on-exec) holds the
 * lock until local_spawn() has handed it to the supervisor and the caller
 * closes it. See local_spawn.c.
 */
int local_spawn_lock(const char *rundir, int *fd_out);

/*
 * Starts the supervisor (`/proc/self/exe` with @argv and @envp), detached,
 * passing it @keep_fd (or none when -1) and no other descriptor. Returns
 * once it runs (its exec succeeded).
 */
int local_spawn(char *const argv[], char *const envp[], int keep_fd);

/* Marks every descriptor above stderr close-on-exec. */
void local_cloexec_all(void);

enum local_spawn_state {
	LOCAL_SPAWN_STARTED, /* a supervisor runs or ran: the run exists */
	LOCAL_SPAWN_NEVER,   /* none did and none will: safe to start again */
	LOCAL_SPAWN_UNKNOWN, /* the lock cannot be looked at */
};

/* Whether a supervisor was ever started in @rundir (after a crash). */
enum local_spawn_state local_spawn_probe(const char *rundir);

enum local_supervisor {
	LOCAL_SUPERVISOR_MISSING, /* no pid file (yet) */
	LOCAL_SUPERVISOR_ALIVE,	  /* *pid_out is the live supervisor */
	LOCAL_SUPERVISOR_GONE,	  /* it ran and is gone (or its pid reused) */
};

/* Whether @rundir's pid file names the live supervisor. */
enum local_supervisor local_supervisor_state(const char *rundir,
					     pid_t *pid_out);

/*
 * The supervisor: `jobfs --platform-helper local RUNDIR GRACE OUTPUT_DIR
 * -- PROGRAM [ARG...]`. Runs the job, tees its output, forwards a cancel
 * and records the exit status in RUNDIR/exit. Returns the exit status.
 */
int local_supervise(int argc, char **argv);

#endif
