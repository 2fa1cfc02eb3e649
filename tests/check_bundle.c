/*
 * Bundles: finding, installing (directories, files, archives made here with
 * libarchive's writer), refusing unsafe archives, and the fsutil helpers
 * they stand on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "bundle.h"
#include "check_main.h"
#include "fsutil.h"

static char root[256];
static char err[1024];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/check_bundle.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	err[0] = '\0';
}

static void teardown(void)
{
	fsutil_rm_rf(root);
}

/* Absolute path of @rel under the test's directory (a few at a time). */
static const char *at(const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *buf = bufs[next++ % 8];
	snprintf(buf, PATH_MAX, "%s/%s", root, rel);
	return buf;
}

static bool exists(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void make_dir(const char *rel)
{
	ck_assert_int_eq(fsutil_mkdir_p(at(rel), 0755), 0);
}

static void write_text(const char *rel, const char *text, mode_t mode)
{
	ck_assert_int_eq(fsutil_write_atomic(at(rel), text, strlen(text), mode),
			 0);
}

static void write_zeros(const char *rel, size_t size)
{
	char *zeros = calloc(1, size);
	ck_assert_int_eq(fsutil_write_atomic(at(rel), zeros, size, 0644), 0);
	free(zeros);
}

static void make_link(const char *target, const char *rel)
{
	ck_assert_int_eq(symlink(target, at(rel)), 0);
}

static char *read_text(const char *rel)
{
	char *data;
	ck_assert_int_eq(fsutil_read_all(at(rel), 1 << 20, &data, NULL), 0);
	return data;
}

static void assert_text(const char *rel, const char *expected)
{
	char *data = read_text(rel);
	ck_assert_str_eq(data, expected);
	free(data);
}

/* One entry of an archive made by a test. */
struct tentry {
	const char *path;
	char type;	 /* 'f' file, 'd' dir, 'l' symlink, 'h' hard link */
	const char *arg; /* content, or the link's target */
	size_t zeros;	 /* 'f' with NULL content: that many zero bytes */
};

enum tformat { T_ZIP, T_TAR, T_TGZ, T_TBZ, T_TXZ };

static void write_entry(struct archive *a, const struct tentry *t)
{
	struct archive_entry *e = archive_entry_new();
	size_t size = t->arg ? strlen(t->arg) : t->zeros;
	archive_entry_set_pathname(e, t->path);
	archive_entry_set_perm(e, t->type == 'd' ? 0755 : 0644);
	if (t->type == 'd') {
		archive_entry_set_filetype(e, AE_IFDIR);
	} else if (t->type == 'l') {
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_symlink(e, t->arg);
	} else if (t->type == 'h') {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, t->arg);
	} else {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, (la_int64_t)size);
		if (strstr(t->path, "run.sh"))
			archive_entry_set_perm(e, 0755);
	}
	ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
	if (t->type == 'f') {
		char *zeros = t->arg ? NULL : calloc(1, size);
		const char *data = t->arg ? t->arg : zeros;
		ck_assert_int_eq(archive_write_data(a, data, size),
				 (la_ssize_t)size);
		free(zeros);
	}
	archive_entry_free(e);
}

