/* The text of a run's files, from a run_view (pure formatting). */
#ifndef JOBFS_JOB_RENDER_H
#define JOBFS_JOB_RENDER_H

#include <stddef.h>

#include "job.h"

/* "RUNNING\n". Caller frees. */
int job_render_status(const struct run_view *v, char **text_out,
		      size_t *len_out);

/*
 * status.json: one object with the fields of man/jobfs.5 (JOB FILES),
 * newline-terminated.
 */
int job_render_status_json(const struct run_view *v, char **text_out,
			   size_t *len_out);

/* The error file: the reason and a newline, or empty. */
int job_render_error(const struct run_view *v, char **text_out,
		     size_t *len_out);

#endif
