/*
 * The FUSE layer: maps paths to nodes and calls the job core. It holds no
 * platform code and no SQL.
 */
#ifndef JOBFS_FS_H
#define JOBFS_FS_H

#include <fuse_lowlevel.h>

#include "jobfs.h"

/* The low-level operations table. */
const struct fuse_lowlevel_ops *fs_ops(void);

/* Job core listener: a run changed state (wake waiters, poll handles). */
void fs_run_changed(void *jfs, const char *job, int64_t run_id,
		    enum run_state state);

/* Job core listener: a job was redeployed or removed. */
void fs_job_replaced(void *jfs, const char *job);

/*
 * Poller hook: sends the kernel the cache invalidations queued since the
 * last call. Runs in the poller thread, outside every lock, as kernel
 * notifications must not come from inside a related FUSE request.
 */
void fs_flush_invalidations(void *jfs);

/* Frees what the FUSE layer keeps besides nodes (the invalidation queue). */
void fs_release(struct jobfs *jfs);

#endif
