/*
 * How a bundle's entry point is run as a program, for the platforms that
 * start it themselves (local processes, Slurm batch scripts): the checks
 * of "args" and "env", the entry point found in the bundle, the
 * interpreter by extension, the shebang test and path safety.
 */
#ifndef JOBFS_PROGRAM_H
#define JOBFS_PROGRAM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The interpreter for @path by its extension: {"python3", NULL} for .py,
 * {"sh"} for .sh, {"java", "-jar"} for .jar, {"Rscript"} for .R; NULL
 * when the file is to be run itself. Borrowed, static.
 */
const char *const *program_interpreter(const char *path);

/* Whether the file starts with "#!". */
bool program_has_shebang(const char *path);

/* Whether the relative path @rel leaves its directory (absolute, ".."). */
bool program_is_outside(const char *rel);

/* "args" must be NULL or an array of strings: -EINVAL with @err if not. */
int program_check_args(const json_t *args, char *err, size_t errlen);

/*
 * "env" must be NULL or an object of strings whose names are not empty
 * and hold no '=': -EINVAL with @err if not.
 */
int program_check_env(const json_t *env, char *err, size_t errlen);

/* What to execute for an entry point. */
struct program_entry {
	char file[PATH_MAX];	   /* BUNDLE/ENTRY_POINT */
	const char *const *interp; /* program_interpreter(), or NULL */
	bool needs_exec_bit;	   /* a shebang script without the exec bit */
};

/*
 * Finds @entry_point in @bundle_dir: set, inside the bundle, a regular
 * file, and runnable by its extension, its exec bit or a shebang line.
 * -EINVAL with @err if not.
 */
int program_resolve_in_bundle(const char *bundle_dir, const char *entry_point,
			      struct program_entry *out, char *err,
			      size_t errlen);

/* Whether @prog is an executable file in a directory of @path ("a:b"). */
bool program_is_in_path(const char *prog, const char *path);

#endif
