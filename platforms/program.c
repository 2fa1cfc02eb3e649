#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "message.h"
#include "program.h"

static const struct {
	const char *ext;
	const char *const argv[3];
} program_interpreters[] = {
    {".py", {"python3", NULL}},
    {".sh", {"sh", NULL}},
    {".jar", {"java", "-jar", NULL}},
    {".R", {"Rscript", NULL}},
};

const char *const *program_interpreter(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *ext = strrchr(base ? base + 1 : path, '.');
	size_t n =
	    sizeof(program_interpreters) / sizeof(program_interpreters[0]);
	for (size_t i = 0; ext && i < n; i++)
		if (strcmp(ext, program_interpreters[i].ext) == 0)
			return program_interpreters[i].argv;
	return NULL;
}

bool program_has_shebang(const char *path)
{
	char magic[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool yes =
	    read(fd, magic, 2) == 2 && magic[0] == '#' && magic[1] == '!';
	close(fd);
	return yes;
}

bool program_is_outside(const char *rel)
{
	size_t len = strlen(rel);
	return rel[0] == '/' || strcmp(rel, "..") == 0 ||
	       strncmp(rel, "../", 3) == 0 || strstr(rel, "/../") ||
	       (len >= 3 && strcmp(rel + len - 3, "/..") == 0);
}

int program_check_args(const json_t *args, char *err, size_t errlen)
{
	bool ok = !args || json_is_array(args);
	for (size_t i = 0; ok && i < json_array_size(args); i++)
		ok = json_is_string(json_array_get(args, i));
	if (!ok)
		return message_fail(err, errlen, -EINVAL,
				    "\"args\" must be an array of strings");
	return 0;
}

int program_check_env(const json_t *env, char *err, size_t errlen)
{
	const char *key;
	json_t *value;
	if (env && !json_is_object(env))
		return message_fail(err, errlen, -EINVAL,
				    "\"env\" must be an object of strings");
	json_object_foreach((json_t *)env, key, value)
	{
		if (!*key || strchr(key, '=') || !json_is_string(value))
			return message_fail(err, errlen, -EINVAL,
					    "invalid env \"%s\"\na name "
					    "without '=' and a string value",
					    key);
	}
	return 0;
}

int program_resolve_in_bundle(const char *bundle_dir, const char *entry_point,
			      struct program_entry *out, char *err,
			      size_t errlen)
{
	const char *ep = entry_point;
	struct stat st;
	memset(out, 0, sizeof(*out));
	if (!ep || !*ep)
		return message_fail(err, errlen, -EINVAL,
				    "no entry point\nset \"entry_point\" in "
				    "the config");
	if (program_is_outside(ep))
		return message_fail(err, errlen, -EINVAL,
				    "entry point \"%s\" is outside the bundle",
				    ep);
	int n = snprintf(out->file, sizeof(out->file), "%s/%s", bundle_dir, ep);
	if (n < 0 || (size_t)n >= sizeof(out->file) ||
	    stat(out->file, &st) < 0 || !S_ISREG(st.st_mode))
		return message_fail(err, errlen, -EINVAL,
				    "entry point \"%s\" not found in bundle",
				    ep);
	out->interp = program_interpreter(ep);
	if (out->interp || (st.st_mode & 0111))
		return 0;
	out->needs_exec_bit = program_has_shebang(out->file);
	if (out->needs_exec_bit)
		return 0;
	return message_fail(err, errlen, -EINVAL,
			    "don't know how to run \"%s\"\nuse .py, .sh, .jar, "
			    ".R, a shebang line or the exec bit",
			    ep);
}

bool program_is_in_path(const char *prog, const char *path)
{
	for (const char *d = path; d;) {
		const char *colon = strchr(d, ':');
		int len = colon ? (int)(colon - d) : (int)strlen(d);
		char file[PATH_MAX];
		struct stat st;
		int n = snprintf(file, sizeof(file), "%.*s/%s", len, d, prog);
		if (len > 0 && n > 0 && (size_t)n < sizeof(file) &&
		    stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(file, X_OK) == 0)
			return true;
		d = colon ? colon + 1 : NULL;
	}
	return false;
}
