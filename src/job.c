/*
 * The job core's model: jobs and runs in memory, loading them from the
 * store, the queries the FUSE layer makes, and the batch that writes
 * changes through to the store and tells listeners about them.
 *
 * Jobs sit in one array sorted by name (bsearch for lookups, in order for
 * readdir); runs hang off their job by number. Active (non-terminal) runs
 * are also in a flat array, which is all the poller walks, so a history of
 * 100,000 finished jobs costs it nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "job_internal.h"
#include "jobconf.h"
#include "log.h"

/* --- model ------------------------------------------------------------ */

static int compare_job_name(const void *key, const void *elem)
{
	const struct job *j = *(struct job *const *)elem;
	return strcmp(key, j->name);
}

struct job *job_find(struct jobcore *jc, const char *name)
{
	if (jc->njobs == 0)
		return NULL;
	struct job **found = bsearch(name, jc->jobs, jc->njobs,
				     sizeof(*jc->jobs), compare_job_name);
	return found ? *found : NULL;
}

struct run *job_find_run(struct job *j, int number)
{
	if (j->nruns == 0)
		return NULL;
	if (number == 0)
		return j->runs[j->nruns - 1];
	/* by number, with gaps where retention removed runs */
	size_t lo = 0, hi = j->nruns;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (j->runs[mid]->number < number)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->nruns && j->runs[lo]->number == number ? j->runs[lo]
							      : NULL;
}

int job_next_number(const struct job *j)
{
	return j->nruns ? j->runs[j->nruns - 1]->number + 1 : 1;
}

/* Drops the runs marked `expired` from @runs, keeping the order. */
static size_t drop_expired(struct run **runs, size_t n, bool free_them)
{
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (!runs[i]->expired)
			runs[kept++] = runs[i];
		else if (free_them)
			run_free(runs[i]);
	}
	return kept;
}

void job_forget_expired(struct jobcore *jc, struct job *const *jobs,
			size_t njobs)
{
	jc->nruns = drop_expired(jc->runs_by_id, jc->nruns, false);
	for (size_t i = 0; i < njobs; i++)
		jobs[i]->nruns =
		    drop_expired(jobs[i]->runs, jobs[i]->nruns, true);
}

