/*
 * Parked `wait` reads and poll handles.
 *
 * A read of `wait` whose run has not ended is parked here: no thread is
 * held, the FUSE request simply stays unanswered until waiters_wake() for
 * its run replies to it, or an interrupt (Ctrl-C) ends it with EINTR.
 * poll() handles are kept per job and notified when any of its runs
 * changes state; one handle per open file, a newer one replacing the old.
 *
 * All replies and notifications happen outside the waiters' lock.
 */
#ifndef JOBFS_WAITERS_H
#define JOBFS_WAITERS_H

#include <stddef.h>
#include <stdint.h>

#include <fuse_lowlevel.h>

struct waiters;

int waiters_new(struct waiters **out);

/* Answers every parked read with EINTR and destroys poll handles. */
void waiters_free(struct waiters *w);

/*
 * Parks @req (a read of @size bytes at @off) until run @run_id ends. The
 * caller must check, after parking, whether the run has already ended and
 * call waiters_wake() if so (the wake may otherwise be lost).
 */
int waiters_park(struct waiters *w, fuse_req_t req, int64_t run_id, size_t size,
		 off_t off);

/* Replies @line (sliced by each read's offset and size) to run's readers. */
void waiters_wake(struct waiters *w, int64_t run_id, const char *line);

size_t waiters_parked(struct waiters *w);

/*
 * Keeps @ph for the open file @owner of job @job, destroying the handle
 * that owner kept before. Takes ownership of @ph.
 */
int waiters_poll_keep(struct waiters *w, const void *owner, const char *job,
		      struct fuse_pollhandle *ph);

/* Notifies and drops every poll handle kept for @job. */
void waiters_poll_notify(struct waiters *w, const char *job);

/* Drops the handle of a closed file. */
void waiters_poll_forget(struct waiters *w, const void *owner);

#endif
