/*
 * The job core's private structures, shared by its files: job.c (model,
 * load, queries), job_deploy.c (deploy, rerun, remove), job_apply.c (the
 * one writer of run state), job_read.c (what reads see), job_poll.c (the
 * poller's passes), job_submit.c, job_cancel.c, job_steps.c and
 * job_recover.c. Nothing
 * outside the core includes this.
 *
 * Locking: jc->lock guards every field below. Store writes are ordered by
 * jc->persist, which is taken before jc->lock is released (lock order:
 * lock, then persist; never the other way), so the store sees changes in
 * the order memory did, without holding jc->lock across an fsync.
 *
 * Crash consistency. Every change that touches both the store and files
 * has one commit point, the store's COMMIT; a daemon killed before it
 * leaves nothing anyone can see (start-up recovery, job_recover.c, takes
 * it away and gives a staged bundle back to new/), and every step after
 * it is idempotent or repaired at start-up:
 *  - deploy: bundle staged in tmp/deploy.* (with DEPLOY_ORIGIN_FILE
 *    saying where in new/ it came from), then one transaction that inserts
 *    the job, run and event rows, makes runs/ID and renames the staging
 *    dir to jobs/ID/vN; after COMMIT, new/ is cleared. Ids are never
 *    reused (AUTOINCREMENT), so a leftover can never be a later job's.
 *  - redeploy: the same, vN+1 beside the committed versions.
 *  - rerun: one transaction with the run and event rows and runs/ID.
 *  - remove: the row's DELETE (cascading to runs and events) commits;
 *    the files go after it, and recovery removes what a kill left.
 *  - retention: the same, per run: the rows' DELETEs commit, then the
 *    files (runs/ID, the platform's, an unused version dir) go.
 *  - submit: submit_started_at is committed before the request goes out;
 *    the answer (remote id, attempts) is committed after; a kill between
 *    them makes the next daemon reconcile through the platform's find op
 *    (job_submit.c), which must tell "never started" from "started".
 *  - cancel: the request goes to the platform first, CANCELLING is
 *    committed after it was accepted; a kill between them leaves the run
 *    active and a new cancel finds it so, or already ended.
 */
#ifndef JOBFS_JOB_INTERNAL_H
#define JOBFS_JOB_INTERNAL_H

#include <pthread.h>

#include "job.h"
#include "jobconf.h"

struct job;

/* In a staged deploy dir: "dir NAME" or "file NAME", the bundle's origin */
#define DEPLOY_ORIGIN_FILE "staged-from"

struct run {
	struct job *job;
	int64_t id;
	int number;
	int version;
	char *platform;
	char *remote_id;
	char *platform_state;
	char *overrides;
	char *error;
	enum run_state state;
	int exit_code;
	int attempts;
	double submitted_at, started_at, ended_at, updated_at;
	double refreshed_mono; /* when the platform last answered */
	uint64_t generation;
	char *stale_reason;  /* non-NULL: the last ask failed */
	bool refreshing;     /* a status call is in flight (single-flight) */
	bool poked;	     /* refresh at the next pass */
	bool need_submit;    /* submit (again) at the next pass */
	bool need_reconcile; /* a submit's outcome is unknown: ask first */
	bool submitting;
	bool
	    held; /* waiting in jobfs for a slot of the platform's max_active */
	/* CANCELLING, and the platform may not have been asked to stop it:
	 * a submit's run that was cancelled in flight, or a daemon killed
	 * before it sent the cancel. The cancel pass asks (again). */
	bool need_cancel;
	double submit_started_at; /* persisted while a submit is in flight */
	bool need_fetch; /* copy output from the platform at the next pass */
	/* the platform's final answer, held back until the output is here */
	struct run_status *pending_end;
	const char *pending_source;
	bool output_final;    /* the output after the end has been fetched */
	bool fetching_output; /* a reader's fetch is in flight */
	double output_fetched_mono; /* when a reader's fetch last ran */
	bool expired; /* removed by retention, about to be freed */
	/* steps (job_steps.c): the store has the platform's last list */
	bool steps_due;	       /* changed state: list the steps again */
	bool steps_refreshing; /* a steps call is in flight */
	bool steps_final;      /* listed after the end (or never listable) */
	double steps_mono;     /* when the steps were last asked for */
};

