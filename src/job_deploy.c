/*
 * Deploying, rerunning and removing jobs.
 *
 * A deploy is checked completely before anything moves: name, config,
 * platform, bundle (size, archive paths), entry point. The bundle is then
 * installed into a temp dir of the state dir, the job, its first run and
 * the first event are committed in one transaction (the directory renamed
 * to its final place inside it), and only then do the config and bundle
 * leave new/. So close() of NAME.json returning 0 means the job is on disk.
 * The full config (with secrets) is kept as a 0600 file beside the bundle,
 * never in SQLite: the database and job.json get the redacted one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "clock.h"
#include "fsutil.h"
#include "job_internal.h"
#include "jobconf.h"
#include "log.h"

struct deploy {
	const char *name;
	struct job_config conf;
	bool conf_parsed;
	struct bundle bundle;
	bool bundle_found;
	char *entry; /* resolved: the config's, or the bundle's one file */
	char tmp_dir[4096];
	char app_dir[4200];
	bool installed;
	const char *platform;
	struct platform *p;
};

/* Parses the config and finds its platform. */
static int deploy_check_config(struct jobcore *jc, struct deploy *d,
			       const char *text, size_t len, char *err,
			       size_t errlen)
{
	int rc = jobname_check(d->name, err, errlen);
	if (rc == 0)
		rc = jobconf_parse(text, len, &d->conf, err, errlen);
	if (rc)
		return rc;
	d->conf_parsed = true;
	d->platform =
	    d->conf.platform ? d->conf.platform : jc->settings.default_platform;
	d->p = platforms_get(jc->platforms, d->platform);
	if (!d->p) {
		int n = snprintf(
		    err, errlen,
		    "unknown platform \"%s\"\nconfigured:", d->platform);
		for (size_t i = 0; n > 0 && (size_t)n < errlen &&
				   i < platforms_count(jc->platforms);
		     i++)
			n += snprintf(err + n, errlen - (size_t)n, " %s",
				      platforms_name(jc->platforms, i));
		return -EINVAL;
	}
	return 0;
}

int job_check_config(struct jobcore *jc, const char *name, const char *text,
		     size_t len, char *err, size_t errlen)
{
	struct deploy d = {.name = name};
	int rc = deploy_check_config(jc, &d, text, len, err, errlen);
	if (d.conf_parsed)
		jobconf_release(&d.conf);
	return rc;
}

/*
 * Says in the staging dir what of new/ is about to move into it, before it
 * moves, so that start-up recovery can give it back after a kill.
 */
static int deploy_note_origin(const struct deploy *d, char *err, size_t errlen)
{
	const char *kind = d->bundle.kind == BUNDLE_DIR	   ? "dir"
			   : d->bundle.kind == BUNDLE_FILE ? "file"
							   : NULL;
	if (!kind)
		return 0; /* nothing moves: an archive stays in new/ */
	char path[4200], text[400];
	snprintf(path, sizeof(path), "%s/%s", d->tmp_dir, DEPLOY_ORIGIN_FILE);
	int n =
	    snprintf(text, sizeof(text), "%s %s\n", kind, d->bundle.file_name);
	int rc = fsutil_write_atomic(path, text, (size_t)n, 0600);
	if (rc)
		snprintf(err, errlen, "cannot stage the bundle: %s",
			 strerror(-rc));
	return rc;
}

/* Installs the bundle into a fresh temp dir and validates the entry. */
static int deploy_stage(struct jobcore *jc, struct deploy *d,
			const char *new_dir, char *err, size_t errlen)
{
	int rc = bundle_find(new_dir, d->name, &d->bundle, err, errlen);
	if (rc)
		return rc;
	d->bundle_found = true;
	snprintf(d->tmp_dir, sizeof(d->tmp_dir), "%s/tmp/deploy.XXXXXX",
		 jc->settings.state_dir);
	if (!mkdtemp(d->tmp_dir)) {
		d->tmp_dir[0] = '\0';
		snprintf(err, errlen, "cannot stage the bundle: %s",
			 strerror(errno));
		return -errno;
	}
	snprintf(d->app_dir, sizeof(d->app_dir), "%s/app", d->tmp_dir);
	rc = deploy_note_origin(d, err, errlen);
	if (rc == 0 && d->bundle.kind != BUNDLE_NONE) {
		rc = bundle_install(&d->bundle, d->app_dir,
				    jc->settings.bundle_limit, err, errlen);
		if (rc)
			return rc;
		d->installed = true;
	}
	return 0;
}

