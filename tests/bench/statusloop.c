/*
 * statusloop: the latency of reading a small file (open + read + close)
 * or of listing a directory (opendir + readdir to the end + closedir),
 * repeated, as percentiles in microseconds:
 *
 *   statusloop [-n ITERATIONS] [-w WARMUP] PATH
 *   → "n 5000 p50_us 21.4 p99_us 48.0 mean_us 23.1 max_us 310.2 bytes 8"
 *
 * One read of up to 4 KiB is what a status reader does (the files served
 * are shorter); `bytes` is the size of the last read, so a driver can see
 * that something was read at all. Timing is CLOCK_MONOTONIC around each
 * whole iteration; the warm-up iterations are not counted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One open + read + close; returns the bytes read or a negative errno. */
static long read_once(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t got = read(fd, buf, sizeof(buf));
	int saved = errno;
	close(fd);
	return got < 0 ? -saved : (long)got;
}

/* One listing; returns the number of entries or a negative errno. */
static long list_once(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	long n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The nearest-rank percentile @p (0-100) of the sorted @v. */
static double percentile(const double *v, size_t n, double p)
{
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	return v[(rank > n ? n : rank) - 1];
}

static int parse_count(const char *text, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > 100000000)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: statusloop [-n ITERATIONS] [-w WARMUP] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long iterations = 5000, warmup = 100;
	int opt;
	while ((opt = getopt(argc, argv, "n:w:")) != -1) {
		long *field = opt == 'n' ? &iterations : &warmup;
		if ((opt != 'n' && opt != 'w') || parse_count(optarg, field))
			usage();
	}
	if (optind != argc - 1 || iterations < 1)
		usage();
	const char *path = argv[optind];
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "statusloop: cannot stat \"%s\": %s\n", path,
			strerror(errno));
		return 1;
	}
	long (*once)(const char *) =
	    S_ISDIR(st.st_mode) ? list_once : read_once;
	double *lat = calloc((size_t)iterations, sizeof(*lat));
	if (!lat)
		return 1;
	long got = 0;
	for (long i = -warmup; i < iterations; i++) {
		double t0 = now_us();
		got = once(path);
		double t1 = now_us();
		if (got < 0) {
			fprintf(stderr, "statusloop: cannot read \"%s\": %s\n",
				path, strerror((int)-got));
			free(lat);
			return 1;
		}
		if (i >= 0)
			lat[i] = t1 - t0;
	}
	double sum = 0;
	for (long i = 0; i < iterations; i++)
		sum += lat[i];
	qsort(lat, (size_t)iterations, sizeof(*lat), compare_double);
	size_t n = (size_t)iterations;
	printf("n %ld p50_us %.1f p99_us %.1f mean_us %.1f max_us %.1f "
	       "bytes %ld\n",
	       iterations, percentile(lat, n, 50), percentile(lat, n, 99),
	       sum / (double)iterations, lat[n - 1], got);
	free(lat);
	return 0;
}
