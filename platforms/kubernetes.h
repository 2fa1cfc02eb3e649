/*
 * The Kubernetes platform ("kind": "kubernetes"): each run is one
 * batch/v1 Job in one namespace.
 *
 * Platform config: "url" (the API server, e.g. https://k8s:6443),
 * "namespace" ("default"), "token_file" or "token_env" (a bearer token,
 * e.g. a service account's) and "ca_file" (the cluster CA); or
 * "kubeconfig" (a path) with an optional "context", which gives the
 * server, CA, token or client certificate and namespace (the fields above
 * override it). "bundle_limit" (bytes, 1048576): the largest bundle shipped
 * as a ConfigMap; "image_pull_timeout" (seconds, 300): how long a pod may
 * wait on ErrImagePull/ImagePullBackOff before the run ends FAILED; and the
 * settings of src/http.h.
 *
 * Job conf: "image" (required), "command" (array of strings),
 * "resources" (the container's, as in the pod spec), "serviceAccountName",
 * "backoffLimit" (0: jobfs retries itself), "ttlSecondsAfterFinished".
 */
#ifndef JOBFS_KUBERNETES_H
#define JOBFS_KUBERNETES_H

#include "platform_ops.h"

extern const struct platform_ops kubernetes_platform;

#endif
