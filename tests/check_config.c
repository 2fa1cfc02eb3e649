/* The daemon's config.json: defaults, XDG lookup, and the error texts. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_main.h"
#include "config.h"
#include "fsutil.h"

static char dir[256];
static char path[PATH_MAX];
static char err[512];

/* Each test gets a fresh directory; HOME and XDG point into it. */
static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config.json", dir);
	setenv("HOME", dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	err[0] = '\0';
}

static void teardown(void)
{
	fsutil_rm_rf(dir);
}

static void write_file(const char *file, const char *text)
{
	ck_assert_int_eq(fsutil_write_atomic(file, text, strlen(text), 0644),
			 0);
}

/* Loads @text from the explicit path, expecting -EINVAL. */
static const char *load_error(const char *text)
{
	struct config cfg;
	write_file(path, text);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(cfg.platforms);
	ck_assert_int_eq(strncmp(err, path, strlen(path)), 0);
	/* the part after "PATH: " */
	return err + strlen(path) + 2;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static void assert_defaults(const struct config *cfg)
{
	ck_assert_ptr_null(cfg->path);
	ck_assert_str_eq(cfg->default_platform, "local");
	ck_assert_uint_eq(cfg->bundle_limit, CONFIG_DEFAULT_BUNDLE_LIMIT);
	ck_assert_uint_eq(cfg->nplatforms, 1);
	const struct platform_config *local = config_platform(cfg, "local");
	ck_assert_ptr_nonnull(local);
	ck_assert_str_eq(local->kind, "local");
	ck_assert_str_eq(
	    json_string_value(json_object_get(local->fields, "kind")), "local");
}

START_TEST(defaults_without_file)
{
	struct config cfg;
	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_defaults(&cfg);
	ck_assert_ptr_null(config_platform(&cfg, "hpc"));
	config_release(&cfg);

	/* the same with an XDG directory that has no jobfs/ in it */
	setenv("XDG_CONFIG_HOME", dir, 1);
	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_defaults(&cfg);
	config_release(&cfg);
}
END_TEST

START_TEST(xdg_path)
{
	char xdg[PATH_MAX + 32], file[PATH_MAX + 64];
	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	snprintf(file, sizeof(file), "%s/jobfs", xdg);
	ck_assert_int_eq(fsutil_mkdir_p(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/jobfs/config.json", xdg);
	write_file(file,
		   "{\"platforms\": {\"hpc\": {\"kind\": \"slurm\","
		   " \"url\": \"http://127.0.0.1:6820\"}},"
		   " \"default_platform\": \"hpc\", \"bundle_limit\": 4096}");
	setenv("XDG_CONFIG_HOME", xdg, 1);

	struct config cfg;
	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.path, file);
	ck_assert_str_eq(cfg.default_platform, "hpc");
	ck_assert_uint_eq(cfg.bundle_limit, 4096);
	ck_assert_uint_eq(cfg.nplatforms, 2);
	const struct platform_config *hpc = config_platform(&cfg, "hpc");
	ck_assert_str_eq(hpc->kind, "slurm");
	ck_assert_str_eq(json_string_value(json_object_get(hpc->fields, "url")),
			 "http://127.0.0.1:6820");
	ck_assert_str_eq(config_platform(&cfg, "local")->kind, "local");
	config_release(&cfg);
	ck_assert_ptr_null(cfg.platforms);
}
END_TEST

START_TEST(home_fallback)
{
	char file[PATH_MAX + 64];
	snprintf(file, sizeof(file), "%s/.config/jobfs", dir);
	ck_assert_int_eq(fsutil_mkdir_p(file, 0755), 0);
	snprintf(file, sizeof(file), "%s/.config/jobfs/config.json", dir);
	write_file(file, "{\"bundle_limit\": 10}");
	/* a relative XDG_CONFIG_HOME is ignored, as the XDG spec says */
	setenv("XDG_CONFIG_HOME", "relative/dir", 1);
	struct config cfg;
	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof(err)), 0);
	ck_assert_str_eq(cfg.path, file);
	ck_assert_uint_eq(cfg.bundle_limit, 10);
	config_release(&cfg);

	/* an existing default file with an error is an error, not defaults */
	write_file(file, "{\"bundle_limit\": 0}");
	ck_assert_int_eq(config_load(NULL, &cfg, err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(explicit_missing)
{
	struct config cfg;
	char expected[PATH_MAX + 32];
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(expected, sizeof(expected), "%s: no such file", path);
	ck_assert_str_eq(err, expected);
	ck_assert_ptr_null(cfg.default_platform);
}
END_TEST

START_TEST(unknown_field)
{
	ck_assert_str_eq(load_error("{\"defualt_platform\": \"local\"}"),
			 "unknown field \"defualt_platform\"\n"
			 "allowed fields: default_platform, bundle_limit, "
			 "keep, platforms");
}
END_TEST

START_TEST(platform_errors)
{
	ck_assert_str_eq(
	    load_error("{\"platforms\": {\"hpc\": {\"url\": \"x\"}}}"),
	    "field \"platforms.hpc.kind\": missing");
	ck_assert_str_eq(
	    load_error("{\"platforms\": {\"hpc\": {\"kind\": 3}}}"),
	    "field \"platforms.hpc.kind\": expected a non-empty "
	    "string");
	ck_assert_str_eq(load_error("{\"platforms\": {\"hpc\": \"slurm\"}}"),
			 "field \"platforms.hpc\": expected an object");
	ck_assert_str_eq(load_error("{\"platforms\": []}"),
			 "field \"platforms\": expected an object");
	ck_assert(starts_with(
	    load_error("{\"platforms\": {\"a b\": {\"kind\": \"local\"}}}"),
	    "field \"platforms.a b\": invalid platform name\n"));
}
END_TEST

START_TEST(default_platform_errors)
{
	ck_assert_str_eq(load_error("{\"default_platform\": \"prod\"}"),
			 "field \"default_platform\": no platform named "
			 "\"prod\"");
	ck_assert_str_eq(load_error("{\"default_platform\": 1}"),
			 "field \"default_platform\": expected a non-empty "
			 "string");
}
END_TEST

START_TEST(limit_errors)
{
	const char *bad[] = {"0", "-5", "\"1G\"", "1.5", "null"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "{\"bundle_limit\": %s}", bad[i]);
		ck_assert_str_eq(load_error(text),
				 "field \"bundle_limit\": expected a positive "
				 "integer (bytes)");
	}
}
END_TEST

/* "keep": seconds or a duration, the same as -o keep= */
START_TEST(keep_field)
{
	const struct {
		const char *value;
		double seconds;
	} good[] = {{"3600", 3600},	 {"\"90m\"", 5400},
		    {"\"12h\"", 43200},	 {"\"30d\"", 2592000},
		    {"\"2w\"", 1209600}, {"1.5", 1.5}};
	char file[PATH_MAX + 64], text[64];
	snprintf(file, sizeof(file), "%s/keep.json", dir);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "{\"keep\": %s}", good[i].value);
		write_file(file, text);
		struct config cfg;
		ck_assert_int_eq(config_load(file, &cfg, err, sizeof(err)), 0);
		ck_assert_double_eq(cfg.keep, good[i].seconds);
		config_release(&cfg);
	}
	const char *bad[] = {"0",	"-5",	"\"30x\"", "\"d\"",
			     "\"1dd\"", "null", "[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"keep\": %s}", bad[i]);
		ck_assert_str_eq(load_error(text),
				 "field \"keep\": expected seconds or a "
				 "duration such as \"30d\"");
	}
}
END_TEST

