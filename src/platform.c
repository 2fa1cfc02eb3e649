/*
 * The platform registry and the wrappers around every platform op.
 *
 * Wrappers own the cross-cutting work so that each platform file only
 * speaks its protocol: deadlines, request/error/latency counts for
 * platforms/PNAME/stats, health for platforms/PNAME/health, and fallbacks
 * for optional ops. Latencies are kept in a small ring per platform; the
 * percentiles are computed when stats is read, not on every call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "databricks.h"
#include "fsutil.h"
#include "kubernetes.h"
#include "livy.h"
#include "local.h"
#include "log.h"
#include "platform.h"
#include "ratelimit.h"
#include "slurm.h"
#include "spark.h"
#include "stepfunctions.h"

/* The registry: the only list of platform kinds. */
static const struct platform_ops *const platform_kinds[] = {
    &local_platform,	  &livy_platform,	&synapse_platform,
    &spark_platform,	  &slurm_platform,	&stepfunctions_platform,
    &databricks_platform, &kubernetes_platform,
};

#define LATENCY_RING	  1024
#define DEFAULT_TIMEOUT_S 10.0
/* the circuit breaker: this many failures in a row open it ... */
#define BREAKER_FAILURES 3
/* ... for a cooldown that doubles while probes fail, up to a limit */
#define BREAKER_COOLDOWN_S     2.0
#define BREAKER_COOLDOWN_MAX_S 60.0

enum health { HEALTH_OK, HEALTH_DEGRADED, HEALTH_DOWN };

struct platform_stats {
	pthread_mutex_t lock;
	unsigned long requests, errors, retries;
	double latency_ms[LATENCY_RING];
	struct histogram latency; /* every call, for the metrics file */
	size_t nlatency;	  /* samples stored, up to LATENCY_RING */
	size_t next;		  /* ring position of the next sample */
	double timeout; /* seconds a call may take ("timeout" field) */
	enum health health;
	char health_reason[256];
	double health_since;
	int failures_in_row;
	double open_until; /* monotonic; the breaker is open before it */
	double cooldown;
	struct rate_limit rate; /* "rate" field: calls per second */
	size_t max_active;	/* "max_active" field: 0 = no limit */
};

struct platform_entry {
	char *name;
	struct platform *platform;
	json_t *fields; /* the config without the registry's own fields */
	struct platform_stats stats;
	const struct platform_listener *listener;
};

struct platforms {
	struct platform_listener listener;
	struct platform_entry *entries;
	size_t n;
};

static const struct platform_ops *
kind_lookup(const struct platform_ops *const *kinds, size_t nkinds,
	    const char *kind)
{
	for (size_t i = 0; i < nkinds; i++)
		if (strcmp(kinds[i]->kind, kind) == 0)
			return kinds[i];
	return NULL;
}

const struct platform_ops *platform_kind(const char *kind)
{
	return kind_lookup(platform_kinds,
			   sizeof(platform_kinds) / sizeof(platform_kinds[0]),
			   kind);
}

int platform_helper_main(int argc, char **argv)
{
	const struct platform_ops *ops =
	    argc > 0 ? platform_kind(argv[0]) : NULL;
	if (!ops || !ops->helper_main) {
		fprintf(stderr, "jobfs: no platform helper for \"%s\"\n",
			argc > 0 ? argv[0] : "");
		return 2;
	}
	return ops->helper_main(argc, argv);
}

static void entry_changed(void *ctx, const char *remote_id)
{
	struct platform_entry *e = ctx;
	if (e->listener && e->listener->changed)
		e->listener->changed(e->listener->ctx, e->name, remote_id);
}

