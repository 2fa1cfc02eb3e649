#!/usr/bin/env python3
"""An emulator of a Kubernetes API server, for tests/fs/kubernetes.test.

Written from the Kubernetes API reference (batch/v1 Job, core/v1 Pod,
ConfigMap, meta/v1 Status, ListMeta, DeleteOptions, Table) and
/work/shared/docs/platform-apis.md section 8. It serves what kubectl and
jobfs use:

  GET  /version, /api, /apis, /api/v1, /apis/batch/v1   discovery
  POST|GET /apis/batch/v1/namespaces/NS/jobs            create, list
  GET|DELETE /apis/batch/v1/namespaces/NS/jobs/NAME     get, delete
  GET  /api/v1/namespaces/NS/pods[/NAME]                list, get
  GET  /api/v1/namespaces/NS/pods/NAME/log              container log
  POST|GET /api/v1/namespaces/NS/configmaps[/NAME]      create, list, get
  DELETE /api/v1/namespaces/NS/configmaps/NAME

Lists take labelSelector (k, !k, k=v, k==v, k!=v, comma-joined), limit
and continue (an opaque token; the next "expire_continue" pages asked
for get 410 Expired, as after a compaction). Errors are meta/v1 Status
objects (404 NotFound, 409 AlreadyExists, 422 Invalid, 401 Unauthorized,
410 Expired, 400 BadRequest). Accept "as=Table" gets a meta.k8s.io/v1 Table, as kubectl
asks. With --token, every API request needs "Authorization: Bearer TOKEN";
with --tls-cert and --tls-key it serves HTTPS, and with --client-ca a
client certificate that CA signed authenticates instead of the token.

The job controller and kubelet are simulated on each request: a Job gets
a pod (labels batch.kubernetes.io/job-name, job-name, controller-uid);
the pod is Pending for "pending_s", waits ContainerCreating while a
ConfigMap volume is missing, and ErrImagePull then ImagePullBackOff when
its image starts with one of "unpullable" (default "missing/"); then it
runs. A ConfigMap bundle whose command is python3/sh (or a file) under
the mount path really runs (files materialized in a temp dir, env and
args passed; its output is the log, its status the exit code). Other pods
act on their args: --sleep=N (run N s, else "run_s"), --out=TEXT (a log
line; default "args: ARGS"), --fail=TEXT (TEXT on stderr, exit 1),
--exit=N. A failed pod is replaced until backoffLimit (default 6) is
exceeded: Failed/BackoffLimitExceeded; success: Complete. Deletion:
propagationPolicy Background removes the Job and marks its pods and owned
ConfigMaps deleted (pods go after "kill_s"); Orphan (the default for
Jobs) leaves the pods; Foreground keeps the Job, with deletionTimestamp,
until its pods are gone. ttlSecondsAfterFinished deletes ended Jobs.

Test control (never faulted, never counted), emulator.py's and:
  POST /_emulator/config  {"unpullable": [...], "pending_s": x, "run_s": x,
                           "kill_s": x, "post_delay": x (a create is done,
                           then its answer waits), "expire_continue": N,
                           "page_max": N (the largest page)}
  GET  /_emulator/stats   counts per "METHOD /path/{ns}/{name}", list pages
                          after the first as "... (continue)"
  GET  /_emulator/jobs    every Job created: {"name","key","ns","deleted",
                           "pods", "request"}
The chosen port is the first line of stdout.
"""
import base64
import calendar
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

import emulator

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
CM_MAX = 1 << 20
MOUNT = "/jobfs/app"


def now_iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason,
            "code": code}
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.body = status_body(code, reason, message, details)


def parse_selector(text):
    """[(key, op, value)] of an equality-based selector."""
    terms = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        m = re.fullmatch(r"(!?)([^=!]+)(?:(==|=|!=)(.*))?", part)
        if not m:
            raise ApiError(400, "BadRequest",
                           "unable to parse requirement: %s" % part)
        neg, key, op, value = m.groups()
        terms.append((key.strip(), "!" if neg else (op or "exists"),
                      (value or "").strip()))
    return terms


