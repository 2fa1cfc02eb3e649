/*
 * passthrough: a minimal FUSE passthrough of one flat directory, the
 * baseline of the deploy benchmark (writing a bundle into jobfs's new/).
 *
 *   passthrough -o source=DIR [-f] [-s] [-o OPTION...] MOUNTPOINT
 *
 * Like libfuse's passthrough_ll, but small: files only, no subdirectories
 * (a bundle written with cp is one file). Inodes are the names seen so
 * far, in a table under one lock; each operation is the plain system call
 * on DIR/NAME or on the open descriptor (write is pwrite, read is spliced
 * from the file, flush is close(dup(fd)) as in passthrough_ll). Held the
 * same as jobfs's new/: no init() (default connection flags), the same
 * mount options, the same loop (16 threads at most), timeouts 0 for files
 * (jobfs gives staged files no attribute or entry caching) and 1 s for the
 * root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

struct pt {
	char *source;
	int dirfd;
	pthread_mutex_t lock;
	char **names; /* inode 2 + i is names[i] */
	size_t n, cap;
};

static struct pt *pt_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The name of inode @ino, copied into @buf; false if unknown. */
static bool name_of(struct pt *pt, fuse_ino_t ino, char *buf, size_t len)
{
	pthread_mutex_lock(&pt->lock);
	bool known = ino >= 2 && ino - 2 < pt->n;
	if (known)
		snprintf(buf, len, "%s", pt->names[ino - 2]);
	pthread_mutex_unlock(&pt->lock);
	return known;
}

/* The inode of @name, entered in the table if new; 0 when out of memory. */
static fuse_ino_t ino_of(struct pt *pt, const char *name)
{
	fuse_ino_t ino = 0;
	pthread_mutex_lock(&pt->lock);
	for (size_t i = 0; i < pt->n && !ino; i++)
		if (strcmp(pt->names[i], name) == 0)
			ino = i + 2;
	if (!ino && pt->n == pt->cap) {
		size_t cap = pt->cap ? pt->cap * 2 : 64;
		char **bigger = realloc(pt->names, cap * sizeof(*bigger));
		if (bigger) {
			pt->names = bigger;
			pt->cap = cap;
		}
	}
	if (!ino && pt->n < pt->cap && (pt->names[pt->n] = strdup(name)))
		ino = ++pt->n + 1;
	pthread_mutex_unlock(&pt->lock);
	return ino;
}

static int stat_ino(struct pt *pt, fuse_ino_t ino, struct stat *st)
{
	char name[NAME_MAX + 1];
	if (ino == FUSE_ROOT_ID)
		return fstat(pt->dirfd, st) == 0 ? 0 : -errno;
	if (!name_of(pt, ino, name, sizeof(name)))
		return -ENOENT;
	if (fstatat(pt->dirfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	st->st_ino = ino;
	return 0;
}

static void reply_entry(fuse_req_t req, const char *name)
{
	struct pt *pt = pt_of(req);
	struct fuse_entry_param e = {.ino = ino_of(pt, name)};
	if (!e.ino)
		return (void)fuse_reply_err(req, ENOMEM);
	int rc = stat_ino(pt, e.ino, &e.attr);
	if (rc)
		return (void)fuse_reply_err(req, -rc);
	fuse_reply_entry(req, &e);
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID)
		return (void)fuse_reply_err(req, ENOENT);
	reply_entry(req, name);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int rc = stat_ino(pt_of(req), ino, &st);
	if (rc)
		return (void)fuse_reply_err(req, -rc);
	if (ino == FUSE_ROOT_ID)
		st.st_ino = FUSE_ROOT_ID;
	fuse_reply_attr(req, &st, ino == FUSE_ROOT_ID ? 1.0 : 0);
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct pt *pt = pt_of(req);
	char name[NAME_MAX + 1];
	if (!name_of(pt, ino, name, sizeof(name)))
		return (void)fuse_reply_err(req, EACCES);
	int rc = 0;
	if (to_set & FUSE_SET_ATTR_MODE)
		rc = fchmodat(pt->dirfd, name, attr->st_mode, 0);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = fi ? ftruncate((int)fi->fh, attr->st_size) : -1;
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE) && !fi) {
		int fd = openat(pt->dirfd, name, O_WRONLY | O_CLOEXEC);
		rc = fd < 0 ? -1 : ftruncate(fd, attr->st_size);
		if (fd >= 0)
			close(fd);
	}
	if (rc != 0)
		return (void)fuse_reply_err(req, errno);
	pt_getattr(req, ino, fi);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct pt *pt = pt_of(req);
	int fd =
	    openat(pt->dirfd, name, (fi->flags | O_CREAT) & ~O_NOFOLLOW, mode);
	if (fd < 0)
		return (void)fuse_reply_err(req, errno);
	struct fuse_entry_param e = {.ino = ino_of(pt, name)};
	int rc = e.ino ? stat_ino(pt, e.ino, &e.attr) : -ENOMEM;
	if (rc) {
		close(fd);
		return (void)fuse_reply_err(req, -rc);
	}
	fi->fh = (uint64_t)fd;
	if (fuse_reply_create(req, &e, fi) != 0)
		close(fd);
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt *pt = pt_of(req);
	char name[NAME_MAX + 1];
	if (!name_of(pt, ino, name, sizeof(name)))
		return (void)fuse_reply_err(req, ino == FUSE_ROOT_ID ? EISDIR
								     : ENOENT);
	int fd = openat(pt->dirfd, name, fi->flags & ~O_NOFOLLOW);
	if (fd < 0)
		return (void)fuse_reply_err(req, errno);
	fi->fh = (uint64_t)fd;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t put = pwrite((int)fi->fh, buf, size, off);
	if (put < 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_write(req, (size_t)put);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc = close(dup((int)fi->fh));
	fuse_reply_err(req, rc == 0 ? 0 : errno);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	fuse_reply_err(req, rc == 0 ? 0 : errno);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = unlinkat(pt_of(req)->dirfd, name, 0);
	fuse_reply_err(req, rc == 0 ? 0 : errno);
}

