/*
 * The inode table: nodes hashed by (parent, name), freed when the kernel
 * forgets them. A child's lookup keeps its parent alive in the kernel, so
 * a parent pointer never outlives its target; the table still counts
 * children so that a parent forgotten first is freed last.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

#define HASH_BUCKETS 4096

struct nodes {
	pthread_mutex_t lock;
	struct node root;
	struct node **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t next_generation;
};

static size_t hash_key(const struct nodes *ns, const struct node *parent,
		       const char *name)
{
	size_t h = (size_t)(uintptr_t)parent * 31u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = h * 131u + *p;
	return h % ns->nbuckets;
}

int nodes_new(struct nodes **out)
{
	struct nodes *ns = calloc(1, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	ns->nbuckets = HASH_BUCKETS;
	ns->buckets = calloc(ns->nbuckets, sizeof(*ns->buckets));
	ns->root.name = strdup("");
	if (!ns->buckets || !ns->root.name) {
		free(ns->buckets);
		free(ns->root.name);
		free(ns);
		return -ENOMEM;
	}
	ns->root.kind = NODE_ROOT;
	ns->root.nlookup = 1;
	pthread_mutex_init(&ns->lock, NULL);
	*out = ns;
	return 0;
}

static void node_free(struct node *n)
{
	free(n->name);
	free(n->job);
	free(n);
}

void nodes_free(struct nodes *ns)
{
	if (!ns)
		return;
	for (size_t i = 0; i < ns->nbuckets; i++) {
		struct node *n = ns->buckets[i];
		while (n) {
			struct node *next = n->hash_next;
			node_free(n);
			n = next;
		}
	}
	free(ns->buckets);
	free(ns->root.name);
	pthread_mutex_destroy(&ns->lock);
	free(ns);
}

struct node *nodes_root(struct nodes *ns)
{
	return &ns->root;
}

fuse_ino_t node_ino(const struct node *n)
{
	return n->kind == NODE_ROOT ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

struct node *nodes_from_ino(struct nodes *ns, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &ns->root : (struct node *)(uintptr_t)ino;
}

/* Finds @parent/@name. Locked. */
static struct node **find_slot(struct nodes *ns, const struct node *parent,
			       const char *name)
{
	struct node **slot = &ns->buckets[hash_key(ns, parent, name)];
	while (*slot &&
	       ((*slot)->parent != parent || strcmp((*slot)->name, name) != 0))
		slot = &(*slot)->hash_next;
	return slot;
}

static void unhash(struct nodes *ns, struct node *n)
{
	struct node **slot = find_slot(ns, n->parent, n->name);
	if (*slot == n)
		*slot = n->hash_next;
	n->hash_next = NULL;
}

static struct node *node_create(struct nodes *ns, struct node *parent,
				const char *name, enum node_kind kind, int file,
				int run, const char *job)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	*n = (struct node){.parent = parent,
			   .kind = kind,
			   .file = file,
			   .run = run,
			   .generation = ++ns->next_generation};
	n->name = strdup(name);
	n->job = job ? strdup(job) : NULL;
	if (!n->name || (job && !n->job)) {
		node_free(n);
		return NULL;
	}
	return n;
}

struct node *nodes_lookup(struct nodes *ns, struct node *parent,
			  const char *name, enum node_kind kind, int file,
			  int run, const char *job)
{
	pthread_mutex_lock(&ns->lock);
	struct node **slot = find_slot(ns, parent, name);
	struct node *n = *slot;
	if (n && (n->kind != kind || n->file != file || n->run != run)) {
		/* the name now means something else: detach the old node,
		 * which lives on until the kernel forgets it */
		*slot = n->hash_next;
		n->hash_next = NULL;
		n->parent = NULL;
		n = NULL;
	}
	if (!n) {
		n = node_create(ns, parent, name, kind, file, run, job);
		if (n) {
			n->hash_next = *slot;
			*slot = n;
			ns->count++;
		}
	}
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&ns->lock);
	return n;
}

void nodes_forget(struct nodes *ns, struct node *n, uint64_t count)
{
	if (n->kind == NODE_ROOT)
		return;
	pthread_mutex_lock(&ns->lock);
	n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
	bool gone = n->nlookup == 0;
	if (gone && n->parent)
		unhash(ns, n);
	if (gone)
		ns->count--;
	pthread_mutex_unlock(&ns->lock);
	if (gone)
		node_free(n);
}

void nodes_rename(struct nodes *ns, struct node *parent, const char *name,
		  struct node *new_parent, const char *new_name)
{
	char *copy = strdup(new_name);
	if (!copy)
		return;
	pthread_mutex_lock(&ns->lock);
	struct node **target = find_slot(ns, new_parent, new_name);
	if (*target) { /* the replaced name is detached, as in lookup */
		struct node *old = *target;
		*target = old->hash_next;
		old->hash_next = NULL;
		old->parent = NULL;
	}
	struct node **slot = find_slot(ns, parent, name);
	struct node *n = *slot;
	if (n) {
		*slot = n->hash_next;
		free(n->name);
		n->name = copy;
		copy = NULL;
		n->parent = new_parent;
		struct node **dest = find_slot(ns, new_parent, new_name);
		n->hash_next = *dest;
		*dest = n;
	}
	pthread_mutex_unlock(&ns->lock);
	free(copy);
}

int nodes_path(struct nodes *ns, const struct node *n, enum node_kind top,
	       char *buf, size_t len)
{
	int rc = 0;
	size_t at = len - 1;
	pthread_mutex_lock(&ns->lock);
	buf[at] = '\0';
	for (; n && n->kind != top; n = n->parent) {
		size_t l = strlen(n->name);
		bool first = buf[at] == '\0';
		if (l + !first > at) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (!first)
			buf[--at] = '/';
		at -= l;
		memcpy(buf + at, n->name, l);
	}
	if (!n && rc == 0)
		rc = -ENOENT; /* detached by a replace: the name is gone */
	pthread_mutex_unlock(&ns->lock);
	if (rc == 0)
		memmove(buf, buf + at, len - at);
	return rc;
}

bool nodes_known(struct nodes *ns, struct node *parent, const char *name,
		 fuse_ino_t *ino_out)
{
	pthread_mutex_lock(&ns->lock);
	struct node *n = *find_slot(ns, parent, name);
	if (n)
		*ino_out = node_ino(n);
	pthread_mutex_unlock(&ns->lock);
	return n != NULL;
}
