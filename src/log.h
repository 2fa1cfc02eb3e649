/*
 * Logging: one sink, stderr in the foreground, syslog otherwise.
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

/* Chooses the sink; the only file-static state of the daemon. */
void log_init(bool foreground, enum log_level max_level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
