/*
 * Artifact stores: a table of kinds, each with its allowed fields, an open
 * and a put. open never touches the network (the platform's open must not
 * block); only put does, within the call's deadline.
 *
 * shared_dir copies to a temporary name next to the target and renames,
 * so a cluster never reads half a file. webhdfs follows the namenode's
 * 307 by hand: libcurl would resend the body to the namenode first, and
 * the datanode URL is the only one that takes data. adls sends at most
 * ARTIFACT_CHUNK bytes per append; appends are not idempotent (a repeated
 * append at a position already written fails), the create and the flush
 * are.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "message.h"
#include "aad.h"
#include "artifact.h"
#include "fsutil.h"
#include "http.h"
#include "log.h"
#include "secret.h"

#define ARTIFACT_CHUNK	    (4 << 20)
#define ARTIFACT_MAX_SIZE   (1UL << 30) /* a webhdfs upload is sent whole */
#define ARTIFACT_SCOPE	    "https://storage.azure.com/.default"
#define ARTIFACT_MS_VERSION "x-ms-version: 2021-06-08"

struct artifact_store {
	const struct artifact_kind *kind;
	char *path;	/* shared_dir: the directory; webhdfs: HDFS directory;
			   adls: prefix inside the filesystem (may be "") */
	char *url;	/* shared_dir: URL of path; webhdfs: namenode; adls:
			   https://HOST/FILESYSTEM[/...] */
	char *user;	/* webhdfs user.name, or NULL */
	char *read_url; /* webhdfs fs_url; adls abfss://FILESYSTEM@HOST[/...] */
	struct http *http;
	struct aad *aad;
};

struct artifact_kind {
	const char *name;
	const char *const *fields;
	int (*open)(struct artifact_store *a, const json_t *fields,
		    const char *platform_name, char *err, size_t errlen);
	int (*put)(struct artifact_store *a, struct call *c, const char *path,
		   const char *name, char **url_out);
};

/* ---- fields ---- */

/* A copy of @key without trailing slashes; NULL field is -ENOENT. */
static int string_field(const json_t *fields, const char *key, char **out,
			char *err, size_t errlen)
{
	const json_t *v = json_object_get(fields, key);
	if (!v)
		return -ENOENT;
	const char *s = json_string_value(v);
	if (!s || !*s) {
		snprintf(err, errlen,
			 "field \"artifacts.%s\": must be a non-empty string",
			 key);
		return -EINVAL;
	}
	size_t len = strlen(s);
	while (len > 1 && s[len - 1] == '/')
		len--;
	*out = strndup(s, len);
	return *out ? 0 : -ENOMEM;
}

static int required(const json_t *fields, const char *key, char **out,
		    char *err, size_t errlen)
{
	int rc = string_field(fields, key, out, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "field \"artifacts.%s\" is required",
			 key);
	return rc == -ENOENT ? -EINVAL : rc;
}

static bool is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int check_fields(const json_t *fields, const char *const *allowed,
			char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)fields, key, value)
	{
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i]) {
			snprintf(err, errlen,
				 "field \"artifacts.%s\": unknown field", key);
			return -EINVAL;
		}
	}
	return 0;
}

/* @error_text (may be NULL): the store's error bodies (http.h). */
static int http_open(struct artifact_store *a, const json_t *fields,
		     const char *platform_name,
		     int (*error_text)(const char *, size_t, char *, size_t),
		     char *err, size_t errlen)
{
	struct http_settings s;
	char why[200];
	int rc = http_settings_from_json(fields, platform_name, &s, why,
					 sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "artifacts: %s", why);
		return rc;
	}
	s.error_text = error_text;
	return http_new(&s, &a->http);
}

