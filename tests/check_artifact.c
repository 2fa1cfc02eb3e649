/*
 * Artifact stores and Azure AD tokens against the emulators in
 * tests/emulators/ (webhdfs.py, aad.py, adls.py): uploads are read back
 * from the emulator, requests are counted there, and the error paths
 * (config, credentials, refusals, injected faults) are checked too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "aad.h"
#include "artifact.h"
#include "check_main.h"
#include "clock.h"
#include "emulator.h"
#include "fsutil.h"
#include "http.h"
#include "secret.h"

#define SECRET_ENV	    "CHECK_ARTIFACT_AAD_SECRET"
#define ARTIFACT_TEST_SCOPE "https://storage.azure.com/.default"

static struct emulator hdfs, aad_em, adls;
static char dir[64];

static void servers_up(void)
{
	ck_assert_int_eq(emulator_start(&hdfs, "webhdfs.py", NULL), 0);
	ck_assert_int_eq(emulator_start(&aad_em, "aad.py", NULL), 0);
	char aad_url[64];
	snprintf(aad_url, sizeof(aad_url), "http://127.0.0.1:%d", aad_em.port);
	const char *args[] = {"--aad-url", aad_url,	   "--filesystem",
			      "data",	   "--filesystem", "ws1",
			      NULL};
	ck_assert_int_eq(emulator_start(&adls, "adls.py", args), 0);
}

static void servers_down(void)
{
	emulator_stop(&adls);
	emulator_stop(&aad_em);
	emulator_stop(&hdfs);
}

static void dir_up(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_artifact.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv(SECRET_ENV, "s3cret", 1);
}

static void dir_down(void)
{
	fsutil_rm_rf(dir);
}

static struct call call_in(double seconds)
{
	struct call c = {.deadline = clock_mono() + seconds};
	return c;
}

/* A local file dir/@name of @len bytes (a repeating pattern). */
static const char *local_file(const char *name, size_t len)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *data = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		data[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	ck_assert_int_eq(fsutil_write_atomic(path, data, len, 0640), 0);
	free(data);
	return path;
}

static bool same_as_file(const char *path, const char *data, size_t len)
{
	char *want;
	size_t want_len;
	ck_assert_int_eq(fsutil_read_all(path, 1 << 30, &want, &want_len), 0);
	bool same = want_len == len && memcmp(want, data, len) == 0;
	free(want);
	return same;
}

static struct http *client(void)
{
	struct http_settings s = {.name = "test", .max_retries = 0};
	struct http *h;
	ck_assert_int_eq(http_new(&s, &h), 0);
	return h;
}

/* GET @url (with an optional header): status, body in *r. */
static long get(const char *url, const char *header, struct http_response *r)
{
	struct http *h = client();
	struct call c = call_in(5);
	const char *headers[] = {header, NULL};
	struct http_request req = {
	    .method = "GET", .url = url, .headers = headers};
	ck_assert_int_eq(http_do(h, &c, &req, r), 0);
	http_free(h);
	return r->status;
}

static long stat_count(const struct emulator *em, const char *key)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_emulator/stats",
		 em->port);
	struct http_response r;
	ck_assert_int_eq(get(url, NULL, &r), 200);
	json_t *doc = json_loads(r.body, 0, NULL);
	long n = (long)json_integer_value(json_object_get(doc, key));
	json_decref(doc);
	http_response_release(&r);
	return n;
}

/* The next @n requests counted as @on ("PATCH append") answer @code. */
static void inject(const struct emulator *em, const char *on, int n, int code)
{
	struct http *h = client();
	struct call c = call_in(5);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_emulator/faults",
		 em->port);
	json_t *body =
	    json_pack("{s:s,s:i,s:i}", "on", on, "fail_next", n, "code", code);
	ck_assert_int_eq(
	    http_json(h, &c, "POST", url, NULL, body, false, NULL, NULL), 0);
	json_decref(body);
	http_free(h);
}

