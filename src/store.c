/*
 * The SQLite store.
 *
 * One connection serialized behind the store's mutex: statements are
 * prepared once in store_open() into an array indexed by enum stmt, and
 * every use of one ends in stmt_done(), which resets it and clears its
 * bindings, so no statement is ever left holding a read snapshot or a
 * borrowed string.
 *
 * A transaction (store_begin() .. store_commit()/store_rollback()) holds the
 * mutex throughout; the owning thread is recorded so that its own calls in
 * between do not lock again, while every other thread waits on the mutex.
 * Outside a transaction each call is its own autocommit statement.
 *
 * Callbacks of store_load() and store_events() run with the mutex held and
 * get strings borrowed from the statement, valid only during the call, so
 * loading allocates nothing per row. A callback must not call the store
 * unless its thread owns an open transaction.
 *
 * The schema version lives in PRAGMA user_version. migrations[] lists the
 * steps; each runs in its own transaction together with the user_version
 * it reaches, so a crash leaves the file at a whole step.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How long a statement waits for another connection's lock before -EBUSY */
#define STORE_BUSY_TIMEOUT_MS 10000

static const struct migration {
	int version;
	const char *sql;
} migrations[] = {
    {1,
     "-- one row per deployed job\n"
     "CREATE TABLE jobs (\n"
     "	id INTEGER PRIMARY KEY,\n"
     "	name TEXT UNIQUE NOT NULL,  -- directory name in the mount\n"
     "	platform TEXT NOT NULL,     -- configured platform name\n"
     "	config TEXT NOT NULL,       -- config as deployed, redacted\n"
     "	version INTEGER NOT NULL,   -- bundle version, 1..\n"
     "	created_at REAL,            -- epoch seconds\n"
     "	updated_at REAL             -- epoch seconds\n"
     ");\n"
     "-- one row per run of a job\n"
     "CREATE TABLE runs (\n"
     "	id INTEGER PRIMARY KEY,\n"
     "	job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
     "	number INTEGER NOT NULL,    -- 1.. within the job\n"
     "	version INTEGER NOT NULL,   -- bundle version the run uses\n"
     "	platform TEXT NOT NULL,     -- platform name at submission\n"
     "	remote_id TEXT,             -- platform's id, NULL until known\n"
     "	state TEXT NOT NULL,        -- state_name(), e.g. RUNNING\n"
     "	platform_state TEXT,        -- platform's raw state name\n"
     "	overrides TEXT,             -- JSON of the run override\n"
     "	error TEXT,                 -- why it failed, NULL if not\n"
     "	exit_code INTEGER,          -- NULL when none\n"
     "	attempts INTEGER NOT NULL DEFAULT 0, -- submissions so far\n"
     "	submitted_at REAL,          -- epoch seconds, NULL: not yet\n"
     "	started_at REAL,\n"
     "	ended_at REAL,\n"
     "	updated_at REAL,\n"
     "	UNIQUE (job_id, number)\n"
     ");\n"
     "CREATE INDEX runs_job_id ON runs (job_id);\n"
     "-- one row per state change of a run\n"
     "CREATE TABLE events (\n"
     "	id INTEGER PRIMARY KEY,     -- breaks ties between equal times\n"
     "	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "	time REAL NOT NULL,         -- epoch seconds\n"
     "	old_state TEXT NOT NULL,    -- NONE for a run's first event\n"
     "	new_state TEXT NOT NULL,\n"
     "	source TEXT NOT NULL,       -- deploy, poller, read, user, ...\n"
     "	message TEXT NOT NULL       -- may be empty\n"
     ");\n"
     "CREATE INDEX events_run_id ON events (run_id);\n"},
    {2, "-- set while a submit is in flight: a daemon that dies then leaves\n"
	"-- it behind, and the next one reconciles before submitting again\n"
	"ALTER TABLE runs ADD COLUMN submit_started_at REAL;\n"},
    {3,
     "-- ids are never used twice (AUTOINCREMENT): jobs/ID and runs/ID\n"
     "-- name directories, and a removed job's leftovers must never\n"
     "-- become a new job's. SQLite adds AUTOINCREMENT only by rebuilding\n"
     "-- (foreign keys are off while migrations run).\n"
     "CREATE TABLE jobs_v3 (\n"
     "	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "	name TEXT UNIQUE NOT NULL,\n"
     "	platform TEXT NOT NULL,\n"
     "	config TEXT NOT NULL,\n"
     "	version INTEGER NOT NULL,\n"
     "	created_at REAL,\n"
     "	updated_at REAL\n"
     ");\n"
     "INSERT INTO jobs_v3 SELECT * FROM jobs;\n"
     "DROP TABLE jobs;\n"
     "ALTER TABLE jobs_v3 RENAME TO jobs;\n"
     "CREATE TABLE runs_v3 (\n"
     "	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
     "	job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
     "	number INTEGER NOT NULL,\n"
     "	version INTEGER NOT NULL,\n"
     "	platform TEXT NOT NULL,\n"
     "	remote_id TEXT,\n"
     "	state TEXT NOT NULL,\n"
     "	platform_state TEXT,\n"
     "	overrides TEXT,\n"
     "	error TEXT,\n"
     "	exit_code INTEGER,\n"
     "	attempts INTEGER NOT NULL DEFAULT 0,\n"
     "	submitted_at REAL,\n"
     "	started_at REAL,\n"
     "	ended_at REAL,\n"
     "	updated_at REAL,\n"
     "	submit_started_at REAL,\n"
     "	UNIQUE (job_id, number)\n"
     ");\n"
     "INSERT INTO runs_v3 SELECT * FROM runs;\n"
     "DROP TABLE runs;\n"
     "ALTER TABLE runs_v3 RENAME TO runs;\n"
     "CREATE INDEX runs_job_id ON runs (job_id);\n"},
    {4,
     "-- the steps of a run (task instances, states, tasks) as its\n"
     "-- platform last listed them, in order; replaced as a whole\n"
     "CREATE TABLE steps (\n"
     "	run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "	seq INTEGER NOT NULL,       -- 0.. in the platform's order\n"
     "	name TEXT NOT NULL,         -- unique within the run\n"
     "	state TEXT NOT NULL,        -- state_name(), e.g. RUNNING\n"
     "	started_at REAL,            -- epoch seconds, NULL: unknown\n"
     "	ended_at REAL,\n"
     "	message TEXT NOT NULL,      -- may be empty\n"
     "	PRIMARY KEY (run_id, seq)\n"
     ");\n"},
};

