/*
 * The job core's side that asks platforms about runs: refreshing states
 * (for the poller and for reads older than the ttl), cancelling, timeouts
 * and retries. Submitting is in job_submit.c.
 *
 * Every platform call is made without jc->lock. A run being refreshed is
 * marked `refreshing`; a reader that finds it so waits on jc->refreshed
 * (bounded) instead of asking again, which makes concurrent readers share
 * one request. A platform that does not answer in time leaves the cached
 * state in place, marked stale with the reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "job_internal.h"
#include "log.h"

/* --- applying a platform's answer ------------------------------------- */

static bool has_retry_left(struct run *r)
{
	job_load_limits(r->job);
	return r->attempts < r->job->retries + 1;
}

static void run_retry(struct batch *b, struct run *r,
		      const struct run_status *st)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "attempt %d failed: %s; retrying",
		 r->attempts, st->error ? st->error : "failed");
	batch_add_event(b, r, r->state, r->state, "retry", msg);
	r->need_submit = true;
	b->kick = true;
}

/* Copies what the platform said besides the state. */
static void run_take_details(struct batch *b, struct run *r,
			     const struct run_status *st)
{
	bool changed = false;
	if (st->platform_state[0] &&
	    (!r->platform_state ||
	     strcmp(r->platform_state, st->platform_state) != 0)) {
		run_set_string(&r->platform_state, st->platform_state);
		changed = true;
	}
	if (st->started_at > 0 && r->started_at == 0) {
		r->started_at = st->started_at;
		changed = true;
	}
	if (changed)
		batch_add_run(b, r);
}

static void run_take_end(struct run *r, const struct run_status *st)
{
	if (st->ended_at > 0)
		r->ended_at = st->ended_at;
	r->exit_code = st->exit_code;
}

/*
 * Queues @r for a fetch of its output (platforms whose output does not
 * land in the run's directory by itself; for others the fetch is a no-op).
 */
static void want_output(struct jobcore *jc, struct run *r)
{
	if (r->need_fetch || !r->remote_id || job_fetch_queue_add(jc, r) != 0)
		return;
	r->need_fetch = true;
}

/*
 * Holds a final answer back until the run's output has been fetched, so
 * that `cat NAME/wait; cat NAME/result` never sees the end without the
 * output. Returns whether it did; fetch_pass() applies it afterwards.
 */
static bool hold_end(struct jobcore *jc, struct batch *b, struct run *r,
		     const struct run_status *st, const char *source)
{
	struct platform *p = platforms_get(jc->platforms, r->platform);
	if (!p || !platform_fetches_output(p) || !r->remote_id ||
	    r->output_final || r->pending_end)
		return r->pending_end != NULL;
	r->pending_end = malloc(sizeof(*r->pending_end));
	if (!r->pending_end)
		return false;
	*r->pending_end = *st;
	r->pending_end->error = st->error ? strdup(st->error) : NULL;
	r->pending_source = source;
	r->need_fetch = false; /* queue it even if a log fetch is queued */
	want_output(jc, r);
	b->kick = true;
	return true;
}

/*
 * Applies a status answer to @r. A timeout cancel ends FAILED with the
 * timeout as its error (r->error was set when the cancel was sent).
 */
void run_apply(struct jobcore *jc, struct batch *b, struct run *r,
	       const struct run_status *st, int rc, const char *err,
	       const char *source)
{
	if (rc == -ENOENT && r->remote_id) {
		run_set_string(&r->error,
			       "the platform no longer knows the run");
		run_move(jc, b, r, RUN_LOST, source, r->error);
		return;
	}
	if (rc || !st) {
		run_set_string(&r->stale_reason,
			       err[0] ? err : strerror(rc ? -rc : ENOMEM));
		/* asked and failed: readers within the ttl take the cache */
		r->refreshed_mono = clock_mono();
		return;
	}
	run_set_string(&r->stale_reason, NULL);
	r->refreshed_mono = clock_mono();
	run_take_details(b, r, st);
	enum run_state to = st->state;
	if (r->state == RUN_CANCELLING && !state_is_terminal(to)) {
		/* the platform is still stopping it: look again soon rather
		 * than at the next full pass */
		r->poked = true;
		b->recheck = true;
	}
	if (!state_can_move(r->state, to))
		return;
	if (state_is_terminal(to) && hold_end(jc, b, r, st, source))
		return;
	if (to == RUN_FAILED && r->state != RUN_CANCELLING &&
	    has_retry_left(r)) {
		run_retry(b, r, st);
		return;
	}
	if (state_is_terminal(to))
		run_take_end(r, st);
	if (to == RUN_CANCELLED && r->error)
		to = RUN_FAILED;
	else if (to == RUN_FAILED || to == RUN_LOST)
		run_set_string(&r->error, st->error ? st->error : "failed");
	run_move(jc, b, r, to, source, to == RUN_FAILED ? r->error : "");
}

