/*
 * Listeners and kernel cache invalidation: how a change in the job core
 * reaches readers of the mount.
 *
 * A run that changes state wakes the wait readers parked on it and the
 * poll handles of its status files (waiters.c), from whichever thread
 * wrote the change. The kernel's caches of a redeployed job (job.json,
 * app/) and of staged names a deploy took out of new/ are dropped with
 * fuse_lowlevel_notify_inval_entry, which must not be called from inside
 * a related request: the names are queued here and sent from the poller
 * thread (fs_flush_invalidations), and only below a directory the kernel
 * holds.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_notify.h"

void fs_run_changed(void *ctx, const char *job, int64_t run_id,
		    enum run_state state)
{
	struct jobfs *jfs = ctx;
	if (state_is_terminal(state)) {
		char line[32];
		snprintf(line, sizeof(line), "%s\n", state_name(state));
		waiters_wake(jfs->waiters, run_id, line);
	}
	waiters_poll_notify(jfs->waiters, job);
}

void fs_queue_invalidation(struct jobfs *jfs, const char *what)
{
	char *copy = strdup(what);
	pthread_mutex_lock(&jfs->inval_lock);
	char **bigger =
	    copy ? realloc(jfs->inval_jobs, (jfs->ninval + 1) * sizeof(char *))
		 : NULL;
	if (bigger) {
		jfs->inval_jobs = bigger;
		jfs->inval_jobs[jfs->ninval++] = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&jfs->inval_lock);
	free(copy);
}

void fs_job_replaced(void *ctx, const char *job)
{
	struct jobfs *jfs = ctx;
	fs_queue_invalidation(jfs, job);
	waiters_poll_notify(jfs->waiters, job);
}

static void invalidate_job(struct jobfs *jfs, const char *job)
{
	static const char *const cached[] = {"job.json", "app"};
	fuse_ino_t job_ino;
	if (!nodes_known(jfs->nodes, nodes_root(jfs->nodes), job, &job_ino))
		return;
	for (size_t i = 0; i < 2; i++) {
		int rc = fuse_lowlevel_notify_inval_entry(
		    jfs->session, job_ino, cached[i], strlen(cached[i]));
		/* ENOENT: the kernel had no such entry; fine */
		(void)rc;
	}
}

/* Drops the kernel's entry new/@name if the name is gone from disk. */
static void invalidate_staged(struct jobfs *jfs, const char *name)
{
	char path[4096];
	struct stat st;
	fuse_ino_t new_ino;
	if (!nodes_known(jfs->nodes, nodes_root(jfs->nodes), "new", &new_ino))
		return;
	int n = snprintf(path, sizeof(path), "%s/%s", jfs->new_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	if (lstat(path, &st) == 0) /* made again since: the entry is right */
		return;
	int rc = fuse_lowlevel_notify_inval_entry(jfs->session, new_ino, name,
						  strlen(name));
	(void)rc; /* ENOENT: the kernel had no such entry; fine */
}

void fs_flush_invalidations(void *ctx)
{
	struct jobfs *jfs = ctx;
	pthread_mutex_lock(&jfs->inval_lock);
	char **queued = jfs->inval_jobs;
	size_t n = jfs->ninval;
	jfs->inval_jobs = NULL;
	jfs->ninval = 0;
	pthread_mutex_unlock(&jfs->inval_lock);
	for (size_t i = 0; i < n; i++) {
		bool staged = strncmp(queued[i], FS_INVAL_STAGED,
				      strlen(FS_INVAL_STAGED)) == 0;
		if (jfs->session && staged)
			invalidate_staged(jfs,
					  queued[i] + strlen(FS_INVAL_STAGED));
		else if (jfs->session)
			invalidate_job(jfs, queued[i]);
		free(queued[i]);
	}
	free(queued);
}

void fs_release(struct jobfs *jfs)
{
	fs_flush_invalidations(jfs);
}
