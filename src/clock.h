/* Time: wall clock for records, monotonic clock for deadlines. */
#ifndef JOBFS_CLOCK_H
#define JOBFS_CLOCK_H

#include <stddef.h>

/* Seconds since the epoch (CLOCK_REALTIME). */
double clock_wall(void);

/* Seconds on CLOCK_MONOTONIC: for deadlines and ages. */
double clock_mono(void);

/* "2026-11-22T18:20:51Z" (UTC); "" for t == 0. Needs 21 bytes. */
void clock_iso8601(double t, char *buf, size_t len);

#endif
