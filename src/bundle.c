/*
 * Bundles. An archive comes from a user and is unpacked by a daemon that
 * may run with more rights than that user, so unpacking trusts nothing in
 * it: every entry is created relative to a directory descriptor under the
 * destination with O_NOFOLLOW/O_EXCL (a symlink made by an earlier entry
 * can never redirect a later one), absolute paths and ".." are refused
 * outright, and bytes are counted as they are written, not as the headers
 * claim. Links are checked twice: each one as it is made, and the whole
 * tree once it is complete, resolving every symlink the way the kernel
 * would (following the links it meets inside the tree), because a link
 * that is harmless alone can escape through another one ("a" -> ".",
 * "b" -> "a/../x"). Directory bundles get the same complete check.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "message.h"
#include "bundle.h"
#include "fsutil.h"

/* Symlinks followed while resolving one link: the kernel's limit. */
#define BUNDLE_HOPS_MAX 40
/* Longest archive path or link target quoted in a message. */
#define BUNDLE_SHOWN 256

static const char *const archive_exts[] = {"zip", "kda",     "tar",    "tar.gz",
					   "tgz", "tar.bz2", "tar.xz", NULL};

static const char *const compound_exts[] = {"tar.gz", "tar.bz2", "tar.xz",
					    NULL};

/* "ACTION \"SUBJECT\"" and, as the details line, what the system said. */
static int fail_sys(char *err, size_t errlen, int rc, const char *action,
		    const char *subject)
{
	char reason[128];
	return message_fail(err, errlen, rc, "%s \"%s\"\n%s", action, subject,
			    message_strerror(rc, reason, sizeof(reason)));
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	if (n < 1024) {
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
		return;
	}
	double v = (double)n / 1024;
	size_t u = 0;
	for (; v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]); u++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

static int too_large(uint64_t size, uint64_t limit, char *err, size_t errlen)
{
	char have[32], max[32];
	human_size(size, have, sizeof(have));
	human_size(limit, max, sizeof(max));
	if (!strcmp(have, max)) { /* "2.0 KiB, limit 2.0 KiB" says nothing */
		snprintf(have, sizeof(have), "%llu bytes",
			 (unsigned long long)size);
		snprintf(max, sizeof(max), "%llu bytes",
			 (unsigned long long)limit);
	}
	return message_fail(err, errlen, -EINVAL,
			    "bundle too large\n%s, limit %s", have, max);
}

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (!strcasecmp(s, list[i]))
			return true;
	return false;
}

/*
 * The extension of @entry if it is a bundle file of job @name: "etl.py"
 * for "etl", but "etl.v2.py" is not (it belongs to "etl.v2").
 */
static const char *candidate_ext(const char *entry, const char *name)
{
	size_t n = strlen(name);
	if (entry[0] == '.' || strncmp(entry, name, n) || entry[n] != '.')
		return NULL;
	const char *ext = entry + n + 1;
	if (!*ext || !strcmp(ext, "json") || !strcmp(ext, "error"))
		return NULL;
	if (strchr(ext, '.') && !in_list(ext, compound_exts))
		return NULL;
	return ext;
}

struct candidates {
	char **names;
	size_t n;
};

