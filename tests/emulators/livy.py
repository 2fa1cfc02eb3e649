#!/usr/bin/env python3
"""Apache Livy / Azure Synapse Spark batch emulator for the jobfs tests.

Written from the public API (docs/platform-apis.md section 2; Livy's
SessionServlet, BatchSession and SessionManager; Synapse's sparkJob.json
2019-11-01-preview). Nothing is executed: a batch moves through its states
over time and its outcome is decided by its arguments:

  --fail / --fail=MSG   the app fails (state dead, result Failed)
  --sleep=N             the app runs N seconds (default --running)
  --lines=N             the app prints N lines "line I"
  anything              the app prints "args: ARG ARG ..." (echo)

A file:// URL in file, jars, pyFiles or files that does not exist makes
the batch die as spark-submit would, so tests see their uploads checked.

Variants (--variant):
  livy     POST /batches -> 201 + Location; GET /batches[/{id}[/state|/log]];
           DELETE /batches/{id} removes the session; --csrf, --basic U:P
  synapse  /livyApi/versions/{v}/sparkPools/{pool}/batches[/{id}];
           POST needs name and file and answers 200; a bearer token given
           by --token, or issued by tests/emulators/aad.py (--aad-url URL) for
           the scope https://dev.azuresynapse.net/.default;
           ?detailed=true adds result, schedulerInfo, pluginInfo, livyInfo,
           errorInfo; list pages hold at most 20; no /state or /log;
           a cancelled batch stays listed as killed / Cancelled

Control endpoints (no auth, no faults, not counted):
  POST   /_emulator/faults   {"rate": 0.3, "kinds": [...], "slow_seconds": 2}
         kinds: 500 503 429 slow drop badjson
  POST   /_emulator/config   {"post_delay": 3, "delete_delay": 0, "queued": 0,
                              "starting": 0.5, "running": 1, "retain": 600}
         (the delays hold an answer back after the batch was created or
         deleted)
  GET    /_emulator/stats    {"METHOD /path/{template}": count, ...}
  DELETE /_emulator/stats    resets the counters
  GET    /_emulator/batches  every batch ever created, removed ones too

The first line on stdout is the port (listening on 127.0.0.1).
"""

import argparse
import base64
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from emulator import serve

SYNAPSE_RE = re.compile(
    r"^/livyApi/versions/(?P<version>[^/]+)/sparkPools/(?P<pool>[^/]+)"
    r"(?P<rest>/batches(?:/.*)?)$")
TERMINAL = ("success", "dead", "killed", "error")
SYNAPSE_SCOPE = "https://dev.azuresynapse.net/.default"
FAULT_KINDS = ("500", "503", "429", "slow", "drop", "badjson")
URL_LISTS = ("jars", "pyFiles", "files", "archives")


def iso(t):
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


def number(text, default):
    try:
        return max(0.0, float(text))
    except ValueError:
        return default


