/*
 * The Kubernetes platform's JSON: Job and ConfigMap bodies built from a
 * run, names derived from run keys, and run states read from Job and Pod
 * objects (batch/v1 Job, core/v1 Pod). Pure: no network, no globals; the
 * bundle is read from disk for the ConfigMap.
 */
#ifndef JOBFS_KUBERNETES_WIRE_H
#define JOBFS_KUBERNETES_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "platform_ops.h"

#define K8S_NAME_MAX	 63 /* a DNS-1123 label; Job names become labels */
#define K8S_LABEL_RUN	 "jobfs.run"
#define K8S_ANNOT_KEY	 "jobfs.run/key"
#define K8S_ANNOT_TRY	 "jobfs.run/attempt"
#define K8S_JOB_LABEL	 "batch.kubernetes.io/job-name"
#define K8S_JOB_LABEL_V1 "job-name" /* before Kubernetes 1.27 */
#define K8S_CONTAINER	 "main"
#define K8S_APP_DIR	 "/jobfs/app" /* where a ConfigMap bundle is mounted */

/* What a job's conf asks for, borrowed from its run_spec. */
struct k8s_job {
	const char *image;
	const json_t *command;	 /* array of strings, or NULL */
	const json_t *resources; /* object, or NULL */
	const char *account;	 /* serviceAccountName, or NULL */
	long backoff_limit;	 /* 0 unless given */
	long ttl;		 /* ttlSecondsAfterFinished, -1: none */
	bool in_configmap;	 /* the bundle ships as a ConfigMap */
	json_t *files; /* its paths (array, owned), in key order, or NULL */
	char name[K8S_NAME_MAX + 1]; /* the Job's (and ConfigMap's) */
};

/*
 * Reads run->conf into @job and decides where the code comes from: a
 * bundle of at most @bundle_limit bytes goes into a ConfigMap, a larger
 * one needs conf.command (the image holds the code). -EINVAL with @err.
 */
int k8s_wire_parse_job(const struct run_spec *run, long bundle_limit,
		       struct k8s_job *job, char *err, size_t errlen);

/* Releases what k8s_wire_parse_job() took (job->files). */
void k8s_wire_job_release(struct k8s_job *job);

/*
 * The Job name for attempt @attempt of @run_key: lower case, runs of
 * characters outside [a-z0-9] as one '-', "-aN" for attempts past 1, and
 * an 8-hex hash of the key and attempt appended whenever that changed or
 * shortened the key, so that two keys never share a name.
 */
void k8s_wire_job_name(const char *run_key, int attempt,
		       char out[K8S_NAME_MAX + 1]);

/* The jobfs.run label value: the key when it is a valid label, else @name. */
const char *k8s_wire_run_label(const char *run_key, const char *name);

/* The batch/v1 Job to create; NULL on ENOMEM. */
json_t *k8s_wire_job(const struct run_spec *run, const struct k8s_job *job);

/*
 * The ConfigMap holding the bundle in binaryData (keys f0, f1, ...; the
 * Job's volume maps them back to paths), owned by the Job @job_uid so
 * that it goes with it. -errno with @err.
 */
int k8s_wire_configmap(const struct run_spec *run, const struct k8s_job *job,
		       const char *job_uid, json_t **out, char *err,
		       size_t errlen);

/* Whether Job @obj was made for attempt @attempt of @run_key. */
bool k8s_wire_is_run(const json_t *obj, const char *run_key, int attempt);

/* The newest pod of Job @name among the items of @pods, or NULL. */
const json_t *k8s_wire_pod_of(const json_t *pods, const char *name);

/*
 * The state of Job @job with its newest pod @pod (may be NULL) at @now:
 * conditions Complete/Failed (status "True") end it; a pod waiting on
 * ErrImagePull/ImagePullBackOff shows that reason, and ends the run
 * FAILED once the pod waited @pull_timeout seconds; active -> RUNNING;
 * else QUEUED. out->error is malloc'd.
 */
int k8s_wire_status(const json_t *job, const json_t *pod, double now,
		    double pull_timeout, struct run_status *out);

/* Epoch seconds of an RFC 3339 time ("2024-01-02T03:04:05Z"), 0 if not. */
double k8s_wire_time(const char *s);

#endif