static int entry_open(struct platform_entry *e,
		      const struct platform_config *pc, const char *state_dir,
		      const struct platform_ops *const *kinds, size_t nkinds,
		      char *err, size_t errlen)
{
	const struct platform_ops *ops = kind_lookup(kinds, nkinds, pc->kind);
	if (!ops) {
		snprintf(err, errlen, "platform \"%s\": unknown kind \"%s\"",
			 pc->name, pc->kind);
		return -EINVAL;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/platforms/%s", state_dir, pc->name);
	int rc = fsutil_mkdir_p(dir, 0700);
	if (rc) {
		snprintf(err, errlen,
			 "platform \"%s\": cannot create \"%s\": %s", pc->name,
			 dir, strerror(-rc));
		return rc;
	}
	/* max_active and rate are the registry's: platforms never see them */
	e->fields = json_copy(pc->fields);
	if (!e->fields)
		return -ENOMEM;
	json_object_del(e->fields, "max_active");
	json_object_del(e->fields, "rate");
	struct platform_env env = {
	    .name = pc->name,
	    .state_dir = dir,
	    .fields = e->fields,
	    .changed = entry_changed,
	    .changed_ctx = e,
	};
	char why[512] = "";
	rc = ops->open(&env, &e->platform, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "platform \"%s\": %s", pc->name, why);
		return rc;
	}
	e->platform->ops = ops;
	e->platform->name = e->name;
	e->platform->stats = &e->stats;
	json_t *timeout = json_object_get(pc->fields, "timeout");
	e->stats.timeout =
	    json_is_number(timeout) && json_number_value(timeout) > 0
		? json_number_value(timeout)
		: DEFAULT_TIMEOUT_S;
	e->stats.cooldown = BREAKER_COOLDOWN_S;
	return 0;
}

/*
 * The optional non-negative number @field of @pc into *out (unchanged
 * when absent); -EINVAL naming the field otherwise. @integer: whole only.
 */
static int limit_field(const struct platform_config *pc, const char *field,
		       bool integer, double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(pc->fields, field);
	if (!v)
		return 0;
	double d = json_is_number(v) ? json_number_value(v) : -1;
	if (d < 0 || (integer && d != (double)(long long)d)) {
		snprintf(err, errlen,
			 "platform \"%s\": \"%s\" must be a %s number >= 0",
			 pc->name, field, integer ? "whole" : "");
		return -EINVAL;
	}
	*out = d;
	return 0;
}

/* "max_active" and "rate": the bulkhead and the token bucket. */
static int entry_limits(struct platform_entry *e,
			const struct platform_config *pc, char *err,
			size_t errlen)
{
	double max_active = 0, rate = 0;
	int rc = limit_field(pc, "max_active", true, &max_active, err, errlen);
	if (rc == 0)
		rc = limit_field(pc, "rate", false, &rate, err, errlen);
	e->stats.max_active = (size_t)max_active;
	rate_limit_init(&e->stats.rate, rate);
	return rc;
}

int platforms_open(const struct config *cfg, const char *state_dir,
		   const struct platform_listener *listener,
		   struct platforms **out, char *err, size_t errlen)
{
	return platforms_open_kinds(cfg, state_dir, listener, platform_kinds,
				    sizeof(platform_kinds) /
					sizeof(platform_kinds[0]),
				    out, err, errlen);
}

int platforms_open_kinds(const struct config *cfg, const char *state_dir,
			 const struct platform_listener *listener,
			 const struct platform_ops *const *kinds, size_t nkinds,
			 struct platforms **out, char *err, size_t errlen)
{
	struct platforms *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->listener = *listener;
	ps->entries = calloc(cfg->nplatforms, sizeof(*ps->entries));
	if (!ps->entries) {
		free(ps);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->nplatforms; i++) {
		struct platform_entry *e = &ps->entries[i];
		pthread_mutex_init(&e->stats.lock, NULL);
		e->stats.health_since = clock_wall();
		e->listener = &ps->listener;
		e->name = strdup(cfg->platforms[i].name);
		ps->n = i + 1;
		int rc = entry_limits(e, &cfg->platforms[i], err, errlen);
		if (rc == 0)
			rc = e->name
				 ? entry_open(e, &cfg->platforms[i], state_dir,
					      kinds, nkinds, err, errlen)
				 : -ENOMEM;
		if (rc) {
			platforms_close(ps);
			return rc;
		}
	}
	*out = ps;
	return 0;
}

