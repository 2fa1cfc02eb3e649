/*
 * staticfs: the cheapest FUSE daemon that serves what a reader of
 * jobfs's NAME/status sees, as the baseline of the status benchmark.
 *
 *   staticfs [-f] [-s] [-o OPTION...] MOUNTPOINT     serves MOUNT/job/status
 *
 * Everything the kernel sees is held the same as in jobfs, so that the
 * difference measured is jobfs's own work: the same low-level API, no
 * init() (default connection flags), the same mount options (none beyond
 * what is given on the command line), the same multi-threaded loop (16
 * threads at most), the same timeouts (directories: entry and attributes
 * 1 s; the file: entry 1 s, attributes 0 so every open asks) and the file
 * opened direct_io. The content is fixed: "RUNNING\n".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#define DIR_INO	 2
#define FILE_INO 3

static const char content[] = "RUNNING\n";

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	if (ino == FILE_INO) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = sizeof(content) - 1;
	} else {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	}
}

static void static_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_ino_t ino = 0;
	if (parent == FUSE_ROOT_ID && strcmp(name, "job") == 0)
		ino = DIR_INO;
	else if (parent == DIR_INO && strcmp(name, "status") == 0)
		ino = FILE_INO;
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {
	    .ino = ino,
	    .attr_timeout = ino == FILE_INO ? 0 : 1.0,
	    .entry_timeout = 1.0,
	};
	fill_stat(ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void static_getattr(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct stat st;
	if (ino != FUSE_ROOT_ID && ino != DIR_INO && ino != FILE_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, ino == FILE_INO ? 0 : 1.0);
}

static void static_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	const char *names[] = {".", "..",
			       ino == FUSE_ROOT_ID ? "job" : "status"};
	char buf[1024];
	size_t used = 0;
	size_t cap = size < sizeof(buf) ? size : sizeof(buf);
	for (off_t i = off; i < 3; i++) {
		struct stat st = {
		    .st_ino = 0xffffffff,
		    .st_mode = i == 2 && ino == DIR_INO ? S_IFREG : S_IFDIR};
		size_t need = fuse_add_direntry(req, buf + used, cap - used,
						names[i], &st, i + 1);
		if (need > cap - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
}

static void static_open(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

static void static_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	size_t len = sizeof(content) - 1;
	size_t start = (size_t)off < len ? (size_t)off : len;
	size_t n = len - start < size ? len - start : size;
	fuse_reply_buf(req, content + start, n);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = static_lookup,
    .getattr = static_getattr,
    .readdir = static_readdir,
    .open = static_open,
    .read = static_read,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts = {0};
	int status = 1;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (!opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] [-s] [-o OPTION] MOUNTPOINT\n",
			argv[0]);
		goto out;
	}
	struct fuse_session *se =
	    fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	status = opts.singlethread ? fuse_session_loop(se)
				   : fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	status = status == 0 ? 0 : 1;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return status;
}
