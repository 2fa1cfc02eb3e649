/*
 * The stepfunctions platform without AWS: the steps and log made from an
 * execution history, the status mapping, AWS error bodies, execution
 * names and ARNs, the execution input and its size limit, and the
 * credentials and region chain (environment, shared files, permissions).
 * Everything that talks to the service is tested against
 * tests/emulators/stepfunctions.py in tests/fs/stepfunctions.test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "stepfunctions_wire.h"

static char tmpdir[] = "/tmp/check_sfn.XXXXXX";

static const char *const aws_vars[] = {"AWS_ACCESS_KEY_ID",
				       "AWS_SECRET_ACCESS_KEY",
				       "AWS_SESSION_TOKEN",
				       "AWS_PROFILE",
				       "AWS_REGION",
				       "AWS_DEFAULT_REGION",
				       "AWS_SHARED_CREDENTIALS_FILE",
				       "AWS_CONFIG_FILE",
				       NULL};

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	for (size_t i = 0; aws_vars[i]; i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", tmpdir, 1); /* no ~/.aws of the user running tests */
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes @text to tmpdir/@name with @mode; the path in a static buffer. */
static const char *put(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);
	ck_assert_msg(doc != NULL, "bad test JSON: %s", e.text);
	return doc;
}

/* ---- steps ---- */

#define ENTER(T, N)                                                            \
	"{\"type\": \"" T "StateEntered\", \"timestamp\": %d, "                \
	"\"stateEnteredEventDetails\": {\"name\": \"" N "\"}}"
#define EXIT(T, N)                                                             \
	"{\"type\": \"" T "StateExited\", \"timestamp\": %d, "                 \
	"\"stateExitedEventDetails\": {\"name\": \"" N "\"}}"

static json_t *steps_of(const char *events)
{
	json_t *doc = load(events), *steps = NULL;
	ck_assert_int_eq(sfn_wire_steps(doc, &steps), 0);
	json_decref(doc);
	return steps;
}

/* Step @i is "@name @state @started @ended [@message]". */
static void step_is(const json_t *steps, size_t i, const char *want)
{
	const json_t *s = json_array_get(steps, i);
	const char *msg = json_string_value(json_object_get(s, "message"));
	char got[400];
	snprintf(got, sizeof(got), "%s %s %g %g%s%s",
		 json_string_value(json_object_get(s, "name")),
		 json_string_value(json_object_get(s, "state")),
		 json_number_value(json_object_get(s, "started")),
		 json_number_value(json_object_get(s, "ended")), msg ? " " : "",
		 msg ? msg : "");
	ck_assert_str_eq(got, want);
}

START_TEST(steps_of_a_success_with_a_retry)
{
	char text[2048];
	snprintf(
	    text, sizeof(text),
	    "[{\"type\": \"ExecutionStarted\", \"timestamp\": 1}," ENTER("Pass", "Prepare") "," EXIT(
		"Pass",
		"Prepare") "," ENTER("Task",
				     "Load") ","
					     "{\"type\": \"TaskFailed\", "
					     "\"timestamp\": 5,"
					     " \"taskFailedEventDetails\": "
					     "{\"error\": \"Lambda.Timeout\"}},"
					     "{\"type\": \"TaskSucceeded\", "
					     "\"timestamp\": 6,"
					     " \"taskSucceededEventDetails\": "
					     "{}}," EXIT("Task", "Load") "," ENTER(
						 "Pass",
						 "Prepare") "," EXIT("Pass",
								     "Prepare") ","
										"{\"type\": \"ExecutionSucceeded\", \"timestamp\": 9}]",
	    2, 3, 4, 7, 8, 9);
	json_t *steps = steps_of(text);
	ck_assert_int_eq(json_array_size(steps), 3);
	step_is(steps, 0, "Prepare SUCCEEDED 2 3");
	step_is(steps, 1, "Load SUCCEEDED 4 7");
	step_is(steps, 2, "Prepare#2 SUCCEEDED 8 9");
	json_decref(steps);
}
END_TEST