/* Where run @id is, or would go, in the runs_by_id index. */
static size_t run_slot(const struct jobcore *jc, int64_t id)
{
	size_t lo = 0, hi = jc->nruns;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (jc->runs_by_id[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct run *job_find_run_id(struct jobcore *jc, int64_t run_id)
{
	size_t i = run_slot(jc, run_id);
	return i < jc->nruns && jc->runs_by_id[i]->id == run_id
		   ? jc->runs_by_id[i]
		   : NULL;
}

static void run_index_remove(struct jobcore *jc, const struct run *r)
{
	size_t i = run_slot(jc, r->id);
	if (i < jc->nruns && jc->runs_by_id[i] == r) {
		memmove(&jc->runs_by_id[i], &jc->runs_by_id[i + 1],
			(jc->nruns - i - 1) * sizeof(*jc->runs_by_id));
		jc->nruns--;
	}
}

int job_grow(void **array, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 2; /* most jobs have one run */
	while (n < need)
		n *= 2;
	void *bigger = realloc(*array, n * elem);
	if (!bigger)
		return -ENOMEM;
	*array = bigger;
	*cap = n;
	return 0;
}

/* Adds @r to the index by id; new runs have the largest id: appended. */
static int run_index_add(struct jobcore *jc, struct run *r)
{
	int rc = job_grow((void **)&jc->runs_by_id, &jc->runs_cap,
			  jc->nruns + 1, sizeof(*jc->runs_by_id));
	if (rc)
		return rc;
	size_t i = run_slot(jc, r->id);
	memmove(&jc->runs_by_id[i + 1], &jc->runs_by_id[i],
		(jc->nruns - i) * sizeof(*jc->runs_by_id));
	jc->runs_by_id[i] = r;
	jc->nruns++;
	return 0;
}

int job_add_run(struct jobcore *jc, struct job *j, struct run *r)
{
	int rc = job_grow((void **)&j->runs, &j->cap, j->nruns + 1,
			  sizeof(*j->runs));
	if (rc == 0)
		rc = run_index_add(jc, r);
	if (rc)
		return rc;
	if (!state_is_terminal(r->state) && job_active_add(jc, r)) {
		run_index_remove(jc, r);
		return -ENOMEM;
	}
	r->job = j;
	j->runs[j->nruns++] = r;
	return 0;
}

/* Inserts @j at its place in the sorted array. */
int job_insert(struct jobcore *jc, struct job *j)
{
	int rc = job_grow((void **)&jc->jobs, &jc->jobs_cap, jc->njobs + 1,
			  sizeof(*jc->jobs));
	if (rc)
		return rc;
	size_t lo = 0, hi = jc->njobs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(jc->jobs[mid]->name, j->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&jc->jobs[lo + 1], &jc->jobs[lo],
		(jc->njobs - lo) * sizeof(*jc->jobs));
	jc->jobs[lo] = j;
	jc->njobs++;
	return 0;
}

void job_unlink(struct jobcore *jc, struct job *j)
{
	for (size_t k = 0; k < j->nruns; k++)
		run_index_remove(jc, j->runs[k]);
	for (size_t i = 0; i < jc->njobs; i++) {
		if (jc->jobs[i] == j) {
			memmove(&jc->jobs[i], &jc->jobs[i + 1],
				(jc->njobs - i - 1) * sizeof(*jc->jobs));
			jc->njobs--;
			return;
		}
	}
}

int job_active_add(struct jobcore *jc, struct run *r)
{
	int rc = job_grow((void **)&jc->active, &jc->active_cap,
			  jc->nactive + 1, sizeof(*jc->active));
	if (rc)
		return rc;
	jc->active[jc->nactive++] = r;
	return 0;
}

int job_fetch_queue_add(struct jobcore *jc, struct run *r)
{
	int rc = job_grow((void **)&jc->fetch_queue, &jc->fetch_cap,
			  jc->nfetch + 1, sizeof(*jc->fetch_queue));
	if (rc == 0)
		jc->fetch_queue[jc->nfetch++] = r;
	return rc;
}

/* Keeps the order of the rest: runs waiting for a slot go oldest first. */
void job_active_remove(struct jobcore *jc, struct run *r)
{
	for (size_t i = 0; i < jc->nactive; i++) {
		if (jc->active[i] == r) {
			memmove(&jc->active[i], &jc->active[i + 1],
				(jc->nactive - i - 1) * sizeof(*jc->active));
			jc->nactive--;
			return;
		}
	}
}

void run_free(struct run *r)
{
	if (!r)
		return;
	free(r->platform);
	free(r->remote_id);
	free(r->platform_state);
	free(r->overrides);
	free(r->error);
	free(r->stale_reason);
	if (r->pending_end)
		free(r->pending_end->error);
	free(r->pending_end);
	free(r);
}

void job_free(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->nruns; i++)
		run_free(j->runs[i]);
	free(j->runs);
	free(j->name);
	free(j->platform);
	free(j->config);
	if (j->conf_loaded)
		jobconf_release(&j->conf);
	free(j->entry_point);
	free(j);
}

const struct job_config *job_conf(struct jobcore *jc, struct job *j)
{
	if (j->conf_loaded || j->conf_failed)
		return j->conf_loaded ? &j->conf : NULL;
	char err[512];
	if (job_version_load(jc, j->id, j->version, &j->conf, &j->entry_point,
			     err, sizeof(err)) == 0) {
		j->conf_loaded = true;
		return &j->conf;
	}
	j->conf_failed = true;
	log_warn("job \"%s\": %s", j->name, err);
	return NULL;
}

int job_version_dir(struct jobcore *jc, int64_t job_id, int version,
		    char **path_out)
{
	int n = asprintf(path_out, "%s/jobs/%lld/v%d", jc->settings.state_dir,
			 (long long)job_id, version);
	return n < 0 ? -ENOMEM : 0;
}

int job_run_dir(struct jobcore *jc, int64_t run_id, char **path_out)
{
	int n = asprintf(path_out, "%s/runs/%lld", jc->settings.state_dir,
			 (long long)run_id);
	return n < 0 ? -ENOMEM : 0;
}

int run_set_string(char **field, const char *value)
{
	if (value == *field || (value && *field && strcmp(value, *field) == 0))
		return 0;
	char *copy = value ? strdup(value) : NULL;
	if (value && !copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* strdup() that passes NULL through. */
char *job_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* --- life cycle ---------------------------------------------------------- */

int job_core_new(struct store *store, const struct job_settings *settings,
		 const struct job_listener *listener, struct jobcore **out)
{
	struct jobcore *jc = calloc(1, sizeof(*jc));
	if (!jc)
		return -ENOMEM;
	jc->store = store;
	jc->settings = *settings;
	jc->settings.state_dir = strdup(settings->state_dir);
	jc->settings.default_platform = strdup(settings->default_platform);
	jc->listener = *listener;
	if (!jc->settings.state_dir || !jc->settings.default_platform) {
		job_core_free(jc);
		return -ENOMEM;
	}
	pthread_mutex_init(&jc->lock, NULL);
	pthread_mutex_init(&jc->persist, NULL);
	pthread_mutex_init(&jc->deploying, NULL);
	pthread_cond_init(&jc->refreshed, NULL);
	*out = jc;
	return 0;
}

void job_core_free(struct jobcore *jc)
{
	if (!jc)
		return;
	for (size_t i = 0; i < jc->njobs; i++)
		job_free(jc->jobs[i]);
	free(jc->jobs);
	free(jc->runs_by_id);
	free(jc->active);
	free(jc->fetch_queue);
	free((char *)jc->settings.state_dir);
	free((char *)jc->settings.default_platform);
	pthread_mutex_destroy(&jc->lock);
	pthread_mutex_destroy(&jc->persist);
	pthread_mutex_destroy(&jc->deploying);
	pthread_cond_destroy(&jc->refreshed);
	free(jc);
}

struct load_ctx {
	struct jobcore *jc;
	struct job **by_id; /* jobs in id order: the store loads by name */
	size_t n;
};

static int load_job(void *ctx, const struct store_job *sj)
{
	struct load_ctx *lc = ctx;
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct job){
	    .id = sj->id,
	    .name = strdup(sj->name),
	    .platform = strdup(sj->platform),
	    .config = strdup(sj->config),
	    .version = sj->version,
	    .created_at = sj->created_at,
	    .updated_at = sj->updated_at,
	};
	struct jobcore *jc = lc->jc;
	/* the store walks jobs in name order, so appending keeps the sort */
	if (!j->name || !j->platform || !j->config ||
	    job_grow((void **)&jc->jobs, &jc->jobs_cap, jc->njobs + 1,
		     sizeof(*jc->jobs))) {
		job_free(j);
		return -ENOMEM;
	}
	jc->jobs[jc->njobs++] = j;
	return 0;
}

static int compare_job_id(const void *a, const void *b)
{
	int64_t x = (*(struct job *const *)a)->id;
	int64_t y = (*(struct job *const *)b)->id;
	return (x > y) - (x < y);
}

struct job *job_find_id(struct job *const *by_id, size_t n, int64_t id)
{
	struct job key = {.id = id}, *keyp = &key;
	struct job *const *found =
	    bsearch(&keyp, by_id, n, sizeof(*by_id), compare_job_id);
	return found ? *found : NULL;
}

static int load_run(void *ctx, const struct store_run *sr)
{
	struct load_ctx *lc = ctx;
	struct job *j = job_find_id(lc->by_id, lc->n, sr->job_id);
	if (!j)
		return 0;
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct run){
	    .id = sr->id,
	    .number = sr->number,
	    .version = sr->version,
	    .platform = job_strdup(sr->platform),
	    .remote_id = job_strdup(sr->remote_id),
	    .platform_state = job_strdup(sr->platform_state),
	    .overrides = job_strdup(sr->overrides),
	    .error = job_strdup(sr->error),
	    .state = sr->state,
	    .exit_code = sr->exit_code,
	    .attempts = sr->attempts,
	    .submitted_at = sr->submitted_at,
	    .started_at = sr->started_at,
	    .ended_at = sr->ended_at,
	    .updated_at = sr->updated_at,
	};
	/*
	 * An active run left by an earlier daemon: ask about it, submit it,
	 * or, when that daemon died in the middle of a submit, first find
	 * out whether the platform got it.
	 */
	r->submit_started_at = sr->submit_started_at;
	/* CANCELLING with no remote id: left so by a daemon that did not
	 * record a submit's answer; only the platform can say what ran */
	r->need_reconcile = r->submit_started_at > 0 ||
			    (r->state == RUN_CANCELLING && !r->remote_id);
	r->poked = r->remote_id != NULL;
	r->need_cancel = r->state == RUN_CANCELLING && r->remote_id != NULL;
	/* QUEUED without a remote id: held back by the platform's
	 * max_active, never sent */
	r->need_submit = !r->need_reconcile && r->remote_id == NULL &&
			 (r->state == RUN_DEPLOYING || r->state == RUN_QUEUED);
	int rc = job_add_run(lc->jc, j, r);
	if (rc)
		run_free(r);
	return rc;
}

int job_core_start(struct jobcore *jc, struct platforms *platforms)
{
	struct load_ctx lc = {.jc = jc};
	pthread_mutex_lock(&jc->lock);
	jc->platforms = platforms;
	int rc = store_load(jc->store, load_job, NULL, &lc);
	if (rc == 0) {
		lc.by_id = malloc((jc->njobs + 1) * sizeof(*lc.by_id));
		rc = lc.by_id ? 0 : -ENOMEM;
	}
	if (rc == 0) {
		if (jc->njobs > 0)
			memcpy(lc.by_id, jc->jobs,
			       jc->njobs * sizeof(*lc.by_id));
		lc.n = jc->njobs;
		qsort(lc.by_id, lc.n, sizeof(*lc.by_id), compare_job_id);
		rc = store_load(jc->store, NULL, load_run, &lc);
	}
	if (rc == 0)
		job_recover(jc, lc.by_id);
	free(lc.by_id);
	pthread_mutex_unlock(&jc->lock);
	if (rc == 0 && jc->listener.kick)
		jc->listener.kick(jc->listener.ctx);
	return rc;
}

/* --- queries ------------------------------------------------------------ */

bool job_exists(struct jobcore *jc, const char *job)
{
	pthread_mutex_lock(&jc->lock);
	bool found = job_find(jc, job) != NULL;
	pthread_mutex_unlock(&jc->lock);
	return found;
}

int job_run_latest(struct jobcore *jc, const char *job)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	int n = !j ? -ENOENT : j->nruns ? j->runs[j->nruns - 1]->number : 0;
	pthread_mutex_unlock(&jc->lock);
	return n;
}

bool job_run_has(struct jobcore *jc, const char *job, int number)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	bool has = j && number > 0 && job_find_run(j, number);
	pthread_mutex_unlock(&jc->lock);
	return has;
}

