/*
 * The part of the livy platform that needs no connection to Livy: the
 * JSON that livy.c exchanges with Livy and Synapse (the create request
 * built from a run, with the job's "conf" checked field by field and the
 * bundle uploaded to an artifact store; the run status read from a batch
 * object; Livy's error bodies; log lines; the basic auth header), and the
 * small files it keeps in its state dir (a set of batch ids, the tag of
 * its batch names).
 */
#ifndef JOBFS_LIVY_WIRE_H
#define JOBFS_LIVY_WIRE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "artifact.h"
#include "platform_ops.h"

/* Where a run is sent. All borrowed. */
struct livy_wire_target {
	const char *platform;	      /* configured name, for messages */
	const char *proxy_user;	      /* Livy's proxyUser, or NULL */
	struct artifact_store *store; /* NULL: nothing can be uploaded */
};

/*
 * Whether @run can be sent to @t: known "conf" fields of the right types,
 * an entry point Spark runs (.py, .jar with "className", .R) and a way for
 * the cluster to read it. -EINVAL with c->err.
 */
int livy_wire_validate(const struct livy_wire_target *t, struct call *c,
		       const struct run_spec *run);

/*
 * The create request for batch @name (a new object). Unless the job names
 * a file the cluster reads, every file of the bundle is uploaded to
 * t->store as "RUN_KEY/PATH": the entry point becomes "file", the others
 * "jars", "pyFiles" (for a Python job) or "files". The job's env goes to
 * the spark conf of the driver and the executors.
 */
int livy_wire_body(const struct livy_wire_target *t, struct call *c,
		   const struct run_spec *run, const char *name,
		   json_t **body_out);

/*
 * Reads a batch object into @out: the state and, for a failure, the error
 * (Synapse's "errorInfo" when @has_result, else the last telling line of
 * the log). A "result" (@has_result) decides the outcome. -EPROTO when
 * the batch has no state.
 */
int livy_wire_status(const json_t *batch, bool has_result, struct call *c,
		     struct run_status *out);

/* The "id" of a batch object: -EPROTO without one. */
int livy_wire_batch_id(struct call *c, const json_t *batch, long *id_out);

/*
 * The message of Livy's error body {"msg": "..."} into @out; -ENOENT when
 * @body (@len bytes) has none (http_settings.error_text).
 */
int livy_wire_error_text(const char *body, size_t len, char *out,
			 size_t outlen);

/* Writes the strings of the array @lines to @f, one a line; the count. */
size_t livy_wire_log_lines(const json_t *lines, FILE *f);

/*
 * "Authorization: Basic ..." from "user" and "password_env" or
 * "password_file" of @fields, in *header_out (a secret: secret_free()), or
 * NULL when neither is set. -EINVAL with @err when only one is.
 */
int livy_wire_basic_auth(const json_t *fields, char **header_out, char *err,
			 size_t errlen);

/*
 * The string @key of the object @fields into *out (borrowed): 0, -ENOENT
 * when absent, -EINVAL with @err when it is not a non-empty string.
 */
int livy_wire_string_field(const json_t *fields, const char *key,
			   const char **out, char *err, size_t errlen);

/* ---- state files ---- */

#define LIVY_WIRE_IDS_MAX 1024 /* the oldest id goes first */
#define LIVY_WIRE_TAG_LEN 8

/*
 * A set of batch ids kept in a file, one a line, rewritten atomically on
 * each change. Thread-safe.
 */
struct livy_wire_ids {
	pthread_mutex_t lock;
	char *path;
	long ids[LIVY_WIRE_IDS_MAX];
	size_t n;
};

void livy_wire_ids_init(struct livy_wire_ids *s);
/* Reads DIR/NAME (a missing file is an empty set); -errno with @err. */
int livy_wire_ids_load(struct livy_wire_ids *s, const char *dir,
		       const char *name, char *err, size_t errlen);
bool livy_wire_ids_has(struct livy_wire_ids *s, long id);
/* Adds or removes @id; a file that cannot be written is logged. */
void livy_wire_ids_set(struct livy_wire_ids *s, long id, bool present);
void livy_wire_ids_release(struct livy_wire_ids *s);

/*
 * The random tag of DIR/instance (made on first use): LIVY_WIRE_TAG_LEN
 * hex digits and a NUL in @tag_out.
 */
int livy_wire_tag(const char *dir, char *tag_out, char *err, size_t errlen);

#endif