START_TEST(steps_of_a_failure)
{
	char text[2048];
	snprintf(
	    text, sizeof(text),
	    "[" ENTER(
		"Task",
		"Load") ","
			"{\"type\": \"LambdaFunctionFailed\", \"timestamp\": 3,"
			" \"lambdaFunctionFailedEventDetails\": {\"error\": "
			"\"E\","
			" \"cause\": \"bad\\nrow\"}}," EXIT(
			    "Task",
			    "Load") "," ENTER("Fail",
					      "Give up") ","
							 "{\"type\": "
							 "\"ExecutionFailed\", "
							 "\"timestamp\": 6,"
							 " \"executionFailedEve"
							 "ntDetails\": "
							 "{\"error\": "
							 "\"Final\","
							 " \"cause\": \"gave "
							 "up\"}}]",
	    2, 4, 5);
	json_t *steps = steps_of(text);
	ck_assert_int_eq(json_array_size(steps), 2);
	/* caught: the state exited, but its task failed */
	step_is(steps, 0, "Load FAILED 2 4 E: bad?row");
	step_is(steps, 1, "Give up FAILED 5 6 Final: gave up");
	json_decref(steps);
}
END_TEST

START_TEST(steps_of_a_stop_and_of_parallel_branches)
{
	char text[2048];
	snprintf(
	    text, sizeof(text),
	    "[" ENTER("Map", "Each") "," ENTER("Task", "Item") "," ENTER(
		"Task",
		"Item") "," EXIT("Task",
				 "Item") ","
					 "{\"type\": \"ExecutionAborted\", "
					 "\"timestamp\": 9,"
					 " \"executionAbortedEventDetails\": "
					 "{\"cause\": \"stop\"}}]",
	    1, 2, 3, 4);
	json_t *steps = steps_of(text);
	ck_assert_int_eq(json_array_size(steps), 3);
	step_is(steps, 0, "Each CANCELLED 1 9 stop");
	step_is(steps, 1, "Item SUCCEEDED 2 4"); /* the oldest open one */
	step_is(steps, 2, "Item#2 CANCELLED 3 9 stop");
	json_decref(steps);
}
END_TEST

START_TEST(steps_while_running_and_log)
{
	char text[1024];
	snprintf(
	    text, sizeof(text),
	    "[{\"type\": \"ExecutionStarted\", \"timestamp\": 0}," ENTER(
		"Task", "Load") ","
				"{\"type\": \"TaskFailed\", \"timestamp\": 60,"
				" \"taskFailedEventDetails\": {\"error\": "
				"\"E\", \"cause\": "
				"\"c\"}}]",
	    30);
	json_t *steps = steps_of(text);
	ck_assert_int_eq(json_array_size(steps), 1);
	step_is(steps, 0, "Load RUNNING 30 0");
	json_decref(steps);
	json_t *events = load(text);
	char *log = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&log, &len);
	sfn_wire_log(events, f);
	fclose(f);
	ck_assert_str_eq(log, "- ExecutionStarted\n" /* no time */
			      "1970-01-01T00:00:30Z TaskStateEntered Load\n"
			      "1970-01-01T00:01:00Z TaskFailed E: c\n");
	free(log);
	json_decref(events);
}
END_TEST

/* ---- status and errors ---- */

static void status_is(const char *exec, enum run_state state, const char *error)
{
	json_t *doc = load(exec);
	struct run_status st = {0};
	struct call c = {0};
	ck_assert_int_eq(sfn_wire_status(&c, doc, &st), 0);
	ck_assert_str_eq(state_name(st.state), state_name(state));
	if (error)
		ck_assert_str_eq(st.error, error);
	else
		ck_assert_ptr_null(st.error);
	ck_assert_int_eq(st.exit_code, -1);
	free(st.error);
	json_decref(doc);
}

