/*
 * Databricks one-time runs (runs/submit) through the Jobs API 2.1 or 2.2.
 *
 * Auth: a personal access token ("token_env"/"token_file") or OAuth M2M
 * ("client_id" + "client_secret_env"/"client_secret_file"): POST
 * {host}/oidc/v1/token with HTTP basic auth and grant_type=
 * client_credentials&scope=all-apis; the token is cached and fetched again
 * before it expires (five minutes early, or at half its life when short).
 *
 * Upload ("upload": {"kind", "path"}): every file of the bundle goes to
 * PATH/TOKEN/REL, TOKEN being the run's idempotency token (one folder per
 * attempt, so an older run's files are never overwritten): to a Unity
 * Catalog Volume with the Files API (PUT /api/2.0/fs/files/..., the file
 * mapped, not read), to Workspace files (workspace/mkdirs + import, at
 * most 10 MB a file) or to DBFS (create, add-block per 768 KiB read,
 * close). Nothing holds more than one block of a file in memory but the
 * workspace import, whose API takes a file in one piece.
 *
 * The remote id is the run_id. runs/submit carries idempotency_token =
 * run_name = "RUN_KEY[.aN]@TAG" (TAG: this state dir's random mark, since
 * run keys repeat between state dirs), so a submit may be sent again
 * after any failure: Databricks answers the same run_id. find lists the
 * one-time runs and matches run_name.
 *
 * Output: runs/get-output on the task's run id (the parent's is refused).
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "clock.h"
#include "databricks.h"
#include "databricks_wire.h"
#include "fsutil.h"
#include "http.h"
#include "livy_wire.h"
#include "log.h"
#include "secret.h"

#define DBX_LIST_LIMIT	24 /* runs/list: "greater than 0 and less than 25" */
#define DBX_BLOCK	786432	 /* DBFS block read: 1 MiB of base64 */
#define DBX_IMPORT_MAX	10485760 /* workspace/import content limit */
#define DBX_TOKEN_LIFE	3600.0	 /* seconds, when expires_in is missing */
#define DBX_TOKEN_EARLY 300.0	 /* seconds before expiry to refresh */
#define DBX_DEFAULT_API "2.2"
#define DBX_OAUTH_SCOPE "all-apis"

struct dbx {
	struct platform base;
	struct http *http;
	char *host;	    /* https://HOST, no trailing slash */
	char api[8];	    /* "2.1" or "2.2" */
	char *pat;	    /* secret, or NULL */
	char *client_id;    /* OAuth M2M, or NULL */
	char *client_pair;  /* "client_id:client_secret" (secret) */
	char *workspace_id; /* X-Databricks-Workspace-Id header, or NULL */
	enum dbx_upload upload;
	char *upload_path; /* volume/workspace: "/..."; dbfs: "/..." */
	int max_retries;
	char tag[LIVY_WIRE_TAG_LEN + 1];
	pthread_mutex_t lock; /* guards the OAuth token */
	char *oauth_token;    /* secret, or NULL */
	double oauth_refresh; /* clock_mono() after which it is fetched */
};

static struct dbx *dbx_from(struct platform *p)
{
	assert(p && p->ops == &databricks_platform);
	return (struct dbx *)p;
}

static int parse_id(struct call *c, const char *s, long long *id_out)
{
	char *end;
	errno = 0;
	long long id = strtoll(s, &end, 10);
	if (!*s || *end || errno || id < 0)
		return message_call_fail(c, -ENOENT, "invalid run id \"%s\"",
					 s);
	*id_out = id;
	return 0;
}

/* ---- auth ---- */

