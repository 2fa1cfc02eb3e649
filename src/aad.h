/*
 * Azure AD (Entra ID) client-credentials tokens, for Synapse, ADLS Gen2 /
 * OneLake and Fabric.
 *
 * Config fields: "tenant_id", "client_id", "client_secret_env" or
 * "client_secret_file" (see secret.h), and optionally "authority" (default
 * https://login.microsoftonline.com; tests point it at an emulator).
 * POST {authority}/{tenant}/oauth2/v2.0/token with grant_type=
 * client_credentials, client_id, client_secret, scope. The token is cached
 * and fetched again five minutes before it expires.
 */
#ifndef JOBFS_AAD_H
#define JOBFS_AAD_H

#include <stddef.h>

#include <jansson.h>

#include "call.h"
#include "http.h"

struct aad;

/* @http is borrowed and must outlive the aad. -EINVAL with @err. */
int aad_new(const json_t *fields, const char *scope, struct http *http,
	    struct aad **out, char *err, size_t errlen);

/* A valid bearer token (new string, free with secret_free()). */
int aad_token(struct aad *a, struct call *c, char **token_out);

void aad_free(struct aad *a);

#endif
