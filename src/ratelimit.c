/* The token bucket of ratelimit.h. */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "clock.h"
#include "ratelimit.h"

void rate_limit_init(struct rate_limit *rl, double per_second)
{
	*rl = (struct rate_limit){
	    .rate = per_second > 0 ? per_second : 0,
	    .burst = per_second > 1 ? per_second : 1,
	    .last = clock_mono(),
	};
	rl->tokens = rl->burst;
	pthread_mutex_init(&rl->lock, NULL);
}

void rate_limit_destroy(struct rate_limit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int rate_limit_take(struct rate_limit *rl, double max_wait_s)
{
	if (rl->rate <= 0)
		return 0;
	pthread_mutex_lock(&rl->lock);
	double now = clock_mono();
	rl->tokens += (now - rl->last) * rl->rate;
	if (rl->tokens > rl->burst)
		rl->tokens = rl->burst;
	rl->last = now;
	double wait = rl->tokens >= 1 ? 0 : (1 - rl->tokens) / rl->rate;
	bool refused = wait > max_wait_s;
	if (refused)
		rl->refused++;
	else
		rl->tokens -= 1; /* reserved, also when it is not here yet */
	if (!refused && wait > 0)
		rl->waited++;
	pthread_mutex_unlock(&rl->lock);
	if (refused)
		return -EAGAIN;
	if (wait > 0)
		sleep_s(wait);
	return 0;
}