static int oauth_fetch(struct dbx *d, struct call *c)
{
	static const char form[] =
	    "grant_type=client_credentials&scope=" DBX_OAUTH_SCOPE;
	static const char *const headers[] = {
	    "Content-Type: application/x-www-form-urlencoded", NULL};
	char *url = NULL;
	if (asprintf(&url, "%s/oidc/v1/token", d->host) < 0)
		return -ENOMEM;
	struct http_request req = {.method = "POST",
				   .url = url,
				   .headers = headers,
				   .body = form,
				   .body_len = sizeof(form) - 1,
				   .userpwd = d->client_pair,
				   .idempotent = true};
	struct http_response r;
	int rc = http_do(d->http, c, &req, &r);
	free(url);
	if (rc)
		return rc;
	rc = http_check_status(d->http, c, &r);
	json_t *doc = rc ? NULL : json_loadb(r.body, r.body_len, 0, NULL);
	if (rc == 0) /* the answer holds the token */
		memset(r.body, 0, r.body_len);
	http_response_release(&r);
	const char *tok =
	    json_string_value(json_object_get(doc, "access_token"));
	double life = json_number_value(json_object_get(doc, "expires_in"));
	if (life <= 0) /* not said: Databricks' tokens live an hour */
		life = DBX_TOKEN_LIFE;
	if (rc == 0 && !tok)
		rc = message_call_fail(c, -EPROTO,
				       "OAuth answer without access_token");
	if (rc == 0) {
		secret_free(d->oauth_token);
		d->oauth_token = strdup(tok);
		double early =
		    life / 2 < DBX_TOKEN_EARLY ? life / 2 : DBX_TOKEN_EARLY;
		d->oauth_refresh = clock_mono() + life - early;
		rc = d->oauth_token ? 0 : -ENOMEM;
	}
	if (doc && tok) /* wipe the copy jansson holds */
		memset((char *)tok, 0, strlen(tok));
	json_decref(doc);
	if (rc == -EACCES || rc == -EINVAL) {
		char why[sizeof(c->err)];
		memcpy(why, c->err, sizeof(why));
		rc = message_call_fail(c, -EACCES, "OAuth token refused: %s",
				       why);
	}
	return rc;
}