/* "a b/c" → "a%20b/c": each segment escaped, the slashes kept. */
static char *escape_path(const char *path)
{
	size_t cap = strlen(path) * 3 + 1;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		char *segment = strndup(p, n);
		char *escaped =
		    segment ? curl_easy_escape(NULL, segment, 0) : NULL;
		free(segment);
		if (!escaped) {
			free(out);
			return NULL;
		}
		strncat(out, escaped, cap - strlen(out) - 1);
		curl_free(escaped);
		p += n;
		if (*p == '/') {
			strncat(out, "/", cap - strlen(out) - 1);
			p++;
		}
	}
	return out;
}

/* ---- shared_dir ---- */

static const char *const shared_fields[] = {"kind", "path", "url", NULL};

static int shared_open(struct artifact_store *a, const json_t *fields,
		       const char *platform_name, char *err, size_t errlen)
{
	int rc = required(fields, "path", &a->path, err, errlen);
	if (rc == 0 && a->path[0] != '/') {
		snprintf(err, errlen,
			 "field \"artifacts.path\": must be an absolute path");
		return -EINVAL;
	}
	if (rc == 0)
		rc = string_field(fields, "url", &a->url, err, errlen);
	if (rc == -ENOENT)
		rc = asprintf(&a->url, "file://%s", a->path) < 0 ? -ENOMEM : 0;
	return rc;
}

static int shared_copy(const char *src, const char *dst)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%lu", dst, (int)getpid(),
			 (unsigned long)pthread_self());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fsutil_rm_rf(tmp);
	int rc = fsutil_copy_tree(src, tmp);
	if (rc == 0 && rename(tmp, dst) < 0) {
		rc = -errno;
		fsutil_rm_rf(tmp);
	}
	return rc;
}

static int shared_put(struct artifact_store *a, struct call *c,
		      const char *path, const char *name, char **url_out)
{
	char *dst, *dir;
	if (asprintf(&dst, "%s/%s", a->path, name) < 0)
		return -ENOMEM;
	dir = strdup(dst);
	int rc = dir ? 0 : -ENOMEM;
	if (rc == 0) {
		*strrchr(dir, '/') = '\0';
		rc = fsutil_mkdir_p(dir, 0755);
	}
	if (rc == 0)
		rc = shared_copy(path, dst);
	char text[128];
	if (rc < 0)
		message_call_fail(c, rc, "cannot copy \"%s\" to \"%s\": %s",
				  path, dst,
				  message_strerror(rc, text, sizeof(text)));
	free(dir);
	free(dst);
	if (rc == 0 && asprintf(url_out, "%s/%s", a->url, name) < 0)
		rc = -ENOMEM;
	return rc;
}

/* ---- webhdfs ---- */

static const char *const webhdfs_fields[] = {"kind",
					     "url",
					     "path",
					     "user",
					     "fs_url",
					     "timeout",
					     "connect_timeout",
					     "retries",
					     "ca_file",
					     NULL};

/* WebHDFS's error body: {"RemoteException": {..., "message": "..."}}. */
static int webhdfs_error_text(const char *body, size_t len, char *out,
			      size_t outlen)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	const json_t *e = json_object_get(doc, "RemoteException");
	const char *msg = json_string_value(json_object_get(e, "message"));
	int rc = msg && *msg ? 0 : -ENOENT;
	if (rc == 0)
		snprintf(out, outlen, "%s", msg);
	json_decref(doc);
	return rc;
}

static int webhdfs_open(struct artifact_store *a, const json_t *fields,
			const char *platform_name, char *err, size_t errlen)
{
	int rc = required(fields, "url", &a->url, err, errlen);
	if (rc == 0 && !is_http_url(a->url)) {
		snprintf(err, errlen,
			 "field \"artifacts.url\": must be an "
			 "http:// or https:// URL");
		return -EINVAL;
	}
	if (rc == 0)
		rc = required(fields, "path", &a->path, err, errlen);
	if (rc == 0 && a->path[0] != '/') {
		snprintf(err, errlen,
			 "field \"artifacts.path\": must be an absolute path");
		return -EINVAL;
	}
	if (rc == 0)
		rc = required(fields, "fs_url", &a->read_url, err, errlen);
	if (rc == 0)
		rc = string_field(fields, "user", &a->user, err, errlen);
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0)
		rc = http_open(a, fields, platform_name, webhdfs_error_text,
			       err, errlen);
	return rc;
}