/* --- reads -------------------------------------------------------------- */

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

/* --- refreshing ------------------------------------------------------- */

struct probe {
	struct run *run;
	char *remote_id;
};

/* Marks and copies the runs of @platform due for a refresh. Locked. */
static size_t collect_probes(struct jobcore *jc, const char *platform,
			     bool full, struct probe *out)
{
	size_t n = 0;
	for (size_t i = 0; i < jc->nactive; i++) {
		struct run *r = jc->active[i];
		if (strcmp(r->platform, platform) != 0 || !r->remote_id ||
		    r->refreshing || r->submitting || !(full || r->poked))
			continue;
		out[n].run = r;
		out[n].remote_id = strdup(r->remote_id);
		if (!out[n].remote_id)
			continue;
		r->refreshing = true;
		r->poked = false;
		n++;
	}
	return n;
}

static void refresh_platform(struct jobcore *jc, struct platform *p,
			     const char *name, bool full)
{
	pthread_mutex_lock(&jc->lock);
	struct probe *probes = calloc(jc->nactive + 1, sizeof(*probes));
	size_t n = probes ? collect_probes(jc, name, full, probes) : 0;
	pthread_mutex_unlock(&jc->lock);
	if (n == 0) {
		free(probes);
		return;
	}
	const char **ids = calloc(n + 1, sizeof(*ids));
	struct run_status *st = calloc(n + 1, sizeof(*st));
	int *rcs = calloc(n + 1, sizeof(*rcs));
	char err[256] = "";
	int rc = ids && st && rcs ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		ids[i] = probes[i].remote_id;
	if (rc == 0 && n > 0)
		rc = platform_status_many(
		    p, ids, st, rcs, n, platform_timeout(p), err, sizeof(err));
	struct batch b = {0};
	pthread_mutex_lock(&jc->lock);
	for (size_t i = 0; i < n; i++) {
		run_apply(jc, &b, probes[i].run, st ? &st[i] : NULL,
			  rc ? rc : rcs[i], err, "poller");
		probes[i].run->refreshing = false;
		free(probes[i].remote_id);
		if (st)
			platform_status_release(&st[i]);
	}
	pthread_cond_broadcast(&jc->refreshed);
	batch_commit(jc, &b);
	free(probes);
	free(ids);
	free(st);
	free(rcs);
}

/* --- fetching output -------------------------------------------------- */

/* After a fetch: applies the final answer that waited for the output. */
static void finish_fetch(struct jobcore *jc, int64_t run_id)
{
	struct batch b = {0};
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, run_id);
	struct run_status *st = r ? r->pending_end : NULL;
	if (st) {
		r->pending_end = NULL;
		r->output_final = true;
		run_apply(jc, &b, r, st, 0, "", r->pending_source);
		free(st->error);
		free(st);
	}
	batch_commit(jc, &b);
}

/* Copies output from the platforms for the runs queued by want_output(). */
static void fetch_pass(struct jobcore *jc)
{
	pthread_mutex_lock(&jc->lock);
	struct run **queue = jc->fetch_queue;
	size_t n = jc->nfetch;
	jc->fetch_queue = NULL;
	jc->nfetch = jc->fetch_cap = 0;
	struct fetch {
		int64_t run_id;
		char *platform, *remote_id, *dir;
	} *todo = calloc(n + 1, sizeof(*todo));
	for (size_t i = 0; todo && i < n; i++) {
		struct run *r = queue[i];
		r->need_fetch = false;
		todo[i].run_id = r->id;
		todo[i].platform = strdup(r->platform);
		todo[i].remote_id = strdup(r->remote_id);
		job_run_dir(jc, r->id, &todo[i].dir);
	}
	pthread_mutex_unlock(&jc->lock);
	free(queue);
	for (size_t i = 0; todo && i < n; i++) {
		struct fetch *f = &todo[i];
		struct platform *p = platforms_get(jc->platforms, f->platform);
		char err[256];
		if (p && f->remote_id && f->dir &&
		    platform_fetch(p, f->remote_id, f->dir, platform_timeout(p),
				   err, sizeof(err)))
			log_warn("cannot fetch output of \"%s\": %s",
				 f->remote_id, err);
		finish_fetch(jc, f->run_id); /* even without output: no stall */
		free(f->platform);
		free(f->remote_id);
		free(f->dir);
	}
	free(todo);
}

/* --- cancelling and timeouts -------------------------------------------- */

/*
 * Sends a cancel for run @run_id and moves it to CANCELLING. @timeout_msg
 * non-NULL marks a timeout (the run then ends FAILED with it).
 */
