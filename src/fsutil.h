/*
 * Small file helpers shared by the core and the platforms.
 * All return 0 or a negative errno.
 */
#ifndef JOBFS_FSUTIL_H
#define JOBFS_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* mkdir -p with @mode for each created component. */
int fsutil_mkdir_p(const char *path, mode_t mode);

/* rm -rf; a missing @path is not an error. Does not follow symlinks. */
int fsutil_rm_rf(const char *path);

/*
 * Copies the tree @src to @dst (which must not exist): directories, regular
 * files (mode kept) and symlinks (copied as links, not followed).
 */
int fsutil_copy_tree(const char *src, const char *dst);

/* Sum of the sizes of regular files under @path (lstat, no link following). */
int fsutil_tree_size(const char *path, uint64_t *bytes_out);

/*
 * Writes @len bytes to @path atomically (temp file, fsync, rename, fsync of
 * the directory), with @mode.
 */
int fsutil_write_atomic(const char *path, const void *data, size_t len,
			mode_t mode);

/*
 * Reads the whole file into a NUL-terminated buffer the caller frees.
 * -EFBIG when it is larger than @max bytes.
 */
int fsutil_read_all(const char *path, size_t max, char **data_out,
		    size_t *len_out);

/* fsync of a directory, so that a rename or create in it is durable. */
int fsutil_sync_dir(const char *path);

#endif
