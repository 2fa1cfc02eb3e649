/*
 * Secrets: from a variable, from a file (trailing newlines dropped), the
 * refusals (mode, missing, empty, both or neither field), and that no
 * message ever carries the secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "fsutil.h"
#include "secret.h"

static char dir[64];

static void dir_up(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_secret.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void dir_down(void)
{
	fsutil_rm_rf(dir);
}

/* Writes @text to dir/@name with @mode; returns the path (static). */
static const char *plant(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

/* secret_get on {@key: @value} for field "token". */
static int get(const char *key, const char *value, char **secret, char *err)
{
	json_t *fields = json_pack("{s:s,s:s}", "kind", "x", key, value);
	int rc = secret_get(fields, "token", secret, err, 256);
	json_decref(fields);
	return rc;
}

START_TEST(from_env)
{
	char err[256] = "", *secret = NULL;
	setenv("CHECK_SECRET_TOKEN", "tok-123", 1);
	ck_assert_int_eq(get("token_env", "CHECK_SECRET_TOKEN", &secret, err),
			 0);
	ck_assert_str_eq(secret, "tok-123");
	secret_free(secret);
}
END_TEST

START_TEST(env_unset_or_empty)
{
	char err[256] = "", *secret = NULL;
	unsetenv("CHECK_SECRET_NONE");
	ck_assert_int_eq(get("token_env", "CHECK_SECRET_NONE", &secret, err),
			 -EINVAL);
	ck_assert_str_eq(err, "field \"token_env\": variable "
			      "\"CHECK_SECRET_NONE\" is not set");
	ck_assert_ptr_null(secret);
	setenv("CHECK_SECRET_EMPTY", "", 1);
	ck_assert_int_eq(get("token_env", "CHECK_SECRET_EMPTY", &secret, err),
			 -EINVAL);
	ck_assert_str_eq(err, "field \"token_env\": variable "
			      "\"CHECK_SECRET_EMPTY\" is not set");
	ck_assert_int_eq(get("token_env", "", &secret, err), -EINVAL);
	ck_assert_msg(strstr(err, "field \"token_env\"") != NULL, "%s", err);
}
END_TEST

START_TEST(from_file_without_trailing_newlines)
{
	char err[256] = "", *secret = NULL;
	const char *path = plant("tok", "line one\nsecret-x\r\n\n", 0600);
	ck_assert_int_eq(get("token_file", path, &secret, err), 0);
	ck_assert_str_eq(secret, "line one\nsecret-x");
	secret_free(secret);
	path = plant("ro", "abc", 0400);
	ck_assert_int_eq(secret_read_file(path, &secret, err, sizeof(err)), 0);
	ck_assert_str_eq(secret, "abc");
	secret_free(secret);
}
END_TEST

START_TEST(group_or_world_access_is_refused)
{
	char err[256] = "", *secret = NULL;
	const mode_t modes[] = {0644, 0640, 0604, 0620, 0601};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const char *path = plant("open", "SEKRIT\n", modes[i]);
		ck_assert_int_eq(get("token_file", path, &secret, err),
				 -EACCES);
		ck_assert_ptr_null(secret);
		char want[256];
		snprintf(want, sizeof(want),
			 "field \"token_file\": \"%s\" is readable by group "
			 "or others (chmod 600)",
			 path);
		ck_assert_str_eq(err, want);
		ck_assert_ptr_null(strstr(err, "SEKRIT"));
	}
}
END_TEST

START_TEST(missing_or_unfit_files)
{
	char err[256] = "", *secret = NULL;
	char path[128];
	snprintf(path, sizeof(path), "%s/none", dir);
	ck_assert_int_eq(get("token_file", path, &secret, err), -EINVAL);
	ck_assert_msg(strstr(err, "field \"token_file\": cannot open") != NULL,
		      "%s", err);
	ck_assert_msg(strstr(err, "no such file") != NULL, "%s", err);
	ck_assert_int_eq(secret_read_file(path, &secret, err, sizeof(err)),
			 -ENOENT);
	ck_assert_int_eq(get("token_file", dir, &secret, err), -EINVAL);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	const char *empty = plant("empty", "\n", 0600);
	ck_assert_int_eq(get("token_file", empty, &secret, err), -EINVAL);
	ck_assert_msg(strstr(err, "is empty") != NULL, "%s", err);
	ck_assert_ptr_null(secret);
}
END_TEST

START_TEST(neither_or_both_fields)
{
	char err[256] = "", *secret = NULL;
	json_t *fields = json_pack("{s:s}", "kind", "x");
	ck_assert_int_eq(secret_get(fields, "token", &secret, err, sizeof(err)),
			 -ENOENT);
	json_decref(fields);
	fields =
	    json_pack("{s:s,s:s}", "password_env", "A", "password_file", "/b");
	ck_assert_int_eq(
	    secret_get(fields, "password", &secret, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "\"password_env\" and \"password_file\"") !=
			  NULL,
		      "%s", err);
	json_decref(fields);
	fields = json_pack("{s:i}", "token_env", 3);
	ck_assert_int_eq(secret_get(fields, "token", &secret, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_null(secret);
	json_decref(fields);
	secret_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("secret");
	tcase_add_checked_fixture(tc, dir_up, dir_down);
	tcase_add_test(tc, from_env);
	tcase_add_test(tc, env_unset_or_empty);
	tcase_add_test(tc, from_file_without_trailing_newlines);
	tcase_add_test(tc, group_or_world_access_is_refused);
	tcase_add_test(tc, missing_or_unfit_files);
	tcase_add_test(tc, neither_or_both_fields);
	suite_add_tcase(s, tc);
	return check_main_run(s);
}