static void make_archive(const char *rel, enum tformat format,
			 const struct tentry *entries, size_t n)
{
	struct archive *a = archive_write_new();
	if (format == T_ZIP)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (format == T_TGZ)
		archive_write_add_filter_gzip(a);
	if (format == T_TBZ)
		archive_write_add_filter_bzip2(a);
	if (format == T_TXZ)
		archive_write_add_filter_xz(a);
	ck_assert_int_eq(archive_write_open_filename(a, at(rel)), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		write_entry(a, &entries[i]);
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static int find(const char *name, struct bundle *b)
{
	err[0] = '\0';
	return bundle_find(at("new"), name, b, err, sizeof(err));
}

static int install(struct bundle *b, uint64_t limit)
{
	err[0] = '\0';
	return bundle_install(b, at("app"), limit, err, sizeof(err));
}

static void setup_new(void)
{
	setup();
	make_dir("new");
}

/* bundle_find ----------------------------------------------------------- */

START_TEST(find_dir_beats_file)
{
	make_dir("new/etl");
	write_text("new/etl.py", "print(1)\n", 0644);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(b.kind, BUNDLE_DIR);
	ck_assert_str_eq(b.file_name, "etl");
	char *real = realpath(at("new/etl"), NULL);
	ck_assert_str_eq(b.path, real);
	free(real);
	bundle_release(&b);
	ck_assert_ptr_null(b.path);
}
END_TEST

START_TEST(find_single_file)
{
	write_text("new/etl.py", "print(1)\n", 0644);
	/* none of these is a bundle of "etl" */
	write_text("new/etl.json", "{}", 0644);
	write_text("new/etl.error", "x", 0644);
	write_text("new/.etl.py.swp", "x", 0644);
	write_text("new/etl.v2.py", "x", 0644);
	write_text("new/etlx.py", "x", 0644);
	write_text("new/etl", "x", 0644);
	write_text("new/etl.", "x", 0644);
	make_dir("new/etl.d");
	make_link("etl.py", "new/etl.sh");
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(b.kind, BUNDLE_FILE);
	ck_assert_str_eq(b.file_name, "etl.py");
	ck_assert(b.path[0] == '/');
	ck_assert(!strcmp(b.path + strlen(b.path) - 11, "/new/etl.py"));
	bundle_release(&b);

	/* "etl.v2.py" belongs to "etl.v2" */
	ck_assert_int_eq(find("etl.v2", &b), 0);
	ck_assert_int_eq(b.kind, BUNDLE_FILE);
	ck_assert_str_eq(b.file_name, "etl.v2.py");
	bundle_release(&b);
}
END_TEST

static const struct {
	const char *file;
	enum bundle_kind kind;
} kinds[] = {
    {"etl.zip", BUNDLE_ARCHIVE},    {"etl.kda", BUNDLE_ARCHIVE},
    {"etl.tar", BUNDLE_ARCHIVE},    {"etl.tar.gz", BUNDLE_ARCHIVE},
    {"etl.tgz", BUNDLE_ARCHIVE},    {"etl.tar.bz2", BUNDLE_ARCHIVE},
    {"etl.tar.xz", BUNDLE_ARCHIVE}, {"etl.TAR.GZ", BUNDLE_ARCHIVE},
    {"etl.ZIP", BUNDLE_ARCHIVE},    {"etl.gz", BUNDLE_FILE},
    {"etl.jar", BUNDLE_FILE},	    {"etl.sh", BUNDLE_FILE},
};

START_TEST(find_kinds)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "new/%s", kinds[_i].file);
	write_text(rel, "x", 0644);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(b.kind, kinds[_i].kind);
	ck_assert_str_eq(b.file_name, kinds[_i].file);
	bundle_release(&b);
}
END_TEST

START_TEST(find_ambiguous)
{
	write_text("new/etl.sh", "x", 0644);
	write_text("new/etl.py", "x", 0644);
	write_text("new/etl.tar.gz", "x", 0644);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), -EINVAL);
	ck_assert_str_eq(err, "ambiguous bundle for \"etl\"\n"
			      "found etl.py, etl.sh, etl.tar.gz");
	ck_assert_ptr_null(b.path);
	ck_assert_int_eq(b.kind, BUNDLE_NONE);
}
END_TEST

START_TEST(find_none)
{
	write_text("new/other.py", "x", 0644);
	write_text("new/etl.json", "{}", 0644);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(b.kind, BUNDLE_NONE);
	ck_assert_ptr_null(b.path);
	ck_assert_ptr_null(b.file_name);
	bundle_release(&b);
	ck_assert_int_eq(find("../etl", &b), -EINVAL);
	ck_assert_int_eq(find("..", &b), -EINVAL);
	ck_assert_int_eq(find(".", &b), -EINVAL);
	ck_assert_int_eq(
	    bundle_find(at("missing"), "etl", &b, err, sizeof(err)), -ENOENT);
}
END_TEST

/* bundle_install: directories and files ---------------------------------- */