int job_run_numbers(struct jobcore *jc, const char *job, int **numbers_out,
		    size_t *n_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	int rc = j ? 0 : -ENOENT;
	int *numbers = j ? malloc((j->nruns + 1) * sizeof(*numbers)) : NULL;
	if (j && !numbers)
		rc = -ENOMEM;
	for (size_t i = 0; numbers && i < j->nruns; i++)
		numbers[i] = j->runs[i]->number;
	*n_out = numbers ? j->nruns : 0;
	pthread_mutex_unlock(&jc->lock);
	*numbers_out = numbers;
	return rc;
}

static bool job_matches_state(const struct job *j, int state)
{
	if (state < 0)
		return true;
	return j->nruns > 0 && (int)j->runs[j->nruns - 1]->state == state;
}

int job_names(struct jobcore *jc, int state, char ***names_out, size_t *n_out)
{
	pthread_mutex_lock(&jc->lock);
	char **names = calloc(jc->njobs + 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; names && i < jc->njobs; i++) {
		if (!job_matches_state(jc->jobs[i], state))
			continue;
		names[n] = strdup(jc->jobs[i]->name);
		if (!names[n]) {
			job_names_free(names, n);
			names = NULL;
			break;
		}
		n++;
	}
	pthread_mutex_unlock(&jc->lock);
	if (!names)
		return -ENOMEM;
	*names_out = names;
	*n_out = n;
	return 0;
}

