/*
 * Secrets from the environment or from files. The permission check is
 * made with fstat() on the opened file, not stat() on the path, so the
 * file checked is the file read. Buffers that held a secret are wiped
 * before they are freed; the secret itself never reaches an error
 * message, only the names of the field, variable or file.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "message.h"
#include "secret.h"

#define SECRET_MAX_SIZE (64 * 1024)

static int read_fd(int fd, size_t size, char **secret_out)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	while (len < size) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			explicit_bzero(buf, len);
			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*secret_out = buf;
	return 0;
}

static int check_file(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char text[128];
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot stat \"%s\": %s", path,
			 message_strerror(rc, text, sizeof(text)));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "\"%s\" is not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "\"%s\" is readable by group or others (chmod 600)",
			 path);
		return -EACCES;
	}
	if (st.st_size > SECRET_MAX_SIZE) {
		snprintf(err, errlen, "\"%s\" is larger than %d bytes", path,
			 SECRET_MAX_SIZE);
		return -EFBIG;
	}
	return 0;
}

int secret_read_file(const char *path, char **secret_out, char *err,
		     size_t errlen)
{
	char text[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot open \"%s\": %s", path,
			 message_strerror(rc, text, sizeof(text)));
		return rc;
	}
	int rc = check_file(fd, path, err, errlen);
	if (rc == 0) {
		rc = read_fd(fd, SECRET_MAX_SIZE, secret_out);
		if (rc < 0)
			snprintf(err, errlen, "cannot read \"%s\": %s", path,
				 message_strerror(rc, text, sizeof(text)));
	}
	close(fd);
	if (rc == 0 && (*secret_out)[0] == '\0') {
		secret_free(*secret_out);
		*secret_out = NULL;
		snprintf(err, errlen, "\"%s\" is empty", path);
		rc = -EINVAL;
	}
	return rc;
}

static int from_env(const char *key, const char *name, char **secret_out,
		    char *err, size_t errlen)
{
	if (!name || !*name) {
		snprintf(err, errlen,
			 "field \"%s\": must be an environment variable name",
			 key);
		return -EINVAL;
	}
	const char *value = getenv(name);
	if (!value || !*value) {
		snprintf(err, errlen,
			 "field \"%s\": variable \"%s\" is not set", key, name);
		return -EINVAL;
	}
	*secret_out = strdup(value);
	return *secret_out ? 0 : -ENOMEM;
}

static int from_file(const char *key, const char *path, char **secret_out,
		     char *err, size_t errlen)
{
	if (!path || !*path) {
		snprintf(err, errlen, "field \"%s\": must be a path", key);
		return -EINVAL;
	}
	char why[256];
	int rc = secret_read_file(path, secret_out, why, sizeof(why));
	if (rc < 0 && rc != -ENOMEM)
		snprintf(err, errlen, "field \"%s\": %s", key, why);
	/* -ENOENT means "not configured" to callers: a missing file is not */
	return rc == -EACCES || rc == -ENOMEM ? rc : rc < 0 ? -EINVAL : 0;
}

int secret_get(const json_t *fields, const char *field, char **secret_out,
	       char *err, size_t errlen)
{
	char env_key[64], file_key[64];
	snprintf(env_key, sizeof(env_key), "%s_env", field);
	snprintf(file_key, sizeof(file_key), "%s_file", field);
	const json_t *env = json_object_get(fields, env_key);
	const json_t *file = json_object_get(fields, file_key);
	*secret_out = NULL;
	if (env && file) {
		snprintf(err, errlen, "fields \"%s\" and \"%s\": give only one",
			 env_key, file_key);
		return -EINVAL;
	}
	if (env)
		return from_env(env_key, json_string_value(env), secret_out,
				err, errlen);
	if (file)
		return from_file(file_key, json_string_value(file), secret_out,
				 err, errlen);
	snprintf(err, errlen, "field \"%s\" or \"%s\" is required", env_key,
		 file_key);
	return -ENOENT;
}

void secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
