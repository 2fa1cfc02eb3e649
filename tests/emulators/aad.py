#!/usr/bin/env python3
"""An emulator of the Azure AD (Entra ID) v2 token endpoint, client
credentials only.

  POST /{tenant}/oauth2/v2.0/token   form grant_type=client_credentials,
       client_id, client_secret, scope (ending in "/.default")
       200 {"token_type":"Bearer","expires_in":N,"ext_expires_in":N,
            "access_token":"..."}
       400/401 {"error":..., "error_description":"AADSTS...: ...\\r\\n
            Trace ID: ...", "error_codes":[...], "timestamp":...,
            "trace_id":..., "correlation_id":...}
  GET  /_emulator/introspect?token=T {"active": bool, "scope": ...,
                                      "client_id": ...}
  POST /_emulator/config             {"expires_in": N}
  and emulator.py's: GET /_emulator/stats {"POST /t/oauth2/v2.0/token": n},
  POST /_emulator/faults (e.g. {"rate": 1, "kinds": ["code"], "code": 503}:
  every token request answers 503 until switched off with {})

Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import datetime
import secrets
import sys
import time
import urllib.parse
import uuid

import emulator


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.tenant = opts.tenant
        self.client_id = opts.client_id
        self.client_secret = opts.client_secret
        self.expires_in = opts.expires_in
        self.tokens = {}  # token -> (client_id, scope, expiry epoch)


def aad_error(status, error, code, text):
    now = datetime.datetime.now(datetime.timezone.utc)
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    return status, {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\n"
                             "Correlation ID: %s\r\nTimestamp: %s"
                             % (code, text, trace, corr,
                                now.strftime("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": trace,
        "correlation_id": corr,
    }


class Handler(emulator.Handler):
    json_type = "application/json; charset=utf-8"

    def extra_headers(self):
        return [("Cache-Control", "no-store, no-cache")]

    def fault_error(self, code):
        self.send(*aad_error(code, "temporarily_unavailable", 90033,
                             "A transient error has occurred."),
                  headers=self.retry_after)

    def control_get(self, name, query):
        if name == "introspect":
            return self.introspect(query.get("token", ""))
        return None

    def configure(self, req):
        with self.state.lock:
            self.state.expires_in = req.get("expires_in",
                                            self.state.expires_in)
            return {"expires_in": self.state.expires_in}

    def introspect(self, token):
        with self.state.lock:
            entry = self.state.tokens.get(token)
        if not entry or entry[2] < time.time():
            return {"active": False}
        return {"active": True, "client_id": entry[0], "scope": entry[1],
                "exp": int(entry[2])}

    def route(self, method, path, query, body):
        if method != "POST":
            return self.send(*aad_error(405, "invalid_request", 900561,
                                        "The endpoint only accepts POST "
                                        "requests."))
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            return self.send(404, {"error": "not_found"})
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            return self.send(*aad_error(400, "invalid_request", 900144,
                                        "The request body must contain the "
                                        "following parameter: "
                                        "'grant_type'."))
        form = dict(urllib.parse.parse_qsl(body.decode(),
                                           keep_blank_values=True))
        self.send(*self.token(parts[0], form))

    def token(self, tenant, form):
        with self.state.lock:
            expires_in = self.state.expires_in
        if tenant != self.state.tenant:
            return aad_error(400, "invalid_request", 90002,
                             "Tenant '%s' not found." % tenant)
        for name in ("grant_type", "client_id", "scope"):
            if not form.get(name):
                return aad_error(400, "invalid_request", 900144,
                                 "The request body must contain the "
                                 "following parameter: '%s'." % name)
        if form["grant_type"] != "client_credentials":
            return aad_error(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type.")
        if form["client_id"] != self.state.client_id:
            return aad_error(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not "
                             "found in the directory." % form["client_id"])
        if form.get("client_secret") != self.state.client_secret:
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the "
                             "secret being sent in the request is the "
                             "client secret value, not the client secret "
                             "ID.")
        if not form["scope"].endswith("/.default"):
            return aad_error(400, "invalid_scope", 1002012,
                             "The provided value for scope %s is not "
                             "valid." % form["scope"])
        token = "eyJ0eXAi." + secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.tokens[token] = (form["client_id"], form["scope"],
                                        time.time() + expires_in)
        return 200, {"token_type": "Bearer", "expires_in": expires_in,
                     "ext_expires_in": expires_in, "access_token": token}


def options(parser):
    parser.add_argument("--tenant", default="tenant-1")
    parser.add_argument("--client-id", default="client-1")
    parser.add_argument("--client-secret", default="s3cret")
    parser.add_argument("--expires-in", type=int, default=3599)


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__, options))
