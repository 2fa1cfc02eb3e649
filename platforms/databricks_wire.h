/*
 * The part of the databricks platform that needs no connection: the JSON
 * of the Jobs API (the runs/submit request built from a run and its
 * uploaded files, a run object read into a run_status or into steps, the
 * output of runs/get-output), the job's "conf" checks and Databricks'
 * error bodies {"error_code", "message"}.
 */
#ifndef JOBFS_DATABRICKS_WIRE_H
#define JOBFS_DATABRICKS_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "platform_ops.h"

/* What the entry point runs as. */
enum dbx_task { DBX_TASK_PYTHON, DBX_TASK_JAR, DBX_TASK_WHEEL };

/*
 * Whether @run can be submitted: known "conf" fields of the right types,
 * exactly one of existing_cluster_id, new_cluster, environment_key, an
 * entry point Databricks runs (.py, .jar with main_class, .whl), and env
 * only with new_cluster (the only place it can go). -EINVAL with c->err
 * naming the field.
 */
int dbx_wire_validate(struct call *c, const struct run_spec *run);

/* The task kind of @entry (validated before). */
enum dbx_task dbx_wire_task(const char *entry);

/*
 * The runs/submit body (a new object): run_name and idempotency_token
 * @token, one task "main" running @entry_url (where the entry point was
 * uploaded) with the run's args, @libs (an array of library objects, may
 * be empty; borrowed) and the cluster of the job's conf.
 */
int dbx_wire_submit_body(struct call *c, const struct run_spec *run,
			 const char *token, const char *entry_url,
			 const json_t *libs, json_t **body_out);

/* The library object for an uploaded bundle file, or NULL (not one). */
json_t *dbx_wire_library(const char *rel, const char *url);

/*
 * Reads a Run object into @out: life_cycle_state and result_state
 * mapped, the error from state_message (the run's, else its task's).
 * Unknown states read as QUEUED (the core never moves a run back).
 * -EPROTO when the run has no state.
 */
int dbx_wire_status(const json_t *run, struct call *c, struct run_status *out);

/* tasks[0].run_id of a Run object: -EPROTO when it has none. */
int dbx_wire_task_run_id(const json_t *run, struct call *c, long long *id_out);

/* The steps of a Run object (platform_ops.h steps): a new array. */
int dbx_wire_steps(const json_t *run, json_t **steps_out);

/*
 * Writes the RunOutput @out to @dir/log (logs, a line when they were
 * truncated, error and error_trace) and, when @ended, @dir/result
 * (notebook_output.result when given, else the logs).
 */
int dbx_wire_write_output(const json_t *output, const char *dir, bool ended);

/* The "error" of a RunOutput, or NULL. */
const char *dbx_wire_output_error(const json_t *output);

/*
 * The message of an error body {"error_code": "...", "message": "..."}
 * as "ERROR_CODE: message" (http_settings.error_text); -ENOENT when @body
 * is not of that shape.
 */
int dbx_wire_error_text(const char *body, size_t len, char *out, size_t outlen);

/* Base64 of @len bytes (a new string), or NULL. */
char *dbx_wire_base64(const void *data, size_t len);

/* Checks the platform's config fields: -EINVAL naming an unknown one. */
int dbx_wire_check_fields(const json_t *fields, char *err, size_t errlen);

#define DBX_WIRE_TOKEN_MAX 64 /* idempotency_token length limit */

/*
 * The run's idempotency token and run name, "RUN_KEY[.aN]@TAG" (".aN" for
 * attempt N > 1), at most DBX_WIRE_TOKEN_MAX characters: a longer key is
 * cut and a hash of it added. @len > DBX_WIRE_TOKEN_MAX.
 */
void dbx_wire_token(const struct run_spec *run, const char *tag, char *buf,
		    size_t len);

/* "/a b/c" -> "/a%20b/c": each segment escaped (a new string), or NULL. */
char *dbx_wire_escape_path(const char *path);

/* Where a run's files go ("upload.kind"). */
enum dbx_upload { DBX_UP_NONE, DBX_UP_VOLUME, DBX_UP_WORKSPACE, DBX_UP_DBFS };

/*
 * The "upload" field of the platform config: its kind and its path (a new
 * string, "/..." without "dbfs:" or a trailing slash), DBX_UP_NONE and
 * NULL without one. -EINVAL with @err naming the field.
 */
int dbx_wire_upload(const json_t *fields, enum dbx_upload *kind_out,
		    char **path_out, char *err, size_t errlen);

#endif
