/*
 * Submitting runs, so that a crash never submits one twice.
 *
 * Before a submit goes out, the run is marked "submit in flight" in the
 * store (submit_started_at). If the daemon dies before the answer is
 * recorded, the next one finds the mark and reconciles: it asks the
 * platform for a run carrying the run key (the find op) and adopts it,
 * submits only when the platform says there is none, and ends the run
 * LOST when the platform cannot be asked. The same happens when a submit
 * fails in a way that leaves its fate unknown (a timeout, a dropped
 * connection, a 500): the request may have been acted on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "clock.h"
#include "fsutil.h"
#include "job_internal.h"
#include "jobconf.h"
#include "log.h"

/* What a submit needs, copied out of the run under the lock. */
struct ticket {
	int64_t run_id;
	int64_t job_id;
	int version;
	int attempt;
	bool reconcile;
	bool cancelling; /* cancelled before the submit's fate was known */
	char *job;
	char *platform;
	char *overrides;
	char *run_key;
};

static void ticket_release(struct ticket *t)
{
	free(t->job);
	free(t->platform);
	free(t->overrides);
	free(t->run_key);
}

static int ticket_fill(struct ticket *t, const struct run *r)
{
	*t = (struct ticket){
	    .run_id = r->id,
	    .job_id = r->job->id,
	    .version = r->version,
	    .attempt = r->attempts + 1,
	    .reconcile = r->need_reconcile,
	    .cancelling = r->state == RUN_CANCELLING,
	    .job = strdup(r->job->name),
	    .platform = strdup(r->platform),
	    .overrides = job_strdup(r->overrides),
	};
	if (asprintf(&t->run_key, "%s.%lld", r->job->name, (long long)r->id) <
	    0)
		t->run_key = NULL;
	return t->job && t->platform && t->run_key ? 0 : -ENOMEM;
}

/* The full (unredacted) config of a version, with the run's override. */
static int ticket_config(const struct ticket *t, const char *version_dir,
			 struct job_config *out, char *err, size_t errlen)
{
	char path[4200], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/config.json", version_dir);
	int rc = fsutil_read_all(path, 1 << 20, &text, &len);
	if (rc) {
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
			 strerror(-rc));
		return rc;
	}
	struct job_config base;
	rc = jobconf_parse(text, len, &base, err, errlen);
	free(text);
	if (rc)
		return rc;
	const char *ov = t->overrides ? t->overrides : "";
	rc = jobconf_override(&base, ov, strlen(ov), out, err, errlen);
	jobconf_release(&base);
	return rc;
}

