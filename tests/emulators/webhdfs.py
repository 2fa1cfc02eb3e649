#!/usr/bin/env python3
"""An emulator of the WebHDFS REST API (namenode and datanode in one
server, files kept in memory), enough for uploads and reading them back.

  PUT  /webhdfs/v1/PATH?op=CREATE&user.name=U[&overwrite=true]
       namenode step: 307 with Location = the "datanode" URL (this server,
       same path, with namenoderpcaddress= and createparent=true added);
       datanode step (that URL, body = data): 201, Location hdfs://...
  PUT  /webhdfs/v1/PATH?op=MKDIRS&user.name=U     200 {"boolean": true}
  GET  /webhdfs/v1/PATH?op=GETFILESTATUS          200 {"FileStatus": {...}}
  GET  /webhdfs/v1/PATH?op=OPEN                   307 to the datanode, which
                                                  answers the bytes
  errors: {"RemoteException": {"exception", "javaClassName", "message"}}
  GET  /_emulator/stats     {"PUT CREATE": n, "PUT CREATE datanode": n, ...}
  POST /_emulator/faults    {"fail_next": N, "code": 503, "on": "PUT CREATE"}
                            (the next N requests counted as "on", or any
                            request when "on" is absent, answer "code")

Only --user may write (simple auth through user.name, as with the default
hadoop.security.authentication=simple and a directory owned by that user).
Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import argparse
import json
import posixpath
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from emulator import serve

PREFIX = "/webhdfs/v1"
EXCEPTIONS = {
    "FileNotFoundException": "java.io.FileNotFoundException",
    "FileAlreadyExistsException":
        "org.apache.hadoop.fs.FileAlreadyExistsException",
    "AccessControlException":
        "org.apache.hadoop.security.AccessControlException",
    "IllegalArgumentException": "java.lang.IllegalArgumentException",
    "UnsupportedOperationException":
        "java.lang.UnsupportedOperationException",
    "RetriableException": "org.apache.hadoop.ipc.RetriableException",
}


class HdfsError(Exception):
    def __init__(self, status, exception, message):
        super().__init__(message)
        self.status, self.exception, self.message = status, exception, message


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.user = args.user
        self.files = {}  # path -> (bytes, owner, mtime ms)
        self.dirs = {"/": args.user}
        self.stats = {}
        self.fail_next, self.fail_code, self.fail_on = 0, 503, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, doc=None, data=None, headers=()):
        if data is None:
            data = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        ctype = "application/octet-stream" if doc is None else \
            "application/json"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def count(self, key):
        with self.state.lock:
            self.state.stats[key] = self.state.stats.get(key, 0) + 1

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query,
                                            keep_blank_values=True))
        body = self.read_body()
        if url.path.startswith("/_emulator/"):
            self.control(url.path, body)
            return
        op = query.get("op", "").upper()
        datanode = "namenoderpcaddress" in query
        key = "%s %s%s" % (self.command, op, " datanode" if datanode else "")
        self.count(key)
        try:
            if not url.path.startswith(PREFIX):
                raise HdfsError(404, "FileNotFoundException",
                                "no such endpoint " + url.path)
            self.injected_fault(key)
            path = posixpath.normpath(
                urllib.parse.unquote(url.path[len(PREFIX):]) or "/")
            self.dispatch(op, path, query, datanode, body)
        except HdfsError as e:
            self.reply(e.status, {"RemoteException": {
                "exception": e.exception,
                "javaClassName": EXCEPTIONS[e.exception],
                "message": e.message}})

    def injected_fault(self, key):
        with self.state.lock:
            if self.state.fail_next <= 0 or \
                    self.state.fail_on not in (None, key):
                return
            self.state.fail_next -= 1
            code = self.state.fail_code
        raise HdfsError(code, "RetriableException",
                        "org.apache.hadoop.hdfs.server.namenode."
                        "SafeModeException: injected fault")

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
            self.reply(404, {"error": "no such control endpoint"})

    def dispatch(self, op, path, query, datanode, body):
        table = {("PUT", "CREATE"): self.op_create,
                 ("PUT", "MKDIRS"): self.op_mkdirs,
                 ("GET", "GETFILESTATUS"): self.op_getfilestatus,
                 ("GET", "OPEN"): self.op_open}
        handler = table.get((self.command, op))
        if handler is None:
            if op in ("CREATE", "MKDIRS", "GETFILESTATUS", "OPEN"):
                raise HdfsError(400, "IllegalArgumentException",
                                "Invalid value for webhdfs parameter \"op\":"
                                " %s is not a valid %s operation."
                                % (op, self.command))
            raise HdfsError(400, "IllegalArgumentException",
                            "Invalid value for webhdfs parameter \"op\": "
                            "No enum constant org.apache.hadoop.hdfs.web."
                            "resources.%sOpParam.Op.%s" % (
                                self.command.capitalize(), op))
        handler(path, query, datanode, body)

    def check_write(self, path, query):
        user = query.get("user.name", "dr.who")
        if user != self.state.user:
            raise HdfsError(403, "AccessControlException",
                            "Permission denied: user=%s, access=WRITE, "
                            "inode=\"%s\":%s:supergroup:drwxr-xr-x"
                            % (user, posixpath.dirname(path),
                               self.state.user))
        return user

    def datanode_url(self, path, query):
        extra = dict(query)
        extra.update({"namenoderpcaddress": "localhost:8020",
                      "createparent": "true"})
        host, port = self.server.server_address[:2]
        return "http://%s:%d%s%s?%s" % (
            host, port, PREFIX, urllib.parse.quote(path),
            urllib.parse.urlencode(extra))

    def op_create(self, path, query, datanode, body):
        user = self.check_write(path, query)
        overwrite = query.get("overwrite", "false") == "true"
        with self.state.lock:
            if path in self.state.dirs:
                raise HdfsError(403, "FileAlreadyExistsException",
                                "%s already exists as a directory" % path)
            if path in self.state.files and not overwrite:
                raise HdfsError(403, "FileAlreadyExistsException",
                                "%s for client 127.0.0.1 already exists"
                                % path)
        if not datanode:
            self.reply(307, headers=[("Location",
                                      self.datanode_url(path, query))])
            return
        with self.state.lock:
            parent = posixpath.dirname(path)
            while parent not in self.state.dirs:
                self.state.dirs[parent] = user
                parent = posixpath.dirname(parent)
            self.state.files[path] = (body, user, int(time.time() * 1000))
        self.reply(201, headers=[("Location", "hdfs://localhost:8020" +
                                  path)])

    def op_mkdirs(self, path, query, datanode, body):
        user = self.check_write(path, query)
        with self.state.lock:
            while path not in self.state.dirs:
                self.state.dirs[path] = user
                path = posixpath.dirname(path)
        self.reply(200, {"boolean": True})

    def op_getfilestatus(self, path, query, datanode, body):
        with self.state.lock:
            entry = self.state.files.get(path)
            is_dir = path in self.state.dirs
        if entry is None and not is_dir:
            raise HdfsError(404, "FileNotFoundException",
                            "File does not exist: " + path)
        data, owner, mtime = entry if entry else (b"", self.state.user, 0)
        self.reply(200, {"FileStatus": {
            "accessTime": mtime, "blockSize": 134217728, "childrenNum": 0,
            "fileId": 16386, "group": "supergroup", "length": len(data),
            "modificationTime": mtime, "owner": owner, "pathSuffix": "",
            "permission": "755" if is_dir else "644",
            "replication": 0 if is_dir else 3,
            "type": "DIRECTORY" if is_dir else "FILE"}})

    def op_open(self, path, query, datanode, body):
        with self.state.lock:
            entry = self.state.files.get(path)
        if entry is None:
            raise HdfsError(404, "FileNotFoundException",
                            "File does not exist: " + path)
        if not datanode:
            self.reply(307, headers=[("Location",
                                      self.datanode_url(path, query))])
            return
        self.reply(200, data=entry[0])

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="jobfs")
    args = parser.parse_args()
    Handler.state = State(args)
    serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