void platforms_close(struct platforms *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		struct platform_entry *e = &ps->entries[i];
		if (e->platform)
			e->platform->ops->close(e->platform);
		pthread_mutex_destroy(&e->stats.lock);
		rate_limit_destroy(&e->stats.rate);
		json_decref(e->fields);
		free(e->name);
	}
	free(ps->entries);
	free(ps);
}

struct platform *platforms_get(struct platforms *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->entries[i].name, name) == 0)
			return ps->entries[i].platform;
	return NULL;
}

size_t platforms_count(const struct platforms *ps)
{
	return ps->n;
}

const char *platforms_name(const struct platforms *ps, size_t i)
{
	return i < ps->n ? ps->entries[i].name : NULL;
}

unsigned platform_caps(const struct platform *p)
{
	return p->ops->caps;
}

bool platform_fetches_output(const struct platform *p)
{
	return p->ops->fetch != NULL;
}

/* Whether an error says the platform itself is unwell (not the request). */
static bool is_platform_failure(int rc)
{
	return rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -EAGAIN ||
	       rc == -EACCES || rc == -EPROTO || rc == -EIO ||
	       rc == -EHOSTUNREACH || rc == -ECONNRESET;
}

static void set_health(struct platform_stats *st, enum health h,
		       const char *reason)
{
	if (st->health == h)
		return;
	st->health = h;
	st->health_since = clock_wall();
	snprintf(st->health_reason, sizeof(st->health_reason), "%s", reason);
}

/* Counts a finished call and moves the breaker. */
static void stats_record(struct platform *p, double started,
			 const struct call *c, int rc)
{
	struct platform_stats *st = p->stats;
	double now = clock_mono(), ms = (now - started) * 1000.0;
	pthread_mutex_lock(&st->lock);
	st->requests++;
	st->retries += (unsigned long)c->retries;
	st->latency_ms[st->next] = ms;
	histogram_observe(&st->latency, ms / 1000.0);
	st->next = (st->next + 1) % LATENCY_RING;
	if (st->nlatency < LATENCY_RING)
		st->nlatency++;
	if (rc && rc != -EINPROGRESS) /* find's "not yet" is an answer */
		st->errors++;
	if (!is_platform_failure(rc)) {
		st->failures_in_row = 0;
		st->cooldown = BREAKER_COOLDOWN_S;
		set_health(st, HEALTH_OK, "");
	} else if (++st->failures_in_row >= BREAKER_FAILURES) {
		bool was_open = st->health == HEALTH_DOWN;
		if (was_open && st->cooldown < BREAKER_COOLDOWN_MAX_S)
			st->cooldown *= 2; /* a failed probe */
		st->open_until = now + st->cooldown;
		set_health(st, HEALTH_DOWN, c->err);
	} else {
		set_health(st, HEALTH_DEGRADED, c->err);
	}
	pthread_mutex_unlock(&st->lock);
}

/*
 * While the breaker is open, calls fail at once instead of waiting on a
 * platform that is down; once the cooldown has passed, calls go through
 * again and the first answer closes (or reopens) it. A call the breaker
 * lets through then takes a token of the platform's rate.
 */
static int breaker_check(struct platform *p, struct call *c)
{
	struct platform_stats *st = p->stats;
	pthread_mutex_lock(&st->lock);
	bool open = st->health == HEALTH_DOWN && clock_mono() < st->open_until;
	if (open)
		snprintf(c->err, sizeof(c->err), "platform \"%s\" is down: %s",
			 p->name, st->health_reason);
	pthread_mutex_unlock(&st->lock);
	if (open)
		return -EAGAIN;
	/* a call may wait for its token as long as it may take */
	if (rate_limit_take(&st->rate, st->timeout) != 0) {
		snprintf(c->err, sizeof(c->err),
			 "platform \"%s\": over its rate of %g calls/s",
			 p->name, st->rate.rate);
		return -EAGAIN;
	}
	return 0;
}

double platform_timeout(const struct platform *p)
{
	return p->stats->timeout;
}

