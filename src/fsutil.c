/*
 * File helpers. Tree walks use directory file descriptors (openat and
 * friends) rather than path strings: no PATH_MAX limit on depth, no symlink
 * is ever followed below the starting point, and no global state is needed
 * (nftw() has no user pointer), so they are safe to call from any thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define FSUTIL_COPY_CHUNK (128 * 1024)

/* Called once per entry of a directory; returns 0 or a negative errno. */
typedef int (*fsutil_entry_fn)(int dirfd, const char *name, void *ctx);

/* Calls @fn for each entry of the directory @fd (not "." and ".."). */
static int for_each_entry(int fd, fsutil_entry_fn fn, void *ctx)
{
	int dup_fd = dup(fd);
	if (dup_fd < 0)
		return -errno;
	DIR *dir = fdopendir(dup_fd);
	if (!dir) {
		int rc = -errno;
		close(dup_fd);
		return rc;
	}
	/* The dup shares its offset with @fd: start from the top. */
	rewinddir(dir);
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while (rc == 0 && (de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = fn(fd, de->d_name, ctx);
		errno = 0;
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(dir);
	return rc;
}

static int open_subdir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fsutil_mkdir_p(const char *path, mode_t mode)
{
	if (!*path)
		return -ENOENT;
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *p = copy + 1; rc == 0; p++) {
		bool at_end = *p == '\0';
		if (*p != '/' && !at_end)
			continue;
		*p = '\0';
		struct stat st;
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			rc = -errno;
		else if (stat(copy, &st) < 0)
			rc = -errno;
		else if (!S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (at_end)
			break;
		*p = '/';
	}
	free(copy);
	return rc;
}

/*
 * Opens a directory that is about to be removed, first giving its owner
 * full access: trees unpacked or copied with read-only directories must
 * still be removable.
 */
static int open_doomed_dir(int dirfd, const char *name)
{
	int fd = open_subdir(dirfd, name);
	if (fd == -EACCES &&
	    fchmodat(dirfd, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
		fd = open_subdir(dirfd, name);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
		fchmod(fd, (st.st_mode & 07777) | 0700);
	return fd;
}

static int remove_entry(int dirfd, const char *name, void *ctx)
{
	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	int unlink_rc = -errno;
	if (unlink_rc != -EISDIR && unlink_rc != -EPERM)
		return unlink_rc == -ENOENT ? 0 : unlink_rc;
	int fd = open_doomed_dir(dirfd, name);
	if (fd < 0)
		return fd == -ENOTDIR ? unlink_rc : fd;
	/*
	 * readdir() may skip entries while they are being removed (POSIX
	 * leaves it open), so a few passes before giving up on ENOTEMPTY.
	 */
	int rc = -ENOTEMPTY;
	for (int pass = 0; pass < 3 && rc == -ENOTEMPTY; pass++) {
		rc = for_each_entry(fd, remove_entry, ctx);
		if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
			rc = errno == ENOENT ? 0 : -errno;
	}
	close(fd);
	return rc;
}

int fsutil_rm_rf(const char *path)
{
	return remove_entry(AT_FDCWD, path, NULL);
}

/* Copies with read()/write(), for when copy_file_range() cannot. */
static int copy_by_read(int in, int out)
{
	char *buf = malloc(FSUTIL_COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	int rc = 0;
	ssize_t n;
	while ((n = read(in, buf, FSUTIL_COPY_CHUNK)) > 0) {
		for (ssize_t done = 0, w; done < n; done += w) {
			w = write(out, buf + done, n - done);
			if (w < 0) {
				rc = -errno;
				goto out;
			}
		}
	}
	if (n < 0)
		rc = -errno;
out:
	free(buf);
	return rc;
}

static int copy_data(int in, int out)
{
	ssize_t n;
	bool copied_any = false;
	while ((n = copy_file_range(in, NULL, out, NULL, FSUTIL_COPY_CHUNK,
				    0)) > 0)
		copied_any = true;
	if (n == 0)
		return 0;
	/* Other filesystems, old kernels: fall back, unless half done. */
	if (!copied_any && (errno == EXDEV || errno == ENOSYS ||
			    errno == EINVAL || errno == EOPNOTSUPP))
		return copy_by_read(in, out);
	return -errno;
}

static int copy_file(int sdir, const char *sname, int ddir, const char *dname,
		     mode_t mode)
{
	int in = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	int out =
	    openat(ddir, dname,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = -errno;
		close(in);
		return rc;
	}
	int rc = copy_data(in, out);
	if (rc == 0 && fchmod(out, mode) < 0)
		rc = -errno;
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	close(in);
	return rc;
}

static int copy_symlink(int sdir, const char *sname, int ddir,
			const char *dname, off_t size)
{
	size_t len = size > 0 ? (size_t)size + 1 : 4096;
	char *target = malloc(len);
	if (!target)
		return -ENOMEM;
	int rc = 0;
	ssize_t n = readlinkat(sdir, sname, target, len);
	if (n < 0 || (size_t)n >= len) {
		rc = n < 0 ? -errno : -ENAMETOOLONG;
	} else {
		target[n] = '\0';
		if (symlinkat(target, ddir, dname) < 0)
			rc = -errno;
	}
	free(target);
	return rc;
}

static int copy_entry(int sdir, const char *sname, int ddir, const char *dname);

static int copy_child(int sdir, const char *name, void *arg)
{
	int *dst_fd = arg;
	return copy_entry(sdir, name, *dst_fd, name);
}

static int copy_dir(int sdir, const char *sname, int ddir, const char *dname,
		    mode_t mode)
{
	/* Owner-writable while filling it, the real mode afterwards. */
	if (mkdirat(ddir, dname, 0700) < 0)
		return -errno;
	int src = open_subdir(sdir, sname);
	if (src < 0)
		return src;
	int dst = open_subdir(ddir, dname);
	int rc = dst < 0 ? dst : for_each_entry(src, copy_child, &dst);
	if (rc == 0 && fchmod(dst, mode) < 0)
		rc = -errno;
	if (dst >= 0)
		close(dst);
	close(src);
	return rc;
}

static int copy_entry(int sdir, const char *sname, int ddir, const char *dname)
{
	struct stat st;
	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	mode_t mode = st.st_mode & 07777;
	if (S_ISDIR(st.st_mode))
		return copy_dir(sdir, sname, ddir, dname, mode);
	if (S_ISREG(st.st_mode))
		return copy_file(sdir, sname, ddir, dname, mode);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(sdir, sname, ddir, dname, st.st_size);
	/* Devices, fifos and sockets are not app content. */
	log_debug("copy: skipping special file \"%s\"", sname);
	return 0;
}

int fsutil_copy_tree(const char *src, const char *dst)
{
	struct stat st;
	if (lstat(dst, &st) == 0)
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	int rc = copy_entry(AT_FDCWD, src, AT_FDCWD, dst);
	if (rc < 0 && rc != -EEXIST)
		fsutil_rm_rf(dst);
	return rc;
}

static int add_size(int dirfd, const char *name, void *arg)
{
	uint64_t *total = arg;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		*total += (uint64_t)st.st_size;
	if (!S_ISDIR(st.st_mode))
		return 0;
	int fd = open_subdir(dirfd, name);
	if (fd < 0)
		return fd;
	int rc = for_each_entry(fd, add_size, total);
	close(fd);
	return rc;
}

int fsutil_tree_size(const char *path, uint64_t *bytes_out)
{
	uint64_t total = 0;
	int rc = add_size(AT_FDCWD, path, &total);
	*bytes_out = rc == 0 ? total : 0;
	return rc;
}

/* Splits @path into a malloc'd directory part and a borrowed base name. */
static int split_path(const char *path, char **dir_out, const char **base_out)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*dir_out = strdup(".");
		*base_out = path;
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);
		*dir_out = strndup(path, len);
		*base_out = slash + 1;
	}
	if (!*dir_out)
		return -ENOMEM;
	return **base_out ? 0 : -EINVAL;
}

static int write_fully(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates an unused hidden name next to @base (O_EXCL) and opens it. */
static int open_temp(int dirfd, const char *base, char *name, size_t len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		unsigned r = (unsigned)random() ^ (unsigned)getpid();
		snprintf(name, len, ".%s.%08x.tmp", base, r + attempt);
		int fd = openat(dirfd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

static int write_temp(int fd, const void *data, size_t len, mode_t mode)
{
	int rc = write_fully(fd, data, len);
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	return rc;
}

int fsutil_write_atomic(const char *path, const void *data, size_t len,
			mode_t mode)
{
	char *dir;
	const char *base;
	int rc = split_path(path, &dir, &base);
	if (rc < 0)
		goto out;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		goto out;
	}
	char tmp[NAME_MAX + 32];
	int fd = open_temp(dirfd, base, tmp, sizeof(tmp));
	if (fd < 0) {
		rc = fd;
		goto close_dir;
	}
	rc = write_temp(fd, data, len, mode);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, base) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	else if (fsync(dirfd) < 0)
		rc = -errno;
close_dir:
	close(dirfd);
out:
	free(dir);
	return rc;
}

/* Makes room for at least one more byte and the final NUL. */
static int grow(char **buf, size_t len, size_t *cap)
{
	if (len + 1 < *cap)
		return 0;
	char *bigger = realloc(*buf, *cap * 2);
	if (!bigger)
		return -ENOMEM;
	*buf = bigger;
	*cap *= 2;
	return 0;
}

static int read_fd(int fd, size_t max, char **data_out, size_t *len_out)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int rc;
	while ((rc = grow(&buf, len, &cap)) == 0) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		if (len > max) {
			rc = -EFBIG;
			break;
		}
	}
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*data_out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

int fsutil_read_all(const char *path, size_t max, char **data_out,
		    size_t *len_out)
{
	*data_out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = read_fd(fd, max, data_out, len_out);
	close(fd);
	return rc;
}

int fsutil_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}
