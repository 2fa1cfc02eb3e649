/*
 * What every FUSE handler uses to answer: the request's context and node,
 * error, entry and open replies, the attributes of a virtual node and the
 * directory listings taken at opendir.
 *
 * A leaf of the FUSE layer: fs.c, fs_job.c and fs_new.c call it, it calls
 * none of them. The sign of an error flips here once (fs_reply_rc).
 */
#ifndef JOBFS_FS_REPLY_H
#define JOBFS_FS_REPLY_H

#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "handle.h"
#include "jobfs.h"
#include "node.h"

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

/*
 * Attribute timeout for a node: 0 for what changes behind the kernel's
 * back (job and platform files, links, new/ and below), a second for the
 * rest.
 */
double fs_attr_timeout(const struct node *n);

/*
 * Replies to a lookup with @n and @st (entry and attribute timeouts by
 * kind); gives the lookup back if the request was interrupted.
 */
void fs_reply_entry(fuse_req_t req, struct node *n, struct stat *st);

/* Puts @h in the open-file table and replies to the open. */
void fs_reply_open(fuse_req_t req, struct handle *h, struct fuse_file_info *fi);

/*
 * A directory's entries, taken when it is opened and kept in fi->fh until
 * releasedir, so that a listing read in several parts is one snapshot.
 */
struct dir_listing;

/* A new listing holding "." and "..", or NULL when out of memory. */
struct dir_listing *dir_listing_new(void);
void dir_listing_free(struct dir_listing *l);

/* Appends @name (copied) with the file type bits of @mode. */
int dir_listing_add(struct dir_listing *l, const char *name, mode_t mode);

/* Appends the first @n names of @names, all with @mode. */
int dir_listing_add_names(struct dir_listing *l, const char *const *names,
			  size_t n, mode_t mode);

/* Replies to an opendir with @l, which is then the open directory's. */
void fs_reply_opendir(fuse_req_t req, struct dir_listing *l,
		      struct fuse_file_info *fi);

/* Replies to a readdir of @l from entry @off with at most @size bytes. */
void fs_reply_readdir(fuse_req_t req, const struct dir_listing *l, size_t size,
		      off_t off);

#endif
