/*
 * The mount's `metrics` file: a Prometheus text exposition (format 0.0.4)
 * of the whole daemon, rendered from its context at every read, for
 * node_exporter's textfile collector or a scrape by cron. The families are
 * listed in man/jobfs.5 (METRICS).
 */
#ifndef JOBFS_METRICS_H
#define JOBFS_METRICS_H

#include <stddef.h>

struct jobfs;

/* The text of the metrics file into a new *text_out the caller frees. */
int metrics_render(struct jobfs *jfs, char **text_out, size_t *len_out);

#endif
