/*
 * The SQLite store: schema and pragmas, round trips of every column,
 * updates, events, steps, cascades, constraints, schema refusal, transactions
 * across threads, and a large load. Each test gets a fresh temp
 * directory.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check_main.h"
#include "store.h"

/*
 * Every test gets its own directory under one root; the root goes in the
 * unchecked teardown, which runs in the parent even when a test failed.
 */
static char root[64];
static char db_path[128];

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	return remove(path);
}

static void remove_root(void)
{
	nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char dir[96];
	snprintf(dir, sizeof(dir), "%s/test.XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/state.db", dir);
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	ck_assert_int_eq(store_open(db_path, &s), 0);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Runs a one-value query on a second, raw connection. */
static char *raw_query(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	const char *text = (const char *)sqlite3_column_text(st, 0);
	char *copy = strdup(text ? text : "(null)");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return copy;
}

static void raw_exec(const char *sql)
{
	sqlite3 *db;
	ck_assert_int_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void assert_raw(const char *sql, const char *want)
{
	char *got = raw_query(sql);
	ck_assert_str_eq(got, want);
	free(got);
}

/* What store_load() saw, copied out of the callbacks */
struct loaded {
	int njobs, nruns;
	struct store_job jobs[4];
	struct store_run runs[4];
	int stop_after; /* non-zero: return 7 from that job callback */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int on_job(void *ctx, const struct store_job *job)
{
	struct loaded *l = ctx;
	if (l->njobs < 4) {
		struct store_job *j = &l->jobs[l->njobs];
		*j = *job;
		j->name = strdup(job->name);
		j->platform = strdup(job->platform);
		j->config = strdup(job->config);
	}
	l->njobs++;
	return l->stop_after && l->njobs == l->stop_after ? 7 : 0;
}

static int on_run(void *ctx, const struct store_run *run)
{
	struct loaded *l = ctx;
	if (l->nruns < 4) {
		struct store_run *r = &l->runs[l->nruns];
		*r = *run;
		r->platform = dup_or_null(run->platform);
		r->remote_id = dup_or_null(run->remote_id);
		r->platform_state = dup_or_null(run->platform_state);
		r->overrides = dup_or_null(run->overrides);
		r->error = dup_or_null(run->error);
	}
	l->nruns++;
	return 0;
}

static void loaded_release(struct loaded *l)
{
	for (int i = 0; i < l->njobs && i < 4; i++)
		store_job_release(&l->jobs[i]);
	for (int i = 0; i < l->nruns && i < 4; i++)
		store_run_release(&l->runs[i]);
}

static struct store_job make_job(const char *name)
{
	return (struct store_job){.name = (char *)name,
				  .platform = "local",
				  .config = "{\"platform\":\"local\"}",
				  .version = 1,
				  .created_at = 1700000000.25,
				  .updated_at = 1700000001.5};
}

static struct store_run make_run(int64_t job_id, int number)
{
	return (struct store_run){.job_id = job_id,
				  .number = number,
				  .version = 1,
				  .platform = "local",
				  .state = RUN_DEPLOYING,
				  .exit_code = -1};
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (want)
		ck_assert_str_eq(got, want);
	else
		ck_assert_ptr_null(got);
}

static void assert_run_eq(const struct store_run *got,
			  const struct store_run *want)
{
	ck_assert_int_eq(got->id, want->id);
	ck_assert_int_eq(got->job_id, want->job_id);
	ck_assert_int_eq(got->number, want->number);
	ck_assert_int_eq(got->version, want->version);
	assert_str_or_null(got->platform, want->platform);
	assert_str_or_null(got->remote_id, want->remote_id);
	ck_assert_int_eq(got->state, want->state);
	assert_str_or_null(got->platform_state, want->platform_state);
	assert_str_or_null(got->overrides, want->overrides);
	assert_str_or_null(got->error, want->error);
	ck_assert_int_eq(got->exit_code, want->exit_code);
	ck_assert_int_eq(got->attempts, want->attempts);
	ck_assert_double_eq(got->submitted_at, want->submitted_at);
	ck_assert_double_eq(got->started_at, want->started_at);
	ck_assert_double_eq(got->ended_at, want->ended_at);
	ck_assert_double_eq(got->updated_at, want->updated_at);
	ck_assert_double_eq(got->submit_started_at, want->submit_started_at);
}

START_TEST(open_creates_schema)
{
	struct store *s = open_store();
	char want[16];
	snprintf(want, sizeof(want), "%d", STORE_SCHEMA_VERSION);
	assert_raw("PRAGMA user_version", want);
	assert_raw("PRAGMA journal_mode", "wal");
	assert_raw("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
		   "AND name IN ('jobs', 'runs', 'events', 'steps')",
		   "4");
	store_close(s);
}
END_TEST

START_TEST(round_trip_every_field)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	ck_assert_int_gt(job.id, 0);
	struct store_run full = {.job_id = job.id,
				 .number = 1,
				 .version = 2,
				 .platform = "hpc",
				 .remote_id = "12345",
				 .state = RUN_FAILED,
				 .platform_state = "NODE_FAIL",
				 .overrides = "{\"args\":[\"x\"]}",
				 .error = "node died",
				 .exit_code = 137,
				 .attempts = 3,
				 .submitted_at = 1700000010.5,
				 .started_at = 1700000020.25,
				 .ended_at = 1700000030.125,
				 .updated_at = 1700000031};
	struct store_run bare = make_run(job.id, 2);
	ck_assert_int_eq(store_run_insert(s, &full), 0);
	ck_assert_int_eq(store_run_insert(s, &bare), 0);
	ck_assert_int_ne(full.id, bare.id);

	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 1);
	ck_assert_int_eq(l.jobs[0].id, job.id);
	ck_assert_str_eq(l.jobs[0].name, "etl");
	ck_assert_str_eq(l.jobs[0].platform, "local");
	ck_assert_str_eq(l.jobs[0].config, job.config);
	ck_assert_int_eq(l.jobs[0].version, 1);
	ck_assert_double_eq(l.jobs[0].created_at, 1700000000.25);
	ck_assert_double_eq(l.jobs[0].updated_at, 1700000001.5);
	ck_assert_int_eq(l.nruns, 2);
	assert_run_eq(&l.runs[0], &full);
	assert_run_eq(&l.runs[1], &bare);
	loaded_release(&l);
	assert_raw("SELECT state FROM runs WHERE number = 1", "FAILED");
	assert_raw("SELECT exit_code IS NULL AND remote_id IS NULL "
		   "AND submitted_at IS NULL FROM runs WHERE number = 2",
		   "1");
	store_close(s);
}
END_TEST

START_TEST(updates_and_missing_rows)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	int64_t id = job.id;
	job.config = "{\"platform\":\"hpc\"}";
	job.version = 2;
	ck_assert_int_eq(store_job_save(s, &job), 0);
	ck_assert_int_eq(job.id, id);

	struct store_run run = make_run(job.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	run.remote_id = "app-7";
	run.state = RUN_SUCCEEDED;
	run.platform_state = "FINISHED";
	run.exit_code = 0;
	run.attempts = 1;
	run.ended_at = 1700000100;
	ck_assert_int_eq(store_run_update(s, &run), 0);

	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 1);
	ck_assert_str_eq(l.jobs[0].config, "{\"platform\":\"hpc\"}");
	ck_assert_int_eq(l.jobs[0].version, 2);
	ck_assert_int_eq(l.nruns, 1);
	assert_run_eq(&l.runs[0], &run);
	loaded_release(&l);

	struct store_job ghost = make_job("ghost");
	ghost.id = id + 100;
	ck_assert_int_eq(store_job_save(s, &ghost), -ENOENT);
	run.id += 100;
	ck_assert_int_eq(store_run_update(s, &run), -ENOENT);
	ck_assert_int_eq(store_job_delete(s, id + 100), -ENOENT);
	store_close(s);
}
END_TEST