def matches(labels, terms):
    for key, op, value in terms:
        has = key in labels
        if op == "exists" and not has or op == "!" and has:
            return False
        if op in ("=", "==") and labels.get(key) != value:
            return False
        if op == "!=" and labels.get(key) == value:
            return False
    return True


class Pod:
    def __init__(self, cluster, job, t):
        self.job = job
        suffix = "".join(cluster.rng.choice("bcdfghjklmnpqrstvwxz2456789")
                         for _ in range(5))
        self.name = "%s-%s" % (job.name, suffix)
        self.uid = str(uuid.uuid4())
        self.created = t
        tmpl = job.obj["spec"]["template"]
        self.spec = json.loads(json.dumps(tmpl["spec"]))
        self.labels = dict(tmpl["metadata"].get("labels") or {})
        self.container = self.spec["containers"][0]
        self.started = self.finished = self.deleted = None
        self.exit_code = None
        self.log = b""
        self.proc = None
        self.tmp = None

    # the work

    def args(self):
        return list(self.container.get("args") or [])

    def simulate(self, cluster):
        run_s = cluster.timing["run_s"]
        out, code, err = [], 0, []
        for a in self.args():
            key, _, value = a.partition("=")
            if key == "--sleep":
                run_s = float(value)
            elif key == "--out":
                out.append(value)
            elif key == "--fail":
                code, err = 1, err + [value or "failed as asked"]
            elif key == "--exit":
                code = int(value)
        if not out and code == 0:
            out = ["args: " + " ".join(self.args())]
        self.planned = (run_s, code,
                        "".join(line + "\n" for line in out + err).encode())

    def start_process(self, cluster, cms):
        """Runs a ConfigMap bundle for real; False when it is not one."""
        cmd = list(self.container.get("command") or [])
        vols = {v["name"]: v for v in self.spec.get("volumes") or []}
        mounts = self.container.get("volumeMounts") or []
        if not cmd or not mounts or not any(MOUNT in c for c in cmd):
            return False
        vol = vols.get(mounts[0]["name"], {}).get("configMap") or {}
        cm = cms.get((self.job.ns, vol.get("name")))
        if cm is None:
            return False
        self.tmp = tempfile.mkdtemp(prefix="k8s-pod-")
        data = cm.get("binaryData") or {}
        for item in vol.get("items") or []:
            path = os.path.join(self.tmp, item["path"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(base64.b64decode(data.get(item["key"], "")))
            os.chmod(path, vol.get("defaultMode", 0o644) & 0o777)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOSTNAME": self.name}
        for e in self.container.get("env") or []:
            env[e["name"]] = e.get("value", "")
        argv = [c.replace(MOUNT, self.tmp) for c in cmd] + self.args()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env,
                                     cwd=self.tmp)
        threading.Thread(target=self.read_output, daemon=True).start()
        return True

    def read_output(self):
        data = self.proc.stdout.read()
        code = self.proc.wait()
        with self.job.cluster.lock:
            self.log += data
            self.exit_code = code if code >= 0 else 128 - code
            self.finished = time.time()

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    # the kubelet, under the cluster's lock

    def volume_configmaps(self):
        return [v["configMap"]["name"] for v in self.spec.get("volumes") or []
                if (v.get("configMap") or {}).get("name")]

    def waiting(self, cluster, t):
        image = self.container.get("image", "")
        if any(image.startswith(p) for p in cluster.timing["unpullable"]):
            if t - self.created < 1:
                return ("ErrImagePull", 'failed to pull and unpack image '
                        '"%s": not found' % image)
            return ("ImagePullBackOff",
                    'Back-off pulling image "%s"' % image)
        for name in self.volume_configmaps():
            if (self.job.ns, name) not in cluster.configmaps:
                return ("ContainerCreating", None)
        if t - self.created < cluster.timing["pending_s"]:
            return ("ContainerCreating", None)
        return None

    def tick(self, cluster, t):
        if self.deleted is not None or self.finished is not None:
            return
        if self.started is None:
            if self.waiting(cluster, t):
                return
            # when it could start, though nobody looked then
            self.started = max([self.created + cluster.timing["pending_s"]] +
                               [cluster.cm_times.get((self.job.ns, n), 0)
                                for n in self.volume_configmaps()])
            if not self.start_process(cluster, cluster.configmaps):
                self.simulate(cluster)
        if self.proc is None and t >= self.started + self.planned[0]:
            self.finished = self.started + self.planned[0]
            self.exit_code, self.log = self.planned[1], self.planned[2]

    def phase(self):
        if self.finished is not None:
            return "Succeeded" if self.exit_code == 0 else "Failed"
        return "Running" if self.started is not None else "Pending"

    def to_json(self, cluster):
        t = time.time()
        st = {"name": self.container["name"],
              "image": self.container.get("image"), "restartCount": 0,
              "ready": self.phase() == "Running"}
        wait = None if self.started else self.waiting(cluster, t)
        if self.finished is not None:
            st["state"] = {"terminated": {
                "exitCode": self.exit_code,
                "reason": "Completed" if self.exit_code == 0 else "Error",
                "startedAt": now_iso(self.started),
                "finishedAt": now_iso(self.finished)}}
        elif self.started is not None:
            st["state"] = {"running": {"startedAt": now_iso(self.started)}}
        else:
            st["state"] = {"waiting": {"reason": wait[0] if wait else
                                       "ContainerCreating"}}
            if wait and wait[1]:
                st["state"]["waiting"]["message"] = wait[1]
        meta = {"name": self.name, "namespace": self.job.ns,
                "uid": self.uid, "labels": self.labels,
                "creationTimestamp": now_iso(self.created),
                "resourceVersion": str(cluster.rv),
                "ownerReferences": [] if self.job.orphaned else [{
                    "apiVersion": "batch/v1", "kind": "Job",
                    "name": self.job.name, "uid": self.job.uid,
                    "controller": True, "blockOwnerDeletion": True}]}
        if self.deleted is not None:
            meta["deletionTimestamp"] = now_iso(self.deleted)
            meta["deletionGracePeriodSeconds"] = 30
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": self.spec,
                "status": {"phase": self.phase(), "containerStatuses": [st],
                           "startTime": now_iso(self.created)}}


