/*
 * Job configs and job names. Parsing is strict on purpose: the config is
 * written by hand or by scripts into new/, and a typo that passed silently
 * would deploy a job that does something else than intended. So unknown
 * fields are errors (with a "did you mean" when one is close), every type
 * is checked, and the error text names the field and what was expected.
 *
 * Everything here is pure: no files, no platforms, no global state.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "jobconf.h"

#define JOBCONF_NAME_MAX 128
/* Longest key for which a "did you mean" is computed. */
#define JOBCONF_SUGGEST_MAX 32

static const char *const config_fields[] = {
    "platform", "entry_point", "args", "env", "conf",
    "timeout",	"retries",     "run",  NULL,
};

static const char *const override_fields[] = {"args", "env", "conf", NULL};

static const char *const reserved_names[] = {"README",	  "new",     "by-state",
					     "platforms", "metrics", NULL};

/* Substrings of keys whose string values are secrets. */
static const char *const secret_words[] = {
    "token",  "secret",	 "password",	"passwd",     "credential",
    "apikey", "api_key", "private_key", "access_key", NULL,
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

static int min3(int a, int b, int c)
{
	int m = a < b ? a : b;
	return m < c ? m : c;
}

/* Edit distance counting a swap of two neighbours as one edit. */
static int distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int d[JOBCONF_SUGGEST_MAX + 1][JOBCONF_SUGGEST_MAX + 1];
	for (int i = 0; i <= la; i++)
		d[i][0] = i;
	for (int j = 0; j <= lb; j++)
		d[0][j] = j;
	for (int i = 1; i <= la; i++) {
		for (int j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) !=
				   tolower((unsigned char)b[j - 1]);
			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

/* The known field closest to @key, if it is close enough to be a typo. */
static const char *closest(const char *key, const char *const *known)
{
	if (strlen(key) > JOBCONF_SUGGEST_MAX)
		return NULL;
	const char *best = NULL;
	int best_d = INT_MAX;
	for (size_t i = 0; known[i]; i++) {
		int d = distance(key, known[i]);
		int allowed = strlen(known[i]) < 5 ? 1 : 2;
		if (d <= allowed && d < best_d) {
			best = known[i];
			best_d = d;
		}
	}
	return best;
}

static bool is_known(const char *key, const char *const *known)
{
	for (size_t i = 0; known[i]; i++)
		if (!strcmp(key, known[i]))
			return true;
	return false;
}

static void join_fields(const char *const *known, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; known[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i ? ", " : "", known[i]);
}

/* -EINVAL naming the first key of @obj not in @known; @where: " in ..." */
static int check_fields(json_t *obj, const char *const *known,
			const char *where, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value)
	{
		if (is_known(key, known))
			continue;
		char shown[JOBCONF_NAME_MAX + 1], allowed[128], hint[64] = "";
		const char *near = closest(key, known);
		if (near)
			snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)",
				 near);
		join_fields(known, allowed, sizeof(allowed));
		return fail(err, errlen,
			    "unknown field \"%s\"%s%s\nallowed fields: %s",
			    message_printable(key, shown, sizeof(shown)), where,
			    hint, allowed);
	}
	return 0;
}

static int bad_type(const char *field, const char *expected, json_t *got,
		    char *err, size_t errlen)
{
	return fail(err, errlen, "field \"%s\": expected %s\nfound %s", field,
		    expected, type_name(got));
}

static int parse_json(const char *text, size_t len, const char *what,
		      json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &je);
	if (!*out)
		return fail(err, errlen,
			    "bad JSON in %s\nline %d, column %d: %s", what,
			    je.line, je.column, je.text);
	if (json_is_object(*out))
		return 0;
	int rc = fail(err, errlen, "%s must be a JSON object\nfound %s", what,
		      type_name(*out));
	json_decref(*out);
	*out = NULL;
	return rc;
}

/* A string field that may be absent or null (then *out stays NULL). */
static int get_string(json_t *root, const char *field, char **out, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(root, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad_type(field, "a non-empty string", v, err, errlen);
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/* Replaces *@out by a copy of the field when present. */
static int get_string_array(json_t *root, const char *field, json_t **out,
			    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, field);
	if (!v)
		return 0;
	const char *expected = "an array of strings";
	if (!json_is_array(v))
		return bad_type(field, expected, v, err, errlen);
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			return fail(err, errlen,
				    "field \"%s\": expected %s\n"
				    "element %zu is %s",
				    field, expected, i, type_name(item));
	}
	json_t *copy = json_deep_copy(v);
	if (!copy)
		return -ENOMEM;
	json_decref(*out);
	*out = copy;
	return 0;
}

