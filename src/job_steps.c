/*
 * A run's steps (NAME/steps, runs/N/steps): the platform's list of the
 * run's task instances, states or tasks, one line each, served from the
 * store like events.
 *
 * The list is asked for (the platform's steps op, without jc->lock) by
 * the poller after each state change of a run, and by a reader when the
 * stored list is older than the ttl, until the list taken after the run
 * ended is in; never per read. The answer goes to run_apply_steps()
 * (job_apply.c), which alone writes it. A run whose platform has no
 * steps, or that has none listed yet, shows the run itself as its one
 * step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job_internal.h"

/*
 * Asks the platform for @r's steps and applies the answer. Called and
 * returns locked; @r may be gone afterwards.
 */
static void steps_refresh(struct jobcore *jc, struct run *r)
{
	struct platform *p = platforms_get(jc->platforms, r->platform);
	char *remote_id = job_strdup(r->remote_id);
	int64_t run_id = r->id;
	bool ended = state_is_terminal(r->state);
	r->steps_refreshing = true;
	pthread_mutex_unlock(&jc->lock);
	json_t *steps = NULL;
	char err[256] = "";
	int rc = p && remote_id
		     ? platform_steps(p, remote_id, platform_timeout(p), &steps,
				      err, sizeof(err))
		     : -ENOMEM;
	free(remote_id);
	struct batch b = {0};
	pthread_mutex_lock(&jc->lock);
	r = job_find_run_id(jc, run_id);
	if (r) {
		r->steps_refreshing = false;
		run_apply_steps(&b, r, steps, rc, err, ended);
	}
	json_decref(steps);
	batch_commit(jc, &b);
	pthread_mutex_lock(&jc->lock);
}

static bool steps_listable(const struct run *r)
{
	return r->remote_id && !r->steps_refreshing && !r->steps_final &&
	       !r->expired;
}

void job_steps_pass(struct jobcore *jc)
{
	pthread_mutex_lock(&jc->lock);
	int64_t *due = calloc(jc->nruns + 1, sizeof(*due));
	size_t n = 0;
	for (size_t i = 0; due && i < jc->nruns; i++) {
		struct run *r = jc->runs_by_id[i];
		if (r->steps_due && steps_listable(r)) {
			r->steps_due = false;
			due[n++] = r->id;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct run *r = job_find_run_id(jc, due[i]);
		if (r && steps_listable(r))
			steps_refresh(jc, r);
	}
	pthread_mutex_unlock(&jc->lock);
	free(due);
}

/* --- the text ------------------------------------------------------------ */

struct steps_text {
	char *text;
	size_t len, cap;
};

static void stamp(double t, char *buf, size_t len)
{
	if (t > 0)
		clock_iso8601(t, buf, len);
	else
		snprintf(buf, len, "-");
}

/* Appends "STEP STATE STARTED ENDED [MESSAGE]\n", the message one line. */
static int append_line(struct steps_text *st, const struct store_step *step)
{
	char started[32], ended[32], line[1024];
	stamp(step->started_at, started, sizeof(started));
	stamp(step->ended_at, ended, sizeof(ended));
	bool has_message = step->message && step->message[0];
	int n =
	    snprintf(line, sizeof(line), "%s %s %s %s%s%s\n", step->name,
		     state_name(step->state), started, ended,
		     has_message ? " " : "", has_message ? step->message : "");
	if (n < 0)
		return -EIO;
	size_t add = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	line[add - 1] = '\n';
	for (size_t i = 0; i + 1 < add; i++)
		if (line[i] == '\n' || line[i] == '\r' || line[i] == '\t')
			line[i] = ' ';
	if (job_grow((void **)&st->text, &st->cap, st->len + add + 1, 1))
		return -ENOMEM;
	memcpy(st->text + st->len, line, add);
	st->len += add;
	st->text[st->len] = '\0';
	return 0;
}

static int on_step(void *ctx, const struct store_step *step)
{
	return append_line(ctx, step);
}

/* The run itself as a step, copied out under the lock. */
struct run_step {
	char *name, *message;
	struct store_step step;
};

static int run_step_copy(const struct run *r, struct run_step *out)
{
	out->name = job_strdup(r->job->name);
	out->message = job_strdup(r->error ? r->error : "");
	out->step = (struct store_step){
	    .name = out->name,
	    .state = r->state,
	    .started_at = r->started_at,
	    .ended_at = state_is_terminal(r->state) ? r->ended_at : 0,
	    .message = out->message,
	};
	return out->name && out->message ? 0 : -ENOMEM;
}

/* Whether a reader should have @r's steps listed anew. Locked. */
static bool steps_due_for_read(struct jobcore *jc, const struct run *r)
{
	return steps_listable(r) &&
	       clock_mono() - r->steps_mono >= jc->settings.ttl;
}

int job_steps_text(struct jobcore *jc, const char *job, int number,
		   bool refresh, char **text_out, size_t *len_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j ? job_find_run(j, number) : NULL;
	if (r && refresh && steps_due_for_read(jc, r)) {
		steps_refresh(jc, r);
		j = job_find(jc, job);
		r = j ? job_find_run(j, number) : NULL;
	}
	struct run_step self = {0};
	int rc = r ? run_step_copy(r, &self) : -ENOENT;
	int64_t run_id = r ? r->id : 0;
	pthread_mutex_unlock(&jc->lock);
	struct steps_text st = {0};
	if (rc == 0)
		rc = store_steps(jc->store, run_id, on_step, &st);
	if (rc == 0 && st.len == 0)
		rc = append_line(&st, &self.step);
	free(self.name);
	free(self.message);
	if (rc) {
		free(st.text);
		return rc;
	}
	*text_out = st.text;
	*len_out = st.len;
	return 0;
}