static int add_candidate(struct candidates *c, const char *name)
{
	char **grown = realloc(c->names, (c->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->names = grown;
	c->names[c->n] = strdup(name);
	return c->names[c->n++] ? 0 : -ENOMEM;
}

static void free_candidates(struct candidates *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
}

/* Collects the regular files in @dir that are bundle files of @name. */
static int scan(const char *dir, const char *name, struct candidates *c)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = 0;
	struct dirent *de;
	for (errno = 0; rc == 0 && (de = readdir(d)); errno = 0) {
		struct stat st;
		if (!candidate_ext(de->d_name, name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			0 ||
		    !S_ISREG(st.st_mode))
			continue;
		rc = add_candidate(c, de->d_name);
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ambiguous(const char *name, struct candidates *c, char *err,
		     size_t errlen)
{
	char list[512] = "", shown[BUNDLE_SHOWN];
	size_t used = 0;
	qsort(c->names, c->n, sizeof(*c->names), compare_names);
	for (size_t i = 0; i < c->n && used < sizeof(list); i++)
		used += (size_t)snprintf(
		    list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
		    message_printable(c->names[i], shown, sizeof(shown)));
	return message_fail(err, errlen, -EINVAL,
			    "ambiguous bundle for \"%s\"\nfound %s", name,
			    list);
}

static int set_found(struct bundle *out, enum bundle_kind kind, const char *dir,
		     const char *file_name)
{
	out->kind = kind;
	out->file_name = strdup(file_name);
	if (asprintf(&out->path, "%s/%s", dir, file_name) < 0)
		out->path = NULL;
	return out->path && out->file_name ? 0 : -ENOMEM;
}

static int find_in(const char *dir, const char *name, struct bundle *out,
		   char *err, size_t errlen)
{
	char *path;
	struct stat st;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	bool is_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
	free(path);
	if (is_dir)
		return set_found(out, BUNDLE_DIR, dir, name);
	struct candidates c = {NULL, 0};
	int rc = scan(dir, name, &c);
	if (rc == 0 && c.n > 1)
		rc = ambiguous(name, &c, err, errlen);
	else if (rc == 0 && c.n == 1)
		rc = set_found(
		    out,
		    in_list(candidate_ext(c.names[0], name), archive_exts)
			? BUNDLE_ARCHIVE
			: BUNDLE_FILE,
		    dir, c.names[0]);
	free_candidates(&c);
	return rc;
}

int bundle_find(const char *new_dir, const char *name, struct bundle *out,
		char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* "", ".", "..", "a/b" would name new/ itself or leave it. */
	if (!*name || name[0] == '.' || strchr(name, '/')) {
		char shown[BUNDLE_SHOWN];
		return message_fail(
		    err, errlen, -EINVAL, "invalid bundle name \"%s\"",
		    message_printable(name, shown, sizeof(shown)));
	}
	char *dir = realpath(new_dir, NULL);
	if (!dir)
		return fail_sys(err, errlen, -errno, "cannot read", new_dir);
	int rc = find_in(dir, name, out, err, errlen);
	free(dir);
	if (rc < 0)
		bundle_release(out);
	return rc;
}

/* Appends @comp (@n bytes) to the relative path @cur ("" is the root). */
static bool push_comp(char *cur, size_t size, const char *comp, size_t n)
{
	size_t len = strlen(cur);
	if (len + n + 2 > size)
		return false;
	if (len)
		cur[len++] = '/';
	memcpy(cur + len, comp, n);
	cur[len + n] = '\0';
	return true;
}

static void pop_comp(char *cur)
{
	char *slash = strrchr(cur, '/');
	*(slash ? slash : cur) = '\0';
}

/* @todo becomes @link "/" @rest (@rest may point into @todo). */
static bool splice_link(char *todo, size_t size, const char *link,
			const char *rest)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%s/%s", link, rest);
	if (n < 0 || (size_t)n >= size)
		return false;
	memcpy(todo, buf, (size_t)n + 1);
	return true;
}

/*
 * Whether the symlink @rel (relative to the tree @root) with @target stays
 * inside the tree. Resolves like the kernel: symlinks met on the way are
 * followed (they are inside the tree: only their targets can leave it);
 * missing components count as plain names, so a link that escapes only
 * once some directory appears is refused too.
 */
static bool is_link_inside(int root, const char *rel, const char *target)
{
	char cur[PATH_MAX], todo[PATH_MAX], link[PATH_MAX];
	int hops = 0;
	if (target[0] == '/' ||
	    snprintf(todo, sizeof(todo), "%s", target) >= (int)sizeof(todo))
		return false;
	snprintf(cur, sizeof(cur), "%s", rel);
	pop_comp(cur);
	for (const char *p = todo; *p;) {
		size_t n = strcspn(p, "/");
		const char *comp = p;
		p += n + (p[n] == '/');
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && !strncmp(comp, "..", 2)) {
			if (!cur[0])
				return false;
			pop_comp(cur);
			continue;
		}
		if (!push_comp(cur, sizeof(cur), comp, n))
			return false;
		ssize_t len = readlinkat(root, cur, link, sizeof(link) - 1);
		if (len < 0)
			continue; /* not a link, or missing */
		if (++hops > BUNDLE_HOPS_MAX)
			return true; /* ELOOP: resolves to nothing at all */
		link[len] = '\0';
		pop_comp(cur);
		if (link[0] == '/' || !splice_link(todo, sizeof(todo), link, p))
			return false;
		p = todo;
	}
	return true;
}

/* A depth-first walk of a tree, with each entry's path from the root. */
struct walk {
	int root;
	char rel[PATH_MAX];
	int (*visit)(struct walk *w, int dirfd, const char *name,
		     const struct stat *st);
	void *ctx;
};

static int walk_dir(struct walk *w, int fd);

static int walk_entry(struct walk *w, int dirfd, const char *name, size_t len)
{
	size_t room = sizeof(w->rel) - len;
	if ((size_t)snprintf(w->rel + len, room, "%s%s", len ? "/" : "",
			     name) >= room)
		return -ENAMETOOLONG;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	int rc = w->visit(w, dirfd, name, &st);
	if (rc == 0 && S_ISDIR(st.st_mode)) {
		int fd =
		    openat(dirfd, name,
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		rc = fd < 0 ? -errno : walk_dir(w, fd);
	}
	w->rel[len] = '\0';
	return rc;
}

/* Walks the entries of the directory @fd, which it takes over. */
static int walk_dir(struct walk *w, int fd)
{
	DIR *dir = fdopendir(fd);
	if (!dir) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	size_t len = strlen(w->rel);
	int rc = 0;
	struct dirent *de;
	for (errno = 0; rc == 0 && (de = readdir(dir)); errno = 0)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = walk_entry(w, dirfd(dir), de->d_name, len);
	if (rc == 0 && errno)
		rc = -errno;
	closedir(dir);
	return rc;
}

static int walk_tree(const char *path, struct walk *w)
{
	w->root = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w->root < 0)
		return -errno;
	w->rel[0] = '\0';
	int fd = dup(w->root);
	int rc = fd < 0 ? -errno : walk_dir(w, fd);
	close(w->root);
	return rc;
}

/* What check_tree() reports on: "bundle \"etl\"" or "archive ...". */
struct check {
	const char *what;
	const char *name;
	char *err;
	size_t errlen;
	bool reported;
};

static int check_link(struct walk *w, struct check *c, int dirfd,
		      const char *name)
{
	char target[PATH_MAX], shown[BUNDLE_SHOWN], shown_target[BUNDLE_SHOWN];
	ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	if (is_link_inside(w->root, w->rel, target))
		return 0;
	c->reported = true;
	return message_fail(
	    c->err, c->errlen, -EINVAL, "unsafe link in %s \"%s\"\n%s -> %s",
	    c->what, c->name, message_printable(w->rel, shown, sizeof(shown)),
	    message_printable(target, shown_target, sizeof(shown_target)));
}

static int check_entry(struct walk *w, int dirfd, const char *name,
		       const struct stat *st)
{
	struct check *c = w->ctx;
	char shown[BUNDLE_SHOWN];
	if (S_ISLNK(st->st_mode))
		return check_link(w, c, dirfd, name);
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		return 0;
	c->reported = true;
	return message_fail(
	    c->err, c->errlen, -EINVAL,
	    "unsupported file in %s \"%s\"\n%s is not a regular file, "
	    "directory or symlink",
	    c->what, c->name, message_printable(w->rel, shown, sizeof(shown)));
}

/* Refuses links that leave the tree @path and special files in it. */
static int check_tree(const char *path, const char *what, const char *name,
		      char *err, size_t errlen)
{
	struct check c = {what, name, err, errlen, false};
	struct walk w = {.visit = check_entry, .ctx = &c};
	int rc = walk_tree(path, &w);
	if (rc < 0 && !c.reported)
		fail_sys(err, errlen, rc, "cannot check", name);
	return rc;
}

static int install_dir(const struct bundle *b, const char *dest, uint64_t limit,
		       char *err, size_t errlen)
{
	uint64_t size;
	int rc = fsutil_tree_size(b->path, &size);
	if (rc < 0)
		return fail_sys(err, errlen, rc, "cannot read bundle",
				b->file_name);
	if (size > limit)
		return too_large(size, limit, err, errlen);
	rc = check_tree(b->path, "bundle", b->file_name, err, errlen);
	if (rc == 0 && rename(b->path, dest) < 0)
		rc = fail_sys(err, errlen, -errno, "cannot install bundle",
			      b->file_name);
	return rc;
}

static int install_file(const struct bundle *b, const char *dest,
			uint64_t limit, char *err, size_t errlen)
{
	struct stat st;
	char *path;
	if (lstat(b->path, &st) < 0)
		return fail_sys(err, errlen, -errno, "cannot install bundle",
				b->file_name);
	if (!S_ISREG(st.st_mode))
		return message_fail(
		    err, errlen, -EINVAL,
		    "cannot install bundle \"%s\"\nnot a regular file",
		    b->file_name);
	if ((uint64_t)st.st_size > limit)
		return too_large((uint64_t)st.st_size, limit, err, errlen);
	if (asprintf(&path, "%s/%s", dest, b->file_name) < 0)
		return -ENOMEM;
	int rc = mkdir(dest, 0755) < 0 ? -errno : 0;
	if (rc == 0 && rename(b->path, path) < 0) {
		rc = -errno;
		rmdir(dest);
	}
	if (rc < 0)
		fail_sys(err, errlen, rc, "cannot install bundle",
			 b->file_name);
	free(path);
	return rc;
}

/* One archive being unpacked under the directory @root. */
struct unpack {
	struct archive *a;
	int root;
	uint64_t limit, total;
	const char *name; /* the archive's file name, for messages */
	char *err;
	size_t errlen;
};

static int bad_archive(struct unpack *u)
{
	char reason[BUNDLE_SHOWN];
	const char *text = archive_error_string(u->a);
	message_printable(text ? text : "unreadable", reason, sizeof(reason));
	reason[0] = (char)tolower((unsigned char)reason[0]);
	return message_fail(u->err, u->errlen, -EINVAL,
			    "bad archive \"%s\"\n%s", u->name, reason);
}

static int unsafe(struct unpack *u, const char *kind, const char *rel,
		  const char *arrow, const char *target)
{
	char shown[BUNDLE_SHOWN], shown_target[BUNDLE_SHOWN];
	return message_fail(
	    u->err, u->errlen, -EINVAL, "unsafe %s in archive \"%s\"\n%s%s%s",
	    kind, u->name, message_printable(rel, shown, sizeof(shown)), arrow,
	    message_printable(target, shown_target, sizeof(shown_target)));
}

static int entry_failed(struct unpack *u, const char *rel, int rc)
{
	char shown[BUNDLE_SHOWN], reason[128];
	return message_fail(u->err, u->errlen, rc,
			    "cannot unpack archive \"%s\"\n%s: %s", u->name,
			    message_printable(rel, shown, sizeof(shown)),
			    message_strerror(rc, reason, sizeof(reason)));
}

/*
 * Copies the archive path @in to @out without "." or empty components.
 * False for an absolute path or one with a ".." component.
 */
static bool clean_path(const char *in, char *out, size_t size)
{
	out[0] = '\0';
	if (in[0] == '/')
		return false;
	for (const char *p = in; *p;) {
		size_t n = strcspn(p, "/");
		const char *comp = p;
		p += n + (p[n] == '/');
		if (n == 2 && !strncmp(comp, "..", 2))
			return false;
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (!push_comp(out, size, comp, n))
			return false;
	}
	return true;
}

/* Opens (creating as needed) directory @name in @fd, which it closes. */
static int enter_dir(int fd, const char *name)
{
	int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int sub = openat(fd, name, flags);
	if (sub < 0 && errno == ENOENT &&
	    (mkdirat(fd, name, 0755) == 0 || errno == EEXIST))
		sub = openat(fd, name, flags);
	int rc = sub < 0 ? -errno : sub;
	close(fd);
	return rc;
}

/*
 * Opens the directory holding @rel (a clean path) below the root, making
 * missing ones; never through a symlink. *@base_out points into @rel.
 */
static int open_parent(struct unpack *u, char *rel, const char **base_out)
{
	int fd = dup(u->root);
	if (fd < 0)
		return entry_failed(u, rel, -errno);
	char *start = rel, *slash;
	while (fd >= 0 && (slash = strchr(start, '/'))) {
		*slash = '\0';
		fd = enter_dir(fd, start);
		*slash = '/';
		start = slash + 1;
	}
	*base_out = start;
	if (fd == -ELOOP || fd == -ENOTDIR)
		return unsafe(u, "path", rel, " goes through a link or file",
			      "");
	return fd < 0 ? entry_failed(u, rel, fd) : fd;
}

/* Removes what an earlier entry of the same name left (tar appends). */
static bool replaced_old(int fd, const char *base)
{
	struct stat st;
	return fstatat(fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       !S_ISDIR(st.st_mode) && unlinkat(fd, base, 0) == 0;
}

static int unpack_dir(struct unpack *u, char *rel, mode_t mode)
{
	const char *base;
	if (!rel[0])
		return 0; /* "./": the root itself */
	int fd = open_parent(u, rel, &base);
	if (fd < 0)
		return fd;
	int rc = enter_dir(fd, base);
	if (rc >= 0) {
		fchmod(rc, (mode & 0755) | 0700);
		close(rc);
		return 0;
	}
	if (rc == -ELOOP || rc == -ENOTDIR)
		return unsafe(u, "path", rel, " is a link or file", "");
	return entry_failed(u, rel, rc);
}

/* Whether @more bytes would take the unpacked total over the limit. */
static bool is_over_limit(const struct unpack *u, uint64_t more)
{
	return more > u->limit - u->total;
}

static int over_limit(struct unpack *u)
{
	char max[32];
	human_size(u->limit, max, sizeof(max));
	return message_fail(
	    u->err, u->errlen, -EINVAL,
	    "bundle too large\nmore than %s unpacked (the limit)", max);
}

/* Counts the bytes up to @end of the current file against the limit. */
static int count_bytes(struct unpack *u, uint64_t *file_end, uint64_t end)
{
	if (end <= *file_end)
		return 0;
	if (is_over_limit(u, end - *file_end))
		return over_limit(u);
	u->total += end - *file_end;
	*file_end = end;
	return 0;
}

static int write_at(int fd, const char *buf, size_t size, off_t offset)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, buf, size, offset);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n < 0)
			continue;
		buf += n;
		size -= (size_t)n;
		offset += n;
	}
	return 0;
}