/* "Authorization: Bearer ..." (a secret: secret_free()). */
static int auth_header(struct dbx *d, struct call *c, char **out)
{
	int rc = 0;
	if (d->pat)
		return asprintf(out, "Authorization: Bearer %s", d->pat) < 0
			   ? -ENOMEM
			   : 0;
	pthread_mutex_lock(&d->lock);
	if (!d->oauth_token || clock_mono() >= d->oauth_refresh)
		rc = oauth_fetch(d, c);
	if (rc == 0 &&
	    asprintf(out, "Authorization: Bearer %s", d->oauth_token) < 0)
		rc = -ENOMEM;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* A 401 with OAuth: the token was revoked or expired early. */
static void auth_refused(struct dbx *d)
{
	pthread_mutex_lock(&d->lock);
	d->oauth_refresh = 0;
	pthread_mutex_unlock(&d->lock);
}

/* ---- requests ---- */

static char *url_printf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *url_printf(const char *fmt, ...)
{
	char *url;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&url, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : url;
}

/* The request headers: auth, workspace id, content type; @auth freed. */
struct dbx_headers {
	char *auth;
	char *ws;
	const char *list[4];
};

static int headers_init(struct dbx *d, struct call *c, const char *ctype,
			struct dbx_headers *h)
{
	size_t n = 0;
	*h = (struct dbx_headers){0};
	int rc = auth_header(d, c, &h->auth);
	if (rc)
		return rc;
	h->list[n++] = h->auth;
	if (d->workspace_id && asprintf(&h->ws, "X-Databricks-Workspace-Id: %s",
					d->workspace_id) >= 0)
		h->list[n++] = h->ws;
	if (ctype)
		h->list[n++] = ctype;
	return 0;
}

static void headers_release(struct dbx_headers *h)
{
	secret_free(h->auth);
	free(h->ws);
}

/*
 * One JSON round trip to @url (taken: freed here). An idempotent call is
 * repeated by http.c on transport errors, 5xx and 429, and here on an
 * answer that is not JSON or a 401 with a cached OAuth token.
 */
static int dbx_call(struct dbx *d, struct call *c, const char *method,
		    char *url, const json_t *body, bool idempotent,
		    json_t **doc_out)
{
	int rc = url ? 0 : -ENOMEM;
	for (int tries = 0; rc == 0; tries++) {
		struct dbx_headers h;
		rc = headers_init(d, c, NULL, &h);
		if (rc == 0)
			rc = http_json(d->http, c, method, url, h.list, body,
				       idempotent, NULL, doc_out);
		headers_release(&h);
		bool again = (rc == -EPROTO && idempotent) ||
			     (rc == -EACCES && !d->pat && tries == 0);
		if (!again || tries >= d->max_retries)
			break;
		if (rc == -EACCES)
			auth_refused(d);
		c->retries++;
		rc = 0;
	}
	free(url);
	return rc;
}

static char *jobs_url(const struct dbx *d, const char *op, const char *q)
{
	return url_printf("%s/api/%s/jobs/%s%s%s", d->host, d->api, op,
			  q ? "?" : "", q ? q : "");
}

/* GET runs/get?run_id=ID; a run Databricks does not know is -ENOENT. */
static int get_run(struct dbx *d, struct call *c, long long id, json_t **run)
{
	char q[64];
	snprintf(q, sizeof(q), "run_id=%lld", id);
	int rc =
	    dbx_call(d, c, "GET", jobs_url(d, "runs/get", q), NULL, true, run);
	if (rc == -EINVAL && strstr(c->err, "does not exist"))
		rc = -ENOENT;
	return rc;
}

static int get_output(struct dbx *d, struct call *c, const json_t *run,
		      json_t **out)
{
	long long task;
	int rc = dbx_wire_task_run_id(run, c, &task);
	char q[64];
	snprintf(q, sizeof(q), "run_id=%lld", task);
	if (rc == 0)
		rc = dbx_call(d, c, "GET", jobs_url(d, "runs/get-output", q),
			      NULL, true, out);
	return rc;
}

/* ---- listing ---- */

/* Called for each listed run; true stops the walk. */
typedef bool (*dbx_visit)(void *ctx, const json_t *run);

static int list_walk(struct dbx *d, struct call *c, bool active_only,
		     dbx_visit visit, void *ctx)
{
	char *page = NULL;
	int rc = 0;
	for (bool stop = false; rc == 0 && !stop;) {
		char *esc = page ? http_escape(page) : NULL;
		char *q = url_printf("run_type=SUBMIT_RUN&limit=%d%s%s%s",
				     DBX_LIST_LIMIT,
				     active_only ? "&active_only=true" : "",
				     esc ? "&page_token=" : "", esc ? esc : "");
		json_t *doc = NULL;
		free(esc);
		rc = q ? dbx_call(d, c, "GET", jobs_url(d, "runs/list", q),
				  NULL, true, &doc)
		       : -ENOMEM;
		free(q);
		size_t i;
		json_t *run;
		json_array_foreach(json_object_get(doc, "runs"), i, run)
		{
			if (!stop)
				stop = visit(ctx, run);
		}
		const char *next =
		    json_string_value(json_object_get(doc, "next_page_token"));
		free(page);
		page = next && *next &&
			       json_is_true(json_object_get(doc, "has_more"))
			   ? strdup(next)
			   : NULL;
		stop = stop || !page;
		json_decref(doc);
	}
	free(page);
	return rc;
}

struct name_find {
	const char *name;
	long long id;
};

static bool name_visit(void *ctx, const json_t *run)
{
	struct name_find *f = ctx;
	const char *name = json_string_value(json_object_get(run, "run_name"));
	if (name && strcmp(name, f->name) == 0) {
		f->id = (long long)json_integer_value(
		    json_object_get(run, "run_id"));
		return true;
	}
	return false;
}

/* ---- upload ---- */

struct dbx_upload_ctx {
	struct dbx *d;
	struct call *c;
	const struct run_spec *run;
	const char *folder; /* upload_path/TOKEN */
	char *entry_url;    /* what the task runs */
	json_t *libs;
};

/* Files API: PUT /api/2.0/fs/files{path}?overwrite=true, the file mapped. */
static int put_volume(struct dbx_upload_ctx *u, const char *local,
		      const char *dest)
{
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = -errno;
		if (fd >= 0)
			close(fd);
		return message_call_fail(u->c, rc, "cannot open \"%s\"", local);
	}
	void *map = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ,
					  MAP_PRIVATE, fd, 0)
				   : NULL;
	close(fd);
	if (map == MAP_FAILED)
		return message_call_fail(u->c, -errno, "cannot map \"%s\"",
					 local);
	char *esc = dbx_wire_escape_path(dest), *url = NULL;
	struct dbx_headers h;
	int rc = headers_init(u->d, u->c,
			      "Content-Type: application/octet-stream", &h);
	if (rc == 0 &&
	    (!esc || !(url = url_printf("%s/api/2.0/fs/files%s?overwrite=true",
					u->d->host, esc))))
		rc = -ENOMEM;
	struct http_request req = {.method = "PUT",
				   .url = url,
				   .headers = h.list,
				   .body = map,
				   .body_len = (size_t)st.st_size,
				   .idempotent = true};
	struct http_response r;
	if (rc == 0)
		rc = http_do(u->d->http, u->c, &req, &r);
	if (rc == 0) {
		rc = http_check_status(u->d->http, u->c, &r);
		http_response_release(&r);
	}
	headers_release(&h);
	free(url);
	free(esc);
	if (map)
		munmap(map, (size_t)st.st_size);
	return rc;
}