enum stmt {
	STMT_BEGIN,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_JOB_INSERT,
	STMT_JOB_UPDATE,
	STMT_JOB_DELETE,
	STMT_RUN_DELETE,
	STMT_RUN_INSERT,
	STMT_RUN_UPDATE,
	STMT_EVENT_INSERT,
	STMT_JOBS_LOAD,
	STMT_RUNS_LOAD,
	STMT_EVENTS_OF_JOB,
	STMT_EVENTS_OF_RUN,
	STMT_STEPS_DELETE,
	STMT_STEP_INSERT,
	STMT_STEPS_OF_RUN,
	STMT_COUNT
};

/*
 * Run columns: ?1..?5 are fixed at insert, ?6..?16 are the mutable ones
 * that bind_run_state() fills for both insert and update.
 */
#define RUN_MUTABLE_SET                                                        \
	"remote_id = ?6, state = ?7, platform_state = ?8, error = ?9, "        \
	"exit_code = ?10, attempts = ?11, submitted_at = ?12, "                \
	"started_at = ?13, ended_at = ?14, updated_at = ?15, "                 \
	"submit_started_at = ?16"
#define RUN_COLUMNS                                                            \
	"id, job_id, number, version, platform, overrides, remote_id, state, " \
	"platform_state, error, exit_code, attempts, submitted_at, "           \
	"started_at, ended_at, updated_at, submit_started_at"
#define EVENT_SELECT                                                           \
	"SELECT e.time, r.number, e.old_state, e.new_state, e.source, "        \
	"e.message FROM events AS e JOIN runs AS r ON r.id = e.run_id "