/* The entry point: the config's, else the bundle's only file, or NULL. */
static int resolve_entry(const struct job_config *conf, const char *app_dir,
			 bool has_app, char **entry_out, char *err,
			 size_t errlen)
{
	*entry_out = NULL;
	if (conf->entry_point) {
		*entry_out = strdup(conf->entry_point);
		return *entry_out ? 0 : -ENOMEM;
	}
	if (!has_app)
		return 0;
	int rc = bundle_default_entry(app_dir, entry_out, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

/* Asks the platform whether it can run this, as the first run would. */
static int deploy_validate(struct deploy *d, char *err, size_t errlen)
{
	int rc = resolve_entry(&d->conf, d->app_dir, d->installed, &d->entry,
			       err, errlen);
	if (rc)
		return rc;
	struct run_spec spec = {
	    .job_name = d->name,
	    .run_key = d->name,
	    .bundle_dir = d->installed ? d->app_dir : NULL,
	    .entry_point = d->entry,
	    .args = d->conf.args,
	    .env = d->conf.env,
	    .conf = d->conf.conf,
	    .attempt = 1,
	};
	return platform_validate(d->p, &spec, err, errlen);
}

int job_version_load(struct jobcore *jc, int64_t job_id, int version,
		     struct job_config *conf_out, char **entry_out, char *err,
		     size_t errlen)
{
	char *dir = NULL, path[4200], *text = NULL;
	size_t len = 0;
	int rc = job_version_dir(jc, job_id, version, &dir);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/config.json", dir);
	rc = fsutil_read_all(path, 1 << 20, &text, &len);
	if (rc)
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
			 strerror(-rc));
	if (rc == 0)
		rc = jobconf_parse(text, len, conf_out, err, errlen);
	free(text);
	snprintf(path, sizeof(path), "%s/app", dir);
	free(dir);
	if (rc)
		return rc;
	rc = resolve_entry(conf_out, path, access(path, F_OK) == 0, entry_out,
			   err, errlen);
	if (rc)
		jobconf_release(conf_out);
	return rc;
}

static int deploy_write_config(struct deploy *d, char *err, size_t errlen)
{
	json_t *doc = jobconf_to_json(&d->conf);
	char *text = doc ? json_dumps(doc, JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	char path[4200];
	snprintf(path, sizeof(path), "%s/config.json", d->tmp_dir);
	int rc = fsutil_write_atomic(path, text, strlen(text), 0600);
	free(text);
	if (rc)
		snprintf(err, errlen, "cannot save the config: %s",
			 strerror(-rc));
	return rc;
}

static char *redacted_config(const struct job_config *conf)
{
	json_t *doc = jobconf_to_redacted_json(conf);
	char *text = doc ? json_dumps(doc, JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	return text;
}

/* Rows to insert: built from the existing job (if any) under the lock. */
struct deploy_rows {
	struct store_job job;
	struct store_run run;
	int64_t old_job_id;
	int number;
};

static int deploy_rows_fill(struct jobcore *jc, struct deploy *d,
			    struct deploy_rows *rows)
{
	double now = clock_wall();
	pthread_mutex_lock(&jc->lock);
	struct job *old = job_find(jc, d->name);
	rows->job = (struct store_job){
	    .id = old ? old->id : 0,
	    .name = (char *)d->name,
	    .platform = (char *)d->platform,
	    .version = old ? old->version + 1 : 1,
	    .created_at = old ? old->created_at : now,
	    .updated_at = now,
	};
	rows->number = old ? job_next_number(old) : 1;
	pthread_mutex_unlock(&jc->lock);
	rows->job.config = redacted_config(&d->conf);
	rows->run = (struct store_run){
	    .number = rows->number,
	    .version = rows->job.version,
	    .platform = (char *)d->platform,
	    .state = RUN_DEPLOYING,
	    .exit_code = -1,
	    .updated_at = now,
	};
	return rows->job.config ? 0 : -ENOMEM;
}

/* Creates the run's output dir with empty result and log files. */
static int make_run_dir(struct jobcore *jc, int64_t run_id)
{
	char *dir = NULL;
	int rc = job_run_dir(jc, run_id, &dir);
	if (rc == 0)
		rc = fsutil_mkdir_p(dir, 0700);
	for (int i = 0; rc == 0 && i < 2; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir,
			 i ? "log" : "result");
		rc = fsutil_write_atomic(path, "", 0, 0600);
	}
	free(dir);
	return rc;
}

static int insert_run_rows(struct jobcore *jc, struct store_run *run,
			   const char *source, const char *message)
{
	int rc = store_run_insert(jc->store, run);
	if (rc == 0)
		rc = make_run_dir(jc, run->id);
	struct store_event ev = {
	    .time = clock_wall(),
	    .run_number = run->number,
	    .old_state = "NONE",
	    .new_state = state_name(RUN_DEPLOYING),
	    .source = source,
	    .message = message,
	};
	if (rc == 0)
		rc = store_event_insert(jc->store, run->id, &ev);
	return rc;
}

/* The transaction: rows in, staged dir renamed to jobs/ID/vN. */
static int deploy_commit(struct jobcore *jc, struct deploy *d,
			 struct deploy_rows *rows, char *err, size_t errlen)
{
	char *version_dir = NULL, job_dir[4200];
	int rc = store_begin(jc->store);
	if (rc == 0)
		rc = store_job_save(jc->store, &rows->job);
	rows->run.job_id = rows->job.id;
	char msg[64];
	snprintf(msg, sizeof(msg), "version %d", rows->job.version);
	if (rc == 0 && d->conf.run)
		rc = insert_run_rows(jc, &rows->run, "deploy", msg);
	if (rc == 0)
		rc = job_version_dir(jc, rows->job.id, rows->job.version,
				     &version_dir);
	snprintf(job_dir, sizeof(job_dir), "%s/jobs/%lld",
		 jc->settings.state_dir, (long long)rows->job.id);
	if (rc == 0)
		rc = fsutil_mkdir_p(job_dir, 0700);
	if (rc == 0 && rename(d->tmp_dir, version_dir) != 0)
		rc = -errno;
	if (rc == 0)
		rc = fsutil_sync_dir(job_dir);
	if (rc == 0)
		rc = store_commit(jc->store);
	if (rc) {
		store_rollback(jc->store);
		if (version_dir && access(version_dir, F_OK) == 0)
			rename(version_dir, d->tmp_dir);
		snprintf(err, errlen, "cannot record the job: %s",
			 strerror(-rc));
	}
	free(version_dir);
	return rc;
}

static struct run *run_from_rows(const struct store_run *sr)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	*r = (struct run){
	    .id = sr->id,
	    .number = sr->number,
	    .version = sr->version,
	    .platform = strdup(sr->platform),
	    .overrides = sr->overrides ? strdup(sr->overrides) : NULL,
	    .state = RUN_DEPLOYING,
	    .exit_code = -1,
	    .updated_at = sr->updated_at,
	    .need_submit = true,
	};
	return r;
}

/* The job keeps the deploy's parsed config: it is never parsed again. */
static void job_take_conf(struct job *j, struct deploy *d)
{
	if (j->conf_loaded)
		jobconf_release(&j->conf);
	free(j->entry_point);
	j->conf = d->conf;
	j->entry_point = d->entry;
	j->conf_loaded = true;
	j->conf_failed = false;
	d->conf_parsed = false;
	d->entry = NULL;
}

/* Makes the committed rows visible in memory. */
static void deploy_publish(struct jobcore *jc, struct deploy *d,
			   const struct deploy_rows *rows)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, d->name);
	if (!j) {
		j = calloc(1, sizeof(*j));
		if (j) {
			j->id = rows->job.id;
			j->name = strdup(d->name);
			j->created_at = rows->job.created_at;
			job_insert(jc, j);
		}
	}
	if (j) {
		free(j->platform);
		free(j->config);
		j->platform = strdup(d->platform);
		j->config = strdup(rows->job.config);
		j->version = rows->job.version;
		j->updated_at = rows->job.updated_at;
		job_take_conf(j, d);
	}
	struct run *r = j && d->conf.run ? run_from_rows(&rows->run) : NULL;
	if (r && job_add_run(jc, j, r))
		run_free(r);
	pthread_mutex_unlock(&jc->lock);
}

