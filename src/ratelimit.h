/*
 * A token bucket: at most `rate` calls per second on average, with bursts
 * of up to max(1, rate) calls. A platform's "rate" field sets one per
 * platform (src/platform.c), since cloud workspaces throttle as a whole.
 *
 * A call that finds the bucket empty reserves the next token and sleeps
 * until it is due, unless that is further away than it may wait: then it
 * is refused at once, and the caller treats it like a busy platform.
 */
#ifndef JOBFS_RATELIMIT_H
#define JOBFS_RATELIMIT_H

#include <pthread.h>

struct rate_limit {
	pthread_mutex_t lock;
	double rate;   /* tokens per second; 0 = no limit */
	double burst;  /* bucket size */
	double tokens; /* may go negative: reserved by sleeping callers */
	double last;   /* monotonic time of the last refill */
	unsigned long waited, refused;
};

/* @per_second <= 0 means no limit. */
void rate_limit_init(struct rate_limit *rl, double per_second);
void rate_limit_destroy(struct rate_limit *rl);

/*
 * Takes one token, sleeping for it up to @max_wait_s seconds: 0, or
 * -EAGAIN (nothing taken) when the token would come later than that.
 */
int rate_limit_take(struct rate_limit *rl, double max_wait_s);

#endif
