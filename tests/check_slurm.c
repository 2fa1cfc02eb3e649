/*
 * The Slurm platform without a cluster: state and exit code mapping,
 * script quoting (run through sh), config checks in open, job checks in
 * validate, and ops refusing ids that are not Slurm job ids. Everything
 * that talks to slurmrestd is tested against a real one in
 * tests/fs/slurm.test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check_main.h"
#include "platform_ops.h"
#include "slurm.h"
#include "slurm_wire.h"

#define JWT_HEAD "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
/* {"exp":1797965382,"iat":1795373382,"sun":"alice"} */
#define JWT_ALICE                                                              \
	JWT_HEAD                                                               \
	".eyJleHAiOjE3OTc5NjUzODIsImlhdCI6MTc5NTM3MzM4Miwic3VuIjoiYWxp"        \
	"Y2UifQ.c2lnbmF0dXJl"
/* {"exp":1797965382,"iat":1795373382}: no user */
#define JWT_NOBODY                                                             \
	JWT_HEAD ".eyJleHAiOjE3OTc5NjUzODIsImlhdCI6MTc5NTM3MzM4Mn0."           \
		 "c2lnbmF0dXJl"

static char tmpdir[] = "/tmp/check_slurm.XXXXXX";
static char bundle[64];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(bundle, sizeof(bundle), "%s/app", tmpdir);
	ck_assert_int_eq(mkdir(bundle, 0755), 0);
	const char *files[][2] = {{"job.sh", "echo hi\n"},
				  {"data.txt", "just data\n"},
				  {"tool", "binary\n"},
				  {"run-me", "#!/bin/sh\necho shebang\n"}};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", bundle, files[i][0]);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(files[i][1], f);
		fclose(f);
	}
	char tool[128];
	snprintf(tool, sizeof(tool), "%s/tool", bundle);
	ck_assert_int_eq(chmod(tool, 0755), 0);
	setenv("CHECK_SLURM_JWT", JWT_ALICE, 1);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

/* ---- states ---- */

static int map(const char *text, enum run_state *state, char *name, size_t len)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	ck_assert_ptr_nonnull(v);
	int rc = slurm_wire_map_state(v, state, name, len);
	json_decref(v);
	return rc;
}

