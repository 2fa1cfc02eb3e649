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
  POST /_emulator/faults   {"fail_next": N, "code": 503, "on": "PATCH append"}
                           (the next N requests counted as "on", or any
                           request when "on" is absent, answer "code")

Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import argparse
import datetime
import json
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler

from emulator import serve

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


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.filesystems = set(args.filesystem)
        self.token = args.token
        self.aad_url = args.aad_url
        self.max_append = args.max_append
        self.files = {}  # (fs, path) -> File
        self.dirs = set()
        self.stats = {}
        self.fail_next, self.fail_code, self.fail_on = 0, 503, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc=None, data=b"", headers=()):
        if doc is not None:
            data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-version", "2021-06-08")
        if doc is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def error(self, e):
        now = datetime.datetime.now(datetime.timezone.utc)
        message = "%s\nRequestId:%s\nTime:%s" % (
            MESSAGES[e.code], uuid.uuid4(),
            now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
        self.reply(e.status, {"error": {"code": e.code, "message": message}},
                   headers=[("x-ms-error-code", e.code)])

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query,
                                            keep_blank_values=True))
        body = self.read_body()
        if url.path.startswith("/_emulator/"):
            self.control(url.path, body)
            return
        what = query.get("resource") and "resource=" + query["resource"] \
            or query.get("action", "")
        key = ("%s %s" % (self.command, what)).strip()
        with self.state.lock:
            self.state.stats[key] = self.state.stats.get(key, 0) + 1
        try:
            self.authenticate()
            self.injected_fault(key)
            parts = urllib.parse.unquote(url.path).strip("/").split("/", 1)
            if parts[0] not in self.state.filesystems:
                raise StorageError(404, "FilesystemNotFound")
            if len(parts) < 2 or not parts[1]:
                raise StorageError(400, "InvalidQueryParameterValue")
            self.dispatch(parts[0], parts[1], query, body)
        except StorageError as e:
            self.error(e)

    def control(self, path, body):
        if path == "/_emulator/stats":
            with self.state.lock:
                self.reply(200, dict(self.state.stats))
        elif path == "/_emulator/faults" and self.command == "POST":
            conf = json.loads(body or b"{}")
            with self.state.lock:
                self.state.fail_next = conf.get("fail_next", 0)
                self.state.fail_code = conf.get("code", 503)
                self.state.fail_on = conf.get("on")
            self.reply(200, {"ok": True})
        else:
            self.reply(404, {"error": {"code": "NotFound",
                                       "message": "no control endpoint"}})

    def injected_fault(self, key):
        with self.state.lock:
            if self.state.fail_next <= 0 or \
                    self.state.fail_on not in (None, key):
                return
            self.state.fail_next -= 1
            code = self.state.fail_code
        raise StorageError(code, "ServerBusy")

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
            self.reply(201)
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
        self.reply(201)

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
        self.reply(202)

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
        self.reply(200)

    def read(self, fs, path):
        with self.state.lock:
            f = self.state.files.get((fs, path))
            data = f.committed if f else None
        if data is None:
            raise StorageError(404, "PathNotFound")
        self.reply(200, data=data)

    do_GET = do_PUT = do_PATCH = do_HEAD = do_POST = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--filesystem", action="append", default=[],
                        help="a filesystem (container) or OneLake workspace")
    parser.add_argument("--token", help="a bearer token always accepted")
    parser.add_argument("--aad-url", help="the aad emulator to ask")
    parser.add_argument("--max-append", type=int, default=4 << 20)
    args = parser.parse_args()
    if not args.filesystem:
        args.filesystem = ["data"]
    Handler.state = State(args)
    serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