/* A sparse file may end in a hole: extends it to the header's size. */
static int finish_sparse(struct unpack *u, struct archive_entry *e, int fd,
			 const char *rel, uint64_t end)
{
	la_int64_t want = archive_entry_size(e);
	if (!archive_entry_size_is_set(e) || want <= 0 || (uint64_t)want <= end)
		return 0;
	int rc = count_bytes(u, &end, (uint64_t)want);
	if (rc == 0 && ftruncate(fd, want) < 0)
		rc = entry_failed(u, rel, -errno);
	return rc;
}

static int unpack_data(struct unpack *u, struct archive_entry *e, int fd,
		       const char *rel)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	uint64_t end = 0;
	for (;;) {
		int r = archive_read_data_block(u->a, &buf, &size, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN || offset < 0)
			return bad_archive(u);
		int rc = count_bytes(u, &end, (uint64_t)offset + size);
		if (rc < 0)
			return rc;
		rc = write_at(fd, buf, size, offset);
		if (rc < 0)
			return entry_failed(u, rel, rc);
	}
	return finish_sparse(u, e, fd, rel, end);
}

static int unpack_file(struct unpack *u, char *rel, struct archive_entry *e)
{
	const char *base;
	la_int64_t size = archive_entry_size(e);
	/* Early refusal on the header's word; the data is counted anyway. */
	if (size > 0 && is_over_limit(u, (uint64_t)size))
		return over_limit(u);
	int dirfd = open_parent(u, rel, &base);
	if (dirfd < 0)
		return dirfd;
	mode_t mode = (archive_entry_perm(e) & 0755) | 0600;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, base, flags, mode);
	if (fd < 0 && errno == EEXIST && replaced_old(dirfd, base))
		fd = openat(dirfd, base, flags, mode);
	int rc =
	    fd < 0 ? entry_failed(u, rel, -errno) : unpack_data(u, e, fd, rel);
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = entry_failed(u, rel, -errno);
	close(dirfd);
	return rc;
}

