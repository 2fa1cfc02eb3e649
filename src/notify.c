/*
 * sd_notify(3) messages, through libsystemd's sd-daemon. The environment
 * ($NOTIFY_SOCKET, $WATCHDOG_USEC) is left in place: the daemon notifies
 * for as long as it lives, and runs it spawns inherit it harmlessly, since
 * Type=notify services accept messages from the main process only
 * (NotifyAccess=main, the default).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

void notify_ready(const char *mountpoint)
{
	int rc = sd_notifyf(0, "READY=1\nSTATUS=mounted on %s", mountpoint);
	if (rc < 0)
		log_warn("cannot tell the service manager we are ready: %s",
			 strerror(-rc));
}

void notify_status(size_t active_runs)
{
	sd_notifyf(0, "STATUS=%zu active run%s", active_runs,
		   active_runs == 1 ? "" : "s");
}

void notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=unmounting");
}

double notify_watchdog_interval(void)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return (double)usec / 2e6;
}