static int post_api(struct dbx_upload_ctx *u, const char *op, json_t *body,
		    bool idempotent, json_t **doc_out)
{
	int rc = body ? dbx_call(u->d, u->c, "POST",
				 url_printf("%s/api/2.0/%s", u->d->host, op),
				 body, idempotent, doc_out)
		      : -ENOMEM;
	json_decref(body);
	return rc;
}

static int put_workspace(struct dbx_upload_ctx *u, const char *local,
			 const char *dest)
{
	char *data = NULL, *b64 = NULL, dir[PATH_MAX];
	size_t len;
	int rc = fsutil_read_all(local, DBX_IMPORT_MAX, &data, &len);
	if (rc == -EFBIG)
		return message_call_fail(
		    u->c, -EINVAL,
		    "\"%s\" is over the 10 MB of workspace/import: upload to "
		    "a volume or dbfs",
		    local);
	if (rc)
		return message_call_fail(u->c, rc, "cannot read \"%s\"", local);
	snprintf(dir, sizeof(dir), "%s", dest);
	*strrchr(dir, '/') = '\0';
	rc = post_api(u, "workspace/mkdirs", json_pack("{s:s}", "path", dir),
		      true, NULL);
	b64 = dbx_wire_base64(data, len);
	free(data);
	if (rc == 0)
		rc = post_api(u, "workspace/import",
			      b64 ? json_pack("{s:s,s:s,s:s,s:b}", "path", dest,
					      "content", b64, "format", "AUTO",
					      "overwrite", 1)
				  : NULL,
			      true, NULL);
	free(b64);
	return rc;
}

static int dbfs_blocks(struct dbx_upload_ctx *u, int fd, json_t *handle)
{
	char *block = malloc(DBX_BLOCK);
	int rc = block ? 0 : -ENOMEM;
	for (off_t pos = 0; rc == 0;) {
		ssize_t n = pread(fd, block, DBX_BLOCK, pos);
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		char *b64 = dbx_wire_base64(block, (size_t)n);
		rc = post_api(
		    u, "dbfs/add-block",
		    b64 ? json_pack("{s:O,s:s}", "handle", handle, "data", b64)
			: NULL,
		    false, NULL);
		free(b64);
		pos += n;
	}
	free(block);
	return rc;
}

static int put_dbfs_once(struct dbx_upload_ctx *u, const char *local,
			 const char *dest)
{
	json_t *doc = NULL;
	int fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return message_call_fail(u->c, -errno, "cannot open \"%s\"",
					 local);
	int rc = post_api(u, "dbfs/create",
			  json_pack("{s:s,s:b}", "path", dest, "overwrite", 1),
			  true, &doc);
	json_t *handle = json_object_get(doc, "handle");
	if (rc == 0 && !json_is_integer(handle))
		rc = message_call_fail(u->c, -EPROTO,
				       "dbfs/create without a handle");
	if (rc == 0)
		rc = dbfs_blocks(u, fd, handle);
	if (rc == 0)
		rc =
		    post_api(u, "dbfs/close",
			     json_pack("{s:O}", "handle", handle), false, NULL);
	close(fd);
	json_decref(doc);
	return rc;
}

/* Whether a failed DBFS call may be repaired by starting the file over. */
static bool is_transient(int rc)
{
	return rc == -EIO || rc == -ETIMEDOUT || rc == -ECONNRESET ||
	       rc == -EPROTO || rc == -EAGAIN || rc == -ECONNREFUSED;
}

/*
 * add-block and close are sent once (a repeated block would be written
 * twice, a repeated close finds its handle gone): after a failure the
 * file starts over with a new handle (create overwrites).
 */