static int unpack_symlink(struct unpack *u, char *rel, const char *target)
{
	const char *base;
	if (!target || !*target)
		return bad_archive(u);
	if (!is_link_inside(u->root, rel, target))
		return unsafe(u, "link", rel, " -> ", target);
	int dirfd = open_parent(u, rel, &base);
	if (dirfd < 0)
		return dirfd;
	int rc = symlinkat(target, dirfd, base) < 0 ? -errno : 0;
	if (rc == -EEXIST && replaced_old(dirfd, base))
		rc = symlinkat(target, dirfd, base) < 0 ? -errno : 0;
	close(dirfd);
	return rc < 0 ? entry_failed(u, rel, rc) : 0;
}

static int unpack_hardlink(struct unpack *u, char *rel, const char *target)
{
	char clean[PATH_MAX];
	const char *base, *target_base;
	if (!clean_path(target, clean, sizeof(clean)) || !clean[0])
		return unsafe(u, "link", rel, " => ", target);
	int dirfd = open_parent(u, rel, &base);
	if (dirfd < 0)
		return dirfd;
	int target_dirfd = open_parent(u, clean, &target_base);
	int rc = target_dirfd;
	if (target_dirfd >= 0) {
		/* No AT_SYMLINK_FOLLOW: a link to a symlink is a symlink. */
		rc = linkat(target_dirfd, target_base, dirfd, base, 0) < 0
			 ? entry_failed(u, rel, -errno)
			 : 0;
		close(target_dirfd);
	}
	close(dirfd);
	return rc;
}

