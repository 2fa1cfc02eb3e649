/*
 * The Kubernetes platform without an API server: Job names from run keys,
 * states from Job and Pod objects, the Job body, and the kubeconfig
 * reader (contexts, relative paths, base64 data, refused features, file
 * permissions). Everything that talks to an API server is tested against
 * tests/emulators/kubernetes.py in tests/fs/kubernetes.test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "kubeconfig.h"
#include "kubernetes.h"
#include "kubernetes_wire.h"

static char tmpdir[] = "/tmp/check_kubernetes.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* ---- names ---- */

START_TEST(names_plain_keys_stay)
{
	char name[K8S_NAME_MAX + 1];
	k8s_wire_job_name("etl-9", 1, name);
	ck_assert_str_eq(name, "etl-9");
}
END_TEST

START_TEST(names_changed_keys_get_a_hash)
{
	char a[K8S_NAME_MAX + 1], b[K8S_NAME_MAX + 1], c[K8S_NAME_MAX + 1];
	k8s_wire_job_name("Pi.12", 1, a);
	ck_assert_int_eq(strncmp(a, "pi-12-", 6), 0);
	ck_assert_uint_eq(strlen(a), 14);
	k8s_wire_job_name("pi-12", 1, b); /* would collide without the hash */
	ck_assert_str_eq(b, "pi-12");
	k8s_wire_job_name("Pi.12", 2, c);
	ck_assert_int_eq(strncmp(c, "pi-12-a2-", 9), 0);
	ck_assert_str_ne(a, c);
}
END_TEST

START_TEST(names_long_keys_are_shortened)
{
	char key[200], a[K8S_NAME_MAX + 1], b[K8S_NAME_MAX + 1];
	memset(key, 'x', sizeof(key) - 3);
	memcpy(key + sizeof(key) - 3, ".1", 3);
	k8s_wire_job_name(key, 1, a);
	key[sizeof(key) - 2] = '2';
	k8s_wire_job_name(key, 1, b);
	ck_assert_uint_eq(strlen(a), K8S_NAME_MAX);
	ck_assert_str_ne(a, b);
	k8s_wire_job_name("...", 1, a);
	ck_assert_int_eq(strncmp(a, "jobfs-", 6), 0);
}
END_TEST

START_TEST(labels_fall_back_to_the_name)
{
	ck_assert_str_eq(k8s_wire_run_label("pi.3", "n"), "pi.3");
	ck_assert_str_eq(k8s_wire_run_label("pi 3", "n"), "n");
	ck_assert_str_eq(k8s_wire_run_label(".pi", "n"), "n");
}
END_TEST

/* ---- states ---- */

static json_t *parse(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(v);
	return v;
}

