/*
 * The fixture shared by the job core's Check programs (check_job.c,
 * check_job_restart.c): the core driven through job.h against the scripted
 * platform (fake_platform.h) and a real SQLite store in a temp dir. No
 * poller thread runs: a test calls job_poll() for each pass.
 *
 * Every function fails the running test (ck_assert) rather than return an
 * error; strings they return are the caller's to free.
 */
#ifndef JOBFS_JOB_HARNESS_H
#define JOBFS_JOB_HARNESS_H

#include <check.h>

#include "config.h"
#include "fake_platform.h"
#include "job.h"
#include "platform.h"
#include "store.h"

struct job_fixture {
	struct store *store;
	struct platforms *ps;
	struct jobcore *jc;
	struct fake_platform *fp;
	struct platform *p;
	struct config cfg;
	struct platform_config pc;
	unsigned changes; /* listener: state changes heard */
};

/* The open core of the running test. */
extern struct job_fixture fx;

/* Check fixtures: a root dir per test case, a state dir per test. */
void make_root(void);
void remove_root(void);
void setup(void);
void teardown(void);

/* Opens store, platform "fake" of @kind and the core, as main.c does. */
void open_core(const char *kind, double ttl);
/* The same with the platform's config fields (a JSON object) given. */
void open_core_with(const char *kind, double ttl, const char *fields);
/* Closes everything, as a daemon's exit (or death) would leave it. */
void close_core(void);

/* Stages new/NAME.sh and deploys NAME with @config. */
void deploy(const char *name, const char *config);
/* Deploys @name and brings its run to RUNNING as "r1". */
void running(const char *name);

/* The latest run of @job as the core shows it (no refresh). */
struct run_view view(const char *job);
enum run_state state_of(const char *job);
/* The job's events text. */
char *events(const char *job);
int count_of(const char *haystack, const char *needle);
/* The last run in the store, read through a connection of its own. */
struct store_run stored_run(void);
/* What a daemon killed in a submit leaves: the in-flight mark, no answer. */
void mark_submit_in_flight(void);
/* The run's output file @what ("result", "log"), or "(missing)". */
char *output(const char *job, const char *what);
/* platforms/fake/health as the mount renders it. */
char *health(void);
void sleep_ms(long ms);

#define ck_assert_state(job, want)                                             \
	do {                                                                   \
		enum run_state got_ = state_of(job);                           \
		ck_assert_msg(got_ == (want), "%s: state %s, want %s", job,    \
			      state_name(got_), state_name(want));             \
	} while (0)

#define ck_assert_health(prefix)                                               \
	do {                                                                   \
		char *h_ = health();                                           \
		ck_assert_msg(strncmp(h_, prefix, strlen(prefix)) == 0,        \
			      "health \"%s\", want %s", h_, prefix);           \
		free(h_);                                                      \
	} while (0)

/* Adds the named tests as one test case with the fixtures above. */
void add_case(Suite *s, const char *name, const TTest *const *tests);

#endif
