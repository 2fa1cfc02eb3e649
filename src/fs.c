/*
 * The FUSE low-level operations: dispatch. Each op finds its node (a path
 * resolved one name at a time) and hands the request to what serves that
 * kind of node; this file holds the virtual tree of man/jobfs.5 (LAYOUT)
 * and the ops table.
 *
 *   /            README metrics new/ by-state/ platforms/ NAME/...
 *   NAME/        status status.json result log error events steps wait
 *                cancel run job.json app/ runs/
 *   runs/N/      status status.json result log error events steps wait
 *                cancel
 *
 * Lookups resolve a name against the job core and make a node; the files
 * of jobs, platforms, README and metrics are served by fs_job.c; new/ and app/
 * mirror directories on disk (fs_new.c). Replies, attributes and listings
 * are fs_reply.c's; the listeners and kernel cache invalidation are
 * fs_notify.c's. fs.c calls those files and none of them calls fs.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"
#include "fs_job.h"
#include "fs_new.h"
#include "fs_reply.h"
#include "jobconf.h"

/* Attributes of a node that has no disk file behind it. */
static int virtual_stat(struct jobfs *jfs, const struct node *n,
			struct stat *st)
{
	switch (n->kind) {
	case NODE_ROOT:
	case NODE_BY_STATE:
	case NODE_STATE_DIR:
	case NODE_PLATFORMS:
	case NODE_PLATFORM:
	case NODE_JOB:
	case NODE_RUNS:
	case NODE_RUN:
		fs_stat_init(st, n, S_IFDIR | 0555);
		st->st_mtime = (time_t)jfs->started_at;
		return 0;
	case NODE_STATE_LINK:
		fs_stat_init(st, n, S_IFLNK | 0777);
		st->st_mtime = (time_t)jfs->started_at;
		st->st_size = (off_t)strlen(n->name) + 6;
		return 0;
	case NODE_RUNS_LATEST: {
		fs_stat_init(st, n, S_IFLNK | 0777);
		int count = job_run_latest(jfs->jobs, n->job);
		if (count < 1)
			return -ENOENT;
		st->st_size = snprintf(NULL, 0, "%d", count);
		return 0;
	}
	default:
		return fs_job_stat(jfs, n, st);
	}
}

/* --- lookups -------------------------------------------------------------- */

