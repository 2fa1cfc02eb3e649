/*
 * Mirror directories: new/ (read-write staging, where closing new/NAME.json
 * deploys NAME) and NAME/app/ (read-only), each backed by a directory on
 * disk. Every request on a node of a mirror comes here from fs.c;
 * fs_new.c calls the job core, fs_reply.c and fs_notify.c, never fs.c.
 */
#ifndef JOBFS_FS_NEW_H
#define JOBFS_FS_NEW_H

#include <stdbool.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "handle.h"
#include "jobfs.h"
#include "node.h"

struct dir_listing;

/* Whether @n is new/, NAME/app/ or anything below them. */
bool fs_is_mirror(const struct node *n);

/*
 * Lookup of @name in @parent: new/ itself (@parent the root), NAME/app
 * itself (@parent a job) or an entry of a mirror directory.
 */
void fs_mirror_lookup(fuse_req_t req, struct node *parent, const char *name);
void fs_mirror_getattr(fuse_req_t req, struct node *n);
void fs_mirror_setattr(fuse_req_t req, struct node *n, struct stat *attr,
		       int to_set, struct fuse_file_info *fi);
void fs_mirror_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void fs_mirror_readlink(fuse_req_t req, struct node *n);

/* Appends a mirror directory's entries to a directory listing. */
int fs_mirror_list(struct jobfs *jfs, struct node *n, struct dir_listing *l);

/* Making and removing names: only in new/ (fs.c checks). */
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

/* Requests on an open mirror file; write, flush and fsync only in new/. */
void fs_mirror_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void fs_mirror_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off);
/* Closing new/NAME.json after a write deploys NAME. */
void fs_mirror_flush(fuse_req_t req, struct handle *h);
void fs_mirror_fsync(fuse_req_t req, struct handle *h, int datasync);

#endif