START_TEST(status_complete_and_failed)
{
	json_t *job = parse(
	    "{\"status\": {\"startTime\": \"2024-01-02T03:04:05Z\","
	    " \"conditions\": [{\"type\": \"FailureTarget\", \"status\": "
	    "\"True\"}, {\"type\": \"Failed\", \"status\": \"True\","
	    " \"reason\": \"BackoffLimitExceeded\", \"message\": \"Job has "
	    "reached the specified backoff limit\","
	    " \"lastTransitionTime\": \"2024-01-02T03:05:05Z\"}]}}");
	json_t *pod = parse("{\"status\": {\"phase\": \"Failed\","
			    " \"containerStatuses\": [{\"state\": "
			    "{\"terminated\": {\"exitCode\": 3}}}]}}");
	struct run_status st = {0};
	ck_assert_int_eq(k8s_wire_status(job, pod, 0, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_FAILED);
	ck_assert_int_eq(st.exit_code, 3);
	ck_assert_str_eq(st.platform_state, "Failed");
	ck_assert_str_eq(st.error, "BackoffLimitExceeded: Job has reached the "
				   "specified backoff limit (exit code 3)");
	ck_assert(st.started_at == 1704164645.0);
	ck_assert(st.ended_at == 1704164705.0);
	free(st.error);
	json_decref(job);
	job = parse("{\"status\": {\"conditions\": [{\"type\": \"Complete\","
		    " \"status\": \"True\"}]}}");
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(k8s_wire_status(job, NULL, 0, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_SUCCEEDED);
	ck_assert_int_eq(st.exit_code, -1);
	ck_assert_ptr_null(st.error);
	json_decref(job);
	json_decref(pod);
}
END_TEST

START_TEST(status_active_pending_and_false_conditions)
{
	json_t *job =
	    parse("{\"status\": {\"active\": 1, \"conditions\": [{\"type\":"
		  " \"Failed\", \"status\": \"False\"}]}}");
	json_t *running = parse("{\"status\": {\"phase\": \"Running\"}}");
	json_t *pending = parse("{\"status\": {\"phase\": \"Pending\"}}");
	struct run_status st = {0};
	ck_assert_int_eq(k8s_wire_status(job, running, 0, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_RUNNING);
	ck_assert_int_eq(k8s_wire_status(job, pending, 0, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_QUEUED);
	ck_assert_int_eq(k8s_wire_status(job, NULL, 0, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_RUNNING); /* active, no pod seen */
	json_decref(job);
	json_decref(running);
	json_decref(pending);
}
END_TEST

START_TEST(status_image_pull)
{
	json_t *job = parse("{\"status\": {\"active\": 1}}");
	json_t *pod = parse(
	    "{\"metadata\": {\"creationTimestamp\": \"2024-01-02T03:04:05Z\"},"
	    " \"status\": {\"phase\": \"Pending\", \"containerStatuses\": "
	    "[{\"state\": {\"waiting\": {\"reason\": \"ImagePullBackOff\","
	    " \"message\": \"Back-off pulling image \\\"x\\\"\"}}}]}}");
	struct run_status st = {0};
	ck_assert_int_eq(k8s_wire_status(job, pod, 1704164645.0 + 10, 300, &st),
			 0);
	ck_assert_int_eq(st.state, RUN_QUEUED);
	ck_assert_str_eq(st.platform_state, "ImagePullBackOff");
	free(st.error);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(
	    k8s_wire_status(job, pod, 1704164645.0 + 300, 300, &st), 0);
	ck_assert_int_eq(st.state, RUN_FAILED);
	ck_assert_str_eq(st.error, "image pull failed (ImagePullBackOff): "
				   "Back-off pulling image \"x\"");
	free(st.error);
	json_decref(job);
	json_decref(pod);
}
END_TEST

START_TEST(newest_pod_of_a_job)
{
	json_t *pods = parse(
	    "{\"items\": [{\"metadata\": {\"name\": \"a\", \"labels\": "
	    "{\"batch.kubernetes.io/job-name\": \"j\"}, \"creationTimestamp\":"
	    " \"2024-01-02T03:04:05Z\"}}, {\"metadata\": {\"name\": \"b\","
	    " \"labels\": {\"job-name\": \"j\"}, \"creationTimestamp\": "
	    "\"2024-01-02T03:04:06Z\"}}, {\"metadata\": {\"name\": \"c\","
	    " \"labels\": {\"job-name\": \"k\"}, \"creationTimestamp\": "
	    "\"2024-01-02T03:04:07Z\"}}]}");
	const json_t *pod = k8s_wire_pod_of(pods, "j");
	ck_assert_str_eq(json_string_value(json_object_get(
			     json_object_get(pod, "metadata"), "name")),
			 "b");
	ck_assert_ptr_null(k8s_wire_pod_of(pods, "z"));
	json_decref(pods);
}
END_TEST

/* ---- the Job ---- */

START_TEST(job_body)
{
	json_t *conf =
	    parse("{\"image\": \"python:3.12\", \"backoffLimit\": 2}");
	json_t *args = parse("[\"a\"]"), *env = parse("{\"K\": \"v\"}");
	struct run_spec run = {.run_key = "Pi.1",
			       .entry_point = "/opt/x",
			       .args = args,
			       .env = env,
			       .conf = conf,
			       .attempt = 1};
	struct k8s_job job;
	char err[256];
	ck_assert_int_eq(k8s_wire_parse_job(&run, 1024, &job, err, sizeof(err)),
			 0);
	json_t *body = k8s_wire_job(&run, &job);
	ck_assert_ptr_nonnull(body);
	char *text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_ptr_nonnull(strstr(text, "\"backoffLimit\":2"));
	ck_assert_ptr_nonnull(strstr(text, "\"restartPolicy\":\"Never\""));
	ck_assert_ptr_nonnull(strstr(text, "\"command\":[\"/opt/x\"]"));
	ck_assert_ptr_nonnull(
	    strstr(text, "\"env\":[{\"name\":\"K\",\"value\":\"v\"}]"));
	ck_assert_ptr_nonnull(strstr(text, "\"jobfs.run\":\"Pi.1\""));
	ck_assert(k8s_wire_is_run(body, "Pi.1", 1));
	ck_assert(!k8s_wire_is_run(body, "Pi.1", 2));
	ck_assert(!k8s_wire_is_run(body, "Pi.10", 1));
	free(text);
	json_decref(body);
	k8s_wire_job_release(&job);
	json_object_set_new(conf, "backoffLimit", json_string("2"));
	ck_assert_int_eq(k8s_wire_parse_job(&run, 1024, &job, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "conf.backoffLimit must be a whole number >= 0");
	json_decref(conf);
	json_decref(args);
	json_decref(env);
}
END_TEST

/* ---- kubeconfig ---- */

#define KC_HEAD                                                                \
	"apiVersion: v1\nkind: Config\ncurrent-context: a\n"                   \
	"clusters:\n- name: ca\n  cluster:\n    server: https://a:6443\n"      \
	"    certificate-authority: ca.pem\n"                                  \
	"- name: cb\n  cluster:\n    server: https://b:6443\n"                 \
	"    certificate-authority-data: aGVsbG8gQ0E=\n"                       \
	"contexts:\n- name: a\n  context: {cluster: ca, user: ua}\n"           \
	"- name: b\n  context:\n    cluster: cb\n    user: ub\n"               \
	"    namespace: jobs\n"                                                \
	"users:\n- name: ua\n  user:\n    token: tok-a\n"                      \
	"- name: ub\n  user:\n    client-certificate-data: Y2VydA\n"           \
	"    client-key-data: a2V5\n"

START_TEST(kubeconfig_contexts)
{
	char path[256], err[256], want[256];
	struct kubeconfig kc;
	write_file("config", KC_HEAD, 0600);
	snprintf(path, sizeof(path), "%s/config", tmpdir);
	ck_assert_int_eq(kubeconfig_read(path, NULL, &kc, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://a:6443");
	snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
	ck_assert_str_eq(kc.ca_file, want);
	ck_assert_str_eq(kc.token, "tok-a");
	ck_assert_ptr_null(kc.namespace);
	kubeconfig_release(&kc);
	ck_assert_int_eq(kubeconfig_read(path, "b", &kc, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://b:6443");
	ck_assert_str_eq(kc.ca_pem, "hello CA");
	ck_assert_str_eq(kc.cert_pem, "cert");
	ck_assert_str_eq(kc.key_pem, "key");
	ck_assert_str_eq(kc.namespace, "jobs");
	ck_assert_ptr_null(kc.token);
	kubeconfig_release(&kc);
	ck_assert_int_eq(kubeconfig_read(path, "zz", &kc, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "context \"zz\" not found"));
}
END_TEST

START_TEST(kubeconfig_refusals)
{
	char path[256], err[256];
	struct kubeconfig kc;
	snprintf(path, sizeof(path), "%s/config", tmpdir);
	write_file("config", KC_HEAD, 0644);
	ck_assert_int_eq(kubeconfig_read(path, NULL, &kc, err, sizeof(err)),
			 -EACCES);
	write_file("config",
		   KC_HEAD "- name: ux\n  user:\n    exec: {command: aws}\n"
			   "- name: ui\n  user:\n    token: t\n",
		   0600);
	ck_assert_int_eq(kubeconfig_read(path, NULL, &kc, err, sizeof(err)), 0);
	kubeconfig_release(&kc);
	write_file("config",
		   "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
		   "    insecure-skip-tls-verify: true\n"
		   "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
		   "users:\n- name: u\n  user:\n    exec: {command: aws}\n",
		   0600);
	ck_assert_int_eq(kubeconfig_read(path, "a", &kc, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "insecure-skip-tls-verify"));
	write_file("config", "a: [unclosed\n", 0600);
	ck_assert_int_eq(kubeconfig_read(path, NULL, &kc, err, sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line "));
}
END_TEST

START_TEST(base64_decodes)
{
	char *out = NULL;
	ck_assert_int_eq(kubeconfig_base64("aGk=\n", &out), 0);
	ck_assert_str_eq(out, "hi");
	free(out);
	ck_assert_int_eq(kubeconfig_base64("a*b", &out), -EINVAL);
}
END_TEST

/* ---- open ---- */

/* kubernetes_platform.open of @text (a config object): its result. */
static int open_with(const char *text, char *err, size_t errlen)
{
	json_t *fields = parse(text);
	struct platform_env env = {
	    .name = "k", .state_dir = tmpdir, .fields = fields};
	struct platform *p = NULL;
	int rc = kubernetes_platform.open(&env, &p, err, errlen);
	if (rc == 0)
		kubernetes_platform.close(p);
	json_decref(fields);
	return rc;
}

START_TEST(open_checks_its_fields)
{
	char err[256], text[512];
	write_file("config", KC_HEAD, 0600);
	snprintf(text, sizeof(text),
		 "{\"kind\": \"kubernetes\", \"kubeconfig\": \"%s/config\","
		 " \"context\": \"b\", \"bundle_limit\": 10}",
		 tmpdir);
	ck_assert_int_eq(open_with(text, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    open_with("{\"kind\": \"kubernetes\"}", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "field \"url\": missing"));
	ck_assert_int_eq(open_with("{\"url\": \"ftp://x\"}", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(open_with("{\"url\": \"https://x\", \"context\": "
				   "\"a\"}",
				   err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "field \"context\": needs \"kubeconfig\"");
	ck_assert_int_eq(open_with("{\"url\": \"https://x\", \"namespce\": "
				   "\"a\"}",
				   err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "unknown field \"namespce\"");
	ck_assert_int_eq(open_with("{\"url\": \"https://x\", "
				   "\"image_pull_timeout\": \"5\"}",
				   err, sizeof(err)),
			 -EINVAL);
	write_file("token", "t\n", 0640);
	snprintf(text, sizeof(text),
		 "{\"url\": \"https://x\", \"token_file\": \"%s/token\"}",
		 tmpdir);
	ck_assert_int_eq(open_with(text, err, sizeof(err)), -EACCES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kubernetes");
	TCase *pure = tcase_create("pure");
	tcase_add_test(pure, names_plain_keys_stay);
	tcase_add_test(pure, names_changed_keys_get_a_hash);
	tcase_add_test(pure, names_long_keys_are_shortened);
	tcase_add_test(pure, labels_fall_back_to_the_name);
	tcase_add_test(pure, status_complete_and_failed);
	tcase_add_test(pure, status_active_pending_and_false_conditions);
	tcase_add_test(pure, status_image_pull);
	tcase_add_test(pure, newest_pod_of_a_job);
	tcase_add_test(pure, job_body);
	tcase_add_test(pure, base64_decodes);
	suite_add_tcase(s, pure);
	TCase *kc = tcase_create("kubeconfig");
	tcase_add_checked_fixture(kc, setup, teardown);
	tcase_add_test(kc, kubeconfig_contexts);
	tcase_add_test(kc, kubeconfig_refusals);
	tcase_add_test(kc, open_checks_its_fields);
	suite_add_tcase(s, kc);
	return check_main_run(s);
}