static int index_of(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int resolve_in_job(struct jobfs *jfs, const struct node *parent,
			  const char *name, enum node_kind *kind, int *file)
{
	if (strcmp(name, "runs") == 0) {
		*kind = NODE_RUNS;
		return 0;
	}
	if (strcmp(name, "app") == 0) {
		char *dir = NULL;
		int rc = job_app_dir(jfs->jobs, parent->job, &dir);
		if (rc == 0 && access(dir, F_OK) != 0)
			rc = -ENOENT;
		free(dir);
		*kind = NODE_APP;
		return rc;
	}
	*kind = NODE_JOB_FILE;
	*file = index_of(job_file_names, JOB_FILE_COUNT, name);
	return *file < 0 ? -ENOENT : 0;
}

/* A run number: digits only, no leading zero, and the run must exist. */
static int resolve_in_runs(struct jobfs *jfs, const struct node *parent,
			   const char *name, enum node_kind *kind, int *run)
{
	int count = job_run_latest(jfs->jobs, parent->job);
	if (count < 1)
		return -ENOENT;
	if (strcmp(name, "latest") == 0) {
		*kind = NODE_RUNS_LATEST;
		return 0;
	}
	char *end;
	long n = strtol(name, &end, 10);
	if (name[0] < '1' || name[0] > '9' || *end || n > count ||
	    !job_run_has(jfs->jobs, parent->job, (int)n))
		return -ENOENT;
	*kind = NODE_RUN;
	*run = (int)n;
	return 0;
}

/* What @name means in the virtual directory @parent; -ENOENT if nothing. */
static int resolve(struct jobfs *jfs, const struct node *parent,
		   const char *name, enum node_kind *kind, int *file, int *run,
		   const char **job)
{
	*file = 0;
	*run = parent->run;
	*job = parent->job;
	switch (parent->kind) {
	case NODE_ROOT:
		*job = name;
		*kind = strcmp(name, "README") == 0	 ? NODE_README
			: strcmp(name, "metrics") == 0	 ? NODE_METRICS
			: strcmp(name, "new") == 0	 ? NODE_NEW
			: strcmp(name, "by-state") == 0	 ? NODE_BY_STATE
			: strcmp(name, "platforms") == 0 ? NODE_PLATFORMS
			: jobname_is_reserved(name)	 ? NODE_ROOT
			: job_exists(jfs->jobs, name)	 ? NODE_JOB
							 : NODE_ROOT;
		if (*kind != NODE_JOB)
			*job = NULL;
		return *kind == NODE_ROOT ? -ENOENT : 0;
	case NODE_BY_STATE: {
		enum run_state s;
		if (state_parse(name, &s))
			return -ENOENT;
		*kind = NODE_STATE_DIR;
		*file = (int)s;
		return 0;
	}
	case NODE_STATE_DIR: {
		struct run_view v;
		if (job_run_view(jfs->jobs, name, 0, false, &v))
			return -ENOENT;
		bool match = (int)v.state == parent->file;
		job_run_view_release(&v);
		*kind = NODE_STATE_LINK;
		*job = name;
		return match ? 0 : -ENOENT;
	}
	case NODE_PLATFORMS:
		*kind = NODE_PLATFORM;
		*job = name;
		return platforms_get(jfs->platforms, name) ? 0 : -ENOENT;
	case NODE_PLATFORM:
		*kind = NODE_PLATFORM_FILE;
		*file =
		    index_of(platform_file_names, PLATFORM_FILE_COUNT, name);
		return *file < 0 ? -ENOENT : 0;
	case NODE_JOB:
		return resolve_in_job(jfs, parent, name, kind, file);
	case NODE_RUNS:
		return resolve_in_runs(jfs, parent, name, kind, run);
	case NODE_RUN:
		*kind = NODE_JOB_FILE;
		*file = index_of(job_file_names, JOB_RUN, name);
		return *file < 0 ? -ENOENT : 0;
	default:
		return -ENOTDIR;
	}
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct jobfs *jfs = fs_ctx(req);
	struct node *parent = fs_node(req, parent_ino);
	if (parent->kind == NODE_NEW || fs_is_mirror(parent))
		return fs_mirror_lookup(req, parent, name);
	enum node_kind kind;
	int file, run;
	const char *job;
	int rc = resolve(jfs, parent, name, &kind, &file, &run, &job);
	if (rc)
		return fs_reply_rc(req, rc);
	struct stat st;
	struct node probe = {.kind = kind,
			     .file = file,
			     .run = run,
			     .job = (char *)job,
			     .name = (char *)name};
	if (kind == NODE_NEW || kind == NODE_APP)
		return fs_mirror_lookup(req, parent, name);
	rc = virtual_stat(jfs, &probe, &st);
	if (rc)
		return fs_reply_rc(req, rc);
	struct node *n =
	    nodes_lookup(jfs->nodes, parent, name, kind, file, run, job);
	if (!n)
		return fs_reply_rc(req, -ENOMEM);
	st.st_ino = node_ino(n);
	fs_reply_entry(req, n, &st);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	nodes_forget(fs_ctx(req)->nodes, fs_node(req, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		nodes_forget(fs_ctx(req)->nodes, fs_node(req, forgets[i].ino),
			     forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct node *n = fs_node(req, ino);
	if (n->kind == NODE_NEW || fs_is_mirror(n))
		return fs_mirror_getattr(req, n);
	struct stat st;
	int rc = virtual_stat(fs_ctx(req), n, &st);
	if (rc)
		return fs_reply_rc(req, rc);
	fuse_reply_attr(req, &st, fs_attr_timeout(n));
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = fs_node(req, ino);
	char target[256];
	if (n->kind == NODE_STATE_LINK) {
		snprintf(target, sizeof(target), "../../%s", n->name);
		return (void)fuse_reply_readlink(req, target);
	}
	if (n->kind == NODE_RUNS_LATEST) {
		int count = job_run_latest(fs_ctx(req)->jobs, n->job);
		if (count < 1)
			return fs_reply_rc(req, -ENOENT);
		snprintf(target, sizeof(target), "%d", count);
		return (void)fuse_reply_readlink(req, target);
	}
	if (fs_is_mirror(n))
		return fs_mirror_readlink(req, n);
	fs_reply_rc(req, -EINVAL);
}

/* --- directories ---------------------------------------------------------- */

static int list_jobs(struct jobfs *jfs, struct dir_listing *l, int state,
		     mode_t mode)
{
	char **names;
	size_t n;
	int rc = job_names(jfs->jobs, state, &names, &n);
	if (rc)
		return rc;
	rc = dir_listing_add_names(l, (const char *const *)names, n, mode);
	job_names_free(names, n);
	return rc;
}

static int list_root(struct jobfs *jfs, struct dir_listing *l)
{
	static const char *const fixed[] = {"new", "by-state", "platforms"};
	int rc = dir_listing_add(l, "README", S_IFREG);
	if (rc == 0)
		rc = dir_listing_add(l, "metrics", S_IFREG);
	if (rc == 0)
		rc = dir_listing_add_names(l, fixed, 3, S_IFDIR);
	if (rc == 0)
		rc = list_jobs(jfs, l, -1, S_IFDIR);
	return rc;
}

static int list_by_state(struct dir_listing *l)
{
	int rc = 0;
	for (int s = 0; rc == 0 && s < RUN_STATE_COUNT; s++)
		rc = dir_listing_add(l, state_name(s), S_IFDIR);
	return rc;
}

static int list_platforms(struct jobfs *jfs, struct dir_listing *l)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < platforms_count(jfs->platforms); i++)
		rc = dir_listing_add(l, platforms_name(jfs->platforms, i),
				     S_IFDIR);
	return rc;
}

static int list_job(struct jobfs *jfs, const struct node *n,
		    struct dir_listing *l)
{
	int rc =
	    dir_listing_add_names(l, job_file_names, JOB_FILE_COUNT, S_IFREG);
	char *dir = NULL;
	if (rc == 0 && job_app_dir(jfs->jobs, n->job, &dir) == 0 &&
	    access(dir, F_OK) == 0)
		rc = dir_listing_add(l, "app", S_IFDIR);
	free(dir);
	if (rc == 0)
		rc = dir_listing_add(l, "runs", S_IFDIR);
	return rc;
}

static int list_runs(struct jobfs *jfs, const struct node *n,
		     struct dir_listing *l)
{
	int *numbers;
	size_t count;
	int rc = job_run_numbers(jfs->jobs, n->job, &numbers, &count);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%d", numbers[i]);
		rc = dir_listing_add(l, name, S_IFDIR);
	}
	if (rc == 0 && count > 0)
		rc = dir_listing_add(l, "latest", S_IFLNK);
	free(numbers);
	return rc;
}

static int list_dir(struct jobfs *jfs, struct node *n, struct dir_listing *l)
{
	switch (n->kind) {
	case NODE_ROOT:
		return list_root(jfs, l);
	case NODE_BY_STATE:
		return list_by_state(l);
	case NODE_STATE_DIR:
		return list_jobs(jfs, l, n->file, S_IFLNK);
	case NODE_PLATFORMS:
		return list_platforms(jfs, l);
	case NODE_PLATFORM:
		return dir_listing_add_names(l, platform_file_names,
					     PLATFORM_FILE_COUNT, S_IFREG);
	case NODE_JOB:
		return list_job(jfs, n, l);
	case NODE_RUNS:
		return list_runs(jfs, n, l);
	case NODE_RUN:
		return dir_listing_add_names(l, job_file_names, JOB_RUN,
					     S_IFREG);
	case NODE_NEW:
	case NODE_STAGED:
	case NODE_APP:
	case NODE_APP_ENTRY:
		return fs_mirror_list(jfs, n, l);
	default:
		return -ENOTDIR;
	}
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct dir_listing *l = dir_listing_new();
	if (!l)
		return fs_reply_rc(req, -ENOMEM);
	int rc = list_dir(fs_ctx(req), fs_node(req, ino), l);
	if (rc) {
		dir_listing_free(l);
		return fs_reply_rc(req, rc);
	}
	fs_reply_opendir(req, l, fi);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fs_reply_readdir(req, (const struct dir_listing *)(uintptr_t)fi->fh,
			 size, off);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	dir_listing_free((struct dir_listing *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* --- creating and removing ------------------------------------------------ */

static bool in_new(const struct node *n)
{
	return n->kind == NODE_NEW || n->kind == NODE_STAGED;
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct node *p = fs_node(req, parent);
	if (!in_new(p))
		return fs_reply_rc(req, -EACCES);
	fs_mirror_mkdir(req, p, name, mode);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct node *p = fs_node(req, parent);
	if (!in_new(p))
		return fs_reply_rc(req, -EACCES);
	fs_mirror_mknod(req, p, name, mode, rdev);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct node *p = fs_node(req, parent);
	if (!in_new(p))
		return fs_reply_rc(req, -EACCES);
	fs_mirror_create(req, p, name, mode, fi);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct node *p = fs_node(req, parent);
	if (!in_new(p))
		return fs_reply_rc(req, -EACCES);
	fs_mirror_symlink(req, link, p, name);
}

/*
 * Unlinking inside a job directory is how `rm -r NAME` empties it before
 * its rmdir: it changes nothing, and fails with EBUSY while a run is
 * active so that rm stops early with the right error.
 */
static int job_entry_unlink(struct jobfs *jfs, const struct node *p)
{
	if (!p->job || p->kind == NODE_PLATFORMS || p->kind == NODE_PLATFORM ||
	    p->kind == NODE_STATE_DIR)
		return -EACCES;
	struct run_view v;
	if (job_run_view(jfs->jobs, p->job, 0, false, &v))
		return job_exists(jfs->jobs, p->job) ? 0 : -ENOENT;
	bool active = !state_is_terminal(v.state);
	job_run_view_release(&v);
	return active ? -EBUSY : 0;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *p = fs_node(req, parent);
	if (in_new(p))
		return fs_mirror_unlink(req, p, name);
	fs_reply_rc(req, job_entry_unlink(fs_ctx(req), p));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct jobfs *jfs = fs_ctx(req);
	struct node *p = fs_node(req, parent);
	if (in_new(p))
		return fs_mirror_rmdir(req, p, name);
	if (p->kind == NODE_ROOT) {
		int rc = jobname_is_reserved(name)
			     ? -EACCES
			     : job_remove(jfs->jobs, name);
		return fs_reply_rc(req, rc);
	}
	fs_reply_rc(req, job_entry_unlink(jfs, p));
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct node *p = fs_node(req, parent), *np = fs_node(req, newparent);
	if (!in_new(p) || !in_new(np))
		return fs_reply_rc(req,
				   in_new(p) || in_new(np) ? -EXDEV : -EACCES);
	fs_mirror_rename(req, p, name, np, newname, flags);
}

/* --- files ---------------------------------------------------------------- */

/*
 * Requests on open files hold a reference on the handle for their whole
 * run and give it back after replying, through the table they read before
 * the reply: a request is freed once it is answered.
 */

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = fs_node(req, ino);
	if (n->kind == NODE_STAGED || fs_is_mirror(n))
		return fs_mirror_open(req, n, fi);
	fs_job_open(req, n, fi);
}

static bool is_mirror_handle(const struct handle *h)
{
	return h->node->kind == NODE_STAGED || fs_is_mirror(h->node);
}

static void read_on(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	if (is_mirror_handle(h))
		return fs_mirror_read(req, h, size, off);
	fs_job_read(req, h, size, off);
}

static void write_on(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off)
{
	if (h->node->kind == NODE_STAGED)
		return fs_mirror_write(req, h, buf, size, off);
	if (is_mirror_handle(h))
		return fs_reply_rc(req, -EROFS);
	fs_job_write(req, h, buf, size);
}

static void flush_on(fuse_req_t req, struct handle *h)
{
	if (h->node->kind == NODE_STAGED)
		return fs_mirror_flush(req, h);
	if (is_mirror_handle(h))
		return fs_reply_rc(req, 0);
	fs_job_flush(req, h);
}

static void poll_on(fuse_req_t req, struct handle *h,
		    struct fuse_pollhandle *ph)
{
	if (is_mirror_handle(h)) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		return (void)fuse_reply_poll(req, POLLIN | POLLOUT);
	}
	fs_job_poll(req, h, ph);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handles *hs = fs_ctx(req)->handles;
	struct handle *h = handles_get(hs, fi->fh);
	if (!h)
		return fs_reply_rc(req, -EBADF);
	read_on(req, h, size, off);
	handles_put(hs, h);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handles *hs = fs_ctx(req)->handles;
	struct handle *h = handles_get(hs, fi->fh);
	if (!h)
		return fs_reply_rc(req, -EBADF);
	write_on(req, h, buf, size, off);
	handles_put(hs, h);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handles *hs = fs_ctx(req)->handles;
	struct handle *h = handles_get(hs, fi->fh);
	if (!h)
		return fs_reply_rc(req, -EBADF);
	flush_on(req, h);
	handles_put(hs, h);
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct handles *hs = fs_ctx(req)->handles;
	struct handle *h = handles_get(hs, fi->fh);
	if (!h)
		return fs_reply_rc(req, -EBADF);
	if (h->node->kind == NODE_STAGED)
		fs_mirror_fsync(req, h, datasync);
	else
		fs_reply_rc(req, 0);
	handles_put(hs, h);
}

static void fs_release_file(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct jobfs *jfs = fs_ctx(req);
	struct handle *h = handles_get(jfs->handles, fi->fh);
	if (h) {
		fs_job_release(jfs, h);
		handles_remove(jfs->handles, fi->fh);
		handles_put(jfs->handles, h);
	}
	fuse_reply_err(req, 0);
}

static void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct handles *hs = fs_ctx(req)->handles;
	struct handle *h = handles_get(hs, fi->fh);
	if (!h) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		return fs_reply_rc(req, -EBADF);
	}
	poll_on(req, h, ph);
	handles_put(hs, h);
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct node *n = fs_node(req, ino);
	if (n->kind == NODE_STAGED || n->kind == NODE_NEW)
		return fs_mirror_setattr(req, n, attr, to_set, fi);
	/* `echo x > NAME/cancel` truncates before it writes */
	bool truncate_only = to_set == FUSE_SET_ATTR_SIZE && attr->st_size == 0;
	bool action = n->kind == NODE_JOB_FILE &&
		      (n->file == JOB_CANCEL || n->file == JOB_RUN);
	if (!(truncate_only && action))
		return fs_reply_rc(req, -EACCES);
	fs_getattr(req, ino, fi);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	if (statvfs(fs_ctx(req)->opts.state_dir, &sv) != 0)
		return fs_reply_rc(req, -errno);
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .readlink = fs_readlink,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .symlink = fs_symlink,
    .rename = fs_rename,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release_file,
    .fsync = fs_fsync,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .statfs = fs_statfs,
    .create = fs_create,
    .poll = fs_poll,
};

const struct fuse_lowlevel_ops *fs_ops(void)
{
	return &ops;
}