START_TEST(state_strings)
{
	static const struct {
		const char *name;
		enum run_state state;
	} cases[] = {
	    {"PENDING", RUN_QUEUED},	   {"REQUEUED", RUN_QUEUED},
	    {"RUNNING", RUN_RUNNING},	   {"COMPLETING", RUN_RUNNING},
	    {"CONFIGURING", RUN_RUNNING},  {"SUSPENDED", RUN_RUNNING},
	    {"COMPLETED", RUN_SUCCEEDED},  {"FAILED", RUN_FAILED},
	    {"TIMEOUT", RUN_FAILED},	   {"NODE_FAIL", RUN_FAILED},
	    {"OUT_OF_MEMORY", RUN_FAILED}, {"BOOT_FAIL", RUN_FAILED},
	    {"DEADLINE", RUN_FAILED},	   {"PREEMPTED", RUN_FAILED},
	    {"CANCELLED", RUN_CANCELLED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[64], name[64];
		enum run_state state = RUN_LOST;
		snprintf(text, sizeof(text), "\"%s\"", cases[i].name);
		ck_assert_int_eq(map(text, &state, name, sizeof(name)), 0);
		ck_assert_int_eq(state, cases[i].state);
		ck_assert_str_eq(name, cases[i].name);
	}
}
END_TEST

START_TEST(state_arrays)
{
	char name[64];
	enum run_state state;
	ck_assert_int_eq(map("[\"RUNNING\"]", &state, name, sizeof(name)), 0);
	ck_assert_int_eq(state, RUN_RUNNING);
	ck_assert_int_eq(
	    map("[\"PENDING\", \"REQUEUED\"]", &state, name, sizeof(name)), 0);
	ck_assert_int_eq(state, RUN_QUEUED);
	ck_assert_str_eq(name, "PENDING,REQUEUED");
	/* a flag wins over the base state, as in v0.0.38's single name */
	ck_assert_int_eq(
	    map("[\"COMPLETED\", \"COMPLETING\"]", &state, name, sizeof(name)),
	    0);
	ck_assert_int_eq(state, RUN_RUNNING);
	/* unknown (newer) flags are ignored when a known state is there */
	ck_assert_int_eq(
	    map("[\"FAILED\", \"NEW_FLAG\"]", &state, name, sizeof(name)), 0);
	ck_assert_int_eq(state, RUN_FAILED);
	ck_assert_int_eq(map("[\"CANCELLED\"]", &state, name, sizeof(name)), 0);
	ck_assert_int_eq(state, RUN_CANCELLED);
}
END_TEST

START_TEST(state_unknown)
{
	char name[8];
	enum run_state state;
	ck_assert_int_eq(map("\"WEIRD\"", &state, name, sizeof(name)), -EPROTO);
	ck_assert_str_eq(name, "WEIRD");
	ck_assert_int_eq(map("[\"NEW_FLAG\"]", &state, name, sizeof(name)),
			 -EPROTO);
	ck_assert_int_eq(map("[]", &state, name, sizeof(name)), -EPROTO);
	ck_assert_int_eq(map("null", &state, name, sizeof(name)), -EPROTO);
	ck_assert_int_eq(map("3", &state, name, sizeof(name)), -EPROTO);
	/* a name longer than the buffer is cut, never overflows */
	ck_assert_int_eq(
	    map("[\"PENDING\", \"REQUEUE_HOLD\"]", &state, name, sizeof(name)),
	    0);
	ck_assert_int_eq(state, RUN_QUEUED);
	ck_assert_uint_lt(strlen(name), sizeof(name));
}
END_TEST

/* ---- exit codes ---- */

static int exit_code(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	ck_assert_ptr_nonnull(v);
	int code = slurm_wire_exit_code(v);
	json_decref(v);
	return code;
}

START_TEST(exit_codes_raw)
{
	ck_assert_int_eq(exit_code("0"), 0);
	ck_assert_int_eq(exit_code("256"), 1);
	ck_assert_int_eq(exit_code("768"), 3);
	ck_assert_int_eq(exit_code("65280"), 255);
	ck_assert_int_eq(exit_code("15"), 143); /* SIGTERM */
	ck_assert_int_eq(exit_code("9"), 137);
	ck_assert_int_eq(exit_code("139"), 139); /* SIGSEGV + core dumped */
	ck_assert_int_eq(exit_code("127"), -1);	 /* 0x7f: stopped */
	ck_assert_int_eq(exit_code("-1"), -1);
	ck_assert_int_eq(exit_code("65536"), -1);
	ck_assert_int_eq(exit_code("\"3\""), -1);
	ck_assert_int_eq(exit_code("null"), -1);
}
END_TEST

START_TEST(exit_codes_v40)
{
	ck_assert_int_eq(
	    exit_code("{\"status\": [\"EXITED\"], \"return_code\": {\"set\": "
		      "true, \"infinite\": false, \"number\": 3}, \"signal\": "
		      "{\"id\": {\"set\": false, \"infinite\": false, "
		      "\"number\": 0}, \"name\": \"\"}}"),
	    3);
	ck_assert_int_eq(
	    exit_code("{\"status\": [\"SIGNALED\"], \"return_code\": {\"set\": "
		      "true, \"number\": 0}, \"signal\": {\"id\": {\"set\": "
		      "true, \"number\": 15}, \"name\": \"TERM\"}}"),
	    143);
	ck_assert_int_eq(exit_code("{\"return_code\": 4}"), 4);
	ck_assert_int_eq(
	    exit_code("{\"return_code\": {\"set\": false, \"number\": 0}}"),
	    -1);
	ck_assert_int_eq(exit_code("{}"), -1);
}
END_TEST

/* ---- error answers ---- */

START_TEST(error_bodies)
{
	const char *body = "{\"errors\":[{\"error\":\"slurmdbd down\","
			   "\"error_number\":7}]}";
	char text[64];
	ck_assert_int_eq(
	    slurm_wire_error_text(body, strlen(body), text, sizeof(text)), 0);
	ck_assert_str_eq(text, "slurmdbd down");
	const char *other = "{\"message\":\"x\"}";
	ck_assert_int_eq(
	    slurm_wire_error_text(other, strlen(other), text, sizeof(text)),
	    -ENOENT);
	ck_assert_int_eq(slurm_wire_error_text("<html>", 6, text, sizeof(text)),
			 -ENOENT);

	struct call c = {0};
	struct slurm_reply r = {.status = 500,
				.json = json_loads(body, 0, NULL)};
	ck_assert_int_eq(slurm_wire_reply_errno(&c, "/jobs", &r), -EIO);
	ck_assert_int_eq(r.code, 7);
	ck_assert_str_eq(c.err, "HTTP 500: slurmdbd down (error 7)");
	slurm_wire_reply_release(&r);
}
END_TEST

/* ---- the batch script ---- */

START_TEST(script_text)
{
	const char *argv[] = {"sh", "it's.sh", NULL};
	char *script = NULL;
	ck_assert_int_eq(slurm_wire_script("/d x", argv, &script), 0);
	ck_assert_str_eq(script, "#!/bin/sh\ncd '/d x' || exit 1\n"
				 "exec 'sh' 'it'\\''s.sh'\n");
	free(script);
}
END_TEST

/* Runs the script with sh: every argument must arrive unchanged. */
START_TEST(script_quoting_survives_sh)
{
	const char *argv[] = {"printf", "[%s]",	       "a b",	    "it's",
			      "$HOME",	"`id`",	       "$(id)",	    "*",
			      "",	"back\\slash", "new\nline", "'",
			      "\"",	";exit 7",     NULL};
	char *script = NULL, path[128], out[256] = "";
	ck_assert_int_eq(slurm_wire_script(tmpdir, argv, &script), 0);
	snprintf(path, sizeof(path), "sh %s/script", tmpdir);
	FILE *f = fopen(path + 3, "w");
	ck_assert_ptr_nonnull(f);
	fputs(script, f);
	fclose(f);
	free(script);
	FILE *p = popen(path, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_str_eq(out, "[a b][it's][$HOME][`id`][$(id)][*][]"
			      "[back\\slash][new\nline]['][\"][;exit 7]");
}
END_TEST

/* ---- open ---- */

static int open_with(const char *fields_text, struct platform **p, char *err,
		     size_t len)
{
	json_error_t jerr;
	json_t *fields = json_loads(fields_text, 0, &jerr);
	ck_assert_msg(fields != NULL, "bad test JSON: %s", jerr.text);
	struct platform_env env = {
	    .name = "hpc", .state_dir = tmpdir, .fields = fields};
	err[0] = '\0';
	*p = NULL;
	int rc = slurm_platform.open(&env, p, err, len);
	json_decref(fields);
	return rc;
}

/* A config whose @extra fields are added to a working one. */
static int open_extra(const char *extra, struct platform **p, char *err,
		      size_t len)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"kind\": \"slurm\", \"url\": \"http://127.0.0.1:1\", "
		 "\"token_env\": \"CHECK_SLURM_JWT\", \"shared_dir\": \"%s\", "
		 "\"connect_timeout\": 1, \"retries\": 0%s%s}",
		 tmpdir, *extra ? ", " : "", extra);
	return open_with(text, p, err, len);
}

