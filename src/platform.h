/*
 * The platform registry and the wrappers the core calls.
 *
 * The registry is the one list of platform kinds in the code base. Every
 * call to a platform goes through a wrapper here, which sets the deadline,
 * counts requests, errors and latency for platforms/PNAME/stats, keeps
 * health for platforms/PNAME/health, and fills in missing optional ops
 * (status_many loops over status; a NULL validate accepts).
 */
#ifndef JOBFS_PLATFORM_H
#define JOBFS_PLATFORM_H

#include <stddef.h>

#include "config.h"
#include "histogram.h"
#include "platform_ops.h"

struct platforms;

/* Called by a platform when a run may have changed (see platform_ops.h). */
struct platform_listener {
	void (*changed)(void *ctx, const char *platform, const char *remote_id);
	void *ctx;
};

/*
 * Opens every platform of @cfg; each gets STATE/platforms/NAME as its own
 * directory. -EINVAL with @err ("platform \"hpc\": ...") when one fails.
 * @listener is copied.
 */
int platforms_open(const struct config *cfg, const char *state_dir,
		   const struct platform_listener *listener,
		   struct platforms **out, char *err, size_t errlen);

/*
 * The same with the kinds looked up in @kinds (@nkinds tables) instead of
 * the registry: the seam through which unit tests open a scripted platform
 * (tests/fake_platform.c). The array is read only during the call; the
 * tables it points to must outlive the platforms. platforms_open() is this
 * with the registry.
 */
int platforms_open_kinds(const struct config *cfg, const char *state_dir,
			 const struct platform_listener *listener,
			 const struct platform_ops *const *kinds, size_t nkinds,
			 struct platforms **out, char *err, size_t errlen);
void platforms_close(struct platforms *ps);

/* The instance named @name (borrowed), or NULL. */
struct platform *platforms_get(struct platforms *ps, const char *name);

size_t platforms_count(const struct platforms *ps);

/* The name of the @i-th platform, in config order (borrowed). */
const char *platforms_name(const struct platforms *ps, size_t i);

/* The ops of a kind, or NULL: the registry lookup. */
const struct platform_ops *platform_kind(const char *kind);

/*
 * `jobfs --platform-helper KIND ARGS...`: runs the kind's helper_main with
 * argv[0] = KIND. Returns the exit status (2 for an unknown kind).
 */
int platform_helper_main(int argc, char **argv);

/* Wrappers: @timeout_s bounds the call; errors carry a reason in @err. */
int platform_validate(struct platform *p, const struct run_spec *run, char *err,
		      size_t errlen);
int platform_submit(struct platform *p, const struct run_spec *run,
		    double timeout_s, char **remote_id_out, char *err,
		    size_t errlen);
/* -ENOTSUP when the platform has no find op (see platform_ops.h). */
int platform_find(struct platform *p, const struct run_spec *run,
		  double timeout_s, char **remote_id_out, char *err,
		  size_t errlen);
int platform_status(struct platform *p, const char *remote_id, double timeout_s,
		    struct run_status *out, char *err, size_t errlen);
/* rcs[i] gets each run's own result; returns 0 or the batch's error. */
int platform_status_many(struct platform *p, const char *const *remote_ids,
			 struct run_status *out, int *rcs, size_t n,
			 double timeout_s, char *err, size_t errlen);
int platform_fetch(struct platform *p, const char *remote_id,
		   const char *output_dir, double timeout_s, char *err,
		   size_t errlen);
int platform_cancel(struct platform *p, const char *remote_id,
		    const char *reason, double timeout_s, char *err,
		    size_t errlen);
/*
 * The run's steps as a new JSON array (see the steps op); -ENOTSUP when the
 * platform has no steps op, so the caller shows the run as its one step.
 */
int platform_steps(struct platform *p, const char *remote_id, double timeout_s,
		   json_t **steps_out, char *err, size_t errlen);
unsigned platform_caps(const struct platform *p);

/* Whether a run's output must be fetched (it does not land by itself). */
bool platform_fetches_output(const struct platform *p);

/* "max_active": how many runs may be on the platform at once; 0 = any. */
size_t platform_max_active(const struct platform *p);

/* The platform's "timeout": how long one call may take, in seconds. */
double platform_timeout(const struct platform *p);

/*
 * The circuit breaker: after repeated failures a platform is DOWN and its
 * calls fail at once with -EAGAIN until a cooldown has passed. The poller
 * probes a DOWN platform (its health op) when platform_probe_due() says.
 */
bool platform_probe_due(struct platform *p);
int platform_probe(struct platform *p);

/* Frees the strings a run_status holds and zeroes it. */
void platform_status_release(struct run_status *st);

/*
 * Removes what the platform keeps of an ended, forgotten run (the forget
 * op; 0 without one). Not counted in stats: it asks nothing remote.
 */
int platform_forget(struct platform *p, const char *remote_id, char *err,
		    size_t errlen);

/* The text of platforms/PNAME/{kind,health,stats}; caller frees *text_out. */
int platform_render_kind(struct platform *p, char **text_out);
int platform_render_health(struct platform *p, char **text_out);
/* runs_waiting: runs jobfs holds back because of max_active. */
int platform_render_stats(struct platform *p, size_t runs_active,
			  size_t runs_waiting, char **text_out);

/* A snapshot of a platform's counters, for the metrics file. */
struct platform_metrics {
	unsigned long requests, errors, retries;
	struct histogram latency; /* seconds per call */
	int health;		  /* 0 OK, 1 DEGRADED, 2 DOWN */
	bool breaker_open;	  /* calls are refused until the cooldown */
	int failures_in_row;
};

void platform_metrics_get(struct platform *p, struct platform_metrics *out);

#endif