struct job {
	int64_t id;
	char *name;
	char *platform;
	char *config; /* redacted JSON text */
	int version;
	double created_at, updated_at;
	/*
	 * The current version's full config (secrets too) and resolved entry
	 * point, parsed once: by the deploy that made it, or from its
	 * config.json at first need after a restart (job_conf()).
	 */
	struct job_config conf;
	char *entry_point; /* NULL: none (the config names code elsewhere) */
	bool conf_loaded;
	bool conf_failed;  /* its config.json could not be read: said once */
	struct run **runs; /* by number, ascending; gaps where runs expired */
	size_t nruns, cap;
};

struct jobcore {
	pthread_mutex_t lock;
	pthread_cond_t refreshed; /* a status call finished */
	pthread_mutex_t persist;
	pthread_mutex_t deploying; /* one deploy or removal at a time */
	struct store *store;
	struct platforms *platforms;
	struct job_settings settings;
	struct job_listener listener;
	struct job **jobs; /* sorted by name */
	size_t njobs, jobs_cap;
	struct run **runs_by_id; /* every run, sorted by id */
	size_t nruns, runs_cap;
	struct run **active; /* runs not in a terminal state */
	size_t nactive, active_cap;
	size_t nheld; /* runs held back by max_active at the last submit pass */
	struct run **fetch_queue; /* runs whose output is to be fetched */
	size_t nfetch, fetch_cap;
	double retained_mono; /* when the next retention pass is due */
};

/* Work collected under jc->lock, carried out by batch_commit(). */
struct batch {
	struct store_run *runs;
	size_t nruns, runs_cap;
	struct batch_event *events;
	size_t nevents, events_cap;
	struct batch_change *changes;
	size_t nchanges, changes_cap;
	struct batch_steps *steps;
	size_t nsteps, steps_cap;
	bool kick;
	bool recheck; /* look at poked runs again shortly */
};

/* job.c: the model */
struct job *job_find(struct jobcore *jc, const char *name);
struct run *job_find_run(struct job *j, int number);
struct run *job_find_run_id(struct jobcore *jc, int64_t run_id);
/* The number a new run of @j gets: one above its latest. */
int job_next_number(const struct job *j);
/*
 * Takes the runs marked `expired` of @jobs (which may repeat) out of the
 * model and frees them. Locked.
 */
void job_forget_expired(struct jobcore *jc, struct job *const *jobs,
			size_t njobs);
int job_add_run(struct jobcore *jc, struct job *j, struct run *r);
int job_insert(struct jobcore *jc, struct job *j);
void job_unlink(struct jobcore *jc, struct job *j);
void job_free(struct job *j);
void run_free(struct run *r);
/* @j's current config (see struct job), or NULL. Called locked. */
const struct job_config *job_conf(struct jobcore *jc, struct job *j);
int job_version_dir(struct jobcore *jc, int64_t job_id, int version,
		    char **path_out);
int job_run_dir(struct jobcore *jc, int64_t run_id, char **path_out);
void job_active_remove(struct jobcore *jc, struct run *r);
int job_fetch_queue_add(struct jobcore *jc, struct run *r);
int job_active_add(struct jobcore *jc, struct run *r);
int run_set_string(char **field, const char *value);
char *job_strdup(const char *s);
/* The job with id @id in @by_id (@n jobs sorted by id), or NULL. */
struct job *job_find_id(struct job *const *by_id, size_t n, int64_t id);
/* Makes room for @need elements of @elem bytes in *@array. */
int job_grow(void **array, size_t *cap, size_t need, size_t elem);

/* job_deploy.c: a version's files */

/*
 * Reads version @version of job @job_id: its full config (release with
 * jobconf_release()) and its entry point, the config's or else the one
 * file of its bundle (*@entry_out NULL when neither; caller frees).
 */