static int unpack_entry(struct unpack *u, struct archive_entry *e)
{
	char rel[PATH_MAX];
	const char *path = archive_entry_pathname(e);
	if (!path)
		path = archive_entry_pathname_utf8(e);
	if (!path)
		return bad_archive(u);
	if (!clean_path(path, rel, sizeof(rel)))
		return unsafe(u, "path", path, "", "");
	if (archive_entry_hardlink(e))
		return unpack_hardlink(u, rel, archive_entry_hardlink(e));
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFDIR)
		return unpack_dir(u, rel, archive_entry_perm(e));
	if (!rel[0])
		return unsafe(u, "path", path, "", "");
	if (type == AE_IFREG)
		return unpack_file(u, rel, e);
	if (type == AE_IFLNK)
		return unpack_symlink(u, rel, archive_entry_symlink(e));
	char shown[BUNDLE_SHOWN];
	return message_fail(
	    u->err, u->errlen, -EINVAL,
	    "unsupported entry in archive \"%s\"\n%s is not a regular "
	    "file, directory or link",
	    u->name, message_printable(path, shown, sizeof(shown)));
}

static int unpack_entries(struct unpack *u)
{
	struct archive_entry *e;
	int r, rc = 0;
	while (rc == 0 &&
	       ((r = archive_read_next_header(u->a, &e)) == ARCHIVE_OK ||
		r == ARCHIVE_WARN))
		rc = unpack_entry(u, e);
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = bad_archive(u);
	return rc;
}

