/*
 * The FUSE layer's side of the job core and the poller: the listeners that
 * wake waiters and poll handles when a run changes, and the queue of
 * kernel cache invalidations the poller thread sends.
 *
 * A leaf of the FUSE layer: it calls waiters.c, node.c and libfuse, never
 * fs.c, fs_job.c or fs_new.c.
 */
#ifndef JOBFS_FS_NOTIFY_H
#define JOBFS_FS_NOTIFY_H

#include <stdint.h>

#include "jobfs.h"
#include "state.h"

/* Job core listener: a run changed state (wake waiters, poll handles). */
void fs_run_changed(void *jfs, const char *job, int64_t run_id,
		    enum run_state state);

/* Job core listener: a job was redeployed or removed. */
void fs_job_replaced(void *jfs, const char *job);

/*
 * Queues a kernel cache invalidation, sent from the poller thread (see
 * fs_flush_invalidations): @what is a job name (its job.json and app/), or
 * FS_INVAL_STAGED "NAME" for the entry new/NAME, dropped if NAME is gone
 * from disk by then. No job name has a '/', so the two cannot meet. @what
 * is copied; out of memory, the invalidation is dropped.
 */
#define FS_INVAL_STAGED "new/"
void fs_queue_invalidation(struct jobfs *jfs, const char *what);

/*
 * Poller hook: sends the kernel the cache invalidations queued since the
 * last call. Runs in the poller thread, outside every lock, as kernel
 * notifications must not come from inside a related FUSE request.
 */
void fs_flush_invalidations(void *jfs);

/* Frees what the FUSE layer keeps besides nodes (the invalidation queue). */
void fs_release(struct jobfs *jfs);

#endif