bool platform_probe_due(struct platform *p)
{
	struct platform_stats *st = p->stats;
	pthread_mutex_lock(&st->lock);
	bool due = st->health == HEALTH_DOWN && clock_mono() >= st->open_until;
	pthread_mutex_unlock(&st->lock);
	return due;
}

int platform_probe(struct platform *p)
{
	struct call c = {.deadline = clock_mono() + p->stats->timeout};
	double started = clock_mono();
	int rc = p->ops->health ? p->ops->health(p, &c) : 0;
	if (p->ops->health)
		stats_record(p, started, &c, rc);
	return rc;
}

static void call_init(struct call *c, double timeout_s)
{
	c->deadline = clock_mono() + timeout_s;
	c->err[0] = '\0';
	c->retries = 0;
}

/*
 * Copies the op's reason out, with a fallback for ops that gave none, and
 * counts the call unless the breaker refused it (a refusal says nothing
 * new about the platform).
 */
static void call_finish(struct platform *p, struct call *c, double started,
			int rc, bool refused, char *err, size_t errlen)
{
	if (rc && c->err[0] == '\0')
		snprintf(c->err, sizeof(c->err), "%s", strerror(-rc));
	if (rc && err)
		snprintf(err, errlen, "%s", c->err);
	if (!refused)
		stats_record(p, started, c, rc);
}

int platform_validate(struct platform *p, const struct run_spec *run, char *err,
		      size_t errlen)
{
	if (!p->ops->validate)
		return 0;
	struct call c;
	call_init(&c, 5.0);
	int rc = p->ops->validate(p, &c, run);
	if (rc && err)
		snprintf(err, errlen, "%s", c.err[0] ? c.err : strerror(-rc));
	return rc;
}

int platform_submit(struct platform *p, const struct run_spec *run,
		    double timeout_s, char **remote_id_out, char *err,
		    size_t errlen)
{
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN : p->ops->submit(p, &c, run, remote_id_out);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

int platform_find(struct platform *p, const struct run_spec *run,
		  double timeout_s, char **remote_id_out, char *err,
		  size_t errlen)
{
	if (!p->ops->find) {
		snprintf(err, errlen, "platform \"%s\" cannot look runs up",
			 p->name);
		return -ENOTSUP;
	}
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN : p->ops->find(p, &c, run, remote_id_out);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

int platform_status(struct platform *p, const char *remote_id, double timeout_s,
		    struct run_status *out, char *err, size_t errlen)
{
	struct call c;
	call_init(&c, timeout_s);
	memset(out, 0, sizeof(*out));
	out->exit_code = -1;
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN : p->ops->status(p, &c, remote_id, out);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

/*
 * A batch call that "succeeded" while the platform failed every run it was
 * asked about (one run, asked for alone, timed out) is a failed call for
 * health and the breaker: the first run's error, else 0.
 */
static int all_runs_failed(const int *rcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_platform_failure(rcs[i]))
			return 0;
	return n > 0 ? rcs[0] : 0;
}

int platform_status_many(struct platform *p, const char *const *remote_ids,
			 struct run_status *out, int *rcs, size_t n,
			 double timeout_s, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].exit_code = -1;
	}
	if (!p->ops->status_many) {
		for (size_t i = 0; i < n; i++)
			rcs[i] = platform_status(p, remote_ids[i], timeout_s,
						 &out[i], err, errlen);
		return 0;
	}
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN
			 : p->ops->status_many(p, &c, remote_ids, out, rcs, n);
	call_finish(p, &c, started, rc ? rc : all_runs_failed(rcs, n), refused,
		    err, errlen);
	return rc;
}