static void deploy_release(struct deploy *d, bool failed)
{
	if (failed && d->installed)
		bundle_uninstall(&d->bundle, d->app_dir);
	if (d->tmp_dir[0])
		fsutil_rm_rf(d->tmp_dir);
	if (d->bundle_found)
		bundle_release(&d->bundle);
	if (d->conf_parsed)
		jobconf_release(&d->conf);
	free(d->entry);
}

/* A committed version's bundle is its own: recovery must never move it. */
static void deploy_forget_origin(struct jobcore *jc,
				 const struct deploy_rows *rows)
{
	char *dir = NULL, path[4200];
	if (job_version_dir(jc, rows->job.id, rows->job.version, &dir) != 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, DEPLOY_ORIGIN_FILE);
	unlink(path);
	free(dir);
}

/* Takes the committed config and bundle out of new/. */
static void deploy_clear_staging(struct deploy *d, const char *new_dir)
{
	char path[4200];
	bundle_consume(&d->bundle);
	snprintf(path, sizeof(path), "%s/%s.json", new_dir, d->name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.error", new_dir, d->name);
	unlink(path);
}

int job_deploy(struct jobcore *jc, const char *new_dir, const char *name,
	       const char *text, size_t len, char *err, size_t errlen)
{
	struct deploy d = {.name = name};
	struct deploy_rows rows = {0};
	pthread_mutex_lock(&jc->deploying);
	int rc = deploy_check_config(jc, &d, text, len, err, errlen);
	if (rc == 0)
		rc = deploy_stage(jc, &d, new_dir, err, errlen);
	if (rc == 0)
		rc = deploy_validate(&d, err, errlen);
	if (rc == 0)
		rc = deploy_write_config(&d, err, errlen);
	if (rc == 0)
		rc = deploy_rows_fill(jc, &d, &rows);
	if (rc == 0)
		rc = deploy_commit(jc, &d, &rows, err, errlen);
	if (rc == 0) {
		d.tmp_dir[0] = '\0'; /* renamed to its final place */
		deploy_clear_staging(&d, new_dir);
		deploy_forget_origin(jc, &rows);
		deploy_publish(jc, &d, &rows);
		log_info("job \"%s\": deployed version %d", name,
			 rows.job.version);
	}
	free(rows.job.config);
	deploy_release(&d, rc != 0);
	pthread_mutex_unlock(&jc->deploying);
	if (rc == 0 && jc->listener.replaced)
		jc->listener.replaced(jc->listener.ctx, name);
	if (rc == 0 && jc->listener.kick)
		jc->listener.kick(jc->listener.ctx);
	return rc;
}

/* --- reruns ----------------------------------------------------------- */

/* Checks @override against the job's deployed config. */
int job_check_override(struct jobcore *jc, const char *job,
		       const char *override, size_t len, char *err,
		       size_t errlen)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	const struct job_config *base = j ? job_conf(jc, j) : NULL;
	struct job_config merged;
	int rc = !j ? -ENOENT : !base ? -EIO : 0;
	if (rc == 0)
		rc =
		    jobconf_override(base, override, len, &merged, err, errlen);
	pthread_mutex_unlock(&jc->lock);
	if (rc == -ENOENT)
		snprintf(err, errlen, "no such job \"%s\"", job);
	else if (rc == -EIO)
		snprintf(err, errlen, "cannot read the config of \"%s\"", job);
	if (rc == 0)
		jobconf_release(&merged);
	return rc;
}