static int put_dbfs(struct dbx_upload_ctx *u, const char *local,
		    const char *dest)
{
	int rc = put_dbfs_once(u, local, dest);
	for (int n = 0; is_transient(rc) && n < u->d->max_retries; n++) {
		double delay = 0.25 * (double)(1 << (n < 4 ? n : 4));
		if (u->c->deadline > 0 &&
		    clock_mono() + delay + 1 >= u->c->deadline)
			break;
		struct timespec ts = {
		    .tv_sec = (time_t)delay,
		    .tv_nsec = (long)((delay - (double)(time_t)delay) * 1e9)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		u->c->retries++;
		u->c->err[0] = '\0';
		rc = put_dbfs_once(u, local, dest);
	}
	return rc;
}

/* The path a task names an uploaded @dest by. */
static char *task_path(const struct dbx *d, const char *dest)
{
	if (d->upload == DBX_UP_DBFS)
		return url_printf("dbfs:%s", dest);
	if (d->upload == DBX_UP_WORKSPACE && strncmp(dest, "/Workspace/", 11))
		return url_printf("/Workspace%s", dest);
	return strdup(dest);
}

static int upload_file(struct dbx_upload_ctx *u, const char *local,
		       const char *rel)
{
	char *dest = url_printf("%s/%s", u->folder, rel);
	int rc = dest ? 0 : -ENOMEM;
	if (rc == 0 && u->d->upload == DBX_UP_VOLUME)
		rc = put_volume(u, local, dest);
	else if (rc == 0 && u->d->upload == DBX_UP_WORKSPACE)
		rc = put_workspace(u, local, dest);
	else if (rc == 0)
		rc = put_dbfs(u, local, dest);
	char *path = rc ? NULL : task_path(u->d, dest);
	free(dest);
	if (rc || !path)
		return rc ? rc : -ENOMEM;
	json_t *lib = dbx_wire_library(rel, path);
	if (strcmp(rel, u->run->entry_point) == 0) {
		free(u->entry_url);
		u->entry_url = path;
		path = NULL;
	}
	if (lib && json_array_append_new(u->libs, lib))
		rc = -ENOMEM;
	free(path);
	return rc;
}

/* Uploads every regular file under bundle_dir/@rel ("" the top). */
static int upload_dir(struct dbx_upload_ctx *u, const char *rel)
{
	char dir[PATH_MAX], path[PATH_MAX], sub[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s%s%s", u->run->bundle_dir,
		 *rel ? "/" : "", rel);
	DIR *dh = opendir(dir);
	if (!dh)
		return message_call_fail(u->c, -errno, "cannot read \"%s\"",
					 dir);
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dh))) {
		struct stat st;
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || strcmp(de->d_name, "..") == 0))
			continue;
		int n = snprintf(sub, sizeof(sub), "%s%s%s", rel,
				 *rel ? "/" : "", de->d_name);
		int m = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || m < 0 || (size_t)n >= sizeof(sub) ||
		    (size_t)m >= sizeof(path) || lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = upload_dir(u, sub);
		else if (S_ISREG(st.st_mode))
			rc = upload_file(u, path, sub);
	}
	closedir(dh);
	return rc;
}

static bool is_remote_path(const char *entry)
{
	return entry[0] == '/' || strstr(entry, ":/") != NULL;
}

/* Uploads the bundle (unless the entry point is remote): entry, libs. */
static int upload_bundle(struct dbx_upload_ctx *u)
{
	const char *entry = u->run->entry_point;
	if (is_remote_path(entry)) {
		u->entry_url = strdup(entry);
		json_t *lib = dbx_wire_library(entry, entry);
		if (lib)
			json_array_append_new(u->libs, lib);
		return u->entry_url ? 0 : -ENOMEM;
	}
	int rc = upload_dir(u, "");
	if (rc == 0 && !u->entry_url)
		rc = message_call_fail(u->c, -EINVAL,
				       "entry point \"%s\" not found in bundle",
				       entry);
	return rc;
}

/* ---- open and close ---- */

