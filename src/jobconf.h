/*
 * A job's config (new/NAME.json) and the job name rules of man/jobfs.5
 * (LAYOUT).
 *
 * Parsing is pure: no files, no platforms. The caller checks that the
 * platform exists and that the entry point is in the bundle.
 */
#ifndef JOBFS_JOBCONF_H
#define JOBFS_JOBCONF_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct job_config {
	char *platform;	   /* NULL: the daemon's default platform */
	char *entry_point; /* NULL: the bundle, if it is one file */
	json_t *args;	   /* array of strings; never NULL */
	json_t *env;	   /* object of string values; never NULL */
	json_t *conf;	   /* object; never NULL */
	long timeout;	   /* seconds; 0 = none */
	int retries;	   /* >= 0 */
	bool run;	   /* start a run right after deploying */
};

/*
 * Error text convention (used by every function here that takes @err):
 * one line with the reason, then optionally a newline and details, e.g.
 * "unknown field \"platfrom\"\nallowed fields: platform, entry_point, ...".
 * Lower case, no full stop, the subject quoted.
 */

/*
 * Parses and validates a config document. Unknown top-level fields, wrong
 * types, args that are not strings, env values that are not strings, a
 * negative timeout or retries: -EINVAL with @err filled. On success @out
 * owns new references; release with jobconf_release().
 */
int jobconf_parse(const char *text, size_t len, struct job_config *out,
		  char *err, size_t errlen);

/*
 * Whether @text is one complete JSON document (possibly followed by
 * whitespace), i.e. more bytes could not make it valid JSON of a different
 * meaning. Used to fail write() early.
 */
bool jobconf_is_complete_json(const char *text, size_t len);

/*
 * Whether more bytes could still make @text one JSON document: it is
 * empty, blank, or starts an object or array that fails to parse only at
 * its very end ("{\"args\": ["). Never with a NUL byte anywhere.
 */
bool jobconf_is_json_prefix(const char *text, size_t len);

/*
 * Applies a `run` override: empty (or only whitespace) text means none;
 * else a JSON object whose only allowed fields are "args" (replaces),
 * "env" (merged over) and "conf" (merged over, top level). -EINVAL with
 * @err for anything else. @out gets new references.
 */
int jobconf_override(const struct job_config *base, const char *text,
		     size_t len, struct job_config *out, char *err,
		     size_t errlen);

/* The config as a JSON object (new reference), all fields present. */
json_t *jobconf_to_json(const struct job_config *conf);

/*
 * The same with secrets redacted (new reference): every string value, at
 * any depth, whose key looks secret (contains, case-insensitively, token,
 * secret, password, passwd, credential, apikey, api_key, private_key,
 * access_key) becomes "***". This is what SQLite and job.json hold.
 */
json_t *jobconf_to_redacted_json(const struct job_config *conf);

void jobconf_release(struct job_config *conf);

/* 1-128 chars of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool jobname_is_valid(const char *name);

/* README, new, by-state, platforms, or starting with '.'. */
bool jobname_is_reserved(const char *name);

/*
 * Checks a name for deployment: -EINVAL with @err ("invalid job name
 * \"x\"\n..." or "reserved job name \"new\"") when it is not usable.
 */
int jobname_check(const char *name, char *err, size_t errlen);

#endif
