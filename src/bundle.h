/*
 * App bundles: finding the bundle of NAME in new/, checking it, and
 * installing it as a job version's app/ directory.
 *
 * A bundle is new/NAME/ if that directory exists, else the one regular
 * file new/NAME.EXT (EXT anything but "json" and "error"; "tar.gz" counts
 * as one extension), else none. Archives (.zip .kda .tar .tar.gz .tgz) are
 * unpacked with libarchive, refusing absolute paths, "..", and symlinks or
 * hard links that point outside the bundle; the same link rule applies to
 * directory bundles.
 */
#ifndef JOBFS_BUNDLE_H
#define JOBFS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

enum bundle_kind { BUNDLE_NONE, BUNDLE_DIR, BUNDLE_FILE, BUNDLE_ARCHIVE };

struct bundle {
	enum bundle_kind kind;
	char *path; /* absolute path of the dir or file in new/; NULL if none */
	char *file_name; /* BUNDLE_FILE/ARCHIVE: "etl.py"; BUNDLE_DIR: "etl" */
};

/*
 * Finds the bundle of @name inside the staging directory @new_dir.
 * -EINVAL with @err when two or more single files compete ("ambiguous
 * bundle for \"etl\"\nfound etl.py, etl.sh").
 */
int bundle_find(const char *new_dir, const char *name, struct bundle *out,
		char *err, size_t errlen);

/*
 * Checks the bundle (size of the unpacked content <= @limit bytes, path
 * safety) and installs it as @dest_dir, which must not exist:
 *  - BUNDLE_DIR: rename() of the directory to @dest_dir (same filesystem);
 *  - BUNDLE_FILE: mkdir @dest_dir, rename() of the file into it (keeps its
 *    name, e.g. dest_dir/etl.py);
 *  - BUNDLE_ARCHIVE: unpack into @dest_dir; the archive stays in new/.
 * On error nothing has moved, @dest_dir does not exist, and @err says why
 * ("bundle too large\n1.2 GiB unpacked, limit 1 GiB", "unsafe path in
 * archive \"etl.zip\"\n../evil").
 */
int bundle_install(const struct bundle *b, const char *dest_dir, uint64_t limit,
		   char *err, size_t errlen);

/* Undoes bundle_install() after a later failure: moves back or removes. */
int bundle_uninstall(const struct bundle *b, const char *dest_dir);

/* After a committed deploy: removes what is left in new/ (the archive). */
int bundle_consume(const struct bundle *b);

/*
 * The default entry point of an installed bundle: the path (relative to
 * @app_dir) of its only regular file, searched recursively. -ENOENT when
 * there are no files, -EINVAL when there are several (@err says so).
 * Caller frees *entry_out.
 */
int bundle_default_entry(const char *app_dir, char **entry_out, char *err,
			 size_t errlen);

void bundle_release(struct bundle *b);

#endif