/* The namenode's ?op=CREATE URL of @name. */
static int webhdfs_create_url(const struct artifact_store *a, const char *name,
			      char **out)
{
	char *full = NULL, *path = NULL, *user = NULL;
	int rc = -ENOMEM;
	if (asprintf(&full, "%s/%s", a->path, name) < 0)
		full = NULL;
	path = full ? escape_path(full) : NULL;
	user = a->user ? http_escape(a->user) : NULL;
	if (path && (user || !a->user) &&
	    asprintf(out, "%s/webhdfs/v1%s?op=CREATE&overwrite=true%s%s",
		     a->url, path, user ? "&user.name=" : "",
		     user ? user : "") >= 0)
		rc = 0;
	free(full);
	free(path);
	free(user);
	return rc;
}

/* A PUT whose answer must be @want; the answer is left in @r. */
static int put_expect(struct http *h, struct call *c, struct http_request *req,
		      long want, struct http_response *r)
{
	int rc = http_do(h, c, req, r);
	if (rc < 0)
		return rc;
	if (r->status == want)
		return 0;
	rc = http_check_status(h, c, r);
	if (rc == 0)
		rc = message_call_fail(c, -EPROTO,
				       "unexpected HTTP %ld (wanted %ld)",
				       r->status, want);
	http_response_release(r);
	return rc;
}

static int webhdfs_send(struct artifact_store *a, struct call *c,
			const char *create_url, const char *data, size_t len)
{
	struct http_request req = {
	    .method = "PUT", .url = create_url, .idempotent = true};
	struct http_response r;
	int rc = put_expect(a->http, c, &req, 307, &r);
	if (rc < 0)
		return rc;
	char *datanode = r.location;
	r.location = NULL;
	http_response_release(&r);
	if (!datanode)
		return message_call_fail(c, -EPROTO,
					 "webhdfs: 307 without a Location");
	const char *headers[] = {"Content-Type: application/octet-stream",
				 NULL};
	req = (struct http_request){.method = "PUT",
				    .url = datanode,
				    .headers = headers,
				    .body = data,
				    .body_len = len,
				    .idempotent = true};
	rc = put_expect(a->http, c, &req, 201, &r);
	if (rc == 0)
		http_response_release(&r);
	free(datanode);
	return rc;
}

static int read_local(struct call *c, const char *path, char **data_out,
		      size_t *len_out)
{
	int rc = fsutil_read_all(path, ARTIFACT_MAX_SIZE, data_out, len_out);
	char text[128];
	if (rc < 0)
		message_call_fail(c, rc, "cannot read \"%s\": %s", path,
				  message_strerror(rc, text, sizeof(text)));
	return rc;
}

static int webhdfs_put(struct artifact_store *a, struct call *c,
		       const char *path, const char *name, char **url_out)
{
	char *data, *create_url;
	size_t len;
	int rc = read_local(c, path, &data, &len);
	if (rc < 0)
		return rc;
	rc = webhdfs_create_url(a, name, &create_url);
	if (rc == 0) {
		rc = webhdfs_send(a, c, create_url, data, len);
		free(create_url);
	}
	free(data);
	if (rc == 0 &&
	    asprintf(url_out, "%s%s/%s", a->read_url, a->path, name) < 0)
		rc = -ENOMEM;
	return rc;
}

/* ---- adls ---- */

static const char *const adls_fields[] = {"kind",
					  "url",
					  "path",
					  "tenant_id",
					  "client_id",
					  "client_secret_env",
					  "client_secret_file",
					  "authority",
					  "timeout",
					  "connect_timeout",
					  "retries",
					  "ca_file",
					  NULL};