START_TEST(install_dir)
{
	make_dir("new/etl/sub");
	write_text("new/etl/main.py", "main\n", 0755);
	write_text("new/etl/sub/lib.py", "lib\n", 0644);
	make_link("sub/lib.py", "new/etl/lib");
	make_link("../main.py", "new/etl/sub/main");
	make_link("missing/inside", "new/etl/dangling");
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1024), 0);
	ck_assert(!exists("new/etl"));
	assert_text("app/main.py", "main\n");
	assert_text("app/lib", "lib\n");
	assert_text("app/sub/main", "main\n");

	ck_assert_int_eq(bundle_uninstall(&b, at("app")), 0);
	ck_assert(!exists("app"));
	assert_text("new/etl/sub/lib.py", "lib\n");
	bundle_release(&b);
}
END_TEST

static const struct {
	const char *link;
	const char *target;
} bad_links[] = {
    {"etc", "/etc"},
    {"up", "../x"},
    {"sub/up", "../../x"},
    {"l", "a/../../x"},
    {"back", "../etl/main.py"},
    {"sub/deep", "./../sub/../.."},
};

START_TEST(install_dir_unsafe_link)
{
	make_dir("new/etl/sub");
	write_text("new/etl/main.py", "main\n", 0644);
	char rel[64];
	snprintf(rel, sizeof(rel), "new/etl/%s", bad_links[_i].link);
	make_link(bad_links[_i].target, rel);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	char expected[256];
	snprintf(expected, sizeof(expected),
		 "unsafe link in bundle \"etl\"\n%s -> %s", bad_links[_i].link,
		 bad_links[_i].target);
	ck_assert_str_eq(err, expected);
	ck_assert(!exists("app"));
	ck_assert(exists("new/etl/main.py"));
	bundle_release(&b);
}
END_TEST

/* Two links each harmless alone: "a" -> "." and "b" -> "a/../x". */
START_TEST(install_dir_chained_links)
{
	make_dir("new/etl");
	make_link(".", "new/etl/a");
	make_link("a/../x", "new/etl/b");
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	ck_assert_str_eq(err, "unsafe link in bundle \"etl\"\nb -> a/../x");
	ck_assert(!exists("app"));
	bundle_release(&b);
}
END_TEST

START_TEST(install_dir_special_file)
{
	make_dir("new/etl");
	ck_assert_int_eq(mkfifo(at("new/etl/pipe"), 0644), 0);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	ck_assert(starts_with(err, "unsupported file in bundle \"etl\"\npipe"));
	ck_assert(!exists("app"));
	bundle_release(&b);
}
END_TEST

START_TEST(install_dir_too_large)
{
	make_dir("new/etl/sub");
	write_zeros("new/etl/a", 1024);
	write_zeros("new/etl/sub/b", 1024);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 2047), -EINVAL);
	ck_assert_str_eq(err, "bundle too large\n2048 bytes, limit 2047 bytes");
	ck_assert(!exists("app"));
	ck_assert(exists("new/etl/sub/b"));
	ck_assert_int_eq(install(&b, 2048), 0);
	bundle_release(&b);
}
END_TEST

START_TEST(install_file)
{
	write_text("new/etl.py", "print(1)\n", 0750);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 9), 0);
	ck_assert(!exists("new/etl.py"));
	assert_text("app/etl.py", "print(1)\n");
	struct stat st;
	ck_assert_int_eq(stat(at("app/etl.py"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0750);
	/* bundle_consume() leaves moved bundles alone */
	ck_assert_int_eq(bundle_consume(&b), 0);
	ck_assert(exists("app/etl.py"));

	ck_assert_int_eq(bundle_uninstall(&b, at("app")), 0);
	ck_assert(!exists("app"));
	assert_text("new/etl.py", "print(1)\n");

	ck_assert_int_eq(install(&b, 8), -EINVAL);
	ck_assert_str_eq(err, "bundle too large\n9 bytes, limit 8 bytes");
	ck_assert(!exists("app"));
	ck_assert(exists("new/etl.py"));
	bundle_release(&b);
}
END_TEST

START_TEST(install_none_and_existing)
{
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1), 0);
	struct stat st;
	ck_assert_int_eq(stat(at("app"), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* the destination must not exist */
	write_text("new/etl.py", "x", 0644);
	bundle_release(&b);
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 100), -EEXIST);
	ck_assert(exists("new/etl.py"));
	bundle_release(&b);
	ck_assert_int_eq(bundle_uninstall(&b, at("app")), 0);
	ck_assert(!exists("app"));
}
END_TEST

