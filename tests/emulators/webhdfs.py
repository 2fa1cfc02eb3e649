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
  POST /_emulator/faults    emulator.py's switch, e.g. {"fail_next": N,
                            "code": 503, "on": "PUT CREATE"} (the next N
                            requests counted as "on", or any request when
                            "on" is absent, answer "code", RetriableException)

Only --user may write (simple auth through user.name, as with the default
hadoop.security.authentication=simple and a directory owned by that user).
Listens on 127.0.0.1; prints the port as the first line of stdout.
"""
import posixpath
import sys
import time
import urllib.parse

import emulator

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


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.user = opts.user
        self.files = {}  # path -> (bytes, owner, mtime ms)
        self.dirs = {"/": opts.user}


class Handler(emulator.Handler):
    def reply(self, status, doc=None, data=None, headers=()):
        if data is None:
            data = doc
        ctype = "application/octet-stream" if doc is None else \
            "application/json"
        self.send(status, data, ctype, headers)

    def error(self, e):
        self.reply(e.status, {"RemoteException": {
            "exception": e.exception,
            "javaClassName": EXCEPTIONS[e.exception],
            "message": e.message}}, headers=self.retry_after)

    def fault_error(self, code):
        self.error(HdfsError(code, "RetriableException",
                             "org.apache.hadoop.hdfs.server.namenode."
                             "SafeModeException: injected fault"))

    def count_key(self, method, path, query):
        op = query.get("op", "").upper()
        datanode = "namenoderpcaddress" in query
        return "%s %s%s" % (method, op, " datanode" if datanode else "")

    def route(self, method, path, query, body):
        try:
            if not path.startswith(PREFIX):
                raise HdfsError(404, "FileNotFoundException",
                                "no such endpoint " + path)
            path = posixpath.normpath(
                urllib.parse.unquote(path[len(PREFIX):]) or "/")
            self.dispatch(query.get("op", "").upper(), path, query,
                          "namenoderpcaddress" in query, body)
        except HdfsError as e:
            self.error(e)

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



def options(parser):
    parser.add_argument("--user", default="jobfs")


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__, options))
