#!/usr/bin/env python3
"""A bench-only Apache Livy batch server: state on demand, at scale.

tests/emulators/livy.py moves each batch through its states over time
and creates batches only through POST /batches. The benchmarks need what
it does not offer: ten thousand batches that are running from the start,
and a batch whose state changes at a moment the benchmark picks (to time
how soon jobfs shows it). The API part follows the public Livy REST API
(docs/platform-apis.md section 2a):

  POST   /batches                 201 + Location, the Batch object
  GET    /batches?from=&size=     {"from", "total", "sessions": [Batch...]}
  GET    /batches/{id}            the Batch object, 404 {"msg"} if unknown
  GET    /batches/{id}/state      {"id", "state"}
  GET    /batches/{id}/log        {"id", "from", "total", "log": [lines]}
  DELETE /batches/{id}            kills and removes: 200 {"msg": "deleted"}

A Batch object is {id, name, owner, proxyUser, state, appId, appInfo
{driverLogUrl, sparkUiUrl}, log (the last 10 lines)}. A batch created by
POST stays in "starting" until the bench moves it.

Control endpoints (not counted):
  POST   /_bench/batches  {"count": N, "state": "running", "lines": 10,
                           "name": "PREFIX"}  -> {"ids": [first, ...]}
  POST   /_bench/state    {"ids": [...], "state": "success"}
                          -> {"time": epoch seconds of the change}
  GET    /_emulator/stats {"METHOD /path/{template}": count, ...}
  GET    /_bench/walks    one object per list walk (a GET /batches from 0,
                          i.e. one poller pass): {"start": epoch seconds,
                          "METHOD /path/{template}": count, ...} of the
                          requests from its start to the next walk's
  DELETE /_emulator/stats resets the counters and the walks

The first line on stdout is the port (listening on 127.0.0.1).
"""

import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATES = ("not_started", "starting", "recovering", "running", "success",
          "dead", "killed", "error")


class Batch:
    def __init__(self, ident, name, state, lines):
        self.id = ident
        self.name = name
        self.state = state
        self.app_id = "application_1700000000000_%04d" % (ident + 1)
        self.lines = ["stdout: ", "spark-submit --name %s" % name] + \
            ["line %d" % i for i in range(1, lines + 1)] + \
            ["\nstderr: ", "\nYARN Diagnostics: "]

    def view(self):
        return {
            "id": self.id,
            "name": self.name,
            "owner": None,
            "proxyUser": None,
            "state": self.state,
            "appId": self.app_id,
            "appInfo": {
                "driverLogUrl": "http://nm:8042/node/containerlogs/"
                                "container_%s_01_000001/livy" % self.app_id,
                "sparkUiUrl": "http://rm:8088/proxy/%s/" % self.app_id,
            },
            "log": self.lines[-10:],
        }


class Emulator:
    def __init__(self):
        self.lock = threading.Lock()
        self.batches = {}  # id -> Batch, in creation order
        self.next_id = 0
        self.stats = {}
        self.walks = []  # one per list walk: what came while it was last

    def count(self, key, first_page=False):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1
            if first_page:
                self.walks.append({"start": time.time()})
            if self.walks:
                w = self.walks[-1]
                w[key] = w.get(key, 0) + 1

    def add(self, name, state, lines):
        b = Batch(self.next_id, name, state, lines)
        self.batches[b.id] = b
        self.next_id += 1
        return b


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LivyBench/1.0"

    def setup(self):
        super().setup()
        # headers and body go out in two writes: without this, Nagle's
        # algorithm and delayed ACKs add up to 40 ms to an answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    @property
    def emu(self):
        return self.server.emu

    def send(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if url.path.startswith("/_emulator/") or \
                url.path.startswith("/_bench/"):
            return self.control(method, url.path, body)
        parts = url.path.strip("/").split("/")
        if parts[0] != "batches" or len(parts) > 3:
            return self.send(404, {"msg": "Not found: %s" % url.path})
        template = "/batches" + ("/{id}" if len(parts) > 1 else "") + \
            ("/" + parts[2] if len(parts) > 2 else "")
        first = method == "GET" and len(parts) == 1 and \
            query.get("from", "0") == "0"
        self.emu.count("%s %s" % (method, template), first)
        try:
            if len(parts) == 1:
                return self.collection(method, query, body)
            return self.one(method, parts[1], parts[2:], query)
        except ValueError:
            return self.send(400, {"msg": "bad request"})

    def collection(self, method, query, body):
        emu = self.emu
        if method == "POST":
            req = json.loads(body or b"null")
            if not isinstance(req, dict) or \
                    not isinstance(req.get("file"), str):
                return self.send(400, {"msg": "requirement failed: "
                                              "File is required."})
            with emu.lock:
                b = emu.add(req.get("name"), "starting", 0)
                view = b.view()
            return self.send(201, view, {"Location": "/batches/%d" % b.id})
        if method != "GET":
            return self.send(405, {"msg": "Method not allowed"})
        frm = int(query.get("from", 0))
        size = int(query.get("size", 100))
        with emu.lock:
            every = list(emu.batches.values())
            page = every[frm:frm + size] if size >= 0 else every[frm:]
            out = {"from": frm, "total": len(every),
                   "sessions": [b.view() for b in page]}
        self.send(200, out)

    def one(self, method, ident, sub, query):
        emu = self.emu
        with emu.lock:
            b = emu.batches.get(int(ident)) if ident.isdigit() else None
            if b is None:
                reply = (404, {"msg": "Session '%s' not found." % ident})
            elif method == "GET" and not sub:
                reply = (200, b.view())
            elif method == "GET" and sub == ["state"]:
                reply = (200, {"id": b.id, "state": b.state})
            elif method == "GET" and sub == ["log"]:
                reply = (200, self.log_page(b, query))
            elif method == "DELETE" and not sub:
                del emu.batches[b.id]
                reply = (200, {"msg": "deleted"})
            else:
                reply = (405, {"msg": "Method not allowed"})
        self.send(*reply)

    @staticmethod
    def log_page(b, query):
        size = int(query.get("size", 100))
        frm = int(query.get("from", -1))
        if size < 0:
            size = len(b.lines)
        if frm < 0:
            frm = max(0, len(b.lines) - size)
        return {"id": b.id, "from": frm, "total": len(b.lines),
                "log": b.lines[frm:frm + size]}

    def control(self, method, path, body):
        emu = self.emu
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return self.send(400, {"msg": "bad JSON"})
        with emu.lock:
            if path == "/_bench/batches" and method == "POST":
                state = req.get("state", "running")
                if state not in STATES:
                    return self.send(400, {"msg": "unknown state"})
                prefix = req.get("name", "bench")
                ids = [emu.add("%s-%d" % (prefix, emu.next_id), state,
                               int(req.get("lines", 10))).id
                       for _ in range(int(req.get("count", 1)))]
                return self.send(200, {"ids": ids})
            if path == "/_bench/state" and method == "POST":
                state = req.get("state")
                if state not in STATES:
                    return self.send(400, {"msg": "unknown state"})
                for ident in req.get("ids", []):
                    if ident in emu.batches:
                        emu.batches[ident].state = state
                return self.send(200, {"time": time.time()})
            if path == "/_emulator/stats" and method == "GET":
                return self.send(200, dict(emu.stats))
            if path == "/_emulator/stats" and method == "DELETE":
                emu.stats.clear()
                emu.walks.clear()
                return self.send(200, {})
            if path == "/_bench/walks" and method == "GET":
                return self.send(200, emu.walks)
        self.send(404, {"msg": "no such control endpoint"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    opts = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    server.daemon_threads = True
    server.emu = Emulator()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
