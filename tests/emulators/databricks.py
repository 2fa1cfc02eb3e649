#!/usr/bin/env python3
"""Databricks workspace emulator for the jobfs tests: Jobs API 2.1/2.2
one-time runs, OAuth M2M, and the three upload APIs.

Written from the public API (docs/platform-apis.md section 3; the
databricks-sdk-py service/jobs.py, service/files.py, service/workspace.py,
oauth.py and errors). Nothing is executed: a run moves PENDING -> RUNNING
-> TERMINATING -> TERMINATED over time, its outcome decided by its task's
parameters:

  --fail=MSG   the task fails: TERMINATED/FAILED, get-output error MSG
  --skip       the run is SKIPPED
  --sleep=N    the task runs N seconds (default --running)
  --lines=N    the task prints N lines "line I"
  --truncate   get-output says logs_truncated
  anything     the task prints "args: ARG ARG ..." (echo)

A python_file or library in /Volumes/, /Workspace/ or dbfs:/ that was not
uploaded makes the run end INTERNAL_ERROR (result FAILED), as a cluster
that cannot read it does.

  POST /oidc/v1/token            basic client_id:client_secret, form
                                 grant_type=client_credentials&scope=all-apis
  POST /api/{2.1,2.2}/jobs/runs/submit    idempotency_token: same run_id
  GET  /api/{v}/jobs/runs/get?run_id=     Run, with tasks[]
  GET  /api/{v}/jobs/runs/get-output?run_id=   a TASK run id (the parent's
                                          is refused, as Databricks does)
  GET  /api/{v}/jobs/runs/list   run_type, active_only, completed_only,
                                 limit (1..25, 0 = 25, default 20),
                                 page_token; newest first, no tasks
  POST /api/{v}/jobs/runs/cancel {"run_id"}: TERMINATING, then
                                 TERMINATED/CANCELED; an ended run: no-op
  PUT  /api/2.0/fs/files/Volumes/...?overwrite=   raw bytes (204)
  PUT  /api/2.0/fs/directories/Volumes/...
  POST /api/2.0/workspace/mkdirs, /api/2.0/workspace/import (<= 10 MB,
       the parent must exist)
  POST /api/2.0/dbfs/create, add-block (<= 1 MB decoded), close, put
Errors are {"error_code", "message"}; 429 and 503 carry Retry-After.
A bearer is a --token (PAT) or a token /oidc/v1/token issued.

Control endpoints (emulator.py's, plus):
  POST /_emulator/config  {"pending": 0.3, "running": 1, "terminating": 0.2,
                           "post_delay": 0, "upload_delay": 0,
                           "expires_in": 3600}
  GET  /_emulator/runs    every run: run_id, run_name, token, request, state
  GET  /_emulator/files   {"path": size} of every uploaded file
The first line on stdout is the port (listening on 127.0.0.1).
"""

import base64
import json
import re
import secrets
import sys
import time
import urllib.parse

import emulator

JOBS_RE = re.compile(r"^/api/(?P<v>2\.[12])/jobs/(?P<op>runs/[a-z-]+)$")
TASK_TYPES = ("spark_python_task", "spark_jar_task", "python_wheel_task",
              "notebook_task", "spark_submit_task")
CLUSTERS = ("existing_cluster_id", "new_cluster", "environment_key",
            "job_cluster_key")
BLOCK_MAX = 1 << 20
IMPORT_MAX = 10 << 20


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def ms(t):
    return int(t * 1000) if t else 0


