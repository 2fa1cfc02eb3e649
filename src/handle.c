/*
 * The open-file table: handles by id, with references for the requests
 * that use them (see handle.h for why).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "handle.h"

#define BUCKETS 1024

struct handles {
	pthread_mutex_t lock;
	struct handle *buckets[BUCKETS];
	uint64_t next_id;
};

int handles_new(struct handles **out)
{
	struct handles *hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -ENOMEM;
	pthread_mutex_init(&hs->lock, NULL);
	*out = hs;
	return 0;
}

void handles_free(struct handles *hs)
{
	if (!hs)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		while (hs->buckets[i]) {
			struct handle *h = hs->buckets[i];
			hs->buckets[i] = h->next;
			handle_free(h);
		}
	}
	pthread_mutex_destroy(&hs->lock);
	free(hs);
}

struct handle *handle_new(struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));
	if (h) {
		h->node = n;
		h->fd = -1;
	}
	return h;
}

void handle_free(struct handle *h)
{
	if (!h)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->buf);
	free(h->input);
	free(h);
}

uint64_t handles_add(struct handles *hs, struct handle *h)
{
	pthread_mutex_lock(&hs->lock);
	h->id = ++hs->next_id;
	h->refs = 1; /* the table's own */
	struct handle **bucket = &hs->buckets[h->id % BUCKETS];
	h->next = *bucket;
	*bucket = h;
	pthread_mutex_unlock(&hs->lock);
	return h->id;
}

struct handle *handles_get(struct handles *hs, uint64_t id)
{
	pthread_mutex_lock(&hs->lock);
	struct handle *h = hs->buckets[id % BUCKETS];
	while (h && h->id != id)
		h = h->next;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&hs->lock);
	return h;
}

/* Drops one reference. Locked; returns whether the handle must go. */
static bool drop(struct handle *h)
{
	return --h->refs == 0;
}

void handles_put(struct handles *hs, struct handle *h)
{
	pthread_mutex_lock(&hs->lock);
	bool gone = drop(h);
	pthread_mutex_unlock(&hs->lock);
	if (gone)
		handle_free(h);
}

void handles_remove(struct handles *hs, uint64_t id)
{
	pthread_mutex_lock(&hs->lock);
	struct handle **p = &hs->buckets[id % BUCKETS];
	while (*p && (*p)->id != id)
		p = &(*p)->next;
	struct handle *h = *p;
	bool gone = false;
	if (h) {
		*p = h->next;
		gone = drop(h);
	}
	pthread_mutex_unlock(&hs->lock);
	if (gone)
		handle_free(h);
}