void job_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void job_platform_counts(struct jobcore *jc, const char *platform,
			 size_t *active_out, size_t *held_out)
{
	*active_out = *held_out = 0;
	pthread_mutex_lock(&jc->lock);
	for (size_t i = 0; i < jc->nactive; i++) {
		const struct run *r = jc->active[i];
		if (strcmp(r->platform, platform) != 0)
			continue;
		if (r->held && r->need_submit)
			++*held_out;
		else
			++*active_out;
	}
	pthread_mutex_unlock(&jc->lock);
}

void job_count_runs(struct jobcore *jc, const char *platform,
		    size_t counts[RUN_STATE_COUNT])
{
	memset(counts, 0, RUN_STATE_COUNT * sizeof(*counts));
	pthread_mutex_lock(&jc->lock);
	for (size_t i = 0; i < jc->nruns; i++) {
		const struct run *r = jc->runs_by_id[i];
		if (!r->expired && strcmp(r->platform, platform) == 0)
			counts[r->state]++;
	}
	pthread_mutex_unlock(&jc->lock);
}

int job_run_generation(struct jobcore *jc, int64_t run_id, uint64_t *out)
{
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, run_id);
	if (r)
		*out = r->generation;
	pthread_mutex_unlock(&jc->lock);
	return r ? 0 : -ENOENT;
}

