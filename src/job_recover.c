/*
 * Start-up recovery: puts the state directory back in line with the store
 * after a daemon was killed in the middle of a change (see "Crash
 * consistency" in job_internal.h for the commit point of each one).
 *
 * What a kill can leave behind, and what happens to it here:
 *  - tmp/deploy.* (a deploy staged, never committed): the bundle it took
 *    from new/ goes back there; the rest is removed;
 *  - jobs/ID with no job row, or jobs/ID/vN newer than the job's version
 *    (a deploy renamed into place, its transaction never committed): the
 *    same, when the dir still says where its bundle came from; otherwise
 *    (the files of a removed job) it is removed;
 *  - runs/ID with no run row (a run's output dir made in a transaction
 *    that never committed, or left by a removal): removed;
 *  - a row whose files are gone: reported, since nothing can bring them
 *    back.
 * It runs once, after the store is loaded and before the mount exists, so
 * nothing can look at what it moves.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "job_internal.h"
#include "log.h"

struct recovery {
	struct jobcore *jc;
	struct job *const *by_id; /* jc->jobs sorted by id */
	char new_dir[4096];
	int returned; /* bundles put back into new/ */
	int removed;  /* orphaned directories removed */
	int missing;  /* rows whose files are gone */
};

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* The name in new/ a bundle returns to: its own, or a hidden one. */
static int return_target(const struct recovery *rec, const char *name,
			 char *path, size_t len)
{
	snprintf(path, len, "%s/%s", rec->new_dir, name);
	if (!exists(path))
		return 0;
	/* the user staged it again since: keep both, the old one hidden */
	snprintf(path, len, "%s/.recovered.%s", rec->new_dir, name);
	return exists(path) ? -EEXIST : 0;
}

/*
 * Moves the bundle a staged dir took from new/ back there, as its origin
 * file (DEPLOY_ORIGIN_FILE: "dir NAME" or "file NAME") says.
 */
static void return_bundle(struct recovery *rec, const char *staged)
{
	char path[4200], *text = NULL, kind[8], name[256];
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", staged, DEPLOY_ORIGIN_FILE);
	if (fsutil_read_all(path, 1024, &text, &len) != 0)
		return;
	int n = sscanf(text, "%7s %255[^\n]", kind, name);
	free(text);
	bool is_dir = n == 2 && strcmp(kind, "dir") == 0;
	if (n != 2 || (!is_dir && strcmp(kind, "file") != 0) ||
	    strchr(name, '/') || name[0] == '.')
		return;
	char from[4600], to[4200];
	snprintf(from, sizeof(from), "%s/app%s%s", staged, is_dir ? "" : "/",
		 is_dir ? "" : name);
	if (!exists(from))
		return;
	if (return_target(rec, name, to, sizeof(to)) != 0 ||
	    rename(from, to) != 0) {
		log_warn("recovery: cannot return the staged bundle \"%s\" "
			 "to new/; it is removed",
			 name);
		return;
	}
	rec->returned++;
	log_info("recovery: returned the bundle of an unfinished deploy to "
		 "new/%s",
		 to + strlen(rec->new_dir) + 1);
}

/* Removes an orphaned dir, giving its staged bundle back first. */
static void drop_orphan(struct recovery *rec, const char *path)
{
	return_bundle(rec, path);
	if (fsutil_rm_rf(path) == 0)
		rec->removed++;
	else
		log_warn("recovery: cannot remove \"%s\"", path);
}

/* Calls @visit for each entry of @dir whose name is a decimal id. */
static void for_each_id(struct recovery *rec, const char *dir,
			const char *prefix,
			void (*visit)(struct recovery *rec, const char *path,
				      int64_t id, void *arg),
			void *arg)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t plen = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		const char *digits = e->d_name + plen;
		if (strncmp(e->d_name, prefix, plen) != 0 || !*digits)
			continue;
		long long id = strtoll(digits, &end, 10);
		if (*end || id <= 0)
			continue;
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		visit(rec, path, id, arg);
	}
	closedir(d);
}

/* jobs/ID/vN: versions above the committed one never were. */
static void visit_version(struct recovery *rec, const char *path, int64_t n,
			  void *arg)
{
	const int *committed = arg;
	if (n > *committed)
		drop_orphan(rec, path);
}

static void visit_job_dir(struct recovery *rec, const char *path, int64_t id,
			  void *arg)
{
	(void)arg;
	const struct job *j = job_find_id(rec->by_id, rec->jc->njobs, id);
	int committed = j ? j->version : 0;
	for_each_id(rec, path, "v", visit_version, &committed);
	if (!j)
		drop_orphan(rec, path);
}

static void visit_run_dir(struct recovery *rec, const char *path, int64_t id,
			  void *arg)
{
	(void)arg;
	if (!job_find_run_id(rec->jc, id))
		drop_orphan(rec, path);
}

/* tmp/ holds only what was staged and never committed. */
static void clear_tmp(struct recovery *rec, const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "deploy.", 7) != 0)
			continue;
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
		return_bundle(rec, path);
	}
	if (d)
		closedir(d);
	fsutil_rm_rf(tmp);
	fsutil_mkdir_p(tmp, 0700);
}

static void report_missing(struct recovery *rec)
{
	struct jobcore *jc = rec->jc;
	for (size_t i = 0; i < jc->njobs; i++) {
		char *dir = NULL;
		const struct job *j = jc->jobs[i];
		if (job_version_dir(jc, j->id, j->version, &dir) == 0 &&
		    !exists(dir)) {
			log_warn("recovery: job \"%s\": the files of version "
				 "%d are missing (\"%s\")",
				 j->name, j->version, dir);
			rec->missing++;
		}
		free(dir);
		for (size_t k = 0; k < j->nruns; k++) {
			if (job_run_dir(jc, j->runs[k]->id, &dir) == 0 &&
			    !exists(dir)) {
				log_warn("recovery: job \"%s\" run %d: its "
					 "output dir is missing",
					 j->name, j->runs[k]->number);
				rec->missing++;
			}
			free(dir);
		}
	}
}

void job_recover(struct jobcore *jc, struct job *const *by_id)
{
	struct recovery rec = {.jc = jc, .by_id = by_id};
	const char *state = jc->settings.state_dir;
	char path[4200];
	snprintf(rec.new_dir, sizeof(rec.new_dir), "%s/new", state);
	snprintf(path, sizeof(path), "%s/tmp", state);
	clear_tmp(&rec, path);
	snprintf(path, sizeof(path), "%s/jobs", state);
	for_each_id(&rec, path, "", visit_job_dir, NULL);
	snprintf(path, sizeof(path), "%s/runs", state);
	for_each_id(&rec, path, "", visit_run_dir, NULL);
	report_missing(&rec);
	if (rec.returned || rec.removed || rec.missing)
		log_info("recovery: %d staged bundle(s) returned to new/, %d "
			 "orphaned dir(s) removed, %d missing",
			 rec.returned, rec.removed, rec.missing);
}
