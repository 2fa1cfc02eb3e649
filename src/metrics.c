/*
 * The metrics file: see metrics.h. Each family is a "# HELP" and a
 * "# TYPE" line, then its samples; label values are escaped as the text
 * format wants (backslash, double quote, newline). Counters come from
 * the platform wrappers (platform.c), the poller (poller.c), the job core
 * and the waiters; sizes from the state dir.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "jobfs.h"
#include "metrics.h"

static const char *const health_names[] = {"OK", "DEGRADED", "DOWN"};

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* @s as a label value, quoted. */
static void label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void platform_sample(FILE *f, const char *name, const char *platform,
			    double value)
{
	fprintf(f, "%s{platform=", name);
	label_value(f, platform);
	fprintf(f, "} %.17g\n", value);
}

/* NAME_bucket (cumulative, le), NAME_sum and NAME_count; @platform NULL: none
 */
static void histogram_samples(FILE *f, const char *name, const char *platform,
			      const struct histogram *h)
{
	unsigned long cumulative = 0;
	for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
		cumulative += h->counts[i];
		fprintf(f, "%s_bucket{", name);
		if (platform) {
			fputs("platform=", f);
			label_value(f, platform);
			fputc(',', f);
		}
		if (isinf(histogram_bounds[i]))
			fprintf(f, "le=\"+Inf\"} %lu\n", cumulative);
		else
			fprintf(f, "le=\"%g\"} %lu\n", histogram_bounds[i],
				cumulative);
	}
	const char *open = platform ? "{platform=" : "";
	fprintf(f, "%s_sum%s", name, open);
	if (platform) {
		label_value(f, platform);
		fputc('}', f);
	}
	fprintf(f, " %.17g\n%s_count%s", h->sum, name, open);
	if (platform) {
		label_value(f, platform);
		fputc('}', f);
	}
	fprintf(f, " %lu\n", h->count);
}

static void runs_by_state(FILE *f, struct jobfs *jfs)
{
	family(f, "jobfs_runs", "gauge",
	       "Runs known to the mount, by platform and state.");
	for (size_t i = 0; i < platforms_count(jfs->platforms); i++) {
		const char *name = platforms_name(jfs->platforms, i);
		size_t counts[RUN_STATE_COUNT];
		job_count_runs(jfs->jobs, name, counts);
		for (int s = 0; s < RUN_STATE_COUNT; s++) {
			fputs("jobfs_runs{platform=", f);
			label_value(f, name);
			fprintf(f, ",state=\"%s\"} %zu\n", state_name(s),
				counts[s]);
		}
	}
}

/* The same counter or gauge for every platform. */
static void per_platform(FILE *f, struct jobfs *jfs,
			 const struct platform_metrics *m, const char *name,
			 const char *type, const char *help,
			 double (*value)(const struct platform_metrics *))
{
	family(f, name, type, help);
	for (size_t i = 0; i < platforms_count(jfs->platforms); i++)
		platform_sample(f, name, platforms_name(jfs->platforms, i),
				value(&m[i]));
}

static double requests_of(const struct platform_metrics *m)
{
	return (double)m->requests;
}

static double errors_of(const struct platform_metrics *m)
{
	return (double)m->errors;
}

static double retries_of(const struct platform_metrics *m)
{
	return (double)m->retries;
}

static double breaker_of(const struct platform_metrics *m)
{
	return m->breaker_open ? 1 : 0;
}

static double failures_of(const struct platform_metrics *m)
{
	return m->failures_in_row;
}

static void platform_health(FILE *f, struct jobfs *jfs,
			    const struct platform_metrics *m)
{
	family(f, "jobfs_platform_health", "gauge",
	       "1 for the platform's health (OK, DEGRADED, DOWN), else 0.");
	for (size_t i = 0; i < platforms_count(jfs->platforms); i++)
		for (int h = 0; h < 3; h++) {
			fputs("jobfs_platform_health{platform=", f);
			label_value(f, platforms_name(jfs->platforms, i));
			fprintf(f, ",state=\"%s\"} %d\n", health_names[h],
				m[i].health == h);
		}
}

static void platform_families(FILE *f, struct jobfs *jfs,
			      const struct platform_metrics *m)
{
	per_platform(f, jfs, m, "jobfs_platform_requests_total", "counter",
		     "Calls made to the platform.", requests_of);
	per_platform(f, jfs, m, "jobfs_platform_errors_total", "counter",
		     "Calls to the platform that failed.", errors_of);
	per_platform(f, jfs, m, "jobfs_platform_retries_total", "counter",
		     "HTTP retries within the calls.", retries_of);
	family(f, "jobfs_platform_request_duration_seconds", "histogram",
	       "Duration of the calls to the platform.");
	for (size_t i = 0; i < platforms_count(jfs->platforms); i++)
		histogram_samples(f, "jobfs_platform_request_duration_seconds",
				  platforms_name(jfs->platforms, i),
				  &m[i].latency);
	platform_health(f, jfs, m);
	per_platform(f, jfs, m, "jobfs_platform_breaker_open", "gauge",
		     "1 while the circuit breaker refuses calls.", breaker_of);
	per_platform(f, jfs, m, "jobfs_platform_failures_in_row", "gauge",
		     "Failed calls since the last good one.", failures_of);
}

static double file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

static void daemon_families(FILE *f, struct jobfs *jfs)
{
	struct histogram passes = {0};
	if (jfs->poller)
		poller_pass_metrics(jfs->poller, &passes);
	family(f, "jobfs_poller_pass_duration_seconds", "histogram",
	       "Duration of the poller's passes.");
	histogram_samples(f, "jobfs_poller_pass_duration_seconds", NULL,
			  &passes);
	family(f, "jobfs_waiters_parked", "gauge",
	       "Reads of wait files blocked until their run ends.");
	fprintf(f, "jobfs_waiters_parked %zu\n", waiters_parked(jfs->waiters));
	const char *dir = jfs->opts.state_dir;
	family(f, "jobfs_store_bytes", "gauge",
	       "Size of the state database (with its write-ahead log).");
	fprintf(f, "jobfs_store_bytes %.17g\n",
		file_size(dir, "jobfs.db") + file_size(dir, "jobfs.db-wal"));
	char runs[4096];
	uint64_t bytes = 0;
	snprintf(runs, sizeof(runs), "%s/runs", dir);
	fsutil_tree_size(runs, &bytes); /* 0 when it cannot be walked */
	family(f, "jobfs_output_bytes", "gauge",
	       "Size of the runs' output kept in the state dir.");
	fprintf(f, "jobfs_output_bytes %llu\n", (unsigned long long)bytes);
	family(f, "jobfs_start_time_seconds", "gauge",
	       "When the daemon started, in seconds since the epoch.");
	fprintf(f, "jobfs_start_time_seconds %.3f\n", jfs->started_at);
}

int metrics_render(struct jobfs *jfs, char **text_out, size_t *len_out)
{
	size_t np = platforms_count(jfs->platforms);
	struct platform_metrics *m = calloc(np + 1, sizeof(*m));
	char *text = NULL;
	size_t len = 0;
	FILE *f = m ? open_memstream(&text, &len) : NULL;
	if (!f) {
		free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < np; i++)
		platform_metrics_get(
		    platforms_get(jfs->platforms,
				  platforms_name(jfs->platforms, i)),
		    &m[i]);
	runs_by_state(f, jfs);
	platform_families(f, jfs, m);
	daemon_families(f, jfs);
	free(m);
	if (fclose(f)) {
		free(text);
		return -ENOMEM;
	}
	*text_out = text;
	*len_out = len;
	return 0;
}
