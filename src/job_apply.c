/*
 * The one writer of run state: every change of a run's state, and of what
 * the store keeps with it, is made here, collected in a batch under
 * jc->lock and written to the store in one transaction by batch_commit(),
 * which then tells the listeners. The other files of the core decide
 * what to ask (poller passes, reads, submits, cancels) and hand the
 * answers to the functions below.
 *
 * The rules: states follow state.h (never backwards, never out of a
 * terminal state) and each move is an event; a final answer of a platform
 * whose output must be fetched is held back until the output is here
 * (hold_end); a FAILED run with retries left is submitted again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job_internal.h"
#include "log.h"

/* How soon a run waiting for a confirmation (a cancel) is asked again. */
#define RECHECK_S 1.0

struct batch_event {
	int64_t run_id;
	struct store_event ev;
	char *old_state, *new_state, *source, *message;
};

struct batch_change {
	char *job;
	int64_t run_id;
	enum run_state state;
};

/* A run's new list of steps (a JSON array the batch holds a reference to) */
struct batch_steps {
	int64_t run_id;
	json_t *steps;
};

static void run_to_store(const struct run *r, struct store_run *out)
{
	*out = (struct store_run){
	    .id = r->id,
	    .job_id = r->job ? r->job->id : 0,
	    .number = r->number,
	    .version = r->version,
	    .platform = r->platform,
	    .remote_id = r->remote_id,
	    .state = r->state,
	    .platform_state = r->platform_state,
	    .overrides = r->overrides,
	    .error = r->error,
	    .exit_code = r->exit_code,
	    .attempts = r->attempts,
	    .submitted_at = r->submitted_at,
	    .started_at = r->started_at,
	    .ended_at = r->ended_at,
	    .updated_at = r->updated_at,
	    .submit_started_at = r->submit_started_at,
	};
}

void batch_add_run(struct batch *b, const struct run *r)
{
	for (size_t i = 0; i < b->nruns; i++) {
		if (b->runs[i].id == r->id) {
			store_run_release(&b->runs[i]);
			b->nruns--;
			b->runs[i] = b->runs[b->nruns];
			break;
		}
	}
	if (job_grow((void **)&b->runs, &b->runs_cap, b->nruns + 1,
		     sizeof(*b->runs)))
		return;
	struct store_run *copy = &b->runs[b->nruns++];
	run_to_store(r, copy);
	copy->platform = job_strdup(r->platform);
	copy->remote_id = job_strdup(r->remote_id);
	copy->platform_state = job_strdup(r->platform_state);
	copy->overrides = job_strdup(r->overrides);
	copy->error = job_strdup(r->error);
}

void batch_add_event(struct batch *b, const struct run *r, enum run_state old,
		     enum run_state new_state, const char *source,
		     const char *message)
{
	if (job_grow((void **)&b->events, &b->events_cap, b->nevents + 1,
		     sizeof(*b->events)))
		return;
	struct batch_event *e = &b->events[b->nevents++];
	e->run_id = r->id;
	e->old_state =
	    strdup(old == RUN_STATE_COUNT ? "NONE" : state_name(old));
	e->new_state = strdup(state_name(new_state));
	e->source = strdup(source);
	e->message = strdup(message ? message : "");
	e->ev = (struct store_event){
	    .time = clock_wall(),
	    .run_number = r->number,
	    .old_state = e->old_state,
	    .new_state = e->new_state,
	    .source = e->source,
	    .message = e->message,
	};
}

static void batch_add_change(struct batch *b, const struct run *r)
{
	if (job_grow((void **)&b->changes, &b->changes_cap, b->nchanges + 1,
		     sizeof(*b->changes)))
		return;
	b->changes[b->nchanges++] = (struct batch_change){
	    .job = strdup(r->job->name),
	    .run_id = r->id,
	    .state = r->state,
	};
}

void run_move(struct jobcore *jc, struct batch *b, struct run *r,
	      enum run_state to, const char *source, const char *message)
{
	enum run_state old = r->state;
	double now = clock_wall();
	r->state = to;
	r->generation++;
	r->updated_at = now;
	if (to == RUN_RUNNING && r->started_at == 0)
		r->started_at = now;
	if (state_is_terminal(to)) {
		if (r->ended_at == 0)
			r->ended_at = now;
		r->need_submit = false;
		job_active_remove(jc, r);
		if (jc->nheld > 0)
			b->kick = true; /* a slot is free: submit the next */
	}
	r->steps_due = true;
	log_run(LOG_LEVEL_INFO, r->job->name, r->number, r->platform,
		"job \"%s\" run %d: %s->%s %s%s%s", r->job->name, r->number,
		state_name(old), state_name(to), source,
		message && *message ? " " : "", message ? message : "");
	batch_add_event(b, r, old, to, source, message);
	batch_add_run(b, r);
	batch_add_change(b, r);
}

