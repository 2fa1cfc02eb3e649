#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	if (!ok) {
		snprintf(err, errlen, "\"args\" must be an array of strings");
		return -EINVAL;
	}
	return 0;
}
