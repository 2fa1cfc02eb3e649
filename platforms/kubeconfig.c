/*
 * The kubeconfig reader: libyaml loads the file into a document, and
 * small lookups walk its nodes (mappings of scalars, the named lists
 * "clusters", "users", "contexts" of {name, cluster|user|context}).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fsutil.h"
#include "kubeconfig.h"
#include "message.h"
#include "secret.h"

#define KUBECONFIG_MAX (4L << 20) /* bytes of a file read */

/* What the lookups share: the document and where it came from. */
struct kc_doc {
	yaml_document_t doc;
	const char *path;
	char dir[PATH_MAX]; /* the file's directory, for relative paths */
};

static yaml_node_t *node_at(struct kc_doc *d, int index)
{
	return index ? yaml_document_get_node(&d->doc, index) : NULL;
}

/* The value of @key in mapping @map, or NULL. */
static yaml_node_t *map_get(struct kc_doc *d, const yaml_node_t *map,
			    const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return node_at(d, p->value);
	}
	return NULL;
}

/* A scalar's text, or NULL when @n is missing or not a scalar. */
static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE
		   ? (const char *)n->data.scalar.value
		   : NULL;
}

static const char *map_str(struct kc_doc *d, const yaml_node_t *map,
			   const char *key)
{
	const char *s = scalar(map_get(d, map, key));
	return s && *s ? s : NULL;
}

/* The @what ("cluster") of the entry named @name in list @list. */
static yaml_node_t *named(struct kc_doc *d, const char *list, const char *what,
			  const char *name)
{
	yaml_node_t *seq =
	    map_get(d, yaml_document_get_root_node(&d->doc), list);
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		yaml_node_t *e = node_at(d, *i);
		const char *n = map_str(d, e, "name");
		if (n && strcmp(n, name) == 0)
			return map_get(d, e, what);
	}
	return NULL;
}

