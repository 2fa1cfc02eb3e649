/*
 * The daemon's config.json. Only the shape common to all platforms is
 * checked here (each platform validates its own fields when opened), but
 * that shape strictly: unknown top-level fields are errors, and every
 * message names the file and the dotted path of the field, so that a
 * mistake in a config that fails at mount time is found in one look.
 *
 * No file at the XDG default path is not an error: jobfs then runs with
 * the built-in defaults (the local platform only).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "config.h"
#include "duration.h"
#include "fsutil.h"
#include "jobconf.h"

#define CONFIG_MAX_SIZE (4 * 1024 * 1024)
#define CONFIG_LOCAL	"local"

static const char *const config_fields[] = {"default_platform", "bundle_limit",
					    "keep", "platforms", NULL};

static int add_platform(struct config *cfg, const char *name, json_t *fields)
{
	struct platform_config *p = &cfg->platforms[cfg->nplatforms];
	p->name = strdup(name);
	p->kind = strdup(json_string_value(json_object_get(fields, "kind")));
	p->fields = json_incref(fields);
	cfg->nplatforms++;
	return p->name && p->kind ? 0 : -ENOMEM;
}

static int add_local(struct config *cfg)
{
	json_t *fields = json_pack("{s:s}", "kind", CONFIG_LOCAL);
	if (!fields)
		return -ENOMEM;
	int rc = add_platform(cfg, CONFIG_LOCAL, fields);
	json_decref(fields);
	return rc;
}

static int use_defaults(struct config *cfg)
{
	cfg->bundle_limit = CONFIG_DEFAULT_BUNDLE_LIMIT;
	cfg->default_platform = strdup(CONFIG_LOCAL);
	cfg->platforms = calloc(1, sizeof(*cfg->platforms));
	if (!cfg->default_platform || !cfg->platforms)
		return -ENOMEM;
	return add_local(cfg);
}

static bool is_field(const char *key)
{
	for (size_t i = 0; config_fields[i]; i++)
		if (!strcmp(key, config_fields[i]))
			return true;
	return false;
}

static int unknown_field(const char *path, const char *key, char *err,
			 size_t errlen)
{
	char shown[160];
	return message_fail(
	    err, errlen, -EINVAL,
	    "%s: unknown field \"%s\"\n"
	    "allowed fields: default_platform, bundle_limit, keep, platforms",
	    path, message_printable(key, shown, sizeof(shown)));
}

static int check_fields(const char *path, json_t *root, char *err,
			size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach(root, key, value)
	{
		if (!is_field(key))
			return unknown_field(path, key, err, errlen);
	}
	return 0;
}

static int check_platform(const char *path, const char *name, json_t *v,
			  char *err, size_t errlen)
{
	char shown[160];
	message_printable(name, shown, sizeof(shown));
	if (!jobname_is_valid(name))
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"platforms.%s\": invalid platform name\n"
		    "a platform name is 1-128 characters of "
		    "[A-Za-z0-9._-], not starting with '.' or '-'",
		    path, shown);
	if (!json_is_object(v))
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"platforms.%s\": expected an object", path,
		    shown);
	json_t *kind = json_object_get(v, "kind");
	if (!kind)
		return message_fail(err, errlen, -EINVAL,
				    "%s: field \"platforms.%s.kind\": missing",
				    path, shown);
	if (!json_is_string(kind) || json_string_length(kind) == 0)
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"platforms.%s.kind\": expected a "
		    "non-empty string",
		    path, shown);
	return 0;
}

static int read_platforms(const char *path, json_t *root, struct config *cfg,
			  char *err, size_t errlen)
{
	json_t *platforms = json_object_get(root, "platforms");
	if (platforms && !json_is_object(platforms))
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"platforms\": expected an object", path);
	size_t n = json_object_size(platforms);
	/* One more for the embedded "local". */
	cfg->platforms = calloc(n + 1, sizeof(*cfg->platforms));
	if (!cfg->platforms)
		return -ENOMEM;
	const char *name;
	json_t *v;
	json_object_foreach(platforms, name, v)
	{
		int rc = check_platform(path, name, v, err, errlen);
		if (rc == 0)
			rc = add_platform(cfg, name, v);
		if (rc < 0)
			return rc;
	}
	return config_platform(cfg, CONFIG_LOCAL) ? 0 : add_local(cfg);
}

static int read_limit(const char *path, json_t *root, struct config *cfg,
		      char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "bundle_limit");
	cfg->bundle_limit = CONFIG_DEFAULT_BUNDLE_LIMIT;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"bundle_limit\": expected a positive "
		    "integer (bytes)",
		    path);
	cfg->bundle_limit = (uint64_t)json_integer_value(v);
	return 0;
}

