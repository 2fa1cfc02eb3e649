/*
 * jobfs: start-up and shutdown, in this order:
 *   options → config → state dir and its lock → store → job core →
 *   platforms → load → FUSE session, mount, daemonize → poller → loop
 * and unwound in reverse. The poller starts after daemonizing (fork would
 * not carry its thread along), as libfuse's notify examples do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fuse_lowlevel.h>

#include "clock.h"
#include "fs.h"
#include "fsutil.h"
#include "jobfs.h"
#include "log.h"
#include "notify.h"

static void usage(const char *progname)
{
	printf("usage: %s [options] MOUNTPOINT\n\n", progname);
	printf("Presents data and compute jobs as files (see jobfs(1), "
	       "jobfs(5)).\n\n");
	options_print_help();
	printf("FUSE options:\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Takes STATE/lock; a second daemon on the same state dir is refused. */
static int lock_state_dir(struct jobfs *jfs)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/lock", jfs->opts.state_dir);
	jfs->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (jfs->lock_fd < 0) {
		fprintf(stderr, "jobfs: cannot open \"%s\": %s\n", path,
			strerror(errno));
		return -errno;
	}
	if (flock(jfs->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";
		ssize_t n = pread(jfs->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		fprintf(stderr,
			"jobfs: state directory \"%s\" is in use by another "
			"jobfs (pid %s)\n",
			jfs->opts.state_dir, pid[0] ? pid : "unknown");
		return -EBUSY;
	}
	return 0;
}

static void record_pid(struct jobfs *jfs)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(jfs->lock_fd, 0) == 0 &&
	    pwrite(jfs->lock_fd, pid, (size_t)n, 0) != n)
		log_warn("cannot record the pid in the lock file");
}

static int prepare_state_dir(struct jobfs *jfs)
{
	static const char *const subdirs[] = {"new", "jobs", "runs", "tmp",
					      "platforms"};
	char path[4096];
	int rc = fsutil_mkdir_p(jfs->opts.state_dir, 0700);
	for (size_t i = 0; rc == 0 && i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", jfs->opts.state_dir,
			 subdirs[i]);
		rc = fsutil_mkdir_p(path, i == 0 ? 0755 : 0700);
	}
	if (rc) {
		fprintf(stderr,
			"jobfs: cannot create the state directory "
			"\"%s\": %s\n",
			jfs->opts.state_dir, strerror(-rc));
		return rc;
	}
	return asprintf(&jfs->new_dir, "%s/new", jfs->opts.state_dir) < 0
		   ? -ENOMEM
		   : 0;
}

static void on_platform_changed(void *ctx, const char *platform,
				const char *remote_id)
{
	struct jobfs *jfs = ctx;
	if (jfs->jobs)
		job_platform_changed(jfs->jobs, platform, remote_id);
}

static void on_kick(void *ctx)
{
	struct jobfs *jfs = ctx;
	poller_kick(jfs->poller);
}

static void on_kick_in(void *ctx, double seconds)
{
	struct jobfs *jfs = ctx;
	poller_kick_in(jfs->poller, seconds);
}

/* Opens the platforms; a config error names the file it is in. */
static int open_platforms(struct jobfs *jfs, const struct platform_listener *pl,
			  char *err, size_t errlen)
{
	char why[768] = "";
	int rc = platforms_open(&jfs->config, jfs->opts.state_dir, pl,
				&jfs->platforms, why, sizeof(why));
	if (rc)
		snprintf(err, errlen, "%s%s%s",
			 jfs->config.path ? jfs->config.path : "",
			 jfs->config.path ? ": " : "", why);
	return rc;
}

