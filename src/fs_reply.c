/*
 * Replies, attributes and directory listings shared by the FUSE handlers
 * (fs.c, fs_job.c, fs_new.c); it calls none of them.
 *
 * Timeouts: names that never change meaning are cached by the kernel for
 * a second; files whose content changes have attribute timeout 0 (and are
 * opened direct_io, fs_job.c), so every stat and read comes to the daemon
 * and sizes are always true. Names whose meaning changes (by-state links,
 * runs/latest, anything below new/) have entry timeout 0 too.
 *
 * A request is freed once it is answered: a reply that fails with ENOENT
 * means the request was interrupted, and what was taken for it (a lookup,
 * a handle, a listing) is given back here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_reply.h"

#define ENTRY_TIMEOUT_S 1.0
/* readdir of a virtual dir gives no inode numbers: the kernel asks lookup */
#define UNKNOWN_INO 0xffffffffu

/* --- handles and attributes ----------------------------------------------- */

void fs_reply_open(fuse_req_t req, struct handle *h, struct fuse_file_info *fi)
{
	struct handles *hs = fs_ctx(req)->handles;
	fi->fh = handles_add(hs, h);
	if (fuse_reply_open(req, fi) == -ENOENT) /* the open was interrupted */
		handles_remove(hs, fi->fh);
}

void fs_stat_init(struct stat *st, const struct node *n, mode_t mode)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = node_ino(n);
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
}

double fs_attr_timeout(const struct node *n)
{
	switch (n->kind) {
	case NODE_JOB_FILE:
	case NODE_PLATFORM_FILE:
	case NODE_STATE_LINK:
	case NODE_RUNS_LATEST:
	case NODE_STAGED:
	case NODE_NEW:
		return 0;
	default:
		return ENTRY_TIMEOUT_S;
	}
}

static double entry_timeout(const struct node *n)
{
	return n->kind == NODE_STATE_LINK || n->kind == NODE_STAGED ||
		       n->kind == NODE_RUNS_LATEST
		   ? 0
		   : ENTRY_TIMEOUT_S;
}

void fs_reply_entry(fuse_req_t req, struct node *n, struct stat *st)
{
	struct fuse_entry_param e = {
	    .ino = node_ino(n),
	    .generation = n->generation,
	    .attr = *st,
	    .attr_timeout = fs_attr_timeout(n),
	    .entry_timeout = entry_timeout(n),
	};
	if (fuse_reply_entry(req, &e) == -ENOENT)
		nodes_forget(fs_ctx(req)->nodes, n,
			     1); /* request interrupted */
}

/* --- directory listings --------------------------------------------------- */

struct dir_entry {
	char *name;
	mode_t mode;
};

struct dir_listing {
	struct dir_entry *entries;
	size_t n, cap;
};

int dir_listing_add(struct dir_listing *l, const char *name, mode_t mode)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct dir_entry *bigger =
		    realloc(l->entries, cap * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		l->entries = bigger;
		l->cap = cap;
	}
	l->entries[l->n].name = strdup(name);
	if (!l->entries[l->n].name)
		return -ENOMEM;
	l->entries[l->n++].mode = mode;
	return 0;
}

int dir_listing_add_names(struct dir_listing *l, const char *const *names,
			  size_t n, mode_t mode)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = dir_listing_add(l, names[i], mode);
	return rc;
}

void dir_listing_free(struct dir_listing *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i].name);
	free(l->entries);
	free(l);
}

struct dir_listing *dir_listing_new(void)
{
	struct dir_listing *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	if (dir_listing_add(l, ".", S_IFDIR) != 0 ||
	    dir_listing_add(l, "..", S_IFDIR) != 0) {
		dir_listing_free(l);
		return NULL;
	}
	return l;
}

void fs_reply_opendir(fuse_req_t req, struct dir_listing *l,
		      struct fuse_file_info *fi)
{
	fi->fh = (uint64_t)(uintptr_t)l;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dir_listing_free(l);
}

void fs_reply_readdir(fuse_req_t req, const struct dir_listing *l, size_t size,
		      off_t off)
{
	char *buf = malloc(size);
	if (!buf)
		return fs_reply_rc(req, -ENOMEM);
	size_t used = 0;
	for (size_t i = (size_t)off; i < l->n; i++) {
		struct stat st = {.st_ino = UNKNOWN_INO,
				  .st_mode = l->entries[i].mode};
		size_t need =
		    fuse_add_direntry(req, buf + used, size - used,
				      l->entries[i].name, &st, (off_t)i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}
