/*
 * The SQLite store: jobs, runs, events and steps. The only module with SQL.
 *
 * One connection, serialized behind the store's own mutex, with prepared
 * statements made once at open. WAL, synchronous=FULL, busy_timeout.
 * The schema version is PRAGMA user_version; store_open() migrates an
 * older file step by step (one transaction per step) and refuses a newer
 * one. Every function returns 0 or a negative errno (-EIO for SQLite
 * errors, logged with the SQLite message; -ENOENT where a row is missing).
 *
 * Strings in the structs below are owned by the struct when they come from
 * the store (free with store_job_release()/store_run_release()), and
 * borrowed when given to the store.
 */
#ifndef JOBFS_STORE_H
#define JOBFS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

#define STORE_SCHEMA_VERSION 4

struct store;

struct store_job {
	int64_t id;	   /* set by store_job_save() on insert */
	char *name;	   /* unique */
	char *platform;	   /* configured platform name */
	char *config;	   /* the config as deployed, redacted JSON text */
	int version;	   /* bundle version, 1.. */
	double created_at; /* epoch seconds */
	double updated_at;
};

struct store_run {
	int64_t id; /* set by store_run_insert() */
	int64_t job_id;
	int number;  /* 1.. within the job */
	int version; /* bundle version the run uses */
	char *platform;
	char *remote_id; /* NULL until submitted */
	enum run_state state;
	char *platform_state; /* raw state name of the platform, or NULL */
	char *overrides;      /* JSON text of the `run` override, or NULL */
	char *error;	      /* NULL when none */
	int exit_code;	      /* -1: none */
	int attempts;	      /* submissions so far */
	double submitted_at, started_at, ended_at, updated_at; /* 0: not yet */
	double submit_started_at; /* non-zero while a submit is in flight */
};

struct store_event {
	double time;
	int run_number;
	const char *old_state; /* "NONE" for the first event of a run */
	const char *new_state;
	const char *source;  /* deploy, poller, read, user, timeout, ... */
	const char *message; /* may be "" */
};

/* One step of a run (see the platforms' steps op). Strings borrowed. */
struct store_step {
	const char *name;
	enum run_state state;
	double started_at, ended_at; /* epoch seconds, 0: unknown */
	const char *message;	     /* may be "" (NULL is stored as "") */
};

/*
 * Free the strings of a struct whose strings the caller owns and set them
 * to NULL. Never for the structs passed to store_load() callbacks, whose
 * strings are borrowed from the store.
 */
void store_job_release(struct store_job *job);
void store_run_release(struct store_run *run);

/*
 * Opens (creating if needed) the database at @path and migrates it.
 * -EPROTO when the file's schema is newer than this build knows.
 */
int store_open(const char *path, struct store **out);
void store_close(struct store *s);

/*
 * Transactions. Calls made between begin and commit by the same thread are
 * one transaction; the store's mutex is held from begin to commit/rollback
 * so other threads wait. Not nestable.
 */
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);

/* Inserts (id == 0) or updates (by id) a job row. */
int store_job_save(struct store *s, struct store_job *job);

/* Deletes a job with its runs, events and steps. */
int store_job_delete(struct store *s, int64_t job_id);

/* Deletes a run with its events and steps. */
int store_run_delete(struct store *s, int64_t run_id);

int store_run_insert(struct store *s, struct store_run *run);

/* Updates every mutable column of the run with this id. */
int store_run_update(struct store *s, const struct store_run *run);

int store_event_insert(struct store *s, int64_t run_id,
		       const struct store_event *ev);

/*
 * Calls @on_job for every job (ordered by name), then @on_run for every
 * run (ordered by job_id, number); a NULL callback skips its table. The
 * structs are valid only during the callback; a callback returning non-zero
 * stops the walk with that value.
 */
int store_load(struct store *s,
	       int (*on_job)(void *ctx, const struct store_job *job),
	       int (*on_run)(void *ctx, const struct store_run *run),
	       void *ctx);

/*
 * Calls @on_event for each event of the job (@run_id == 0) or of one run,
 * oldest first.
 */
int store_events(struct store *s, int64_t job_id, int64_t run_id,
		 int (*on_event)(void *ctx, const struct store_event *ev),
		 void *ctx);

/*
 * Replaces the steps of run @run_id with @steps (@n of them, in order).
 * Two writes: meant to run inside a transaction.
 */
int store_steps_replace(struct store *s, int64_t run_id,
			const struct store_step *steps, size_t n);

/* Calls @on_step for each step of run @run_id, in order. */
int store_steps(struct store *s, int64_t run_id,
		int (*on_step)(void *ctx, const struct store_step *step),
		void *ctx);

#endif
