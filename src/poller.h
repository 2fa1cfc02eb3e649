/*
 * The poller thread: every `poll` seconds a full pass over active runs
 * (job_poll), and a quick pass whenever the core kicks it (a submit, a
 * platform's change notice). Started after the mount is up. Every pass
 * ends with WATCHDOG=1 to the service manager (notify.h), which also sets
 * the longest sleep between two passes when it watches us.
 */
#ifndef JOBFS_POLLER_H
#define JOBFS_POLLER_H

#include "histogram.h"
#include "job.h"

struct poller;

/*
 * Starts the thread. @after_pass (may be NULL) runs in the poller thread
 * after every pass, with no lock held: the place for kernel notifications.
 */
int poller_start(struct jobcore *jc, double interval_s,
		 void (*after_pass)(void *ctx), void *ctx, struct poller **out);

/* Asks for a quick pass soon; safe from any thread, any time. */
void poller_kick(struct poller *p);

/* Asks for a quick pass after @seconds (something should change by then). */
void poller_kick_in(struct poller *p, double seconds);

/* Stops and joins the thread; NULL is fine. */
void poller_stop(struct poller *p);

/* The duration of every pass so far (seconds), for the metrics file. */
void poller_pass_metrics(struct poller *p, struct histogram *out);

#endif
