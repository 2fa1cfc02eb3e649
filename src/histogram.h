/*
 * A latency histogram with fixed buckets, for the metrics file (metrics.c):
 * the platform wrappers (platform.c) observe each call, the poller
 * (poller.c) each pass. The caller guards it with its own lock.
 */
#ifndef JOBFS_HISTOGRAM_H
#define JOBFS_HISTOGRAM_H

#define HISTOGRAM_BUCKETS 12 /* the last one is +Inf */

/* Upper bounds of the buckets in seconds; the last is INFINITY. */
extern const double histogram_bounds[HISTOGRAM_BUCKETS];

struct histogram {
	unsigned long counts[HISTOGRAM_BUCKETS]; /* per bucket, not summed */
	unsigned long count;
	double sum; /* seconds */
};

void histogram_observe(struct histogram *h, double seconds);

#endif
