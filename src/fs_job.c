/*
 * The files of a job, of its runs, of platforms/, README and metrics.
 *
 * Small files (status, status.json, error, events, steps, job.json, platform
 * files) are rendered into the handle at open and again at every read from
 * offset 0, so `cat` sees one consistent snapshot and a reader that seeks
 * back sees fresh content. result and log are the run's output files,
 * read with pread. wait parks its read (waiters.c). cancel and run act on
 * the first write, or on release when nothing was written (`: > NAME/run`).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_job.h"
#include "fs_reply.h"
#include "job_render.h"
#include "jobconf.h"
#include "log.h"
#include "metrics.h"

const char *const job_file_names[JOB_FILE_COUNT] = {
    [JOB_STATUS] = "status",   [JOB_STATUS_JSON] = "status.json",
    [JOB_RESULT] = "result",   [JOB_LOG] = "log",
    [JOB_ERROR] = "error",     [JOB_EVENTS] = "events",
    [JOB_STEPS] = "steps",     [JOB_WAIT] = "wait",
    [JOB_CANCEL] = "cancel",   [JOB_RUN] = "run",
    [JOB_CONFIG] = "job.json",
};

const char *const platform_file_names[PLATFORM_FILE_COUNT] = {
    [PLATFORM_KIND] = "kind",
    [PLATFORM_HEALTH] = "health",
    [PLATFORM_STATS] = "stats",
};

static const char readme_text[] =
    "jobfs: jobs as files (see jobfs(5))\n"
    "\n"
    "  new/                 stage a bundle, then write new/NAME.json to "
    "deploy\n"
    "  NAME/status          the latest run's state\n"
    "  NAME/status.json     details: run, platform, times, exit code, "
    "error\n"
    "  NAME/result NAME/log output; NAME/error why it failed\n"
    "  NAME/events          one line per state change\n"
    "  NAME/steps           one line per step of the run\n"
    "  NAME/wait            blocks until the run ends\n"
    "  NAME/cancel          write to cancel; NAME/run: write to run again\n"
    "  NAME/job.json NAME/app/ NAME/runs/N/\n"
    "  by-state/STATE/NAME  symlinks by state of the latest run\n"
    "  platforms/P/         kind, health, stats\n"
    "  metrics              Prometheus text exposition of the mount\n";

static int static_text(const struct node *n, char **text_out, size_t *len_out)
{
	if (n->kind != NODE_README)
		return -ENOENT;
	*text_out = strdup(readme_text);
	*len_out = sizeof(readme_text) - 1;
	return *text_out ? 0 : -ENOMEM;
}

static bool is_writable_file(const struct node *n)
{
	return n->kind == NODE_JOB_FILE &&
	       (n->file == JOB_CANCEL || n->file == JOB_RUN);
}

/* Status-like files ask the platform when their cache is older than ttl. */
static bool refreshes_on_read(const struct node *n)
{
	return n->kind == NODE_JOB_FILE &&
	       (n->file == JOB_STATUS || n->file == JOB_STATUS_JSON ||
		n->file == JOB_RESULT || n->file == JOB_STEPS);
}

static int render_view(const struct node *n, const struct run_view *v,
		       char **text_out, size_t *len_out)
{
	switch (n->file) {
	case JOB_STATUS:
		return job_render_status(v, text_out, len_out);
	case JOB_STATUS_JSON:
		return job_render_status_json(v, text_out, len_out);
	default:
		return job_render_error(v, text_out, len_out);
	}
}

static int render_platform_file(struct jobfs *jfs, const struct node *n,
				char **text_out, size_t *len_out)
{
	struct platform *p = platforms_get(jfs->platforms, n->job);
	if (!p)
		return -ENOENT;
	size_t active, held;
	job_platform_counts(jfs->jobs, n->job, &active, &held);
	int rc = n->file == PLATFORM_KIND ? platform_render_kind(p, text_out)
		 : n->file == PLATFORM_HEALTH
		     ? platform_render_health(p, text_out)
		     : platform_render_stats(p, active, held, text_out);
	if (rc == 0)
		*len_out = strlen(*text_out);
	return rc;
}

