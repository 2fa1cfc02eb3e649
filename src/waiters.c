/*
 * Parked reads and poll handles.
 *
 * Interrupts race with wake-ups, and libfuse may call the interrupt
 * callback synchronously from fuse_req_interrupt_func() (if the interrupt
 * arrived first), while holding the request's own lock: replying there
 * would free the request under libfuse's feet. So a waiter is entered in
 * the list as `registering`; an interrupt that finds it so only marks it,
 * and the parking thread replies after registration. Whoever takes a
 * waiter out of the list (wake, interrupt or park) is the one who replies,
 * and the interrupt callback identifies its waiter by request pointer
 * under the lock, never through a pointer that may already be freed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "waiters.h"

struct waiter {
	struct waiter *next;
	fuse_req_t req;
	int64_t run_id;
	size_t size;
	off_t off;
	bool registering;
	bool interrupted;
	char *final_line; /* set by a wake that came while registering */
};

struct poll_entry {
	struct poll_entry *next;
	const void *owner;
	char *job;
	struct fuse_pollhandle *ph;
};

struct waiters {
	pthread_mutex_t lock;
	struct waiter *parked;
	size_t nparked;
	struct poll_entry *polls;
};

int waiters_new(struct waiters **out)
{
	struct waiters *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	*out = w;
	return 0;
}

/* Unlinks @target from the parked list. Locked. */
static void unlink_waiter(struct waiters *w, struct waiter *target)
{
	for (struct waiter **p = &w->parked; *p; p = &(*p)->next) {
		if (*p == target) {
			*p = target->next;
			w->nparked--;
			return;
		}
	}
}

static void reply_line(fuse_req_t req, const char *line, size_t size, off_t off)
{
	size_t len = strlen(line);
	size_t start = (size_t)off < len ? (size_t)off : len;
	size_t n = len - start < size ? len - start : size;
	fuse_reply_buf(req, line + start, n);
}

static void waiter_free(struct waiter *wt)
{
	free(wt->final_line);
	free(wt);
}

static void on_interrupt(fuse_req_t req, void *data)
{
	struct waiters *w = data;
	struct waiter *found = NULL;
	pthread_mutex_lock(&w->lock);
	for (struct waiter *wt = w->parked; wt; wt = wt->next)
		if (wt->req == req)
			found = wt;
	if (found && found->registering) {
		found->interrupted = true;
		found = NULL;
	} else if (found) {
		unlink_waiter(w, found);
	}
	pthread_mutex_unlock(&w->lock);
	if (found) {
		fuse_reply_err(req, EINTR);
		waiter_free(found);
	}
}

int waiters_park(struct waiters *w, fuse_req_t req, int64_t run_id, size_t size,
		 off_t off)
{
	struct waiter *wt = calloc(1, sizeof(*wt));
	if (!wt)
		return -ENOMEM;
	*wt = (struct waiter){.req = req,
			      .run_id = run_id,
			      .size = size,
			      .off = off,
			      .registering = true};
	pthread_mutex_lock(&w->lock);
	wt->next = w->parked;
	w->parked = wt;
	w->nparked++;
	pthread_mutex_unlock(&w->lock);

	fuse_req_interrupt_func(req, on_interrupt, w);

	pthread_mutex_lock(&w->lock);
	wt->registering = false;
	bool done = wt->interrupted || wt->final_line;
	if (done)
		unlink_waiter(w, wt);
	pthread_mutex_unlock(&w->lock);
	if (wt->interrupted)
		fuse_reply_err(req, EINTR);
	else if (wt->final_line)
		reply_line(req, wt->final_line, size, off);
	if (done)
		waiter_free(wt);
	return 0;
}

void waiters_wake(struct waiters *w, int64_t run_id, const char *line)
{
	struct waiter *ready = NULL;
	pthread_mutex_lock(&w->lock);
	struct waiter **p = &w->parked;
	while (*p) {
		struct waiter *wt = *p;
		if (wt->run_id != run_id) {
			p = &wt->next;
		} else if (wt->registering) {
			if (!wt->final_line)
				wt->final_line = strdup(line);
			p = &wt->next;
		} else {
			*p = wt->next;
			w->nparked--;
			wt->next = ready;
			ready = wt;
		}
	}
	pthread_mutex_unlock(&w->lock);
	while (ready) {
		struct waiter *next = ready->next;
		reply_line(ready->req, line, ready->size, ready->off);
		waiter_free(ready);
		ready = next;
	}
}

size_t waiters_parked(struct waiters *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->nparked;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* Takes the entry of @owner out of the poll list, or NULL. Locked. */
static struct poll_entry *take_poll(struct waiters *w, const void *owner)
{
	for (struct poll_entry **p = &w->polls; *p; p = &(*p)->next) {
		if ((*p)->owner == owner) {
			struct poll_entry *e = *p;
			*p = e->next;
			return e;
		}
	}
	return NULL;
}

static void poll_entry_free(struct poll_entry *e, bool notify)
{
	if (!e)
		return;
	if (notify)
		fuse_lowlevel_notify_poll(e->ph);
	fuse_pollhandle_destroy(e->ph);
	free(e->job);
	free(e);
}

int waiters_poll_keep(struct waiters *w, const void *owner, const char *job,
		      struct fuse_pollhandle *ph)
{
	struct poll_entry *e = calloc(1, sizeof(*e));
	char *name = strdup(job);
	if (!e || !name) {
		free(e);
		free(name);
		fuse_pollhandle_destroy(ph);
		return -ENOMEM;
	}
	*e = (struct poll_entry){.owner = owner, .job = name, .ph = ph};
	pthread_mutex_lock(&w->lock);
	struct poll_entry *old = take_poll(w, owner);
	e->next = w->polls;
	w->polls = e;
	pthread_mutex_unlock(&w->lock);
	poll_entry_free(old, false);
	return 0;
}

void waiters_poll_notify(struct waiters *w, const char *job)
{
	struct poll_entry *ready = NULL;
	pthread_mutex_lock(&w->lock);
	struct poll_entry **p = &w->polls;
	while (*p) {
		struct poll_entry *e = *p;
		if (strcmp(e->job, job) == 0) {
			*p = e->next;
			e->next = ready;
			ready = e;
		} else {
			p = &e->next;
		}
	}
	pthread_mutex_unlock(&w->lock);
	while (ready) {
		struct poll_entry *next = ready->next;
		poll_entry_free(ready, true);
		ready = next;
	}
}

void waiters_poll_forget(struct waiters *w, const void *owner)
{
	pthread_mutex_lock(&w->lock);
	struct poll_entry *e = take_poll(w, owner);
	pthread_mutex_unlock(&w->lock);
	poll_entry_free(e, false);
}

void waiters_free(struct waiters *w)
{
	if (!w)
		return;
	while (w->parked) {
		struct waiter *wt = w->parked;
		w->parked = wt->next;
		fuse_reply_err(wt->req, EINTR);
		waiter_free(wt);
	}
	while (w->polls) {
		struct poll_entry *e = w->polls;
		w->polls = e->next;
		poll_entry_free(e, false);
	}
	pthread_mutex_destroy(&w->lock);
	free(w);
}