/* Events seen by store_events(), flattened to "N:OLD>NEW:SOURCE:MSG;" */
static int on_event(void *ctx, const struct store_event *ev)
{
	char *buf = ctx;
	size_t used = strlen(buf);
	snprintf(buf + used, 512 - used, "%d:%s>%s:%s:%s;", ev->run_number,
		 ev->old_state, ev->new_state, ev->source, ev->message);
	return 0;
}

static void add_event(struct store *s, int64_t run_id, double time,
		      const char *old_state, const char *new_state,
		      const char *message)
{
	struct store_event ev = {.time = time,
				 .old_state = old_state,
				 .new_state = new_state,
				 .source = "poller",
				 .message = message};
	ck_assert_int_eq(store_event_insert(s, run_id, &ev), 0);
}

START_TEST(events_ordered_and_filtered)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	struct store_run r1 = make_run(job.id, 1), r2 = make_run(job.id, 2);
	ck_assert_int_eq(store_run_insert(s, &r1), 0);
	ck_assert_int_eq(store_run_insert(s, &r2), 0);
	/* inserted out of time order; equal times keep insertion order */
	add_event(s, r2.id, 300, "NONE", "DEPLOYING", "");
	add_event(s, r1.id, 100, "NONE", "DEPLOYING", "a");
	add_event(s, r1.id, 200, "DEPLOYING", "QUEUED", "b");
	add_event(s, r1.id, 200, "QUEUED", "RUNNING", "c");

	char buf[512] = "";
	ck_assert_int_eq(store_events(s, job.id, 0, on_event, buf), 0);
	ck_assert_str_eq(buf, "1:NONE>DEPLOYING:poller:a;"
			      "1:DEPLOYING>QUEUED:poller:b;"
			      "1:QUEUED>RUNNING:poller:c;"
			      "2:NONE>DEPLOYING:poller:;");
	buf[0] = '\0';
	ck_assert_int_eq(store_events(s, job.id, r2.id, on_event, buf), 0);
	ck_assert_str_eq(buf, "2:NONE>DEPLOYING:poller:;");
	buf[0] = '\0';
	ck_assert_int_eq(store_events(s, job.id + 1, 0, on_event, buf), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(
	    store_event_insert(s, r2.id + 50,
			       &(struct store_event){.old_state = "NONE",
						     .new_state = "QUEUED",
						     .source = "user",
						     .message = ""}),
	    -ENOENT);
	store_close(s);
}
END_TEST