static struct artifact_store *open_store(json_t *fields)
{
	struct artifact_store *a = NULL;
	char err[256] = "";
	int rc = artifact_store_open(fields, "test", &a, err, sizeof(err));
	ck_assert_msg(rc == 0, "%d %s", rc, err);
	json_decref(fields);
	return a;
}

/* artifact_store_open must fail with -EINVAL and @want in the message. */
static void open_fails(json_t *fields, const char *want)
{
	struct artifact_store *a = NULL;
	char err[256] = "";
	ck_assert_int_eq(
	    artifact_store_open(fields, "test", &a, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\" lacks \"%s\"", err,
		      want);
	json_decref(fields);
}

/* ---- shared_dir ---- */

START_TEST(shared_dir_copies)
{
	char target[128];
	snprintf(target, sizeof(target), "%s/shared", dir);
	struct artifact_store *a = open_store(
	    json_pack("{s:s,s:s}", "kind", "shared_dir", "path", target));
	const char *src = local_file("main.py", 1000);
	struct call c = call_in(5);
	char *url;
	ck_assert_int_eq(artifact_put(a, &c, src, "etl.1/main.py", &url), 0);
	char want[256], dst[256];
	snprintf(want, sizeof(want), "file://%s/etl.1/main.py", target);
	ck_assert_str_eq(url, want);
	free(url);
	snprintf(dst, sizeof(dst), "%s/etl.1/main.py", target);
	char *data;
	size_t len;
	ck_assert_int_eq(fsutil_read_all(dst, 1 << 20, &data, &len), 0);
	ck_assert(same_as_file(src, data, len));
	free(data);
	struct stat st;
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	/* a second upload of the same name replaces the first */
	src = local_file("main.py", 10);
	ck_assert_int_eq(artifact_put(a, &c, src, "etl.1/main.py", &url), 0);
	free(url);
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_int_eq(st.st_size, 10);
	artifact_store_free(a);
}
END_TEST

START_TEST(shared_dir_url_and_refusals)
{
	char target[128];
	snprintf(target, sizeof(target), "%s/shared", dir);
	struct artifact_store *a =
	    open_store(json_pack("{s:s,s:s,s:s}", "kind", "shared_dir", "path",
				 target, "url", "file:///mnt/cluster/jobfs/"));
	struct call c = call_in(5);
	char *url = NULL;
	const char *src = local_file("app.jar", 3);
	ck_assert_int_eq(artifact_put(a, &c, src, "j.2/app.jar", &url), 0);
	ck_assert_str_eq(url, "file:///mnt/cluster/jobfs/j.2/app.jar");
	free(url);
	const char *bad[] = {"../x", "/abs", "a/../b", "", "a//b", "a/", "."};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(artifact_put(a, &c, src, bad[i], &url),
				 -EINVAL);
		ck_assert_msg(strstr(c.err, "is not a relative path") != NULL,
			      "%s", c.err);
	}
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	ck_assert_int_eq(artifact_put(a, &c, missing, "x", &url), -ENOENT);
	ck_assert_msg(strstr(c.err, "cannot copy") != NULL, "%s", c.err);
	artifact_store_free(a);
}
END_TEST

