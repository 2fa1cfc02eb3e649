/*
 * The FUSE layer as main.c sees it: the operations table (fs.c) and,
 * through fs_notify.h, the listeners the job core calls and the hook the
 * poller calls. It holds no platform code and no SQL.
 *
 *   fs.c         dispatch: path -> node -> handler, and the ops table
 *   fs_job.c     job, run and platform files, README
 *   fs_new.c     new/ and NAME/app/, mirrored from disk; deploy on close
 *   fs_reply.c   replies, attributes, directory listings
 *   fs_notify.c  listeners and kernel cache invalidation
 */
#ifndef JOBFS_FS_H
#define JOBFS_FS_H

#include <fuse_lowlevel.h>

#include "fs_notify.h"
#include "jobfs.h"

/* The low-level operations table. */
const struct fuse_lowlevel_ops *fs_ops(void);

#endif