/*
 * The content of a rendered file. @generation_out (may be NULL) gets the
 * run's state generation for poll().
 */
static int render(struct jobfs *jfs, const struct node *n, bool refresh,
		  char **text_out, size_t *len_out, uint64_t *generation_out)
{
	if (n->kind == NODE_PLATFORM_FILE)
		return render_platform_file(jfs, n, text_out, len_out);
	if (n->kind == NODE_METRICS)
		return metrics_render(jfs, text_out, len_out);
	if (n->kind != NODE_JOB_FILE)
		return static_text(n, text_out, len_out);
	if (n->file == JOB_EVENTS)
		return job_events_text(jfs->jobs, n->job, n->run, text_out,
				       len_out);
	if (n->file == JOB_STEPS)
		return job_steps_text(jfs->jobs, n->job, n->run, refresh,
				      text_out, len_out);
	if (n->file == JOB_CONFIG)
		return job_config_text(jfs->jobs, n->job, text_out, len_out);
	struct run_view v;
	int rc = job_run_view(jfs->jobs, n->job, n->run, refresh, &v);
	if (rc)
		return rc;
	rc = render_view(n, &v, text_out, len_out);
	if (generation_out)
		*generation_out = v.generation;
	job_run_view_release(&v);
	return rc;
}

static int output_stat(struct jobfs *jfs, const struct node *n, struct stat *st)
{
	char *path = NULL;
	struct stat disk;
	int rc = job_output_path(jfs->jobs, n->job, n->run,
				 job_file_names[n->file], &path);
	if (rc == 0 && stat(path, &disk) != 0)
		rc = errno == ENOENT ? 0 : -errno;
	free(path);
	if (rc == 0 && disk.st_size >= 0) {
		st->st_size = disk.st_size;
		st->st_mtim = disk.st_mtim;
	}
	return rc;
}

static int wait_stat(struct jobfs *jfs, const struct node *n, struct stat *st)
{
	struct run_view v;
	int rc = job_run_view(jfs->jobs, n->job, n->run, false, &v);
	if (rc)
		return rc;
	if (state_is_terminal(v.state))
		st->st_size = (off_t)strlen(state_name(v.state)) + 1;
	job_run_view_release(&v);
	return 0;
}

int fs_job_stat(struct jobfs *jfs, const struct node *n, struct stat *st)
{
	if (n->kind == NODE_README) {
		fs_stat_init(st, n, S_IFREG | 0444);
		st->st_size = sizeof(readme_text) - 1;
		st->st_mtime = (time_t)jfs->started_at;
		return 0;
	}
	if (n->kind != NODE_JOB_FILE && n->kind != NODE_PLATFORM_FILE &&
	    n->kind != NODE_METRICS)
		return -ENOENT;
	bool writable = is_writable_file(n);
	fs_stat_init(st, n, S_IFREG | (writable ? 0200 : 0444));
	st->st_mtime = (time_t)jfs->started_at;
	if (writable)
		return job_exists(jfs->jobs, n->job) ? 0 : -ENOENT;
	if (n->file == JOB_RESULT || n->file == JOB_LOG)
		return n->kind == NODE_JOB_FILE ? output_stat(jfs, n, st) : 0;
	if (n->kind == NODE_JOB_FILE && n->file == JOB_WAIT)
		return wait_stat(jfs, n, st);
	char *text;
	size_t len;
	int rc = render(jfs, n, false, &text, &len, NULL);
	if (rc == 0)
		free(text);
	st->st_size = (off_t)len;
	return rc;
}

/* --- open ----------------------------------------------------------------- */

static int open_output(struct jobfs *jfs, struct handle *h)
{
	const struct node *n = h->node;
	if (n->file == JOB_RESULT) { /* a stale run may have just ended */
		struct run_view v;
		if (job_run_view(jfs->jobs, n->job, n->run, true, &v) == 0)
			job_run_view_release(&v);
	}
	job_refresh_output(jfs->jobs, n->job, n->run);
	char *path = NULL;
	int rc = job_output_path(jfs->jobs, n->job, n->run,
				 job_file_names[n->file], &path);
	if (rc == 0) {
		h->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (h->fd < 0)
			rc = errno == ENOENT ? 0 : -errno;
	}
	free(path);
	return rc;
}