static void assert_refused(const char *fields_text, const char *reason)
{
	struct platform *p;
	char err[512];
	ck_assert_int_eq(open_with(fields_text, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, reason), "\"%s\" not in \"%s\"", reason, err);
	ck_assert_ptr_null(strstr(err, JWT_ALICE));
}

static void assert_extra_refused(const char *extra, const char *reason)
{
	struct platform *p;
	char err[512];
	ck_assert_int_eq(open_extra(extra, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, reason), "\"%s\" not in \"%s\"", reason, err);
	ck_assert_ptr_null(strstr(err, JWT_ALICE));
}

START_TEST(open_works)
{
	struct platform *p;
	char err[512];
	ck_assert_int_eq(open_extra("\"partition\": \"debug\", \"time_limit\": "
				    "10, \"api_version\": \"v0.0.40\"",
				    &p, err, sizeof(err)),
			 0);
	ck_assert_ptr_nonnull(p);
	slurm_platform.close(p);
	/* an explicit user needs no "sun" claim */
	setenv("CHECK_SLURM_JWT", JWT_NOBODY, 1);
	ck_assert_int_eq(open_extra("\"user\": \"bob\"", &p, err, sizeof(err)),
			 0);
	slurm_platform.close(p);
}
END_TEST

START_TEST(open_refuses_bad_fields)
{
	assert_extra_refused("\"tokn_env\": \"X\"",
			     "unknown field \"tokn_env\"");
	assert_extra_refused("\"api_version\": \"0.0.38\"",
			     "invalid field \"api_version\"");
	assert_extra_refused("\"api_version\": \"v0.0.\"",
			     "invalid field \"api_version\"");
	assert_extra_refused("\"time_limit\": 0",
			     "invalid field \"time_limit\"");
	assert_extra_refused("\"time_limit\": \"60\"",
			     "invalid field \"time_limit\"");
	assert_extra_refused("\"partition\": \"\"",
			     "invalid field \"partition\"");
	assert_extra_refused("\"user\": \"a\\nb\"", "invalid field \"user\"");
	assert_refused(
	    "{\"kind\": \"slurm\", \"token_env\": \"CHECK_SLURM_JWT\"}",
	    "missing field \"url\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"ftp://x\"}",
		       "invalid field \"url\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"http://x\"}",
		       "missing field \"token_env\" or \"token_file\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"http://x\", "
		       "\"token_env\": \"CHECK_SLURM_JWT\"}",
		       "missing field \"shared_dir\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"http://x\", "
		       "\"token_env\": \"CHECK_SLURM_JWT\", \"shared_dir\": "
		       "\"rel/dir\"}",
		       "invalid field \"shared_dir\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"http://x\", "
		       "\"token_env\": \"CHECK_SLURM_JWT\", \"shared_dir\": "
		       "\"/tmp/%j\"}",
		       "invalid field \"shared_dir\"");
	assert_refused("{\"kind\": \"slurm\", \"url\": \"http://x\", "
		       "\"token_env\": \"CHECK_SLURM_JWT\", \"shared_dir\": "
		       "\"/nonexistent/dir\"}",
		       "is not a directory");
}
END_TEST