/* bundle_install: archives ------------------------------------------------ */

static const struct tentry good_entries[] = {
    {"pkg/", 'd', NULL, 0},
    {"pkg/main.py", 'f', "print('main')\n", 0},
    {"./run.sh", 'f', "#!/bin/sh\n", 0},
    {"deep/er/file.txt", 'f', "deep\n", 0},
    {"latest", 'l', "pkg/main.py", 0},
    {"pkg/up", 'l', "../run.sh", 0},
    {"hard", 'h', "pkg/main.py", 0},
};

static const struct {
	const char *file;
	enum tformat format;
	size_t nentries;
} good_archives[] = {
    {"etl.zip", T_ZIP, 6}, /* zip has no hard links */
    {"etl.kda", T_ZIP, 6}, {"etl.tar", T_TAR, 7},     {"etl.tar.gz", T_TGZ, 7},
    {"etl.tgz", T_TGZ, 7}, {"etl.tar.bz2", T_TBZ, 7}, {"etl.tar.xz", T_TXZ, 7},
};

START_TEST(install_archive)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "new/%s", good_archives[_i].file);
	make_archive(rel, good_archives[_i].format, good_entries,
		     good_archives[_i].nentries);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(b.kind, BUNDLE_ARCHIVE);
	ck_assert_int_eq(install(&b, 1 << 20), 0);
	assert_text("app/pkg/main.py", "print('main')\n");
	assert_text("app/deep/er/file.txt", "deep\n");
	assert_text("app/latest", "print('main')\n");
	assert_text("app/pkg/up", "#!/bin/sh\n");
	struct stat st, hard;
	ck_assert_int_eq(stat(at("app/run.sh"), &st), 0);
	ck_assert_int_eq(st.st_mode & 0100, 0100);
	ck_assert_int_eq(lstat(at("app/latest"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	if (good_archives[_i].nentries == 7) {
		ck_assert_int_eq(stat(at("app/pkg/main.py"), &st), 0);
		ck_assert_int_eq(stat(at("app/hard"), &hard), 0);
		ck_assert_int_eq(st.st_ino, hard.st_ino);
	}
	/* the archive stays in new/ until consumed */
	ck_assert(exists(rel));
	ck_assert_int_eq(bundle_uninstall(&b, at("app")), 0);
	ck_assert(!exists("app"));
	ck_assert(exists(rel));
	ck_assert_int_eq(bundle_consume(&b), 0);
	ck_assert(!exists(rel));
	ck_assert_int_eq(bundle_consume(&b), 0);
	bundle_release(&b);
}
END_TEST

static const struct {
	struct tentry evil[2];
	const char *first_line;
} evil_archives[] = {
    {{{"../x", 'f', "x", 0}}, "unsafe path in archive \"etl.tar\""},
    {{{"a/../../x", 'f', "x", 0}}, "unsafe path in archive \"etl.tar\""},
    {{{"/tmp/abs", 'f', "x", 0}}, "unsafe path in archive \"etl.tar\""},
    {{{"etc", 'l', "/etc", 0}}, "unsafe link in archive \"etl.tar\""},
    {{{"l", 'l', "a/../../x", 0}}, "unsafe link in archive \"etl.tar\""},
    {{{"h", 'h', "../../etc/passwd", 0}}, "unsafe link in archive \"etl.tar\""},
    {{{"h", 'h', "/etc/passwd", 0}}, "unsafe link in archive \"etl.tar\""},
    /* harmless alone, escaping together: caught by the final check */
    {{{"b", 'l', "a/../x", 0}, {"a", 'l', ".", 0}},
     "unsafe link in archive \"etl.tar\""},
    /* a hard link to a symlink moves the symlink up a level */
    {{{"sub/l", 'l', "../x", 0}, {"h", 'h', "sub/l", 0}},
     "unsafe link in archive \"etl.tar\""},
    /* writing through a symlink, even one that points inside */
    {{{"d", 'l', "pkg", 0}, {"d/x", 'f', "x", 0}},
     "unsafe path in archive \"etl.tar\""},
    {{{"dev", 'l', "/dev", 0}, {"dev/null", 'f', "x", 0}},
     "unsafe link in archive \"etl.tar\""},
};

START_TEST(install_archive_unsafe)
{
	/* a good entry first, so that there is something to clean up */
	struct tentry entries[4] = {{"pkg/", 'd', NULL, 0},
				    {"pkg/ok.py", 'f', "ok\n", 0}};
	size_t n = 2;
	for (size_t i = 0; i < 2 && evil_archives[_i].evil[i].path; i++)
		entries[n++] = evil_archives[_i].evil[i];
	make_archive("new/etl.tar", T_TAR, entries, n);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	ck_assert_msg(starts_with(err, evil_archives[_i].first_line), "%s",
		      err);
	ck_assert_msg(strchr(err, '\n'), "no details: %s", err);
	if (getenv("SHOW_ERRORS"))
		fprintf(stderr, "%s\n--\n", err);
	ck_assert(!exists("app"));
	ck_assert(!exists("x"));
	ck_assert_int_eq(access("/tmp/abs", F_OK), -1);
	ck_assert(exists("new/etl.tar"));
	bundle_release(&b);
}
END_TEST

START_TEST(install_archive_too_large)
{
	struct tentry big[] = {{"small", 'f', "x", 0},
			       {"big", 'f', NULL, 64 * 1024}};
	make_archive("new/etl.zip", T_ZIP, big, 2);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 10000), -EINVAL);
	ck_assert_str_eq(err,
			 "bundle too large\nmore than 9.8 KiB unpacked (the "
			 "limit)");
	ck_assert(!exists("app"));
	ck_assert_int_eq(install(&b, 64 * 1024 + 1), 0);
	bundle_release(&b);
}
END_TEST

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites every "uncompressed size" field of a one-entry zip to @size. */
static void zip_lie_about_size(const char *rel, uint32_t size)
{
	static const struct {
		const char *sig;
		size_t offset;
	} fields[] = {{"PK\3\4", 22}, {"PK\7\10", 12}, {"PK\1\2", 24}};
	char *data;
	size_t len, patched = 0;
	ck_assert_int_eq(fsutil_read_all(at(rel), 1 << 20, &data, &len), 0);
	for (size_t i = 0; i + 30 < len; i++)
		for (size_t f = 0; f < 3; f++)
			if (!memcmp(data + i, fields[f].sig, 4)) {
				put_le32((unsigned char *)data + i +
					     fields[f].offset,
					 size);
				patched++;
			}
	ck_assert_uint_ge(patched, 2);
	ck_assert_int_eq(fsutil_write_atomic(at(rel), data, len, 0644), 0);
	free(data);
}

