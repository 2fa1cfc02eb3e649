#!/usr/bin/env python3
"""An emulator of a Spark standalone master, for tests/fs/spark.test.

Written from /work/shared/docs/platform-apis.md section 1. One port serves
what a real cluster spreads over three servers:

  REST submission server (6066)
    POST /v1/submissions/create        CreateSubmissionRequest
    GET  /v1/submissions/status/ID     SubmissionStatusResponse
    POST /v1/submissions/kill/ID       KillSubmissionResponse
  master web UI (8080)
    GET  /json/ (or /json)             activedrivers, completeddrivers,
                                       activeapps, completedapps, workers
  worker web UI (8081), the one worker's
    GET  /log?driverId=ID&logType=stdout|stderr[&offset=&byteLength=]
                                       "==== Bytes S-E of L of PATH ====\\n" + text
    GET  /logPage/?driverId=ID&logType=...   the same as an HTML page

Drivers run nothing. A driver stays SUBMITTED for --submitted-s seconds,
RUNNING for --run-s seconds, then ends; its app arguments decide how
(a driver that ran has an app named by spark.app.name, and its stderr
starts with the worker's "Launch Command: ..." line):
  --fail[=TEXT]   FAILED (exit non-zero: no message, as in Spark; the
                  exception goes to stderr)
  --error[=TEXT]  ERROR with "Exception from the cluster:\\n..." as message
  --sleep=N       RUNNING for N seconds instead
  --out=TEXT      TEXT is a line of stdout (default: "args: ARGS")
  --lines=N       N more stdout lines "line I" (for paging)
An appResource (or, with mainClass org.apache.spark.deploy.PythonRunner,
appArgs[0]) that is a file:// URL or a path missing on disk ends ERROR, as a
worker failing to fetch the jar does. Kill: a SUBMITTED driver is KILLED at
once, a RUNNING one --kill-delay seconds later; an ended or unknown one gets
success:false "Driver ID has already finished or does not exist". HTTP
status codes as in RestSubmissionServer: 400 malformed, 468 other protocol
version, 500 server error; a JWS filter (--jws-key, base64url HS256 key)
answers 403 to /v1/ requests without a valid "Authorization: Bearer JWS";
with --ui-auth (or config "ui_auth") the web UIs (/json/, /log, /logPage/)
have that filter too (spark.ui.filters=org.apache.spark.ui.JWSFilter).

Test control (never faulted, never counted), emulator.py's:
  POST /_emulator/faults   {"rate":0.3,"kinds":["500","503","429","slow",
                            "drop","badjson"],"paths":["/v1/"],
                            "slow_seconds":2}
                           paths: prefixes faults apply to (default: all);
                           "drop" here acts after the request was handled
                           (the answer lost: the worst case for a create),
                           as "after_drop" does
  POST /_emulator/config   {"standby":bool,"submitted_s":x,"run_s":x,
                            "ui_auth":bool}
  GET  /_emulator/stats    {"METHOD /path/template": count}
  GET  /_emulator/drivers  every driver created, with its request
The chosen port is the first line of stdout.
"""
import base64
import hashlib
import hmac
import html
import json
import re
import sys
import time
import urllib.parse

import emulator

PYTHON_RUNNER = "org.apache.spark.deploy.PythonRunner"
ACTIVE = ("SUBMITTED", "RUNNING", "RELAUNCHING", "UNKNOWN")
WORKER_ID = "worker-20240101000000-127.0.0.1-7078"
WORKER_HOST_PORT = "127.0.0.1:7078"  # the worker's RPC address, not HTTP
MEMORY_RE = re.compile(r"^[0-9]+([kmgtp]b?)?$", re.IGNORECASE)


