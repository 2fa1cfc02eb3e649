/*
 * spawnloop: the wall time of a whole command (fork, exec, its work,
 * exit), repeated, as percentiles in milliseconds:
 *
 *   spawnloop [-n RUNS] [-w WARMUP] -- COMMAND [ARG...]
 *   → "n 200 p50_ms 1.21 p99_ms 2.80 mean_ms 1.30 max_ms 4.02"
 *
 * This is what a shell user pays for `cat NAME/status` or `curl URL`.
 * The command's stdout goes to /dev/null, its stderr is kept; a run that
 * exits non-zero stops the loop with an error, so a broken baseline is
 * never timed.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile(const double *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

/* Runs @argv once with stdout on /dev/null; 0 or a negative errno. */
static int run_once(char **argv, const posix_spawn_file_actions_t *fa)
{
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], fa, NULL, argv, environ);
	if (rc)
		return -rc;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -ECHILD;
	return 0;
}

static int parse_count(const char *text, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > 10000000)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: spawnloop [-n RUNS] [-w WARMUP] -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long runs = 200, warmup = 5;
	int opt;
	while ((opt = getopt(argc, argv, "+n:w:")) != -1) {
		long *field = opt == 'n' ? &runs : &warmup;
		if ((opt != 'n' && opt != 'w') || parse_count(optarg, field))
			usage();
	}
	if (optind >= argc || runs < 1)
		usage();
	char **cmd = argv + optind;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	double *lat = calloc((size_t)runs, sizeof(*lat));
	int rc = lat ? 0 : -ENOMEM;
	for (long i = -warmup; rc == 0 && i < runs; i++) {
		double t0 = now_ms();
		rc = run_once(cmd, &fa);
		if (i >= 0)
			lat[i] = now_ms() - t0;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "spawnloop: \"%s\" failed: %s\n", cmd[0],
			rc == -ECHILD ? "exited non-zero" : strerror(-rc));
		free(lat);
		return 1;
	}
	double sum = 0;
	for (long i = 0; i < runs; i++)
		sum += lat[i];
	qsort(lat, (size_t)runs, sizeof(*lat), compare_double);
	size_t n = (size_t)runs;
	printf("n %ld p50_ms %.3f p99_ms %.3f mean_ms %.3f max_ms %.3f\n", runs,
	       percentile(lat, n, 50), percentile(lat, n, 99),
	       sum / (double)runs, lat[n - 1]);
	free(lat);
	return 0;
}
