/*
 * How a bundle's entry point is run as a program, for the platforms that
 * start it themselves (local processes, Slurm batch scripts): the
 * interpreter by extension, the shebang test, path safety, and the check
 * of "args".
 */
#ifndef JOBFS_PROGRAM_H
#define JOBFS_PROGRAM_H

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

#endif
