/*
 * Artifact stores: where an app is put so that a cluster can read it
 * (Livy, Synapse and Spark take a URL, not a bundle).
 *
 * A platform's config names one under "artifacts":
 *   {"kind": "shared_dir", "path": "/mnt/shared/jobfs", "url":
 * "file:///mnt/shared/jobfs"}
 *   {"kind": "webhdfs", "url": "http://namenode:9870", "path": "/user/jobfs",
 *    "user": "jobfs", "fs_url": "hdfs://namenode:8020"}
 *   {"kind": "adls", "url": "https://ACCOUNT.dfs.core.windows.net/FILESYSTEM",
 *    "path": "jobfs", "tenant_id": ..., "client_id": ...,
 *    "client_secret_file": ...}      (also OneLake: onelake.dfs.fabric...)
 * shared_dir copies; webhdfs does the two-step PUT ?op=CREATE (307 to a
 * datanode); adls does PUT ?resource=file, PATCH ?action=append&position=,
 * PATCH ?action=flush&position= with an AAD token for storage.
 */
#ifndef JOBFS_ARTIFACT_H
#define JOBFS_ARTIFACT_H

#include <stddef.h>

#include <jansson.h>

#include "call.h"

struct artifact_store;

int artifact_store_open(const json_t *fields, const char *platform_name,
			struct artifact_store **out, char *err, size_t errlen);

/*
 * Uploads the local file @path as @name (relative, e.g. "etl.42/main.py");
 * *url_out (new string) is the URL the cluster reads it by (file://,
 * hdfs://, abfss://).
 */
int artifact_put(struct artifact_store *a, struct call *c, const char *path,
		 const char *name, char **url_out);

void artifact_store_free(struct artifact_store *a);

#endif
