/*
 * The Slurm platform: runs go to a cluster through slurmrestd (JWT auth).
 *
 * Besides the ops table, the pure translation helpers are exported so that
 * tests/check_slurm.c can test them without a cluster.
 */
#ifndef JOBFS_SLURM_H
#define JOBFS_SLURM_H

#include <stddef.h>

#include <jansson.h>

#include "platform_ops.h"

extern const struct platform_ops slurm_platform;

/*
 * Maps a job record's "job_state" (a string up to v0.0.39, an array of
 * flags from v0.0.40) to a run state; @name_out gets the raw name (array
 * elements joined with ","). -EPROTO for a missing or unknown state.
 */
int slurm_map_state(const json_t *job_state, enum run_state *state_out,
		    char *name_out, size_t namelen);

/*
 * The exit code of a job record's "exit_code": a raw wait status (integer,
 * up to v0.0.39: 768 -> 3, 15 -> 143) or the v0.0.40 object with
 * "return_code" and "signal". -1 when unknown.
 */
int slurm_exit_code(const json_t *exit_code);

/*
 * The batch script: cd to @dir, then exec @argv (NULL-terminated), every
 * word single-quoted for sh. Caller frees *script_out.
 */
int slurm_script(const char *dir, const char *const *argv, char **script_out);

#endif
