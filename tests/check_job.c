/*
 * The job core's runs against the scripted platform (job_harness.h): the
 * life of a run from deploy to its end, retries and timeouts, and cancels
 * (accepted, refused, of an ended run, racing a submit).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "clock.h"
#include "job_harness.h"

/* --- the life of a run ----------------------------------------------- */

START_TEST(test_deploy_submit_status_fetch_end)
{
	open_core("fake", 0);
	deploy("hello", "{\"args\": [\"world\"]}");
	ck_assert_state("hello", RUN_DEPLOYING);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);

	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_QUEUED, 0);
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
	char key[128];
	fake_last_arg(fx.fp, FAKE_SUBMIT, key, sizeof(key));
	ck_assert_msg(strncmp(key, "hello.", 6) == 0, "run key \"%s\"", key);
	ck_assert_int_eq(fake_last_attempt(fx.fp), 1);
	struct run_view v = view("hello");
	ck_assert_int_eq(v.state, RUN_QUEUED);
	ck_assert_str_eq(v.remote_id, "r1");
	ck_assert_int_eq(v.attempts, 1);
	job_run_view_release(&v);
	struct store_run sr = stored_run();
	ck_assert_str_eq(sr.remote_id, "r1");
	ck_assert(sr.submit_started_at == 0);
	store_run_release(&sr);

	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	job_poll(fx.jc, true);
	ck_assert_state("hello", RUN_RUNNING);

	/* the end is shown only once the output is here */
	fake_queue_status(fx.fp, "r1", RUN_SUCCEEDED, 0);
	fake_queue_fetch(fx.fp, 0, "hello, world\n", "log line\n");
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_FETCH, "r1"), 1);
	v = view("hello");
	ck_assert_int_eq(v.state, RUN_SUCCEEDED);
	ck_assert_int_eq(v.exit_code, 0);
	ck_assert_ptr_null(v.error);
	job_run_view_release(&v);
	char *result = output("hello", "result"), *log = output("hello", "log");
	ck_assert_str_eq(result, "hello, world\n");
	ck_assert_str_eq(log, "log line\n");
	free(result);
	free(log);
	sr = stored_run();
	ck_assert_int_eq(sr.state, RUN_SUCCEEDED);
	store_run_release(&sr);
	char *ev = events("hello");
	ck_assert_ptr_nonnull(strstr(ev, "NONE->DEPLOYING deploy"));
	ck_assert_ptr_nonnull(strstr(ev, "DEPLOYING->QUEUED submit"));
	ck_assert_ptr_nonnull(strstr(ev, "QUEUED->RUNNING poller"));
	ck_assert_ptr_nonnull(strstr(ev, "RUNNING->SUCCEEDED poller"));
	free(ev);
	/* listeners hear each move after the deploy (which the FS itself
	 * announces by the job appearing) */
	ck_assert_uint_eq(fx.changes, 3);

	/* a final run costs nothing more */
	unsigned before = fake_calls(fx.fp, FAKE_STATUS);
	job_poll(fx.jc, true);
	v = view("hello");
	job_run_view_release(&v);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), before);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
}
END_TEST

START_TEST(test_platform_change_refreshes_only_that_run)
{
	open_core("fake", 3600);
	deploy("a", "{}");
	deploy("b", "{}");
	fake_queue_submit(fx.fp, 0, "ra", NULL);
	fake_queue_submit(fx.fp, 0, "rb", NULL);
	fake_queue_status(fx.fp, "ra", RUN_RUNNING, 0);
	fake_queue_status(fx.fp, "rb", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_state("a", RUN_RUNNING);
	ck_assert_state("b", RUN_RUNNING);
	fake_queue_status(fx.fp, "rb", RUN_SUCCEEDED, 0);
	fake_changed(fx.fp, "rb");
	job_poll(fx.jc, false); /* a quick pass: only the poked run */
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_STATUS, "ra"), 1);
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_STATUS, "rb"), 2);
	ck_assert_state("b", RUN_SUCCEEDED);
	ck_assert_state("a", RUN_RUNNING);
}
END_TEST

START_TEST(test_submit_rejected_fails_the_run)
{
	open_core("fake", 0);
	deploy("bad", "{}");
	fake_queue_submit(fx.fp, -EINVAL, NULL, "no such queue \"x\"");
	job_poll(fx.jc, false);
	struct run_view v = view("bad");
	ck_assert_int_eq(v.state, RUN_FAILED);
	ck_assert_ptr_nonnull(v.error);
	ck_assert_ptr_nonnull(strstr(v.error, "no such queue \"x\""));
	job_run_view_release(&v);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
}
END_TEST