START_TEST(statuses)
{
	status_is("{\"status\": \"RUNNING\", \"startDate\": 5.5}", RUN_RUNNING,
		  NULL);
	status_is("{\"status\": \"PENDING_REDRIVE\"}", RUN_RUNNING, NULL);
	status_is("{\"status\": \"SUCCEEDED\", \"output\": \"{}\"}",
		  RUN_SUCCEEDED, NULL);
	status_is("{\"status\": \"FAILED\", \"error\": \"E\", \"cause\": "
		  "\"why\"}",
		  RUN_FAILED, "E: why");
	status_is("{\"status\": \"FAILED\", \"cause\": \"why\"}", RUN_FAILED,
		  "why");
	status_is("{\"status\": \"TIMED_OUT\"}", RUN_FAILED,
		  "execution TIMED_OUT");
	status_is("{\"status\": \"ABORTED\", \"cause\": \"x\"}", RUN_CANCELLED,
		  NULL);
	status_is("{\"status\": \"NEW_ONE\"}", RUN_QUEUED, NULL);
	json_t *doc = load("{\"status\": \"FAILED\", \"startDate\": 1.5, "
			   "\"stopDate\": 3}");
	struct run_status st = {0};
	struct call c = {0};
	ck_assert_int_eq(sfn_wire_status(&c, doc, &st), 0);
	ck_assert(st.started_at == 1.5 && st.ended_at == 3);
	ck_assert_str_eq(st.platform_state, "FAILED");
	free(st.error);
	json_decref(doc);
	doc = load("{\"name\": \"x\"}");
	ck_assert_int_eq(sfn_wire_status(&c, doc, &st), -EPROTO);
	json_decref(doc);
}
END_TEST