/* The listing is taken whole at offset 0 and kept in the handle. */
static void pt_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	int fd = openat(pt_of(req)->dirfd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return (void)fuse_reply_err(req, errno);
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	size_t used = 0;
	seekdir(d, off);
	for (struct dirent *de; (de = readdir(d));) {
		struct stat st = {.st_ino = 0xffffffff,
				  .st_mode = (mode_t)de->d_type << 12};
		size_t need = fuse_add_direntry(req, buf + used, size - used,
						de->d_name, &st, telldir(d));
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	closedir((DIR *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	if (fstatvfs(pt_of(req)->dirfd, &sv) != 0)
		return (void)fuse_reply_err(req, errno);
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = pt_lookup,
    .getattr = pt_getattr,
    .setattr = pt_setattr,
    .create = pt_create,
    .open = pt_open,
    .read = pt_read,
    .write = pt_write,
    .flush = pt_flush,
    .release = pt_release,
    .fsync = pt_fsync,
    .unlink = pt_unlink,
    .opendir = pt_opendir,
    .readdir = pt_readdir,
    .releasedir = pt_releasedir,
    .statfs = pt_statfs,
};

static const struct fuse_opt pt_opts[] = {
    {"source=%s", offsetof(struct pt, source), 0},
    FUSE_OPT_END,
};

static int serve(struct fuse_args *args, struct fuse_cmdline_opts *opts,
		 struct pt *pt)
{
	int status = 1;
	struct fuse_session *se = fuse_session_new(args, &ops, sizeof(ops), pt);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts->mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts->foreground);
	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	status = opts->singlethread ? fuse_session_loop(se)
				    : fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	status = status == 0 ? 0 : 1;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	return status;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = {0};
	struct pt pt = {.dirfd = -1};
	int status = 1;
	pthread_mutex_init(&pt.lock, NULL);
	if (fuse_opt_parse(&args, &pt, pt_opts, NULL) != 0 ||
	    fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (!opts.mountpoint || !pt.source) {
		fprintf(stderr,
			"usage: %s -o source=DIR [-f] [-s] MOUNTPOINT\n",
			argv[0]);
		goto out;
	}
	pt.dirfd = open(pt.source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pt.dirfd < 0) {
		fprintf(stderr, "passthrough: cannot open \"%s\": %s\n",
			pt.source, strerror(errno));
		goto out;
	}
	status = serve(&args, &opts, &pt);
	close(pt.dirfd);
out:
	for (size_t i = 0; i < pt.n; i++)
		free(pt.names[i]);
	free(pt.names);
	free(pt.source);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	pthread_mutex_destroy(&pt.lock);
	return status;
}