class Driver:
    def __init__(self, did, req, opts):
        self.id = did
        self.req = req
        self.created = time.time()
        self.submitted_s = opts.submitted_s
        self.run_s = opts.run_s
        self.kill_delay = opts.kill_delay
        self.killed_at = None
        props = req["sparkProperties"]
        self.name = props.get("spark.app.name")
        self.cores = int(float(props.get("spark.driver.cores", "1")))
        self.memory = memory_mb(props.get("spark.driver.memory", "1g"))
        args = list(req.get("appArgs") or [])
        self.user_args = args[2:] if req["mainClass"] == PYTHON_RUNNER else args
        self.outcome, self.message = "FINISHED", None
        self.fail_text = None
        for a in self.user_args:
            key, _, value = a.partition("=")
            if key == "--fail":
                self.outcome, self.fail_text = "FAILED", value or "failed as asked"
            elif key == "--error":
                self.outcome = "ERROR"
                self.message = ("Exception from the cluster:\n"
                                "java.lang.RuntimeException: %s\n"
                                "\tat org.apache.spark.deploy.worker.DriverRunner"
                                ".prepareAndRunDriver(DriverRunner.scala:179)"
                                % (value or "error as asked"))
            elif key == "--sleep":
                self.run_s = float(value)
        missing = missing_resource(req)
        if missing:
            self.outcome, self.run_s = "ERROR", 0
            self.message = ("Exception from the cluster:\n"
                            "java.nio.file.NoSuchFileException: %s\n"
                            "\tat org.apache.spark.util.Utils$.doFetchFile"
                            "(Utils.scala:812)" % missing)

    def times(self):
        start = self.created + self.submitted_s
        return start, start + self.run_s

    def state(self, now=None):
        now = time.time() if now is None else now
        start, end = self.times()
        if self.killed_at is not None and self.killed_at < start:
            return "KILLED"
        if now < start:
            return "SUBMITTED"
        if self.killed_at is not None:
            kill_end = self.killed_at + self.kill_delay
            if kill_end < end and now >= kill_end:
                return "KILLED"
        if now < end:
            return "RUNNING"
        return self.outcome

    def has_worker(self):
        return self.state() != "SUBMITTED" and not (
            self.killed_at is not None and self.killed_at < self.times()[0])

    def output(self, log_type):
        st = self.state()
        if log_type == "stderr":
            lines = [] if st == "ERROR" else self.launch_command()
            lines.append("INFO DriverWrapper: starting %s"
                         % self.req["mainClass"])
            if st == "FAILED":
                lines.append('Exception in thread "main" '
                             "java.lang.RuntimeException: %s" % self.fail_text)
            elif st == "KILLED":
                lines.append("ERROR DriverWrapper: RECEIVED SIGNAL TERM")
            elif st == "ERROR":
                lines.append(self.message.split("\n")[1])
        elif st in ACTIVE:
            lines = []
        else:
            outs = [a[6:] for a in self.user_args if a.startswith("--out=")]
            lines = outs or ["args: " + " ".join(self.user_args)]
            for a in self.user_args:
                if a.startswith("--lines="):
                    lines += ["line %d" % i for i in range(int(a[8:]))]
        return "".join(line + "\n" for line in lines).encode()

    def launch_command(self):
        """What the worker's DriverRunner writes at the head of stderr
        before it starts the driver: the command, each argument quoted,
        spark properties as -D options."""
        jar = "/opt/spark/work/%s/%s" % (
            self.id, self.req["appResource"].rsplit("/", 1)[-1])
        args = (["java", "-cp", "/opt/spark/conf/:/opt/spark/jars/*",
                 "-Xmx%dM" % self.memory] +
                ["-D%s=%s" % kv for kv in
                 sorted(self.req["sparkProperties"].items())] +
                ["org.apache.spark.deploy.worker.DriverWrapper",
                 "spark://Worker@%s" % WORKER_HOST_PORT, jar,
                 self.req["mainClass"]] + list(self.req.get("appArgs") or []))
        return ["Launch Command: " + " ".join('"%s"' % a for a in args),
                "=" * 40, ""]

    def app_json(self):
        """The application the driver registered once it ran (its
        SparkContext), named by spark.app.name; None before that."""
        st = self.state()
        if not self.has_worker() or st == "ERROR":
            return None
        start, end = self.times()
        app_state = {"RUNNING": "RUNNING", "RELAUNCHING": "RUNNING",
                     "FINISHED": "FINISHED", "FAILED": "FINISHED",
                     "KILLED": "KILLED"}.get(st, "UNKNOWN")
        return {"id": "app-%s" % self.id[len("driver-"):],
                "starttime": int(start * 1000), "name": self.name,
                "cores": self.cores, "user": "spark",
                "memoryperexecutor": 1024, "memoryperslave": 1024,
                "submitdate": time.strftime(
                    "%a %b %d %H:%M:%S UTC %Y", time.gmtime(start)),
                "state": app_state,
                "duration": int((min(time.time(), end) - start) * 1000)}

    def ui_json(self):
        return {"id": self.id, "starttime": str(int(self.created * 1000)),
                "state": self.state(), "cores": self.cores,
                "memory": self.memory,
                "submitdate": time.strftime(
                    "%a %b %d %H:%M:%S UTC %Y", time.gmtime(self.created)),
                "worker": WORKER_ID if self.has_worker() else "None",
                "mainclass": self.req["mainClass"]}


