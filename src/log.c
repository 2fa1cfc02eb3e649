/*
 * The log sink. fuse_set_log_func() takes no user pointer, so the sink is
 * the one piece of file-static state in the daemon; it is written once, by
 * log_init() before any thread starts, and only read after that.
 *
 * Journald gets each message as one datagram of fields (sd_journal_sendv),
 * so `journalctl -u jobfs JOB=hello` finds a job's lines. If journald
 * cannot take a message, it goes to the foreground sink instead (stderr
 * with -f, else syslog) rather than nowhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION /* it would always be this file */
#include <fuse_log.h>
#include <systemd/sd-journal.h>

#include "log.h"

static struct {
	enum log_sink sink;
	enum log_sink fallback; /* when journald refuses a message */
	enum log_level max_level;
} sink = {LOG_SINK_STDERR, LOG_SINK_STDERR, LOG_LEVEL_INFO};

static const int syslog_priority[] = {
    [LOG_LEVEL_ERROR] = LOG_ERR,
    [LOG_LEVEL_WARN] = LOG_WARNING,
    [LOG_LEVEL_INFO] = LOG_INFO,
    [LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static const char *const level_names[] = {"error", "warning", "info", "debug"};

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names);
	     i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void to_stderr(enum log_level level, const char *text)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s jobfs %s: %s\n", stamp, level_names[level], text);
	funlockfile(stderr);
}

static int to_journal(enum log_level level, const struct log_fields *f,
		      const char *text)
{
	char priority[16], job[160], run[32], platform[160];
	char *message = NULL;
	if (asprintf(&message, "MESSAGE=%s", text) < 0)
		return -ENOMEM;
	struct iovec iov[6];
	int n = 0;
	iov[n++] = (struct iovec){message, strlen(message)};
	snprintf(priority, sizeof(priority), "PRIORITY=%d",
		 syslog_priority[level]);
	iov[n++] = (struct iovec){priority, strlen(priority)};
	iov[n++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=jobfs", 23};
	if (f && f->job) {
		snprintf(job, sizeof(job), "JOB=%s", f->job);
		iov[n++] = (struct iovec){job, strlen(job)};
	}
	if (f && f->run > 0) {
		snprintf(run, sizeof(run), "RUN=%d", f->run);
		iov[n++] = (struct iovec){run, strlen(run)};
	}
	if (f && f->platform) {
		snprintf(platform, sizeof(platform), "PLATFORM=%s",
			 f->platform);
		iov[n++] = (struct iovec){platform, strlen(platform)};
	}
	int rc = sd_journal_sendv(iov, n);
	free(message);
	return rc;
}

static void log_vfields(enum log_level level, const struct log_fields *f,
			const char *fmt, va_list ap)
{
	if (level > sink.max_level)
		return;
	char line[2048];
	vsnprintf(line, sizeof(line), fmt, ap);
	enum log_sink to = sink.sink;
	if (to == LOG_SINK_JOURNAL && to_journal(level, f, line) == 0)
		return;
	if (to == LOG_SINK_JOURNAL)
		to = sink.fallback;
	if (to == LOG_SINK_SYSLOG)
		syslog(syslog_priority[level], "%s", line);
	else
		to_stderr(level, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vfields(level, NULL, fmt, ap);
	va_end(ap);
}

void log_fields_msg(enum log_level level, const struct log_fields *f,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vfields(level, f, fmt, ap);
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

/*
 * systemd's documented test (systemd.exec(5)): $JOURNAL_STREAM holds the
 * device and inode of the stream our stderr was connected to, if it still
 * is.
 */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	return fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/*
 * In the foreground only a stderr that is the journal counts: a shell in a
 * terminal that is itself a systemd service inherits $INVOCATION_ID, and
 * its user wants the messages on the terminal.
 */
static bool started_by_systemd(bool foreground)
{
	if (stderr_is_journal())
		return true;
	const char *id = getenv("INVOCATION_ID");
	return !foreground && id && *id;
}

void log_init(bool foreground, enum log_level max_level)
{
	sink.fallback = foreground ? LOG_SINK_STDERR : LOG_SINK_SYSLOG;
	sink.sink =
	    started_by_systemd(foreground) ? LOG_SINK_JOURNAL : sink.fallback;
	sink.max_level = max_level;
	if (sink.fallback == LOG_SINK_SYSLOG)
		openlog("jobfs", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(log_from_fuse);
}

enum log_sink log_sink(void)
{
	return sink.sink;
}
