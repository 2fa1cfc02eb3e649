/*
 * The inode table of the mount.
 *
 * A node is one name the kernel has looked up: its parent, its name, what
 * it is (kind), and for job files which job, run and file it shows. The
 * kernel's lookup count (nlookup) keeps a node alive; forget frees it. The
 * fuse_ino_t of a node is its address, as in libfuse's passthrough_ll, with
 * FUSE_ROOT_ID standing for the root.
 *
 * Names are looked up by (parent, name) in a hash table; only rename (in
 * new/) changes them. All of it is behind the table's mutex.
 */
#ifndef JOBFS_NODE_H
#define JOBFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fuse_lowlevel.h>

enum node_kind {
	NODE_ROOT,
	NODE_README,
	NODE_METRICS,	    /* metrics: the Prometheus text exposition */
	NODE_NEW,	    /* new/ */
	NODE_STAGED,	    /* anything below new/ */
	NODE_BY_STATE,	    /* by-state/ */
	NODE_STATE_DIR,	    /* by-state/STATE/ (file = state) */
	NODE_STATE_LINK,    /* by-state/STATE/NAME */
	NODE_PLATFORMS,	    /* platforms/ */
	NODE_PLATFORM,	    /* platforms/PNAME/ */
	NODE_PLATFORM_FILE, /* kind, health, stats (file = index) */
	NODE_JOB,	    /* NAME/ */
	NODE_JOB_FILE,	    /* NAME/status ... (file, run) */
	NODE_RUNS,	    /* NAME/runs/ */
	NODE_RUN,	    /* NAME/runs/N/ (run = N) */
	NODE_RUNS_LATEST,   /* NAME/runs/latest */
	NODE_APP,	    /* NAME/app/ */
	NODE_APP_ENTRY,	    /* anything below NAME/app/ */
};

struct node {
	struct node *parent;
	char *name;
	enum node_kind kind;
	int file;	  /* which file or state, by kind */
	int run;	  /* run number, 0 for the latest */
	char *job;	  /* job (or platform) this node belongs to, or NULL */
	uint64_t nlookup; /* the kernel's references */
	uint64_t generation;
	struct node *hash_next;
};

struct nodes;

int nodes_new(struct nodes **out);
void nodes_free(struct nodes *ns);

struct node *nodes_root(struct nodes *ns);
fuse_ino_t node_ino(const struct node *n);
struct node *nodes_from_ino(struct nodes *ns, fuse_ino_t ino);

/*
 * Finds the child @name of @parent, creating it with @kind/@file/@run if
 * missing (a node of another kind under the same name is replaced), and
 * counts one kernel lookup. @job is copied. NULL when out of memory.
 */
struct node *nodes_lookup(struct nodes *ns, struct node *parent,
			  const char *name, enum node_kind kind, int file,
			  int run, const char *job);

/* Drops @count kernel lookups; frees the node at zero. */
void nodes_forget(struct nodes *ns, struct node *n, uint64_t count);

/* Moves a node to a new parent and name (rename in new/). */
void nodes_rename(struct nodes *ns, struct node *parent, const char *name,
		  struct node *new_parent, const char *new_name);

/*
 * The path of @n below the nearest ancestor of kind @top ("" for the top
 * itself, else "a/b"), for nodes that mirror a directory on disk.
 * -ENAMETOOLONG when it does not fit.
 */
int nodes_path(struct nodes *ns, const struct node *n, enum node_kind top,
	       char *buf, size_t len);

/* Whether the kernel holds @parent/@name (for invalidation), with its ino. */
bool nodes_known(struct nodes *ns, struct node *parent, const char *name,
		 fuse_ino_t *ino_out);

#endif
