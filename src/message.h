/*
 * One-line error messages (git's rules: lower case, no full stop, the
 * subject quoted), written into the caller's buffer: the `return
 * message_fail(...)` idiom of curl's failf().
 */
#ifndef JOBFS_MESSAGE_H
#define JOBFS_MESSAGE_H

#include <stddef.h>

/* Formats the reason into @err (when not NULL) and returns @rc. */
int message_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* message_call_fail(), the same into a call's buffer, is in call.h. */

/*
 * @s made fit for a one-line message: control characters (forged lines)
 * become '?', and it is cut to @len. Returns @buf; NULL reads as "".
 */
const char *message_printable(const char *s, char *buf, size_t len);

/* strerror(-@rc) in the lower case of our messages, in @buf. */
const char *message_strerror(int rc, char *buf, size_t len);

#endif
