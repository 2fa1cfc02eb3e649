/*
 * Open files (fi->fh) of the mount.
 *
 * fi->fh holds a handle's id, not its address: when a process is killed
 * in the middle of a read, the kernel sends RELEASE without waiting for
 * the READ it abandoned, so the two may run at once on two worker
 * threads. Requests therefore take a reference through the table
 * (handles_get) and the handle is freed when the last one is put back.
 */
#ifndef JOBFS_HANDLE_H
#define JOBFS_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;

/* Per open file. */
struct handle {
	struct node *node; /* pinned by the open file */
	char *buf;	   /* rendered content */
	size_t len;
	int fd;			  /* backing file, or -1 */
	int64_t run_id;		  /* the run a wait or status handle follows */
	uint64_t seen_generation; /* state generation last read (poll) */
	bool read_once;		  /* a read has been answered */
	char *input;		  /* bytes written to cancel/run */
	size_t input_len;
	bool acted;   /* cancel/run already carried out */
	bool written; /* a staged file was written since the last flush */
	/* the table's */
	uint64_t id;
	unsigned refs;
	struct handle *next;
};

struct handles;

int handles_new(struct handles **out);
void handles_free(struct handles *hs);

/* A new handle for @n (not yet in the table), or NULL. */
struct handle *handle_new(struct node *n);

/* Frees a handle never added to the table. */
void handle_free(struct handle *h);

/* Adds @h to the table; the returned id goes into fi->fh. */
uint64_t handles_add(struct handles *hs, struct handle *h);

/* The handle @id with a reference taken, or NULL once it is released. */
struct handle *handles_get(struct handles *hs, uint64_t id);

/* Gives back a reference; frees a released handle with none left. */
void handles_put(struct handles *hs, struct handle *h);

/* RELEASE: takes @id out of the table; freed once no request holds it. */
void handles_remove(struct handles *hs, uint64_t id);

#endif
