/*
 * Cancelling a run, for a user (NAME/cancel) or a timeout. The request
 * goes to the platform first, without jc->lock; CANCELLING is recorded
 * only once the platform accepted it, and CANCELLED once its status says
 * so. A run never submitted is cancelled at once; one whose submit is in
 * flight, or still to be reconciled, goes CANCELLING and the submit's
 * outcome decides (job_submit.c): a remote run it made is stopped by the
 * cancel pass below, which also asks again after a restart for every run
 * left CANCELLING, since a kill may have come before the request went.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_internal.h"
#include "log.h"

/*
 * Sends a cancel for run @run_id and moves it to CANCELLING. @timeout_msg
 * non-NULL marks a timeout (the run then ends FAILED with it).
 */
int job_cancel_run(struct jobcore *jc, int64_t run_id, const char *reason,
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
	if (rc == 0 && r) {
		run_apply_cancel_sent(jc, &b, r, source, reason, timeout_msg);
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
	return job_cancel_run(jc, run_id,
			      reason && *reason ? reason : "cancelled", "user",
			      NULL, err, errlen);
}

/* A cancel the pass is to send, copied out under the lock. */
struct pending_cancel {
	int64_t run_id;
	char *platform, *remote_id;
};

/* Takes the runs with need_cancel (clearing it). Locked. */
static size_t collect_cancels(struct jobcore *jc, struct pending_cancel *out)
{
	size_t n = 0;
	for (size_t i = 0; i < jc->nactive; i++) {
		struct run *r = jc->active[i];
		if (!r->need_cancel || r->state != RUN_CANCELLING ||
		    !r->remote_id)
			continue;
		r->need_cancel = false;
		out[n] = (struct pending_cancel){
		    .run_id = r->id,
		    .platform = strdup(r->platform),
		    .remote_id = strdup(r->remote_id),
		};
		n++;
	}
	return n;
}

/*
 * After the answer: a platform that could not be asked is asked again at
 * the next pass; one that says the run has ended is asked how.
 */
static void cancel_sent(struct jobcore *jc, int64_t run_id, int rc)
{
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, run_id);
	if (r && rc != 0 && rc != -EINVAL && rc != -ENOENT)
		r->need_cancel = true;
	if (r)
		r->poked = true;
	pthread_mutex_unlock(&jc->lock);
}

void job_cancel_pass(struct jobcore *jc)
{
	pthread_mutex_lock(&jc->lock);
	struct pending_cancel *todo = calloc(jc->nactive + 1, sizeof(*todo));
	size_t n = todo ? collect_cancels(jc, todo) : 0;
	pthread_mutex_unlock(&jc->lock);
	for (size_t i = 0; i < n; i++) {
		struct platform *p =
		    todo[i].platform
			? platforms_get(jc->platforms, todo[i].platform)
			: NULL;
		char err[256] = "";
		int rc =
		    p && todo[i].remote_id
			? platform_cancel(p, todo[i].remote_id, "cancelled",
					  platform_timeout(p), err, sizeof(err))
			: -ENOMEM;
		if (rc && rc != -EINVAL)
			log_warn("cannot cancel \"%s\": %s", todo[i].remote_id,
				 err[0] ? err : strerror(-rc));
		cancel_sent(jc, todo[i].run_id, rc);
		free(todo[i].platform);
		free(todo[i].remote_id);
	}
	free(todo);
}