/* --- retries and timeouts --------------------------------------------- */

START_TEST(test_retries_then_failed)
{
	open_core("fake", 0);
	deploy("flaky", "{\"retries\": 2}");
	const char *ids[] = {"r1", "r2", "r3"};
	for (int i = 0; i < 3; i++) {
		fake_queue_submit(fx.fp, 0, ids[i], NULL);
		fake_queue_status(fx.fp, ids[i], RUN_FAILED, 0);
	}
	for (int pass = 0; pass < 20 && !state_is_terminal(state_of("flaky"));
	     pass++)
		job_poll(fx.jc, true);
	for (int pass = 0; pass < 3; pass++) /* nothing more happens */
		job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 3);
	ck_assert_int_eq(fake_last_attempt(fx.fp), 3);
	struct run_view v = view("flaky");
	ck_assert_int_eq(v.state, RUN_FAILED);
	ck_assert_int_eq(v.attempts, 3);
	ck_assert_str_eq(v.remote_id, "r3");
	ck_assert_str_eq(v.error, "fake: run failed");
	job_run_view_release(&v);
	char *ev = events("flaky");
	ck_assert_int_eq(count_of(ev, "; retrying"), 2);
	ck_assert_int_eq(count_of(ev, "->FAILED"), 1);
	free(ev);
	struct store_run sr = stored_run();
	ck_assert_int_eq(sr.state, RUN_FAILED);
	ck_assert_int_eq(sr.attempts, 3);
	store_run_release(&sr);
}
END_TEST

START_TEST(test_no_retries_fails_at_once)
{
	open_core("fake", 0);
	deploy("once", "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_submit(fx.fp, 0, "r2", NULL); /* must stay unused */
	fake_queue_status(fx.fp, "r1", RUN_FAILED, 0);
	for (int pass = 0; pass < 5; pass++)
		job_poll(fx.jc, true);
	ck_assert_state("once", RUN_FAILED);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
}
END_TEST

START_TEST(test_timeout_cancels_and_fails)
{
	open_core("fake", 0);
	deploy("slow", "{\"timeout\": 1}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_state("slow", RUN_RUNNING);
	double until = clock_mono() + 30;
	while (fake_calls(fx.fp, FAKE_CANCEL) == 0 && clock_mono() < until) {
		job_poll(fx.jc, true);
		sleep_ms(50);
	}
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_CANCEL, "r1"), 1);
	char reason[128];
	fake_last_arg(fx.fp, FAKE_OP_COUNT, reason, sizeof(reason));
	ck_assert_str_eq(reason, "timed out after 1 s");
	ck_assert_state("slow", RUN_CANCELLING);

	fake_queue_status(fx.fp, "r1", RUN_CANCELLED, 0);
	job_poll(fx.jc, true);
	job_poll(fx.jc, true);
	struct run_view v = view("slow");
	ck_assert_int_eq(v.state, RUN_FAILED);
	ck_assert_str_eq(v.error, "timed out after 1 s");
	job_run_view_release(&v);
	char *ev = events("slow");
	ck_assert_ptr_nonnull(strstr(ev, "RUNNING->CANCELLING timeout"));
	ck_assert_ptr_nonnull(strstr(ev, "CANCELLING->FAILED"));
	free(ev);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 1);
}
END_TEST

START_TEST(test_no_timeout_no_cancel)
{
	open_core("fake", 0);
	deploy("steady", "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	sleep_ms(1200);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 0);
	ck_assert_state("steady", RUN_RUNNING);
}
END_TEST

/* --- cancels ---------------------------------------------------------- */

START_TEST(test_cancel_accepted)
{
	open_core("fake", 0);
	running("nap");
	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "nap", 0, "stop", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_CANCEL, "r1"), 1);
	char reason[128];
	fake_last_arg(fx.fp, FAKE_OP_COUNT, reason, sizeof(reason));
	ck_assert_str_eq(reason, "stop");
	ck_assert_state("nap", RUN_CANCELLING);
	struct store_run sr = stored_run();
	ck_assert_int_eq(sr.state, RUN_CANCELLING);
	store_run_release(&sr);

	fake_queue_status(fx.fp, "r1", RUN_CANCELLED, 0);
	job_poll(fx.jc, false); /* the cancel poked it: a quick pass will do */
	job_poll(fx.jc, false);
	struct run_view v = view("nap");
	ck_assert_int_eq(v.state, RUN_CANCELLED);
	ck_assert_ptr_null(v.error);
	job_run_view_release(&v);
}
END_TEST