def memory_mb(text):
    m = re.match(r"^([0-9]+)([kmgtp]?)", text.lower())
    scale = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1 << 20,
             "p": 1 << 30}
    return int(int(m.group(1)) * scale[m.group(2)]) if m else 1024


def missing_resource(req):
    res = req["appResource"]
    if req["mainClass"] == PYTHON_RUNNER and req.get("appArgs"):
        res = req["appArgs"][0]
    url = urllib.parse.urlsplit(res)
    if url.scheme not in ("", "file"):
        return None  # hdfs://, http://...: assumed readable
    path = urllib.parse.unquote(url.path)
    try:
        open(path, "rb").close()
        return None
    except OSError:
        return path


class SubmitError(Exception):
    """A request the server rejects with 400 (SubmitRestProtocolException)."""


def validate_create(req):
    if not isinstance(req, dict):
        raise SubmitError("Malformed request: not a JSON object")
    if req.get("action") != "CreateSubmissionRequest":
        raise SubmitError("Received message of unexpected type %s."
                          % req.get("action"))
    for field in ("clientSparkVersion", "appResource"):
        if not isinstance(req.get(field), str):
            raise SubmitError("Malformed request: "
                              "org.apache.spark.deploy.rest."
                              "SubmitRestMissingFieldException: "
                              "'%s' is missing in message "
                              "CreateSubmissionRequest." % field)
    props = req.get("sparkProperties")
    if not isinstance(props, dict):
        raise SubmitError("Malformed request: No Spark properties set!")
    if not all(isinstance(v, str) for v in props.values()):
        raise SubmitError("Malformed request: sparkProperties must be strings")
    if "spark.app.name" not in props:
        raise SubmitError("Malformed request: Property 'spark.app.name' "
                          "is missing in message CreateSubmissionRequest.")
    check_props(props)
    for field in ("appArgs",):
        v = req.get(field)
        if v is not None and not (isinstance(v, list) and
                                  all(isinstance(a, str) for a in v)):
            raise SubmitError("Malformed request: %s must be strings" % field)
    env = req.get("environmentVariables")
    if env is not None and not isinstance(env, dict):
        raise SubmitError("Malformed request: environmentVariables")
    if not isinstance(req.get("mainClass"), str):
        # StandaloneRestServer.buildDriverDescription
        raise SubmitError("Malformed request: org.apache.spark.deploy.rest."
                          "SubmitRestMissingFieldException: "
                          "Main class is missing.")


def check_props(props):
    def bad(key, kind):
        raise SubmitError("Malformed request: Property '%s' expected %s "
                          "value: actual was '%s'." % (key, kind, props[key]))
    if props.get("spark.driver.supervise", "true") not in ("true", "false"):
        bad("spark.driver.supervise", "boolean")
    for key in ("spark.driver.cores", "spark.cores.max"):
        if key in props:
            try:
                float(props[key])
            except ValueError:
                bad(key, "numeric")
    for key in ("spark.driver.memory", "spark.executor.memory"):
        if key in props and not MEMORY_RE.match(props[key]):
            bad(key, "memory")


def jws_valid(token, key):
    parts = token.split(".")
    if len(parts) != 3:
        return False

    def unb64(s):
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    try:
        header = json.loads(unb64(parts[0]))
        sig = unb64(parts[2])
    except (ValueError, UnicodeDecodeError):
        return False
    want = hmac.new(key, (parts[0] + "." + parts[1]).encode(),
                    hashlib.sha256).digest()
    return header.get("alg") == "HS256" and hmac.compare_digest(sig, want)