/* Steps seen by store_steps(), flattened to "NAME:STATE:S-E:MSG;" */
static int on_step(void *ctx, const struct store_step *step)
{
	char *buf = ctx;
	size_t used = strlen(buf);
	snprintf(buf + used, 512 - used, "%s:%s:%g-%g:%s;", step->name,
		 state_name(step->state), step->started_at, step->ended_at,
		 step->message);
	return 0;
}

START_TEST(steps_replaced_in_order)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	struct store_run r1 = make_run(job.id, 1), r2 = make_run(job.id, 2);
	ck_assert_int_eq(store_run_insert(s, &r1), 0);
	ck_assert_int_eq(store_run_insert(s, &r2), 0);
	char buf[512] = "";
	ck_assert_int_eq(store_steps(s, r1.id, on_step, buf), 0);
	ck_assert_str_eq(buf, "");

	/* the platform's order is kept, not the names' */
	struct store_step first[] = {
	    {"load#1", RUN_SUCCEEDED, 10, 20, "ok"},
	    {"extract#1", RUN_RUNNING, 20, 0, NULL},
	};
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(store_steps_replace(s, r1.id, first, 2), 0);
	ck_assert_int_eq(store_commit(s), 0);
	ck_assert_int_eq(store_steps(s, r1.id, on_step, buf), 0);
	ck_assert_str_eq(buf, "load#1:SUCCEEDED:10-20:ok;"
			      "extract#1:RUNNING:20-0:;");

	/* a new list replaces the old one as a whole */
	struct store_step second[] = {{"load#2", RUN_FAILED, 0, 0, "boom"}};
	ck_assert_int_eq(store_steps_replace(s, r1.id, second, 1), 0);
	buf[0] = '\0';
	ck_assert_int_eq(store_steps(s, r1.id, on_step, buf), 0);
	ck_assert_str_eq(buf, "load#2:FAILED:0-0:boom;");
	buf[0] = '\0';
	ck_assert_int_eq(store_steps(s, r2.id, on_step, buf), 0);
	ck_assert_str_eq(buf, "");

	/* a rolled back replace leaves the steps as they were */
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(store_steps_replace(s, r1.id, first, 2), 0);
	store_rollback(s);
	buf[0] = '\0';
	ck_assert_int_eq(store_steps(s, r1.id, on_step, buf), 0);
	ck_assert_str_eq(buf, "load#2:FAILED:0-0:boom;");

	/* steps go with their run; a run that is gone takes none */
	ck_assert_int_eq(store_run_delete(s, r1.id), 0);
	assert_raw("SELECT count(*) FROM steps", "0");
	ck_assert_int_eq(store_steps_replace(s, r1.id, second, 1), -ENOENT);
	ck_assert_int_eq(store_steps_replace(s, r2.id, second, 1), 0);
	ck_assert_int_eq(store_job_delete(s, job.id), 0);
	assert_raw("SELECT count(*) FROM steps", "0");
	store_close(s);
}
END_TEST

