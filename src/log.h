/*
 * Logging: one sink, chosen once at start-up by log_init():
 *   - journald (sd-journal, with structured fields) when systemd started
 *     us: $JOURNAL_STREAM names our stderr, or $INVOCATION_ID is set;
 *   - stderr in the foreground (-f, -d);
 *   - syslog otherwise (a daemon started by hand or by mount(8)).
 * libfuse's own messages are routed here too (log_init does that).
 *
 * Never log a header, a request body, a query string or a secret.
 */
#ifndef JOBFS_LOG_H
#define JOBFS_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

enum log_sink { LOG_SINK_STDERR, LOG_SINK_SYSLOG, LOG_SINK_JOURNAL };

/*
 * What a message is about, for journald's fields JOB=, RUN= and PLATFORM=
 * (journalctl JOB=hello). NULL strings and a run of 0 are left out. The
 * other sinks show only the message text, so it should name them too.
 */
struct log_fields {
	const char *job;
	int run;
	const char *platform;
};

/* Chooses the sink; the only file-static state of the daemon. */
void log_init(bool foreground, enum log_level max_level);

/* The sink log_init() chose (for the start-up message and the tests). */
enum log_sink log_sink(void);

/* "error", "warning", "info", "debug" -> 0 and the level; else -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* log_msg() with structured fields; @f may be NULL. */
void log_fields_msg(enum log_level level, const struct log_fields *f,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* A message about run @run of @job on @platform (see struct log_fields). */
#define log_run(level, job, run, platform, ...)                                \
	log_fields_msg(level, &(const struct log_fields){job, run, platform},  \
		       __VA_ARGS__)

#endif
