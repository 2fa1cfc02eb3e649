/*
 * Starts a Python emulator of tests/emulators/ for a unit test and stops
 * it again. The emulator prints its port as the first line of stdout.
 */
#ifndef JOBFS_TESTS_EMULATOR_H
#define JOBFS_TESTS_EMULATOR_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TESTS_SRCDIR
#define TESTS_SRCDIR "tests"
#endif

struct emulator {
	pid_t pid;
	int port;
};

/* @args: extra arguments, NULL-terminated (may be NULL). 0 or -1. */
static inline int emulator_start(struct emulator *em, const char *script,
				 const char *const *args)
{
	char path[512];
	const char *argv[16] = {"python3", path};
	size_t n = 2;
	snprintf(path, sizeof(path), "%s/emulators/%s", TESTS_SRCDIR, script);
	for (; args && *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	em->pid = fork();
	if (em->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp("python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	char line[32] = "";
	size_t len = 0;
	while (em->pid > 0 && len + 1 < sizeof(line) &&
	       read(fds[0], line + len, 1) == 1 && line[len] != '\n')
		len++;
	line[len] = '\0';
	close(fds[0]);
	em->port = (int)strtol(line, NULL, 10); /* 0 for a Unix socket */
	return em->pid > 0 && len > 0 ? 0 : -1;
}

static inline void emulator_stop(struct emulator *em)
{
	if (em->pid > 0) {
		kill(em->pid, SIGTERM);
		waitpid(em->pid, NULL, 0);
	}
	em->pid = 0;
}

#endif
