/*
 * A scripted platform for unit tests: a `struct platform_ops` whose ops
 * return what the test queued, and count every call.
 *
 * Open it through platforms_open_kinds() with fake_platform_kinds (kind
 * "fake", and "fake-nofind", the same without a find op), then get the
 * instance with fake_from(platforms_get(ps, NAME)).
 *
 * Answers, per op:
 *  - submit, find, cancel, fetch, health: one queue each, first in first
 *    out, each answer used once;
 *  - status: one queue per remote id; the last answer of a queue stays
 *    and is given again (a run stays RUNNING until the test says more),
 *    until a new answer for that id is queued.
 * An op with nothing queued answers: submit, find and status -EINVAL with
 * "fake: nothing queued for OP" (a request error, so the breaker does not
 * move and the test sees why); cancel, fetch and health 0.
 *
 * Every op first counts the call, then, if the test blocked the op, waits
 * until it is released (fake_block/fake_release), then takes its answer:
 * an answer queued while the call was blocked is the one it gives.
 *
 * All functions are thread-safe: the core calls ops from its poller and
 * from readers at once.
 */
#ifndef JOBFS_FAKE_PLATFORM_H
#define JOBFS_FAKE_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "platform_ops.h"

enum fake_op {
	FAKE_SUBMIT,
	FAKE_FIND,
	FAKE_STATUS,
	FAKE_FETCH,
	FAKE_CANCEL,
	FAKE_HEALTH,
	FAKE_OP_COUNT
};

extern const struct platform_ops fake_platform;	       /* kind "fake" */
extern const struct platform_ops fake_nofind_platform; /* "fake-nofind" */

/* Both tables, for platforms_open_kinds(). */
extern const struct platform_ops *const fake_platform_kinds[2];

struct fake_platform;

/* The fake behind @p (checked: NULL when @p is not a fake). */
struct fake_platform *fake_from(struct platform *p);

/*
 * Queues answers. @remote_id and @err are copied; NULL @err leaves
 * call->err empty (the wrapper then fills in strerror). A successful
 * submit or find needs @remote_id.
 */
void fake_queue_submit(struct fake_platform *fp, int rc, const char *remote_id,
		       const char *err);
void fake_queue_find(struct fake_platform *fp, int rc, const char *remote_id,
		     const char *err);
void fake_queue_cancel(struct fake_platform *fp, int rc, const char *err);
void fake_queue_health(struct fake_platform *fp, int rc, const char *err);

/*
 * A status answer for @remote_id: @state with exit code 0 for SUCCEEDED,
 * 1 for FAILED, -1 otherwise, and error "fake: run failed" for FAILED; or
 * @rc when non-zero.
 */
void fake_queue_status(struct fake_platform *fp, const char *remote_id,
		       enum run_state state, int rc);
/* The same with every field given (@error may be NULL). */
void fake_queue_status_full(struct fake_platform *fp, const char *remote_id,
			    enum run_state state, int exit_code,
			    const char *error, int rc);

/*
 * A fetch answer: on rc 0 writes @result and @log (either may be NULL:
 * not written) to output_dir/result and output_dir/log.
 */
void fake_queue_fetch(struct fake_platform *fp, int rc, const char *result,
		      const char *log);

/* Calls of @op so far (every call, whatever it answered). */
unsigned fake_calls(struct fake_platform *fp, enum fake_op op);

/* Calls of @op for @remote_id (status, fetch and cancel). */
unsigned fake_calls_for(struct fake_platform *fp, enum fake_op op,
			const char *remote_id);

/*
 * Waits until @op has been called at least @n times, up to @timeout_s
 * seconds; returns whether it was.
 */
bool fake_wait_calls(struct fake_platform *fp, enum fake_op op, unsigned n,
		     double timeout_s);

/* Drops every answer still queued for @op (the sticky ones too). */
void fake_forget(struct fake_platform *fp, enum fake_op op);

/* From now on, calls of @op wait inside the op until fake_release(). */
void fake_block(struct fake_platform *fp, enum fake_op op);

/* Waits (up to @timeout_s) until @n calls of @op are blocked. */
bool fake_wait_blocked(struct fake_platform *fp, enum fake_op op, unsigned n,
		       double timeout_s);

/* Lets the blocked calls of @op go on, and later ones through. */
void fake_release(struct fake_platform *fp, enum fake_op op);

/*
 * What the last call of an op was given, copied into @buf: the run_key of
 * submit/find, the remote id of status/fetch/cancel, the reason of cancel
 * (FAKE_OP_COUNT stands for it). "" when never called.
 */
void fake_last_arg(struct fake_platform *fp, enum fake_op op, char *buf,
		   size_t len);

/* The attempt number of the last submit's run_spec, 0 before any. */
int fake_last_attempt(struct fake_platform *fp);

/* Tells the core that @remote_id changed, as a platform's watcher would. */
void fake_changed(struct fake_platform *fp, const char *remote_id);

#endif