/* --- steps ------------------------------------------------------------- */

/*
 * Fills @out (@n elements) from a steps array the platform gave (see the
 * steps op); strings borrowed from @steps. -EPROTO with @err for an
 * element that is not as the op says.
 */
static int steps_to_store(const json_t *steps, struct store_step *out,
			  char *err, size_t errlen)
{
	size_t i;
	json_t *step;
	json_array_foreach(steps, i, step)
	{
		const char *name =
		    json_string_value(json_object_get(step, "name"));
		const char *state =
		    json_string_value(json_object_get(step, "state"));
		const char *message =
		    json_string_value(json_object_get(step, "message"));
		out[i] = (struct store_step){
		    .name = name,
		    .started_at =
			json_number_value(json_object_get(step, "started")),
		    .ended_at =
			json_number_value(json_object_get(step, "ended")),
		    .message = message ? message : "",
		};
		if (!name || !*name || !state ||
		    state_parse(state, &out[i].state) != 0) {
			snprintf(err, errlen,
				 "step %zu has no name or no known state", i);
			return -EPROTO;
		}
	}
	return 0;
}

static int steps_write(struct jobcore *jc, const struct batch_steps *bs)
{
	size_t n = json_array_size(bs->steps);
	struct store_step *rows = calloc(n + 1, sizeof(*rows));
	char err[128];
	int rc =
	    rows ? steps_to_store(bs->steps, rows, err, sizeof(err)) : -ENOMEM;
	if (rc == 0)
		rc = store_steps_replace(jc->store, bs->run_id, rows, n);
	free(rows);
	/* the run may be gone (removed meanwhile): nothing to keep */
	return rc == -ENOENT ? 0 : rc;
}

void run_apply_steps(struct batch *b, struct run *r, json_t *steps, int rc,
		     const char *err, bool ended)
{
	r->steps_mono = clock_mono();
	if (rc == -ENOTSUP) {
		r->steps_final = true; /* shown as the run itself, always */
		return;
	}
	char why[128] = "";
	if (rc == 0 && !json_is_array(steps)) {
		rc = -EPROTO;
		snprintf(why, sizeof(why), "not a list");
	}
	size_t n = json_array_size(steps);
	struct store_step *rows = rc == 0 ? calloc(n + 1, sizeof(*rows)) : NULL;
	if (rc == 0)
		rc = rows ? steps_to_store(steps, rows, why, sizeof(why))
			  : -ENOMEM;
	free(rows);
	if (rc) {
		log_debug("job \"%s\" run %d: cannot list steps: %s",
			  r->job->name, r->number, why[0] ? why : err);
		return;
	}
	if (job_grow((void **)&b->steps, &b->steps_cap, b->nsteps + 1,
		     sizeof(*b->steps)))
		return;
	b->steps[b->nsteps++] = (struct batch_steps){
	    .run_id = r->id,
	    .steps = json_incref(steps),
	};
	r->steps_final = ended;
}

static int batch_write(struct jobcore *jc, struct batch *b)
{
	if (b->nruns == 0 && b->nevents == 0 && b->nsteps == 0)
		return 0;
	int rc = store_begin(jc->store);
	for (size_t i = 0; rc == 0 && i < b->nruns; i++)
		rc = store_run_update(jc->store, &b->runs[i]);
	for (size_t i = 0; rc == 0 && i < b->nevents; i++)
		rc = store_event_insert(jc->store, b->events[i].run_id,
					&b->events[i].ev);
	for (size_t i = 0; rc == 0 && i < b->nsteps; i++)
		rc = steps_write(jc, &b->steps[i]);
	if (rc) {
		store_rollback(jc->store);
		log_error("cannot record run states: %s", strerror(-rc));
		return rc;
	}
	return store_commit(jc->store);
}

static void batch_release(struct batch *b)
{
	for (size_t i = 0; i < b->nruns; i++)
		store_run_release(&b->runs[i]);
	for (size_t i = 0; i < b->nevents; i++) {
		free(b->events[i].old_state);
		free(b->events[i].new_state);
		free(b->events[i].source);
		free(b->events[i].message);
	}
	for (size_t i = 0; i < b->nchanges; i++)
		free(b->changes[i].job);
	for (size_t i = 0; i < b->nsteps; i++)
		json_decref(b->steps[i].steps);
	free(b->steps);
	free(b->runs);
	free(b->events);
	free(b->changes);
	memset(b, 0, sizeof(*b));
}

