/*
 * Mirror directories: new/ (read-write staging) and NAME/app/ (read-only),
 * each backed by a directory under the state dir.
 *
 * The node tree gives every name its path below the mirror's top; the
 * operations are the ordinary system calls on the backing path, so new/
 * behaves as the ordinary directory man/jobfs.5 promises (LAYOUT). What
 * is special is new/NAME.json: closing it after a write deploys NAME
 * (job_deploy); only a write() counts, since shells flush a file once
 * before they write it (open, dup2, close) and truncation alone is not a
 * config. A write that completes a JSON document which fails validation
 * fails at once, since shells ignore close(). Errors land in
 * new/NAME.error.
 *
 * A commit takes files out of new/ behind the kernel's back: the kernel's
 * entries for them are dropped from the poller thread (forget_staged
 * queues them, fs_notify.c sends them), and an open for writing that
 * finds its file taken away since the lookup creates it again
 * (fs_mirror_open), as in an ordinary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_new.h"
#include "fs_notify.h"
#include "fs_reply.h"
#include "fsutil.h"
#include "jobconf.h"
#include "log.h"

#define MAX_CONFIG_BYTES (1 << 20)

bool fs_is_mirror(const struct node *n)
{
	return n->kind == NODE_NEW || n->kind == NODE_STAGED ||
	       n->kind == NODE_APP || n->kind == NODE_APP_ENTRY;
}

static bool is_read_only(const struct node *n)
{
	return n->kind == NODE_APP || n->kind == NODE_APP_ENTRY;
}

/* The backing path of @n. */
static int mirror_path(struct jobfs *jfs, const struct node *n, char *buf,
		       size_t len)
{
	char rel[4096], *app = NULL;
	bool in_app = is_read_only(n);
	int rc = nodes_path(jfs->nodes, n, in_app ? NODE_APP : NODE_NEW, rel,
			    sizeof(rel));
	if (rc == 0 && in_app)
		rc = job_app_dir(jfs->jobs, n->job, &app);
	if (rc)
		return rc;
	const char *top = in_app ? app : jfs->new_dir;
	int n_out = snprintf(buf, len, "%s%s%s", top, rel[0] ? "/" : "", rel);
	free(app);
	return n_out < 0 || (size_t)n_out >= len ? -ENAMETOOLONG : 0;
}

/* The backing path of @parent/@name. */
static int child_path(struct jobfs *jfs, const struct node *parent,
		      const char *name, char *buf, size_t len)
{
	char dir[4096];
	int rc = parent->kind == NODE_ROOT
		     ? (snprintf(dir, sizeof(dir), "%s", jfs->new_dir), 0)
		 : parent->kind == NODE_JOB
		     ? 0
		     : mirror_path(jfs, parent, dir, sizeof(dir));
	if (rc)
		return rc;
	if (parent->kind == NODE_ROOT) /* new/ itself */
		return snprintf(buf, len, "%s", dir) >= (int)len ? -ENAMETOOLONG
								 : 0;
	if (parent->kind == NODE_JOB) { /* NAME/app itself */
		char *app = NULL;
		rc = job_app_dir(jfs->jobs, parent->job, &app);
		if (rc == 0 && snprintf(buf, len, "%s", app) >= (int)len)
			rc = -ENAMETOOLONG;
		free(app);
		return rc;
	}
	return snprintf(buf, len, "%s/%s", dir, name) >= (int)len
		   ? -ENAMETOOLONG
		   : 0;
}

static enum node_kind child_kind(const struct node *parent)
{
	switch (parent->kind) {
	case NODE_ROOT:
		return NODE_NEW;
	case NODE_JOB:
		return NODE_APP;
	case NODE_APP:
	case NODE_APP_ENTRY:
		return NODE_APP_ENTRY;
	default:
		return NODE_STAGED;
	}
}

/* App entries are shown read-only whatever their mode on disk. */
static void present(const struct node *n, struct stat *st)
{
	st->st_ino = node_ino(n);
	if (is_read_only(n))
		st->st_mode &= ~(mode_t)0222;
}

void fs_mirror_lookup(fuse_req_t req, struct node *parent, const char *name)
{
	struct jobfs *jfs = fs_ctx(req);
	char path[4096];
	struct stat st;
	int rc = child_path(jfs, parent, name, path, sizeof(path));
	if (rc == 0 && lstat(path, &st) != 0)
		rc = -errno;
	if (rc)
		return fs_reply_rc(req, rc);
	struct node *n = nodes_lookup(jfs->nodes, parent, name,
				      child_kind(parent), 0, 0, parent->job);
	if (!n)
		return fs_reply_rc(req, -ENOMEM);
	present(n, &st);
	fs_reply_entry(req, n, &st);
}