/* Checks an object field; with @strings_only its values must be strings. */
static int check_object(json_t *v, const char *field, bool strings_only,
			char *err, size_t errlen)
{
	const char *expected =
	    strings_only ? "an object of strings" : "an object";
	if (!json_is_object(v))
		return bad_type(field, expected, v, err, errlen);
	const char *key;
	json_t *item;
	json_object_foreach(v, key, item)
	{
		if (strings_only && !json_is_string(item)) {
			char shown[JOBCONF_NAME_MAX + 1];
			return fail(
			    err, errlen,
			    "field \"%s\": expected %s\n"
			    "\"%s\" is %s",
			    field, expected,
			    message_printable(key, shown, sizeof(shown)),
			    type_name(item));
		}
	}
	return 0;
}

/* Merges the field's members over *@out (a copy the caller owns). */
static int merge_object(json_t *root, const char *field, bool strings_only,
			json_t *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, field);
	if (!v)
		return 0;
	int rc = check_object(v, field, strings_only, err, errlen);
	if (rc == 0 && json_object_update(out, v) < 0)
		rc = -ENOMEM;
	return rc;
}

static int get_count(json_t *root, const char *field, long max, long *out,
		     char *err, size_t errlen)
{
	json_t *v = json_object_get(root, field);
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return bad_type(field, "a non-negative integer", v, err,
				errlen);
	json_int_t n = json_integer_value(v);
	if (n < 0 || n > max)
		return fail(err, errlen,
			    "field \"%s\": expected a non-negative integer\n"
			    "%" JSON_INTEGER_FORMAT " is out of range (0-%ld)",
			    field, n, max);
	*out = (long)n;
	return 0;
}

static int get_bool(json_t *root, const char *field, bool *out, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(root, field);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad_type(field, "a boolean", v, err, errlen);
	*out = json_is_true(v);
	return 0;
}

static int init_defaults(struct job_config *out)
{
	memset(out, 0, sizeof(*out));
	out->args = json_array();
	out->env = json_object();
	out->conf = json_object();
	out->run = true;
	return out->args && out->env && out->conf ? 0 : -ENOMEM;
}

static int read_fields(json_t *root, struct job_config *out, char *err,
		       size_t errlen)
{
	long retries = 0;
	int rc = get_string(root, "platform", &out->platform, err, errlen);
	if (rc == 0)
		rc = get_string(root, "entry_point", &out->entry_point, err,
				errlen);
	if (rc == 0)
		rc = get_string_array(root, "args", &out->args, err, errlen);
	if (rc == 0)
		rc = merge_object(root, "env", true, out->env, err, errlen);
	if (rc == 0)
		rc = merge_object(root, "conf", false, out->conf, err, errlen);
	if (rc == 0)
		rc = get_count(root, "timeout", LONG_MAX, &out->timeout, err,
			       errlen);
	if (rc == 0)
		rc = get_count(root, "retries", INT_MAX, &retries, err, errlen);
	if (rc == 0)
		rc = get_bool(root, "run", &out->run, err, errlen);
	out->retries = (int)retries;
	return rc;
}

int jobconf_parse(const char *text, size_t len, struct job_config *out,
		  char *err, size_t errlen)
{
	json_t *root;
	int rc = init_defaults(out);
	if (rc == 0)
		rc = parse_json(text, len, "config", &root, err, errlen);
	if (rc < 0) {
		jobconf_release(out);
		return rc;
	}
	rc = check_fields(root, config_fields, "", err, errlen);
	if (rc == 0)
		rc = read_fields(root, out, err, errlen);
	json_decref(root);
	if (rc < 0)
		jobconf_release(out);
	return rc;
}

bool jobconf_is_complete_json(const char *text, size_t len)
{
	/*
	 * Without JSON_DECODE_ANY only an object or an array parses: a bare
	 * number such as "12" could still grow into "123". Duplicate keys
	 * are accepted here: more bytes cannot repair them, and parsing
	 * then reports them.
	 */
	json_error_t je;
	json_t *v = json_loadb(text, len, 0, &je);
	json_decref(v);
	return v != NULL;
}

static bool is_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)text[i]))
			return false;
	return true;
}

/* The first byte that is not JSON whitespace, or NUL if there is none. */
static char first_non_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' &&
		    text[i] != '\n')
			return text[i];
	return '\0';
}

bool jobconf_is_json_prefix(const char *text, size_t len)
{
	/*
	 * A NUL byte is never part of JSON text, but jansson reads one as
	 * the end of its input ("'[' or '{' expected near end of file"), so
	 * "\0\xff" and "{}\0x" would pass for a document cut short. And a
	 * document only ever starts with an object or an array.
	 */
	if (memchr(text, '\0', len))
		return false;
	if (is_blank(text, len))
		return true;
	char first = first_non_blank(text, len);
	if (first != '{' && first != '[')
		return false;
	json_error_t je;
	json_t *v = json_loadb(text, len, 0, &je);
	json_decref(v);
	/* jansson's words for a document cut short */
	return !v && (strstr(je.text, "near end of file") ||
		      strncmp(je.text, "premature end of input", 22) == 0);
}