class Batch:
    def __init__(self, ident, req, owner, timing, now):
        self.id = ident
        self.name = req.get("name")
        self.file = req.get("file")
        self.args = [str(a) for a in req.get("args") or []]
        self.req = req
        self.owner = owner
        self.proxy_user = req.get("proxyUser") or owner
        self.created = now
        self.killed_at = None
        self.removed = False
        self.queued = timing["queued"]
        self.starting = timing["starting"]
        self.running = timing["running"]
        self.failure = None   # the exception that ends the batch dead
        self.app_runs = True  # False: spark-submit failed before the app
        self.lines = 0
        for a in self.args:
            if a == "--fail":
                self.failure = "java.lang.RuntimeException: failed on purpose"
            elif a.startswith("--fail="):
                self.failure = "java.lang.RuntimeException: " + \
                    a[len("--fail="):]
            elif a.startswith("--sleep="):
                self.running = number(a[len("--sleep="):], self.running)
            elif a.startswith("--lines="):
                self.lines = int(number(a[len("--lines="):], 0))
        missing = [u for u in self.urls() if u.startswith("file://")
                   and not self.exists(u[len("file://"):])]
        if missing:
            self.running = 0
            self.app_runs = False
            self.failure = ("java.io.FileNotFoundException: File %s "
                            "does not exist" % missing[0])
        self.app_id = "application_%d_%04d" % (int(now), ident + 1)

    def urls(self):
        out = [self.file] if isinstance(self.file, str) else []
        for key in URL_LISTS:
            out += [u for u in self.req.get(key) or []
                    if isinstance(u, str)]
        return out

    @staticmethod
    def exists(path):
        try:
            with open(unquote(path), "rb"):
                return True
        except OSError:
            return False

    def times(self):
        start = self.created + self.queued
        run = start + self.starting
        end = run + self.running
        return start, run, end

    def ended_at(self):
        if self.killed_at is not None:
            return self.killed_at
        return self.times()[2]

    def reached(self, t, now):
        """Whether the timeline got to time @t (a kill stops it)."""
        if self.killed_at is not None:
            now = min(now, self.killed_at)
        return now >= t

    def state(self, now):
        if self.killed_at is not None:
            return "killed"
        start, run, end = self.times()
        if now < start:
            return "not_started"
        if now < run:
            return "starting"
        if now < end:
            return "running"
        return "dead" if self.failure else "success"

    def log(self, now):
        st = self.state(now)
        lines = ["stdout: ", "spark-submit --name %s %s" % (
            self.name or "batch-%d" % self.id, self.file)]
        if self.app_runs and self.reached(self.times()[1], now):
            lines.append("args: " + " ".join(self.args))
            lines += ["line %d" % i for i in range(1, self.lines + 1)]
        if st == "dead":
            lines.append("Exception in thread \"main\" " + self.failure)
        lines.append("\nstderr: ")
        lines.append("\nYARN Diagnostics: ")
        if st == "dead":
            lines.append("User class threw exception: " + self.failure)
        if st == "killed":
            lines.append("Application %s was killed by user" % self.app_id)
        return lines

    def view(self, now):
        st = self.state(now)
        started = self.reached(self.times()[1], now)
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "proxyUser": self.proxy_user,
            "state": st,
            "appId": self.app_id if started else None,
            "appInfo": {
                "driverLogUrl": "http://nm:8042/node/containerlogs/"
                                "container_%s_01_000001/livy" % self.app_id
                                if started else None,
                "sparkUiUrl": "http://rm:8088/proxy/%s/" % self.app_id
                              if started else None,
            },
            "log": self.log(now)[-10:],
        }

    def detailed(self, now, workspace, pool):
        v = self.view(now)
        st = v["state"]
        start, run, _ = self.times()
        ended = self.ended_at() if st in TERMINAL else None
        result = {"success": "Succeeded", "dead": "Failed",
                  "killed": "Cancelled"}.get(st, "Uncertain")
        sched = "Queued" if st == "not_started" else \
            "Ended" if st in TERMINAL else "Scheduled"
        plugin = {"not_started": "Queued", "starting": "Submission",
                  "running": "Monitoring"}.get(st, "Ended")
        v.update({
            "livyInfo": {
                "notStartedAt": iso(self.created),
                "startingAt": iso(start) if self.reached(start, now)
                else None,
                "runningAt": iso(run) if self.reached(run, now) else None,
                "deadAt": iso(ended) if st == "dead" else None,
                "successAt": iso(ended) if st == "success" else None,
                "killedAt": iso(ended) if st == "killed" else None,
                "recoveringAt": None,
                "currentState": st,
                "jobCreationRequest": self.req,
            },
            "workspaceName": workspace,
            "sparkPoolName": pool,
            "submitterName": self.owner,
            "submitterId": "00000000-0000-0000-0000-000000000001",
            "artifactId": self.req.get("artifactId"),
            "jobType": "SparkBatch",
            "result": result,
            "schedulerInfo": {
                "submittedAt": iso(self.created),
                "scheduledAt": iso(start) if self.reached(start, now)
                else None,
                "endedAt": iso(ended),
                "cancellationRequestedAt": iso(self.killed_at),
                "currentState": sched,
            },
            "pluginInfo": {"currentState": plugin},
            "errorInfo": [{
                "message": "User class threw exception: " + self.failure,
                "errorCode": "Spark_User_UserApp_ExitCode1",
                "source": "User",
            }] if st == "dead" else [],
            "tags": self.req.get("tags") or {},
        })
        return v


