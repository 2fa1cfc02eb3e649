/*
 * The log sink. fuse_set_log_func() takes no user pointer, so the sink is
 * the one piece of file-static state in the daemon.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include <fuse_log.h>

#include "log.h"

static struct {
	bool to_stderr;
	enum log_level max_level;
} sink = {true, LOG_LEVEL_INFO};

static const int syslog_priority[] = {
    [LOG_LEVEL_ERROR] = LOG_ERR,
    [LOG_LEVEL_WARN] = LOG_WARNING,
    [LOG_LEVEL_INFO] = LOG_INFO,
    [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level > sink.max_level)
		return;
	if (!sink.to_stderr) {
		vsyslog(syslog_priority[level], fmt, ap);
		return;
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s jobfs %s: ", stamp, level_names[level]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static void log_from_fuse(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	/* libfuse ends its messages with a newline; ours adds one */
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	for (char *end = line; *end; end++)
		if (*end == '\n' && end[1] == '\0')
			*end = '\0';
	enum log_level mine = level <= FUSE_LOG_ERR	  ? LOG_LEVEL_ERROR
			      : level <= FUSE_LOG_WARNING ? LOG_LEVEL_WARN
			      : level <= FUSE_LOG_INFO	  ? LOG_LEVEL_INFO
							  : LOG_LEVEL_DEBUG;
	log_msg(mine, "fuse: %s", line);
}

void log_init(bool foreground, enum log_level max_level)
{
	sink.to_stderr = foreground;
	sink.max_level = max_level;
	if (!foreground)
		openlog("jobfs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(log_from_fuse);
}
