/*
 * The part of the stepfunctions platform that needs no connection to AWS:
 * the credentials and region of the AWS CLI's standard chain, the JSON of
 * the Step Functions API (JSON 1.0 protocol) that stepfunctions.c sends
 * and reads (execution input, names and ARNs, execution status, error
 * bodies, the steps and log made from an execution's history), and the
 * instance tag kept in the platform's state dir.
 */
#ifndef JOBFS_STEPFUNCTIONS_WIRE_H
#define JOBFS_STEPFUNCTIONS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "platform_ops.h"

#define SFN_WIRE_INPUT_MAX 262144 /* bytes of an execution's input */
#define SFN_WIRE_NAME_MAX  80	  /* characters of an execution name */
#define SFN_WIRE_TAG_LEN   8

/* ---- credentials and region ---- */

/* AWS credentials; every string a secret (sfn_wire_creds_release). */
struct sfn_wire_creds {
	char *key_id;
	char *secret;
	char *token;	  /* NULL for long-term credentials */
	char source[300]; /* where they came from, for messages */
	char file[4096];  /* the credentials file they came from, or "" */
};

/*
 * The standard chain: the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), else the shared credentials
 * file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, refused when
 * group or others may read it) at @profile (NULL: AWS_PROFILE, else
 * "default"). -ENOENT with @err when there are none, -EINVAL/-EACCES
 * with @err naming what is wrong. Never a secret in @err.
 */
int sfn_wire_creds_load(const char *profile, struct sfn_wire_creds *out,
			char *err, size_t errlen);
void sfn_wire_creds_release(struct sfn_wire_creds *creds);

/*
 * The region: @configured (the config's "region") when not NULL, else
 * AWS_REGION, AWS_DEFAULT_REGION, then "region" of @profile in the shared
 * config file (AWS_CONFIG_FILE or ~/.aws/config). A new string in
 * *region_out; -EINVAL with @err when there is none or it is malformed.
 */
int sfn_wire_region(const char *configured, const char *profile,
		    char **region_out, char *err, size_t errlen);

/* ---- names and ARNs ---- */

/* The parts of "arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME". */
struct sfn_wire_arn {
	char partition[32];
	char region[32];
	char account[32];
	char name[96]; /* the state machine's name */
};

/*
 * Parses a state machine ARN; a ":VERSION" or ":ALIAS" qualifier is
 * allowed (its executions carry the machine's name). -EINVAL with c->err.
 */
int sfn_wire_machine_arn(struct call *c, const char *arn,
			 struct sfn_wire_arn *out);

/*
 * The execution name of attempt @attempt of @run_key, marked with @tag:
 * "RUN_KEY[.aN]@TAG", shortened with a hash to SFN_WIRE_NAME_MAX
 * characters. @buf holds SFN_WIRE_NAME_MAX + 1.
 */
void sfn_wire_exec_name(const char *run_key, int attempt, const char *tag,
			char *buf);

/* The ARN of execution @name of the machine @m (caller frees). */
char *sfn_wire_exec_arn(const struct sfn_wire_arn *m, const char *name);

/*
 * The state machine ARN of the execution ARN @exec_arn (caller frees), or
 * NULL when @exec_arn is not one.
 */
char *sfn_wire_machine_of(const char *exec_arn);

/* ---- requests and answers ---- */

/*
 * Whether @run can run: no bundle, a "conf" of known fields (a valid
 * "state_machine_arn", an object "input"), an input within
 * SFN_WIRE_INPUT_MAX bytes. -EINVAL with c->err.
 */
int sfn_wire_validate(struct call *c, const struct run_spec *run);

/*
 * The execution input of @run as the JSON text StartExecution wants
 * (caller frees): conf "input" with "args" and "env" added when the job
 * has them. -EINVAL with c->err beyond SFN_WIRE_INPUT_MAX bytes.
 */
int sfn_wire_input(struct call *c, const struct run_spec *run,
		   char **input_out);

/*
 * Reads an execution (DescribeExecution's answer or an element of
 * ListExecutions' "executions") into @out: the state and, when it
 * failed, "error: cause". -EPROTO without a status.
 */
int sfn_wire_status(struct call *c, const json_t *exec, struct run_status *out);

/*
 * "ExceptionName: message" of an AWS JSON error body {"__type":
 * "ns#ExceptionName", "message": "..."}; -ENOENT when @body is not one
 * (http_settings.error_text).
 */
int sfn_wire_error_text(const char *body, size_t len, char *out, size_t outlen);

/* Whether @body is a ThrottlingException (http_settings.is_throttled). */
bool sfn_wire_is_throttled(long status, const char *body, size_t len);

/*
 * The errno of an error answer of AWS: @rc (http_check_status()'s)
 * refined by the exception named in @body: -ENOENT for an unknown
 * execution or machine, -EACCES for refused credentials, -EAGAIN for
 * throttling and limits.
 */
int sfn_wire_error_errno(int rc, const char *body, size_t len);

/* The exception name of an AWS error body, in @out ("" when none). */
void sfn_wire_error_name(const char *body, size_t len, char *out,
			 size_t outlen);

/* ---- history ---- */

/*
 * The steps of an execution from its history @events (GetExecutionHistory's
 * "events", oldest first, all pages): one per state entered, in the
 * order entered, as the platform_ops steps op describes them. A new array
 * in *steps_out.
 */
int sfn_wire_steps(const json_t *events, json_t **steps_out);

/* Writes @events to @f, one line each: "TIME TYPE [STATE] [ERROR]". */
void sfn_wire_log(const json_t *events, FILE *f);

/* ---- state files ---- */

/*
 * The random tag of DIR/instance (made on first use): SFN_WIRE_TAG_LEN hex
 * digits and a NUL in @tag_out.
 */
int sfn_wire_tag(const char *dir, char *tag_out, char *err, size_t errlen);

#endif
