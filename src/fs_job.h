/*
 * The files of a job, of its runs, of platforms/PNAME/ and README: their
 * names, attributes, and what open, read, write, poll and release do.
 *
 * fs.c resolves names to nodes and hands these files' requests here;
 * fs_job.c calls the job core, waiters.c and fs_reply.c, never fs.c.
 */
#ifndef JOBFS_FS_JOB_H
#define JOBFS_FS_JOB_H

#include <stddef.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "handle.h"
#include "jobfs.h"
#include "node.h"

/* Files of a job directory (node->file); runs/N/ has those before JOB_RUN. */
enum job_file {
	JOB_STATUS,
	JOB_STATUS_JSON,
	JOB_RESULT,
	JOB_LOG,
	JOB_ERROR,
	JOB_EVENTS,
	JOB_STEPS,
	JOB_WAIT,
	JOB_CANCEL,
	JOB_RUN,
	JOB_CONFIG,
	JOB_FILE_COUNT
};

/* Files of platforms/PNAME/ (node->file). */
enum platform_file {
	PLATFORM_KIND,
	PLATFORM_HEALTH,
	PLATFORM_STATS,
	PLATFORM_FILE_COUNT
};

extern const char *const job_file_names[JOB_FILE_COUNT];
extern const char *const platform_file_names[PLATFORM_FILE_COUNT];

/*
 * Attributes of a job file, a platform file or README; -ENOENT for any
 * other node, the job core's error when the job or run is gone.
 */
int fs_job_stat(struct jobfs *jfs, const struct node *n, struct stat *st);

/* Opens a job file, platform file or README (-EISDIR for anything else). */
void fs_job_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);

void fs_job_read(fuse_req_t req, struct handle *h, size_t size, off_t off);

/* A write to cancel or run; acts once the input is whole. */
void fs_job_write(fuse_req_t req, struct handle *h, const char *buf,
		  size_t size);

void fs_job_flush(fuse_req_t req, struct handle *h);

/* poll: status and status.json follow the run's state (and keep @ph). */
void fs_job_poll(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph);

/*
 * Before any handle leaves the table: forgets its poll handle; a cancel or
 * run file closed without a write acts now (`: > NAME/run`).
 */
void fs_job_release(struct jobfs *jfs, struct handle *h);

#endif