static const struct {
	const char *what; /* completes "cannot ..." in error messages */
	const char *sql;
} stmt_defs[STMT_COUNT] = {
    /* IMMEDIATE: take the write lock now, not at the first write */
    [STMT_BEGIN] = {"begin a transaction", "BEGIN IMMEDIATE"},
    [STMT_COMMIT] = {"commit a transaction", "COMMIT"},
    [STMT_ROLLBACK] = {"roll back a transaction", "ROLLBACK"},
    [STMT_JOB_INSERT] = {"insert a job",
			 "INSERT INTO jobs (name, platform, config, "
			 "version, created_at, updated_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    [STMT_JOB_UPDATE] = {"update a job",
			 "UPDATE jobs SET name = ?1, platform = ?2, "
			 "config = ?3, version = ?4, created_at = ?5, "
			 "updated_at = ?6 WHERE id = ?7"},
    [STMT_JOB_DELETE] = {"delete a job", "DELETE FROM jobs WHERE id = ?1"},
    [STMT_RUN_DELETE] = {"delete a run", "DELETE FROM runs WHERE id = ?1"},
    [STMT_RUN_INSERT] = {"insert a run",
			 "INSERT INTO runs (job_id, number, version, "
			 "platform, overrides, remote_id, state, "
			 "platform_state, error, exit_code, attempts, "
			 "submitted_at, started_at, ended_at, updated_at, "
			 "submit_started_at) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
			 "?10, ?11, ?12, ?13, ?14, ?15, ?16)"},
    [STMT_RUN_UPDATE] = {"update a run",
			 "UPDATE runs SET " RUN_MUTABLE_SET " WHERE id = ?1"},
    [STMT_EVENT_INSERT] = {"insert an event",
			   "INSERT INTO events (run_id, time, old_state, "
			   "new_state, source, message) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
    [STMT_JOBS_LOAD] = {"load jobs",
			"SELECT id, name, platform, config, version, "
			"created_at, updated_at FROM jobs ORDER BY name"},
    [STMT_RUNS_LOAD] = {"load runs", "SELECT " RUN_COLUMNS " FROM runs "
				     "ORDER BY job_id, number"},
    [STMT_EVENTS_OF_JOB] = {"load events", EVENT_SELECT
			    "WHERE r.job_id = ?1 ORDER BY e.time, e.id"},
    [STMT_EVENTS_OF_RUN] = {"load events",
			    EVENT_SELECT "WHERE r.job_id = ?1 AND "
					 "e.run_id = ?2 "
					 "ORDER BY e.time, e.id"},
    [STMT_STEPS_DELETE] = {"delete steps",
			   "DELETE FROM steps WHERE run_id = ?1"},
    [STMT_STEP_INSERT] = {"insert a step",
			  "INSERT INTO steps (run_id, seq, name, state, "
			  "started_at, ended_at, message) "
			  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
    [STMT_STEPS_OF_RUN] = {"load steps",
			   "SELECT name, state, started_at, ended_at, message "
			   "FROM steps WHERE run_id = ?1 ORDER BY seq"},
};

struct store {
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;
	/* the thread inside store_begin() .. commit/rollback, if any */
	_Atomic pthread_t owner;
	atomic_bool has_owner;
	sqlite3_stmt *stmts[STMT_COUNT];
};

/* Turns a failed SQLite result code into a negative errno, logging it. */
static int store_fail(struct store *s, int code, const char *what)
{
	switch (code) {
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT; /* the job or run referred to is gone */
	case SQLITE_CONSTRAINT_NOTNULL:
		return -EINVAL;
	}
	switch (code & 0xff) {
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	}
	log_error("cannot %s in '%s': %s", what, s->path,
		  sqlite3_errmsg(s->db));
	/* SQLITE_BUSY here means the busy timeout has run out */
	return (code & 0xff) == SQLITE_BUSY ? -EBUSY : -EIO;
}

static bool is_owner(struct store *s)
{
	return atomic_load(&s->has_owner) &&
	       pthread_equal(atomic_load(&s->owner), pthread_self());
}

/* Locks unless this thread already holds the lock for its transaction. */
static bool store_enter(struct store *s)
{
	if (is_owner(s))
		return false;
	pthread_mutex_lock(&s->lock);
	return true;
}

static void store_leave(struct store *s, bool locked)
{
	if (locked)
		pthread_mutex_unlock(&s->lock);
}

/* Ends every use of a statement. */
static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/*
 * Steps a statement that returns no rows. @bound is the result of binding
 * its parameters; with @must_change, touching no row is -ENOENT.
 */
static int stmt_exec(struct store *s, enum stmt id, int bound, bool must_change)
{
	sqlite3_stmt *st = s->stmts[id];
	int code = bound != SQLITE_OK ? bound : sqlite3_step(st);
	int rc = 0;
	if (code != SQLITE_DONE)
		rc = store_fail(s, code, stmt_defs[id].what);
	else if (must_change && sqlite3_changes(s->db) == 0)
		rc = -ENOENT;
	stmt_done(st);
	return rc;
}

/*
 * Steps a query to its end, calling @row for each row; a non-zero return
 * of @row stops the walk and is returned.
 */
static int stmt_walk(struct store *s, enum stmt id, int bound,
		     int (*row)(struct store *s, sqlite3_stmt *st, void *arg),
		     void *arg)
{
	sqlite3_stmt *st = s->stmts[id];
	int code = bound;
	int rc = 0;
	while (rc == 0 && code == SQLITE_OK) {
		code = sqlite3_step(st);
		if (code == SQLITE_ROW) {
			rc = row(s, st, arg);
			code = SQLITE_OK;
		}
	}
	if (rc == 0 && code != SQLITE_DONE)
		rc = store_fail(s, code, stmt_defs[id].what);
	stmt_done(st);
	return rc;
}

/* SQLite's code for the last failed bind, which records it on the db */
static int bind_failure(sqlite3_stmt *st)
{
	return sqlite3_errcode(sqlite3_db_handle(st));
}

/* Binds a time; 0 means "not yet" and is stored as NULL. */
static int bind_time(sqlite3_stmt *st, int i, double t)
{
	return t == 0 ? sqlite3_bind_null(st, i)
		      : sqlite3_bind_double(st, i, t);
}

/* Binds an exit code; -1 means none and is stored as NULL. */
static int bind_exit_code(sqlite3_stmt *st, int i, int code)
{
	return code == -1 ? sqlite3_bind_null(st, i)
			  : sqlite3_bind_int(st, i, code);
}

/* Binds a borrowed string, NULL as NULL. */
static int bind_str(sqlite3_stmt *st, int i, const char *str)
{
	return sqlite3_bind_text(st, i, str, -1, SQLITE_STATIC);
}

static int bind_job(sqlite3_stmt *st, const struct store_job *job)
{
	bool is_failed = bind_str(st, 1, job->name) ||
			 bind_str(st, 2, job->platform) ||
			 bind_str(st, 3, job->config) ||
			 sqlite3_bind_int(st, 4, job->version) ||
			 bind_time(st, 5, job->created_at) ||
			 bind_time(st, 6, job->updated_at);
	return is_failed ? bind_failure(st) : SQLITE_OK;
}

/* Binds the columns a run update may change, ?6..?16. */
static int bind_run_state(sqlite3_stmt *st, const struct store_run *run)
{
	bool is_failed = bind_str(st, 6, run->remote_id) ||
			 bind_str(st, 7, state_name(run->state)) ||
			 bind_str(st, 8, run->platform_state) ||
			 bind_str(st, 9, run->error) ||
			 bind_exit_code(st, 10, run->exit_code) ||
			 sqlite3_bind_int(st, 11, run->attempts) ||
			 bind_time(st, 12, run->submitted_at) ||
			 bind_time(st, 13, run->started_at) ||
			 bind_time(st, 14, run->ended_at) ||
			 bind_time(st, 15, run->updated_at) ||
			 bind_time(st, 16, run->submit_started_at);
	return is_failed ? bind_failure(st) : SQLITE_OK;
}

/* Binds every column of a new run, ?1..?16. */
static int bind_run(sqlite3_stmt *st, const struct store_run *run)
{
	bool is_failed = sqlite3_bind_int64(st, 1, run->job_id) ||
			 sqlite3_bind_int(st, 2, run->number) ||
			 sqlite3_bind_int(st, 3, run->version) ||
			 bind_str(st, 4, run->platform) ||
			 bind_str(st, 5, run->overrides);
	return is_failed ? bind_failure(st) : bind_run_state(st, run);
}

static int bind_event(sqlite3_stmt *st, int64_t run_id,
		      const struct store_event *ev)
{
	bool is_failed =
	    sqlite3_bind_int64(st, 1, run_id) ||
	    sqlite3_bind_double(st, 2, ev->time) ||
	    bind_str(st, 3, ev->old_state) || bind_str(st, 4, ev->new_state) ||
	    bind_str(st, 5, ev->source) || bind_str(st, 6, ev->message);
	return is_failed ? bind_failure(st) : SQLITE_OK;
}

static int bind_step(sqlite3_stmt *st, int64_t run_id, int seq,
		     const struct store_step *step)
{
	bool is_failed = sqlite3_bind_int64(st, 1, run_id) ||
			 sqlite3_bind_int(st, 2, seq) ||
			 bind_str(st, 3, step->name) ||
			 bind_str(st, 4, state_name(step->state)) ||
			 bind_time(st, 5, step->started_at) ||
			 bind_time(st, 6, step->ended_at) ||
			 bind_str(st, 7, step->message ? step->message : "");
	return is_failed ? bind_failure(st) : SQLITE_OK;
}

/* A text column, borrowed from the statement until its next step. */
static char *column_str(sqlite3_stmt *st, int i)
{
	return (char *)sqlite3_column_text(st, i);
}

/* Callbacks and their context, for the row functions below */
struct walk {
	int (*on_job)(void *ctx, const struct store_job *job);
	int (*on_run)(void *ctx, const struct store_run *run);
	int (*on_event)(void *ctx, const struct store_event *ev);
	int (*on_step)(void *ctx, const struct store_step *step);
	void *ctx;
};

static int job_row(struct store *s, sqlite3_stmt *st, void *arg)
{
	const struct walk *w = arg;
	struct store_job job = {
	    .id = sqlite3_column_int64(st, 0),
	    .name = column_str(st, 1),
	    .platform = column_str(st, 2),
	    .config = column_str(st, 3),
	    .version = sqlite3_column_int(st, 4),
	    .created_at = sqlite3_column_double(st, 5),
	    .updated_at = sqlite3_column_double(st, 6),
	};
	return w->on_job(w->ctx, &job);
}

static int run_row(struct store *s, sqlite3_stmt *st, void *arg)
{
	const struct walk *w = arg;
	struct store_run run = {
	    .id = sqlite3_column_int64(st, 0),
	    .job_id = sqlite3_column_int64(st, 1),
	    .number = sqlite3_column_int(st, 2),
	    .version = sqlite3_column_int(st, 3),
	    .platform = column_str(st, 4),
	    .overrides = column_str(st, 5),
	    .remote_id = column_str(st, 6),
	    .platform_state = column_str(st, 8),
	    .error = column_str(st, 9),
	    .exit_code = sqlite3_column_type(st, 10) == SQLITE_NULL
			     ? -1
			     : sqlite3_column_int(st, 10),
	    .attempts = sqlite3_column_int(st, 11),
	    .submitted_at = sqlite3_column_double(st, 12),
	    .started_at = sqlite3_column_double(st, 13),
	    .ended_at = sqlite3_column_double(st, 14),
	    .updated_at = sqlite3_column_double(st, 15),
	    .submit_started_at = sqlite3_column_double(st, 16),
	};
	const char *state = column_str(st, 7);
	if (state_parse(state, &run.state) != 0) {
		log_error("cannot load run %lld from '%s': unknown state '%s'",
			  (long long)run.id, s->path, state);
		return -EIO;
	}
	return w->on_run(w->ctx, &run);
}

static int event_row(struct store *s, sqlite3_stmt *st, void *arg)
{
	const struct walk *w = arg;
	struct store_event ev = {
	    .time = sqlite3_column_double(st, 0),
	    .run_number = sqlite3_column_int(st, 1),
	    .old_state = column_str(st, 2),
	    .new_state = column_str(st, 3),
	    .source = column_str(st, 4),
	    .message = column_str(st, 5),
	};
	return w->on_event(w->ctx, &ev);
}

static int step_row(struct store *s, sqlite3_stmt *st, void *arg)
{
	const struct walk *w = arg;
	struct store_step step = {
	    .name = column_str(st, 0),
	    .started_at = sqlite3_column_double(st, 2),
	    .ended_at = sqlite3_column_double(st, 3),
	    .message = column_str(st, 4),
	};
	const char *state = column_str(st, 1);
	if (state_parse(state, &step.state) != 0) {
		log_error("cannot load step '%s' from '%s': unknown state "
			  "'%s'",
			  step.name, s->path, state);
		return -EIO;
	}
	return w->on_step(w->ctx, &step);
}

/* Runs SQL text (no rows wanted) outside the statement table. */
static int store_exec(struct store *s, const char *sql, const char *what)
{
	int code = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return code == SQLITE_OK ? 0 : store_fail(s, code, what);
}

/* Prepares a one-off query and steps it to its first row. */
static int query_row(struct store *s, const char *sql, const char *what,
		     sqlite3_stmt **st_out)
{
	int code = sqlite3_prepare_v2(s->db, sql, -1, st_out, NULL);
	if (code == SQLITE_OK)
		code = sqlite3_step(*st_out);
	if (code == SQLITE_ROW)
		return 0;
	int rc = store_fail(s, code == SQLITE_DONE ? SQLITE_ERROR : code, what);
	sqlite3_finalize(*st_out);
	return rc;
}

static int read_user_version(struct store *s, int *version_out)
{
	sqlite3_stmt *st;
	int rc =
	    query_row(s, "PRAGMA user_version", "read the schema version", &st);
	if (rc)
		return rc;
	*version_out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* WAL: readers never block the writer, and a commit is one append. */
static int use_wal(struct store *s)
{
	sqlite3_stmt *st;
	int rc = query_row(s, "PRAGMA journal_mode = WAL", "enable WAL", &st);
	if (rc)
		return rc;
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || sqlite3_stricmp(mode, "wal") != 0)
		log_warn("cannot use WAL for '%s': journal mode is '%s'",
			 s->path, mode ? mode : "unknown");
	sqlite3_finalize(st);
	return 0;
}

static int set_pragmas(struct store *s)
{
	/* another process (or a checkpoint) may briefly hold the lock */
	int code = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (code != SQLITE_OK)
		return store_fail(s, code, "set the busy timeout");
	int rc = use_wal(s);
	/* a deploy's close() promises the job is recorded: sync each commit */
	if (rc == 0)
		rc = store_exec(s, "PRAGMA synchronous = FULL",
				"set synchronous mode");
	return rc;
}

/*
 * Runs and events go with their job (ON DELETE CASCADE). Enabled only
 * after the migrations: a table rebuild drops the old table, which with
 * foreign keys on would cascade into its children.
 */
static int enable_foreign_keys(struct store *s)
{
	return store_exec(s, "PRAGMA foreign_keys = ON", "enable foreign keys");
}

/* Runs one migration step and records its version, atomically. */
static int migrate_step(struct store *s, const struct migration *step)
{
	char set_version[64];
	snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d",
		 step->version);
	int rc = store_exec(s, "BEGIN IMMEDIATE", "begin a migration");
	if (rc)
		return rc;
	rc = store_exec(s, step->sql, "migrate the schema");
	if (rc == 0)
		rc = store_exec(s, set_version, "set the schema version");
	if (rc == 0)
		rc = store_exec(s, "COMMIT", "commit a migration");
	if (rc && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == 0)
		log_info("migrated '%s' to schema %d", s->path, step->version);
	return rc;
}

static int migrate(struct store *s)
{
	int version;
	int rc = read_user_version(s, &version);
	if (rc)
		return rc;
	if (version > STORE_SCHEMA_VERSION) {
		log_error("state database schema %d is newer than this jobfs "
			  "(%d)",
			  version, STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (size_t i = 0; i < ARRAY_SIZE(migrations) && rc == 0; i++)
		if (migrations[i].version > version)
			rc = migrate_step(s, &migrations[i]);
	return rc;
}

static int prepare_all(struct store *s)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		int code = sqlite3_prepare_v3(s->db, stmt_defs[i].sql, -1,
					      SQLITE_PREPARE_PERSISTENT,
					      &s->stmts[i], NULL);
		if (code != SQLITE_OK)
			return store_fail(s, code, "prepare a statement");
	}
	return 0;
}

static int open_db(struct store *s)
{
	/* NOMUTEX: the store's own mutex serializes the connection */
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	int code = sqlite3_open_v2(s->path, &s->db, flags, NULL);
	if (code == SQLITE_NOMEM || !s->db)
		return -ENOMEM;
	if (code != SQLITE_OK)
		return store_fail(s, code, "open the state database");
	/* tells a foreign key failure (-ENOENT) from a duplicate (-EEXIST) */
	sqlite3_extended_result_codes(s->db, 1);
	return 0;
}

int store_open(const char *path, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int rc = -pthread_mutex_init(&s->lock, NULL);
	if (rc) {
		free(s);
		return rc;
	}
	s->path = strdup(path);
	rc = s->path ? open_db(s) : -ENOMEM;
	if (rc == 0)
		rc = set_pragmas(s);
	if (rc == 0)
		rc = migrate(s);
	if (rc == 0)
		rc = enable_foreign_keys(s);
	if (rc == 0)
		rc = prepare_all(s);
	if (rc) {
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_error("cannot close '%s': %s", s->path,
			  sqlite3_errmsg(s->db));
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

int store_begin(struct store *s)
{
	if (is_owner(s)) {
		log_error("cannot begin a transaction in '%s': one is open",
			  s->path);
		return -EBUSY;
	}
	pthread_mutex_lock(&s->lock);
	int rc = stmt_exec(s, STMT_BEGIN, SQLITE_OK, false);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	atomic_store(&s->owner, pthread_self());
	atomic_store(&s->has_owner, true);
	return 0;
}

static void store_release_owner(struct store *s)
{
	atomic_store(&s->has_owner, false);
	pthread_mutex_unlock(&s->lock);
}

/* A failed commit rolls back, so the caller need not (but may) roll back. */
int store_commit(struct store *s)
{
	if (!is_owner(s)) {
		log_error("cannot commit in '%s': no transaction is open",
			  s->path);
		return -EINVAL;
	}
	int rc = stmt_exec(s, STMT_COMMIT, SQLITE_OK, false);
	if (rc && !sqlite3_get_autocommit(s->db))
		stmt_exec(s, STMT_ROLLBACK, SQLITE_OK, false);
	store_release_owner(s);
	return rc;
}

/* Does nothing unless the calling thread has a transaction open. */
void store_rollback(struct store *s)
{
	if (!is_owner(s))
		return;
	/* SQLite may have rolled back already after an I/O or full error */
	if (!sqlite3_get_autocommit(s->db))
		stmt_exec(s, STMT_ROLLBACK, SQLITE_OK, false);
	store_release_owner(s);
}

int store_job_save(struct store *s, struct store_job *job)
{
	bool locked = store_enter(s);
	int rc;
	if (job->id == 0) {
		sqlite3_stmt *st = s->stmts[STMT_JOB_INSERT];
		rc = stmt_exec(s, STMT_JOB_INSERT, bind_job(st, job), false);
		if (rc == 0)
			job->id = sqlite3_last_insert_rowid(s->db);
	} else {
		sqlite3_stmt *st = s->stmts[STMT_JOB_UPDATE];
		int bound = bind_job(st, job);
		if (bound == SQLITE_OK)
			bound = sqlite3_bind_int64(st, 7, job->id);
		rc = stmt_exec(s, STMT_JOB_UPDATE, bound, true);
	}
	store_leave(s, locked);
	return rc;
}

/* Runs the DELETE statement @id for the row @row_id (-ENOENT: none). */
static int delete_row(struct store *s, enum stmt id, int64_t row_id)
{
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[id];
	int rc = stmt_exec(s, id, sqlite3_bind_int64(st, 1, row_id), true);
	store_leave(s, locked);
	return rc;
}

int store_job_delete(struct store *s, int64_t job_id)
{
	return delete_row(s, STMT_JOB_DELETE, job_id);
}

int store_run_delete(struct store *s, int64_t run_id)
{
	return delete_row(s, STMT_RUN_DELETE, run_id);
}

int store_run_insert(struct store *s, struct store_run *run)
{
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[STMT_RUN_INSERT];
	int rc = stmt_exec(s, STMT_RUN_INSERT, bind_run(st, run), false);
	if (rc == 0)
		run->id = sqlite3_last_insert_rowid(s->db);
	store_leave(s, locked);
	return rc;
}

int store_run_update(struct store *s, const struct store_run *run)
{
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[STMT_RUN_UPDATE];
	int bound = sqlite3_bind_int64(st, 1, run->id);
	if (bound == SQLITE_OK)
		bound = bind_run_state(st, run);
	int rc = stmt_exec(s, STMT_RUN_UPDATE, bound, true);
	store_leave(s, locked);
	return rc;
}

int store_event_insert(struct store *s, int64_t run_id,
		       const struct store_event *ev)
{
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[STMT_EVENT_INSERT];
	int rc =
	    stmt_exec(s, STMT_EVENT_INSERT, bind_event(st, run_id, ev), false);
	store_leave(s, locked);
	return rc;
}

int store_load(struct store *s,
	       int (*on_job)(void *ctx, const struct store_job *job),
	       int (*on_run)(void *ctx, const struct store_run *run), void *ctx)
{
	struct walk w = {.on_job = on_job, .on_run = on_run, .ctx = ctx};
	bool locked = store_enter(s);
	int rc = 0;
	if (on_job)
		rc = stmt_walk(s, STMT_JOBS_LOAD, SQLITE_OK, job_row, &w);
	if (rc == 0 && on_run)
		rc = stmt_walk(s, STMT_RUNS_LOAD, SQLITE_OK, run_row, &w);
	store_leave(s, locked);
	return rc;
}

int store_events(struct store *s, int64_t job_id, int64_t run_id,
		 int (*on_event)(void *ctx, const struct store_event *ev),
		 void *ctx)
{
	struct walk w = {.on_event = on_event, .ctx = ctx};
	enum stmt id = run_id == 0 ? STMT_EVENTS_OF_JOB : STMT_EVENTS_OF_RUN;
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[id];
	int bound = sqlite3_bind_int64(st, 1, job_id);
	if (bound == SQLITE_OK && run_id != 0)
		bound = sqlite3_bind_int64(st, 2, run_id);
	int rc = stmt_walk(s, id, bound, event_row, &w);
	store_leave(s, locked);
	return rc;
}

int store_steps_replace(struct store *s, int64_t run_id,
			const struct store_step *steps, size_t n)
{
	bool locked = store_enter(s);
	sqlite3_stmt *del = s->stmts[STMT_STEPS_DELETE];
	int rc = stmt_exec(s, STMT_STEPS_DELETE,
			   sqlite3_bind_int64(del, 1, run_id), false);
	sqlite3_stmt *ins = s->stmts[STMT_STEP_INSERT];
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc =
		    stmt_exec(s, STMT_STEP_INSERT,
			      bind_step(ins, run_id, (int)i, &steps[i]), false);
	store_leave(s, locked);
	return rc;
}

int store_steps(struct store *s, int64_t run_id,
		int (*on_step)(void *ctx, const struct store_step *step),
		void *ctx)
{
	struct walk w = {.on_step = on_step, .ctx = ctx};
	bool locked = store_enter(s);
	sqlite3_stmt *st = s->stmts[STMT_STEPS_OF_RUN];
	int rc = stmt_walk(s, STMT_STEPS_OF_RUN,
			   sqlite3_bind_int64(st, 1, run_id), step_row, &w);
	store_leave(s, locked);
	return rc;
}

void store_job_release(struct store_job *job)
{
	free(job->name);
	free(job->platform);
	free(job->config);
	job->name = job->platform = job->config = NULL;
}

void store_run_release(struct store_run *run)
{
	free(run->platform);
	free(run->remote_id);
	free(run->platform_state);
	free(run->overrides);
	free(run->error);
	run->platform = run->remote_id = run->platform_state = NULL;
	run->overrides = run->error = NULL;
}