class Run:
    def __init__(self, state, run_id, req, now):
        self.id = run_id
        self.task_id = run_id + 1
        self.req = req
        self.name = req.get("run_name") or "Untitled"
        self.token = req.get("idempotency_token")
        self.task = req["tasks"][0]
        self.created = now
        self.cancelled = None
        t = state.timing
        self.pending, self.running = t["pending"], t["running"]
        self.terminating = t["terminating"]
        self.failure = self.skip = self.internal = None
        self.lines, self.truncate = 0, False
        self.args = [str(a) for a in self.params()]
        for a in self.args:
            if a.startswith("--fail="):
                self.failure = a[len("--fail="):]
            elif a == "--skip":
                self.skip = True
            elif a.startswith("--sleep="):
                self.running = float(a[len("--sleep="):])
            elif a.startswith("--lines="):
                self.lines = int(a[len("--lines="):])
            elif a == "--truncate":
                self.truncate = True
        missing = [p for p in self.paths() if not state.has_file(p)]
        if missing:
            self.internal = ("Run failed with error message\n Cannot read "
                             "the python file %s. Please check driver logs "
                             "for more details." % missing[0]) \
                if not missing[0].endswith((".jar", ".whl")) else \
                "Library installation failed: %s does not exist" % missing[0]
            self.running = 0

    def params(self):
        for k in TASK_TYPES:
            if k in self.task:
                return self.task[k].get("parameters") or []
        return []

    def paths(self):
        out = []
        py = self.task.get("spark_python_task", {}).get("python_file")
        if py:
            out.append(py)
        for lib in self.task.get("libraries") or []:
            out += [v for k, v in lib.items() if k in ("jar", "whl")]
        return [p for p in out if p.startswith(("/Volumes/", "/Workspace/",
                                                "dbfs:/"))]

    def times(self):
        start = self.created + self.pending
        end = start + self.running
        return start, end, end + self.terminating

    def life(self, now):
        """(life_cycle_state, result_state, state_message)."""
        if self.skip:
            return "SKIPPED", None, "The run was skipped."
        start, end, done = self.times()
        if self.cancelled is not None:
            if now < self.cancelled + self.terminating:
                return "TERMINATING", None, "Run cancellation requested."
            return "TERMINATED", "CANCELED", "Run cancelled."
        if now < start:
            return "PENDING", None, "Waiting for cluster"
        if self.internal and now >= start:
            return "INTERNAL_ERROR", "FAILED", self.internal
        if now < end:
            return "RUNNING", None, "In run"
        if now < done:
            return "TERMINATING", None, ""
        if self.failure is not None:
            return "TERMINATED", "FAILED", (
                "Task main failed with message: Workload failed, see run "
                "output for details. This caused all downstream tasks to "
                "get skipped.")
        return "TERMINATED", "SUCCESS", ""

    def ended(self, now):
        return self.life(now)[0] in ("TERMINATED", "SKIPPED",
                                     "INTERNAL_ERROR")

    def end_time(self, now):
        if not self.ended(now):
            return 0
        if self.cancelled is not None:
            return ms(self.cancelled + self.terminating)
        return ms(self.times()[2] if not self.internal else self.times()[0])

    def state_obj(self, now, task=False):
        life, result, msg = self.life(now)
        s = {"life_cycle_state": life, "state_message": msg,
             "user_cancelled_or_timedout": self.cancelled is not None}
        if result:
            s["result_state"] = result
        if task and self.failure is not None and result == "FAILED":
            s["state_message"] = "Workload failed, see run output for details"
        return s

    def status_obj(self, now):
        life, result, msg = self.life(now)
        v2 = {"INTERNAL_ERROR": "TERMINATED", "SKIPPED": "TERMINATED"}
        out = {"state": v2.get(life, life)}
        if self.ended(now):
            code = {"SUCCESS": "SUCCESS", "CANCELED": "USER_CANCELED",
                    "FAILED": "RUN_EXECUTION_ERROR"}.get(result, "SKIPPED")
            if self.internal:
                code = "INTERNAL_ERROR"
            out["termination_details"] = {
                "code": code, "message": msg,
                "type": "SUCCESS" if code == "SUCCESS" else "CLIENT_ERROR"}
        return out

    def view(self, now, tasks=True):
        v = {"run_id": self.id, "number_in_job": self.id,
             "run_name": self.name, "run_type": "SUBMIT_RUN",
             "creator_user_name": "jobfs@example.com",
             "state": self.state_obj(now), "status": self.status_obj(now),
             "start_time": ms(self.created), "end_time": self.end_time(now),
             "setup_duration": 0, "execution_duration": 0,
             "cleanup_duration": 0, "format": "MULTI_TASK",
             "run_page_url": "https://emulator/#job/runs/%d" % self.id}
        if tasks:
            t = {k: v for k, v in self.task.items()}
            t.update({"run_id": self.task_id, "attempt_number": 0,
                      "state": self.state_obj(now, True),
                      "status": self.status_obj(now),
                      "start_time": ms(self.times()[0])
                      if now >= self.times()[0] else 0,
                      "end_time": self.end_time(now)})
            v["tasks"] = [t]
        return v

    def output(self, now):
        lines = ["args: " + " ".join(self.args)]
        lines += ["line %d" % i for i in range(1, self.lines + 1)]
        out = {"metadata": self.view(now)["tasks"][0]}
        if now >= self.times()[0] and not self.internal:
            out["logs"] = "\n".join(lines) + "\n"
            out["logs_truncated"] = self.truncate
        if self.failure is not None and self.life(now)[1] == "FAILED":
            out["error"] = "Exception: " + self.failure
            out["error_trace"] = ("Traceback (most recent call last):\n"
                                  "  File \"main.py\", line 1, in <module>\n"
                                  "Exception: " + self.failure)
        if self.internal:
            out["error"] = self.internal
        return out


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.timing = {"pending": opts.pending, "running": opts.running,
                       "terminating": 0.2, "post_delay": 0.0,
                       "upload_delay": 0.0, "expires_in": 3600.0}
        self.runs = {}        # run id -> Run (parent ids)
        self.by_token = {}    # idempotency_token -> run id
        self.files = {}       # "/Volumes/.." "/Workspace/.." "dbfs:/.."
        self.dirs = {"/Workspace", "/Workspace/Users"}
        self.handles = {}     # dbfs handle -> [path, bytearray]
        self.next_id = 1000
        self.next_handle = 7
        self.tokens = {t: float("inf") for t in opts.token or []}

    def has_file(self, path):
        return path in self.files