static int unpack(const struct bundle *b, const char *dest, uint64_t limit,
		  char *err, size_t errlen)
{
	struct unpack u = {
	    .limit = limit, .name = b->file_name, .err = err, .errlen = errlen};
	u.a = archive_read_new();
	if (!u.a)
		return -ENOMEM;
	archive_read_support_format_zip(u.a);
	archive_read_support_format_tar(u.a);
	archive_read_support_filter_gzip(u.a);
	archive_read_support_filter_bzip2(u.a);
	archive_read_support_filter_xz(u.a);
	int rc =
	    archive_read_open_filename(u.a, b->path, 64 * 1024) == ARCHIVE_OK
		? 0
		: bad_archive(&u);
	u.root = rc == 0 ? open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && u.root < 0)
		rc = entry_failed(&u, ".", -errno);
	if (rc == 0)
		rc = unpack_entries(&u);
	if (u.root >= 0)
		close(u.root);
	archive_read_free(u.a);
	return rc;
}

static int install_archive(const struct bundle *b, const char *dest,
			   uint64_t limit, char *err, size_t errlen)
{
	if (mkdir(dest, 0755) < 0)
		return fail_sys(err, errlen, -errno, "cannot install bundle",
				b->file_name);
	int rc = unpack(b, dest, limit, err, errlen);
	if (rc == 0)
		rc = check_tree(dest, "archive", b->file_name, err, errlen);
	if (rc < 0)
		fsutil_rm_rf(dest);
	return rc;
}