START_TEST(config_errors_name_the_field)
{
	open_fails(json_pack("{s:s}", "kind", "shared_dir"),
		   "field \"artifacts.path\" is required");
	open_fails(json_pack("{s:s,s:s}", "kind", "shared_dir", "path", "rel"),
		   "field \"artifacts.path\": must be an absolute path");
	open_fails(json_pack("{s:s,s:s,s:i}", "kind", "shared_dir", "path",
			     "/x", "bogus", 1),
		   "field \"artifacts.bogus\": unknown field");
	open_fails(json_pack("{s:s}", "kind", "s3"), "unknown kind \"s3\"");
	open_fails(json_pack("{s:s}", "path", "/x"),
		   "field \"artifacts.kind\" is required");
	open_fails(json_pack("[]"), "field \"artifacts\": must be an object");
	open_fails(json_pack("{s:s,s:s,s:s}", "kind", "webhdfs", "url",
			     "http://nn:9870", "path", "/user/j"),
		   "field \"artifacts.fs_url\" is required");
	open_fails(json_pack("{s:s,s:s,s:s,s:s}", "kind", "webhdfs", "url",
			     "hdfs://nn:8020", "path", "/user/j", "fs_url",
			     "x"),
		   "field \"artifacts.url\": must be an http");
	open_fails(json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "webhdfs", "url",
			     "http://nn:9870", "path", "/u", "fs_url",
			     "hdfs://nn", "timeout", "x"),
		   "field \"timeout\"");
	open_fails(json_pack("{s:s,s:s}", "kind", "adls", "url",
			     "https://acct.dfs.core.windows.net"),
		   "field \"artifacts.url\": must be https://");
	open_fails(json_pack("{s:s,s:s,s:s,s:s}", "kind", "adls", "url",
			     "https://a.dfs.core.windows.net/fs", "client_id",
			     "c", "client_secret_env", SECRET_ENV),
		   "field \"tenant_id\"");
	open_fails(json_pack("{s:s,s:s,s:s,s:s}", "kind", "adls", "url",
			     "https://a.dfs.core.windows.net/fs", "tenant_id",
			     "t", "client_id", "c"),
		   "client_secret_env");
	open_fails(json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "adls", "url",
			     "https://a.dfs.core.windows.net/fs", "tenant_id",
			     "t", "client_id", "c", "client_secret_env",
			     SECRET_ENV, "user", "x"),
		   "field \"artifacts.user\": unknown field");
}
END_TEST

/* ---- webhdfs ---- */

static json_t *webhdfs_fields(const char *user)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", hdfs.port);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "kind", "webhdfs", "url",
			 url, "path", "/user/jobfs", "user", user, "fs_url",
			 "hdfs://namenode:8020/", "retries", 2);
}

/* Reads an HDFS file back through OPEN (307 to the datanode). */
static void hdfs_read(const char *hdfs_path, struct http_response *r)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhdfs/v1%s?op=OPEN",
		 hdfs.port, hdfs_path);
	struct http_response redirect;
	ck_assert_int_eq(get(url, NULL, &redirect), 307);
	ck_assert_ptr_nonnull(redirect.location);
	ck_assert_int_eq(get(redirect.location, NULL, r), 200);
	http_response_release(&redirect);
}

START_TEST(webhdfs_uploads_in_two_steps)
{
	struct artifact_store *a = open_store(webhdfs_fields("jobfs"));
	long creates = stat_count(&hdfs, "PUT CREATE");
	long datanode = stat_count(&hdfs, "PUT CREATE datanode");
	const char *src = local_file("main py", 300000);
	struct call c = call_in(5);
	char *url;
	ck_assert_int_eq(artifact_put(a, &c, src, "etl.7/main py", &url), 0);
	ck_assert_str_eq(url, "hdfs://namenode:8020/user/jobfs/etl.7/main py");
	free(url);
	ck_assert_int_eq(stat_count(&hdfs, "PUT CREATE"), creates + 1);
	ck_assert_int_eq(stat_count(&hdfs, "PUT CREATE datanode"),
			 datanode + 1);
	struct http_response r;
	hdfs_read("/user/jobfs/etl.7/main%20py", &r);
	ck_assert(same_as_file(src, r.body, r.body_len));
	http_response_release(&r);
	artifact_store_free(a);
}
END_TEST

