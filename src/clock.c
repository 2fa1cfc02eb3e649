#include <time.h>

#include "clock.h"

static double timespec_seconds(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall(void)
{
	return timespec_seconds(CLOCK_REALTIME);
}

double clock_mono(void)
{
	return timespec_seconds(CLOCK_MONOTONIC);
}

void clock_iso8601(double t, char *buf, size_t len)
{
	if (t <= 0) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	time_t secs = (time_t)t;
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