START_TEST(open_needs_a_user)
{
	setenv("CHECK_SLURM_JWT", JWT_NOBODY, 1);
	assert_extra_refused("", "missing field \"user\"");
	setenv("CHECK_SLURM_JWT", "not-a-jwt", 1);
	assert_extra_refused("", "missing field \"user\"");
	setenv("CHECK_SLURM_JWT", JWT_ALICE "\nX-Evil: 1", 1);
	assert_extra_refused("", "control characters");
	setenv("CHECK_SLURM_JWT", "", 1);
	assert_extra_refused("", "token");
}
END_TEST

/* ---- validate and the ops ---- */

static struct platform *open_ok(void)
{
	struct platform *p;
	char err[512];
	ck_assert_int_eq(open_extra("", &p, err, sizeof(err)), 0);
	return p;
}

static int validate(struct platform *p, const char *entry, bool has_bundle,
		    const char *job_text, struct call *c)
{
	json_t *job = json_loads(job_text, 0, NULL);
	ck_assert_ptr_nonnull(job);
	json_t *empty = json_object();
	json_t *args = json_object_get(job, "args");
	json_t *env = json_object_get(job, "env");
	json_t *conf = json_object_get(job, "conf");
	struct run_spec run = {.job_name = "j",
			       .run_key = "j.1",
			       .bundle_dir = has_bundle ? bundle : NULL,
			       .entry_point = entry,
			       .args = args,
			       .env = env ? env : empty,
			       .conf = conf ? conf : empty,
			       .output_dir = tmpdir,
			       .attempt = 1};
	memset(c, 0, sizeof(*c));
	int rc = slurm_platform.validate(p, c, &run);
	json_decref(empty);
	json_decref(job);
	return rc;
}

static void assert_invalid(struct platform *p, const char *entry,
			   bool has_bundle, const char *job, const char *reason)
{
	struct call c;
	ck_assert_int_eq(validate(p, entry, has_bundle, job, &c), -EINVAL);
	ck_assert_msg(strstr(c.err, reason), "\"%s\" not in \"%s\"", reason,
		      c.err);
}