/* Resolves the entry point: the config's, else the bundle's only file. */
static int resolve_entry(const struct job_config *conf, const char *app_dir,
			 bool has_app, char **entry_out, char *err,
			 size_t errlen)
{
	*entry_out = NULL;
	if (conf->entry_point) {
		*entry_out = strdup(conf->entry_point);
		return *entry_out ? 0 : -ENOMEM;
	}
	if (!has_app)
		return 0;
	int rc = bundle_default_entry(app_dir, entry_out, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

/* Everything a run_spec points to, owned here. */
struct spec_parts {
	char *version_dir, *run_dir, *entry;
	char app_dir[4200];
	struct job_config conf;
};

static int spec_build(struct jobcore *jc, const struct ticket *t,
		      struct spec_parts *sp, struct run_spec *spec, char *err,
		      size_t errlen)
{
	int rc = job_version_dir(jc, t->job_id, t->version, &sp->version_dir);
	if (rc == 0)
		rc = job_run_dir(jc, t->run_id, &sp->run_dir);
	if (rc == 0)
		rc = ticket_config(t, sp->version_dir, &sp->conf, err, errlen);
	snprintf(sp->app_dir, sizeof(sp->app_dir), "%s/app",
		 sp->version_dir ? sp->version_dir : "");
	bool has_app = rc == 0 && access(sp->app_dir, F_OK) == 0;
	if (rc == 0)
		rc = resolve_entry(&sp->conf, sp->app_dir, has_app, &sp->entry,
				   err, errlen);
	*spec = (struct run_spec){
	    .job_name = t->job,
	    .run_key = t->run_key,
	    .bundle_dir = has_app ? sp->app_dir : NULL,
	    .entry_point = sp->entry,
	    .args = sp->conf.args,
	    .env = sp->conf.env,
	    .conf = sp->conf.conf,
	    .output_dir = sp->run_dir,
	    .attempt = t->attempt,
	};
	return rc;
}

static void spec_release(struct spec_parts *sp)
{
	jobconf_release(&sp->conf);
	free(sp->entry);
	free(sp->version_dir);
	free(sp->run_dir);
}

/* What a failed submit means for a request that is not idempotent. */
static enum submit_outcome failed_submit(int rc)
{
	switch (rc) {
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -EAGAIN: /* circuit open, 429, 503: nothing was created */
		return NOT_SENT;
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -EPROTO:
	case -EIO:
		return UNKNOWN;
	default:
		return REJECTED;
	}
}

/* Asks the platform whether an interrupted submit created the run. */
static enum submit_outcome reconcile(struct platform *p,
				     const struct run_spec *spec,
				     char **remote_id_out, char *err,
				     size_t errlen)
{
	int rc = platform_find(p, spec, platform_timeout(p), remote_id_out, err,
			       errlen);
	if (rc == 0)
		return ADOPTED;
	if (rc == -ENOTSUP)
		return UNKNOWABLE;
	return rc == -ENOENT ? SUBMITTED /* safe to submit */ : UNKNOWN;
}

static enum submit_outcome submit_ticket(struct jobcore *jc,
					 const struct ticket *t,
					 char **remote_id_out, char *err,
					 size_t errlen)
{
	struct platform *p = platforms_get(jc->platforms, t->platform);
	if (!p) {
		snprintf(err, errlen, "unknown platform \"%s\"", t->platform);
		return REJECTED;
	}
	struct spec_parts sp = {0};
	struct run_spec spec;
	enum submit_outcome out = REJECTED;
	int rc = spec_build(jc, t, &sp, &spec, err, errlen);
	if (rc == 0 && t->reconcile)
		out = reconcile(p, &spec, remote_id_out, err, errlen);
	if (rc == 0 && t->cancelling && (!t->reconcile || out == SUBMITTED))
		out = NOT_NEEDED; /* nothing there to cancel: never send it */
	else if (rc == 0 && (!t->reconcile || out == SUBMITTED)) {
		rc = platform_submit(p, &spec, platform_timeout(p),
				     remote_id_out, err, errlen);
		out = rc == 0 ? SUBMITTED : failed_submit(rc);
	}
	spec_release(&sp);
	return out;
}

/*
 * Collects runs waiting for a submit, marking each new submit as in
 * flight in @b (committed before any request goes out). Called locked.
 */
static size_t collect_submits(struct jobcore *jc, struct batch *b,
			      struct ticket **out)
{
	*out = calloc(jc->nactive + 1, sizeof(**out));
	size_t n = 0;
	for (size_t i = 0; *out && i < jc->nactive; i++) {
		struct run *r = jc->active[i];
		if (!(r->need_submit || r->need_reconcile) || r->submitting)
			continue;
		if (ticket_fill(&(*out)[n], r) != 0) {
			ticket_release(&(*out)[n]);
			continue;
		}
		r->submitting = true;
		if (!r->need_reconcile) {
			r->submit_started_at = clock_wall();
			batch_add_run(b, r);
		}
		n++;
	}
	return n;
}

static void submit_one(struct jobcore *jc, struct ticket *t)
{
	char err[512] = "", *remote_id = NULL;
	enum submit_outcome out =
	    submit_ticket(jc, t, &remote_id, err, sizeof(err));
	if (out == REJECTED || out == UNKNOWABLE)
		log_warn("job \"%s\": submit failed: %s", t->job, err);
	struct batch b = {0};
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, t->run_id);
	bool cancelled = false;
	char *id = NULL;
	if (r) {
		id = job_strdup(remote_id);
		cancelled = run_apply_submit(jc, &b, r, out, t->attempt,
					     remote_id, err);
	} else {
		free(remote_id);
	}
	if (!cancelled) {
		free(id);
		id = NULL;
	}
	batch_commit(jc, &b);
	struct platform *p = platforms_get(jc->platforms, t->platform);
	if (id && p)
		platform_cancel(p, id, "cancelled", platform_timeout(p), err,
				sizeof(err));
	free(id);
}

void job_submit_pass(struct jobcore *jc)
{
	struct ticket *tickets;
	struct batch b = {0};
	pthread_mutex_lock(&jc->lock);
	size_t n = collect_submits(jc, &b, &tickets);
	batch_commit(jc, &b); /* the in-flight marks are on disk first */
	for (size_t i = 0; i < n; i++) {
		submit_one(jc, &tickets[i]);
		ticket_release(&tickets[i]);
	}
	free(tickets);
}