class Emulator:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.batches = {}     # id -> Batch, the sessions the server knows
        self.all = []         # every batch ever created
        self.next_id = 0
        self.stats = {}
        self.timing = {"queued": opts.queued, "starting": opts.starting,
                       "running": opts.running, "retain": opts.retain,
                       "post_delay": opts.post_delay, "delete_delay": 0.0}
        self.faults = {"rate": opts.fault_rate,
                       "kinds": opts.fault_kinds.split(","),
                       "slow_seconds": opts.slow_seconds}
        self.tokens = {t: float("inf") for t in opts.token or []}
        self.rng = random.Random(opts.seed)

    def is_valid_token(self, token):
        """A --token, or one aad.py issued for Synapse and still valid."""
        with self.lock:
            if self.tokens.get(token, 0) > time.time():
                return True
        if not self.opts.aad_url:
            return False
        url = "%s/_emulator/introspect?token=%s" % (
            self.opts.aad_url.rstrip("/"), urllib.parse.quote(token))
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                info = json.load(r)
        except (OSError, ValueError):
            return False
        if not info.get("active") or info.get("scope") != SYNAPSE_SCOPE:
            return False
        with self.lock:
            self.tokens[token] = float(info.get("exp", 0))
        return True

    def count(self, key):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def pick_fault(self):
        with self.lock:
            f = self.faults
            if f["rate"] <= 0 or self.rng.random() >= f["rate"]:
                return None
            kinds = [k for k in f["kinds"] if k in FAULT_KINDS]
            return self.rng.choice(kinds) if kinds else None

    def coin(self):
        """A dropped create was processed first, or not: half and half."""
        with self.lock:
            return self.rng.random() < 0.5

    def collect_garbage(self, now):
        """Livy's SessionManager.collectGarbage (state-retain.sec)."""
        for b in list(self.batches.values()):
            st = b.state(now)
            if st in TERMINAL and now - b.ended_at() > self.timing["retain"]:
                self.remove(b)

    def remove(self, b):
        b.removed = True
        del self.batches[b.id]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LivyEmulator/0.8"

    def log_message(self, fmt, *args):
        if self.server.emu.opts.verbose:
            sys.stderr.write("livy-emulator: " + fmt % args + "\n")

    # ---- plumbing

    @property
    def emu(self):
        return self.server.emu

    @property
    def synapse(self):
        return self.emu.opts.variant == "synapse"

    def body_bytes(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, obj=None, headers=None, raw=None,
             ctype="application/json"):
        data = raw if raw is not None else \
            (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data or obj is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, msg, code=None, headers=None):
        if self.synapse:
            body = {"code": code or {400: "BadRequest", 401: "Unauthorized",
                                     404: "NotFound"}.get(status, "Error"),
                    "message": msg}
        else:
            body = {"msg": msg}
        self.send(status, body, headers)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- routing

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self.body_bytes()
        if url.path.startswith("/_emulator/"):
            return self.control(method, url.path, body)
        rest, prefix = self.api_path(url.path)
        if rest is None:
            self.emu.count("%s %s" % (method, url.path))
            return self.error(404, "Not found: %s" % url.path)
        template, ident, sub = self.template(rest)
        self.emu.count("%s %s%s" % (method, prefix, template))
        fault = self.emu.pick_fault()
        if fault in ("500", "503", "429"):
            hdr = {"Retry-After": "1"} if fault == "429" else None
            return self.error(int(fault), "injected fault %s" % fault,
                              headers=hdr)
        if fault == "slow":
            time.sleep(self.emu.faults["slow_seconds"])
        if fault == "drop" and (method != "POST" or self.emu.coin()):
            return self.drop()
        if not self.authorized(method):
            return
        self.route(method, template, ident, sub, query, body, fault)

    def api_path(self, path):
        """The path below the API root and the template prefix, or None."""
        if not self.synapse:
            ok = path == "/batches" or path.startswith("/batches/")
            return (path, "") if ok else (None, None)
        m = SYNAPSE_RE.match(path)
        if not m:
            return None, None
        return m.group("rest"), \
            "/livyApi/versions/{version}/sparkPools/{pool}"

    @staticmethod
    def template(rest):
        parts = rest.strip("/").split("/")
        if len(parts) == 1:
            return "/batches", None, None
        if len(parts) == 2:
            return "/batches/{id}", parts[1], None
        return "/batches/{id}/" + "/".join(parts[2:]), parts[1], \
            "/".join(parts[2:])

    def authorized(self, method):
        opts = self.emu.opts
        auth = self.headers.get("Authorization") or ""
        if self.synapse:
            token = auth[7:] if auth.startswith("Bearer ") else None
            if not token or not self.emu.is_valid_token(token):
                self.error(401, "Token Authentication failed - "
                           "IDX10223: the token is missing, expired or "
                           "not valid", headers={
                               "WWW-Authenticate": 'Bearer realm=""'})
                return False
            return True
        if opts.basic:
            want = "Basic " + base64.b64encode(opts.basic.encode()).decode()
            if auth != want:
                self.send(401, headers={
                    "WWW-Authenticate": 'Basic realm="livy"'},
                    raw=b"<html><body><h2>HTTP ERROR 401</h2>"
                        b"</body></html>", ctype="text/html")
                return False
        if opts.csrf and method not in ("GET", "HEAD", "OPTIONS") and \
                not self.headers.get("X-Requested-By"):
            self.send(400, raw=b"<html><body><h2>HTTP ERROR 400 Missing "
                      b"Required Header for CSRF protection.</h2>"
                      b"</body></html>", ctype="text/html")
            return False
        return True

    def owner(self):
        if self.synapse:
            return "jobfs@example.com"
        if self.emu.opts.basic:
            return self.emu.opts.basic.split(":", 1)[0]
        return None

    def route(self, method, template, ident, sub, query, body, fault):
        if self.synapse:
            m = SYNAPSE_RE.match(urlsplit(self.path).path)
            if m.group("version") != "2019-11-01-preview":
                return self.error(404, "api version %s is not supported"
                                  % m.group("version"))
            if m.group("pool") != self.emu.opts.pool:
                return self.error(404, "Spark pool %s not found"
                                  % m.group("pool"), "SparkPoolNotFound")
        if template == "/batches" and method == "GET":
            return self.list_batches(query, fault)
        if template == "/batches" and method == "POST":
            return self.create(query, body, fault)
        if ident is None:
            return self.error(405, "Method not allowed")
        with self.emu.lock:
            reply = self.on_batch(method, ident, sub, query)
        if reply is None:
            return self.error(404, "Not found: %s" % urlsplit(self.path).path)
        if reply[0] >= 400:
            return self.error(reply[0], reply[1])
        if method == "DELETE" and self.emu.timing["delete_delay"] > 0:
            time.sleep(self.emu.timing["delete_delay"])
        self.answer(reply[0], reply[1], fault)

    def on_batch(self, method, ident, sub, query):
        """(status, body) of a call on one batch; emu.lock is held."""
        now = time.time()
        self.emu.collect_garbage(now)
        b = self.find(ident)
        if b is None:
            return 404, "Session '%s' not found." % ident
        if method == "GET" and sub is None:
            return 200, self.batch_view(b, query, now)
        if method == "DELETE" and sub is None:
            return self.delete(b, now)
        if method == "GET" and sub == "state" and not self.synapse:
            return 200, {"id": b.id, "state": b.state(now)}
        if method == "GET" and sub == "log" and not self.synapse:
            return self.log_page(b, query, now)
        return None

    def find(self, ident):
        if ident.isdigit():
            return self.emu.batches.get(int(ident))
        if self.synapse:
            return None
        for b in self.emu.batches.values():
            if b.name == ident:
                return b
        return None

    def answer(self, status, obj, fault, headers=None):
        if fault == "badjson":
            data = json.dumps(obj).encode()
            return self.send(status, raw=data[:max(1, len(data) // 2)],
                             headers=headers)
        if fault == "drop":
            return self.drop()
        return self.send(status, obj, headers)

    def batch_view(self, b, query, now):
        if self.synapse and query.get("detailed", "").lower() == "true":
            return b.detailed(now, self.emu.opts.workspace,
                              self.emu.opts.pool)
        return b.view(now)

    def list_batches(self, query, fault):
        try:
            frm = int(query.get("from", 0))
            size = int(query.get("size", 20 if self.synapse else 100))
        except ValueError:
            return self.error(400, "from and size must be integers")
        if self.synapse:
            size = min(max(size, 0), 20)
        with self.emu.lock:
            now = time.time()
            self.emu.collect_garbage(now)
            every = list(self.emu.batches.values())
            page = every[max(frm, 0):frm + size] if size > 0 else []
            out = {"from": frm, "total": len(every),
                   "sessions": [self.batch_view(b, query, now)
                                for b in page]}
        self.answer(200, out, fault)

    @staticmethod
    def log_page(b, query, now):
        """SessionServlet.serializeLogs."""
        lines = b.log(now)
        try:
            size = int(query.get("size", 100))
            frm = int(query.get("from", -1))
        except ValueError:
            return 400, "from and size must be integers"
        if size < 0:
            size = len(lines)
        if frm < 0:
            frm = max(0, len(lines) - size)
        return 200, {"id": b.id, "from": frm, "total": len(lines),
                     "log": lines[frm:frm + size]}

    def create(self, query, body, fault):
        try:
            req = json.loads(body or b"null")
        except ValueError:
            req = None
        if not isinstance(req, dict):
            return self.error(400, "Rejected, the body is not a JSON object")
        if self.synapse:
            for field in ("name", "file"):
                if not isinstance(req.get(field), str) or not req[field]:
                    return self.error(400, "The %s field is required."
                                      % field)
        elif not isinstance(req.get("file"), str):
            return self.error(400, "requirement failed: File is required.")
        with self.emu.lock:
            now = time.time()
            self.emu.collect_garbage(now)
            name = req.get("name")
            if name is not None and not self.synapse and any(
                    b.name == name for b in self.emu.batches.values()):
                return self.error(400, "Duplicate session name: Some(%s)"
                                  % name)
            b = Batch(self.emu.next_id, req, self.owner(), self.emu.timing,
                      now)
            self.emu.next_id += 1
            self.emu.batches[b.id] = b
            self.emu.all.append(b)
            view = self.batch_view(b, query, now)
            delay = self.emu.timing["post_delay"]
        if fault == "drop":
            return self.drop()
        if delay > 0:
            time.sleep(delay)
        if self.synapse:
            return self.answer(200, view, fault)
        self.answer(201, view, fault, {"Location": "/batches/%d" % b.id})

    def delete(self, b, now):
        """Livy stops the app and removes the session; Synapse keeps it."""
        if b.state(now) not in TERMINAL:
            b.killed_at = now
        if self.synapse:
            return 200, None
        self.emu.remove(b)
        return 200, {"msg": "deleted"}

    # ---- control

    def control(self, method, path, body):
        emu = self.emu
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return self.send(400, {"msg": "bad JSON"})
        with emu.lock:
            if path == "/_emulator/faults" and method == "POST":
                emu.faults.update({k: req[k] for k in
                                   ("rate", "kinds", "slow_seconds")
                                   if k in req})
                return self.send(200, emu.faults)
            if path == "/_emulator/config" and method == "POST":
                emu.timing.update({k: float(v) for k, v in req.items()
                                   if k in emu.timing})
                return self.send(200, emu.timing)
            if path == "/_emulator/stats" and method == "GET":
                return self.send(200, dict(emu.stats))
            if path == "/_emulator/stats" and method == "DELETE":
                emu.stats.clear()
                return self.send(200, {})
            if path == "/_emulator/batches" and method == "GET":
                now = time.time()
                return self.send(200, [{
                    "id": b.id, "name": b.name, "file": b.file,
                    "args": b.args, "state": b.state(now),
                    "removed": b.removed, "request": b.req,
                } for b in emu.all])
        self.send(404, {"msg": "no such control endpoint"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--variant", choices=("livy", "synapse"), default="livy")
    ap.add_argument("--csrf", action="store_true",
                    help="require X-Requested-By on non-GET requests")
    ap.add_argument("--basic", metavar="USER:PASS",
                    help="require HTTP basic auth")
    ap.add_argument("--token", action="append",
                    help="a bearer token accepted by the synapse variant")
    ap.add_argument("--aad-url", metavar="URL",
                    help="accept tokens this aad.py emulator issued")
    ap.add_argument("--workspace", default="ws1")
    ap.add_argument("--pool", default="pool1")
    ap.add_argument("--queued", type=float, default=None,
                    help="seconds not_started (synapse 0.3, livy 0)")
    ap.add_argument("--starting", type=float, default=0.5)
    ap.add_argument("--running", type=float, default=1.0)
    ap.add_argument("--retain", type=float, default=600.0,
                    help="livy.server.session.state-retain.sec")
    ap.add_argument("--post-delay", type=float, default=0.0,
                    help="seconds before answering a create")
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--fault-kinds", default=",".join(FAULT_KINDS))
    ap.add_argument("--slow-seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    if opts.queued is None:
        opts.queued = 0.3 if opts.variant == "synapse" else 0.0
    emu = Emulator(opts)
    serve(Handler, opts.port, lambda server: setattr(server, "emu", emu))


if __name__ == "__main__":
    main()
