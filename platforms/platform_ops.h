/*
 * The contract between the job core and a platform (local processes,
 * Slurm, Livy, ...). One file in platforms/ per kind fills one
 * `const struct platform_ops`; src/platform.c lists them (the registry) and
 * wraps every call: it counts requests, errors and latency, enforces the
 * deadline, fills in missing optional ops, and keeps health. The core
 * calls only those wrappers and branches on `caps`, never on `kind`.
 *
 * Threads: ops may run concurrently on one instance (poller and FUSE
 * threads); mutable state sits behind the platform's own mutex. No op is
 * called with a core lock held.
 *
 * Errors the core understands (return values are 0 or a negative errno):
 *   -ENOENT      the platform does not know the run (LOST once confirmed)
 *   -ETIMEDOUT, -ECONNREFUSED, -EAGAIN   transient: retry, serve cached
 *   -EACCES      credentials refused (health DOWN)
 *   -EINVAL      the job or request was rejected (reason in call->err)
 *   -EPROTO      the platform's answer could not be understood
 *   -ENOTSUP     the op is not possible on this platform
 *   -EINPROGRESS find only: the platform cannot tell yet (ask again
 *                later); not a failure of the platform
 * Every failing op writes a one-line reason into call->err.
 */
#ifndef JOBFS_PLATFORM_OPS_H
#define JOBFS_PLATFORM_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "call.h"
#include "state.h"

enum platform_caps {
	PLATFORM_CAP_LIST = 1 << 0,   /* status_many: many runs per request */
	PLATFORM_CAP_UPLOAD = 1 << 1, /* submit ships the bundle somewhere */
	PLATFORM_CAP_LOG = 1 << 2,    /* log grows while the run runs */
};

struct platform_ops;

struct platform_stats;

/* First member of every platform's private struct (checked downcast). */
struct platform {
	const struct platform_ops *ops;
	const char *name; /* configured name, e.g. "hpc"; set by the registry */
	struct platform_stats *stats; /* the registry's; platforms leave it */
};

/* What a platform is given when it is opened. All borrowed. */
struct platform_env {
	const char *name;      /* configured name */
	const char *state_dir; /* private dir for this platform, exists */
	const json_t
	    *fields; /* its config.json object; {"kind":...} at least */
	/*
	 * Tells the core that the run @remote_id may have changed state, so
	 * it is refreshed now instead of at the next poll. May be called from
	 * any thread the platform owns, never with a platform lock held that
	 * an op needs.
	 */
	void (*changed)(void *ctx, const char *remote_id);
	void *changed_ctx;
};

/* Everything needed to start one attempt of a run. All borrowed. */
struct run_spec {
	const char *job_name;
	const char *run_key;	 /* unique and stable ("NAME.ID"): a tag/name
				    the platform run can carry */
	const char *bundle_dir;	 /* the installed app/, or NULL */
	const char *entry_point; /* relative to bundle_dir, or absolute */
	const json_t *args;	 /* array of strings */
	const json_t *env;	 /* object of strings */
	const json_t *conf;	 /* object: platform-specific */
	const char *output_dir;	 /* result and log go to output_dir/result
				    and output_dir/log */
	int attempt;		 /* 1.. */
};

struct run_status {
	enum run_state state;
	char platform_state[64]; /* the platform's own name for the state */
	int exit_code;		 /* 0-255, 128+N for signal N, -1 unknown */
	char *error;		 /* why it failed (malloc'd) or NULL */
	double started_at;	 /* epoch seconds, 0 unknown */
	double ended_at;
};

struct platform_ops {
	const char *kind;
	unsigned caps; /* enum platform_caps */

	/*
	 * Creates an instance from its config. -EINVAL with @err naming the
	 * field when the config is wrong. Must not block on the network.
	 */
	int (*open)(const struct platform_env *env, struct platform **out,
		    char *err, size_t errlen);
	void (*close)(struct platform *p);

	/*
	 * May be NULL. Checks a job before it is deployed (entry point runnable
	 * on this platform, required conf present): -EINVAL with c->err.
	 */
	int (*validate)(struct platform *p, struct call *c,
			const struct run_spec *run);

	/*
	 * Starts one attempt. On success *remote_id_out is a new string the
	 * caller frees. Called from the poller thread, never from FUSE.
	 */
	int (*submit)(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out);

	/*
	 * May be NULL. Finds the run a submit of @run (same run_key) created,
	 * for a submit that was in flight when the daemon died: 0 with
	 * *remote_id_out, -ENOENT when the platform has no such run (so it
	 * is safe to submit), -EINPROGRESS while the answer may still show
	 * up, another error when it cannot tell now. Without
	 * it, an interrupted submit ends LOST rather than risk a second run.
	 */
	int (*find)(struct platform *p, struct call *c,
		    const struct run_spec *run, char **remote_id_out);

	/* Current state of one run. out->error is the caller's to free. */
	int (*status)(struct platform *p, struct call *c, const char *remote_id,
		      struct run_status *out);

	/*
	 * May be NULL (the wrapper loops over status). Fills statuses[i] for
	 * remote_ids[i] and rcs[i] with that run's result code.
	 */
	int (*status_many)(struct platform *p, struct call *c,
			   const char *const *remote_ids,
			   struct run_status *statuses, int *rcs, size_t n);

	/*
	 * May be NULL when output already lands in run->output_dir. Copies the
	 * run's result and log into @output_dir (replacing what is there).
	 * Called once a run has ended (its final state is shown only after
	 * this), and, on PLATFORM_CAP_LOG platforms, while it runs whenever a
	 * reader looks at result or log, at most once per ttl.
	 */
	int (*fetch)(struct platform *p, struct call *c, const char *remote_id,
		     const char *output_dir);

	/*
	 * Asks the platform to stop the run; returns once it accepted. The
	 * run's final state comes later through status.
	 */
	int (*cancel)(struct platform *p, struct call *c, const char *remote_id,
		      const char *reason);

	/*
	 * May be NULL (the run itself is shown as its one step). Lists the
	 * run's steps in order (DAG task instances, state-machine states,
	 * tasks) as a new JSON array the caller owns, each element an object:
	 *   "name"     string, unique within the run (e.g. "load#2")
	 *   "state"    a run_state name ("RUNNING", "SUCCEEDED", ...)
	 *   "started"  epoch seconds, 0 when unknown
	 *   "ended"    epoch seconds, 0 while running or unknown
	 *   "message"  optional one-line string
	 * Called by the core at most once per ttl per run, never per read.
	 */
	int (*steps)(struct platform *p, struct call *c, const char *remote_id,
		     json_t **steps_out);

	/*
	 * May be NULL. Removes what the platform keeps of an ended run the
	 * core has forgotten (retention, src/job_retain.c), e.g. the local
	 * platform's run dir; 0 when there is nothing left. Local work only:
	 * never blocks on the network.
	 */
	int (*forget)(struct platform *p, struct call *c,
		      const char *remote_id);

	/* May be NULL (always healthy). -errno with c->err when unhealthy. */
	int (*health)(struct platform *p, struct call *c);

	/*
	 * May be NULL. `jobfs --platform-helper KIND ARGS...` runs this in a
	 * fresh process (e.g. the local platform's per-run supervisor).
	 * Returns the process exit status.
	 */
	int (*helper_main)(int argc, char **argv);
};

#endif