static char *strdup_or_null(const char *s, int *rc)
{
	char *copy = s ? strdup(s) : NULL;
	if (s && !copy)
		*rc = -ENOMEM;
	return copy;
}

static int copy_config(const struct job_config *base, struct job_config *out)
{
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->platform = strdup_or_null(base->platform, &rc);
	out->entry_point = strdup_or_null(base->entry_point, &rc);
	out->args = json_deep_copy(base->args);
	out->env = json_deep_copy(base->env);
	out->conf = json_deep_copy(base->conf);
	out->timeout = base->timeout;
	out->retries = base->retries;
	out->run = base->run;
	if (!out->args || !out->env || !out->conf)
		rc = -ENOMEM;
	return rc;
}

static int apply_override(json_t *over, struct job_config *out, char *err,
			  size_t errlen)
{
	int rc = check_fields(over, override_fields, " in run override", err,
			      errlen);
	if (rc == 0)
		rc = get_string_array(over, "args", &out->args, err, errlen);
	if (rc == 0)
		rc = merge_object(over, "env", true, out->env, err, errlen);
	if (rc == 0)
		rc = merge_object(over, "conf", false, out->conf, err, errlen);
	return rc;
}

int jobconf_override(const struct job_config *base, const char *text,
		     size_t len, struct job_config *out, char *err,
		     size_t errlen)
{
	json_t *over = NULL;
	int rc = 0;
	if (!is_blank(text, len))
		rc = parse_json(text, len, "run override", &over, err, errlen);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	rc = copy_config(base, out);
	if (rc == 0 && over)
		rc = apply_override(over, out, err, errlen);
	json_decref(over);
	if (rc < 0)
		jobconf_release(out);
	return rc;
}

json_t *jobconf_to_json(const struct job_config *conf)
{
	/* "o" steals the copies, also when packing fails. */
	return json_pack("{s:s?, s:s?, s:o, s:o, s:o, s:I, s:i, s:b}",
			 "platform", conf->platform, "entry_point",
			 conf->entry_point, "args", json_deep_copy(conf->args),
			 "env", json_deep_copy(conf->env), "conf",
			 json_deep_copy(conf->conf), "timeout",
			 (json_int_t)conf->timeout, "retries", conf->retries,
			 "run", conf->run);
}

static bool is_secret_key(const char *key)
{
	for (size_t i = 0; secret_words[i]; i++)
		if (strcasestr(key, secret_words[i]))
			return true;
	return false;
}

/*
 * Redacts in place. Beneath a secret key every string is a secret, also
 * inside arrays and objects ("tokens": ["a", "b"]).
 */
static int redact(json_t *v, bool secret)
{
	if (json_is_string(v))
		return secret ? json_string_set(v, "***") : 0;
	const char *key;
	json_t *item;
	size_t i;
	json_object_foreach(v, key, item)
	{
		if (redact(item, secret || is_secret_key(key)) < 0)
			return -1;
	}
	json_array_foreach(v, i, item)
	{
		if (redact(item, secret) < 0)
			return -1;
	}
	return 0;
}

json_t *jobconf_to_redacted_json(const struct job_config *conf)
{
	json_t *v = jobconf_to_json(conf);
	if (v && redact(v, false) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

void jobconf_release(struct job_config *conf)
{
	free(conf->platform);
	free(conf->entry_point);
	json_decref(conf->args);
	json_decref(conf->env);
	json_decref(conf->conf);
	memset(conf, 0, sizeof(*conf));
}

bool jobname_is_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > JOBCONF_NAME_MAX || name[0] == '.' ||
	    name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isascii(c) ||
		    (!isalnum(c) && c != '.' && c != '_' && c != '-'))
			return false;
	}
	return true;
}

bool jobname_is_reserved(const char *name)
{
	if (name[0] == '.')
		return true;
	for (size_t i = 0; reserved_names[i]; i++)
		if (!strcmp(name, reserved_names[i]))
			return true;
	return false;
}

int jobname_check(const char *name, char *err, size_t errlen)
{
	char shown[JOBCONF_NAME_MAX + 2];
	message_printable(name, shown, sizeof(shown));
	if (!jobname_is_valid(name))
		return fail(err, errlen,
			    "invalid job name \"%s\"\n"
			    "a job name is 1-128 characters of [A-Za-z0-9._-], "
			    "not starting with '.' or '-'",
			    shown);
	if (jobname_is_reserved(name))
		return fail(err, errlen, "reserved job name \"%s\"", shown);
	return 0;
}