/* "keep": seconds, or a duration string ("30d"); the same as -o keep=. */
static int read_keep(const char *path, json_t *root, struct config *cfg,
		     char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "keep");
	cfg->keep = 0;
	if (!v)
		return 0;
	if (json_is_number(v) && json_number_value(v) > 0) {
		cfg->keep = json_number_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    duration_parse(json_string_value(v), &cfg->keep) == 0)
		return 0;
	return message_fail(err, errlen, -EINVAL,
			    "%s: field \"keep\": expected seconds or a "
			    "duration such as \"30d\"",
			    path);
}

static int read_default(const char *path, json_t *root, struct config *cfg,
			char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "default_platform");
	const char *name = v ? json_string_value(v) : CONFIG_LOCAL;
	if (!name || !*name)
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"default_platform\": expected a "
		    "non-empty string",
		    path);
	if (!config_platform(cfg, name)) {
		char shown[160];
		return message_fail(
		    err, errlen, -EINVAL,
		    "%s: field \"default_platform\": no platform named "
		    "\"%s\"",
		    path, message_printable(name, shown, sizeof(shown)));
	}
	cfg->default_platform = strdup(name);
	return cfg->default_platform ? 0 : -ENOMEM;
}

static int parse(const char *path, const char *text, size_t len,
		 struct config *cfg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(
	    text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!root)
		return message_fail(err, errlen, -EINVAL,
				    "%s: bad JSON at line %d, column %d: %s",
				    path, je.line, je.column, je.text);
	int rc = 0;
	if (!json_is_object(root))
		rc = message_fail(err, errlen, -EINVAL,
				  "%s: expected a JSON object", path);
	if (rc == 0)
		rc = check_fields(path, root, err, errlen);
	if (rc == 0)
		rc = read_platforms(path, root, cfg, err, errlen);
	if (rc == 0)
		rc = read_limit(path, root, cfg, err, errlen);
	if (rc == 0)
		rc = read_keep(path, root, cfg, err, errlen);
	if (rc == 0)
		rc = read_default(path, root, cfg, err, errlen);
	json_decref(root);
	return rc;
}

static int load_file(const char *path, struct config *cfg, char *err,
		     size_t errlen)
{
	char *text;
	size_t len;
	int rc = fsutil_read_all(path, CONFIG_MAX_SIZE, &text, &len);
	if (rc == -ENOENT)
		return message_fail(err, errlen, rc, "%s: no such file", path);
	if (rc == -EFBIG)
		return message_fail(err, errlen, rc,
				    "%s: file too large\nmore than %d bytes",
				    path, CONFIG_MAX_SIZE);
	if (rc < 0) {
		char reason[128];
		return message_fail(
		    err, errlen, rc, "%s: cannot read\n%s", path,
		    message_strerror(rc, reason, sizeof(reason)));
	}
	cfg->path = strdup(path);
	rc = cfg->path ? parse(path, text, len, cfg, err, errlen) : -ENOMEM;
	free(text);
	return rc;
}

/* $XDG_CONFIG_HOME/jobfs/config.json, else ~/.config/...; NULL if none. */
static char *default_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *path = NULL;
	int n = -1;
	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	if (xdg && xdg[0] == '/')
		n = asprintf(&path, "%s/jobfs/config.json", xdg);
	else if (home && home[0])
		n = asprintf(&path, "%s/.config/jobfs/config.json", home);
	return n < 0 ? NULL : path;
}

int config_load(const char *path, struct config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (path) {
		int rc = load_file(path, out, err, errlen);
		if (rc < 0)
			config_release(out);
		return rc;
	}
	char *found = default_path();
	int rc = found ? load_file(found, out, err, errlen) : -ENOENT;
	free(found);
	if (rc == -ENOENT) {
		config_release(out);
		rc = use_defaults(out);
	}
	if (rc < 0)
		config_release(out);
	return rc;
}

const struct platform_config *config_platform(const struct config *cfg,
					      const char *name)
{
	for (size_t i = 0; i < cfg->nplatforms; i++)
		if (!strcmp(cfg->platforms[i].name, name))
			return &cfg->platforms[i];
	return NULL;
}

void config_release(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nplatforms; i++) {
		free(cfg->platforms[i].name);
		free(cfg->platforms[i].kind);
		json_decref(cfg->platforms[i].fields);
	}
	free(cfg->platforms);
	free(cfg->path);
	free(cfg->default_platform);
	memset(cfg, 0, sizeof(*cfg));
}
