/*
 * The poller's passes, one job_poll() per interval (or kick): submits
 * (job_submit.c), a probe of each DOWN platform that is due, a refresh of
 * the active runs of each platform in one batch call where it has one,
 * the fetch of output that finished runs wait for, the steps of runs
 * that changed (job_steps.c), and timeouts.
 *
 * Every platform call is made without jc->lock; the answers go to
 * run_apply() (job_apply.c), which alone changes run state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job_internal.h"
#include "log.h"

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

/* --- timeouts ----------------------------------------------------------- */

/* @r's timeout in seconds when it has run past it, else 0. Locked. */
static long run_overdue(struct jobcore *jc, struct run *r, double now)
{
	const struct job_config *conf = job_conf(jc, r->job);
	long limit = conf ? conf->timeout : 0;
	bool over = limit > 0 && r->remote_id && r->submitted_at > 0 &&
		    r->state != RUN_CANCELLING &&
		    now - r->submitted_at >= (double)limit;
	return over ? limit : 0;
}

static void timeout_pass(struct jobcore *jc)
{
	double now = clock_wall();
	pthread_mutex_lock(&jc->lock);
	int64_t *due = calloc(jc->nactive + 1, sizeof(*due));
	long *limits = calloc(jc->nactive + 1, sizeof(*limits));
	size_t n = 0;
	for (size_t i = 0; due && limits && i < jc->nactive; i++) {
		long limit = run_overdue(jc, jc->active[i], now);
		if (limit > 0) {
			limits[n] = limit;
			due[n++] = jc->active[i]->id;
		}
	}
	pthread_mutex_unlock(&jc->lock);
	for (size_t i = 0; i < n; i++) {
		char msg[64], err[256];
		snprintf(msg, sizeof(msg), "timed out after %ld s", limits[i]);
		job_cancel_run(jc, due[i], msg, "timeout", msg, err,
			       sizeof(err));
	}
	free(due);
	free(limits);
}

/* --- output of a running run ---------------------------------------- */

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
	job_cancel_pass(jc);
	for (size_t i = 0; i < platforms_count(jc->platforms); i++) {
		const char *name = platforms_name(jc->platforms, i);
		struct platform *p = platforms_get(jc->platforms, name);
		if (platform_probe_due(p))
			platform_probe(p);
		refresh_platform(jc, p, name, full);
	}
	fetch_pass(jc);
	job_steps_pass(jc);
	timeout_pass(jc);
	job_retain_pass(jc);
}