class Job:
    def __init__(self, cluster, ns, obj, t):
        self.cluster = cluster
        self.ns = ns
        self.obj = obj
        self.name = obj["metadata"]["name"]
        self.uid = obj["metadata"]["uid"]
        self.created = t
        self.pods = []
        self.ended = None  # (time, "Complete"|"Failed")
        self.deleted = None
        self.orphaned = False

    def tick(self, t):
        cl = self.cluster
        for p in self.pods:
            p.tick(cl, t)
        if self.ended or self.deleted is not None or \
                self.obj["spec"].get("suspend"):
            return
        live = [p for p in self.pods if p.finished is None]
        failed = [p for p in self.pods if p.phase() == "Failed"]
        if any(p.phase() == "Succeeded" for p in self.pods):
            done = max(p.finished for p in self.pods if p.finished)
            self.ended = (done, "Complete")
        elif len(failed) > self.obj["spec"]["backoffLimit"]:
            self.ended = (max(p.finished for p in failed), "Failed")
        elif not live:
            self.pods.append(Pod(cl, self, t))
            self.pods[-1].tick(cl, t)

    def status(self):
        st = {"startTime": now_iso(self.created),
              "active": sum(1 for p in self.pods
                            if p.finished is None and p.deleted is None),
              "succeeded": sum(1 for p in self.pods
                               if p.phase() == "Succeeded"),
              "failed": sum(1 for p in self.pods if p.phase() == "Failed"),
              "ready": sum(1 for p in self.pods if p.phase() == "Running")}
        if self.ended:
            t, kind = self.ended
            cond = {"status": "True", "lastProbeTime": now_iso(t),
                    "lastTransitionTime": now_iso(t)}
            if kind == "Complete":
                st["completionTime"] = now_iso(t)
                st["conditions"] = [
                    dict(cond, type="SuccessCriteriaMet",
                         reason="CompletionsReached",
                         message="Reached expected number of succeeded "
                         "pods"),
                    dict(cond, type="Complete", reason="CompletionsReached",
                         message="Reached expected number of succeeded "
                         "pods")]
            else:
                msg = "Job has reached the specified backoff limit"
                st["conditions"] = [
                    dict(cond, type="FailureTarget",
                         reason="BackoffLimitExceeded", message=msg),
                    dict(cond, type="Failed", reason="BackoffLimitExceeded",
                         message=msg)]
        return {k: v for k, v in st.items() if v != 0 or k == "active"}

    def to_json(self):
        obj = json.loads(json.dumps(self.obj))
        obj["metadata"]["resourceVersion"] = str(self.cluster.rv)
        if self.deleted is not None:
            obj["metadata"]["deletionTimestamp"] = now_iso(self.deleted)
            obj["metadata"]["finalizers"] = ["foregroundDeletion"]
        obj["status"] = self.status()
        return obj