/* https://HOST/FS/rest → abfss://FS@HOST/rest */
static int adls_read_url(const char *url, char **out, char *err, size_t errlen)
{
	const char *host = strstr(url, "://");
	const char *fs = host ? strchr(host + 3, '/') : NULL;
	if (!fs || !is_http_url(url) || fs[1] == '\0') {
		snprintf(err, errlen,
			 "field \"artifacts.url\": must be "
			 "https://ACCOUNT.dfs.core.windows.net/FILESYSTEM");
		return -EINVAL;
	}
	host += 3;
	const char *rest = strchr(fs + 1, '/');
	if (!rest)
		rest = fs + strlen(fs);
	int n = asprintf(out, "abfss://%.*s@%.*s%s", (int)(rest - fs - 1),
			 fs + 1, (int)(fs - host), host, rest);
	return n < 0 ? -ENOMEM : 0;
}

static int adls_open(struct artifact_store *a, const json_t *fields,
		     const char *platform_name, char *err, size_t errlen)
{
	int rc = required(fields, "url", &a->url, err, errlen);
	if (rc == 0)
		rc = adls_read_url(a->url, &a->read_url, err, errlen);
	if (rc == 0)
		rc = string_field(fields, "path", &a->path, err, errlen);
	if (rc == -ENOENT)
		rc = (a->path = strdup("")) ? 0 : -ENOMEM;
	/* ADLS answers {"error": {"message"}}: http.c's generic shape */
	if (rc == 0)
		rc = http_open(a, fields, platform_name, NULL, err, errlen);
	char why[200] = "";
	if (rc == 0)
		rc = aad_new(fields, ARTIFACT_SCOPE, a->http, &a->aad, why,
			     sizeof(why));
	if (why[0])
		snprintf(err, errlen, "artifacts: %s", why);
	return rc;
}

struct adls_put {
	struct artifact_store *a;
	struct call *c;
	const char *file_url; /* https://HOST/FS/path/name, escaped */
	const char *headers[4];
};

static int adls_request(struct adls_put *u, const char *method,
			const char *query, const void *data, size_t len,
			bool idempotent, long want)
{
	char *url;
	if (asprintf(&url, "%s?%s", u->file_url, query) < 0)
		return -ENOMEM;
	struct http_request req = {.method = method,
				   .url = url,
				   .headers = u->headers,
				   .body = data,
				   .body_len = len,
				   .idempotent = idempotent};
	struct http_response r;
	int rc = put_expect(u->a->http, u->c, &req, want, &r);
	if (rc == 0)
		http_response_release(&r);
	free(url);
	return rc;
}

static int adls_append_all(struct adls_put *u, int fd, size_t *total_out)
{
	char *chunk = malloc(ARTIFACT_CHUNK);
	if (!chunk)
		return -ENOMEM;
	size_t pos = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = pread(fd, chunk, ARTIFACT_CHUNK, (off_t)pos);
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		char query[64];
		snprintf(query, sizeof(query), "action=append&position=%zu",
			 pos);
		rc = adls_request(u, "PATCH", query, chunk, (size_t)n, false,
				  202);
		if (rc < 0)
			break;
		pos += (size_t)n;
	}
	free(chunk);
	*total_out = pos;
	return rc;
}

static int adls_upload(struct adls_put *u, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		char text[128];
		return message_call_fail(
		    u->c, rc, "cannot open \"%s\": %s", path,
		    message_strerror(rc, text, sizeof(text)));
	}
	size_t total = 0;
	int rc = adls_request(u, "PUT", "resource=file", NULL, 0, true, 201);
	if (rc == 0)
		rc = adls_append_all(u, fd, &total);
	close(fd);
	char query[64];
	snprintf(query, sizeof(query), "action=flush&position=%zu", total);
	if (rc == 0)
		rc = adls_request(u, "PATCH", query, NULL, 0, true, 200);
	return rc;
}