static int mirror_stat(struct jobfs *jfs, struct node *n, struct stat *st)
{
	char path[4096];
	int rc = mirror_path(jfs, n, path, sizeof(path));
	if (rc == 0 && lstat(path, st) != 0)
		rc = -errno;
	if (rc == 0)
		present(n, st);
	return rc;
}

void fs_mirror_getattr(fuse_req_t req, struct node *n)
{
	struct stat st;
	int rc = mirror_stat(fs_ctx(req), n, &st);
	if (rc)
		return fs_reply_rc(req, rc);
	fuse_reply_attr(req, &st, fs_attr_timeout(n));
}

static int apply_setattr(const char *path, int fd, struct stat *attr,
			 int to_set)
{
	if ((to_set & FUSE_SET_ATTR_MODE) && chmod(path, attr->st_mode) != 0)
		return -errno;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		int r = fd >= 0 ? ftruncate(fd, attr->st_size)
				: truncate(path, attr->st_size);
		if (r != 0)
			return -errno;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT},
					 {.tv_nsec = UTIME_OMIT}};
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (utimensat(AT_FDCWD, path, tv, AT_SYMLINK_NOFOLLOW) != 0)
			return -errno;
	}
	return 0;
}

void fs_mirror_setattr(fuse_req_t req, struct node *n, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct jobfs *jfs = fs_ctx(req);
	char path[4096];
	if (is_read_only(n))
		return fs_reply_rc(req, -EROFS);
	int rc = mirror_path(jfs, n, path, sizeof(path));
	struct handle *h = fi ? handles_get(jfs->handles, fi->fh) : NULL;
	if (rc == 0)
		rc = apply_setattr(path, h ? h->fd : -1, attr, to_set);
	if (h)
		handles_put(jfs->handles, h);
	if (rc)
		return fs_reply_rc(req, rc);
	fs_mirror_getattr(req, n);
}

static void reply_open(fuse_req_t req, struct node *n, int fd,
		       struct fuse_file_info *fi)
{
	struct handle *h = handle_new(n);
	if (!h) {
		close(fd);
		return fs_reply_rc(req, -ENOMEM);
	}
	h->fd = fd;
	fs_reply_open(req, h, fi);
}

void fs_mirror_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	char path[4096];
	bool wants_write = (fi->flags & O_ACCMODE) != O_RDONLY;
	if (is_read_only(n) && wants_write)
		return fs_reply_rc(req, -EROFS);
	int rc = mirror_path(fs_ctx(req), n, path, sizeof(path));
	if (rc)
		return fs_reply_rc(req, rc);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW);
	/*
	 * The kernel looked the name up just before, so a staged file gone
	 * by now was taken away in between, most likely by the commit of
	 * another writer's NAME.json. The kernel keeps O_CREAT to itself,
	 * but nearly every open for writing has it (`>`, `>>`, cp): create
	 * the file again, as an ordinary directory would have.
	 */
	if (fd < 0 && errno == ENOENT && n->kind == NODE_STAGED && wants_write)
		fd = open(path, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return fs_reply_rc(req, -errno);
	reply_open(req, n, fd, fi);
}

/* Looks the new name up after a create, replying with its entry. */
static struct node *entry_after_create(fuse_req_t req, struct node *parent,
				       const char *name, struct stat *st)
{
	struct node *n = nodes_lookup(fs_ctx(req)->nodes, parent, name,
				      NODE_STAGED, 0, 0, NULL);
	if (n)
		st->st_ino = node_ino(n);
	return n;
}

void fs_mirror_create(fuse_req_t req, struct node *parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	char path[4096];
	struct stat st;
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc)
		return fs_reply_rc(req, rc);
	int fd = open(
	    path, (fi->flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW) & ~O_NOCTTY,
	    mode);
	if (fd < 0)
		return fs_reply_rc(req, -errno);
	struct node *n = fstat(fd, &st) == 0
			     ? entry_after_create(req, parent, name, &st)
			     : NULL;
	struct handle *h = n ? handle_new(n) : NULL;
	if (!h) {
		close(fd);
		if (n)
			nodes_forget(fs_ctx(req)->nodes, n, 1);
		return fs_reply_rc(req, -ENOMEM);
	}
	h->fd = fd;
	struct handles *hs = fs_ctx(req)->handles;
	fi->fh = handles_add(hs, h);
	struct fuse_entry_param e = {
	    .ino = node_ino(n), .generation = n->generation, .attr = st};
	struct nodes *nodes =
	    fs_ctx(req)->nodes; /* req is gone after replying */
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		handles_remove(hs, fi->fh);
		nodes_forget(nodes, n, 1);
	}
}

