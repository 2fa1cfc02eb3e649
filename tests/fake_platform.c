/*
 * The scripted platform of the unit tests (see fake_platform.h).
 *
 * One mutex guards everything; one condition variable is broadcast on
 * every change (a call counted, a block lifted), which is all the waits
 * below need. Answers sit in one list, in the order they were queued,
 * each tagged with its op (and remote id for status).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_platform.h"

struct answer {
	struct answer *next;
	enum fake_op op;
	int rc;
	char *remote_id; /* submit/find: the id given; status: the id asked */
	char *err;
	char *result, *log; /* fetch */
	struct run_status st;
	bool given; /* status: the sticky last answer, given at least once */
};

struct seen {
	struct seen *next;
	enum fake_op op;
	char *remote_id;
};

struct fake_platform {
	struct platform base; /* first: the checked downcast */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct answer *answers;
	struct seen *seen; /* every call with a remote id */
	unsigned calls[FAKE_OP_COUNT];
	unsigned blocked[FAKE_OP_COUNT];
	bool block[FAKE_OP_COUNT];
	char last[FAKE_OP_COUNT + 1][128];
	int last_attempt;
	void (*changed)(void *ctx, const char *remote_id);
	void *changed_ctx;
};

static const char *const op_names[] = {"submit", "find",   "status",
				       "fetch",	 "cancel", "health"};

struct fake_platform *fake_from(struct platform *p)
{
	if (!p || (p->ops != &fake_platform && p->ops != &fake_nofind_platform))
		return NULL;
	return (struct fake_platform *)p;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void answer_free(struct answer *a)
{
	free(a->remote_id);
	free(a->err);
	free(a->result);
	free(a->log);
	free(a->st.error);
	free(a);
}

/*
 * Appends @a to the queue (it keeps the order of queueing). A status
 * answer replaces its run's sticky answer once that has been given, so a
 * new answer is the next one the run gets.
 */
static void enqueue(struct fake_platform *fp, struct answer *a)
{
	pthread_mutex_lock(&fp->lock);
	struct answer **p = &fp->answers;
	while (*p) {
		struct answer *old = *p;
		if (a->op == FAKE_STATUS && old->op == FAKE_STATUS &&
		    old->given && strcmp(old->remote_id, a->remote_id) == 0) {
			*p = old->next;
			answer_free(old);
			continue;
		}
		p = &old->next;
	}
	*p = a;
	pthread_mutex_unlock(&fp->lock);
}

static struct answer *answer_new(enum fake_op op, int rc, const char *remote_id,
				 const char *err)
{
	struct answer *a = calloc(1, sizeof(*a));
	if (!a)
		abort(); /* a test helper: no way to go on */
	a->op = op;
	a->rc = rc;
	a->remote_id = dup_or_null(remote_id);
	a->err = dup_or_null(err);
	return a;
}

void fake_queue_submit(struct fake_platform *fp, int rc, const char *remote_id,
		       const char *err)
{
	enqueue(fp, answer_new(FAKE_SUBMIT, rc, remote_id, err));
}

void fake_queue_find(struct fake_platform *fp, int rc, const char *remote_id,
		     const char *err)
{
	enqueue(fp, answer_new(FAKE_FIND, rc, remote_id, err));
}

void fake_queue_cancel(struct fake_platform *fp, int rc, const char *err)
{
	enqueue(fp, answer_new(FAKE_CANCEL, rc, NULL, err));
}

void fake_queue_health(struct fake_platform *fp, int rc, const char *err)
{
	enqueue(fp, answer_new(FAKE_HEALTH, rc, NULL, err));
}

void fake_queue_status_full(struct fake_platform *fp, const char *remote_id,
			    enum run_state state, int exit_code,
			    const char *error, int rc)
{
	struct answer *a = answer_new(FAKE_STATUS, rc, remote_id,
				      rc ? "fake: status failed" : NULL);
	a->st.state = state;
	a->st.exit_code = exit_code;
	a->st.error = dup_or_null(error);
	snprintf(a->st.platform_state, sizeof(a->st.platform_state), "fake-%s",
		 state_name(state));
	enqueue(fp, a);
}

void fake_queue_status(struct fake_platform *fp, const char *remote_id,
		       enum run_state state, int rc)
{
	int exit_code = state == RUN_SUCCEEDED ? 0
			: state == RUN_FAILED  ? 1
					       : -1;
	fake_queue_status_full(fp, remote_id, state, exit_code,
			       state == RUN_FAILED ? "fake: run failed" : NULL,
			       rc);
}

void fake_queue_fetch(struct fake_platform *fp, int rc, const char *result,
		      const char *log)
{
	struct answer *a =
	    answer_new(FAKE_FETCH, rc, NULL, rc ? "fake: fetch failed" : NULL);
	a->result = dup_or_null(result);
	a->log = dup_or_null(log);
	enqueue(fp, a);
}

/*
 * Takes the next answer for @op (and @remote_id, for status), or NULL.
 * The last status answer of a remote id stays queued; the caller must
 * then not free it (*keep_out). Locked.
 */
static struct answer *take(struct fake_platform *fp, enum fake_op op,
			   const char *remote_id, bool *keep_out)
{
	struct answer **first = NULL;
	bool later = false;
	for (struct answer **p = &fp->answers; *p && !later; p = &(*p)->next) {
		struct answer *a = *p;
		if (a->op != op ||
		    (op == FAKE_STATUS && strcmp(a->remote_id, remote_id) != 0))
			continue;
		if (first)
			later = true;
		else
			first = p;
	}
	*keep_out = first && op == FAKE_STATUS && !later;
	if (*keep_out)
		(*first)->given = true;
	if (!first || *keep_out)
		return first ? *first : NULL;
	struct answer *a = *first;
	*first = a->next;
	return a;
}

static void timespec_after(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_REALTIME, ts);
	long long ns = (long long)ts->tv_nsec + (long long)(seconds * 1e9);
	ts->tv_sec += (time_t)(ns / 1000000000LL);
	ts->tv_nsec = (long)(ns % 1000000000LL);
}