/* The headers say 100 bytes; the data inflates to 64 KiB. */
START_TEST(install_archive_lying_header)
{
	struct tentry big[] = {{"big", 'f', NULL, 64 * 1024}};
	make_archive("new/etl.zip", T_ZIP, big, 1);
	zip_lie_about_size("new/etl.zip", 100);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1000), -EINVAL);
	ck_assert_str_eq(err, "bundle too large\nmore than 1000 bytes "
			      "unpacked (the limit)");
	ck_assert(!exists("app"));
	bundle_release(&b);
}
END_TEST

/* Each file fits; together they do not. */
START_TEST(install_archive_total_too_large)
{
	struct tentry files[] = {
	    {"a", 'f', NULL, 3000},
	    {"b", 'f', NULL, 3000},
	    {"c", 'f', NULL, 3000},
	    {"d", 'f', NULL, 3000},
	};
	make_archive("new/etl.tar.gz", T_TGZ, files, 4);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 11999), -EINVAL);
	ck_assert(starts_with(err, "bundle too large\n"));
	ck_assert(!exists("app"));
	ck_assert_int_eq(install(&b, 12000), 0);
	bundle_release(&b);
}
END_TEST

START_TEST(install_bad_archive)
{
	write_text("new/etl.zip", "this is not a zip file", 0644);
	struct bundle b;
	ck_assert_int_eq(find("etl", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	ck_assert(starts_with(err, "bad archive \"etl.zip\"\n"));
	ck_assert(!exists("app"));
	bundle_release(&b);

	/* a truncated tar.gz fails part way: the partial tree goes too */
	struct tentry files[] = {{"a", 'f', "aaaa", 0},
				 {"b", 'f', NULL, 100000}};
	make_archive("x.tar.gz", T_TGZ, files, 2);
	char *data;
	size_t len;
	ck_assert_int_eq(fsutil_read_all(at("x.tar.gz"), 1 << 20, &data, &len),
			 0);
	ck_assert_int_eq(
	    fsutil_write_atomic(at("new/job2.tar.gz"), data, len / 2, 0644), 0);
	free(data);
	ck_assert_int_eq(find("job2", &b), 0);
	ck_assert_int_eq(install(&b, 1 << 20), -EINVAL);
	ck_assert(starts_with(err, "bad archive \"job2.tar.gz\"\n"));
	ck_assert(!exists("app"));
	bundle_release(&b);
}
END_TEST

/* bundle_default_entry ---------------------------------------------------- */

START_TEST(default_entry)
{
	make_dir("app/sub/empty");
	write_text("app/sub/main.py", "x", 0644);
	make_link("sub/main.py", "app/link");
	char *entry;
	ck_assert_int_eq(
	    bundle_default_entry(at("app"), &entry, err, sizeof(err)), 0);
	ck_assert_str_eq(entry, "sub/main.py");
	free(entry);

	write_text("app/other.py", "x", 0644);
	ck_assert_int_eq(
	    bundle_default_entry(at("app"), &entry, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(entry);
	ck_assert(starts_with(err, "no entry point\nthe bundle has 2 files"));

	make_dir("empty/dir");
	make_link("nowhere", "empty/link");
	ck_assert_int_eq(
	    bundle_default_entry(at("empty"), &entry, err, sizeof(err)),
	    -ENOENT);
	ck_assert_ptr_null(entry);
	ck_assert_int_eq(
	    bundle_default_entry(at("missing"), &entry, err, sizeof(err)),
	    -ENOENT);
}
END_TEST

/* fsutil ------------------------------------------------------------------ */

static mode_t mode_of(const char *rel)
{
	struct stat st;
	ck_assert_int_eq(lstat(at(rel), &st), 0);
	return st.st_mode & 07777;
}

START_TEST(fsutil_copy_and_remove)
{
	make_dir("src/d/ro");
	write_text("src/d/f", "content\n", 0640);
	write_text("src/run", "#!/bin/sh\n", 0755);
	write_text("src/d/ro/inside", "ro\n", 0444);
	make_link("/etc/passwd", "src/abs");
	make_link("d/f", "src/rel");
	ck_assert_int_eq(chmod(at("src/d/ro"), 0555), 0);
	ck_assert_int_eq(chmod(at("src/d"), 0750), 0);

	ck_assert_int_eq(fsutil_copy_tree(at("src"), at("dst")), 0);
	assert_text("dst/d/f", "content\n");
	assert_text("dst/d/ro/inside", "ro\n");
	ck_assert_int_eq(mode_of("dst/d/f"), 0640);
	ck_assert_int_eq(mode_of("dst/run"), 0755);
	ck_assert_int_eq(mode_of("dst/d"), 0750);
	ck_assert_int_eq(mode_of("dst/d/ro"), 0555);
	char target[64] = "";
	ck_assert_int_eq(readlink(at("dst/abs"), target, sizeof(target)), 11);
	ck_assert(!strncmp(target, "/etc/passwd", 11));
	assert_text("dst/rel", "content\n");

	uint64_t size;
	ck_assert_int_eq(fsutil_tree_size(at("dst"), &size), 0);
	ck_assert_uint_eq(size, 8 + 10 + 3);

	ck_assert_int_eq(fsutil_copy_tree(at("src"), at("dst")), -EEXIST);
	ck_assert_int_eq(fsutil_copy_tree(at("nope"), at("dst2")), -ENOENT);
	ck_assert(!exists("dst2"));

	/* read-only directories are no obstacle; links are not followed */
	make_dir("outside");
	write_text("outside/keep", "keep\n", 0644);
	make_link(at("outside"), "dst/d/out");
	ck_assert_int_eq(fsutil_rm_rf(at("dst")), 0);
	ck_assert(!exists("dst"));
	assert_text("outside/keep", "keep\n");
	ck_assert_int_eq(fsutil_rm_rf(at("dst")), 0);
	ck_assert_int_eq(fsutil_rm_rf(at("outside/keep")), 0);
	ck_assert(!exists("outside/keep"));
	ck_assert_int_eq(chmod(at("src/d/ro"), 0755), 0);
}
END_TEST

START_TEST(fsutil_write_and_read)
{
	make_dir("w");
	ck_assert_int_eq(
	    fsutil_write_atomic(at("w/f"), "hello world", 11, 0640), 0);
	ck_assert_int_eq(mode_of("w/f"), 0640);
	ck_assert_int_eq(fsutil_write_atomic(at("w/f"), "bye", 3, 0600), 0);
	ck_assert_int_eq(mode_of("w/f"), 0600);
	char *data;
	size_t len;
	ck_assert_int_eq(fsutil_read_all(at("w/f"), 3, &data, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(data, "bye");
	free(data);
	ck_assert_int_eq(fsutil_read_all(at("w/f"), 2, &data, &len), -EFBIG);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(fsutil_read_all(at("w/none"), 2, &data, &len),
			 -ENOENT);

	/* no temporary file is left behind */
	uint64_t size;
	ck_assert_int_eq(fsutil_tree_size(at("w"), &size), 0);
	ck_assert_uint_eq(size, 3);
	ck_assert_int_eq(fsutil_write_atomic(at("nodir/f"), "x", 1, 0644),
			 -ENOENT);

	/* larger than one read buffer */
	write_zeros("w/big", 100000);
	ck_assert_int_eq(fsutil_read_all(at("w/big"), 100000, &data, &len), 0);
	ck_assert_uint_eq(len, 100000);
	free(data);
	ck_assert_int_eq(fsutil_sync_dir(at("w")), 0);
	ck_assert_int_eq(fsutil_sync_dir(at("nodir")), -ENOENT);
}
END_TEST

START_TEST(fsutil_mkdir)
{
	ck_assert_int_eq(fsutil_mkdir_p(at("a/b/c/"), 0700), 0);
	ck_assert_int_eq(mode_of("a/b/c"), 0700);
	ck_assert_int_eq(fsutil_mkdir_p(at("a/b/c"), 0700), 0);
	write_text("a/file", "x", 0644);
	ck_assert_int_eq(fsutil_mkdir_p(at("a/file"), 0700), -ENOTDIR);
	ck_assert_int_eq(fsutil_mkdir_p(at("a/file/x"), 0700), -ENOTDIR);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("find");
	tcase_add_checked_fixture(tc, setup_new, teardown);
	tcase_add_test(tc, find_dir_beats_file);
	tcase_add_test(tc, find_single_file);
	tcase_add_loop_test(tc, find_kinds, 0,
			    sizeof(kinds) / sizeof(kinds[0]));
	tcase_add_test(tc, find_ambiguous);
	tcase_add_test(tc, find_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("install");
	tcase_add_checked_fixture(tc, setup_new, teardown);
	tcase_add_test(tc, install_dir);
	tcase_add_loop_test(tc, install_dir_unsafe_link, 0,
			    sizeof(bad_links) / sizeof(bad_links[0]));
	tcase_add_test(tc, install_dir_chained_links);
	tcase_add_test(tc, install_dir_special_file);
	tcase_add_test(tc, install_dir_too_large);
	tcase_add_test(tc, install_file);
	tcase_add_test(tc, install_none_and_existing);
	tcase_add_loop_test(tc, install_archive, 0,
			    sizeof(good_archives) / sizeof(good_archives[0]));
	tcase_add_loop_test(tc, install_archive_unsafe, 0,
			    sizeof(evil_archives) / sizeof(evil_archives[0]));
	tcase_add_test(tc, install_archive_too_large);
	tcase_add_test(tc, install_archive_total_too_large);
	tcase_add_test(tc, install_archive_lying_header);
	tcase_add_test(tc, install_bad_archive);
	tcase_add_test(tc, default_entry);
	suite_add_tcase(s, tc);

	tc = tcase_create("fsutil");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fsutil_copy_and_remove);
	tcase_add_test(tc, fsutil_write_and_read);
	tcase_add_test(tc, fsutil_mkdir);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
