/*
 * The job core: deploy, run, cancel, rerun and remove jobs; the sole
 * writer of run state.
 *
 * All jobs and their runs live in memory (loaded from the store at start)
 * behind one mutex; every change is written through to the store before
 * the call that made it returns. State changes follow state.h (never
 * backwards, never out of a terminal state) and each one is an event.
 * Platform calls are made without the mutex held. Listeners (the FUSE
 * layer) hear of every state change after the mutex is released.
 *
 * Runs are named by (job name, run number); number 0 means the latest run.
 */
#ifndef JOBFS_JOB_H
#define JOBFS_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "state.h"
#include "store.h"

struct jobcore;

struct job_listener {
	/* A run of @job changed state (called without core locks held). */
	void (*changed)(void *ctx, const char *job, int64_t run_id,
			enum run_state state);
	/* A job was deployed anew or removed: its cached files are stale. */
	void (*replaced)(void *ctx, const char *job);
	/* The core has work for the poller (a submit, a poke). */
	void (*kick)(void *ctx);
	/* A run should change soon (a cancel sent): look again in @seconds. */
	void (*kick_in)(void *ctx, double seconds);
	void *ctx;
};

struct job_settings {
	const char *state_dir;
	const char *default_platform;
	uint64_t bundle_limit;
	double ttl;  /* seconds a cached state may be served */
	double keep; /* seconds an ended run is kept (not a latest); 0: all */
};

/* Creates the core; @listener and @settings are copied (strings too). */
int job_core_new(struct store *store, const struct job_settings *settings,
		 const struct job_listener *listener, struct jobcore **out);

/*
 * Loads every job and run from the store, repairs what a killed daemon
 * left in the state dir, and starts using @platforms.
 */
int job_core_start(struct jobcore *jc, struct platforms *platforms);
void job_core_free(struct jobcore *jc);

/* --- deploying (from new/) ------------------------------------------ */

/*
 * Checks a config document for job @name without deploying anything
 * (write()-time validation). -EINVAL with @err.
 */
int job_check_config(struct jobcore *jc, const char *name, const char *text,
		     size_t len, char *err, size_t errlen);

/*
 * Deploys @name from the staging dir @new_dir with the config @text: the
 * bundle and new/NAME.json leave new/, the job and its first run (unless
 * "run": false) are committed to the store before this returns. On error
 * nothing is deployed and @err holds the reason (-EINVAL for bad input).
 */
int job_deploy(struct jobcore *jc, const char *new_dir, const char *name,
	       const char *text, size_t len, char *err, size_t errlen);

/* --- reading --------------------------------------------------------- */

struct run_view {
	char *job;
	int64_t run_id;
	int number;
	char *platform;
	char *remote_id;
	enum run_state state;
	char *platform_state;
	char *error;
	int exit_code;
	int attempts;
	double submitted_at, started_at, ended_at, updated_at;
	double age_s;
	const char *source; /* "cache", "live" or "offline" */
	bool stale;
	char *stale_reason;
	uint64_t generation; /* bumps at every state change */
};

/*
 * A copy of run @number (0: latest) of @job. When @refresh is set and the
 * cached state is older than the ttl, asks the platform first (concurrent
 * callers share one request; bounded by the platform's timeout). -ENOENT if
 * there is no such job or run. Release with job_run_view_release().
 */
int job_run_view(struct jobcore *jc, const char *job, int number, bool refresh,
		 struct run_view *out);
void job_run_view_release(struct run_view *v);

/* The run's state generation, cheap (no copy). -ENOENT if missing. */
int job_run_generation(struct jobcore *jc, int64_t run_id, uint64_t *out);

/* The events text of a job (@number 0) or of one run; caller frees. */
int job_events_text(struct jobcore *jc, const char *job, int number,
		    char **text_out, size_t *len_out);