/*
 * The start of every op: counts the call, remembers its argument, waits
 * while the op is blocked, and takes its answer. Returns locked.
 */
static struct answer *op_enter(struct fake_platform *fp, enum fake_op op,
			       const char *arg, const char *remote_id,
			       bool *keep_out)
{
	pthread_mutex_lock(&fp->lock);
	fp->calls[op]++;
	snprintf(fp->last[op], sizeof(fp->last[op]), "%s", arg ? arg : "");
	if (remote_id) {
		struct seen *s = calloc(1, sizeof(*s));
		if (s) {
			s->op = op;
			s->remote_id = strdup(remote_id);
			s->next = fp->seen;
			fp->seen = s;
		}
	}
	pthread_cond_broadcast(&fp->cond);
	if (fp->block[op]) {
		fp->blocked[op]++;
		pthread_cond_broadcast(&fp->cond);
		while (fp->block[op])
			pthread_cond_wait(&fp->cond, &fp->lock);
		fp->blocked[op]--;
	}
	return take(fp, op, remote_id, keep_out);
}

/* Copies the answer's rc and reason into the call, frees it, unlocks. */
static int op_leave(struct fake_platform *fp, enum fake_op op, struct answer *a,
		    bool keep, struct call *c)
{
	int rc;
	if (!a) {
		rc = -EINVAL;
		if (op == FAKE_SUBMIT || op == FAKE_FIND || op == FAKE_STATUS)
			snprintf(c->err, sizeof(c->err),
				 "fake: nothing queued for %s", op_names[op]);
		else
			rc = 0;
	} else {
		rc = a->rc;
		if (a->err)
			snprintf(c->err, sizeof(c->err), "%s", a->err);
	}
	if (a && !keep)
		answer_free(a);
	pthread_mutex_unlock(&fp->lock);
	return rc;
}