static int open_core(struct jobfs *jfs)
{
	char path[4096], err[1024] = "";
	snprintf(path, sizeof(path), "%s/jobfs.db", jfs->opts.state_dir);
	int rc = store_open(path, &jfs->store);
	if (rc) {
		fprintf(stderr,
			"jobfs: cannot open the state database "
			"\"%s\": %s\n",
			path, strerror(-rc));
		return rc;
	}
	struct job_settings settings = {
	    .state_dir = jfs->opts.state_dir,
	    .default_platform = jfs->opts.platform
				    ? jfs->opts.platform
				    : jfs->config.default_platform,
	    .bundle_limit = jfs->config.bundle_limit,
	    .ttl = jfs->opts.ttl,
	    /* -o keep= wins over the config's "keep" */
	    .keep = jfs->opts.keep > 0 ? jfs->opts.keep : jfs->config.keep,
	};
	struct job_listener listener = {
	    .changed = fs_run_changed,
	    .replaced = fs_job_replaced,
	    .kick = on_kick,
	    .kick_in = on_kick_in,
	    .ctx = jfs,
	};
	rc = job_core_new(jfs->store, &settings, &listener, &jfs->jobs);
	struct platform_listener pl = {.changed = on_platform_changed,
				       .ctx = jfs};
	if (rc == 0)
		rc = open_platforms(jfs, &pl, err, sizeof(err));
	if (rc == 0 &&
	    !platforms_get(jfs->platforms, settings.default_platform)) {
		snprintf(err, sizeof(err), "unknown platform \"%s\"",
			 settings.default_platform);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = job_core_start(jfs->jobs, jfs->platforms);
	if (rc)
		fprintf(stderr, "jobfs: %s\n", err[0] ? err : strerror(-rc));
	return rc;
}

static void close_core(struct jobfs *jfs)
{
	poller_stop(jfs->poller);
	jfs->poller = NULL;
	platforms_close(jfs->platforms);
	job_core_free(jfs->jobs);
	store_close(jfs->store);
}

static int load_config(struct jobfs *jfs)
{
	char err[1024];
	int rc = options_finish(&jfs->opts, err, sizeof(err));
	if (rc == 0)
		rc = config_load(jfs->opts.config_path, &jfs->config, err,
				 sizeof(err));
	if (rc)
		fprintf(stderr, "jobfs: %s\n", err);
	return rc;
}

static size_t active_runs(struct jobfs *jfs)
{
	size_t n = 0;
	for (size_t i = 0; i < platforms_count(jfs->platforms); i++) {
		size_t active, held;
		job_platform_counts(jfs->jobs,
				    platforms_name(jfs->platforms, i), &active,
				    &held);
		n += active + held;
	}
	return n;
}

/* After every poller pass, in the poller thread, with no lock held. */
static void after_pass(void *ctx)
{
	struct jobfs *jfs = ctx;
	fs_flush_invalidations(jfs);
	notify_status(active_runs(jfs));
}

/* Mounts and serves until unmounted; returns the exit status. */
static int serve(struct jobfs *jfs, struct fuse_args *args,
		 struct fuse_cmdline_opts *cl)
{
	int status = 1;
	jfs->session = fuse_session_new(args, fs_ops(), sizeof(*fs_ops()), jfs);
	if (!jfs->session)
		return 1;
	if (fuse_set_signal_handlers(jfs->session) != 0)
		goto out_session;
	if (fuse_session_mount(jfs->session, cl->mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(cl->foreground);
	record_pid(jfs);
	if (poller_start(jfs->jobs, jfs->opts.poll, after_pass, jfs,
			 &jfs->poller) != 0)
		goto out_unmount;
	log_info("mounted on \"%s\" (state \"%s\")", cl->mountpoint,
		 jfs->opts.state_dir);
	notify_ready(cl->mountpoint);
	struct fuse_loop_config *loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, 16);
	status = cl->singlethread ? fuse_session_loop(jfs->session)
				  : fuse_session_loop_mt(jfs->session, loop);
	fuse_loop_cfg_destroy(loop);
	status = status == 0 ? 0 : 1;
	notify_stopping();
	log_info("unmounting \"%s\"", cl->mountpoint);
	poller_stop(jfs->poller);
	jfs->poller = NULL;
out_unmount:
	fuse_session_unmount(jfs->session);
out_signals:
	fuse_remove_signal_handlers(jfs->session);
out_session:
	waiters_free(jfs->waiters);
	jfs->waiters = NULL;
	fuse_session_destroy(jfs->session);
	jfs->session = NULL;
	return status;
}

static void start_logging(struct jobfs *jfs, struct fuse_cmdline_opts *cl)
{
	static const char *const sinks[] = {"stderr", "syslog", "journal"};
	enum log_level level = cl->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
	if (jfs->opts.log_level >= 0)
		level = (enum log_level)jfs->opts.log_level;
	log_init(cl->foreground, level);
	log_debug("jobfs %s: logging to %s; config \"%s\", poll %gs, ttl %gs",
		  PACKAGE_VERSION, sinks[log_sink()],
		  jfs->opts.config_path ? jfs->opts.config_path : "(default)",
		  jfs->opts.poll, jfs->opts.ttl);
}

static int run_daemon(struct fuse_args *args, struct fuse_cmdline_opts *cl,
		      struct jobfs *jfs)
{
	start_logging(jfs, cl);
	jfs->lock_fd = -1;
	jfs->started_at = clock_wall();
	pthread_mutex_init(&jfs->inval_lock, NULL);
	int status = 1;
	if (load_config(jfs) || prepare_state_dir(jfs) || lock_state_dir(jfs))
		goto out;
	if (nodes_new(&jfs->nodes) || handles_new(&jfs->handles) ||
	    waiters_new(&jfs->waiters))
		goto out;
	if (open_core(jfs) == 0)
		status = serve(jfs, args, cl);
	close_core(jfs);
out:
	fs_release(jfs);
	waiters_free(jfs->waiters);
	handles_free(jfs->handles);
	nodes_free(jfs->nodes);
	if (jfs->lock_fd >= 0)
		close(jfs->lock_fd);
	free(jfs->new_dir);
	config_release(&jfs->config);
	pthread_mutex_destroy(&jfs->inval_lock);
	return status;
}

int main(int argc, char *argv[])
{
	if (argc > 1 && strcmp(argv[1], "--platform-helper") == 0)
		return platform_helper_main(argc - 2, argv + 2);
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cl = {0};
	struct jobfs jfs = {0};
	char err[512];
	int status = 1;
	if (options_parse(&args, &jfs.opts, err, sizeof(err)) != 0) {
		fprintf(stderr, "jobfs: %s\n", err);
		goto out;
	}
	if (fuse_parse_cmdline(&args, &cl) != 0)
		goto out;
	if (cl.show_help || cl.show_version) {
		if (cl.show_help)
			usage(argv[0]);
		else
			printf("jobfs %s\nFUSE library version %s\n",
			       PACKAGE_VERSION, fuse_pkgversion());
		status = 0;
	} else if (!cl.mountpoint) {
		fprintf(stderr,
			"usage: %s [options] MOUNTPOINT\n"
			"try '%s --help' for more information\n",
			argv[0], argv[0]);
		status = 2;
	} else {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		status = run_daemon(&args, &cl, &jfs);
		curl_global_cleanup();
	}
out:
	free(cl.mountpoint);
	options_release(&jfs.opts);
	fuse_opt_free_args(&args);
	return status;
}
