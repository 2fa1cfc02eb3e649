/*
 * One call of a platform op: its deadline, its failure reason and the
 * requests it repeated. The job core's wrappers (platform.c) make one per
 * op; the modules an op uses (http, artifact, aad) take it to honour the
 * deadline and to say why they failed.
 */
#ifndef JOBFS_CALL_H
#define JOBFS_CALL_H

struct call {
	double deadline; /* CLOCK_MONOTONIC seconds; give up after it */
	char err[256];	 /* one-line reason of a failure, filled by the op */
	int retries;	 /* requests repeated during the call (http.c) */
};

/*
 * Formats the reason of a failure into c->err (message.h's rules) and
 * returns @rc: `return message_call_fail(c, -EPROTO, "bad answer");`.
 */
int message_call_fail(struct call *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
