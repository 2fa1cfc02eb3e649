/*
 * Secrets named in config.json: tokens, passwords, client secrets.
 *
 * A secret comes from an environment variable ("..._env": the variable's
 * name) or a file ("..._file": a path; refused when group or others may
 * read it, as ssh does with keys). Never from the config itself, argv or
 * mount options. Callers keep secrets only in memory, never log them, and
 * free them with secret_free(), which wipes them first.
 */
#ifndef JOBFS_SECRET_H
#define JOBFS_SECRET_H

#include <stddef.h>

#include <jansson.h>

/*
 * Reads the secret @field of @fields: "@field_env" or "@field_file" (e.g.
 * field "token" → "token_env"/"token_file"). -ENOENT when neither is set;
 * -EINVAL/-EACCES with @err naming the field ("field \"token_file\":
 * \"/x\" is readable by group or others (chmod 600)"). Trailing newlines
 * of a file are dropped.
 */
int secret_get(const json_t *fields, const char *field, char **secret_out,
	       char *err, size_t errlen);

/* Reads a secret file with the permission check above. */
int secret_read_file(const char *path, char **secret_out, char *err,
		     size_t errlen);

/* Wipes and frees; NULL is fine. */
void secret_free(char *secret);

#endif