static int open_host(struct dbx *d, const json_t *f, char *err, size_t len)
{
	const char *host = json_string_value(json_object_get(f, "host"));
	const char *api = json_string_value(json_object_get(f, "api_version"));
	const json_t *ws = json_object_get(f, "workspace_id");
	if (!host ||
	    (strncmp(host, "https://", 8) && strncmp(host, "http://", 7)))
		return message_fail(err, len, -EINVAL,
				    "field \"host\": required, an http(s) URL "
				    "(https://dbc-....cloud.databricks.com)");
	size_t n = strlen(host);
	while (n > 8 && host[n - 1] == '/')
		n--;
	if (!(d->host = strndup(host, n)))
		return -ENOMEM;
	if (json_object_get(f, "api_version") &&
	    (!api || (strcmp(api, "2.1") && strcmp(api, "2.2"))))
		return message_fail(
		    err, len, -EINVAL,
		    "field \"api_version\": \"2.1\" or \"2.2\"");
	snprintf(d->api, sizeof(d->api), "%s", api ? api : DBX_DEFAULT_API);
	if (ws && !json_is_string(ws) && !json_is_integer(ws))
		return message_fail(err, len, -EINVAL,
				    "field \"workspace_id\": a string");
	if (json_is_string(ws))
		d->workspace_id = strdup(json_string_value(ws));
	else if (ws)
		d->workspace_id =
		    url_printf("%lld", (long long)json_integer_value(ws));
	return ws && !d->workspace_id ? -ENOMEM : 0;
}

static int open_auth(struct dbx *d, const json_t *f, char *err, size_t len)
{
	const char *id = json_string_value(json_object_get(f, "client_id"));
	char *secret = NULL;
	int rc = secret_get(f, "token", &d->pat, err, len);
	if (rc != -ENOENT && (rc || !id))
		return rc == 0 && json_object_get(f, "client_id")
			   ? message_fail(
				 err, len, -EINVAL,
				 "fields \"token_*\" and \"client_id\" "
				 "exclude each other")
			   : rc;
	if (rc == 0)
		return message_fail(err, len, -EINVAL,
				    "fields \"token_*\" and \"client_id\" "
				    "exclude each other");
	if (!id)
		return message_fail(err, len, -EINVAL,
				    "no credentials: give \"token_file\" (or "
				    "\"token_env\"), or \"client_id\" and "
				    "\"client_secret_file\"");
	rc = secret_get(f, "client_secret", &secret, err, len);
	if (rc == -ENOENT)
		return message_fail(err, len, -EINVAL,
				    "field \"client_id\" needs "
				    "\"client_secret_file\" or "
				    "\"client_secret_env\"");
	if (rc == 0 && asprintf(&d->client_pair, "%s:%s", id, secret) < 0) {
		d->client_pair = NULL;
		rc = -ENOMEM;
	}
	secret_free(secret);
	d->client_id = rc ? NULL : strdup(id);
	return rc;
}

