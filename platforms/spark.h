/*
 * The Spark standalone platform ("kind": "spark"): drivers submitted in
 * cluster mode through a master's REST submission server.
 *
 * Platform config: "url" (the REST server, e.g. http://master:6066),
 * "ui_url" (the master web UI, e.g. http://master:8080: one status request
 * per poll for all drivers, where the workers' web UIs are found, and what
 * find reads to adopt a driver whose create's answer was lost),
 * "worker_ui_port" (8081: a worker's web UI when the master UI does not
 * name it), "spark_version" (clientSparkVersion, "3.5.0"), "token_env" or
 * "token_file" (a bearer token, e.g. for Spark 4's JWSFilter),
 * "artifacts" (src/artifact.h: where a bundle's jar or .py is put for the
 * workers) and the settings of src/http.h.
 *
 * Job conf: "mainClass" (required for a jar), "appResource" or "artifact"
 * (a URL the workers can already read: nothing is uploaded),
 * "sparkProperties" and "environmentVariables" (objects of strings).
 */
#ifndef JOBFS_SPARK_H
#define JOBFS_SPARK_H

#include "platform_ops.h"

extern const struct platform_ops spark_platform;

#endif