START_TEST(error_bodies)
{
	const char *gone = "{\"__type\": \"com.amazonaws.swf.service.v2.model#"
			   "ExecutionDoesNotExist\", \"message\": \"nope\"}";
	const char *slow = "{\"__type\": \"com.amazon.coral.availability#"
			   "ThrottlingException\", \"message\": \"Rate "
			   "exceeded\"}";
	const char *sig = "{\"__type\": \"InvalidSignatureException\", "
			  "\"Message\": \"bad\"}";
	char out[128];
	ck_assert_int_eq(
	    sfn_wire_error_text(gone, strlen(gone), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "ExecutionDoesNotExist: nope");
	ck_assert_int_eq(
	    sfn_wire_error_text(sig, strlen(sig), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "InvalidSignatureException: bad");
	ck_assert_int_eq(
	    sfn_wire_error_text("{\"message\": \"x\"}", 16, out, sizeof(out)),
	    -ENOENT);
	ck_assert_int_eq(sfn_wire_error_text("<html>", 6, out, sizeof(out)),
			 -ENOENT);
	ck_assert(sfn_wire_is_throttled(400, slow, strlen(slow)));
	ck_assert(!sfn_wire_is_throttled(400, gone, strlen(gone)));
	ck_assert_int_eq(sfn_wire_error_errno(-EINVAL, gone, strlen(gone)),
			 -ENOENT);
	ck_assert_int_eq(sfn_wire_error_errno(-EINVAL, slow, strlen(slow)),
			 -EAGAIN);
	ck_assert_int_eq(sfn_wire_error_errno(-EINVAL, sig, strlen(sig)),
			 -EACCES);
	ck_assert_int_eq(sfn_wire_error_errno(-EIO, "oops", 4), -EIO);
}
END_TEST

/* ---- names, ARNs, input ---- */

START_TEST(names_and_arns)
{
	char name[SFN_WIRE_NAME_MAX + 1], long_key[200];
	sfn_wire_exec_name("imp.12", 1, "0a1b2c3d", name);
	ck_assert_str_eq(name, "imp.12@0a1b2c3d");
	sfn_wire_exec_name("imp.12", 3, "0a1b2c3d", name);
	ck_assert_str_eq(name, "imp.12.a3@0a1b2c3d");
	memset(long_key, 'j', 130);
	snprintf(long_key + 130, sizeof(long_key) - 130, ".7");
	sfn_wire_exec_name(long_key, 1, "0a1b2c3d", name);
	ck_assert_uint_eq(strlen(name), SFN_WIRE_NAME_MAX);
	char again[SFN_WIRE_NAME_MAX + 1];
	long_key[0] = 'k'; /* another key: another hash */
	sfn_wire_exec_name(long_key, 1, "0a1b2c3d", again);
	ck_assert_str_ne(name, again);
	ck_assert_str_eq(name + SFN_WIRE_NAME_MAX - 9, "@0a1b2c3d");

	struct sfn_wire_arn m;
	struct call c = {0};
	ck_assert_int_eq(
	    sfn_wire_machine_arn(
		&c, "arn:aws:states:eu-west-1:123456789012:stateMachine:etl",
		&m),
	    0);
	ck_assert_str_eq(m.region, "eu-west-1");
	char *arn = sfn_wire_exec_arn(&m, name);
	ck_assert_ptr_nonnull(strstr(arn, ":execution:etl:"));
	char *back = sfn_wire_machine_of(arn);
	ck_assert_str_eq(
	    back, "arn:aws:states:eu-west-1:123456789012:stateMachine:etl");
	free(arn);
	free(back);
	ck_assert_int_eq(
	    sfn_wire_machine_arn(
		&c, "arn:aws:states:eu-west-1:123456789012:stateMachine:etl:3",
		&m),
	    0);
	ck_assert_int_eq(
	    sfn_wire_machine_arn(
		&c, "arn:aws:lambda:eu-west-1:123456789012:function:etl", &m),
	    -EINVAL);
	ck_assert_ptr_nonnull(strstr(c.err, "is not a state machine ARN"));
	ck_assert_int_eq(sfn_wire_machine_arn(&c, "arn", &m), -EINVAL);
	ck_assert_ptr_null(sfn_wire_machine_of("arn:aws:states:x"));
}
END_TEST

static const char *const machine =
    "arn:aws:states:us-east-1:123456789012:stateMachine:jobs";

START_TEST(input_and_validate)
{
	json_t *conf = json_pack("{s:s, s:{s:i}}", "state_machine_arn", machine,
				 "input", "day", 3);
	json_t *args = json_pack("[s]", "x"), *env = json_object();
	struct run_spec run = {.run_key = "j.1",
			       .args = args,
			       .env = env,
			       .conf = conf,
			       .attempt = 1};
	struct call c = {0};
	char *input = NULL;
	ck_assert_int_eq(sfn_wire_input(&c, &run, &input), 0);
	ck_assert_str_eq(input, "{\"day\":3,\"args\":[\"x\"]}");
	free(input);
	ck_assert_int_eq(sfn_wire_validate(&c, &run), 0);
	json_object_set_new(json_object_get(conf, "input"), "args",
			    json_array());
	ck_assert_int_eq(sfn_wire_input(&c, &run, &input), -EINVAL);
	ck_assert_ptr_nonnull(strstr(c.err, "give only one"));
	char *big = malloc(SFN_WIRE_INPUT_MAX + 1);
	memset(big, 'b', SFN_WIRE_INPUT_MAX);
	big[SFN_WIRE_INPUT_MAX - 20] = '\0'; /* fits, with {"big":""} */
	json_object_set_new(conf, "input", json_pack("{s:s}", "big", big));
	run.args = NULL;
	ck_assert_int_eq(sfn_wire_input(&c, &run, &input), 0);
	free(input);
	big[SFN_WIRE_INPUT_MAX - 20] = 'b';
	json_object_set_new(conf, "input", json_pack("{s:s}", "big", big));
	ck_assert_int_eq(sfn_wire_validate(&c, &run), -EINVAL);
	ck_assert_ptr_nonnull(strstr(c.err, "more than the 262144"));
	free(big);
	run.bundle_dir = "/tmp";
	ck_assert_int_eq(sfn_wire_validate(&c, &run), -EINVAL);
	ck_assert_ptr_nonnull(strstr(c.err, "not a bundle"));
	json_decref(conf);
	json_decref(args);
	json_decref(env);
}
END_TEST

/* ---- credentials and region ---- */

START_TEST(credentials_from_the_environment)
{
	struct sfn_wire_creds cr;
	char err[256];
	ck_assert_int_eq(sfn_wire_creds_load(NULL, &cr, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "no AWS credentials"));
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	ck_assert_int_eq(sfn_wire_creds_load(NULL, &cr, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "AWS_ACCESS_KEY_ID is set but "
			      "AWS_SECRET_ACCESS_KEY is not");
	setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t", 1);
	setenv("AWS_SESSION_TOKEN", "tok", 1);
	ck_assert_int_eq(sfn_wire_creds_load(NULL, &cr, err, sizeof(err)), 0);
	ck_assert_str_eq(cr.key_id, "AKID");
	ck_assert_str_eq(cr.secret, "s3cr3t");
	ck_assert_str_eq(cr.token, "tok");
	sfn_wire_creds_release(&cr);
}
END_TEST

START_TEST(credentials_from_a_profile)
{
	const char *text = "# keys\n[default]\naws_access_key_id = D\n"
			   "aws_secret_access_key = dsecret\n\n"
			   "[ ci ]\n  aws_access_key_id=C \n"
			   "aws_secret_access_key = c=secret\n"
			   "aws_session_token = ctok\n";
	const char *path = put("creds", text, 0600);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_ACCESS_KEY_ID", "ENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	struct sfn_wire_creds cr;
	char err[256];
	/* a profile named in the config beats the environment */
	ck_assert_int_eq(sfn_wire_creds_load("ci", &cr, err, sizeof(err)), 0);
	ck_assert_str_eq(cr.key_id, "C");
	ck_assert_str_eq(cr.secret, "c=secret");
	ck_assert_str_eq(cr.token, "ctok");
	sfn_wire_creds_release(&cr);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	ck_assert_int_eq(sfn_wire_creds_load(NULL, &cr, err, sizeof(err)), 0);
	ck_assert_str_eq(cr.key_id, "D");
	ck_assert_ptr_null(cr.token);
	sfn_wire_creds_release(&cr);
	setenv("AWS_PROFILE", "missing", 1);
	ck_assert_int_eq(sfn_wire_creds_load(NULL, &cr, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "for profile \"missing\""));
	chmod(path, 0640);
	ck_assert_int_eq(sfn_wire_creds_load("ci", &cr, err, sizeof(err)),
			 -EACCES);
	ck_assert_ptr_nonnull(strstr(err, "readable by group or others"));
	ck_assert_ptr_null(strstr(err, "secret"));
}
END_TEST

START_TEST(region_chain)
{
	char *region = NULL, err[256];
	ck_assert_int_eq(sfn_wire_region(NULL, NULL, &region, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no AWS region"));
	const char *path = put("config",
			       "[default]\nregion = eu-north-1\n"
			       "[profile ci]\nregion = ap-south-1\n"
			       "[ci]\nregion = not-this\n",
			       0644);
	setenv("AWS_CONFIG_FILE", path, 1);
	ck_assert_int_eq(sfn_wire_region(NULL, NULL, &region, err, sizeof(err)),
			 0);
	ck_assert_str_eq(region, "eu-north-1");
	free(region);
	ck_assert_int_eq(sfn_wire_region(NULL, "ci", &region, err, sizeof(err)),
			 0);
	ck_assert_str_eq(region, "ap-south-1");
	free(region);
	setenv("AWS_REGION", "us-west-2", 1);
	ck_assert_int_eq(sfn_wire_region(NULL, "ci", &region, err, sizeof(err)),
			 0);
	ck_assert_str_eq(region, "us-west-2");
	free(region);
	ck_assert_int_eq(
	    sfn_wire_region("eu-west-3", NULL, &region, err, sizeof(err)), 0);
	ck_assert_str_eq(region, "eu-west-3");
	free(region);
	ck_assert_int_eq(
	    sfn_wire_region("EU WEST", NULL, &region, err, sizeof(err)),
	    -EINVAL);
	ck_assert_str_eq(err, "invalid AWS region \"EU WEST\"");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stepfunctions");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, steps_of_a_success_with_a_retry);
	tcase_add_test(pure, steps_of_a_failure);
	tcase_add_test(pure, steps_of_a_stop_and_of_parallel_branches);
	tcase_add_test(pure, steps_while_running_and_log);
	tcase_add_test(pure, statuses);
	tcase_add_test(pure, error_bodies);
	tcase_add_test(pure, names_and_arns);
	tcase_add_test(pure, input_and_validate);
	suite_add_tcase(s, pure);
	TCase *creds = tcase_create("credentials");
	tcase_add_checked_fixture(creds, setup, teardown);
	tcase_add_test(creds, credentials_from_the_environment);
	tcase_add_test(creds, credentials_from_a_profile);
	tcase_add_test(creds, region_chain);
	suite_add_tcase(s, creds);
	return check_main_run(s);
}