int platform_fetch(struct platform *p, const char *remote_id,
		   const char *output_dir, double timeout_s, char *err,
		   size_t errlen)
{
	if (!p->ops->fetch)
		return 0;
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc =
	    refused ? -EAGAIN : p->ops->fetch(p, &c, remote_id, output_dir);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

int platform_cancel(struct platform *p, const char *remote_id,
		    const char *reason, double timeout_s, char *err,
		    size_t errlen)
{
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN : p->ops->cancel(p, &c, remote_id, reason);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

int platform_steps(struct platform *p, const char *remote_id, double timeout_s,
		   json_t **steps_out, char *err, size_t errlen)
{
	*steps_out = NULL;
	if (!p->ops->steps)
		return -ENOTSUP;
	struct call c;
	call_init(&c, timeout_s);
	double started = clock_mono();
	bool refused = breaker_check(p, &c) != 0;
	int rc = refused ? -EAGAIN : p->ops->steps(p, &c, remote_id, steps_out);
	call_finish(p, &c, started, rc, refused, err, errlen);
	return rc;
}

int platform_forget(struct platform *p, const char *remote_id, char *err,
		    size_t errlen)
{
	if (!p->ops->forget)
		return 0;
	struct call c;
	call_init(&c, 5.0);
	int rc = p->ops->forget(p, &c, remote_id);
	if (rc && err)
		snprintf(err, errlen, "%s", c.err[0] ? c.err : strerror(-rc));
	return rc;
}

void platform_status_release(struct run_status *st)
{
	free(st->error);
	st->error = NULL;
}

int platform_render_kind(struct platform *p, char **text_out)
{
	return asprintf(text_out, "%s\n", p->ops->kind) < 0 ? -ENOMEM : 0;
}

int platform_render_health(struct platform *p, char **text_out)
{
	struct platform_stats *st = p->stats;
	char since[32];
	pthread_mutex_lock(&st->lock);
	clock_iso8601(st->health_since, since, sizeof(since));
	static const char *const names[] = {"OK", "DEGRADED", "DOWN"};
	int n = st->health == HEALTH_OK
		    ? asprintf(text_out, "OK since %s\n", since)
		    : asprintf(text_out, "%s since %s: %s\n", names[st->health],
			       since, st->health_reason);
	pthread_mutex_unlock(&st->lock);
	return n < 0 ? -ENOMEM : 0;
}

void platform_metrics_get(struct platform *p, struct platform_metrics *out)
{
	struct platform_stats *st = p->stats;
	pthread_mutex_lock(&st->lock);
	*out = (struct platform_metrics){
	    .requests = st->requests,
	    .errors = st->errors,
	    .retries = st->retries,
	    .latency = st->latency,
	    .health = (int)st->health,
	    .breaker_open =
		st->health == HEALTH_DOWN && clock_mono() < st->open_until,
	    .failures_in_row = st->failures_in_row,
	};
	pthread_mutex_unlock(&st->lock);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The @q-quantile of the samples (sorted in place); 0 when there are none. */
static double quantile(double *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return sorted[i];
}

size_t platform_max_active(const struct platform *p)
{
	return p->stats->max_active;
}

int platform_render_stats(struct platform *p, size_t runs_active,
			  size_t runs_waiting, char **text_out)
{
	struct platform_stats *st = p->stats;
	double samples[LATENCY_RING];
	pthread_mutex_lock(&st->lock);
	size_t n = st->nlatency;
	memcpy(samples, st->latency_ms, n * sizeof(double));
	unsigned long requests = st->requests, errors = st->errors,
		      retries = st->retries;
	pthread_mutex_unlock(&st->lock);
	pthread_mutex_lock(&st->rate.lock);
	unsigned long waited = st->rate.waited, refused = st->rate.refused;
	pthread_mutex_unlock(&st->rate.lock);
	qsort(samples, n, sizeof(double), compare_double);
	int len =
	    asprintf(text_out,
		     "requests %lu\nerrors %lu\nretries %lu\n"
		     "latency_p50_ms %.3f\nlatency_p99_ms %.3f\n"
		     "runs_active %zu\nruns_waiting %zu\nmax_active %zu\n"
		     "rate %g\nrate_waited %lu\nrate_refused %lu\n",
		     requests, errors, retries, quantile(samples, n, 0.5),
		     quantile(samples, n, 0.99), runs_active, runs_waiting,
		     st->max_active, st->rate.rate, waited, refused);
	return len < 0 ? -ENOMEM : 0;
}