int job_version_load(struct jobcore *jc, int64_t job_id, int version,
		     struct job_config *conf_out, char **entry_out, char *err,
		     size_t errlen);

/* job_apply.c: the one writer of run state */

/* Moves @r to @to, recording the event, the row and the change. */
void run_move(struct jobcore *jc, struct batch *b, struct run *r,
	      enum run_state to, const char *source, const char *message);

/* Applies a platform's answer (or failure @rc, reason @err) to @r. */
void run_apply(struct jobcore *jc, struct batch *b, struct run *r,
	       const struct run_status *st, int rc, const char *err,
	       const char *source);

enum submit_outcome {
	SUBMITTED,  /* the platform took it */
	ADOPTED,    /* an interrupted submit had worked */
	NOT_SENT,   /* certainly not sent: try again later */
	UNKNOWN,    /* maybe sent: reconcile before any new submit */
	UNKNOWABLE, /* maybe sent, and the platform cannot tell */
	REJECTED,   /* the platform refused it: the run fails */
	NOT_NEEDED, /* cancelled, and the platform never got it */
};

/*
 * Records the outcome of attempt @attempt of @r's submit; takes
 * @remote_id (SUBMITTED, ADOPTED). A run cancelled while the submit was
 * in flight gets need_cancel, so that the new remote run is stopped too.
 */
void run_apply_submit(struct jobcore *jc, struct batch *b, struct run *r,
		      enum submit_outcome out, int attempt, char *remote_id,
		      const char *err);

/* The platform accepted a cancel of @r: CANCELLING (@timeout_msg: the
 * run then ends FAILED with it). */
/*
 * @r waits in jobfs (QUEUED) because its platform already has @max_active
 * runs; said once per wait in its events.
 */
void run_apply_held(struct jobcore *jc, struct batch *b, struct run *r,
		    size_t max_active);
void run_apply_cancel_sent(struct jobcore *jc, struct batch *b, struct run *r,
			   const char *source, const char *reason,
			   const char *timeout_msg);

/*
 * Applies a platform's answer to a steps call for @r (the new list, or
 * failure @rc with @err): the list replaces the stored one at the commit.
 * @ended: @r had ended before the call, so the list is its last.
 * Borrows @steps.
 */
void run_apply_steps(struct batch *b, struct run *r, json_t *steps, int rc,
		     const char *err, bool ended);

void batch_add_run(struct batch *b, const struct run *r);
void batch_add_event(struct batch *b, const struct run *r, enum run_state old,
		     enum run_state new_state, const char *source,
		     const char *message);
/*
 * Called with jc->lock held; releases it. Writes the batch to the store in
 * one transaction, then tells the listeners.
 */
int batch_commit(struct jobcore *jc, struct batch *b);

/*
 * job_recover.c: repairs what a killed daemon left in the state dir.
 * Called once, loaded and locked, before the mount exists; @by_id is
 * jc->jobs sorted by id.
 */
void job_recover(struct jobcore *jc, struct job *const *by_id);

/*
 * job_retain.c: removes ended runs older than settings.keep (never a
 * job's latest), a bounded batch per call, at most once a minute.
 */
void job_retain_pass(struct jobcore *jc);

/* job_submit.c: submits (or reconciles) every run waiting for it. */
void job_submit_pass(struct jobcore *jc);

/*
 * job_cancel.c: sends a cancel for run @run_id and moves it to CANCELLING.
 * @timeout_msg non-NULL marks a timeout (the run then ends FAILED with it).
 */
int job_cancel_run(struct jobcore *jc, int64_t run_id, const char *reason,
		   const char *source, const char *timeout_msg, char *err,
		   size_t errlen);

/* job_cancel.c: asks the platforms to stop the runs with need_cancel. */
void job_cancel_pass(struct jobcore *jc);

/* job_steps.c: lists the steps of the runs whose state changed. */
void job_steps_pass(struct jobcore *jc);

#endif