/*
 * The steps text of run @number (0: latest), one line per step
 * ("STEP STATE STARTED ENDED [MESSAGE]"); the run itself when its platform
 * lists none. With @refresh, a list older than the ttl is asked for first
 * (bounded by the platform's timeout). Caller frees.
 */
int job_steps_text(struct jobcore *jc, const char *job, int number,
		   bool refresh, char **text_out, size_t *len_out);

/* job.json: the deployed config, redacted, pretty; caller frees. */
int job_config_text(struct jobcore *jc, const char *job, char **text_out,
		    size_t *len_out);

/*
 * For a reader of result or log: fetches the output of a run still going
 * from its platform when the copy here is older than the ttl (platforms
 * whose output does not land by itself; one fetch at a time per run, and
 * bounded by the platform's timeout). The poller fetches only final
 * output, so a running run costs nothing while nobody reads its log.
 */
int job_refresh_output(struct jobcore *jc, const char *job, int number);

/* Absolute path of output file @what ("result"/"log") of a run. */
int job_output_path(struct jobcore *jc, const char *job, int number,
		    const char *what, char **path_out);

/* Absolute path of the job's current app/ dir, -ENOENT if it has none. */
int job_app_dir(struct jobcore *jc, const char *job, char **path_out);

bool job_exists(struct jobcore *jc, const char *job);

/* The latest run's number of @job (0: none), -ENOENT if no job. */
int job_run_latest(struct jobcore *jc, const char *job);

/* Whether @job has a run numbered @number. */
bool job_run_has(struct jobcore *jc, const char *job, int number);

/*
 * The numbers of @job's runs, ascending (retention leaves gaps). Caller
 * frees *@numbers_out. -ENOENT if no job.
 */
int job_run_numbers(struct jobcore *jc, const char *job, int **numbers_out,
		    size_t *n_out);

/*
 * Names of all jobs (sorted), or of those whose latest run is in @state
 * when @state >= 0. Caller frees with job_names_free().
 */
int job_names(struct jobcore *jc, int state, char ***names_out, size_t *n_out);
void job_names_free(char **names, size_t n);

/*
 * The active runs of @platform: those on it (or on their way) and those
 * jobfs holds back because of its max_active.
 */
void job_platform_counts(struct jobcore *jc, const char *platform,
			 size_t *active_out, size_t *held_out);

/* How many runs of @platform are in each state now (ended ones too). */
void job_count_runs(struct jobcore *jc, const char *platform,
		    size_t counts[RUN_STATE_COUNT]);

/*
 * For a `wait` read: 1 and the final state line ("SUCCEEDED\n") if run
 * @run_id has ended, 0 if not, -ENOENT if it is gone.
 */
int job_run_final_line(struct jobcore *jc, int64_t run_id, char *line,
		       size_t len);

/* --- acting -------------------------------------------------------- */

/* Cancels run @number (0: latest). -EINVAL with @err if it has ended. */
int job_cancel(struct jobcore *jc, const char *job, int number,
	       const char *reason, char *err, size_t errlen);

/* Starts a new run with an optional override (see jobconf_override). */
int job_rerun(struct jobcore *jc, const char *job, const char *override,
	      size_t len, char *err, size_t errlen);

/* Checks an override without starting anything. */
int job_check_override(struct jobcore *jc, const char *job,
		       const char *override, size_t len, char *err,
		       size_t errlen);

/* Removes a job and its history; -EBUSY while a run is active. */
int job_remove(struct jobcore *jc, const char *job);

/* --- the poller's side ----------------------------------------------- */

/* A platform says a run may have changed: refresh it at the next pass. */
void job_platform_changed(struct jobcore *jc, const char *platform,
			  const char *remote_id);

/*
 * One pass of background work: submits runs waiting for it, refreshes
 * poked runs and, when @full, every active run (in batches where the
 * platform lists), and enforces timeouts.
 */
void job_poll(struct jobcore *jc, bool full);

#endif