START_TEST(webhdfs_refusals_and_faults)
{
	struct artifact_store *a = open_store(webhdfs_fields("mallory"));
	const char *src = local_file("x.py", 10);
	struct call c = call_in(5);
	char *url = NULL;
	ck_assert_int_eq(artifact_put(a, &c, src, "x.py", &url), -EACCES);
	ck_assert_ptr_null(url);
	ck_assert_msg(strstr(c.err, "HTTP 403: Permission denied: "
				    "user=mallory") != NULL,
		      "%s", c.err);
	artifact_store_free(a);

	a = open_store(webhdfs_fields("jobfs"));
	inject(&hdfs, "PUT CREATE datanode", 1, 503);
	c = call_in(5);
	ck_assert_int_eq(artifact_put(a, &c, src, "x.py", &url), 0);
	ck_assert_int_eq(c.retries, 1);
	free(url);
	artifact_store_free(a);
}
END_TEST

/* ---- aad ---- */

static json_t *aad_fields(const char *tenant)
{
	char authority[64];
	snprintf(authority, sizeof(authority), "http://127.0.0.1:%d/",
		 aad_em.port);
	return json_pack("{s:s,s:s,s:s,s:s}", "tenant_id", tenant, "client_id",
			 "client-1", "client_secret_env", SECRET_ENV,
			 "authority", authority);
}

static long token_requests(void)
{
	return stat_count(&aad_em, "POST /tenant-1/oauth2/v2.0/token");
}

static struct aad *new_aad(struct http *h, const char *tenant)
{
	struct aad *a;
	char err[256] = "";
	json_t *f = aad_fields(tenant);
	ck_assert_msg(
	    aad_new(f, ARTIFACT_TEST_SCOPE, h, &a, err, sizeof(err)) == 0, "%s",
	    err);
	json_decref(f);
	return a;
}

START_TEST(aad_token_is_cached)
{
	struct http *h = client();
	struct aad *a = new_aad(h, "tenant-1");
	long before = token_requests();
	struct call c = call_in(5);
	char *t1, *t2;
	ck_assert_int_eq(aad_token(a, &c, &t1), 0);
	ck_assert_int_eq(aad_token(a, &c, &t2), 0);
	ck_assert_str_eq(t1, t2);
	ck_assert_int_eq(strncmp(t1, "eyJ", 3), 0);
	ck_assert_int_eq(token_requests(), before + 1);
	secret_free(t1);
	secret_free(t2);
	aad_free(a);
	http_free(h);
}
END_TEST

struct token_worker {
	struct aad *aad;
	int rc;
};

static void *token_work(void *arg)
{
	struct token_worker *w = arg;
	struct call c = call_in(5);
	char *token = NULL;
	w->rc = aad_token(w->aad, &c, &token);
	secret_free(token);
	return NULL;
}

START_TEST(aad_fetch_is_single_flight)
{
	struct http *h = client();
	struct aad *a = new_aad(h, "tenant-1");
	long before = token_requests();
	pthread_t t[8];
	struct token_worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct token_worker){.aad = a, .rc = 1};
		pthread_create(&t[i], NULL, token_work, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].rc, 0);
	}
	ck_assert_int_eq(token_requests(), before + 1);
	aad_free(a);
	http_free(h);
}
END_TEST

START_TEST(aad_refusals)
{
	struct http *h = client();
	struct call c = call_in(5);
	char *token = NULL;
	setenv(SECRET_ENV, "wrong", 1);
	struct aad *a = new_aad(h, "tenant-1");
	ck_assert_int_eq(aad_token(a, &c, &token), -EACCES);
	ck_assert_ptr_null(token);
	ck_assert_str_eq(c.err,
			 "azure ad: invalid_client: AADSTS7000215: "
			 "Invalid client secret provided. Ensure the "
			 "secret being sent in the request is the client "
			 "secret value, not the client secret ID.");
	aad_free(a);
	setenv(SECRET_ENV, "s3cret", 1);
	a = new_aad(h, "nobody");
	ck_assert_int_eq(aad_token(a, &c, &token), -EACCES);
	ck_assert_str_eq(c.err, "azure ad: invalid_request: AADSTS90002: "
				"Tenant 'nobody' not found.");
	aad_free(a);

	json_t *f = aad_fields("t");
	json_object_del(f, "client_secret_env");
	char err[256] = "";
	ck_assert_int_eq(
	    aad_new(f, ARTIFACT_TEST_SCOPE, h, &a, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "\"client_secret_env\" or "
				  "\"client_secret_file\"") != NULL,
		      "%s", err);
	json_object_set_new(f, "client_secret_env", json_string(SECRET_ENV));
	json_object_set_new(f, "authority", json_string("ftp://x"));
	ck_assert_int_eq(
	    aad_new(f, ARTIFACT_TEST_SCOPE, h, &a, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "field \"authority\"") != NULL, "%s", err);
	json_decref(f);
	http_free(h);
}
END_TEST