START_TEST(delete_cascades)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl"), other = make_job("keep");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	ck_assert_int_eq(store_job_save(s, &other), 0);
	struct store_run run = make_run(job.id, 1),
			 kept = make_run(other.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	ck_assert_int_eq(store_run_insert(s, &kept), 0);
	add_event(s, run.id, 1, "NONE", "DEPLOYING", "");
	add_event(s, kept.id, 1, "NONE", "DEPLOYING", "");

	ck_assert_int_eq(store_job_delete(s, job.id), 0);
	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 1);
	ck_assert_str_eq(l.jobs[0].name, "keep");
	ck_assert_int_eq(l.nruns, 1);
	ck_assert_int_eq(l.runs[0].job_id, other.id);
	loaded_release(&l);
	assert_raw("SELECT count(*) FROM events", "1");
	assert_raw("SELECT count(*) FROM runs", "1");
	store_close(s);
}
END_TEST

START_TEST(constraints)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl"), dup = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	ck_assert_int_eq(store_job_save(s, &dup), -EEXIST);
	ck_assert_int_eq(dup.id, 0);
	struct store_run run = make_run(job.id, 1), again = make_run(job.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	ck_assert_int_eq(store_run_insert(s, &again), -EEXIST);
	struct store_run orphan = make_run(job.id + 9, 1);
	ck_assert_int_eq(store_run_insert(s, &orphan), -ENOENT);
	struct store_job nameless = make_job(NULL);
	ck_assert_int_eq(store_job_save(s, &nameless), -EINVAL);
	/* the statements are reusable after each failure */
	struct store_job next = make_job("next");
	ck_assert_int_eq(store_job_save(s, &next), 0);
	store_close(s);
}
END_TEST

START_TEST(reopen_keeps_data)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	struct store_run run = make_run(job.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	store_close(s);

	s = open_store();
	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 1);
	ck_assert_str_eq(l.jobs[0].name, "etl");
	ck_assert_int_eq(l.nruns, 1);
	assert_run_eq(&l.runs[0], &run);
	loaded_release(&l);
	store_close(s);
}
END_TEST

