# The daemon: everything but main.c is libjobfs.a, which the unit tests link.
noinst_LIBRARIES += src/libjobfs.a
src_libjobfs_a_SOURCES = \
	%D%/state.c %D%/state.h \
	%D%/log.c %D%/log.h \
	%D%/notify.c %D%/notify.h \
	%D%/clock.c %D%/clock.h \
	%D%/duration.c %D%/duration.h \
	%D%/message.c %D%/message.h %D%/call.h \
	%D%/fsutil.c %D%/fsutil.h \
	%D%/jobconf.c %D%/jobconf.h \
	%D%/config.c %D%/config.h \
	%D%/bundle.c %D%/bundle.h \
	%D%/store.c %D%/store.h \
	%D%/platform.c %D%/platform.h \
	%D%/ratelimit.c %D%/ratelimit.h \
	%D%/job.c %D%/job.h %D%/job_internal.h \
	%D%/job_deploy.c %D%/job_apply.c %D%/job_read.c \
	%D%/job_poll.c %D%/job_submit.c %D%/job_cancel.c \
	%D%/job_recover.c %D%/job_retain.c %D%/job_steps.c \
	%D%/job_render.c %D%/job_render.h \
	%D%/poller.c %D%/poller.h \
	%D%/histogram.c %D%/histogram.h %D%/metrics.c %D%/metrics.h \
	%D%/waiters.c %D%/waiters.h \
	%D%/node.c %D%/node.h \
	%D%/handle.c %D%/handle.h \
	%D%/fs.c %D%/fs.h \
	%D%/fs_job.c %D%/fs_job.h %D%/fs_new.c %D%/fs_new.h \
	%D%/fs_reply.c %D%/fs_reply.h %D%/fs_notify.c %D%/fs_notify.h \
	%D%/options.c %D%/options.h \
	%D%/http.c %D%/http.h \
	%D%/secret.c %D%/secret.h \
	%D%/aad.c %D%/aad.h \
	%D%/artifact.c %D%/artifact.h \
	%D%/jobfs.h \
	$(PLATFORM_SOURCES)

bin_PROGRAMS += src/jobfs
src_jobfs_SOURCES = %D%/main.c
src_jobfs_LDADD = src/libjobfs.a $(JOBFS_LIBS)
