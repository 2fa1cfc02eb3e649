/*
 * The job core across failures, against the scripted platform
 * (job_harness.h): the reconciliation of a submit a killed daemon left in
 * flight (find found / not found / cannot tell), the circuit breaker as
 * the core sees it (opening, serving cached state, closing on a probe),
 * and single-flight of concurrent reads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "clock.h"
#include "job_harness.h"

/* --- a submit in flight at a restart -------------------------------- */

/* Deploys @name, then "kills" the daemon in the middle of its submit. */
static void interrupted_submit(const char *kind, const char *name)
{
	open_core(kind, 0);
	deploy(name, "{}");
	close_core();
	mark_submit_in_flight();
	open_core(kind, 0);
}

START_TEST(test_restart_find_found_adopts)
{
	interrupted_submit("fake", "again");
	fake_queue_find(fx.fp, 0, "r7", NULL);
	fake_queue_status(fx.fp, "r7", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
	char key[128];
	fake_last_arg(fx.fp, FAKE_FIND, key, sizeof(key));
	ck_assert_msg(strncmp(key, "again.", 6) == 0, "run key \"%s\"", key);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	struct run_view v = view("again");
	ck_assert_str_eq(v.remote_id, "r7");
	ck_assert_int_eq(v.state, RUN_RUNNING);
	ck_assert_int_eq(v.attempts, 1);
	job_run_view_release(&v);
	struct store_run sr = stored_run();
	ck_assert_str_eq(sr.remote_id, "r7");
	ck_assert(sr.submit_started_at == 0);
	store_run_release(&sr);
	char *ev = events("again");
	ck_assert_ptr_nonnull(strstr(ev, "found after a restart"));
	free(ev);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
}
END_TEST

START_TEST(test_restart_find_not_found_submits_once)
{
	interrupted_submit("fake", "again");
	fake_queue_find(fx.fp, -ENOENT, NULL, "no such run");
	fake_queue_submit(fx.fp, 0, "r8", NULL);
	fake_queue_submit(fx.fp, 0, "r9", NULL); /* must stay unused */
	fake_queue_status(fx.fp, "r8", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
	struct run_view v = view("again");
	ck_assert_str_eq(v.remote_id, "r8");
	ck_assert_int_eq(v.state, RUN_RUNNING);
	job_run_view_release(&v);
	struct store_run sr = stored_run();
	ck_assert(sr.submit_started_at == 0);
	store_run_release(&sr);
}
END_TEST

/*
 * find cannot tell (a transient error): job_submit.c keeps the run to be
 * reconciled, never submitting meanwhile, and asks again at the next pass.
 */
START_TEST(test_restart_find_error_asks_again)
{
	interrupted_submit("fake", "again");
	fake_queue_find(fx.fp, -ETIMEDOUT, NULL, "no answer in 5 s");
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	struct run_view v = view("again");
	ck_assert_int_eq(v.state, RUN_DEPLOYING);
	ck_assert_ptr_null(v.remote_id);
	job_run_view_release(&v);
	struct store_run sr = stored_run();
	ck_assert_msg(sr.submit_started_at > 0,
		      "the mark must stay until the platform can tell");
	store_run_release(&sr);

	/* still unknown to a daemon started now */
	close_core();
	open_core("fake", 0);
	fake_queue_find(fx.fp, 0, "r7", NULL);
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	v = view("again");
	ck_assert_str_eq(v.remote_id, "r7");
	job_run_view_release(&v);
}
END_TEST

/* Without a find op (-ENOTSUP) the run ends LOST rather than risk two. */
START_TEST(test_restart_without_find_is_lost)
{
	interrupted_submit("fake-nofind", "again");
	fake_queue_submit(fx.fp, 0, "r1", NULL); /* must stay unused */
	job_poll(fx.jc, false);
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 0);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 0);
	struct run_view v = view("again");
	ck_assert_int_eq(v.state, RUN_LOST);
	ck_assert_ptr_nonnull(v.error);
	ck_assert_ptr_nonnull(strstr(v.error, "cannot tell"));
	job_run_view_release(&v);
	struct store_run sr = stored_run();
	ck_assert_int_eq(sr.state, RUN_LOST);
	ck_assert(sr.submit_started_at == 0);
	store_run_release(&sr);
}
END_TEST

/* A submit that may have gone out (a timeout) is reconciled, not redone. */
START_TEST(test_submit_timeout_reconciles)
{
	open_core("fake", 0);
	deploy("maybe", "{}");
	fake_queue_submit(fx.fp, -ETIMEDOUT, NULL, "no answer in 5 s");
	job_poll(fx.jc, false);
	ck_assert_state("maybe", RUN_DEPLOYING);
	fake_queue_find(fx.fp, 0, "r5", NULL);
	fake_queue_status(fx.fp, "r5", RUN_RUNNING, 0);
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_SUBMIT), 1);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_FIND), 1);
	struct run_view v = view("maybe");
	ck_assert_str_eq(v.remote_id, "r5");
	job_run_view_release(&v);
}
END_TEST

/* --- the circuit breaker, as the core sees it ------------------------ */

/* A RUNNING run "r1" whose platform then fails @n status calls. */
static void failing_platform(const char *name, int n)
{
	running(name);
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, -ETIMEDOUT);
	for (int i = 0; i < n; i++)
		job_poll(fx.jc, true);
}

/* Waits until the breaker lets a probe through. */
static void wait_probe_due(void)
{
	double until = clock_mono() + 60;
	while (!platform_probe_due(fx.p) && clock_mono() < until)
		sleep_ms(50);
	ck_assert(platform_probe_due(fx.p));
}