/* Replies with the entry of a just-made @parent/@name. */
static void reply_made(fuse_req_t req, struct node *parent, const char *name,
		       const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return fs_reply_rc(req, -errno);
	struct node *n = entry_after_create(req, parent, name, &st);
	if (!n)
		return fs_reply_rc(req, -ENOMEM);
	fs_reply_entry(req, n, &st);
}

void fs_mirror_mknod(fuse_req_t req, struct node *parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	char path[4096];
	if (!S_ISREG(mode) && !S_ISFIFO(mode))
		return fs_reply_rc(req, -EPERM);
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc == 0 && mknod(path, mode, rdev) != 0)
		rc = -errno;
	if (rc)
		return fs_reply_rc(req, rc);
	reply_made(req, parent, name, path);
}

void fs_mirror_mkdir(fuse_req_t req, struct node *parent, const char *name,
		     mode_t mode)
{
	char path[4096];
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc == 0 && mkdir(path, mode) != 0)
		rc = -errno;
	if (rc)
		return fs_reply_rc(req, rc);
	reply_made(req, parent, name, path);
}

void fs_mirror_symlink(fuse_req_t req, const char *link, struct node *parent,
		       const char *name)
{
	char path[4096];
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc == 0 && symlink(link, path) != 0)
		rc = -errno;
	if (rc)
		return fs_reply_rc(req, rc);
	reply_made(req, parent, name, path);
}

void fs_mirror_unlink(fuse_req_t req, struct node *parent, const char *name)
{
	char path[4096];
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc == 0 && unlink(path) != 0)
		rc = -errno;
	fs_reply_rc(req, rc);
}

void fs_mirror_rmdir(fuse_req_t req, struct node *parent, const char *name)
{
	char path[4096];
	int rc = child_path(fs_ctx(req), parent, name, path, sizeof(path));
	if (rc == 0 && rmdir(path) != 0)
		rc = -errno;
	fs_reply_rc(req, rc);
}

void fs_mirror_rename(fuse_req_t req, struct node *parent, const char *name,
		      struct node *new_parent, const char *new_name,
		      unsigned int flags)
{
	struct jobfs *jfs = fs_ctx(req);
	char from[4096], to[4096];
	int rc = child_path(jfs, parent, name, from, sizeof(from));
	if (rc == 0)
		rc = child_path(jfs, new_parent, new_name, to, sizeof(to));
	if (rc == 0 && renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) != 0)
		rc = -errno;
	if (rc == 0)
		nodes_rename(jfs->nodes, parent, name, new_parent, new_name);
	fs_reply_rc(req, rc);
}

void fs_mirror_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = h->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

/* --- new/NAME.json -------------------------------------------------------- */

/* The job a top-level new/NAME.json names, or false for any other file. */
static bool config_job_name(const struct node *n, char *name, size_t len)
{
	size_t l = strlen(n->name);
	if (!n->parent || n->parent->kind != NODE_NEW || l <= 5 ||
	    strcmp(n->name + l - 5, ".json") != 0 || l - 5 >= len)
		return false;
	memcpy(name, n->name, l - 5);
	name[l - 5] = '\0';
	return true;
}

static void write_error_file(struct jobfs *jfs, const char *job,
			     const char *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.error", jfs->new_dir, job);
	char *text = NULL;
	if (asprintf(&text, "%s\n", err) < 0)
		return;
	int rc = fsutil_write_atomic(path, text, strlen(text), 0644);
	if (rc)
		log_warn("cannot write \"%s\": %s", path, strerror(-rc));
	free(text);
}

/* Reads new/NAME.json through its path: the handle may be write-only. */
static int read_config(struct jobfs *jfs, struct handle *h, char **text_out,
		       size_t *len_out)
{
	char path[4096];
	int rc = mirror_path(jfs, h->node, path, sizeof(path));
	if (rc == 0)
		rc = fsutil_read_all(path, MAX_CONFIG_BYTES, text_out, len_out);
	return rc;
}

/* Validates a config as soon as its bytes form a whole JSON document. */
static int check_on_write(struct jobfs *jfs, struct handle *h)
{
	char job[256], *text = NULL, err[1024];
	size_t len;
	if (!config_job_name(h->node, job, sizeof(job)) ||
	    read_config(jfs, h, &text, &len) != 0)
		return 0;
	int rc = 0;
	if (jobconf_is_complete_json(text, len)) {
		rc = job_check_config(jfs->jobs, job, text, len, err,
				      sizeof(err));
		if (rc)
			write_error_file(jfs, job, err);
	}
	free(text);
	return rc;
}