START_TEST(test_cancel_refused)
{
	open_core("fake", 0);
	running("nap");
	char *before = events("nap");
	fake_queue_cancel(fx.fp, -EPERM, "not your run");
	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "nap", 0, "stop", err, sizeof(err)),
			 -EPERM);
	ck_assert_str_eq(err, "not your run");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 1);
	ck_assert_state("nap", RUN_RUNNING);
	char *after = events("nap");
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	struct store_run sr = stored_run();
	ck_assert_int_eq(sr.state, RUN_RUNNING);
	store_run_release(&sr);
}
END_TEST

START_TEST(test_cancel_of_ended_run)
{
	open_core("fake", 0);
	running("done");
	fake_queue_status(fx.fp, "r1", RUN_SUCCEEDED, 0);
	job_poll(fx.jc, true);
	ck_assert_state("done", RUN_SUCCEEDED);
	char *before = events("done");
	struct store_run sr1 = stored_run();
	unsigned changes = fx.changes;
	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "done", 0, "stop", err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "run already ended");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 0);
	ck_assert_state("done", RUN_SUCCEEDED);
	char *after = events("done");
	ck_assert_str_eq(after, before);
	struct store_run sr2 = stored_run();
	ck_assert_int_eq(sr2.state, sr1.state);
	ck_assert(sr2.updated_at == sr1.updated_at);
	ck_assert_uint_eq(fx.changes, changes);
	free(before);
	free(after);
	store_run_release(&sr1);
	store_run_release(&sr2);
}
END_TEST

START_TEST(test_cancel_before_submit)
{
	open_core("fake", 0);
	deploy("early", "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL); /* must stay unused */
	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "early", 0, NULL, err, sizeof(err)),
			 0);
	ck_assert_state("early", RUN_CANCELLED);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 0);
}
END_TEST

static void *poll_thread(void *arg)
{
	job_poll(fx.jc, *(bool *)arg);
	return NULL;
}

/*
 * Cancelled while its submit is in flight: the run goes CANCELLING, and
 * when the submit's answer arrives the remote id is recorded (the store
 * too) and the new remote run is cancelled.
 */
START_TEST(test_cancelling_run_gets_submit_answer)
{
	open_core("fake", 0);
	deploy("race", "{}");
	fake_block(fx.fp, FAKE_SUBMIT);
	pthread_t t;
	bool full = false;
	ck_assert_int_eq(pthread_create(&t, NULL, poll_thread, &full), 0);
	ck_assert(fake_wait_blocked(fx.fp, FAKE_SUBMIT, 1, 30));
	struct store_run sr = stored_run();
	ck_assert_msg(sr.submit_started_at > 0, "in-flight mark not stored");
	store_run_release(&sr);

	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "race", 0, "stop", err, sizeof(err)),
			 0);
	ck_assert_state("race", RUN_CANCELLING);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_CANCEL), 0); /* no id yet */

	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	fake_release(fx.fp, FAKE_SUBMIT);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_uint_eq(fake_calls_for(fx.fp, FAKE_CANCEL, "r1"), 1);
	struct run_view v = view("race");
	ck_assert_int_eq(v.state, RUN_CANCELLING);
	ck_assert_str_eq(v.remote_id, "r1");
	job_run_view_release(&v);

	sr = stored_run();
	ck_assert_ptr_nonnull(sr.remote_id);
	ck_assert_str_eq(sr.remote_id, "r1");
	ck_assert_int_eq(sr.state, RUN_CANCELLING);
	ck_assert(sr.submit_started_at == 0);
	store_run_release(&sr);

	/* a new daemon knows what to ask about, and asks nothing else */
	close_core();
	open_core("fake", 0);
	fake_queue_status(fx.fp, "r1", RUN_CANCELLED, 0);
	job_poll(fx.jc, false);
	ck_assert_state("race", RUN_CANCELLED);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 0);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
}
END_TEST

/* --- max_active: the bulkhead ---------------------------------------- */

static char *stats_text(void)
{
	size_t active, held;
	job_platform_counts(fx.jc, "fake", &active, &held);
	char *text = NULL;
	ck_assert_int_eq(platform_render_stats(fx.p, active, held, &text), 0);
	return text;
}