static int open_wait(struct jobfs *jfs, struct handle *h)
{
	struct run_view v;
	int rc = job_run_view(jfs->jobs, h->node->job, h->node->run, false, &v);
	if (rc == 0) {
		h->run_id = v.run_id;
		job_run_view_release(&v);
	}
	return rc;
}

static int open_handle(struct jobfs *jfs, struct handle *h)
{
	const struct node *n = h->node;
	if (is_writable_file(n))
		return job_exists(jfs->jobs, n->job) ? 0 : -ENOENT;
	if (n->kind == NODE_JOB_FILE &&
	    (n->file == JOB_RESULT || n->file == JOB_LOG))
		return open_output(jfs, h);
	if (n->kind == NODE_JOB_FILE && n->file == JOB_WAIT)
		return open_wait(jfs, h);
	return render(jfs, n, refreshes_on_read(n), &h->buf, &h->len,
		      &h->seen_generation);
}

void fs_job_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	bool wants_write = (fi->flags & O_ACCMODE) != O_RDONLY;
	bool writable = is_writable_file(n);
	if (n->kind != NODE_JOB_FILE && n->kind != NODE_PLATFORM_FILE &&
	    n->kind != NODE_README && n->kind != NODE_METRICS)
		return fs_reply_rc(req, -EISDIR);
	if (wants_write != writable || (fi->flags & O_ACCMODE) == O_RDWR)
		return fs_reply_rc(req, -EACCES);
	struct handle *h = handle_new(n);
	if (!h)
		return fs_reply_rc(req, -ENOMEM);
	int rc = open_handle(fs_ctx(req), h);
	if (rc) {
		handle_free(h);
		return fs_reply_rc(req, rc);
	}
	fi->direct_io = n->kind != NODE_README;
	/* nothing happens at close (fs_job_flush): spare every close() of
	 * status & co. a round trip to the daemon (FOPEN_NOFLUSH) */
	fi->noflush = 1;
	fs_reply_open(req, h, fi);
}

/* --- read ----------------------------------------------------------------- */

static void reply_slice(fuse_req_t req, const char *buf, size_t len,
			size_t size, off_t off)
{
	size_t start = (size_t)off < len ? (size_t)off : len;
	size_t n = len - start < size ? len - start : size;
	fuse_reply_buf(req, buf + start, n);
}

static void read_wait(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct jobfs *jfs = fs_ctx(req);
	char line[32];
	int rc = job_run_final_line(jfs->jobs, h->run_id, line, sizeof(line));
	if (rc < 0)
		return fs_reply_rc(req, rc);
	if (rc == 1)
		return reply_slice(req, line, strlen(line), size, off);
	rc = waiters_park(jfs->waiters, req, h->run_id, size, off);
	if (rc)
		return fs_reply_rc(req, rc);
	/* the run may have ended between the check and the parking */
	if (job_run_final_line(jfs->jobs, h->run_id, line, sizeof(line)) == 1)
		waiters_wake(jfs->waiters, h->run_id, line);
}

void fs_job_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	const struct node *n = h->node;
	if (n->kind == NODE_JOB_FILE && n->file == JOB_WAIT)
		return read_wait(req, h, size, off);
	if (h->fd >= 0 || (n->kind == NODE_JOB_FILE &&
			   (n->file == JOB_RESULT || n->file == JOB_LOG))) {
		if (h->fd < 0)
			return (void)fuse_reply_buf(req, NULL, 0);
		char *buf = malloc(size);
		if (!buf)
			return fs_reply_rc(req, -ENOMEM);
		ssize_t got = pread(h->fd, buf, size, off);
		if (got < 0)
			fs_reply_rc(req, -errno);
		else
			fuse_reply_buf(req, buf, (size_t)got);
		free(buf);
		return;
	}
	/* a read from the start renders afresh, but for the first one:
	 * open has just rendered (and asked the platform if due) */
	if (off == 0 && h->read_once && n->kind != NODE_README) {
		char *text;
		size_t len;
		int rc = render(fs_ctx(req), n, refreshes_on_read(n), &text,
				&len, &h->seen_generation);
		if (rc)
			return fs_reply_rc(req, rc);
		free(h->buf);
		h->buf = text;
		h->len = len;
	}
	h->read_once = true;
	reply_slice(req, h->buf, h->len, size, off);
}