class Handler(emulator.Handler):
    server_version = "DatabricksEmulator/2.2"

    @property
    def emu(self):
        return self.state

    def error(self, status, code, message, headers=()):
        self.send(status, {"error_code": code, "message": message},
                  headers=headers)

    def fault_error(self, code):
        name = {429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE",
                500: "INTERNAL_ERROR"}.get(code, "INTERNAL_ERROR")
        self.error(code, name, "injected fault %d" % code,
                   headers=self.retry_after)

    def fault_kind(self, kind):
        """A dropped POST was acted on first, or not: half and half."""
        if kind == "drop" and self.command == "POST" and not self.emu.coin():
            return "after_drop"
        return kind

    def count_key(self, method, path, query):
        if path.startswith("/api/2.0/fs/files/"):
            return method + " /api/2.0/fs/files/{path}"
        if path.startswith("/api/2.0/fs/directories/"):
            return method + " /api/2.0/fs/directories/{path}"
        return method + " " + path

    # ---- routing

    def route(self, method, path, query, body):
        try:
            if path == "/oidc/v1/token" and method == "POST":
                return self.oauth(body)
            self.authorize()
            m = JOBS_RE.match(path)
            if m:
                return self.jobs(method, m.group("op"), query, body)
            if path.startswith("/api/2.0/fs/"):
                return self.fs(method, path[len("/api/2.0/fs"):], query,
                               body)
            if path.startswith("/api/2.0/workspace/") and method == "POST":
                return self.workspace(path[len("/api/2.0/workspace/"):],
                                      self.json_body(body))
            if path.startswith("/api/2.0/dbfs/") and method == "POST":
                return self.dbfs(path[len("/api/2.0/dbfs/"):],
                                 self.json_body(body))
            raise ApiError(404, "ENDPOINT_NOT_FOUND",
                           "No API found for '%s %s'" % (method, path))
        except ApiError as e:
            self.error(e.status, e.code, e.message)

    def authorize(self):
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        with self.emu.lock:
            ok = token is not None and \
                self.emu.tokens.get(token, 0) > time.time()
        if not ok:
            self.emu.count("401 refused")  # a token used past its expiry
            raise ApiError(401, "UNAUTHENTICATED",
                           "Credential was not sent or was of an "
                           "unsupported type for this API.")

    @staticmethod
    def json_body(body):
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            req = None
        if not isinstance(req, dict):
            raise ApiError(400, "MALFORMED_REQUEST",
                           "Could not parse request object")
        return req

    def oauth(self, body):
        opts = self.emu.opts
        auth = self.headers.get("Authorization") or ""
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (opts.client_id, opts.client_secret)).encode()
        ).decode()
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if not opts.client_id or auth != want:
            return self.send(401, {"error": "invalid_client",
                                   "error_description":
                                   "Client authentication failed"})
        if form.get("grant_type") != "client_credentials" or \
                form.get("scope") != "all-apis":
            return self.send(400, {"error": "invalid_request",
                                   "error_description":
                                   "grant_type or scope"})
        token = "dapi-oauth-" + secrets.token_hex(16)
        with self.emu.lock:
            life = self.emu.timing["expires_in"]
            self.emu.tokens[token] = time.time() + life
        self.send(200, {"access_token": token, "token_type": "Bearer",
                        "scope": "all-apis", "expires_in": int(life)})

    # ---- jobs

    def jobs(self, method, op, query, body):
        if op == "runs/submit" and method == "POST":
            return self.submit(self.json_body(body))
        if op == "runs/cancel" and method == "POST":
            return self.cancel(self.json_body(body))
        if op == "runs/list" and method == "GET":
            return self.send(200, self.list_runs(query))
        if op in ("runs/get", "runs/get-output") and method == "GET":
            try:
                rid = int(query.get("run_id", ""))
            except ValueError:
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "run_id must be an integer") from None
            with self.emu.lock:
                return self.send(200, self.get(op, rid, time.time()))
        raise ApiError(404, "ENDPOINT_NOT_FOUND", "No API found for '%s'"
                       % op)

    @staticmethod
    def check_submit(req):
        tasks = req.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "At least one task is required.")
        tok = req.get("idempotency_token")
        if tok is not None and (not isinstance(tok, str) or len(tok) > 64):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "idempotency_token must be at most 64 "
                           "characters")
        envs = {e.get("environment_key") for e in
                req.get("environments") or []}
        for t in tasks:
            kinds = [k for k in TASK_TYPES if k in t]
            if not t.get("task_key") or len(kinds) != 1:
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "A task needs a task_key and exactly one "
                               "task type")
            if sum(k in t for k in CLUSTERS) != 1:
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "Task %s: exactly one of existing_cluster_id,"
                               " new_cluster or environment_key"
                               % t["task_key"])
            if "environment_key" in t and t["environment_key"] not in envs:
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "environment %s is not defined"
                               % t["environment_key"])
            if kinds[0] == "spark_jar_task" and \
                    not t[kinds[0]].get("main_class_name"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "main_class_name is required")
            if kinds[0] == "spark_python_task" and \
                    not t[kinds[0]].get("python_file"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "python_file is required")
            if kinds[0] == "python_wheel_task" and not (
                    t[kinds[0]].get("package_name") and
                    t[kinds[0]].get("entry_point")):
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "package_name and entry_point are required")

    def submit(self, req):
        self.check_submit(req)
        with self.emu.lock:
            tok = req.get("idempotency_token")
            rid = self.emu.by_token.get(tok) if tok else None
            if rid is None:
                rid = self.emu.next_id
                self.emu.next_id += 2  # the parent and its task
                self.emu.runs[rid] = Run(self.emu, rid, req, time.time())
                if tok:
                    self.emu.by_token[tok] = rid
            delay = self.emu.timing["post_delay"]
        if delay > 0:
            time.sleep(delay)
        self.send(200, {"run_id": rid})

    def find_run(self, rid):
        r = self.emu.runs.get(rid)
        if r is None:
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "Run %d does not exist." % rid)
        return r

    def get(self, op, rid, now):
        if op == "runs/get":
            return self.find_run(rid).view(now)
        for r in self.emu.runs.values():
            if r.task_id == rid:
                return r.output(now)
        self.find_run(rid)
        raise ApiError(400, "INVALID_PARAMETER_VALUE",
                       "Retrieving the output of runs with multiple tasks "
                       "is not supported. Please retrieve the output of "
                       "each individual task run instead.")

    def list_runs(self, query):
        active = query.get("active_only", "false") == "true"
        completed = query.get("completed_only", "false") == "true"
        if active and completed:
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "active_only and completed_only cannot both be "
                           "true")
        try:
            limit = int(query.get("limit", 20))
            offset = int(base64.b64decode(query["page_token"]).decode()) \
                if query.get("page_token") else 0
        except (ValueError, TypeError):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "limit or page_token is not valid") from None
        if limit == 0:
            limit = 25
        if not 0 < limit <= 25:
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "limit must be greater than 0 and at most 25")
        rtype = query.get("run_type")
        if rtype not in (None, "JOB_RUN", "WORKFLOW_RUN", "SUBMIT_RUN"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "invalid run_type %s" % rtype)
        with self.emu.lock:
            now = time.time()
            runs = [r for r in sorted(self.emu.runs.values(),
                                      key=lambda r: -r.id)
                    if rtype in (None, "SUBMIT_RUN")
                    and (not active or not r.ended(now))
                    and (not completed or r.ended(now))]
            page = runs[offset:offset + limit]
            out = {"runs": [r.view(now, tasks=False) for r in page],
                   "has_more": offset + limit < len(runs)}
        if out["has_more"]:
            out["next_page_token"] = base64.b64encode(
                str(offset + limit).encode()).decode()
        if offset > 0:
            out["prev_page_token"] = base64.b64encode(
                str(max(0, offset - limit)).encode()).decode()
        return out

    def cancel(self, req):
        rid = req.get("run_id")
        if not isinstance(rid, int):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "run_id is required")
        with self.emu.lock:
            r = self.find_run(rid)
            now = time.time()
            if not r.ended(now) and r.cancelled is None:
                r.cancelled = now
        self.send(200, {})

    # ---- uploads

    def upload_pause(self):
        delay = self.emu.timing["upload_delay"]
        if delay > 0:
            time.sleep(delay)

    def fs(self, method, path, query, body):
        kind, _, rest = path[1:].partition("/")
        target = "/" + urllib.parse.unquote(rest)
        if not target.startswith("/Volumes/") or \
                len(target.strip("/").split("/")) < 4 + (kind == "files"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "path must be /Volumes/<catalog>/<schema>/"
                           "<volume>/...")
        if kind == "directories" and method == "PUT":
            return self.send(204, None)
        if kind != "files":
            raise ApiError(404, "ENDPOINT_NOT_FOUND", "no such API")
        with self.emu.lock:
            exists = target in self.emu.files
            data = self.emu.files.get(target)
        if method == "GET":
            if not exists:
                raise ApiError(404, "NOT_FOUND", "The file does not exist")
            return self.send(200, data, "application/octet-stream")
        if method != "PUT":
            raise ApiError(405, "METHOD_NOT_ALLOWED", method)
        if exists and query.get("overwrite", "false") != "true":
            raise ApiError(409, "ALREADY_EXISTS",
                           "The file being created already exists.")
        self.upload_pause()
        with self.emu.lock:
            self.emu.files[target] = bytes(body)
        self.send(204, None)

    def workspace(self, op, req):
        path = req.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE",
                           "Path (%s) must be absolute" % path)
        full = path if path.startswith("/Workspace/") else "/Workspace" + \
            path
        with self.emu.lock:
            if op == "mkdirs":
                parts = full.strip("/").split("/")
                for i in range(1, len(parts) + 1):
                    self.emu.dirs.add("/" + "/".join(parts[:i]))
                return self.send(200, {})
            if op != "import":
                raise ApiError(404, "ENDPOINT_NOT_FOUND", op)
            parent = full.rsplit("/", 1)[0]
            if parent not in self.emu.dirs:
                raise ApiError(404, "RESOURCE_DOES_NOT_EXIST",
                               "The parent folder (%s) does not exist."
                               % parent)
            exists = full in self.emu.files
        content = base64.b64decode(req.get("content") or "")
        if len(content) > IMPORT_MAX:
            raise ApiError(400, "MAX_NOTEBOOK_SIZE_EXCEEDED",
                           "File size imported is (%d bytes), exceeded max "
                           "size (%d bytes)" % (len(content), IMPORT_MAX))
        if exists and not req.get("overwrite"):
            raise ApiError(400, "RESOURCE_ALREADY_EXISTS",
                           "%s already exists." % path)
        self.upload_pause()
        with self.emu.lock:
            self.emu.files[full] = content
        self.send(200, {})

    def dbfs(self, op, req):
        e = self.emu
        if op in ("create", "put"):
            path = req.get("path") or ""
            full = path if path.startswith("dbfs:/") else "dbfs:" + path
            if not full.startswith("dbfs:/"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE",
                               "Path must be absolute: %s" % path)
            with e.lock:
                if full in e.files and not req.get("overwrite"):
                    raise ApiError(400, "RESOURCE_ALREADY_EXISTS",
                                   "A file or directory already exists at "
                                   "the input path %s." % path)
                if op == "create":
                    h = e.next_handle
                    e.next_handle += 1
                    e.handles[h] = [full, bytearray()]
                    return self.send(200, {"handle": h})
            data = base64.b64decode(req.get("contents") or "")
            if len(data) > BLOCK_MAX:
                raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED",
                               "The maximum block size is 1MB")
            with e.lock:
                e.files[full] = data
            return self.send(200, {})
        with e.lock:
            h = e.handles.get(req.get("handle"))
        if h is None:
            raise ApiError(400, "RESOURCE_DOES_NOT_EXIST",
                           "No such handle %s" % req.get("handle"))
        if op == "add-block":
            data = base64.b64decode(req.get("data") or "")
            if len(data) > BLOCK_MAX:
                raise ApiError(400, "MAX_BLOCK_SIZE_EXCEEDED",
                               "The maximum block size is 1MB")
            self.upload_pause()
            with e.lock:
                h[1] += data
            return self.send(200, {})
        if op == "close":
            with e.lock:
                e.files[h[0]] = bytes(h[1])
                e.handles.pop(req.get("handle"), None)
            return self.send(200, {})
        raise ApiError(404, "ENDPOINT_NOT_FOUND", op)

    # ---- control

    def configure(self, req):
        with self.emu.lock:
            self.emu.timing.update({k: float(v) for k, v in req.items()
                                    if k in self.emu.timing})
            return dict(self.emu.timing)

    def control_get(self, name, query):
        with self.emu.lock:
            now = time.time()
            if name == "runs":
                return [{"run_id": r.id, "run_name": r.name,
                         "token": r.token, "request": r.req,
                         "state": r.life(now)[0],
                         "result": r.life(now)[1]}
                        for r in sorted(self.emu.runs.values(),
                                        key=lambda r: r.id)]
            if name == "files":
                return {p: len(d) for p, d in self.emu.files.items()}
        return None


def options(ap):
    ap.add_argument("--token", action="append",
                    help="a personal access token accepted")
    ap.add_argument("--client-id", help="the OAuth service principal")
    ap.add_argument("--client-secret")
    ap.add_argument("--pending", type=float, default=0.3)
    ap.add_argument("--running", type=float, default=1.0)


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__, options))