/* ---- adls ---- */

static json_t *adls_fields(const char *url_path, const char *path)
{
	char url[128], authority[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", adls.port,
		 url_path);
	snprintf(authority, sizeof(authority), "http://127.0.0.1:%d",
		 aad_em.port);
	json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i}", "kind", "adls",
			      "url", url, "tenant_id", "tenant-1", "client_id",
			      "client-1", "client_secret_env", SECRET_ENV,
			      "authority", authority, "retries", 2);
	if (path)
		json_object_set_new(f, "path", json_string(path));
	return f;
}

/* GET of an ADLS file with a fresh storage token. */
static void adls_read(const char *url_path, struct http_response *r)
{
	struct http *h = client();
	struct aad *a = new_aad(h, "tenant-1");
	struct call c = call_in(5);
	char *token, header[512], url[256];
	ck_assert_int_eq(aad_token(a, &c, &token), 0);
	snprintf(header, sizeof(header), "Authorization: Bearer %s", token);
	secret_free(token);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", adls.port,
		 url_path);
	struct http_request req = {
	    .method = "GET",
	    .url = url,
	    .headers =
		(const char *[]){header, "x-ms-version: 2021-06-08", NULL}};
	ck_assert_int_eq(http_do(h, &c, &req, r), 0);
	ck_assert_int_eq(r->status, 200);
	aad_free(a);
	http_free(h);
}

START_TEST(adls_uploads_in_chunks)
{
	struct artifact_store *a = open_store(adls_fields("/data", "jobfs/"));
	long creates = stat_count(&adls, "PUT resource=file");
	long appends = stat_count(&adls, "PATCH append");
	long flushes = stat_count(&adls, "PATCH flush");
	size_t len = (9u << 20) + 123;
	const char *src = local_file("big.jar", len);
	struct call c = call_in(10);
	char *url;
	ck_assert_int_eq(artifact_put(a, &c, src, "etl.3/big.jar", &url), 0);
	char want[128];
	snprintf(want, sizeof(want),
		 "abfss://data@127.0.0.1:%d/jobfs/etl.3/big.jar", adls.port);
	ck_assert_str_eq(url, want);
	free(url);
	ck_assert_int_eq(stat_count(&adls, "PUT resource=file"), creates + 1);
	ck_assert_int_eq(stat_count(&adls, "PATCH append"), appends + 3);
	ck_assert_int_eq(stat_count(&adls, "PATCH flush"), flushes + 1);
	struct http_response r;
	adls_read("/data/jobfs/etl.3/big.jar", &r);
	ck_assert(same_as_file(src, r.body, r.body_len));
	http_response_release(&r);
	artifact_store_free(a);
}
END_TEST

START_TEST(adls_onelake_layout_and_empty_files)
{
	/* OneLake: https://onelake.dfs.fabric.microsoft.com/WORKSPACE/ITEM */
	struct artifact_store *a =
	    open_store(adls_fields("/ws1/item.Lakehouse/Files", NULL));
	long appends = stat_count(&adls, "PATCH append");
	const char *src = local_file("empty.py", 0);
	struct call c = call_in(5);
	char *url;
	ck_assert_int_eq(artifact_put(a, &c, src, "e.1/empty.py", &url), 0);
	char want[128];
	snprintf(want, sizeof(want),
		 "abfss://ws1@127.0.0.1:%d/item.Lakehouse/Files/e.1/empty.py",
		 adls.port);
	ck_assert_str_eq(url, want);
	free(url);
	ck_assert_int_eq(stat_count(&adls, "PATCH append"), appends);
	struct http_response r;
	adls_read("/ws1/item.Lakehouse/Files/e.1/empty.py", &r);
	ck_assert_int_eq(r.body_len, 0);
	http_response_release(&r);
	artifact_store_free(a);
}
END_TEST

