/*
 * Durations as people write them in options and configs: a number of
 * seconds ("3600"), or a number with one unit: s, m, h, d or w ("90m",
 * "12h", "30d", "1.5w").
 */
#ifndef JOBFS_DURATION_H
#define JOBFS_DURATION_H

/* 0 with *@seconds_out (> 0), or -EINVAL. */
int duration_parse(const char *text, double *seconds_out);

#endif
