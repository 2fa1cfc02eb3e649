/*
 * jobfs's own mount options (-o config=,state=,platform=,poll=,ttl=,
 * keep=,log_level=),
 * parsed out of the FUSE argument list; fstab words are discarded.
 */
#ifndef JOBFS_OPTIONS_H
#define JOBFS_OPTIONS_H

#include <stddef.h>

#include <fuse_lowlevel.h>

struct options {
	char *config_path; /* NULL: the XDG default, if present */
	char *state_dir;   /* never NULL after options_finish() */
	char *platform;	   /* NULL: the config's default */
	double poll;	   /* seconds */
	double ttl;	   /* seconds */
	int log_level;	   /* enum log_level; -1: not given */
	double keep;	   /* seconds ended runs are kept; 0: not given */
};

/* Removes jobfs's options from @args into @out. -EINVAL with @err. */
int options_parse(struct fuse_args *args, struct options *out, char *err,
		  size_t errlen);

/* Fills defaults (state dir from XDG) and checks ranges. */
int options_finish(struct options *opts, char *err, size_t errlen);

void options_release(struct options *opts);

/* The help text for jobfs's own options. */
void options_print_help(void);

#endif