int bundle_install(const struct bundle *b, const char *dest_dir, uint64_t limit,
		   char *err, size_t errlen)
{
	struct stat st;
	if (lstat(dest_dir, &st) == 0)
		return message_fail(
		    err, errlen, -EEXIST,
		    "cannot install bundle\n\"%s\" already exists", dest_dir);
	switch (b->kind) {
	case BUNDLE_DIR:
		return install_dir(b, dest_dir, limit, err, errlen);
	case BUNDLE_FILE:
		return install_file(b, dest_dir, limit, err, errlen);
	case BUNDLE_ARCHIVE:
		return install_archive(b, dest_dir, limit, err, errlen);
	default:
		/* No bundle: an empty app/, the code is on the platform. */
		if (mkdir(dest_dir, 0755) < 0)
			return message_fail(err, errlen, -errno,
					    "cannot create \"%s\"", dest_dir);
		return 0;
	}
}

int bundle_uninstall(const struct bundle *b, const char *dest_dir)
{
	if (b->kind == BUNDLE_DIR)
		return rename(dest_dir, b->path) < 0 ? -errno : 0;
	if (b->kind != BUNDLE_FILE)
		return fsutil_rm_rf(dest_dir);
	char *path;
	if (asprintf(&path, "%s/%s", dest_dir, b->file_name) < 0)
		return -ENOMEM;
	int rc = rename(path, b->path) < 0 ? -errno : 0;
	free(path);
	/* Only once the file is back: never lose the user's bundle. */
	return rc < 0 ? rc : fsutil_rm_rf(dest_dir);
}

int bundle_consume(const struct bundle *b)
{
	if (b->kind != BUNDLE_ARCHIVE)
		return 0; /* a directory or file bundle has moved already */
	if (unlink(b->path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* The regular files found by bundle_default_entry(). */
struct entries {
	size_t n;
	char *first;
	char second[BUNDLE_SHOWN];
};

static int count_entry(struct walk *w, int dirfd, const char *name,
		       const struct stat *st)
{
	struct entries *e = w->ctx;
	if (!S_ISREG(st->st_mode))
		return 0;
	if (++e->n == 1)
		e->first = strdup(w->rel);
	else if (e->n == 2)
		message_printable(w->rel, e->second, sizeof(e->second));
	return e->first ? 0 : -ENOMEM;
}

static int several_entries(const struct entries *e, char *err, size_t errlen)
{
	char first[BUNDLE_SHOWN];
	return message_fail(
	    err, errlen, -EINVAL,
	    "no entry point\nthe bundle has %zu files (%s, %s%s); set "
	    "\"entry_point\"",
	    e->n, message_printable(e->first, first, sizeof(first)), e->second,
	    e->n > 2 ? ", ..." : "");
}

int bundle_default_entry(const char *app_dir, char **entry_out, char *err,
			 size_t errlen)
{
	struct entries e = {0, NULL, ""};
	struct walk w = {.visit = count_entry, .ctx = &e};
	*entry_out = NULL;
	int rc = walk_tree(app_dir, &w);
	if (rc < 0)
		fail_sys(err, errlen, rc, "cannot read", app_dir);
	else if (e.n == 0)
		rc = message_fail(err, errlen, -ENOENT,
				  "no entry point\nthe bundle has no files");
	else if (e.n > 1)
		rc = several_entries(&e, err, errlen);
	if (rc == 0)
		*entry_out = e.first;
	else
		free(e.first);
	return rc;
}

void bundle_release(struct bundle *b)
{
	free(b->path);
	free(b->file_name);
	memset(b, 0, sizeof(*b));
}