int batch_commit(struct jobcore *jc, struct batch *b)
{
	pthread_mutex_lock(&jc->persist);
	pthread_mutex_unlock(&jc->lock);
	int rc = batch_write(jc, b);
	pthread_mutex_unlock(&jc->persist);
	const struct job_listener *l = &jc->listener;
	for (size_t i = 0; i < b->nchanges; i++)
		if (l->changed)
			l->changed(l->ctx, b->changes[i].job,
				   b->changes[i].run_id, b->changes[i].state);
	if (b->kick && l->kick)
		l->kick(l->ctx);
	if (b->recheck && l->kick_in)
		l->kick_in(l->ctx, RECHECK_S);
	batch_release(b);
	return rc;
}

/* --- applying a platform's answer ------------------------------------- */

static bool has_retry_left(struct jobcore *jc, struct run *r)
{
	const struct job_config *conf = job_conf(jc, r->job);
	return conf && r->attempts < conf->retries + 1;
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
	    has_retry_left(jc, r)) {
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

/* --- submits and cancels ---------------------------------------------- */

static void submit_failed(struct jobcore *jc, struct batch *b, struct run *r,
			  enum run_state state, const char *what,
			  const char *err)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s: %s", what, err);
	struct run_status st = {.state = state, .exit_code = -1, .error = msg};
	run_apply(jc, b, r, &st, 0, "", "submit");
}

static void submit_accepted(struct jobcore *jc, struct batch *b, struct run *r,
			    char *remote_id, const char *msg)
{
	free(r->remote_id);
	r->remote_id = remote_id;
	r->refreshed_mono = 0;
	r->poked = true;
	b->kick = true;
	if (state_can_move(r->state, RUN_QUEUED))
		run_move(jc, b, r, RUN_QUEUED, "submit", msg);
	else
		batch_add_event(b, r, r->state, r->state, "submit", msg);
}

void run_apply_submit(struct jobcore *jc, struct batch *b, struct run *r,
		      enum submit_outcome out, int attempt, char *remote_id,
		      const char *err)
{
	r->submitting = false;
	r->need_reconcile = out == UNKNOWN;
	r->need_submit = out == NOT_SENT;
	if (out != UNKNOWN)
		r->submit_started_at = 0;
	if (out == NOT_SENT || out == UNKNOWN) {
		free(remote_id);
		batch_add_run(b, r);
		log_warn("job \"%s\": submit did not complete (%s); trying "
			 "again",
			 r->job->name, err);
		return;
	}
	if (out == NOT_NEEDED) {
		free(remote_id);
		run_move(jc, b, r, RUN_CANCELLED, "submit",
			 "cancelled before the platform got it");
		return;
	}
	r->attempts = attempt;
	if (r->submitted_at == 0)
		r->submitted_at = clock_wall();
	char msg[64];
	snprintf(msg, sizeof(msg), "attempt %d%s", attempt,
		 out == ADOPTED ? ", found after a restart" : "");
	if (out == SUBMITTED || out == ADOPTED)
		submit_accepted(jc, b, r, remote_id, msg);
	else
		free(remote_id);
	if (out == UNKNOWABLE)
		submit_failed(jc, b, r, RUN_LOST,
			      "a submit was interrupted and the platform "
			      "cannot tell whether it started the run",
			      err);
	else if (out == REJECTED)
		submit_failed(jc, b, r, RUN_FAILED, "submit failed", err);
	/* last: the row must carry the remote id and attempts set above,
	 * also when no state change wrote it (a run already CANCELLING) */
	batch_add_run(b, r);
	if (r->state == RUN_CANCELLING && r->remote_id) {
		r->need_cancel = true; /* the cancel pass stops the new run */
		b->kick = true;
	}
}

void run_apply_held(struct jobcore *jc, struct batch *b, struct run *r,
		    size_t max_active)
{
	if (r->held)
		return;
	r->held = true;
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "waiting: platform \"%s\" has its max_active of %zu runs",
		 r->platform, max_active);
	if (state_can_move(r->state, RUN_QUEUED))
		run_move(jc, b, r, RUN_QUEUED, "submit", msg);
	else
		batch_add_event(b, r, r->state, r->state, "submit", msg);
}

void run_apply_cancel_sent(struct jobcore *jc, struct batch *b, struct run *r,
			   const char *source, const char *reason,
			   const char *timeout_msg)
{
	if (!state_can_move(r->state, RUN_CANCELLING))
		return;
	if (timeout_msg)
		run_set_string(&r->error, timeout_msg);
	r->poked = true;
	b->kick = true;
	run_move(jc, b, r, RUN_CANCELLING, source, reason);
}