static int cancel_run(struct jobcore *jc, int64_t run_id, const char *reason,
		      const char *source, const char *timeout_msg, char *err,
		      size_t errlen)
{
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, run_id);
	int rc = 0;
	if (!r || state_is_terminal(r->state)) {
		snprintf(err, errlen, "run already ended");
		rc = -EINVAL;
	} else if (r->state == RUN_CANCELLING) {
		rc = 1;
	}
	struct batch b = {0};
	if (rc == 0 && !r->remote_id && !r->submitting && !r->need_reconcile) {
		/* never submitted: nothing to ask the platform */
		run_move(jc, &b, r, RUN_CANCELLED, source, reason);
		return batch_commit(jc, &b);
	}
	char *remote_id = rc == 0 && r->remote_id ? strdup(r->remote_id) : NULL;
	struct platform *p =
	    r ? platforms_get(jc->platforms, r->platform) : NULL;
	pthread_mutex_unlock(&jc->lock);
	if (rc)
		return rc > 0 ? 0 : rc;
	if (remote_id && p)
		rc = platform_cancel(p, remote_id, reason, platform_timeout(p),
				     err, errlen);
	free(remote_id);
	pthread_mutex_lock(&jc->lock);
	r = job_find_run_id(jc, run_id);
	if (rc == 0 && r && state_can_move(r->state, RUN_CANCELLING)) {
		if (timeout_msg)
			run_set_string(&r->error, timeout_msg);
		r->poked = true;
		b.kick = true;
		run_move(jc, &b, r, RUN_CANCELLING, source, reason);
	} else if (rc == -EINVAL && r) {
		r->poked = true; /* it ended on the platform: learn how */
		b.kick = true;
	}
	batch_commit(jc, &b);
	return rc;
}

int job_cancel(struct jobcore *jc, const char *job, int number,
	       const char *reason, char *err, size_t errlen)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j ? job_find_run(j, number) : NULL;
	int64_t run_id = r ? r->id : 0;
	pthread_mutex_unlock(&jc->lock);
	if (!r) {
		snprintf(err, errlen, "no such run");
		return -ENOENT;
	}
	return cancel_run(jc, run_id, reason && *reason ? reason : "cancelled",
			  "user", NULL, err, errlen);
}

static bool run_timed_out(struct run *r, double now)
{
	job_load_limits(r->job);
	return r->job->timeout > 0 && r->remote_id && r->submitted_at > 0 &&
	       r->state != RUN_CANCELLING &&
	       now - r->submitted_at >= (double)r->job->timeout;
}

static void timeout_pass(struct jobcore *jc)
{
	double now = clock_wall();
	pthread_mutex_lock(&jc->lock);
	int64_t *due = calloc(jc->nactive + 1, sizeof(*due));
	long *limits = calloc(jc->nactive + 1, sizeof(*limits));
	size_t n = 0;
	for (size_t i = 0; due && limits && i < jc->nactive; i++) {
		if (run_timed_out(jc->active[i], now)) {
			limits[n] = jc->active[i]->job->timeout;
			due[n++] = jc->active[i]->id;
		}
	}
	pthread_mutex_unlock(&jc->lock);
	for (size_t i = 0; i < n; i++) {
		char msg[64], err[256];
		snprintf(msg, sizeof(msg), "timed out after %ld s", limits[i]);
		cancel_run(jc, due[i], msg, "timeout", msg, err, sizeof(err));
	}
	free(due);
	free(limits);
}

/* --- output of a running run ---------------------------------------- */

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

/* --- the poller's entry points -------------------------------------------- */

void job_platform_changed(struct jobcore *jc, const char *platform,
			  const char *remote_id)
{
	bool found = false;
	pthread_mutex_lock(&jc->lock);
	for (size_t i = 0; i < jc->nactive; i++) {
		struct run *r = jc->active[i];
		if (r->remote_id && strcmp(r->remote_id, remote_id) == 0 &&
		    strcmp(r->platform, platform) == 0) {
			r->poked = true;
			found = true;
		}
	}
	pthread_mutex_unlock(&jc->lock);
	if (found && jc->listener.kick)
		jc->listener.kick(jc->listener.ctx);
}

void job_poll(struct jobcore *jc, bool full)
{
	if (!jc->platforms)
		return;
	job_submit_pass(jc);
	for (size_t i = 0; i < platforms_count(jc->platforms); i++) {
		const char *name = platforms_name(jc->platforms, i);
		struct platform *p = platforms_get(jc->platforms, name);
		if (platform_probe_due(p))
			platform_probe(p);
		refresh_platform(jc, p, name, full);
	}
	fetch_pass(jc);
	timeout_pass(jc);
}
