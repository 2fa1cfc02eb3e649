/*
 * The daemon's config file (config.json, man/jobfs.5 CONFIG FILE).
 *
 *   {
 *     "default_platform": "local",
 *     "bundle_limit": 1073741824,
 *     "keep": "30d",
 *     "platforms": { "NAME": {"kind": "KIND", ...platform fields...} }
 *   }
 *
 * Unknown top-level fields are an error. Platform entries are checked only
 * for "kind" (a string) here; each platform validates its own fields when
 * it is opened. A platform named "local" of kind "local" always exists
 * unless the file defines "local" itself.
 */
#ifndef JOBFS_CONFIG_H
#define JOBFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CONFIG_DEFAULT_BUNDLE_LIMIT (1024ULL * 1024 * 1024)

struct platform_config {
	char *name;
	char *kind;
	json_t *fields; /* the platform's whole object (owned reference) */
};

struct config {
	char *path;		/* file it came from; NULL: built-in defaults */
	char *default_platform; /* never NULL */
	uint64_t bundle_limit;	/* bytes */
	double keep;		/* seconds ended runs are kept; 0: all */
	struct platform_config *platforms;
	size_t nplatforms;
};

/*
 * Loads @path, or when @path is NULL the XDG default
 * ($XDG_CONFIG_HOME/jobfs/config.json, else ~/.config/jobfs/config.json)
 * if it exists, else built-in defaults. Errors: -errno with @err naming
 * the file, the field and what is wrong, e.g.
 * "/etc/jobfs.json: field \"platforms.hpc.kind\": missing".
 */
int config_load(const char *path, struct config *out, char *err, size_t errlen);

/* The entry named @name, or NULL. Borrowed. */
const struct platform_config *config_platform(const struct config *cfg,
					      const char *name);

void config_release(struct config *cfg);

#endif
