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
  GET  /_emulator/stats              {"POST /t/oauth2/v2.0/token": n, ...}
  GET  /_emulator/introspect?token=T {"active": bool, "scope": ...,
                                      "client_id": ...}
  POST /_emulator/config             {"expires_in": N, "fail": CODE} (fail
                                     answers CODE to every token request
                                     until set to 0)

Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import argparse
import datetime
import json
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

from emulator import serve


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.tenant = args.tenant
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.expires_in = args.expires_in
        self.fail = 0
        self.stats = {}
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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store, no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def count(self, path):
        with self.state.lock:
            key = self.command + " " + path
            self.state.stats[key] = self.state.stats.get(key, 0) + 1

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_emulator/stats":
            with self.state.lock:
                self.reply(200, dict(self.state.stats))
        elif url.path == "/_emulator/introspect":
            self.reply(200, self.introspect(query.get("token", "")))
        else:
            self.count(url.path)
            self.reply(*aad_error(405, "invalid_request", 900561,
                                  "The endpoint only accepts POST requests."))

    def introspect(self, token):
        with self.state.lock:
            entry = self.state.tokens.get(token)
        if not entry or entry[2] < time.time():
            return {"active": False}
        return {"active": True, "client_id": entry[0], "scope": entry[1],
                "exp": int(entry[2])}

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if url.path == "/_emulator/config":
            conf = json.loads(body or b"{}")
            with self.state.lock:
                self.state.expires_in = conf.get("expires_in",
                                                 self.state.expires_in)
                self.state.fail = conf.get("fail", self.state.fail)
            self.reply(200, {"ok": True})
            return
        self.count(url.path)
        parts = url.path.strip("/").split("/")
        if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
            self.reply(404, {"error": "not_found"})
            return
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            self.reply(*aad_error(400, "invalid_request", 900144,
                                  "The request body must contain the "
                                  "following parameter: 'grant_type'."))
            return
        form = dict(urllib.parse.parse_qsl(body.decode(),
                                           keep_blank_values=True))
        self.reply(*self.token(parts[0], form))

    def token(self, tenant, form):
        with self.state.lock:
            fail, expires_in = self.state.fail, self.state.expires_in
        if fail:
            return aad_error(fail, "temporarily_unavailable", 90033,
                             "A transient error has occurred.")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tenant", default="tenant-1")
    parser.add_argument("--client-id", default="client-1")
    parser.add_argument("--client-secret", default="s3cret")
    parser.add_argument("--expires-in", type=int, default=3599)
    args = parser.parse_args()
    Handler.state = State(args)
    serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