static void dbx_free(struct dbx *d)
{
	http_free(d->http);
	free(d->host);
	secret_free(d->pat);
	free(d->client_id);
	secret_free(d->client_pair);
	free(d->workspace_id);
	free(d->upload_path);
	secret_free(d->oauth_token);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int dbx_open(const struct platform_env *env, struct platform **out,
		    char *err, size_t errlen)
{
	struct http_settings hs;
	int rc = dbx_wire_check_fields(env->fields, err, errlen);
	if (rc == 0)
		rc = http_settings_from_json(env->fields, env->name, &hs, err,
					     errlen);
	if (rc)
		return rc;
	struct dbx *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base.ops = &databricks_platform;
	d->max_retries = hs.max_retries;
	pthread_mutex_init(&d->lock, NULL);
	hs.error_text = dbx_wire_error_text;
	rc = http_new(&hs, &d->http);
	if (rc)
		rc =
		    message_fail(err, errlen, rc, "cannot make an http client");
	if (rc == 0)
		rc = open_host(d, env->fields, err, errlen);
	if (rc == 0)
		rc = open_auth(d, env->fields, err, errlen);
	if (rc == 0)
		rc = dbx_wire_upload(env->fields, &d->upload, &d->upload_path,
				     err, errlen);
	if (rc == 0)
		rc = livy_wire_tag(env->state_dir, d->tag, err, errlen);
	if (rc) {
		dbx_free(d);
		return rc;
	}
	*out = &d->base;
	return 0;
}

static void dbx_close(struct platform *p)
{
	dbx_free(dbx_from(p));
}

/* ---- ops ---- */

static int dbx_validate(struct platform *p, struct call *c,
			const struct run_spec *run)
{
	struct dbx *d = dbx_from(p);
	int rc = dbx_wire_validate(c, run);
	if (rc == 0 && !is_remote_path(run->entry_point) &&
	    d->upload == DBX_UP_NONE)
		rc = message_call_fail(
		    c, -EINVAL,
		    "no \"upload\" location to put \"%s\" in\nconfigure one "
		    "for platform \"%s\", or name a dbfs:/, /Volumes/ or "
		    "/Workspace/ entry point",
		    run->entry_point, p->name);
	return rc;
}

static int dbx_submit(struct platform *p, struct call *c,
		      const struct run_spec *run, char **remote_id_out)
{
	struct dbx *d = dbx_from(p);
	char token[DBX_WIRE_TOKEN_MAX + 1], *folder = NULL;
	json_t *body = NULL, *doc = NULL;
	int rc = dbx_validate(p, c, run);
	dbx_wire_token(run, d->tag, token, sizeof(token));
	if (rc == 0 && d->upload &&
	    !(folder = url_printf("%s/%s", d->upload_path, token)))
		rc = -ENOMEM;
	struct dbx_upload_ctx u = {
	    .d = d, .c = c, .run = run, .folder = folder, .libs = json_array()};
	if (rc == 0)
		rc = u.libs ? upload_bundle(&u) : -ENOMEM;
	if (rc == 0)
		rc = dbx_wire_submit_body(c, run, token, u.entry_url, u.libs,
					  &body);
	/* the token makes a repeated submit return the same run */
	if (rc == 0)
		rc = dbx_call(d, c, "POST", jobs_url(d, "runs/submit", NULL),
			      body, true, &doc);
	const json_t *id = json_object_get(doc, "run_id");
	if (rc == 0 && !json_is_integer(id))
		rc =
		    message_call_fail(c, -EPROTO, "runs/submit without run_id");
	if (rc == 0 && asprintf(remote_id_out, "%lld",
				(long long)json_integer_value(id)) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		log_info("platform \"%s\": submitted run %s \"%s\"", p->name,
			 *remote_id_out, token);
	json_decref(doc);
	json_decref(body);
	json_decref(u.libs);
	free(u.entry_url);
	free(folder);
	return rc;
}

static int dbx_find(struct platform *p, struct call *c,
		    const struct run_spec *run, char **remote_id_out)
{
	struct dbx *d = dbx_from(p);
	char token[DBX_WIRE_TOKEN_MAX + 1];
	dbx_wire_token(run, d->tag, token, sizeof(token));
	struct name_find f = {.name = token, .id = -1};
	int rc = list_walk(d, c, false, name_visit, &f);
	if (rc == 0 && f.id < 0)
		rc =
		    message_call_fail(c, -ENOENT, "no run named \"%s\"", token);
	if (rc == 0 && asprintf(remote_id_out, "%lld", f.id) < 0)
		rc = -ENOMEM;
	return rc;
}

/* A failed run: the task's error from runs/get-output, when it has one. */
static void add_task_error(struct dbx *d, struct call *c, const json_t *run,
			   struct run_status *out)
{
	json_t *output = NULL;
	struct call oc = {.deadline = c->deadline};
	if (get_output(d, &oc, run, &output))
		return;
	const char *error = dbx_wire_output_error(output);
	char *text = NULL;
	if (error && asprintf(&text, "%s (%s)", out->error, error) >= 0) {
		free(out->error);
		out->error = text;
	}
	json_decref(output);
}

static int dbx_status(struct platform *p, struct call *c, const char *remote_id,
		      struct run_status *out)
{
	struct dbx *d = dbx_from(p);
	long long id;
	json_t *run = NULL;
	int rc = parse_id(c, remote_id, &id);
	if (rc == 0)
		rc = get_run(d, c, id, &run);
	if (rc == 0)
		rc = dbx_wire_status(run, c, out);
	if (rc == 0 && out->state == RUN_FAILED && out->error)
		add_task_error(d, c, run, out);
	json_decref(run);
	return rc;
}

struct status_walk {
	const char *const *ids;
	struct run_status *out;
	int *rcs;
	size_t n;
	struct call *c;
};

#define DBX_UNSEEN 1

static bool status_visit(void *ctx, const json_t *run)
{
	struct status_walk *w = ctx;
	char id[32];
	snprintf(id, sizeof(id), "%lld",
		 (long long)json_integer_value(json_object_get(run, "run_id")));
	for (size_t i = 0; i < w->n; i++)
		if (w->rcs[i] == DBX_UNSEEN && strcmp(w->ids[i], id) == 0)
			w->rcs[i] = dbx_wire_status(run, w->c, &w->out[i]);
	return false;
}

/*
 * The active runs in one paged walk; the others (ended since, or not
 * listed) one by one through runs/get.
 */
static int dbx_status_many(struct platform *p, struct call *c,
			   const char *const *remote_ids,
			   struct run_status *statuses, int *rcs, size_t n)
{
	struct dbx *d = dbx_from(p);
	struct status_walk w = {remote_ids, statuses, rcs, n, c};
	for (size_t i = 0; i < n; i++)
		rcs[i] = DBX_UNSEEN;
	int rc = n > 1 ? list_walk(d, c, true, status_visit, &w) : 0;
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] == DBX_UNSEEN)
			rcs[i] =
			    rc ? rc
			       : dbx_status(p, c, remote_ids[i], &statuses[i]);
		failed += rcs[i] != 0;
	}
	return rc && failed == n ? rc : 0;
}

