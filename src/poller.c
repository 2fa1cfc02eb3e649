/*
 * The poller thread. It sleeps on a condition variable until the next full
 * pass is due or a kick arrives; kicks that come while a pass runs are
 * remembered, so no change notice is lost between passes.
 *
 * Each pass ends with WATCHDOG=1 to the service manager (notify.h), and
 * when it asks for a watchdog the thread wakes for a pass at least twice
 * per period whatever the poll interval: a poller stuck in a pass stops
 * the pings, and systemd restarts the service.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "poller.h"

struct poller {
	struct jobcore *jc;
	double interval;
	void (*after_pass)(void *ctx);
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool kicked;
	bool stopping;
	double next_quick;	 /* monotonic time of a quick pass asked for */
	double beat;		 /* seconds between watchdog pings; 0: none */
	struct histogram passes; /* seconds per pass, under lock */
};

static void deadline_after(double seconds, struct timespec *out)
{
	clock_gettime(CLOCK_MONOTONIC, out);
	double whole = (double)(long)seconds;
	out->tv_sec += (time_t)whole;
	out->tv_nsec += (long)((seconds - whole) * 1e9);
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

/* Waits for a kick or the next full pass; returns whether it is full. */
static bool poller_sleep(struct poller *p, double *next_full)
{
	struct timespec until;
	double beat_at = clock_mono() + p->beat;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		double wake_at =
		    p->next_quick < *next_full ? p->next_quick : *next_full;
		if (p->beat > 0 && beat_at < wake_at)
			wake_at = beat_at;
		if (p->kicked || p->stopping || clock_mono() >= wake_at)
			break;
		deadline_after(wake_at - clock_mono(), &until);
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
	}
	p->kicked = false;
	if (clock_mono() >= p->next_quick)
		p->next_quick = INFINITY;
	pthread_mutex_unlock(&p->lock);
	bool full = clock_mono() >= *next_full;
	if (full)
		*next_full = clock_mono() + p->interval;
	return full;
}

static void *poller_main(void *arg)
{
	struct poller *p = arg;
	double next_full = clock_mono();
	for (;;) {
		bool full = poller_sleep(p, &next_full);
		pthread_mutex_lock(&p->lock);
		bool stopping = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stopping)
			return NULL;
		double started = clock_mono();
		job_poll(p->jc, full);
		pthread_mutex_lock(&p->lock);
		histogram_observe(&p->passes, clock_mono() - started);
		pthread_mutex_unlock(&p->lock);
		if (p->after_pass)
			p->after_pass(p->ctx);
		notify_watchdog();
	}
}

int poller_start(struct jobcore *jc, double interval_s,
		 void (*after_pass)(void *ctx), void *ctx, struct poller **out)
{
	struct poller *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->jc = jc;
	p->interval = interval_s;
	p->after_pass = after_pass;
	p->ctx = ctx;
	p->next_quick = INFINITY;
	p->beat = notify_watchdog_interval();
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &attr);
	pthread_condattr_destroy(&attr);
	int rc = pthread_create(&p->thread, NULL, poller_main, p);
	if (rc) {
		log_error("cannot start the poller: %s", strerror(rc));
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -rc;
	}
	*out = p;
	return 0;
}

void poller_kick(struct poller *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void poller_kick_in(struct poller *p, double seconds)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	double at = clock_mono() + seconds;
	if (at < p->next_quick)
		p->next_quick = at;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

void poller_stop(struct poller *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void poller_pass_metrics(struct poller *p, struct histogram *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->passes;
	pthread_mutex_unlock(&p->lock);
}
