#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "message.h"

int message_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int message_call_fail(struct call *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return rc;
}

const char *message_printable(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

const char *message_strerror(int rc, char *buf, size_t len)
{
	const char *text = strerror_r(-rc, buf, len);
	if (text != buf)
		snprintf(buf, len, "%s", text);
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}
