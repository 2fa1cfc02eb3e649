/*
 * The databricks platform without a workspace: life_cycle_state and
 * result_state mapping (CANCELED with one L, SKIPPED, INTERNAL_ERROR,
 * values Databricks may add later), the error of a failed run, steps
 * from a run's tasks, error bodies, idempotency tokens, the runs/submit
 * body per entry point, conf checks, and path escaping. Everything that
 * talks to a workspace is tested against tests/emulators/databricks.py in
 * tests/fs/databricks.test.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "databricks_wire.h"
#include "platform_ops.h"

static json_t *parse(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return v;
}

static enum run_state map(const char *life, const char *result,
			  char **error_out)
{
	char text[256];
	snprintf(
	    text, sizeof(text),
	    "{\"run_id\": 7, \"state\": {\"life_cycle_state\": \"%s\"%s%s%s"
	    ", \"state_message\": \"why\"}}",
	    life, result ? ", \"result_state\": \"" : "", result ? result : "",
	    result ? "\"" : "");
	json_t *run = parse(text);
	struct run_status st = {0};
	struct call c = {0};
	ck_assert_int_eq(dbx_wire_status(run, &c, &st), 0);
	json_decref(run);
	if (error_out)
		*error_out = st.error;
	else
		free(st.error);
	return st.state;
}

START_TEST(life_cycle_states)
{
	static const struct {
		const char *life, *result;
		enum run_state want;
	} cases[] = {
	    {"QUEUED", NULL, RUN_QUEUED},
	    {"PENDING", NULL, RUN_QUEUED},
	    {"BLOCKED", NULL, RUN_QUEUED},
	    {"WAITING_FOR_RETRY", NULL, RUN_QUEUED},
	    {"RUNNING", NULL, RUN_RUNNING},
	    {"TERMINATING", NULL, RUN_RUNNING},
	    {"TERMINATED", "SUCCESS", RUN_SUCCEEDED},
	    {"TERMINATED", "SUCCESS_WITH_FAILURES", RUN_SUCCEEDED},
	    {"TERMINATED", "FAILED", RUN_FAILED},
	    {"TERMINATED", "TIMEDOUT", RUN_FAILED},
	    {"TERMINATED", "UPSTREAM_FAILED", RUN_FAILED},
	    {"TERMINATED", "CANCELED", RUN_CANCELLED},
	    {"TERMINATED", "UPSTREAM_CANCELED", RUN_CANCELLED},
	    {"TERMINATED", "MAXIMUM_CONCURRENT_RUNS_REACHED", RUN_CANCELLED},
	    {"TERMINATED", "EXCLUDED", RUN_CANCELLED},
	    {"TERMINATED", "DISABLED", RUN_CANCELLED},
	    {"SKIPPED", NULL, RUN_CANCELLED},
	    {"INTERNAL_ERROR", "FAILED", RUN_FAILED},
	    {"INTERNAL_ERROR", NULL, RUN_FAILED},
	    /* a state Databricks adds later: the run keeps its state */
	    {"HIBERNATING", NULL, RUN_QUEUED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(map(cases[i].life, cases[i].result, NULL) ==
				  cases[i].want,
			      "%s/%s", cases[i].life,
			      cases[i].result ? cases[i].result : "");
}
END_TEST

START_TEST(failure_text)
{
	char *error = NULL;
	ck_assert_int_eq(map("TERMINATED", "FAILED", &error), RUN_FAILED);
	ck_assert_str_eq(error, "run 7 TERMINATED/FAILED: why");
	free(error);
	/* an ended run with a result this code does not know: FAILED, said */
	ck_assert_int_eq(map("TERMINATED", "EVAPORATED", &error), RUN_FAILED);
	ck_assert_str_eq(error, "run 7 ended with result_state EVAPORATED");
	free(error);
	ck_assert_int_eq(map("TERMINATED", "SUCCESS", &error), RUN_SUCCEEDED);
	ck_assert_ptr_null(error);

	json_t *run = parse("{\"run_id\": 9, \"start_time\": 1500, "
			    "\"end_time\": 2500, \"state\": "
			    "{\"life_cycle_state\": \"TERMINATED\", "
			    "\"result_state\": \"FAILED\"}, \"tasks\": [{"
			    "\"state\": {\"state_message\": \"task why\"}}]}");
	struct run_status st = {0};
	struct call c = {0};
	ck_assert_int_eq(dbx_wire_status(run, &c, &st), 0);
	ck_assert_str_eq(st.error, "run 9 TERMINATED/FAILED: task why");
	ck_assert_str_eq(st.platform_state, "TERMINATED/FAILED");
	ck_assert(st.started_at == 1.5 && st.ended_at == 2.5);
	ck_assert_int_eq(st.exit_code, -1);
	free(st.error);
	json_decref(run);

	run = parse("{\"run_id\": 9, \"state\": {}}");
	ck_assert_int_eq(dbx_wire_status(run, &c, &st), -EPROTO);
	json_decref(run);
}
END_TEST