START_TEST(adls_errors)
{
	const char *src = local_file("x.py", 100);
	struct call c = call_in(5);
	char *url = NULL;
	/* no such filesystem */
	struct artifact_store *a = open_store(adls_fields("/nofs", NULL));
	ck_assert_int_eq(artifact_put(a, &c, src, "x.py", &url), -ENOENT);
	ck_assert_str_eq(c.err, "HTTP 404: The specified filesystem does not "
				"exist.");
	artifact_store_free(a);
	/* a refused secret: no storage request at all */
	setenv(SECRET_ENV, "wrong", 1);
	a = open_store(adls_fields("/data", NULL));
	long creates = stat_count(&adls, "PUT resource=file");
	c = call_in(5);
	ck_assert_int_eq(artifact_put(a, &c, src, "x.py", &url), -EACCES);
	ck_assert_ptr_null(url);
	ck_assert_msg(
	    strstr(c.err, "azure ad: invalid_client: AADSTS7000215") == c.err,
	    "%s", c.err);
	ck_assert_int_eq(stat_count(&adls, "PUT resource=file"), creates);
	artifact_store_free(a);
}
END_TEST

START_TEST(adls_create_is_retried_append_is_not)
{
	struct artifact_store *a = open_store(adls_fields("/data", NULL));
	const char *src = local_file("y.py", 100);
	struct call c = call_in(5);
	char *url = NULL;
	inject(&adls, "PUT resource=file", 1, 503);
	ck_assert_int_eq(artifact_put(a, &c, src, "y.py", &url), 0);
	ck_assert_int_eq(c.retries, 1);
	free(url);
	url = NULL;
	long appends = stat_count(&adls, "PATCH append");
	long flushes = stat_count(&adls, "PATCH flush");
	inject(&adls, "PATCH append", 1, 503);
	c = call_in(5);
	ck_assert_int_eq(artifact_put(a, &c, src, "y.py", &url), -EAGAIN);
	ck_assert_ptr_null(url);
	ck_assert_str_eq(c.err, "HTTP 503: Operations per second is over the "
				"account limit.");
	ck_assert_int_eq(c.retries, 0);
	ck_assert_int_eq(stat_count(&adls, "PATCH append"), appends + 1);
	ck_assert_int_eq(stat_count(&adls, "PATCH flush"), flushes);
	artifact_store_free(a);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("artifact");
	TCase *tc = tcase_create("stores");
	tcase_add_unchecked_fixture(tc, servers_up, servers_down);
	tcase_add_checked_fixture(tc, dir_up, dir_down);
	tcase_add_test(tc, shared_dir_copies);
	tcase_add_test(tc, shared_dir_url_and_refusals);
	tcase_add_test(tc, config_errors_name_the_field);
	tcase_add_test(tc, webhdfs_uploads_in_two_steps);
	tcase_add_test(tc, webhdfs_refusals_and_faults);
	tcase_add_test(tc, aad_token_is_cached);
	tcase_add_test(tc, aad_fetch_is_single_flight);
	tcase_add_test(tc, aad_refusals);
	tcase_add_test(tc, adls_uploads_in_chunks);
	tcase_add_test(tc, adls_onelake_layout_and_empty_files);
	tcase_add_test(tc, adls_errors);
	tcase_add_test(tc, adls_create_is_retried_append_is_not);
	suite_add_tcase(s, tc);
	int rc = check_main_run(s);
	curl_global_cleanup();
	return rc;
}