int job_run_final_line(struct jobcore *jc, int64_t run_id, char *line,
		       size_t len)
{
	pthread_mutex_lock(&jc->lock);
	struct run *r = job_find_run_id(jc, run_id);
	int rc = r ? state_is_terminal(r->state) : -ENOENT;
	if (rc == 1)
		snprintf(line, len, "%s\n", state_name(r->state));
	pthread_mutex_unlock(&jc->lock);
	return rc;
}

int job_output_path(struct jobcore *jc, const char *job, int number,
		    const char *what, char **path_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j ? job_find_run(j, number) : NULL;
	int64_t id = r ? r->id : 0;
	pthread_mutex_unlock(&jc->lock);
	if (!r)
		return -ENOENT;
	int n = asprintf(path_out, "%s/runs/%lld/%s", jc->settings.state_dir,
			 (long long)id, what);
	return n < 0 ? -ENOMEM : 0;
}

int job_app_dir(struct jobcore *jc, const char *job, char **path_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	int64_t id = j ? j->id : 0;
	int version = j ? j->version : 0;
	pthread_mutex_unlock(&jc->lock);
	if (!j)
		return -ENOENT;
	int n = asprintf(path_out, "%s/jobs/%lld/v%d/app",
			 jc->settings.state_dir, (long long)id, version);
	return n < 0 ? -ENOMEM : 0;
}

int job_config_text(struct jobcore *jc, const char *job, char **text_out,
		    size_t *len_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	json_t *doc = j ? json_loads(j->config, 0, NULL) : NULL;
	pthread_mutex_unlock(&jc->lock);
	if (!j)
		return -ENOENT;
	char *text =
	    doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	char *with_newline = realloc(text, len + 2);
	if (!with_newline) {
		free(text);
		return -ENOMEM;
	}
	memcpy(with_newline + len, "\n", 2);
	*text_out = with_newline;
	*len_out = len + 1;
	return 0;
}

struct events_ctx {
	char *text;
	size_t len;
	size_t cap;
};

static int append_event(void *ctx, const struct store_event *ev)
{
	struct events_ctx *ec = ctx;
	char stamp[32], line[1024];
	clock_iso8601(ev->time, stamp, sizeof(stamp));
	bool has_message = ev->message && ev->message[0];
	int n =
	    snprintf(line, sizeof(line), "%s %d %s->%s %s%s%s\n", stamp,
		     ev->run_number, ev->old_state, ev->new_state, ev->source,
		     has_message ? " " : "", has_message ? ev->message : "");
	if (n < 0)
		return -EIO;
	size_t add = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (job_grow((void **)&ec->text, &ec->cap, ec->len + add + 1, 1))
		return -ENOMEM;
	memcpy(ec->text + ec->len, line, add + 1);
	ec->len += add;
	return 0;
}

int job_events_text(struct jobcore *jc, const char *job, int number,
		    char **text_out, size_t *len_out)
{
	pthread_mutex_lock(&jc->lock);
	struct job *j = job_find(jc, job);
	struct run *r = j && number ? job_find_run(j, number) : NULL;
	int64_t job_id = j ? j->id : 0, run_id = r ? r->id : 0;
	pthread_mutex_unlock(&jc->lock);
	if (!j || (number && !r))
		return -ENOENT;
	struct events_ctx ec = {0};
	int rc = store_events(jc->store, job_id, run_id, append_event, &ec);
	if (rc == 0 && !ec.text)
		ec.text = strdup("");
	if (rc || !ec.text) {
		free(ec.text);
		return rc ? rc : -ENOMEM;
	}
	*text_out = ec.text;
	*len_out = ec.len;
	return 0;
}