int kubeconfig_base64(const char *in, char **out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 0;
	char *buf = malloc(strlen(in) / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;
	if (!buf)
		return -ENOMEM;
	for (const char *p = in; *p && *p != '='; p++) {
		const char *at = strchr(abc, *p);
		if (strchr(" \t\r\n", *p))
			continue;
		if (!at || !*p) {
			free(buf);
			return -EINVAL;
		}
		acc = (acc << 6) | (unsigned)(at - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* @rel, or the file's directory joined with it when relative. */
static int path_of(const struct kc_doc *d, const char *rel, char **out)
{
	if (rel[0] == '/')
		*out = strdup(rel);
	else if (asprintf(out, "%s/%s", d->dir, rel) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

/*
 * Field @field of @map into *@out: the decoded "@field-data", else the
 * file @field names (read as a secret when @secret), else NULL.
 */
static int pem_field(struct kc_doc *d, const yaml_node_t *map,
		     const char *field, bool secret, char **out, char *err,
		     size_t errlen)
{
	char data_key[64], *path = NULL;
	snprintf(data_key, sizeof(data_key), "%s-data", field);
	const char *data = map_str(d, map, data_key);
	const char *file = map_str(d, map, field);
	size_t len;
	int rc = 0;
	if (data && kubeconfig_base64(data, out))
		return message_fail(err, errlen, -EINVAL,
				    "kubeconfig \"%s\": %s is not base64",
				    d->path, data_key);
	if (data || !file)
		return 0;
	rc = path_of(d, file, &path);
	if (rc == 0 && secret)
		rc = secret_read_file(path, out, err, errlen);
	else if (rc == 0 && fsutil_read_all(path, KUBECONFIG_MAX, out, &len))
		rc = message_fail(err, errlen, -EINVAL,
				  "kubeconfig \"%s\": %s: cannot read \"%s\"",
				  d->path, field, path);
	free(path);
	return rc;
}

static int refuse(const struct kc_doc *d, const char *what, char *err,
		  size_t errlen)
{
	return message_fail(err, errlen, -EINVAL,
			    "kubeconfig \"%s\": %s is not supported", d->path,
			    what);
}

static int read_cluster(struct kc_doc *d, const yaml_node_t *cl,
			struct kubeconfig *out, char *err, size_t errlen)
{
	const char *server = map_str(d, cl, "server");
	const char *insecure = map_str(d, cl, "insecure-skip-tls-verify");
	const char *ca = map_str(d, cl, "certificate-authority");
	if (!server)
		return message_fail(err, errlen, -EINVAL,
				    "kubeconfig \"%s\": the cluster has no "
				    "server",
				    d->path);
	if (insecure && strcmp(insecure, "true") == 0)
		return refuse(d, "insecure-skip-tls-verify", err, errlen);
	out->server = strdup(server);
	if (!out->server || (ca && path_of(d, ca, &out->ca_file)))
		return -ENOMEM;
	if (map_str(d, cl, "certificate-authority-data"))
		return pem_field(d, cl, "certificate-authority", false,
				 &out->ca_pem, err, errlen);
	return 0;
}

static int read_user(struct kc_doc *d, const yaml_node_t *user,
		     struct kubeconfig *out, char *err, size_t errlen)
{
	const char *token = map_str(d, user, "token");
	const char *token_file = map_str(d, user, "tokenFile");
	char *path = NULL;
	int rc = 0;
	if (map_get(d, user, "exec"))
		return refuse(d, "an exec credential plugin", err, errlen);
	if (map_get(d, user, "auth-provider"))
		return refuse(d, "an auth-provider", err, errlen);
	if (token)
		out->token = strdup(token);
	else if (token_file && (rc = path_of(d, token_file, &path)) == 0)
		rc = secret_read_file(path, &out->token, err, errlen);
	free(path);
	if (rc || (token && !out->token))
		return rc ? rc : -ENOMEM;
	rc = pem_field(d, user, "client-certificate", false, &out->cert_pem,
		       err, errlen);
	if (rc == 0)
		rc = pem_field(d, user, "client-key", true, &out->key_pem, err,
			       errlen);
	if (rc == 0 && !out->cert_pem != !out->key_pem)
		rc = message_fail(err, errlen, -EINVAL,
				  "kubeconfig \"%s\": a client certificate "
				  "needs its key, and the key its certificate",
				  d->path);
	return rc;
}

static int read_context(struct kc_doc *d, const char *context,
			struct kubeconfig *out, char *err, size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	const char *name =
	    context ? context : map_str(d, root, "current-context");
	if (!name)
		return message_fail(err, errlen, -EINVAL,
				    "kubeconfig \"%s\": no current-context\n"
				    "set \"context\" in the platform config",
				    d->path);
	yaml_node_t *ctx = named(d, "contexts", "context", name);
	const char *cluster = map_str(d, ctx, "cluster");
	const char *user = map_str(d, ctx, "user");
	const char *ns = map_str(d, ctx, "namespace");
	yaml_node_t *cl =
	    cluster ? named(d, "clusters", "cluster", cluster) : NULL;
	if (!ctx || !cl)
		return message_fail(err, errlen, -EINVAL,
				    "kubeconfig \"%s\": %s \"%s\" not found",
				    d->path, ctx ? "cluster" : "context",
				    ctx ? (cluster ? cluster : "") : name);
	int rc = read_cluster(d, cl, out, err, errlen);
	yaml_node_t *u = user ? named(d, "users", "user", user) : NULL;
	if (rc == 0 && u)
		rc = read_user(d, u, out, err, errlen);
	if (rc == 0 && ns && !(out->namespace = strdup(ns)))
		rc = -ENOMEM;
	return rc;
}

static int load(struct kc_doc *d, const char *text, size_t len, char *err,
		size_t errlen)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int ok = yaml_parser_load(&parser, &d->doc);
	int rc = 0;
	if (!ok)
		rc = message_fail(err, errlen, -EINVAL,
				  "kubeconfig \"%s\": line %zu: %s", d->path,
				  parser.problem_mark.line + 1,
				  parser.problem ? parser.problem : "not YAML");
	yaml_parser_delete(&parser);
	if (rc == 0 && !yaml_document_get_root_node(&d->doc)) {
		yaml_document_delete(&d->doc);
		rc = message_fail(err, errlen, -EINVAL,
				  "kubeconfig \"%s\": empty", d->path);
	}
	return rc;
}

int kubeconfig_read(const char *path, const char *context,
		    struct kubeconfig *out, char *err, size_t errlen)
{
	struct kc_doc d = {.path = path};
	char *text = NULL;
	memset(out, 0, sizeof(*out));
	const char *slash = strrchr(path, '/');
	snprintf(d.dir, sizeof(d.dir), "%.*s", slash ? (int)(slash - path) : 1,
		 slash ? path : ".");
	int rc = secret_read_file(path, &text, err, errlen);
	if (rc == 0)
		rc = load(&d, text, strlen(text), err, errlen);
	secret_free(text);
	if (rc)
		return rc;
	rc = read_context(&d, context, out, err, errlen);
	yaml_document_delete(&d.doc);
	if (rc)
		kubeconfig_release(out);
	return rc;
}

void kubeconfig_release(struct kubeconfig *kc)
{
	free(kc->server);
	free(kc->ca_file);
	free(kc->ca_pem);
	secret_free(kc->token);
	free(kc->cert_pem);
	secret_free(kc->key_pem);
	free(kc->namespace);
	memset(kc, 0, sizeof(*kc));
}