START_TEST(test_max_active_holds_runs_in_order)
{
	open_core_with("fake", 0, "{\"max_active\": 2}");
	const char *const names[] = {"m1", "m2", "m3", "m4", "m5"};
	for (size_t i = 0; i < 5; i++)
		deploy(names[i], "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_submit(fx.fp, 0, "r2", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	fake_queue_status(fx.fp, "r2", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 2);
	ck_assert_state("m1", RUN_RUNNING);
	ck_assert_state("m2", RUN_RUNNING);
	for (size_t i = 2; i < 5; i++)
		ck_assert_state(names[i], RUN_QUEUED);
	char *ev = events("m3");
	ck_assert_int_eq(count_of(ev, "has its max_active of 2 runs"), 1);
	free(ev);
	char *stats = stats_text();
	ck_assert_ptr_nonnull(strstr(stats, "runs_active 2\n"));
	ck_assert_ptr_nonnull(strstr(stats, "runs_waiting 3\n"));
	ck_assert_ptr_nonnull(strstr(stats, "max_active 2\n"));
	free(stats);

	/* a held run is cancelled without the platform */
	char err[256] = "";
	ck_assert_int_eq(job_cancel(fx.jc, "m4", 0, NULL, err, sizeof(err)), 0);
	ck_assert_state("m4", RUN_CANCELLED);

	/* a run ends: its slot goes to the oldest waiting run */
	fake_queue_status(fx.fp, "r1", RUN_SUCCEEDED, 0);
	fake_queue_submit(fx.fp, 0, "r3", NULL);
	fake_queue_status(fx.fp, "r3", RUN_RUNNING, 0);
	job_poll(fx.jc, true); /* r1 ends */
	job_poll(fx.jc, true); /* m3 goes */
	ck_assert_state("m1", RUN_SUCCEEDED);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 3);
	char key[128];
	fake_last_arg(fx.fp, FAKE_SUBMIT, key, sizeof(key));
	ck_assert_msg(strncmp(key, "m3.", 3) == 0, "submitted %s", key);
	ck_assert_state("m3", RUN_RUNNING);
	ck_assert_state("m5", RUN_QUEUED);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 3);
}
END_TEST

START_TEST(test_held_run_is_submitted_after_a_restart)
{
	open_core_with("fake", 0, "{\"max_active\": 1}");
	deploy("first", "{}");
	deploy("second", "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_state("second", RUN_QUEUED);
	close_core();

	open_core_with("fake", 0, "{\"max_active\": 1}");
	fake_queue_status(fx.fp, "r1", RUN_SUCCEEDED, 0);
	fake_queue_submit(fx.fp, 0, "r2", NULL);
	fake_queue_status(fx.fp, "r2", RUN_RUNNING, 0);
	job_poll(fx.jc, true);
	job_poll(fx.jc, true);
	ck_assert_state("first", RUN_SUCCEEDED);
	ck_assert_state("second", RUN_RUNNING);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
}
END_TEST

START_TEST(test_bad_limits_are_refused)
{
	static const char *const bad[] = {
	    "{\"max_active\": -1}", "{\"max_active\": 1.5}",
	    "{\"max_active\": \"2\"}", "{\"rate\": -3}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct platform_config pc = {.name = "fake",
					     .kind = "fake",
					     .fields =
						 json_loads(bad[i], 0, NULL)};
		json_object_set_new(pc.fields, "kind", json_string("fake"));
		struct config cfg = {.platforms = &pc, .nplatforms = 1};
		struct platforms *ps = NULL;
		struct platform_listener none = {0};
		char err[256] = "";
		ck_assert_int_eq(platforms_open_kinds(&cfg, "/tmp", &none,
						      fake_platform_kinds, 2,
						      &ps, err, sizeof(err)),
				 -EINVAL);
		ck_assert_msg(strstr(err, "must be a") != NULL, "%s", err);
		json_decref(pc.fields);
	}
}
END_TEST

static Suite *job_suite(void)
{
	const TTest *const lifecycle[] = {
	    test_deploy_submit_status_fetch_end,
	    test_platform_change_refreshes_only_that_run,
	    test_submit_rejected_fails_the_run, NULL};
	const TTest *const retries[] = {
	    test_retries_then_failed, test_no_retries_fails_at_once,
	    test_timeout_cancels_and_fails, test_no_timeout_no_cancel, NULL};
	const TTest *const cancels[] = {test_cancel_accepted,
					test_cancel_refused,
					test_cancel_of_ended_run,
					test_cancel_before_submit,
					test_cancelling_run_gets_submit_answer,
					NULL};
	const TTest *const limits[] = {
	    test_max_active_holds_runs_in_order,
	    test_held_run_is_submitted_after_a_restart,
	    test_bad_limits_are_refused, NULL};
	Suite *s = suite_create("job");
	add_case(s, "lifecycle", lifecycle);
	add_case(s, "retries_timeout", retries);
	add_case(s, "cancel", cancels);
	add_case(s, "max_active", limits);
	return s;
}

int main(void)
{
	return check_main_run(job_suite());
}
