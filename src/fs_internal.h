/*
 * Shared between fs.c (tree, lookups, directories), fs_job.c (job,
 * platform and README files) and fs_new.c (new/ and app/ passthrough).
 */
#ifndef JOBFS_FS_INTERNAL_H
#define JOBFS_FS_INTERNAL_H

#include <stdbool.h>
#include <sys/stat.h>

#include "fs.h"
#include "handle.h"

/* Files of a job directory (and, a subset, of runs/N/). */
enum job_file {
	JOB_STATUS,
	JOB_STATUS_JSON,
	JOB_RESULT,
	JOB_LOG,
	JOB_ERROR,
	JOB_EVENTS,
	JOB_WAIT,
	JOB_CANCEL,
	JOB_RUN,
	JOB_CONFIG,
	JOB_FILE_COUNT
};

enum platform_file {
	PLATFORM_KIND,
	PLATFORM_HEALTH,
	PLATFORM_STATS,
	PLATFORM_FILE_COUNT
};

extern const char *const job_file_names[JOB_FILE_COUNT];
extern const char *const platform_file_names[PLATFORM_FILE_COUNT];

static inline struct jobfs *fs_ctx(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct node *fs_node(fuse_req_t req, fuse_ino_t ino)
{
	return nodes_from_ino(fs_ctx(req)->nodes, ino);
}

/* Replies with -rc (rc is 0 or a negative errno). */
static inline void fs_reply_rc(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

/* Fills the common fields of a stat for a virtual node. */
void fs_stat_init(struct stat *st, const struct node *n, mode_t mode);

/* Replies to a lookup with @n and @st (entry and attr timeouts by kind). */
void fs_reply_entry(fuse_req_t req, struct node *n, struct stat *st);

/* Attribute timeout for a node (0 for files whose size changes). */
double fs_attr_timeout(const struct node *n);

/* Puts @h in the open-file table and replies to the open (or create). */
void fs_reply_open(fuse_req_t req, struct handle *h, struct fuse_file_info *fi);

/* fs_job.c */
int fs_job_stat(struct jobfs *jfs, const struct node *n, struct stat *st);
void fs_job_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void fs_job_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void fs_job_write(fuse_req_t req, struct handle *h, const char *buf,
		  size_t size);
void fs_job_flush(fuse_req_t req, struct handle *h);
void fs_job_poll(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph);
void fs_job_release(struct jobfs *jfs, struct handle *h);
int fs_static_text(struct jobfs *jfs, const struct node *n, char **text_out,
		   size_t *len_out);

/*
 * Queues a kernel cache invalidation, sent from the poller thread (see
 * fs_flush_invalidations): @what is a job name (its job.json and app/), or
 * FS_INVAL_STAGED "NAME" for the entry new/NAME, dropped if NAME is gone
 * from disk by then. No job name has a '/', so the two cannot meet.
 */
#define FS_INVAL_STAGED "new/"
void fs_queue_invalidation(struct jobfs *jfs, const char *what);

/* fs_new.c: new/ (read-write) and app/ (read-only) mirror directories. */
bool fs_is_mirror(const struct node *n);
int fs_mirror_path(struct jobfs *jfs, const struct node *n, char *buf,
		   size_t len);
void fs_mirror_lookup(fuse_req_t req, struct node *parent, const char *name);
void fs_mirror_getattr(fuse_req_t req, struct node *n);
void fs_mirror_setattr(fuse_req_t req, struct node *n, struct stat *attr,
		       int to_set, struct fuse_file_info *fi);
void fs_mirror_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void fs_mirror_create(fuse_req_t req, struct node *parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi);
void fs_mirror_mknod(fuse_req_t req, struct node *parent, const char *name,
		     mode_t mode, dev_t rdev);
void fs_mirror_mkdir(fuse_req_t req, struct node *parent, const char *name,
		     mode_t mode);
void fs_mirror_symlink(fuse_req_t req, const char *link, struct node *parent,
		       const char *name);
void fs_mirror_unlink(fuse_req_t req, struct node *parent, const char *name);
void fs_mirror_rmdir(fuse_req_t req, struct node *parent, const char *name);
void fs_mirror_rename(fuse_req_t req, struct node *parent, const char *name,
		      struct node *new_parent, const char *new_name,
		      unsigned int flags);
void fs_mirror_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void fs_mirror_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off);
void fs_mirror_flush(fuse_req_t req, struct handle *h);
void fs_mirror_fsync(fuse_req_t req, struct handle *h, int datasync);
void fs_mirror_readlink(fuse_req_t req, struct node *n);
/* Appends a mirror directory's entries to a directory listing. */
struct dir_listing;
int fs_mirror_list(struct jobfs *jfs, struct node *n, struct dir_listing *l);

/* fs.c: directory listings */
int dir_listing_add(struct dir_listing *l, const char *name, mode_t mode);

#endif
