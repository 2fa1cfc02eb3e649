/*
 * The service manager's side channel (sd_notify(3)): READY=1 once mounted,
 * STATUS= with the number of active runs, WATCHDOG=1 from the poller
 * thread, STOPPING=1 when the mount goes away. Every call is a no-op when
 * $NOTIFY_SOCKET is unset (not started by systemd with Type=notify), so
 * callers need not ask.
 */
#ifndef JOBFS_NOTIFY_H
#define JOBFS_NOTIFY_H

#include <stddef.h>

/* READY=1, with a STATUS= naming the mount point. */
void notify_ready(const char *mountpoint);

/* STATUS=N active runs. */
void notify_status(size_t active_runs);

/* WATCHDOG=1: the poller thread is alive and not stuck. */
void notify_watchdog(void);

/* STOPPING=1: unmounted (or asked to stop); no more READY after it. */
void notify_stopping(void);

/*
 * Seconds between two WATCHDOG=1 for the service manager to stay calm:
 * half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; 0 when no
 * watchdog is asked for.
 */
double notify_watchdog_interval(void);

#endif
