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

Control endpoints (no auth, no faults, not counted), emulator.py's:
  POST   /_emulator/faults   {"rate": 0.3, "kinds": [...], "slow_seconds": 2}
         kinds: 500 503 429 slow drop badjson, and the after-acting ones
         (after_drop after_500 ...); a create that gets "drop" is, half
         the time, made first (after_drop)
  POST   /_emulator/config   {"post_delay": 3, "delete_delay": 0, "queued": 0,
                              "starting": 0.5, "running": 1, "retain": 600}
         (the delays hold an answer back after the batch was created or
         deleted)
  GET    /_emulator/stats    {"METHOD /path/{template}": count, ...}
  DELETE /_emulator/stats    resets the counters
  GET    /_emulator/batches  every batch ever created, removed ones too

The first line on stdout is the port (listening on 127.0.0.1).
"""

import base64
import json
import re
import sys
import time
import urllib.parse
import urllib.request
from urllib.parse import unquote, urlsplit

import emulator

SYNAPSE_RE = re.compile(
    r"^/livyApi/versions/(?P<version>[^/]+)/sparkPools/(?P<pool>[^/]+)"
    r"(?P<rest>/batches(?:/.*)?)$")
TERMINAL = ("success", "dead", "killed", "error")
SYNAPSE_SCOPE = "https://dev.azuresynapse.net/.default"
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


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        if opts.queued is None:
            opts.queued = 0.3 if opts.variant == "synapse" else 0.0
        self.batches = {}     # id -> Batch, the sessions the server knows
        self.all = []         # every batch ever created
        self.next_id = 0
        self.timing = {"queued": opts.queued, "starting": opts.starting,
                       "running": opts.running, "retain": opts.retain,
                       "post_delay": opts.post_delay, "delete_delay": 0.0}
        self.tokens = {t: float("inf") for t in opts.token or []}

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

    def collect_garbage(self, now):
        """Livy's SessionManager.collectGarbage (state-retain.sec)."""
        for b in list(self.batches.values()):
            st = b.state(now)
            if st in TERMINAL and now - b.ended_at() > self.timing["retain"]:
                self.remove(b)

    def remove(self, b):
        b.removed = True
        del self.batches[b.id]


class Handler(emulator.Handler):
    server_version = "LivyEmulator/0.8"

    # ---- plumbing

    @property
    def emu(self):
        return self.state

    @property
    def synapse(self):
        return self.emu.opts.variant == "synapse"

    def error(self, status, msg, code=None, headers=()):
        if self.synapse:
            body = {"code": code or {400: "BadRequest", 401: "Unauthorized",
                                     404: "NotFound"}.get(status, "Error"),
                    "message": msg}
        else:
            body = {"msg": msg}
        self.send(status, body, headers=headers)

    def fault_error(self, code):
        self.error(code, "injected fault %d" % code, headers=self.retry_after)

    def fault_kind(self, kind):
        """A dropped create was processed first, or not: half and half."""
        if kind == "drop" and self.command == "POST" and not self.emu.coin():
            return "after_drop"
        return kind

    # ---- routing

    def count_key(self, method, path, query):
        rest, prefix = self.api_path(path)
        self.api = None
        if rest is None:
            return "%s %s" % (method, path)
        self.api = self.template(rest)
        return "%s %s%s" % (method, prefix, self.api[0])

    def route(self, method, path, query, body):
        if self.api is None:
            return self.error(404, "Not found: %s" % path)
        if not self.authorized(method):
            return
        template, ident, sub = self.api
        self.route_api(method, template, ident, sub, query, body)

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
                           "not valid", headers=[
                               ("WWW-Authenticate", 'Bearer realm=""')])
                return False
            return True
        if opts.basic:
            want = "Basic " + base64.b64encode(opts.basic.encode()).decode()
            if auth != want:
                self.send(401, b"<html><body><h2>HTTP ERROR 401</h2>"
                          b"</body></html>", "text/html",
                          [("WWW-Authenticate", 'Basic realm="livy"')])
                return False
        if opts.csrf and method not in ("GET", "HEAD", "OPTIONS") and \
                not self.headers.get("X-Requested-By"):
            self.send(400, b"<html><body><h2>HTTP ERROR 400 Missing "
                      b"Required Header for CSRF protection.</h2>"
                      b"</body></html>", "text/html")
            return False
        return True

    def owner(self):
        if self.synapse:
            return "jobfs@example.com"
        if self.emu.opts.basic:
            return self.emu.opts.basic.split(":", 1)[0]
        return None

    def route_api(self, method, template, ident, sub, query, body):
        if self.synapse:
            m = SYNAPSE_RE.match(urlsplit(self.path).path)
            if m.group("version") != "2019-11-01-preview":
                return self.error(404, "api version %s is not supported"
                                  % m.group("version"))
            if m.group("pool") != self.emu.opts.pool:
                return self.error(404, "Spark pool %s not found"
                                  % m.group("pool"), "SparkPoolNotFound")
        if template == "/batches" and method == "GET":
            return self.list_batches(query)
        if template == "/batches" and method == "POST":
            return self.create(query, body)
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
        self.send(reply[0], reply[1])

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

    def batch_view(self, b, query, now):
        if self.synapse and query.get("detailed", "").lower() == "true":
            return b.detailed(now, self.emu.opts.workspace,
                              self.emu.opts.pool)
        return b.view(now)

    def list_batches(self, query):
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
        self.send(200, out)

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

    def create(self, query, body):
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
        if delay > 0:
            time.sleep(delay)
        if self.synapse:
            return self.send(200, view)
        self.send(201, view, headers=[("Location", "/batches/%d" % b.id)])

    def delete(self, b, now):
        """Livy stops the app and removes the session; Synapse keeps it."""
        if b.state(now) not in TERMINAL:
            b.killed_at = now
        if self.synapse:
            return 200, None
        self.emu.remove(b)
        return 200, {"msg": "deleted"}

    # ---- control

    def configure(self, req):
        with self.emu.lock:
            self.emu.timing.update({k: float(v) for k, v in req.items()
                                    if k in self.emu.timing})
            return dict(self.emu.timing)

    def control_get(self, name, query):
        if name != "batches":
            return None
        with self.emu.lock:
            now = time.time()
            return [{
                "id": b.id, "name": b.name, "file": b.file,
                "args": b.args, "state": b.state(now),
                "removed": b.removed, "request": b.req,
            } for b in self.emu.all]


def options(ap):
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


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__, options))