/* A file written by schema 1 (before submit_started_at) is migrated. */
START_TEST(migrates_version_1)
{
	raw_exec(
	    "CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT UNIQUE "
	    "NOT NULL, platform TEXT NOT NULL, config TEXT NOT NULL, "
	    "version INTEGER NOT NULL, created_at REAL, updated_at REAL);"
	    "CREATE TABLE runs (id INTEGER PRIMARY KEY, job_id INTEGER NOT "
	    "NULL REFERENCES jobs(id) ON DELETE CASCADE, number INTEGER "
	    "NOT NULL, version INTEGER NOT NULL, platform TEXT NOT NULL, "
	    "remote_id TEXT, state TEXT NOT NULL, platform_state TEXT, "
	    "overrides TEXT, error TEXT, exit_code INTEGER, attempts "
	    "INTEGER NOT NULL DEFAULT 0, submitted_at REAL, started_at "
	    "REAL, ended_at REAL, updated_at REAL, UNIQUE (job_id, "
	    "number));"
	    "CREATE TABLE events (id INTEGER PRIMARY KEY, run_id INTEGER "
	    "NOT NULL, time REAL NOT NULL, old_state TEXT NOT NULL, "
	    "new_state TEXT NOT NULL, source TEXT NOT NULL, message TEXT "
	    "NOT NULL);"
	    "INSERT INTO jobs VALUES (1, 'old', 'local', '{}', 1, 1, 1);"
	    "INSERT INTO runs (job_id, number, version, platform, state) "
	    "VALUES (1, 1, 1, 'local', 'RUNNING');"
	    "PRAGMA user_version = 1;");
	struct store *s = open_store();
	char want[16];
	snprintf(want, sizeof(want), "%d", STORE_SCHEMA_VERSION);
	assert_raw("PRAGMA user_version", want);
	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.nruns, 1);
	ck_assert_int_eq(l.runs[0].state, RUN_RUNNING);
	ck_assert_double_eq(l.runs[0].submit_started_at, 0);
	struct store_run run = l.runs[0];
	run.submit_started_at = 1700000000.25;
	ck_assert_int_eq(store_run_update(s, &run), 0);
	loaded_release(&l);
	/* the rebuilt tables still cascade, and ids go on from the old */
	struct store_job job = make_job("new");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	ck_assert_int_eq(job.id, 2);
	struct store_step step = {"load#1", RUN_RUNNING, 5, 0, ""};
	ck_assert_int_eq(store_steps_replace(s, run.id, &step, 1), 0);
	ck_assert_int_eq(store_job_delete(s, 1), 0);
	assert_raw("SELECT count(*) FROM steps", "0");
	store_close(s);
	assert_raw("SELECT count(*) FROM runs", "0");
}
END_TEST

/*
 * A removed job's or run's id is never given to a new one: jobs/ID and
 * runs/ID name directories, and a leftover of the old must never become
 * part of the new (schema 3).
 */
START_TEST(ids_never_reused)
{
	struct store *s = open_store();
	struct store_job a = make_job("a"), b = make_job("b");
	ck_assert_int_eq(store_job_save(s, &a), 0);
	struct store_run run = make_run(a.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	int64_t old_job = a.id, old_run = run.id;
	ck_assert_int_eq(store_job_delete(s, a.id), 0);
	ck_assert_int_eq(store_job_save(s, &b), 0);
	struct store_run again = make_run(b.id, 1);
	ck_assert_int_eq(store_run_insert(s, &again), 0);
	ck_assert_int_gt(b.id, old_job);
	ck_assert_int_gt(again.id, old_run);
	store_close(s);
}
END_TEST

START_TEST(newer_schema_refused)
{
	raw_exec("PRAGMA user_version = 99");
	struct store *s = NULL;
	ck_assert_int_eq(store_open(db_path, &s), -EPROTO);
	ck_assert_ptr_null(s);
	assert_raw("PRAGMA user_version", "99");
}
END_TEST

START_TEST(unknown_state_is_eio)
{
	struct store *s = open_store();
	struct store_job job = make_job("etl");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	struct store_run run = make_run(job.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	raw_exec("UPDATE runs SET state = 'BOGUS'");
	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), -EIO);
	ck_assert_int_eq(l.nruns, 0);
	loaded_release(&l);
	store_close(s);
}
END_TEST

START_TEST(callback_stops_load)
{
	struct store *s = open_store();
	const char *names[] = {"c", "a", "b"};
	for (int i = 0; i < 3; i++) {
		struct store_job job = make_job(names[i]);
		ck_assert_int_eq(store_job_save(s, &job), 0);
	}
	struct loaded l = {.stop_after = 2};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 7);
	ck_assert_int_eq(l.njobs, 2);
	ck_assert_str_eq(l.jobs[0].name, "a");
	ck_assert_str_eq(l.jobs[1].name, "b");
	loaded_release(&l);
	/* the walk's statement was reset: a new load sees all */
	struct loaded all = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &all), 0);
	ck_assert_int_eq(all.njobs, 3);
	loaded_release(&all);
	store_close(s);
}
END_TEST

