/*
 * The read path: what a read of status, status.json, result or log sees.
 *
 * A read serves the cached state while it is younger than the ttl;
 * otherwise it asks the platform for that run, without jc->lock. A run
 * being refreshed is marked `refreshing`; a reader that finds it so waits
 * on jc->refreshed (bounded by the platform's timeout) instead of asking
 * again, so concurrent readers share one request. A platform that does
 * not answer in time leaves the cached state in place, marked stale with
 * the reason. The answer is applied by run_apply() (job_apply.c) like the
 * poller's. The output of a run still going is fetched for a reader at
 * most once per ttl.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "job_internal.h"

static bool run_needs_refresh(struct jobcore *jc, const struct run *r)
{
	return !state_is_terminal(r->state) && r->remote_id &&
	       clock_mono() - r->refreshed_mono >= jc->settings.ttl;
}

/* Waits (bounded) for an in-flight refresh of @r. jc->lock is held. */
static void wait_for_refresh(struct jobcore *jc, struct run *r, double timeout)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)timeout + 1;
	while (r->refreshing &&
	       pthread_cond_timedwait(&jc->refreshed, &jc->lock, &until) == 0)
		;
}

/* Asks the platform about @r for a reader. Called and returns locked. */
static const char *refresh_for_read(struct jobcore *jc, struct run *r)
{
	struct platform *p = platforms_get(jc->platforms, r->platform);
	double timeout = p ? platform_timeout(p) : 1.0;
	if (r->refreshing) {
		wait_for_refresh(jc, r, timeout);
		return r->refreshing || r->stale_reason ? "offline" : "live";
	}
	r->refreshing = true;
	char *remote_id = strdup(r->remote_id);
	pthread_mutex_unlock(&jc->lock);
	struct run_status st = {.exit_code = -1};
	char err[256] = "";
	int rc = remote_id && p ? platform_status(p, remote_id, timeout, &st,
						  err, sizeof(err))
				: -ENOMEM;
	free(remote_id);
	pthread_mutex_lock(&jc->lock);
	struct batch b = {0};
	run_apply(jc, &b, r, &st, rc, err, "read");
	platform_status_release(&st);
	r->refreshing = false;
	pthread_cond_broadcast(&jc->refreshed);
	batch_commit(jc, &b);
	pthread_mutex_lock(&jc->lock);
	return rc ? "offline" : "live";
}

static void view_fill(struct run_view *v, const struct run *r,
		      const char *source)
{
	*v = (struct run_view){
	    .job = strdup(r->job->name),
	    .run_id = r->id,
	    .number = r->number,
	    .platform = job_strdup(r->platform),
	    .remote_id = job_strdup(r->remote_id),
	    .state = r->state,
	    .platform_state = job_strdup(r->platform_state),
	    .error = job_strdup(r->error),
	    .exit_code = r->exit_code,
	    .attempts = r->attempts,
	    .submitted_at = r->submitted_at,
	    .started_at = r->started_at,
	    .ended_at = r->ended_at,
	    .updated_at = r->updated_at,
	    .source = source,
	    .stale = r->stale_reason != NULL,
	    .stale_reason = job_strdup(r->stale_reason),
	    .generation = r->generation,
	};
	double seen = r->refreshed_mono > 0 ? clock_mono() - r->refreshed_mono
					    : clock_wall() - r->updated_at;
	v->age_s = seen > 0 ? seen : 0;
}

int job_run_view(struct jobcore *jc, const char *job, int number, bool refresh,
		 struct run_view *out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j ? job_find_run(j, number) : NULL;
	if (!r) {
		pthread_mutex_unlock(&jc->lock);
		return -ENOENT;
	}
	const char *source = "cache";
	if (refresh && run_needs_refresh(jc, r))
		source = refresh_for_read(jc, r);
	/* the run may have been removed while the lock was dropped */
	j = job_find(jc, job);
	r = j ? job_find_run(j, number) : NULL;
	if (r)
		view_fill(out, r, source);
	pthread_mutex_unlock(&jc->lock);
	return r ? 0 : -ENOENT;
}

void job_run_view_release(struct run_view *v)
{
	free(v->job);
	free(v->platform);
	free(v->remote_id);
	free(v->platform_state);
	free(v->error);
	free(v->stale_reason);
	memset(v, 0, sizeof(*v));
}

/*
 * Whether @r's output should be fetched now for a reader: a run still
 * going, on a platform whose output must be fetched, last fetched longer
 * than the ttl ago, and no fetch of it in flight. Called locked.
 */
static bool output_is_due(struct jobcore *jc, const struct run *r)
{
	struct platform *p = platforms_get(jc->platforms, r->platform);
	return p && platform_fetches_output(p) &&
	       (platform_caps(p) & PLATFORM_CAP_LOG) && r->remote_id &&
	       !state_is_terminal(r->state) && !r->fetching_output &&
	       clock_mono() - r->output_fetched_mono >= jc->settings.ttl;
}

int job_refresh_output(struct jobcore *jc, const char *job, int number)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j ? job_find_run(j, number) : NULL;
	if (!r || !output_is_due(jc, r)) {
		pthread_mutex_unlock(&jc->lock);
		return r ? 0 : -ENOENT;
	}
	r->fetching_output = true;
	int64_t run_id = r->id;
	struct platform *p = platforms_get(jc->platforms, r->platform);
	char *remote_id = strdup(r->remote_id), *dir = NULL;
	job_run_dir(jc, r->id, &dir);
	pthread_mutex_unlock(&jc->lock);
	char err[256];
	int rc = remote_id && dir
		     ? platform_fetch(p, remote_id, dir, platform_timeout(p),
				      err, sizeof(err))
		     : -ENOMEM;
	free(remote_id);
	free(dir);
	pthread_mutex_lock(&jc->lock);
	r = job_find_run_id(jc, run_id);
	if (r) {
		r->fetching_output = false;
		r->output_fetched_mono = clock_mono();
	}
	pthread_mutex_unlock(&jc->lock);
	return rc;
}
