/*
 * The part of the slurm platform that needs no connection to slurmrestd:
 * the platform's config (URL, API version, credentials, shared_dir, job
 * defaults), the check of a job's "conf", the body of a submit (the batch
 * script and the job description), slurmrestd's answers (errors, job
 * records) read into errnos and run states.
 *
 * The JSON shapes are those of API v0.0.38 (Slurm 22.05); newer versions
 * are accepted where the documentation shows how they differ: job_state
 * as an array (v0.0.40), numbers as {"set", "number"} objects and the
 * environment as a list (v0.0.39), the script inside the job (v0.0.40).
 */
#ifndef JOBFS_SLURM_WIRE_H
#define JOBFS_SLURM_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "platform_ops.h"

#define SLURM_ERR_INVALID_JOB_ID 2017 /* ESLURM_INVALID_JOB_ID */
#define SLURM_ERR_ALREADY_DONE	 2021 /* ESLURM_ALREADY_DONE */

/* The platform's config, from its fields. Owns its strings. */
struct slurm_wire_config {
	char *base_url; /* URL/slurm/VERSION */
	int api_minor;	/* NN of v0.0.NN */
	char *user;
	char *user_header;
	char *token_header; /* a secret: wiped by secret_free() */
	char *shared_dir;
	char *partition; /* or NULL: the cluster's default */
	long time_limit; /* minutes */
};

/*
 * Reads the platform's @fields (unknown ones refused) into @out, which
 * slurm_wire_config_release() frees also on failure. -EINVAL with @err.
 */
int slurm_wire_config_parse(const json_t *fields, struct slurm_wire_config *out,
			    char *err, size_t errlen);
void slurm_wire_config_release(struct slurm_wire_config *cfg);

/* A job's "conf": known fields of the right types. -EINVAL with @err. */
int slurm_wire_check_conf(const json_t *conf, char *err, size_t errlen);

/* ---- answers ---- */

/* One answer of slurmrestd. */
struct slurm_reply {
	long status;
	json_t *json; /* NULL when the body was not JSON */
	int code;     /* the first error's Slurm error number, 0 if none */
};

/*
 * Sets r->code from the answer's errors[]; 0 for a 2xx JSON answer, else
 * an errno with c->err naming @path when it matters. -ENOENT for an
 * invalid job id.
 */
int slurm_wire_reply_errno(struct call *c, const char *path,
			   struct slurm_reply *r);
void slurm_wire_reply_release(struct slurm_reply *r);

/* The first entry of an answer's errors[]: its number and text (borrowed). */
int slurm_wire_first_error(const json_t *json, const char **text_out);

/*
 * The text of the first errors[] entry of an answer's body @body (@len
 * bytes) into @out; -ENOENT when it has none (http_settings.error_text).
 */
int slurm_wire_error_text(const char *body, size_t len, char *out,
			  size_t outlen);

/* The errno of a failed submit: refused by Slurm, it is the job's fault. */
int slurm_wire_submit_errno(int rc, const struct slurm_reply *r);

/* ---- job records ---- */

/* A number, or the {"set": true, "number": N} of API v0.0.39 and later. */
bool slurm_wire_number(const json_t *v, long long *out);

/* The string @key of a job record, "" when absent. Borrowed. */
const char *slurm_wire_string(const json_t *job, const char *key);

/*
 * Maps a job record's "job_state" (a string up to v0.0.39, an array of
 * flags from v0.0.40) to a run state; @name_out gets the raw name (array
 * elements joined with ","). -EPROTO for a missing or unknown state.
 */
int slurm_wire_map_state(const json_t *job_state, enum run_state *state_out,
			 char *name_out, size_t namelen);

/*
 * The exit code of a job record's "exit_code": a raw wait status (integer,
 * up to v0.0.39: 768 -> 3, 15 -> 143) or the v0.0.40 object with
 * "return_code" and "signal". -1 when unknown.
 */
int slurm_wire_exit_code(const json_t *exit_code);

/*
 * Reads a job record into @out: the state (-EPROTO with c->err when
 * unknown), the start and end times and the exit code. The error of a
 * failed run is left to the caller.
 */
int slurm_wire_job_read(const json_t *job, struct call *c,
			struct run_status *out);

/* ---- submit ---- */

/*
 * The batch script: cd to @dir, then exec @argv (NULL-terminated), every
 * word single-quoted for sh. Caller frees *script_out.
 */
int slurm_wire_script(const char *dir, const char *const *argv,
		      char **script_out);

/*
 * The body of a submit of @run (a new object): the job named after the
 * run key runs @interp (may be NULL), @path and the run's args in @dir,
 * with stdout and stderr there, PATH and the run's env as its whole
 * environment, and the run's conf over the platform's partition and time
 * limit.
 */
int slurm_wire_submit_body(const struct slurm_wire_config *cfg,
			   const struct run_spec *run, const char *dir,
			   const char *const *interp, const char *path,
			   json_t **body_out);

#endif