START_TEST(validate_entry_points)
{
	struct platform *p = open_ok();
	struct call c;
	ck_assert_int_eq(validate(p, "job.sh", true, "{}", &c), 0);
	ck_assert_int_eq(validate(p, "tool", true, "{}", &c), 0);
	ck_assert_int_eq(validate(p, "run-me", true, "{}", &c), 0);
	ck_assert_int_eq(validate(p, "/opt/app/x.py", false, "{}", &c), 0);
	assert_invalid(p, "data.txt", true, "{}", "don't know how to run");
	assert_invalid(p, "../job.sh", true, "{}", "outside the bundle");
	assert_invalid(p, "missing.sh", true, "{}", "not found in bundle");
	assert_invalid(p, "x.sh", false, "{}", "not an absolute path");
	assert_invalid(p, NULL, true, "{}", "no entry point");
	slurm_platform.close(p);
}
END_TEST

START_TEST(validate_conf)
{
	struct platform *p = open_ok();
	struct call c;
	ck_assert_int_eq(
	    validate(p, "job.sh", true,
		     "{\"conf\": {\"partition\": \"debug\", \"time_limit\": 5, "
		     "\"cpus_per_task\": 2, \"memory_per_node\": 100, "
		     "\"nodes\": \"1-2\"}}",
		     &c),
	    0);
	ck_assert_int_eq(
	    validate(p, "job.sh", true, "{\"conf\": {\"nodes\": 1}}", &c), 0);
	assert_invalid(p, "job.sh", true, "{\"conf\": {\"partitoin\": \"x\"}}",
		       "unknown conf field \"partitoin\"");
	assert_invalid(p, "job.sh", true,
		       "{\"conf\": {\"cpus_per_task\": \"2\"}}",
		       "invalid conf field \"cpus_per_task\"");
	assert_invalid(p, "job.sh", true, "{\"conf\": {\"time_limit\": 0}}",
		       "invalid conf field \"time_limit\"");
	assert_invalid(p, "job.sh", true, "{\"conf\": {\"nodes\": \"many\"}}",
		       "invalid conf field \"nodes\"");
	assert_invalid(p, "job.sh", true, "{\"conf\": {\"partition\": 3}}",
		       "invalid conf field \"partition\"");
	assert_invalid(p, "job.sh", true, "{\"args\": [1]}", "\"args\"");
	assert_invalid(p, "job.sh", true, "{\"env\": {\"A\": 1}}",
		       "invalid env \"A\"");
	slurm_platform.close(p);
}
END_TEST

/* Ids that are not Slurm job ids never reach the network. */
START_TEST(ops_check_ids)
{
	struct platform *p = open_ok();
	struct call c = {.deadline = 1e18};
	struct run_status st = {.exit_code = -1};
	ck_assert_int_eq(slurm_platform.status(p, &c, "abc", &st), -ENOENT);
	ck_assert_int_eq(slurm_platform.status(p, &c, "0", &st), -ENOENT);
	ck_assert_int_eq(slurm_platform.cancel(p, &c, "12a", "x"), -EINVAL);
	ck_assert_int_eq(slurm_platform.fetch(p, &c, "../1", tmpdir), -EINVAL);
	ck_assert_str_eq(c.err, "invalid job id \"../1\"");
	slurm_platform.close(p);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("slurm");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, state_strings);
	tcase_add_test(pure, state_arrays);
	tcase_add_test(pure, state_unknown);
	tcase_add_test(pure, exit_codes_raw);
	tcase_add_test(pure, exit_codes_v40);
	tcase_add_test(pure, error_bodies);
	tcase_add_test(pure, script_text);
	suite_add_tcase(s, pure);
	TCase *ops = tcase_create("ops");
	tcase_add_checked_fixture(ops, setup, teardown);
	tcase_add_test(ops, script_quoting_survives_sh);
	tcase_add_test(ops, open_works);
	tcase_add_test(ops, open_refuses_bad_fields);
	tcase_add_test(ops, open_needs_a_user);
	tcase_add_test(ops, validate_entry_points);
	tcase_add_test(ops, validate_conf);
	tcase_add_test(ops, ops_check_ids);
	suite_add_tcase(s, ops);
	int rc = check_main_run(s);
	curl_global_cleanup();
	return rc;
}