static int dbx_fetch(struct platform *p, struct call *c, const char *remote_id,
		     const char *output_dir)
{
	struct dbx *d = dbx_from(p);
	long long id;
	json_t *run = NULL, *output = NULL;
	struct run_status st = {0};
	int rc = parse_id(c, remote_id, &id);
	if (rc == 0)
		rc = get_run(d, c, id, &run);
	if (rc == 0)
		rc = dbx_wire_status(run, c, &st);
	free(st.error);
	long long task;
	struct call tc = {0};
	bool has_task = rc == 0 && dbx_wire_task_run_id(run, &tc, &task) == 0;
	if (rc == 0 && has_task)
		rc = get_output(d, c, run, &output);
	else if (rc == 0) /* e.g. skipped before its task was made */
		output = json_pack("{s:s}", "logs",
				   "[databricks: the run has no task, so no "
				   "output]");
	if (rc == 0)
		rc = dbx_wire_write_output(output, output_dir,
					   state_is_terminal(st.state));
	if (rc < 0 && c->err[0] == '\0')
		message_call_fail(c, rc, "cannot write the output of run %lld",
				  id);
	json_decref(run);
	json_decref(output);
	return rc;
}

static int dbx_cancel(struct platform *p, struct call *c, const char *remote_id,
		      const char *reason)
{
	struct dbx *d = dbx_from(p);
	struct run_status st = {0};
	long long id;
	int rc = parse_id(c, remote_id, &id);
	json_t *run = NULL;
	if (rc == 0)
		rc = get_run(d, c, id, &run);
	if (rc == 0)
		rc = dbx_wire_status(run, c, &st);
	free(st.error);
	json_decref(run);
	if (rc == 0 && state_is_terminal(st.state))
		rc = message_call_fail(c, -EINVAL, "run already ended");
	json_t *body = rc ? NULL : json_pack("{s:I}", "run_id", (json_int_t)id);
	if (rc == 0)
		rc = dbx_call(d, c, "POST", jobs_url(d, "runs/cancel", NULL),
			      body, true, NULL);
	json_decref(body);
	if (rc == 0)
		log_info("platform \"%s\": cancelled run %lld (%s)", p->name,
			 id, reason && *reason ? reason : "cancelled");
	return rc;
}

static int dbx_steps(struct platform *p, struct call *c, const char *remote_id,
		     json_t **steps_out)
{
	struct dbx *d = dbx_from(p);
	long long id;
	json_t *run = NULL;
	int rc = parse_id(c, remote_id, &id);
	if (rc == 0)
		rc = get_run(d, c, id, &run);
	if (rc == 0)
		rc = dbx_wire_steps(run, steps_out);
	json_decref(run);
	return rc;
}

/* The smallest list: the workspace answers and takes our credentials. */
static int dbx_health(struct platform *p, struct call *c)
{
	struct dbx *d = dbx_from(p);
	return dbx_call(d, c, "GET",
			jobs_url(d, "runs/list", "run_type=SUBMIT_RUN&limit=1"),
			NULL, true, NULL);
}

const struct platform_ops databricks_platform = {
    .kind = "databricks",
    .caps = PLATFORM_CAP_LIST | PLATFORM_CAP_UPLOAD,
    .open = dbx_open,
    .close = dbx_close,
    .validate = dbx_validate,
    .submit = dbx_submit,
    .find = dbx_find,
    .status = dbx_status,
    .status_many = dbx_status_many,
    .fetch = dbx_fetch,
    .cancel = dbx_cancel,
    .steps = dbx_steps,
    .health = dbx_health,
};
