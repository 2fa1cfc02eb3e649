/*
 * A kubeconfig file (the one kubectl reads), parsed with libyaml: the
 * cluster, user and namespace of one context.
 *
 * Read: current-context (or the one named), its cluster's server,
 * certificate-authority (a path) or certificate-authority-data (base64
 * PEM), its user's token, tokenFile, client-certificate[-data] and
 * client-key[-data], and its namespace. Relative paths are relative to the
 * file's directory, as kubectl has it. insecure-skip-tls-verify and exec
 * or auth-provider plugins are refused with a message: jobfs always
 * verifies TLS and runs no credential helpers.
 *
 * The file holds credentials, so it is read with secret.h's rule (refused
 * when group or others may read it); the token and key are secrets.
 */
#ifndef JOBFS_KUBECONFIG_H
#define JOBFS_KUBECONFIG_H

#include <stddef.h>

struct kubeconfig {
	char *server;	 /* https://host:port, never NULL once read */
	char *ca_file;	 /* certificate-authority, or NULL */
	char *ca_pem;	 /* certificate-authority-data, decoded, or NULL */
	char *token;	 /* a secret, or NULL */
	char *cert_pem;	 /* client certificate, or NULL */
	char *key_pem;	 /* its key (a secret), or NULL */
	char *namespace; /* the context's, or NULL */
};

/*
 * Reads context @context (NULL: current-context) of the kubeconfig at
 * @path into @out (zeroed first). -EINVAL/-EACCES/-ENOENT with @err
 * saying what is wrong and where. Release with kubeconfig_release().
 */
int kubeconfig_read(const char *path, const char *context,
		    struct kubeconfig *out, char *err, size_t errlen);

/* Frees what kubeconfig_read() filled, wiping the secrets. */
void kubeconfig_release(struct kubeconfig *kc);

/*
 * Decodes base64 (standard alphabet, padding optional, whitespace
 * skipped) into a new NUL-terminated string. -EINVAL when not base64.
 */
int kubeconfig_base64(const char *in, char **out);

#endif
