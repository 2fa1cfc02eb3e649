#!/usr/bin/env python3
"""An emulator of the ADLS Gen2 / OneLake DFS endpoint (files in memory).

  PUT   /FS/PATH?resource=file            201 (creates or truncates)
  PUT   /FS/PATH?resource=directory       201
  PATCH /FS/PATH?action=append&position=N 202; N must be the length so far
                                          (committed + appended) else 400
                                          InvalidFlushPosition; body at most
                                          --max-append bytes (413)
  PATCH /FS/PATH?action=flush&position=N  200; N must equal that length
  GET   /FS/PATH                          200 the committed bytes
  HEAD  /FS/PATH                          200 with Content-Length
  errors: {"error": {"code": ..., "message": "...\\nRequestId:..\\nTime:.."}}

Every storage request needs "Authorization: Bearer T" (401
NoAuthenticationInformation / InvalidAuthenticationInfo) and x-ms-version
(400 MissingRequiredHeader). T is valid when it equals --token, or when
the aad emulator at --aad-url says it is active for the storage scope.

  GET  /_emulator/stats    {"PUT resource=file": n, "PATCH append": n, ...}
  POST /_emulator/faults   emulator.py's switch, e.g. {"fail_next": N,
                           "code": 503, "on": "PATCH append"} (the next N
                           requests counted as "on", or any request when
                           "on" is absent, answer "code", ServerBusy)

Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import datetime
import json
import sys
import urllib.parse
import urllib.request
import uuid

import emulator

STORAGE_SCOPE = "https://storage.azure.com/.default"
MESSAGES = {
    "NoAuthenticationInformation":
        "Server failed to authenticate the request. Please refer to the "
        "information in the www-authenticate header.",
    "InvalidAuthenticationInfo":
        "Server failed to authenticate the request. Make sure the value of "
        "Authorization header is formed correctly including the signature.",
    "MissingRequiredHeader":
        "An HTTP header that's mandatory for this request is not specified.",
    "FilesystemNotFound": "The specified filesystem does not exist.",
    "PathNotFound": "The specified path does not exist.",
    "InvalidFlushPosition":
        "The uploaded data is not contiguous or the position query "
        "parameter value is not equal to the length of the file after "
        "appending the uploaded data.",
    "PathConflict":
        "The specified path, or an element of the path, exists and its "
        "resource type is invalid for this operation.",
    "RequestBodyTooLarge": "The request body is too large.",
    "InvalidQueryParameterValue":
        "Value for one of the query parameters specified in the request URI "
        "is invalid.",
    "ServerBusy": "Operations per second is over the account limit.",
}


class StorageError(Exception):
    def __init__(self, status, code):
        super().__init__(code)
        self.status, self.code = status, code


class File:
    def __init__(self):
        self.committed = b""
        self.pending = b""


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.filesystems = set(opts.filesystem or ["data"])
        self.token = opts.token
        self.aad_url = opts.aad_url
        self.max_append = opts.max_append
        self.files = {}  # (fs, path) -> File
        self.dirs = set()


class Handler(emulator.Handler):
    json_type = "application/json;charset=utf-8"

    def extra_headers(self):
        return [("x-ms-request-id", str(uuid.uuid4())),
                ("x-ms-version", "2021-06-08")]

    def error(self, e):
        now = datetime.datetime.now(datetime.timezone.utc)
        message = "%s\nRequestId:%s\nTime:%s" % (
            MESSAGES[e.code], uuid.uuid4(),
            now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
        self.send(e.status, {"error": {"code": e.code, "message": message}},
                  headers=[("x-ms-error-code", e.code)] + self.retry_after)

    def fault_error(self, code):
        self.error(StorageError(code, "ServerBusy"))

    def count_key(self, method, path, query):
        what = query.get("resource") and "resource=" + query["resource"] \
            or query.get("action", "")
        return ("%s %s" % (method, what)).strip()

    def route(self, method, path, query, body):
        try:
            self.authenticate()
            parts = urllib.parse.unquote(path).strip("/").split("/", 1)
            if parts[0] not in self.state.filesystems:
                raise StorageError(404, "FilesystemNotFound")
            if len(parts) < 2 or not parts[1]:
                raise StorageError(400, "InvalidQueryParameterValue")
            self.dispatch(parts[0], parts[1], query, body)
        except StorageError as e:
            self.error(e)

    def authenticate(self):
        auth = self.headers.get("Authorization")
        if not auth:
            raise StorageError(401, "NoAuthenticationInformation")
        if not auth.startswith("Bearer ") or \
                not self.token_valid(auth[len("Bearer "):]):
            raise StorageError(401, "InvalidAuthenticationInfo")
        if not self.headers.get("x-ms-version"):
            raise StorageError(400, "MissingRequiredHeader")

    def token_valid(self, token):
        if self.state.token and token == self.state.token:
            return True
        if not self.state.aad_url:
            return False
        url = "%s/_emulator/introspect?token=%s" % (
            self.state.aad_url, urllib.parse.quote(token))
        with urllib.request.urlopen(url, timeout=5) as answer:
            info = json.load(answer)
        return info.get("active") and info.get("scope") == STORAGE_SCOPE

    def dispatch(self, fs, path, query, body):
        if self.command == "PUT" and query.get("resource") == "file":
            self.create(fs, path)
        elif self.command == "PUT" and query.get("resource") == "directory":
            with self.state.lock:
                self.state.dirs.add((fs, path))
            self.send(201)
        elif self.command == "PATCH" and query.get("action") == "append":
            self.append(fs, path, query, body)
        elif self.command == "PATCH" and query.get("action") == "flush":
            self.flush(fs, path, query)
        elif self.command in ("GET", "HEAD"):
            self.read(fs, path)
        else:
            raise StorageError(400, "InvalidQueryParameterValue")

    def create(self, fs, path):
        with self.state.lock:
            if (fs, path) in self.state.dirs:
                raise StorageError(409, "PathConflict")
            self.state.files[(fs, path)] = File()
        self.send(201)

    def position(self, query):
        try:
            return int(query["position"])
        except (KeyError, ValueError):
            raise StorageError(400, "InvalidQueryParameterValue")

    def append(self, fs, path, query, body):
        pos = self.position(query)
        if len(body) > self.state.max_append:
            raise StorageError(413, "RequestBodyTooLarge")
        with self.state.lock:
            f = self.state.files.get((fs, path))
            if f is None:
                raise StorageError(404, "PathNotFound")
            if pos != len(f.committed) + len(f.pending):
                raise StorageError(400, "InvalidFlushPosition")
            f.pending += body
        self.send(202)

    def flush(self, fs, path, query):
        pos = self.position(query)
        with self.state.lock:
            f = self.state.files.get((fs, path))
            if f is None:
                raise StorageError(404, "PathNotFound")
            if pos != len(f.committed) + len(f.pending):
                raise StorageError(400, "InvalidFlushPosition")
            f.committed += f.pending
            f.pending = b""
        self.send(200)

    def read(self, fs, path):
        with self.state.lock:
            f = self.state.files.get((fs, path))
            data = f.committed if f else None
        if data is None:
            raise StorageError(404, "PathNotFound")
        self.send(200, data)



def options(parser):
    parser.add_argument("--filesystem", action="append", default=[],
                        help="a filesystem (container) or OneLake workspace")
    parser.add_argument("--token", help="a bearer token always accepted")
    parser.add_argument("--aad-url", help="the aad emulator to ask")
    parser.add_argument("--max-append", type=int, default=4 << 20)


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__, options))