/* The override as stored: NULL when empty. */
static char *override_text(const char *override, size_t len)
{
	size_t start = 0;
	while (start < len && strchr(" \t\r\n", override[start]))
		start++;
	return start < len ? strndup(override, len) : NULL;
}

int job_rerun(struct jobcore *jc, const char *job, const char *override,
	      size_t len, char *err, size_t errlen)
{
	int rc = job_check_override(jc, job, override, len, err, errlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&jc->deploying);
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct store_run sr = {
	    .job_id = j ? j->id : 0,
	    .number = j ? job_next_number(j) : 0,
	    .version = j ? j->version : 0,
	    .platform = j ? j->platform : NULL,
	    .overrides = override_text(override, len),
	    .state = RUN_DEPLOYING,
	    .exit_code = -1,
	    .updated_at = clock_wall(),
	};
	char *platform = j ? strdup(j->platform) : NULL;
	sr.platform = platform;
	pthread_mutex_unlock(&jc->lock);
	rc = j && platform ? 0 : -ENOENT;
	if (rc == 0)
		rc = store_begin(jc->store);
	if (rc == 0)
		rc = insert_run_rows(jc, &sr, "user", "run");
	if (rc == 0)
		rc = store_commit(jc->store);
	else if (j)
		store_rollback(jc->store);
	if (rc == 0) {
		pthread_mutex_lock(&jc->lock);
		struct run *r = run_from_rows(&sr);
		j = job_find(jc, job);
		if (!r || !j || job_add_run(jc, j, r)) {
			run_free(r);
			rc = -ENOMEM;
		}
		pthread_mutex_unlock(&jc->lock);
	} else {
		snprintf(err, errlen, "cannot start a run: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&jc->deploying);
	free(platform);
	free(sr.overrides);
	if (rc == 0 && jc->listener.kick)
		jc->listener.kick(jc->listener.ctx);
	return rc;
}

/* --- removal ------------------------------------------------------------ */

static bool job_is_active(const struct job *j)
{
	for (size_t i = 0; i < j->nruns; i++)
		if (!state_is_terminal(j->runs[i]->state))
			return true;
	return false;
}

static void remove_files(struct jobcore *jc, const struct job *j)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs/%lld", jc->settings.state_dir,
		 (long long)j->id);
	fsutil_rm_rf(path);
	for (size_t i = 0; i < j->nruns; i++) {
		snprintf(path, sizeof(path), "%s/runs/%lld",
			 jc->settings.state_dir, (long long)j->runs[i]->id);
		fsutil_rm_rf(path);
	}
}

int job_remove(struct jobcore *jc, const char *job)
{
	pthread_mutex_lock(&jc->deploying);
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	int rc = !j ? -ENOENT : job_is_active(j) ? -EBUSY : 0;
	if (rc == 0) {
		rc = store_job_delete(jc->store, j->id);
		if (rc == 0)
			job_unlink(jc, j);
	}
	for (size_t i = 0; rc == 0 && i < jc->nfetch;)
		if (jc->fetch_queue[i]->job == j)
			jc->fetch_queue[i] = jc->fetch_queue[--jc->nfetch];
		else
			i++;
	pthread_mutex_unlock(&jc->lock);
	if (rc == 0) {
		remove_files(jc, j);
		log_info("job \"%s\": removed", job);
		job_free(j);
	}
	pthread_mutex_unlock(&jc->deploying);
	if (rc == 0 && jc->listener.replaced)
		jc->listener.replaced(jc->listener.ctx, job);
	return rc;
}