START_TEST(rollback_discards)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_begin(s), 0);
	ck_assert_int_eq(store_begin(s), -EBUSY);
	struct store_job job = make_job("gone");
	ck_assert_int_eq(store_job_save(s, &job), 0);
	store_rollback(s);
	store_rollback(s); /* no transaction: nothing to do */
	ck_assert_int_eq(store_commit(s), -EINVAL);

	ck_assert_int_eq(store_begin(s), 0);
	struct store_job kept = make_job("kept");
	ck_assert_int_eq(store_job_save(s, &kept), 0);
	ck_assert_int_eq(store_commit(s), 0);

	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 1);
	ck_assert_str_eq(l.jobs[0].name, "kept");
	loaded_release(&l);
	store_close(s);
}
END_TEST

struct waiter {
	struct store *store;
	int rc;
	_Atomic bool is_done;
};

static void *save_other_job(void *arg)
{
	struct waiter *w = arg;
	struct store_job job = make_job("other");
	w->rc = store_job_save(w->store, &job);
	w->is_done = true;
	return NULL;
}

START_TEST(commit_while_other_thread_waits)
{
	struct store *s = open_store();
	ck_assert_int_eq(store_begin(s), 0);
	struct store_job job = make_job("mine");
	ck_assert_int_eq(store_job_save(s, &job), 0);

	struct waiter w = {.store = s};
	pthread_t thread;
	ck_assert_int_eq(pthread_create(&thread, NULL, save_other_job, &w), 0);
	usleep(50 * 1000);
	ck_assert(!w.is_done); /* it waits for our transaction */
	struct store_run run = make_run(job.id, 1);
	ck_assert_int_eq(store_run_insert(s, &run), 0);
	ck_assert_int_eq(store_commit(s), 0);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert(w.is_done);
	ck_assert_int_eq(w.rc, 0);

	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, 2);
	ck_assert_int_eq(l.nruns, 1);
	loaded_release(&l);
	store_close(s);
}
END_TEST

START_TEST(load_many)
{
	enum { N = 20000 };
	struct store *s = open_store();
	ck_assert_int_eq(store_begin(s), 0);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "job-%05d", i);
		struct store_job job = make_job(name);
		ck_assert_int_eq(store_job_save(s, &job), 0);
		struct store_run run = make_run(job.id, 1);
		ck_assert_int_eq(store_run_insert(s, &run), 0);
	}
	ck_assert_int_eq(store_commit(s), 0);
	struct loaded l = {0};
	ck_assert_int_eq(store_load(s, on_job, on_run, &l), 0);
	ck_assert_int_eq(l.njobs, N);
	ck_assert_int_eq(l.nruns, N);
	ck_assert_str_eq(l.jobs[3].name, "job-00003");
	loaded_release(&l);
	store_close(s);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_unchecked_fixture(tc, make_root, remove_root);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, open_creates_schema);
	tcase_add_test(tc, round_trip_every_field);
	tcase_add_test(tc, updates_and_missing_rows);
	tcase_add_test(tc, events_ordered_and_filtered);
	tcase_add_test(tc, steps_replaced_in_order);
	tcase_add_test(tc, delete_cascades);
	tcase_add_test(tc, constraints);
	tcase_add_test(tc, reopen_keeps_data);
	tcase_add_test(tc, migrates_version_1);
	tcase_add_test(tc, ids_never_reused);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, unknown_state_is_eio);
	tcase_add_test(tc, callback_stops_load);
	tcase_add_test(tc, rollback_discards);
	tcase_add_test(tc, commit_while_other_thread_waits);
	tcase_add_test(tc, load_many);
	suite_add_tcase(suite, tc);
	return check_main_run(suite);
}