START_TEST(bad_json)
{
	const char *e = load_error("{\n  \"platforms\": {,}\n}");
	ck_assert_msg(starts_with(e, "bad JSON at line 2, column "), "%s", e);
	ck_assert_str_eq(load_error("[1]"), "expected a JSON object");
	e = load_error("{\"bundle_limit\": 1, \"bundle_limit\": 2}");
	ck_assert_msg(starts_with(e, "bad JSON at line 1"), "%s", e);
	ck_assert_ptr_nonnull(strstr(e, "duplicate"));
}
END_TEST

START_TEST(embedded_local)
{
	struct config cfg;
	write_file(path,
		   "{\"platforms\": {\"prod\": {\"kind\": \"databricks\"}}}");
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nplatforms, 2);
	ck_assert_str_eq(cfg.default_platform, "local");
	ck_assert_str_eq(config_platform(&cfg, "local")->kind, "local");
	ck_assert_str_eq(cfg.path, path);
	config_release(&cfg);

	/* a file that defines "local" itself keeps its own */
	write_file(path, "{\"platforms\": {\"local\": {\"kind\": \"local\","
			 " \"workers\": 2}}}");
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.nplatforms, 1);
	const struct platform_config *local = config_platform(&cfg, "local");
	ck_assert_int_eq(
	    json_integer_value(json_object_get(local->fields, "workers")), 2);
	config_release(&cfg);
	/* releasing twice is harmless */
	config_release(&cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_without_file);
	tcase_add_test(tc, xdg_path);
	tcase_add_test(tc, home_fallback);
	tcase_add_test(tc, explicit_missing);
	tcase_add_test(tc, unknown_field);
	tcase_add_test(tc, platform_errors);
	tcase_add_test(tc, default_platform_errors);
	tcase_add_test(tc, limit_errors);
	tcase_add_test(tc, keep_field);
	tcase_add_test(tc, bad_json);
	tcase_add_test(tc, embedded_local);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
