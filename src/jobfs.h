/*
 * struct jobfs: the one daemon context. Made in main(), handed to libfuse
 * as userdata and to the poller; there is no other global state (but the
 * log sink, see log.c).
 */
#ifndef JOBFS_JOBFS_H
#define JOBFS_JOBFS_H

#include <pthread.h>

#include <fuse_lowlevel.h>

#include "config.h"
#include "handle.h"
#include "job.h"
#include "node.h"
#include "options.h"
#include "platform.h"
#include "poller.h"
#include "store.h"
#include "waiters.h"

struct jobfs {
	struct options opts;
	struct config config;
	char *new_dir; /* backing directory of new/ */
	int lock_fd;   /* flock on STATE/lock: one daemon per state dir */
	double started_at;
	struct store *store;
	struct platforms *platforms;
	struct jobcore *jobs;
	struct waiters *waiters;
	struct nodes *nodes;
	struct handles *handles;
	struct poller *poller;
	struct fuse_session *session;
	pthread_mutex_t inval_lock;
	char **inval_jobs; /* jobs whose kernel caches must be dropped */
	size_t ninval;
};

#endif