static int fake_open(const struct platform_env *env, struct platform **out,
		     char *err, size_t errlen)
{
	struct fake_platform *fp = calloc(1, sizeof(*fp));
	if (!fp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&fp->lock, NULL);
	pthread_cond_init(&fp->cond, NULL);
	fp->changed = env->changed;
	fp->changed_ctx = env->changed_ctx;
	*out = &fp->base;
	return 0;
}

static void fake_close(struct platform *p)
{
	struct fake_platform *fp = fake_from(p);
	while (fp->answers) {
		struct answer *a = fp->answers;
		fp->answers = a->next;
		answer_free(a);
	}
	while (fp->seen) {
		struct seen *s = fp->seen;
		fp->seen = s->next;
		free(s->remote_id);
		free(s);
	}
	pthread_cond_destroy(&fp->cond);
	pthread_mutex_destroy(&fp->lock);
	free(fp);
}

/* submit and find: the same shape */
static int give_id(struct fake_platform *fp, enum fake_op op, struct call *c,
		   const struct run_spec *run, char **remote_id_out)
{
	bool keep;
	struct answer *a = op_enter(fp, op, run->run_key, NULL, &keep);
	if (op == FAKE_SUBMIT)
		fp->last_attempt = run->attempt;
	if (a && a->rc == 0) {
		*remote_id_out = dup_or_null(a->remote_id);
		if (!*remote_id_out) {
			answer_free(a);
			pthread_mutex_unlock(&fp->lock);
			return message_call_fail(
			    c, -EPROTO, "fake: a %s answer needs an id",
			    op_names[op]);
		}
	}
	return op_leave(fp, op, a, keep, c);
}

static int fake_submit(struct platform *p, struct call *c,
		       const struct run_spec *run, char **remote_id_out)
{
	return give_id(fake_from(p), FAKE_SUBMIT, c, run, remote_id_out);
}

static int fake_find(struct platform *p, struct call *c,
		     const struct run_spec *run, char **remote_id_out)
{
	return give_id(fake_from(p), FAKE_FIND, c, run, remote_id_out);
}

static int fake_status(struct platform *p, struct call *c,
		       const char *remote_id, struct run_status *out)
{
	struct fake_platform *fp = fake_from(p);
	bool keep;
	struct answer *a =
	    op_enter(fp, FAKE_STATUS, remote_id, remote_id, &keep);
	if (a && a->rc == 0) {
		*out = a->st;
		out->error = dup_or_null(a->st.error);
	}
	return op_leave(fp, FAKE_STATUS, a, keep, c);
}

static int write_output(const char *dir, const char *name, const char *text)
{
	if (!text)
		return 0;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int rc = n == (ssize_t)len ? 0 : -EIO;
	close(fd);
	return rc;
}

static int fake_fetch(struct platform *p, struct call *c, const char *remote_id,
		      const char *output_dir)
{
	struct fake_platform *fp = fake_from(p);
	bool keep;
	struct answer *a =
	    op_enter(fp, FAKE_FETCH, remote_id, remote_id, &keep);
	if (a && a->rc == 0) {
		int rc = write_output(output_dir, "result", a->result);
		if (rc == 0)
			rc = write_output(output_dir, "log", a->log);
		if (rc) {
			answer_free(a);
			pthread_mutex_unlock(&fp->lock);
			return message_call_fail(c, rc,
						 "fake: cannot write "
						 "output in \"%s\"",
						 output_dir);
		}
	}
	return op_leave(fp, FAKE_FETCH, a, keep, c);
}

static int fake_cancel(struct platform *p, struct call *c,
		       const char *remote_id, const char *reason)
{
	struct fake_platform *fp = fake_from(p);
	bool keep;
	struct answer *a =
	    op_enter(fp, FAKE_CANCEL, remote_id, remote_id, &keep);
	snprintf(fp->last[FAKE_OP_COUNT], sizeof(fp->last[FAKE_OP_COUNT]), "%s",
		 reason ? reason : "");
	return op_leave(fp, FAKE_CANCEL, a, keep, c);
}

static int fake_health(struct platform *p, struct call *c)
{
	struct fake_platform *fp = fake_from(p);
	bool keep;
	struct answer *a = op_enter(fp, FAKE_HEALTH, NULL, NULL, &keep);
	return op_leave(fp, FAKE_HEALTH, a, keep, c);
}