class Master(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.drivers = {}
        self.order = []
        self.seq = 0
        self.standby = opts.standby
        self.ui_auth = opts.ui_auth

    def create(self, req):
        with self.lock:
            if self.standby:
                return None
            did = "driver-%s-%04d" % (
                time.strftime("%Y%m%d%H%M%S", time.localtime()), self.seq)
            self.seq += 1
            self.drivers[did] = Driver(did, req, self.opts)
            self.order.append(did)
            return did

    def known(self):
        """The drivers the master still knows: it keeps only the last
        --retained-drivers completed ones. Called locked."""
        ds = [self.drivers[i] for i in self.order]
        done = [d for d in ds if d.state() not in ACTIVE]
        keep = self.opts.retained_drivers
        gone = set(d.id for d in done[:max(len(done) - keep, 0)])
        return [d for d in ds if d.id not in gone]

    def get(self, did, forgotten=False):
        with self.lock:
            if forgotten:  # a worker keeps the logs of any driver it ran
                return self.drivers.get(did)
            return next((d for d in self.known() if d.id == did), None)

    def kill(self, did):
        d = self.get(did)
        with self.lock:
            if d is None or d.state() not in ACTIVE or d.killed_at:
                return False
            d.killed_at = time.time()
            return True

    def listing(self):
        with self.lock:
            drivers = self.known()
        active = [d.ui_json() for d in drivers if d.state() in ACTIVE]
        done = [d.ui_json() for d in drivers if d.state() not in ACTIVE]
        apps = [a for a in (d.app_json() for d in drivers) if a]
        return active, done, apps


def template(path):
    for prefix in ("/v1/submissions/status/", "/v1/submissions/kill/"):
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "{id}"
    return "/json/" if path == "/json" else path


class Handler(emulator.Handler):
    json_type = "application/json;charset=utf-8"

    @property
    def master(self):
        return self.state

    def send_json(self, code, obj, headers=()):
        self.send(code, obj, headers=headers)

    def error(self, code, message, headers=(), **extra):
        body = {"action": "ErrorResponse", "message": message,
                "serverSparkVersion": self.master.opts.version}
        body.update(extra)
        self.send_json(code, body, headers)

    def fault_error(self, code):
        self.error(code, "injected fault %d" % code, self.retry_after)

    def fault_kind(self, kind):
        return "after_drop" if kind == "drop" else kind

    def count_key(self, method, path, query):
        return method + " " + template(path)

    def route(self, m, path, query, body):
        if self.filtered(path) and not self.authorized():
            self.send(403, "<html><body><h2>HTTP ERROR 403 JWT Validate "
                      "Fail</h2></body></html>", "text/html;charset=utf-8")
        elif path == "/v1/submissions/create" and m == "POST":
            self.create(body)
        elif path.startswith("/v1/submissions/status") and m == "GET":
            self.status(path[len("/v1/submissions/status"):].strip("/"))
        elif path.startswith("/v1/submissions/kill") and m == "POST":
            self.kill(path[len("/v1/submissions/kill"):].strip("/"))
        elif path.startswith("/v1/submissions/"):
            self.error(400, "Unknown action or method %s %s." % (m, path))
        elif re.match(r"^/v[0-9]+/", path):
            self.error(468, "Unknown protocol version '%s'."
                       % path.split("/")[1], highestProtocolVersion="v1")
        elif path in ("/json", "/json/") and m == "GET":
            self.ui_json()
        elif path in ("/log", "/logPage", "/logPage/") and m == "GET":
            self.log(path, query)
        else:
            self.error(400, "Missing protocol version.")

    def filtered(self, path):
        """Whether a JWS filter guards @path: the REST server's, and with
        ui_auth the web UIs' too."""
        ui = path in ("/json", "/json/", "/log", "/logPage", "/logPage/")
        return path.startswith("/v1/") or (ui and self.master.ui_auth)

    def authorized(self):
        key = self.master.opts.jws_key
        if not key:
            return True
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return False
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        return jws_valid(auth[7:], raw)

    def create(self, body):
        try:
            req = json.loads(body)
            validate_create(req)
        except (ValueError, UnicodeDecodeError) as e:
            self.error(400, "Malformed request: %s" % e)
            return
        except SubmitError as e:
            self.error(400, str(e))
            return
        did = self.master.create(req)
        v = self.master.opts.version
        if did is None:
            self.send_json(200, {
                "action": "CreateSubmissionResponse", "success": False,
                "message": "Current state is not alive: STANDBY. Can only "
                           "accept driver submissions in ALIVE state.",
                "serverSparkVersion": v})
            return
        self.send_json(200, {
            "action": "CreateSubmissionResponse", "submissionId": did,
            "success": True,
            "message": "Driver successfully submitted as %s" % did,
            "serverSparkVersion": v})

    def status(self, did):
        if not did:
            self.error(400, "Missing submission ID in status request.")
            return
        resp = {"action": "SubmissionStatusResponse", "submissionId": did,
                "serverSparkVersion": self.master.opts.version}
        d = self.master.get(did)
        resp["success"] = d is not None
        if d is not None:
            resp["driverState"] = d.state()
            if d.has_worker():
                resp["workerId"] = WORKER_ID
                resp["workerHostPort"] = WORKER_HOST_PORT
            if resp["driverState"] == "ERROR":
                resp["message"] = d.message
        self.send_json(200, resp)

    def kill(self, did):
        if not did:
            self.error(400, "Missing submission ID in kill request.")
            return
        ok = self.master.kill(did)
        msg = ("Kill request for %s submitted" % did if ok else
               "Driver %s has already finished or does not exist" % did)
        self.send_json(200, {"action": "KillSubmissionResponse",
                             "submissionId": did, "success": ok,
                             "message": msg,
                             "serverSparkVersion": self.master.opts.version})

    def ui_json(self):
        active, done, apps = self.master.listing()
        port = self.server.server_address[1]
        self.send_json(200, {
            "url": "spark://127.0.0.1:7077",
            "workers": [{"id": WORKER_ID, "host": "127.0.0.1", "port": 7078,
                         "webuiaddress": "http://127.0.0.1:%d" % port,
                         "cores": 8, "coresused": 0, "coresfree": 8,
                         "memory": 8192, "memoryused": 0, "memoryfree": 8192,
                         "state": "ALIVE",
                         "lastheartbeat": int(time.time() * 1000)}],
            "aliveworkers": 1, "cores": 8, "coresused": 0,
            "memory": 8192, "memoryused": 0,
            "activeapps": [a for a in apps if a["state"] == "RUNNING"],
            "completedapps": [a for a in apps if a["state"] != "RUNNING"],
            "activedrivers": active, "completeddrivers": done,
            "status": "STANDBY" if self.master.standby else "ALIVE"})

    def log(self, path, query):
        did = query.get("driverId", "")
        log_type = query.get("logType", "")
        d = self.master.get(did, forgotten=True)
        where = "/opt/spark/work/%s/" % did
        if log_type not in ("stdout", "stderr"):
            text, start, end, total = (
                b"Error: Log type must be one of stdout, stderr", 0, 0, 0)
        elif d is None or not d.has_worker():
            text, start, end, total = (
                b"Error getting logs due to exception: %s%s (No such file "
                b"or directory)" % (where.encode(), log_type.encode()),
                0, 0, 0)
        else:
            data = d.output(log_type)
            total = len(data)
            length = int(query.get("byteLength", 100 * 1024))
            start = int(query["offset"]) if "offset" in query \
                else total - length
            start = min(max(start, 0), total)
            end = min(start + length, total)
            text = data[start:end]
        head = "==== Bytes %d-%d of %d of %s%s ====\n" % (
            start, end, total, where, log_type)
        if path == "/log":
            self.send(200, head.encode() + text, "text/plain;charset=utf-8")
        else:
            self.send(200, "<html><body><pre>%s</pre></body></html>"
                      % html.escape(text.decode(errors="replace")),
                      "text/html;charset=utf-8")

    def control_get(self, name, query):
        if name != "drivers":
            return None
        m = self.master
        with m.lock:
            ds = [m.drivers[i] for i in m.order]
        return [{
            "id": d.id, "appName": d.name, "state": d.state(),
            "mainClass": d.req["mainClass"],
            "appResource": d.req["appResource"],
            "appArgs": d.req.get("appArgs") or [],
            "sparkProperties": d.req["sparkProperties"],
            "environmentVariables": d.req.get("environmentVariables")
            or {}} for d in ds]

    def configure(self, c):
        m = self.master
        with m.lock:
            m.standby = bool(c.get("standby", m.standby))
            m.ui_auth = bool(c.get("ui_auth", m.ui_auth))
            m.opts.submitted_s = float(c.get("submitted_s",
                                             m.opts.submitted_s))
            m.opts.run_s = float(c.get("run_s", m.opts.run_s))
            return {"standby": m.standby, "ui_auth": m.ui_auth}


def options(p):
    p.add_argument("--version", default="3.5.0", help="serverSparkVersion")
    p.add_argument("--submitted-s", type=float, default=0.5)
    p.add_argument("--run-s", type=float, default=1.0)
    p.add_argument("--kill-delay", type=float, default=0.3)
    p.add_argument("--retained-drivers", type=int, default=200)
    p.add_argument("--jws-key", help="base64url HS256 key: require a JWS")
    p.add_argument("--ui-auth", action="store_true",
                   help="the web UIs need the JWS too (spark.ui.filters)")
    p.add_argument("--standby", action="store_true",
                   help="the master is not ALIVE: creates get success:false")


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, Master, __doc__, options))