/* --- cancel and run ------------------------------------------------------- */

static int keep_input(struct handle *h, const char *buf, size_t size)
{
	char *bigger = realloc(h->input, h->input_len + size + 1);
	if (!bigger)
		return -ENOMEM;
	memcpy(bigger + h->input_len, buf, size);
	h->input = bigger;
	h->input_len += size;
	h->input[h->input_len] = '\0';
	return 0;
}

/* The cancel reason: the text written, without trailing newlines. */
static void trim_reason(char *text, size_t len)
{
	while (len > 0 && strchr("\r\n \t", text[len - 1]))
		text[--len] = '\0';
}

static int act(struct jobfs *jfs, struct handle *h)
{
	char err[512] = "";
	const struct node *n = h->node;
	int rc;
	h->acted = true;
	if (n->file == JOB_CANCEL) {
		char *reason = h->input ? h->input : "";
		trim_reason(reason, strlen(reason));
		rc = job_cancel(jfs->jobs, n->job, n->run, reason, err,
				sizeof(err));
	} else {
		rc = job_rerun(jfs->jobs, n->job, h->input ? h->input : "",
			       h->input_len, err, sizeof(err));
	}
	if (rc)
		log_info("job \"%s\": %s refused: %s", n->job,
			 job_file_names[n->file], err);
	return rc;
}

void fs_job_write(fuse_req_t req, struct handle *h, const char *buf,
		  size_t size)
{
	if (h->acted)
		return fs_reply_rc(req, -EINVAL);
	int rc = keep_input(h, buf, size);
	/* an override is taken once it is whole JSON, or can never be; a
	 * blank line (`echo > NAME/run`) is no override, right now */
	bool blank_line = h->input_len > 0 &&
			  h->input[h->input_len - 1] == '\n' &&
			  strspn(h->input, " \t\r\n") == h->input_len;
	bool ready = h->node->file == JOB_CANCEL || blank_line ||
		     !jobconf_is_json_prefix(h->input, h->input_len);
	if (rc == 0 && ready)
		rc = act(fs_ctx(req), h);
	if (rc)
		return fs_reply_rc(req, rc);
	fuse_reply_write(req, size);
}

/*
 * close() is no moment to act: shells dup2() the file onto stdout and
 * close the original before they write, so the first flush comes before
 * the data. A file closed without any write (`: > NAME/run`) acts when it
 * is released instead.
 */
void fs_job_flush(fuse_req_t req, struct handle *h)
{
	fs_reply_rc(req, 0);
}

/* --- poll and release ----------------------------------------------------- */

void fs_job_poll(fuse_req_t req, struct handle *h, struct fuse_pollhandle *ph)
{
	struct jobfs *jfs = fs_ctx(req);
	const struct node *n = h->node;
	bool follows_state =
	    n->kind == NODE_JOB_FILE &&
	    (n->file == JOB_STATUS || n->file == JOB_STATUS_JSON);
	if (!follows_state) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		return (void)fuse_reply_poll(req, POLLIN | POLLRDNORM);
	}
	/* keep the handle first, so that a change right after the check
	 * below still notifies it */
	if (ph)
		waiters_poll_keep(jfs->waiters, h, n->job, ph);
	struct run_view v;
	unsigned revents = 0;
	if (job_run_view(jfs->jobs, n->job, n->run, false, &v) == 0) {
		if (v.generation != h->seen_generation)
			revents = POLLIN | POLLRDNORM | POLLPRI;
		job_run_view_release(&v);
	} else {
		revents = POLLERR;
	}
	fuse_reply_poll(req, revents);
}

void fs_job_release(struct jobfs *jfs, struct handle *h)
{
	waiters_poll_forget(jfs->waiters, h);
	if (is_writable_file(h->node) && !h->acted)
		act(jfs, h);
}