const struct platform_ops fake_platform = {
    .kind = "fake",
    .caps = PLATFORM_CAP_LOG,
    .open = fake_open,
    .close = fake_close,
    .submit = fake_submit,
    .find = fake_find,
    .status = fake_status,
    .fetch = fake_fetch,
    .cancel = fake_cancel,
    .health = fake_health,
};

const struct platform_ops fake_nofind_platform = {
    .kind = "fake-nofind",
    .caps = PLATFORM_CAP_LOG,
    .open = fake_open,
    .close = fake_close,
    .submit = fake_submit,
    .status = fake_status,
    .fetch = fake_fetch,
    .cancel = fake_cancel,
    .health = fake_health,
};

const struct platform_ops *const fake_platform_kinds[2] = {
    &fake_platform, &fake_nofind_platform};

unsigned fake_calls(struct fake_platform *fp, enum fake_op op)
{
	pthread_mutex_lock(&fp->lock);
	unsigned n = fp->calls[op];
	pthread_mutex_unlock(&fp->lock);
	return n;
}

unsigned fake_calls_for(struct fake_platform *fp, enum fake_op op,
			const char *remote_id)
{
	unsigned n = 0;
	pthread_mutex_lock(&fp->lock);
	for (const struct seen *s = fp->seen; s; s = s->next)
		if (s->op == op && strcmp(s->remote_id, remote_id) == 0)
			n++;
	pthread_mutex_unlock(&fp->lock);
	return n;
}

/* Waits until *@counter >= @n, up to @timeout_s. */
static bool wait_count(struct fake_platform *fp, const unsigned *counter,
		       unsigned n, double timeout_s)
{
	struct timespec until;
	timespec_after(&until, timeout_s);
	pthread_mutex_lock(&fp->lock);
	int rc = 0;
	while (*counter < n && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&fp->cond, &fp->lock, &until);
	bool ok = *counter >= n;
	pthread_mutex_unlock(&fp->lock);
	return ok;
}

bool fake_wait_calls(struct fake_platform *fp, enum fake_op op, unsigned n,
		     double timeout_s)
{
	return wait_count(fp, &fp->calls[op], n, timeout_s);
}

bool fake_wait_blocked(struct fake_platform *fp, enum fake_op op, unsigned n,
		       double timeout_s)
{
	return wait_count(fp, &fp->blocked[op], n, timeout_s);
}

void fake_forget(struct fake_platform *fp, enum fake_op op)
{
	pthread_mutex_lock(&fp->lock);
	struct answer **p = &fp->answers;
	while (*p) {
		struct answer *a = *p;
		if (a->op == op) {
			*p = a->next;
			answer_free(a);
		} else {
			p = &a->next;
		}
	}
	pthread_mutex_unlock(&fp->lock);
}

void fake_block(struct fake_platform *fp, enum fake_op op)
{
	pthread_mutex_lock(&fp->lock);
	fp->block[op] = true;
	pthread_mutex_unlock(&fp->lock);
}

void fake_release(struct fake_platform *fp, enum fake_op op)
{
	pthread_mutex_lock(&fp->lock);
	fp->block[op] = false;
	pthread_cond_broadcast(&fp->cond);
	pthread_mutex_unlock(&fp->lock);
}

void fake_last_arg(struct fake_platform *fp, enum fake_op op, char *buf,
		   size_t len)
{
	pthread_mutex_lock(&fp->lock);
	snprintf(buf, len, "%s", fp->last[op]);
	pthread_mutex_unlock(&fp->lock);
}

int fake_last_attempt(struct fake_platform *fp)
{
	pthread_mutex_lock(&fp->lock);
	int n = fp->last_attempt;
	pthread_mutex_unlock(&fp->lock);
	return n;
}

void fake_changed(struct fake_platform *fp, const char *remote_id)
{
	if (fp->changed)
		fp->changed(fp->changed_ctx, remote_id);
}
