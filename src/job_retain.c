/*
 * Retention (-o keep=DURATION): ended runs older than that go, with their
 * events and output, so that the history of an edge host does not grow
 * without bound. A job's latest run always stays, so does every run still
 * being fetched or asked about, and so does every version dir a kept run
 * (or the job's current version) uses.
 *
 * A pass looks at most once a minute (twice per keep, when keep is
 * shorter) and removes at most RETAIN_BATCH
 * runs, so neither the poller nor the store is held up long; a full batch
 * asks for the next pass soon. The runs leave memory first (readers stop
 * seeing them), their rows go in one transaction (the commit point), and
 * only then their files, the core's and what the platform keeps (its
 * forget op: the local platform's run dir): a kill in between leaves
 * orphaned dirs, which start-up recovery removes (job_recover.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fsutil.h"
#include "job_internal.h"
#include "log.h"

#define RETAIN_BATCH   200
#define RETAIN_EVERY_S 60.0
#define RETAIN_SOON_S  1.0 /* after a full batch */

/* What is left to remove of one expired run once its rows are gone. */
struct expired {
	int64_t run_id;
	char *job;
	char *platform, *remote_id; /* what the platform keeps, or NULL */
	char *unused_version_dir;   /* no kept run uses it any more, or NULL */
};

static bool is_expirable(const struct run *r, double cutoff)
{
	return state_is_terminal(r->state) && r->ended_at > 0 &&
	       r->ended_at < cutoff && !r->need_fetch && !r->pending_end &&
	       !r->fetching_output && !r->refreshing;
}

static bool version_in_use(const struct job *j, int version)
{
	if (version == j->version)
		return true;
	for (size_t i = 0; i < j->nruns; i++)
		if (!j->runs[i]->expired && j->runs[i]->version == version)
			return true;
	return false;
}

/* Marks @j's expirable runs (never the latest), up to @room. Locked. */
static size_t mark_job(struct job *j, double cutoff, size_t room)
{
	size_t n = 0;
	for (size_t i = 0; n < room && i + 1 < j->nruns; i++) {
		if (is_expirable(j->runs[i], cutoff)) {
			j->runs[i]->expired = true;
			n++;
		}
	}
	return n;
}

/* Copies what the files step needs of @j's marked runs. Locked. */
static size_t take_marked(struct jobcore *jc, struct job *j,
			  struct expired *out)
{
	size_t n = 0;
	for (size_t i = 0; i < j->nruns; i++) {
		const struct run *r = j->runs[i];
		if (!r->expired)
			continue;
		out[n] =
		    (struct expired){.run_id = r->id,
				     .job = strdup(j->name),
				     .platform = job_strdup(r->platform),
				     .remote_id = job_strdup(r->remote_id)};
		if (!version_in_use(j, r->version))
			job_version_dir(jc, j->id, r->version,
					&out[n].unused_version_dir);
		n++;
	}
	return n;
}

/*
 * Marks up to RETAIN_BATCH runs and takes them out of memory; fills @out
 * and @jobs (the jobs they belonged to, one per run). Locked.
 */
static size_t collect(struct jobcore *jc, double cutoff, struct expired *out,
		      struct job **jobs)
{
	size_t n = 0;
	for (size_t i = 0; i < jc->njobs && n < RETAIN_BATCH; i++) {
		struct job *j = jc->jobs[i];
		if (mark_job(j, cutoff, RETAIN_BATCH - n) == 0)
			continue;
		size_t got = take_marked(jc, j, out + n);
		for (size_t k = 0; k < got; k++)
			jobs[n + k] = j;
		n += got;
	}
	job_forget_expired(jc, jobs, n);
	return n;
}

static int delete_rows(struct jobcore *jc, const struct expired *ex, size_t n)
{
	int rc = store_begin(jc->store);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_run_delete(jc->store, ex[i].run_id);
	if (rc) {
		store_rollback(jc->store);
		return rc;
	}
	return store_commit(jc->store);
}

/* What the platform keeps of @ex (the local platform's run dir). */
static void forget_remote(struct jobcore *jc, const struct expired *ex)
{
	struct platform *p = ex->platform && ex->remote_id
				 ? platforms_get(jc->platforms, ex->platform)
				 : NULL;
	char err[256];
	if (p && platform_forget(p, ex->remote_id, err, sizeof(err)))
		log_warn("retention: platform \"%s\" keeps run \"%s\": %s",
			 ex->platform, ex->remote_id, err);
}

static void remove_files(struct jobcore *jc, struct expired *ex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *dir = NULL;
		if (job_run_dir(jc, ex[i].run_id, &dir) == 0)
			fsutil_rm_rf(dir);
		free(dir);
		forget_remote(jc, &ex[i]);
		if (ex[i].unused_version_dir)
			fsutil_rm_rf(ex[i].unused_version_dir);
	}
}

/* The jobs whose runs/ listing changed, each told once. */
static void tell_listeners(struct jobcore *jc, struct expired *ex, size_t n)
{
	for (size_t i = 0; i < n && jc->listener.replaced; i++)
		if (i == 0 || strcmp(ex[i].job, ex[i - 1].job) != 0)
			jc->listener.replaced(jc->listener.ctx, ex[i].job);
}

static bool pass_is_due(struct jobcore *jc)
{
	double now = clock_mono();
	if (jc->settings.keep <= 0 ||
	    (jc->retained_mono > 0 && now < jc->retained_mono))
		return false;
	double every = jc->settings.keep / 2;
	jc->retained_mono =
	    now + (every < RETAIN_EVERY_S ? every : RETAIN_EVERY_S);
	return true;
}

void job_retain_pass(struct jobcore *jc)
{
	struct expired *ex = calloc(RETAIN_BATCH, sizeof(*ex));
	struct job **jobs = calloc(RETAIN_BATCH, sizeof(*jobs));
	pthread_mutex_lock(&jc->lock);
	size_t n = ex && jobs && pass_is_due(jc)
		       ? collect(jc, clock_wall() - jc->settings.keep, ex, jobs)
		       : 0;
	if (n == RETAIN_BATCH)
		jc->retained_mono = clock_mono() + RETAIN_SOON_S;
	/* rows go in the order memory changed (see job_internal.h) */
	pthread_mutex_lock(&jc->persist);
	pthread_mutex_unlock(&jc->lock);
	int rc = n ? delete_rows(jc, ex, n) : 0;
	pthread_mutex_unlock(&jc->persist);
	if (rc)
		log_error("retention: cannot remove %zu runs: %s", n,
			  strerror(-rc));
	else if (n)
		log_info("retention: removed %zu ended runs older than %.0f s",
			 n, jc->settings.keep);
	if (rc == 0)
		remove_files(jc, ex, n);
	tell_listeners(jc, ex, n);
	if (n == RETAIN_BATCH && jc->listener.kick_in)
		jc->listener.kick_in(jc->listener.ctx, RETAIN_SOON_S);
	for (size_t i = 0; ex && i < n; i++) {
		free(ex[i].job);
		free(ex[i].platform);
		free(ex[i].remote_id);
		free(ex[i].unused_version_dir);
	}
	free(ex);
	free(jobs);
}
