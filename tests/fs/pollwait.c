/*
 * pollwait FILE TIMEOUT_MS: the poll(2) client of the mount tests.
 *
 * Opens FILE, reads it to the end and prints it, then blocks in poll() for
 * POLLIN|POLLPRI. jobfs reports a `status` file readable once the state has
 * changed since this open file last read it, so a wake-up means "changed":
 * the program then reads the file again from offset 0 on the same open file
 * (no reopen, so a stale page cache or size would show) and prints it.
 *
 * Exit status: 0 woken (new content printed), 2 timed out ("timeout"
 * printed), 1 error (message on stderr). Output is written unbuffered so
 * that a test can see the first content while the program still waits.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#define POLLWAIT_BUF_SIZE 65536

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads @fd from offset 0 to its end and copies it to stdout. */
static int print_from_start(int fd)
{
	static char buf[POLLWAIT_BUF_SIZE];
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		int rc = write_all(STDOUT_FILENO, buf, (size_t)n);
		if (rc < 0)
			return rc;
		off += n;
	}
}

static int parse_timeout(const char *text, int *out)
{
	char *end = NULL;

	errno = 0;
	long value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0 ||
	    value > INT_MAX)
		return -EINVAL;
	*out = (int)value;
	return 0;
}

/* 1 when @fd became ready, 0 on timeout, or a negative errno. */
static int wait_ready(int fd, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLPRI};

	for (;;) {
		int n = poll(&pfd, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (pfd.revents & (POLLERR | POLLNVAL))
			return -EIO;
		return 1;
	}
}

static int fail(const char *what, const char *path, int rc)
{
	fprintf(stderr, "pollwait: %s \"%s\": %s\n", what, path, strerror(-rc));
	return 1;
}

int main(int argc, char **argv)
{
	int timeout_ms = 0;

	if (argc != 3 || parse_timeout(argv[2], &timeout_ms) < 0) {
		fprintf(stderr, "usage: pollwait FILE TIMEOUT_MS\n");
		return 1;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0)
		return fail("cannot open", argv[1], -errno);
	int rc = print_from_start(fd);
	if (rc < 0)
		return fail("cannot read", argv[1], rc);
	rc = wait_ready(fd, timeout_ms);
	if (rc == 0) {
		close(fd);
		return write_all(STDOUT_FILENO, "timeout\n", 8) < 0 ? 1 : 2;
	}
	if (rc < 0)
		return fail("cannot poll", argv[1], rc);
	rc = print_from_start(fd);
	if (rc < 0)
		return fail("cannot read again", argv[1], rc);
	close(fd);
	return 0;
}
