/*
 * Finding the driver a create of a run made, for the Spark standalone
 * platform's `find` op (platforms/spark.c), from the master UI's JSON.
 *
 * The driver listing does not name the app, but two things do: the
 * applications listed next to the drivers carry spark.app.name (the run
 * key), and the worker writes the driver's launch command, with
 * "-Dspark.app.name=KEY" in it, at the head of the driver's stderr. So a
 * driver is ours when its stderr head names our key; an app of our name
 * says a driver exists even before its log can be read.
 *
 * An unknown outcome is decided so: found -> its id; not found within a
 * grace period counted from the first ask for that key -> -ENOENT (safe
 * to create again); before that, or while an app of that name is listed
 * without its driver being found, -EINPROGRESS (ask again later).
 */
#ifndef JOBFS_SPARK_FIND_H
#define JOBFS_SPARK_FIND_H

#include <stdio.h>

#include <jansson.h>

#include "call.h"

/* seconds a key may be missing from the listing before -ENOENT */
#define SPARK_FIND_GRACE_S 15.0

struct spark_finder;

/* What the finder needs from the platform's HTTP side. */
struct spark_find_io {
	void *ctx;
	/* Writes the head of driver @id's stderr from worker UI @base. */
	int (*stderr_head)(void *ctx, struct call *c, const char *base,
			   const char *id, FILE *f);
};

int spark_finder_new(struct spark_finder **out);
void spark_finder_free(struct spark_finder *f);

/*
 * Looks @run_key up in the master UI JSON @ui among the drivers of
 * @main_class; 0 with a new *id_out, -ENOENT, -EINPROGRESS or the error of a
 * log read, each with c->err. Thread-safe.
 */
int spark_finder_find(struct spark_finder *f, struct call *c, const json_t *ui,
		      const char *run_key, const char *main_class,
		      const struct spark_find_io *io, char **id_out);

#endif
