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

#include "clock.h"
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
	/* the version's config with the run's override, and its entry */
	struct job_config conf;
	bool has_conf;
	char *entry;
};

static void ticket_release(struct ticket *t)
{
	free(t->job);
	free(t->platform);
	free(t->overrides);
	free(t->run_key);
	if (t->has_conf)
		jobconf_release(&t->conf);
	free(t->entry);
}

/* The run's override applied to @base into the ticket. */
static int ticket_merge(struct ticket *t, const struct job_config *base,
			const char *entry, char *err, size_t errlen)
{
	const char *ov = t->overrides ? t->overrides : "";
	int rc = jobconf_override(base, ov, strlen(ov), &t->conf, err, errlen);
	if (rc)
		return rc;
	t->has_conf = true;
	t->entry = job_strdup(entry);
	return entry && !t->entry ? -ENOMEM : 0;
}

/*
 * Copies what a submit of @r needs; the config comes from the job's kept
 * one when the run uses the current version (else ticket_config() reads
 * the run's own version later, without the lock). Called locked.
 */
static int ticket_fill(struct jobcore *jc, struct ticket *t, struct run *r)
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
	if (!t->job || !t->platform || !t->run_key)
		return -ENOMEM;
	const struct job_config *conf =
	    r->version == r->job->version ? job_conf(jc, r->job) : NULL;
	char err[256];
	/* on failure ticket_config() tries again and reports it */
	if (conf)
		ticket_merge(t, conf, r->job->entry_point, err, sizeof(err));
	return 0;
}

/* A run of an older version (or a config that failed): read it. */
static int ticket_config(struct jobcore *jc, struct ticket *t, char *err,
			 size_t errlen)
{
	if (t->has_conf)
		return 0;
	struct job_config base;
	char *entry = NULL;
	int rc = job_version_load(jc, t->job_id, t->version, &base, &entry, err,
				  errlen);
	if (rc)
		return rc;
	rc = ticket_merge(t, &base, entry, err, errlen);
	jobconf_release(&base);
	free(entry);
	return rc;
}

/* Everything a run_spec points to, owned here. */
struct spec_parts {
	char *version_dir, *run_dir;
	char app_dir[4200];
};

static int spec_build(struct jobcore *jc, struct ticket *t,
		      struct spec_parts *sp, struct run_spec *spec, char *err,
		      size_t errlen)
{
	int rc = job_version_dir(jc, t->job_id, t->version, &sp->version_dir);
	if (rc == 0)
		rc = job_run_dir(jc, t->run_id, &sp->run_dir);
	if (rc == 0)
		rc = ticket_config(jc, t, err, errlen);
	snprintf(sp->app_dir, sizeof(sp->app_dir), "%s/app",
		 sp->version_dir ? sp->version_dir : "");
	bool has_app = rc == 0 && access(sp->app_dir, F_OK) == 0;
	*spec = (struct run_spec){
	    .job_name = t->job,
	    .run_key = t->run_key,
	    .bundle_dir = has_app ? sp->app_dir : NULL,
	    .entry_point = t->entry,
	    .args = t->conf.args,
	    .env = t->conf.env,
	    .conf = t->conf.conf,
	    .output_dir = sp->run_dir,
	    .attempt = t->attempt,
	};
	return rc;
}

static void spec_release(struct spec_parts *sp)
{
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

static enum submit_outcome submit_ticket(struct jobcore *jc, struct ticket *t,
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
 * The bulkhead: per platform (by index), how many runs hold a slot of its
 * max_active: on the platform, on their way there, or maybe there.
 */
struct slots {
	size_t *taken;
	size_t n;
};

static bool holds_slot(const struct run *r)
{
	return r->submitting || r->need_reconcile ||
	       (r->remote_id && !r->need_submit);
}

static int platform_index(struct jobcore *jc, const char *name)
{
	for (size_t i = 0; i < platforms_count(jc->platforms); i++)
		if (strcmp(platforms_name(jc->platforms, i), name) == 0)
			return (int)i;
	return -1;
}

/* Counts the slots taken now. Locked. */
static int slots_count(struct jobcore *jc, struct slots *s)
{
	s->n = platforms_count(jc->platforms);
	s->taken = calloc(s->n + 1, sizeof(*s->taken));
	if (!s->taken)
		return -ENOMEM;
	for (size_t i = 0; i < jc->nactive; i++) {
		int at = platform_index(jc, jc->active[i]->platform);
		if (at >= 0 && holds_slot(jc->active[i]))
			s->taken[at]++;
	}
	return 0;
}

/*
 * Whether @r may be submitted now; takes its slot if so, else holds it
 * (QUEUED in jobfs). A reconcile or a cancelled run never waits: neither
 * starts anything new. Locked.
 */
static bool slot_take(struct jobcore *jc, struct slots *s, struct batch *b,
		      struct run *r)
{
	int at = platform_index(jc, r->platform);
	struct platform *p =
	    at >= 0 ? platforms_get(jc->platforms, r->platform) : NULL;
	size_t limit = p ? platform_max_active(p) : 0;
	if (limit == 0 || r->need_reconcile || r->state == RUN_CANCELLING)
		return true;
	if (s->taken[at] >= limit) {
		run_apply_held(jc, b, r, limit);
		jc->nheld++;
		return false;
	}
	s->taken[at]++;
	r->held = false;
	return true;
}

/*
 * Collects runs waiting for a submit, oldest first, marking each new
 * submit as in flight in @b (committed before any request goes out).
 * Called locked.
 */
static size_t collect_submits(struct jobcore *jc, struct batch *b,
			      struct ticket **out)
{
	struct slots slots = {0};
	*out = slots_count(jc, &slots) == 0
		   ? calloc(jc->nactive + 1, sizeof(**out))
		   : NULL;
	size_t n = 0;
	jc->nheld = 0;
	for (size_t i = 0; *out && i < jc->nactive; i++) {
		struct run *r = jc->active[i];
		if (!(r->need_submit || r->need_reconcile) || r->submitting ||
		    !slot_take(jc, &slots, b, r))
			continue;
		if (ticket_fill(jc, &(*out)[n], r) != 0) {
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
	free(slots.taken);
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
	if (r)
		run_apply_submit(jc, &b, r, out, t->attempt, remote_id, err);
	else
		free(remote_id);
	batch_commit(jc, &b);
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