START_TEST(test_breaker_opens_after_failures)
{
	open_core("fake", 0);
	failing_platform("down", 2);
	ck_assert_health("DEGRADED");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), 3);
	job_poll(fx.jc, true);
	ck_assert_health("DOWN");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), 4);
	char *h = health();
	ck_assert_ptr_nonnull(strstr(h, "fake: status failed"));
	free(h);
}
END_TEST

START_TEST(test_breaker_open_serves_cache)
{
	open_core("fake", 0); /* ttl 0: every read would ask */
	failing_platform("down", 3);
	ck_assert_health("DOWN");
	unsigned calls = fake_calls(fx.fp, FAKE_STATUS);
	for (int i = 0; i < 5; i++) {
		struct run_view v;
		ck_assert_int_eq(job_run_view(fx.jc, "down", 0, true, &v), 0);
		ck_assert_int_eq(v.state, RUN_RUNNING);
		ck_assert(v.stale);
		ck_assert_str_eq(v.source, "offline");
		ck_assert_ptr_nonnull(v.stale_reason);
		ck_assert_ptr_nonnull(strstr(v.stale_reason, "is down"));
		job_run_view_release(&v);
	}
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), calls);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_HEALTH), 0);
	ck_assert_state("down", RUN_RUNNING);
}
END_TEST

START_TEST(test_breaker_closes_on_probe)
{
	open_core("fake", 0);
	failing_platform("down", 3);
	ck_assert_health("DOWN");
	unsigned calls = fake_calls(fx.fp, FAKE_STATUS);
	fake_forget(fx.fp, FAKE_STATUS);
	fake_queue_status(fx.fp, "r1", RUN_SUCCEEDED, 0);

	/* a failed probe keeps it open */
	fake_queue_health(fx.fp, -ECONNREFUSED, "connection refused");
	wait_probe_due();
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_HEALTH), 1);
	ck_assert_health("DOWN");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), calls);
	ck_assert(!platform_probe_due(fx.p));

	wait_probe_due();
	job_poll(fx.jc, true);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_HEALTH), 2);
	ck_assert_health("OK");
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), calls + 1);
	struct run_view v;
	ck_assert_int_eq(job_run_view(fx.jc, "down", 0, true, &v), 0);
	ck_assert_int_eq(v.state, RUN_SUCCEEDED);
	ck_assert(!v.stale);
	job_run_view_release(&v);
}
END_TEST

/* --- single-flight reads ---------------------------------------------- */

#define READERS 8

static unsigned readers_in;

struct reader {
	pthread_t thread;
	int rc;
	enum run_state state;
	char source[16];
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	struct run_view v;
	__atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
	r->rc = job_run_view(fx.jc, "shared", 0, true, &v);
	if (r->rc == 0) {
		r->state = v.state;
		snprintf(r->source, sizeof(r->source), "%s", v.source);
		job_run_view_release(&v);
	}
	return NULL;
}

START_TEST(test_concurrent_reads_share_one_call)
{
	open_core("fake", 1.0);
	deploy("shared", "{}");
	fake_queue_submit(fx.fp, 0, "r1", NULL);
	fake_queue_status(fx.fp, "r1", RUN_QUEUED, 0);
	job_poll(fx.jc, false);
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), 1);
	/* let the cached state age past the ttl */
	double until = clock_mono() + 30;
	struct run_view v = view("shared");
	while (v.age_s < 1.2 && clock_mono() < until) {
		job_run_view_release(&v);
		sleep_ms(50);
		v = view("shared");
	}
	job_run_view_release(&v);

	fake_block(fx.fp, FAKE_STATUS);
	struct reader readers[READERS];
	memset(readers, 0, sizeof(readers));
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_create(&readers[i].thread, NULL,
						reader_thread, &readers[i]),
				 0);
	ck_assert(fake_wait_blocked(fx.fp, FAKE_STATUS, 1, 30));
	until = clock_mono() + 30;
	while (__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) < READERS &&
	       clock_mono() < until)
		sleep_ms(10);
	sleep_ms(200); /* let them reach the core and wait */
	fake_queue_status(fx.fp, "r1", RUN_RUNNING, 0);
	fake_release(fx.fp, FAKE_STATUS);
	for (int i = 0; i < READERS; i++) {
		ck_assert_int_eq(pthread_join(readers[i].thread, NULL), 0);
		ck_assert_int_eq(readers[i].rc, 0);
		ck_assert_int_eq(readers[i].state, RUN_RUNNING);
		ck_assert_str_eq(readers[i].source, "live");
	}
	ck_assert_uint_eq(fake_calls(fx.fp, FAKE_STATUS), 2);
}
END_TEST

static Suite *job_restart_suite(void)
{
	const TTest *const reconcile[] = {
	    test_restart_find_found_adopts,
	    test_restart_find_not_found_submits_once,
	    test_restart_find_error_asks_again,
	    test_restart_without_find_is_lost,
	    test_submit_timeout_reconciles,
	    NULL};
	const TTest *const breaker[] = {test_breaker_opens_after_failures,
					test_breaker_open_serves_cache,
					test_breaker_closes_on_probe, NULL};
	const TTest *const single_flight[] = {
	    test_concurrent_reads_share_one_call, NULL};
	Suite *s = suite_create("job_restart");
	add_case(s, "reconcile", reconcile);
	add_case(s, "breaker", breaker);
	add_case(s, "single_flight", single_flight);
	return s;
}

int main(void)
{
	return check_main_run(job_restart_suite());
}