class Cluster(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.namespaces = set(opts.namespaces.split(","))
        self.tls = None
        if opts.tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(opts.tls_cert, opts.tls_key)
            if opts.client_ca:
                self.tls.verify_mode = ssl.CERT_OPTIONAL
                self.tls.load_verify_locations(opts.client_ca)
        self.jobs = {}  # (ns, name) -> Job
        self.configmaps = {}  # (ns, name) -> object
        self.cm_times = {}  # (ns, name) -> when it was made
        self.records = []  # every Job created, for the tests
        self.gone_pods = []  # pods of deleted Jobs, until they go
        self.orphans = []  # pods of Jobs deleted with Orphan
        self.rv = 1000
        self.timing = {"unpullable": ["missing/"], "pending_s": 0.5,
                       "run_s": 1.0, "kill_s": 1.0, "post_delay": 0.0,
                       "expire_continue": 0, "page_max": 500}

    def tick(self):
        """The controllers: called under the lock before each request."""
        t = time.time()
        for key, job in list(self.jobs.items()):
            job.tick(t)
            ttl = job.obj["spec"].get("ttlSecondsAfterFinished")
            if ttl is not None and job.ended and t >= job.ended[0] + ttl:
                self.delete_job(key, "Background")
            if job.deleted is not None and all(
                    p.deleted is not None and t >= p.deleted +
                    self.timing["kill_s"] for p in job.pods):
                self.remove(key)
        for p in self.orphans:
            p.tick(self, t)
        for p in list(self.gone_pods):
            if t >= p.deleted + self.timing["kill_s"]:
                p.cleanup()
                self.gone_pods.remove(p)

    def remove(self, key):
        job = self.jobs.pop(key)
        for r in self.records:
            if r["uid"] == job.uid:
                r["deleted"] = True
        for cm_key, cm in list(self.configmaps.items()):
            if any(o.get("uid") == job.uid for o in
                   cm["metadata"].get("ownerReferences") or []):
                del self.configmaps[cm_key]
        self.rv += 1

    def delete_job(self, key, policy):
        job = self.jobs[key]
        t = time.time()
        if policy == "Orphan":
            job.orphaned = True  # the pods stay, running unowned
            self.orphans += job.pods
            self.remove(key)
            return
        for p in job.pods:
            if p.deleted is None:
                p.deleted = t
                if p.proc and p.proc.poll() is None:
                    p.proc.kill()
        if policy == "Foreground":
            job.deleted = t
            return
        self.gone_pods += job.pods
        self.remove(key)

    def all_pods(self):
        pods = self.gone_pods + self.orphans
        for job in self.jobs.values():
            pods += [p for p in job.pods if p not in pods]
        return pods


class Handler(emulator.Handler):
    def setup(self):
        """With --tls-cert, HTTPS (kubectl sends no token over HTTP)."""
        ctx = self.state.tls
        if ctx is not None:
            self.request.settimeout(30)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def count_key(self, method, path, query):
        parts = path.strip("/").split("/")
        if "namespaces" in parts:
            i = parts.index("namespaces")
            parts[i + 1] = "{ns}"
            if len(parts) > i + 3:
                parts[i + 3] = "{name}"
        # a list page after the first
        more = " (continue)" if query.get("continue") else ""
        return method + " /" + "/".join(parts) + more

    def fault_error(self, code):
        reason = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(
            code, "InternalError")
        self.send(code, status_body(code, reason, "injected fault %d" % code),
                  headers=self.retry_after)

    def configure(self, req):
        st = self.state
        with st.lock:
            for k in st.timing:
                if k in req:
                    st.timing[k] = req[k]
            return dict(st.timing)

    def control_get(self, name, query):
        if name == "jobs":
            with self.state.lock:
                return json.loads(json.dumps(self.state.records))
        return None

    def fail(self, err):
        self.send(err.body["code"], err.body)

    def route(self, method, path, query, body):
        token = getattr(self.state.opts, "token", None)
        # a verified client certificate authenticates too
        cert = self.request.getpeercert() if self.state.tls else None
        if token and not cert and \
                self.headers.get("Authorization") != "Bearer " + token:
            return self.send(401, status_body(401, "Unauthorized",
                                              "Unauthorized"))
        try:
            with self.state.lock:
                self.state.tick()
                out = self.dispatch(method, path.strip("/").split("/"),
                                    query, body)
            status, obj = out
            if status == 201 and self.state.timing["post_delay"]:
                time.sleep(self.state.timing["post_delay"])
            if isinstance(obj, bytes):
                return self.send(status, obj, ctype="text/plain")
            self.send(status, obj)
        except ApiError as err:
            self.fail(err)

    # ---- dispatch

    def dispatch(self, method, parts, query, body):
        discovery = self.discovery(parts)
        if discovery is not None and method == "GET":
            return 200, discovery
        if len(parts) >= 5 and parts[0] == "api" and parts[1] == "v1" and \
                parts[2] == "namespaces":
            group = "core"
            rest = parts[3:]
        elif len(parts) >= 6 and parts[:3] == ["apis", "batch", "v1"] and \
                parts[3] == "namespaces":
            group = "batch"
            rest = parts[4:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        ns, kind = rest[0], rest[1]
        name = rest[2] if len(rest) > 2 else None
        sub = rest[3] if len(rest) > 3 else None
        if ns not in self.state.namespaces:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % ns,
                           {"name": ns, "kind": "namespaces"})
        route = {("batch", "jobs"): self.jobs,
                 ("core", "pods"): self.pods,
                 ("core", "configmaps"): self.configmaps}.get((group, kind))
        if route is None:
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        return route(method, ns, name, sub, query, body)

    def discovery(self, parts):
        if parts == ["version"]:
            return {"major": "1", "minor": "29", "gitVersion": "v1.29.0",
                    "platform": "linux/amd64"}
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{
                        "clientCIDR": "0.0.0.0/0",
                        "serverAddress": self.headers.get("Host", "")}]}
        if parts == ["apis"]:
            gv = {"groupVersion": "batch/v1", "version": "v1"}
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "batch", "versions": [gv], "preferredVersion": gv}]}
        verbs = ["create", "delete", "get", "list"]
        if parts == ["api", "v1"]:
            return {"kind": "APIResourceList", "groupVersion": "v1",
                    "resources": [
                        {"name": "pods", "singularName": "pod",
                         "namespaced": True, "kind": "Pod", "verbs": verbs,
                         "shortNames": ["po"]},
                        {"name": "pods/log", "singularName": "",
                         "namespaced": True, "kind": "Pod", "verbs": ["get"]},
                        {"name": "configmaps", "singularName": "configmap",
                         "namespaced": True, "kind": "ConfigMap",
                         "verbs": verbs, "shortNames": ["cm"]},
                        {"name": "namespaces", "singularName": "namespace",
                         "namespaced": False, "kind": "Namespace",
                         "verbs": ["get", "list"], "shortNames": ["ns"]}]}
        if parts == ["apis", "batch", "v1"]:
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": "batch/v1", "resources": [
                        {"name": "jobs", "singularName": "job",
                         "namespaced": True, "kind": "Job", "verbs": verbs,
                         "categories": ["all"]},
                        {"name": "jobs/status", "singularName": "",
                         "namespaced": True, "kind": "Job",
                         "verbs": ["get"]}]}
        return None

    # ---- lists

    def page(self, objs, query, kind):
        st = self.state
        terms = parse_selector(query.get("labelSelector"))
        objs = sorted((o for o in objs
                       if matches(o["metadata"].get("labels") or {}, terms)),
                      key=lambda o: o["metadata"]["name"])
        start = query.get("continue")
        if start:
            if st.timing["expire_continue"] > 0:
                st.timing["expire_continue"] -= 1
                raise ApiError(410, "Expired", "The provided continue "
                               "parameter is too old to display a consistent "
                               "list result. You can start a new list "
                               "without the continue parameter.")
            try:
                after = json.loads(base64.b64decode(start))["start"]
            except (ValueError, KeyError):
                raise ApiError(400, "BadRequest",
                               "continue key is not valid")
            objs = [o for o in objs if o["metadata"]["name"] > after]
        limit = int(query.get("limit") or 0)
        limit = min(limit, st.timing["page_max"]) if limit > 0 else \
            st.timing["page_max"]
        meta = {"resourceVersion": str(st.rv)}
        if len(objs) > limit:
            objs = objs[:limit]
            meta["continue"] = base64.b64encode(json.dumps(
                {"start": objs[-1]["metadata"]["name"]}).encode()).decode()
            meta["remainingItemCount"] = 0
        return {"kind": kind + "List", "apiVersion":
                "batch/v1" if kind == "Job" else "v1", "metadata": meta,
                "items": objs}

    def wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def job_table(self, items, meta):
        rows = []
        for j in items:
            st = j.get("status", {})
            conds = [c["type"] for c in st.get("conditions", [])
                     if c.get("status") == "True"]
            state = "Complete" if "Complete" in conds else \
                "Failed" if "Failed" in conds else "Running"
            age = int(time.time() - calendar.timegm(time.strptime(
                j["metadata"]["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ")))
            rows.append({"cells": [j["metadata"]["name"], state,
                                   "%d/1" % st.get("succeeded", 0), "",
                                   "%ds" % age],
                         "object": {"kind": "PartialObjectMetadata",
                                    "apiVersion": "meta.k8s.io/v1",
                                    "metadata": j["metadata"]}})
        cols = [{"name": n, "type": "string", "format": "name" if
                 n == "Name" else "", "description": n, "priority": 0}
                for n in ("Name", "Status", "Completions", "Duration", "Age")]
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": meta, "columnDefinitions": cols, "rows": rows}

    # ---- jobs

    def jobs(self, method, ns, name, sub, query, body):
        st = self.state
        if name is None and method == "GET":
            lst = self.page([j.to_json() for (n, _), j in st.jobs.items()
                             if n == ns], query, "Job")
            if self.wants_table():
                return 200, self.job_table(lst["items"], lst["metadata"])
            return 200, lst
        if name is None and method == "POST":
            return self.create_job(ns, body)
        job = st.jobs.get((ns, name))
        if job is None:
            raise ApiError(404, "NotFound", 'jobs.batch "%s" not found' % name,
                           {"name": name, "group": "batch", "kind": "jobs"})
        if method == "GET" and sub in (None, "status"):
            obj = job.to_json()
            if self.wants_table():
                return 200, self.job_table([obj], {})
            return 200, obj
        if method == "DELETE" and sub is None:
            opts = json.loads(body) if body else {}
            policy = query.get("propagationPolicy") or \
                opts.get("propagationPolicy") or "Orphan"
            if policy not in ("Orphan", "Background", "Foreground"):
                raise ApiError(400, "BadRequest",
                               "unknown propagationPolicy %s" % policy)
            st.delete_job((ns, name), policy)
            return 200, {"kind": "Status", "apiVersion": "v1",
                         "metadata": {}, "status": "Success",
                         "details": {"name": name, "group": "batch",
                                     "kind": "jobs", "uid": job.uid}}
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method")

    def invalid(self, kind, name, causes):
        raise ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (
            kind, name, "; ".join("%s: %s" % c for c in causes)),
            {"name": name, "kind": kind.split(".")[0],
             "causes": [{"field": f, "message": m} for f, m in causes]})

    def create_job(self, ns, body):
        st = self.state
        try:
            obj = json.loads(body)
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request "
                           "was in an unknown format")
        if obj.get("apiVersion") != "batch/v1" or obj.get("kind") != "Job":
            raise ApiError(400, "BadRequest", "the API version in the data "
                           "(%s) does not match the expected API version "
                           "(batch/v1)" % obj.get("apiVersion"))
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        spec = obj.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        conts = pod.get("containers") or []
        causes = []
        if not NAME_RE.match(name) or len(name) > 63:
            causes.append(("metadata.name", "Invalid value: \"%s\": a "
                           "lowercase RFC 1123 label must consist of lower "
                           "case alphanumeric characters or '-'" % name))
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            causes.append(("spec.template.spec.restartPolicy",
                           'Unsupported value: "%s": supported values: '
                           '"OnFailure", "Never"' % pod.get("restartPolicy")))
        if not conts or not all(c.get("name") and c.get("image")
                                for c in conts):
            causes.append(("spec.template.spec.containers",
                           "Required value: a name and an image each"))
        for k, v in (meta.get("labels") or {}).items():
            if len(v) > 63 or not re.fullmatch(
                    r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", v):
                causes.append(("metadata.labels", 'Invalid value: "%s"' % v))
        if causes:
            self.invalid("Job.batch", name, causes)
        if (ns, name) in st.jobs:
            raise ApiError(409, "AlreadyExists", 'jobs.batch "%s" already '
                           'exists' % name, {"name": name, "group": "batch",
                                             "kind": "jobs"})
        request = json.loads(body)
        t = time.time()
        uid = str(uuid.uuid4())
        st.rv += 1
        meta.update({"namespace": ns, "uid": uid, "generation": 1,
                     "creationTimestamp": now_iso(t)})
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("suspend", False)
        spec.setdefault("completionMode", "NonIndexed")
        sel = {"batch.kubernetes.io/controller-uid": uid}
        spec["selector"] = {"matchLabels": sel}
        tmeta = spec["template"].setdefault("metadata", {})
        tmeta.setdefault("labels", {}).update({
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name, "controller-uid": uid,
            "job-name": name})
        obj["spec"] = spec
        job = Job(st, ns, obj, t)
        st.jobs[(ns, name)] = job
        job.tick(t)
        st.records.append({"name": name, "ns": ns, "uid": uid,
                           "key": (meta.get("annotations") or {}).get(
                               "jobfs.run/key"),
                           "deleted": False, "request": request})
        return 201, job.to_json()

    # ---- pods

    def pods(self, method, ns, name, sub, query, body):
        st = self.state
        pods = [p for p in st.all_pods() if p.job.ns == ns]
        if name is None and method == "GET":
            return 200, self.page([p.to_json(st) for p in pods], query,
                                  "Pod")
        pod = next((p for p in pods if p.name == name), None)
        if pod is None or method != "GET":
            raise ApiError(404, "NotFound", 'pods "%s" not found' % name,
                           {"name": name, "kind": "pods"})
        if sub is None:
            return 200, pod.to_json(st)
        if sub != "log":
            raise ApiError(404, "NotFound", "the server could not find the "
                           "requested resource")
        return self.pod_log(pod, query)

    def pod_log(self, pod, query):
        cname = query.get("container") or pod.container["name"]
        if cname != pod.container["name"]:
            raise ApiError(400, "BadRequest", 'container %s is not valid '
                           'for pod %s' % (cname, pod.name))
        if pod.started is None:
            wait = pod.waiting(self.state, time.time()) or \
                ("ContainerCreating", None)
            raise ApiError(400, "BadRequest", 'container "%s" in pod "%s" '
                           'is waiting to start: %s' % (cname, pod.name,
                                                         wait[0]))
        data = pod.log if pod.finished is not None else b""
        if query.get("tailLines"):
            n = int(query["tailLines"])
            data = b"".join(data.splitlines(True)[-n:]) if n > 0 else b""
        if query.get("limitBytes"):
            data = data[:int(query["limitBytes"])]
        return 200, data

    # ---- configmaps

    def configmaps(self, method, ns, name, sub, query, body):
        st = self.state
        if name is None and method == "GET":
            return 200, self.page([c for (n, _), c in st.configmaps.items()
                                   if n == ns], query, "ConfigMap")
        if name is None and method == "POST":
            return self.create_configmap(ns, body)
        cm = st.configmaps.get((ns, name))
        if cm is None:
            raise ApiError(404, "NotFound", 'configmaps "%s" not found'
                           % name, {"name": name, "kind": "configmaps"})
        if method == "GET":
            return 200, cm
        if method == "DELETE":
            del st.configmaps[(ns, name)]
            return 200, {"kind": "Status", "apiVersion": "v1",
                         "metadata": {}, "status": "Success"}
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method")

    def create_configmap(self, ns, body):
        st = self.state
        try:
            obj = json.loads(body)
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request "
                           "was in an unknown format")
        meta = obj.setdefault("metadata", {})
        name = meta.get("name") or ""
        causes = []
        size = 0
        for field in ("data", "binaryData"):
            for k, v in (obj.get(field) or {}).items():
                if not KEY_RE.match(k):
                    causes.append((field, 'Invalid value: "%s": a valid '
                                   'config key must consist of alphanumeric '
                                   "characters, '-', '_' or '.'" % k))
                try:
                    size += len(base64.b64decode(v, validate=True)) \
                        if field == "binaryData" else len(v.encode())
                except ValueError:
                    causes.append((field, "illegal base64 data"))
        if not NAME_RE.match(name):
            causes.append(("metadata.name", 'Invalid value: "%s"' % name))
        if size > CM_MAX:
            causes.append(("", "Too long: must have at most %d bytes"
                           % CM_MAX))
        if causes:
            self.invalid("ConfigMap", name, causes)
        if (ns, name) in st.configmaps:
            raise ApiError(409, "AlreadyExists", 'configmaps "%s" already '
                           'exists' % name, {"name": name,
                                             "kind": "configmaps"})
        st.rv += 1
        meta.update({"namespace": ns, "uid": str(uuid.uuid4()),
                     "creationTimestamp": now_iso(time.time()),
                     "resourceVersion": str(st.rv)})
        st.configmaps[(ns, name)] = obj
        st.cm_times[(ns, name)] = time.time()
        return 201, obj


def add_options(parser):
    parser.add_argument("--token", help="the bearer token required")
    parser.add_argument("--namespaces", default="default",
                        help="comma-separated (default: %(default)s)")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM "
                        "certificate (and --tls-key)")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca", help="with --tls-cert: client "
                        "certificates this CA signed authenticate as well")


if __name__ == "__main__":
    emulator.main(Handler, Cluster, __doc__, add_options)