START_TEST(steps_from_tasks)
{
	json_t *run = parse(
	    "{\"tasks\": [{\"task_key\": \"main\", \"run_id\": 11, "
	    "\"start_time\": 1000, \"end_time\": 3000, \"state\": "
	    "{\"life_cycle_state\": \"TERMINATED\", \"result_state\": "
	    "\"CANCELED\", \"state_message\": \"Run cancelled.\"}}, "
	    "{\"task_key\": \"load\", \"attempt_number\": 1, \"start_time\": "
	    "4000, \"end_time\": 0, \"state\": {\"life_cycle_state\": "
	    "\"RUNNING\"}}]}");
	json_t *steps = NULL;
	ck_assert_int_eq(dbx_wire_steps(run, &steps), 0);
	char *text = json_dumps(steps, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_str_eq(
	    text, "[{\"ended\":3.0,\"message\":\"Run cancelled.\",\"name\":"
		  "\"main\",\"started\":1.0,\"state\":\"CANCELLED\"},"
		  "{\"ended\":0.0,\"name\":\"load#2\",\"started\":4.0,"
		  "\"state\":\"RUNNING\"}]");
	free(text);
	long long id;
	struct call c = {0};
	ck_assert_int_eq(dbx_wire_task_run_id(run, &c, &id), 0);
	ck_assert_int_eq(id, 11);
	json_decref(steps);
	json_decref(run);
}
END_TEST

START_TEST(error_bodies)
{
	char out[128];
	const char *body = "{\"error_code\": \"INVALID_PARAMETER_VALUE\", "
			   "\"message\": \"Run 5 does not exist.\"}";
	ck_assert_int_eq(
	    dbx_wire_error_text(body, strlen(body), out, sizeof(out)), 0);
	ck_assert_str_eq(out, "INVALID_PARAMETER_VALUE: Run 5 does not exist.");
	body = "{\"error\": \"invalid_client\"}";
	ck_assert_int_eq(
	    dbx_wire_error_text(body, strlen(body), out, sizeof(out)), -ENOENT);
	body = "<html>502</html>";
	ck_assert_int_eq(
	    dbx_wire_error_text(body, strlen(body), out, sizeof(out)), -ENOENT);
}
END_TEST

START_TEST(tokens)
{
	char buf[DBX_WIRE_TOKEN_MAX + 1];
	struct run_spec run = {.run_key = "etl.42", .attempt = 1};
	dbx_wire_token(&run, "0badf00d", buf, sizeof(buf));
	ck_assert_str_eq(buf, "etl.42@0badf00d");
	run.attempt = 3;
	dbx_wire_token(&run, "0badf00d", buf, sizeof(buf));
	ck_assert_str_eq(buf, "etl.42.a3@0badf00d");
	char longkey[200];
	memset(longkey, 'x', sizeof(longkey) - 3);
	memcpy(longkey + sizeof(longkey) - 3, ".1", 3);
	run = (struct run_spec){.run_key = longkey, .attempt = 1};
	dbx_wire_token(&run, "0badf00d", buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), DBX_WIRE_TOKEN_MAX);
	char other[DBX_WIRE_TOKEN_MAX + 1];
	longkey[sizeof(longkey) - 2] = '2';
	dbx_wire_token(&run, "0badf00d", other, sizeof(other));
	ck_assert_str_ne(buf, other); /* the cut part is hashed in */
}
END_TEST

static json_t *body_for(const char *entry, const char *conf_text,
			const char *url)
{
	json_t *conf = parse(conf_text), *args = parse("[\"a\"]");
	json_t *env = json_object(), *libs = json_array(), *body = NULL;
	struct run_spec run = {.run_key = "j.1",
			       .bundle_dir = "/tmp",
			       .entry_point = entry,
			       .args = args,
			       .env = env,
			       .conf = conf,
			       .attempt = 1};
	struct call c = {0};
	ck_assert_int_eq(dbx_wire_validate(&c, &run), 0);
	ck_assert_int_eq(
	    dbx_wire_submit_body(&c, &run, "j.1@t", url, libs, &body), 0);
	json_decref(conf);
	json_decref(args);
	json_decref(env);
	json_decref(libs);
	return body;
}

static void assert_json(json_t *v, const char *want)
{
	char *text = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_str_eq(text, want);
	free(text);
}