void fs_mirror_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size, off_t off)
{
	ssize_t put = pwrite(h->fd, buf, size, off);
	if (put < 0)
		return fs_reply_rc(req, -errno);
	h->written = true;
	int rc = check_on_write(fs_ctx(req), h);
	if (rc)
		return fs_reply_rc(req, rc);
	fuse_reply_write(req, (size_t)put);
}

/* The names in new/ that a deploy of @job may take away: @job, @job.*. */
struct staged_names {
	char **names;
	size_t n;
};

static void staged_names_free(struct staged_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	*s = (struct staged_names){NULL, 0};
}

static int staged_names_take(struct jobfs *jfs, const char *job,
			     struct staged_names *s)
{
	size_t l = strlen(job);
	DIR *dir = opendir(jfs->new_dir);
	if (!dir)
		return -errno;
	int rc = 0;
	struct dirent *d;
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, job, l) != 0 ||
		    (d->d_name[l] != '\0' && d->d_name[l] != '.'))
			continue;
		char **bigger = realloc(s->names, (s->n + 1) * sizeof(char *));
		char *copy = bigger ? strdup(d->d_name) : NULL;
		if (bigger)
			s->names = bigger;
		if (copy)
			s->names[s->n++] = copy;
		else
			rc = -ENOMEM;
	}
	closedir(dir);
	return rc;
}

/*
 * After a commit: the kernel may still hold entries of the staged files
 * the deploy took away; have the poller thread drop them (a notification
 * from this request could wait on the directory lock of a request that
 * waits for a free worker).
 */
static void forget_staged(struct jobfs *jfs, struct staged_names *s)
{
	bool queued = false;
	for (size_t i = 0; i < s->n; i++) {
		char path[4096], what[512];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", jfs->new_dir,
			 s->names[i]);
		if (lstat(path, &st) == 0 ||
		    snprintf(what, sizeof(what), FS_INVAL_STAGED "%s",
			     s->names[i]) >= (int)sizeof(what))
			continue;
		fs_queue_invalidation(jfs, what);
		queued = true;
	}
	if (queued)
		poller_kick(jfs->poller);
}

/* Deploys NAME when new/NAME.json is closed after a write. */
static int commit(struct jobfs *jfs, struct handle *h)
{
	char job[256], *text = NULL, err[2048] = "";
	struct staged_names staged = {NULL, 0};
	size_t len;
	if (!config_job_name(h->node, job, sizeof(job)))
		return 0;
	int rc = read_config(jfs, h, &text, &len);
	if (rc == -EFBIG)
		snprintf(err, sizeof(err),
			 "config too large\nmore than %d bytes",
			 MAX_CONFIG_BYTES);
	/* without the list, only the kernel's cache of new/ suffers */
	if (rc == 0 && staged_names_take(jfs, job, &staged) != 0)
		staged_names_free(&staged);
	if (rc == 0)
		rc = job_deploy(jfs->jobs, jfs->new_dir, job, text, len, err,
				sizeof(err));
	if (rc == 0)
		forget_staged(jfs, &staged);
	staged_names_free(&staged);
	free(text);
	if (rc) {
		log_info("job \"%s\": not deployed: %s", job, err);
		write_error_file(jfs, job, err[0] ? err : strerror(-rc));
		return rc == -ENOMEM || rc == -EIO ? rc : -EINVAL;
	}
	return 0;
}

void fs_mirror_flush(fuse_req_t req, struct handle *h)
{
	int rc = 0;
	if (h->written) {
		h->written = false;
		rc = commit(fs_ctx(req), h);
	}
	fs_reply_rc(req, rc);
}

void fs_mirror_fsync(fuse_req_t req, struct handle *h, int datasync)
{
	int r = datasync ? fdatasync(h->fd) : fsync(h->fd);
	fs_reply_rc(req, r == 0 ? 0 : -errno);
}

void fs_mirror_readlink(fuse_req_t req, struct node *n)
{
	char path[4096], target[4096];
	int rc = mirror_path(fs_ctx(req), n, path, sizeof(path));
	if (rc)
		return fs_reply_rc(req, rc);
	ssize_t len = readlink(path, target, sizeof(target) - 1);
	if (len < 0)
		return fs_reply_rc(req, -errno);
	target[len] = '\0';
	fuse_reply_readlink(req, target);
}

int fs_mirror_list(struct jobfs *jfs, struct node *n, struct dir_listing *l)
{
	char path[4096];
	int rc = mirror_path(jfs, n, path, sizeof(path));
	DIR *dir = rc == 0 ? opendir(path) : NULL;
	if (!dir)
		return rc ? rc : -errno;
	struct dirent *d;
	while (rc == 0 && (d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		rc = dir_listing_add(l, d->d_name, (mode_t)DTTOIF(d->d_type));
	}
	closedir(dir);
	return rc;
}