static int adls_put(struct artifact_store *a, struct call *c, const char *path,
		    const char *name, char **url_out)
{
	char *rel, *escaped = NULL, *file_url = NULL, *token, *auth = NULL;
	if (asprintf(&rel, "%s%s%s", a->path, a->path[0] ? "/" : "", name) < 0)
		return -ENOMEM;
	int rc = aad_token(a->aad, c, &token);
	if (rc == 0 && asprintf(&auth, "Authorization: Bearer %s", token) < 0)
		auth = NULL;
	if (rc == 0)
		secret_free(token);
	escaped = escape_path(rel);
	if (rc == 0 && (!auth || !escaped ||
			asprintf(&file_url, "%s/%s", a->url, escaped) < 0))
		rc = -ENOMEM;
	if (rc == 0) {
		struct adls_put u = {
		    .a = a,
		    .c = c,
		    .file_url = file_url,
		    .headers = {auth, ARTIFACT_MS_VERSION,
				"Content-Type: application/octet-stream",
				NULL}};
		rc = adls_upload(&u, path);
	}
	if (rc == 0 && asprintf(url_out, "%s/%s", a->read_url, rel) < 0)
		rc = -ENOMEM;
	secret_free(auth);
	free(file_url);
	free(escaped);
	free(rel);
	return rc;
}

/* ---- the store ---- */

static const struct artifact_kind artifact_kinds[] = {
    {"shared_dir", shared_fields, shared_open, shared_put},
    {"webhdfs", webhdfs_fields, webhdfs_open, webhdfs_put},
    {"adls", adls_fields, adls_open, adls_put},
};

static const struct artifact_kind *find_kind(const json_t *fields, char *err,
					     size_t errlen)
{
	const char *kind = json_string_value(json_object_get(fields, "kind"));
	size_t n = sizeof(artifact_kinds) / sizeof(artifact_kinds[0]);
	for (size_t i = 0; kind && i < n; i++)
		if (strcmp(artifact_kinds[i].name, kind) == 0)
			return &artifact_kinds[i];
	if (kind)
		snprintf(err, errlen,
			 "field \"artifacts.kind\": unknown kind \"%s\" "
			 "(shared_dir, webhdfs or adls)",
			 kind);
	else
		snprintf(err, errlen, "field \"artifacts.kind\" is required");
	return NULL;
}

int artifact_store_open(const json_t *fields, const char *platform_name,
			struct artifact_store **out, char *err, size_t errlen)
{
	if (!json_is_object(fields)) {
		snprintf(err, errlen, "field \"artifacts\": must be an object");
		return -EINVAL;
	}
	const struct artifact_kind *kind = find_kind(fields, err, errlen);
	if (!kind)
		return -EINVAL;
	int rc = check_fields(fields, kind->fields, err, errlen);
	if (rc < 0)
		return rc;
	struct artifact_store *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->kind = kind;
	rc = kind->open(a, fields, platform_name, err, errlen);
	if (rc < 0) {
		artifact_store_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

static bool is_safe_name(const char *name)
{
	if (!*name || name[0] == '/' || name[strlen(name) - 1] == '/')
		return false;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n + (p[n] == '/');
	}
	return true;
}

int artifact_put(struct artifact_store *a, struct call *c, const char *path,
		 const char *name, char **url_out)
{
	if (!is_safe_name(name))
		return message_call_fail(
		    c, -EINVAL,
		    "artifact name \"%s\" is not a relative "
		    "path",
		    name);
	int rc = a->kind->put(a, c, path, name, url_out);
	if (rc == 0)
		log_debug("artifact \"%s\" stored as %s", name, *url_out);
	return rc;
}

void artifact_store_free(struct artifact_store *a)
{
	if (!a)
		return;
	aad_free(a->aad);
	http_free(a->http);
	free(a->path);
	free(a->url);
	free(a->user);
	free(a->read_url);
	free(a);
}