START_TEST(submit_bodies)
{
	json_t *b = body_for("main.py", "{\"existing_cluster_id\": \"c1\"}",
			     "/Volumes/a/b/c/j.1@t/main.py");
	assert_json(b, "{\"idempotency_token\":\"j.1@t\",\"run_name\":\"j.1@"
		       "t\",\"tasks\":[{\"existing_cluster_id\":\"c1\","
		       "\"spark_python_task\":{\"parameters\":[\"a\"],"
		       "\"python_file\":\"/Volumes/a/b/c/j.1@t/main.py\"},"
		       "\"task_key\":\"main\"}]}");
	json_decref(b);
	b = body_for("app.jar",
		     "{\"new_cluster\": {\"num_workers\": 1}, \"main_class\": "
		     "\"x.App\", \"libraries\": [{\"maven\": {}}]}",
		     "dbfs:/j/app.jar");
	assert_json(json_object_get(b, "tasks"),
		    "[{\"libraries\":[{\"maven\":{}}],\"new_cluster\":{\"num_"
		    "workers\":1},\"spark_jar_task\":{\"main_class_name\":\"x."
		    "App\",\"parameters\":[\"a\"]},\"task_key\":\"main\"}]");
	json_decref(b);
	b = body_for("w/my_pkg-2.0-py3-none-any.whl",
		     "{\"environment_key\": \"e\", \"wheel_entry_point\": "
		     "\"run\"}",
		     "dbfs:/j/w/my_pkg-2.0-py3-none-any.whl");
	assert_json(
	    json_object_get(json_array_get(json_object_get(b, "tasks"), 0),
			    "python_wheel_task"),
	    "{\"entry_point\":\"run\",\"package_name\":\"my_pkg\","
	    "\"parameters\":[\"a\"]}");
	assert_json(
	    json_object_get(b, "environments"),
	    "[{\"environment_key\":\"e\",\"spec\":{\"client\":\"1\"}}]");
	json_decref(b);
}
END_TEST

static void refused(const char *entry, const char *conf_text, const char *env,
		    const char *why)
{
	json_t *conf = parse(conf_text), *e = parse(env);
	struct run_spec run = {.run_key = "j.1",
			       .bundle_dir = "/tmp",
			       .entry_point = entry,
			       .env = e,
			       .conf = conf,
			       .attempt = 1};
	struct call c = {0};
	ck_assert_int_eq(dbx_wire_validate(&c, &run), -EINVAL);
	ck_assert_msg(strstr(c.err, why), "\"%s\" lacks \"%s\"", c.err, why);
	json_decref(conf);
	json_decref(e);
}

START_TEST(validate_refuses)
{
	refused("a.py", "{}", "{}", "no cluster");
	refused("a.py", "{\"existing_cluster_id\": \"c\", \"new_cluster\": {}}",
		"{}", "exclude each other");
	refused("a.jar", "{\"existing_cluster_id\": \"c\"}", "{}",
		"conf \"main_class\" is required");
	refused("a.sh", "{\"existing_cluster_id\": \"c\"}", "{}",
		"field \"entry_point\"");
	refused("a.py", "{\"existing_cluster_id\": \"\"}", "{}",
		"conf field \"existing_cluster_id\": expected a non-empty");
	refused("a.py", "{\"existing_cluster_id\": \"c\", \"cluster\": 1}",
		"{}", "unknown conf field \"cluster\"");
	refused("a.py", "{\"existing_cluster_id\": \"c\"}", "{\"A\": \"1\"}",
		"\"env\" needs conf \"new_cluster\"");
}
END_TEST

START_TEST(fields_and_paths)
{
	char err[512];
	json_t *f = parse("{\"kind\": \"databricks\", \"hots\": \"x\"}");
	ck_assert_int_eq(dbx_wire_check_fields(f, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown field \"hots\""));
	json_decref(f);
	enum dbx_upload kind;
	char *path = NULL;
	f = parse("{\"upload\": {\"kind\": \"dbfs\", \"path\": "
		  "\"dbfs:/jobfs/\"}}");
	ck_assert_int_eq(dbx_wire_upload(f, &kind, &path, err, sizeof(err)), 0);
	ck_assert_int_eq(kind, DBX_UP_DBFS);
	ck_assert_str_eq(path, "/jobfs");
	free(path);
	json_decref(f);
	f = parse("{\"upload\": {\"kind\": \"volume\", \"path\": "
		  "\"/tmp/x\"}}");
	ck_assert_int_eq(dbx_wire_upload(f, &kind, &path, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "field \"upload.path\""));
	json_decref(f);
	f = parse("{\"upload\": {\"kind\": \"s3\", \"path\": \"/x\"}}");
	ck_assert_int_eq(dbx_wire_upload(f, &kind, &path, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "field \"upload.kind\""));
	json_decref(f);
	f = parse("{}");
	ck_assert_int_eq(dbx_wire_upload(f, &kind, &path, err, sizeof(err)), 0);
	ck_assert_int_eq(kind, DBX_UP_NONE);
	json_decref(f);
	char *p = dbx_wire_escape_path("/Volumes/a b/c#d/e.py");
	ck_assert_str_eq(p, "/Volumes/a%20b/c%23d/e.py");
	free(p);
	ck_assert_ptr_null(dbx_wire_library("a.py", "x"));
	json_t *lib = dbx_wire_library("lib/a.JAR", "dbfs:/a.JAR");
	assert_json(lib, "{\"jar\":\"dbfs:/a.JAR\"}");
	json_decref(lib);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("databricks");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, life_cycle_states);
	tcase_add_test(pure, failure_text);
	tcase_add_test(pure, steps_from_tasks);
	tcase_add_test(pure, error_bodies);
	tcase_add_test(pure, tokens);
	tcase_add_test(pure, submit_bodies);
	tcase_add_test(pure, validate_refuses);
	tcase_add_test(pure, fields_and_paths);
	suite_add_tcase(s, pure);
	return check_main_run(s);
}
