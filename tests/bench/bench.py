#!/usr/bin/env python3
"""jobfs benchmarks: every figure held against a baseline of the same run.

    python3 tests/bench/bench.py --build DIR [--only 1,3] [--table FILE]
                                 [--json FILE]

Run through scripts/bench, which builds first and writes BENCHMARKS.md.
The machine is small and shared (2 cores), so every figure is a median
over several rounds, each round interleaving the figure and its baseline,
and the table shows their ratio. Speed and memory are measured here and
never asserted by the unit tests; a missed goal is marked in the table.

Figures (the issue's numbering):
  1 cached status read vs a static FUSE file and tmpfs; cat vs curl
  2 1,000 parked `cat NAME/wait`: ls and status latency, RSS, threads
  3 platform requests of N readers x M reads, and of the poller per cycle
  4 the poller with 10,000 active runs: CPU, requests, RSS
  5 freshness: platform change -> status / poll() wake-up
  6 deploy: cp of 512 MiB into new/ vs a passthrough; close -> QUEUED
  7 100,000 jobs in the store: mount, ls, ls by-state, RSS

Items 3-5 (and the cat-vs-curl row of 1) use tests/bench/livybench.py, a
Livy server whose batches change state on demand. Runs on it, and the
100,000 jobs of item 7, are written into jobfs's SQLite store before the
mount (schema version 2 of src/store.c, checked through user_version).
"""

import argparse
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
STORE_SCHEMA = 2  # the user_version this seeder writes rows for
LIVY_PAGE = 100   # platforms/livy.c LIVY_PAGE: batches per list request
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------- results

class Table:
    """Rows of the result table: figure, measured, baseline, ratio, goal."""

    def __init__(self):
        self.rows = []

    def add(self, item, what, value, baseline="", ratio=None, goal="",
            met=None):
        self.rows.append({
            "item": item, "what": what, "value": value,
            "baseline": baseline,
            "ratio": "" if ratio is None else "%.2f" % ratio,
            "goal": goal,
            "verdict": "" if met is None else ("met" if met else "MISSED"),
        })
        log("%s %s: %s | %s | %s" % (item, what, value, baseline,
                                     self.rows[-1]["ratio"]))

    def markdown(self):
        out = ["| # | figure | measured | baseline | ratio | goal | |",
               "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            cells = [str(r[k]).replace("|", "\\|") for k in (
                "item", "what", "value", "baseline", "ratio", "goal",
                "verdict")]
            out.append("| " + " | ".join(cells) + " |")
        return "\n".join(out) + "\n"


def med(values):
    return statistics.median(values) if values else float("nan")


def parse_kv(line):
    """'n 5000 p50_us 21.4 ...' -> {'n': 5000.0, 'p50_us': 21.4, ...}"""
    words = line.split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2])}


# ---------------------------------------------------------------- processes

class Bench:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.jobfs = os.path.join(self.build, "src", "jobfs")
        self.tools = os.path.join(self.build, "tests", "bench")
        self.work = tempfile.mkdtemp(prefix="jobfs-bench.", dir="/tmp")
        self.shm = tempfile.mkdtemp(prefix="jobfs-bench.", dir="/dev/shm")
        self.mounts = []
        self.children = []
        self.template = None

    def tool(self, name):
        return os.path.join(self.tools, name)

    def run_tool(self, *argv, timeout=300):
        out = subprocess.run(argv, stdout=subprocess.PIPE, check=True,
                             timeout=timeout, text=True).stdout
        return parse_kv(out.strip().splitlines()[-1])

    def statusloop(self, path, n=5000, warmup=100):
        return self.run_tool(self.tool("statusloop"), "-n", str(n), "-w",
                             str(warmup), path)

    def spawnloop(self, argv, n=100, warmup=3):
        return self.run_tool(self.tool("spawnloop"), "-n", str(n), "-w",
                             str(warmup), "--", *argv)

    def path(self, *parts):
        p = os.path.join(self.work, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def mount(self, argv, mnt, logname):
        os.makedirs(mnt, exist_ok=True)
        logf = open(self.path("logs", logname), "ab")
        t0 = time.monotonic()
        proc = subprocess.Popen(argv + ["-f", mnt], stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=logf)
        logf.close()
        while not os.path.ismount(mnt):
            if proc.poll() is not None:
                raise RuntimeError("%s exited before mounting; see %s" % (
                    argv[0], self.path("logs", logname)))
            if time.monotonic() - t0 > 30:
                raise RuntimeError("%s did not mount %s" % (argv[0], mnt))
            time.sleep(0.002)
        self.mounts.append((mnt, proc))
        return proc, time.monotonic() - t0

    def mount_jobfs(self, state, mnt, opts="", config=None, name="jobfs"):
        os.makedirs(state, exist_ok=True)
        o = "state=" + state + ("," + opts if opts else "")
        if config:
            o += ",config=" + config
        return self.mount([self.jobfs, "-o", o], mnt, name + ".log")

    def unmount(self, mnt):
        for i, (m, proc) in enumerate(self.mounts):
            if m != mnt:
                continue
            subprocess.run(["fusermount3", "-u", mnt],
                           stderr=subprocess.DEVNULL)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                subprocess.run(["fusermount3", "-uz", mnt],
                               stderr=subprocess.DEVNULL)
            del self.mounts[i]
            return

    def start_emulator(self):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "livybench.py"), "--port",
             "0"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)
        port = int(proc.stdout.readline())
        self.children.append(proc)
        return Livy(port, proc)

    def stop_emulator(self, emu):
        emu.proc.terminate()
        emu.proc.wait()
        self.children.remove(emu.proc)

    def cleanup(self):
        for mnt, _ in list(reversed(self.mounts)):
            self.unmount(mnt)
        for proc in self.children:
            proc.kill()
            proc.wait()
        self.kill_runs()
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.shm, ignore_errors=True)

    def kill_runs(self):
        """Ends the local runs left behind (runs outlive their daemon):
        the process groups of the processes whose command line names this
        run's work dir (a run's supervisor leads its own group)."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if self.work.encode() not in f.read():
                        continue
                group = os.getpgid(int(pid))
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass

    # ------------------------------------------------------------ the store

    def store_template(self):
        """An empty jobfs.db made by jobfs itself (the schema as it is)."""
        if self.template:
            return self.template
        state, mnt = self.path("template", "state"), self.path("template",
                                                              "mnt")
        self.mount_jobfs(state, mnt, name="template")
        self.unmount(mnt)
        db = os.path.join(state, "jobfs.db")
        con = sqlite3.connect(db)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        if version != STORE_SCHEMA:
            raise RuntimeError("jobfs.db has schema %d; this seeder writes "
                               "schema %d (src/store.c changed: update "
                               "tests/bench/bench.py)" % (version,
                                                          STORE_SCHEMA))
        self.template = db
        return db

    def seed(self, state, jobs, events=True):
        """Writes @jobs into a fresh jobfs.db under @state before a mount.

        @jobs: list of dicts name, platform, config, remote_id, state,
        platform_state, error, exit_code; one run each.
        """
        os.makedirs(os.path.join(state, "runs"), exist_ok=True)
        db = os.path.join(state, "jobfs.db")
        shutil.copyfile(self.store_template(), db)
        con = sqlite3.connect(db)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version != STORE_SCHEMA:
            raise RuntimeError("unexpected schema %d" % version)
        now = time.time()
        con.execute("BEGIN")
        job_rows, run_rows, event_rows = [], [], []
        for i, j in enumerate(jobs, start=1):
            t = now - 3600 + i * 0.001
            terminal = j["state"] in ("SUCCEEDED", "FAILED", "CANCELLED",
                                      "LOST")
            job_rows.append((i, j["name"], j["platform"], j["config"], 1,
                             t, t))
            run_rows.append((i, i, 1, 1, j["platform"], None,
                             j.get("remote_id"), j["state"],
                             j.get("platform_state"), j.get("error"),
                             j.get("exit_code"), 1, t + 1, t + 2,
                             t + 30 if terminal else None,
                             t + 30 if terminal else t + 2, None))
            if events:
                path = ["DEPLOYING", "QUEUED", "RUNNING"]
                if terminal:
                    path.append(j["state"])
                old = "NONE"
                for k, st in enumerate(path):
                    event_rows.append((i, t + k, old, st,
                                       "deploy" if k == 0 else "poller",
                                       "deploy version 1" if k == 0 else
                                       (j.get("error") or "")))
                    old = st
        con.executemany("INSERT INTO jobs (id, name, platform, config, "
                        "version, created_at, updated_at) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?)", job_rows)
        con.executemany("INSERT INTO runs (id, job_id, number, version, "
                        "platform, overrides, remote_id, state, "
                        "platform_state, error, exit_code, attempts, "
                        "submitted_at, started_at, ended_at, updated_at, "
                        "submit_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", run_rows)
        con.executemany("INSERT INTO events (run_id, time, old_state, "
                        "new_state, source, message) VALUES "
                        "(?, ?, ?, ?, ?, ?)", event_rows)
        con.commit()
        con.close()
        for i in range(1, len(jobs) + 1):
            os.mkdir(os.path.join(state, "runs", str(i)))

    def livy_config(self, emu):
        path = self.path("config-%d.json" % emu.port)
        with open(path, "w") as f:
            json.dump({"default_platform": "local", "platforms": {
                "local": {"kind": "local"},
                "lv": {"kind": "livy",
                       "url": "http://127.0.0.1:%d" % emu.port}}}, f)
        return path

    def has_livy(self):
        """Whether this jobfs knows the livy kind (being written)."""
        if getattr(self, "_has_livy", None) is None:
            emu = self.start_emulator()
            state, mnt = self.path("probe", "state"), self.path("probe",
                                                               "mnt")
            try:
                self.mount_jobfs(state, mnt, config=self.livy_config(emu),
                                 name="probe")
                self.unmount(mnt)
                self._has_livy = True
            except RuntimeError:
                self._has_livy = False
            self.stop_emulator(emu)
        return self._has_livy


class Livy:
    """The control side of a livybench.py server."""

    def __init__(self, port, proc):
        self.port = port
        self.proc = proc
        self.url = "http://127.0.0.1:%d" % port

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def create(self, count, state="running"):
        return self.call("POST", "/_bench/batches",
                         {"count": count, "state": state})["ids"]

    def set_state(self, ids, state):
        return self.call("POST", "/_bench/state",
                         {"ids": ids, "state": state})["time"]

    def stats(self):
        return self.call("GET", "/_emulator/stats")

    def walks(self):
        return self.call("GET", "/_bench/walks")

    def reset(self):
        self.call("DELETE", "/_emulator/stats")


def status_requests(stats):
    """The status calls' requests: list pages and single batch gets. (The
    output fetch of a run asks GET /batches/{id}/state and .../log.)"""
    return sum(v for k, v in stats.items()
               if k in ("GET /batches", "GET /batches/{id}"))


def fetch_requests(stats):
    return (stats.get("GET /batches/{id}/state", 0),
            stats.get("GET /batches/{id}/log", 0))


def per_pass(walks):
    """Medians over the completed poller passes (list walks) of status
    requests, state and log requests of fetches, and seconds from one
    pass to the next."""
    done = walks[:-1]
    if not done:
        return None
    return (med([status_requests(w) for w in done]),
            med([fetch_requests(w)[0] for w in done]),
            med([fetch_requests(w)[1] for w in done]),
            med([b["start"] - a["start"] for a, b in zip(walks, walks[1:])]))


def livy_jobs(ids, prefix, state="RUNNING", pstate="running"):
    return [{"name": "%s%05d" % (prefix, k), "platform": "lv",
             "config": json.dumps({"platform": "lv",
                                   "conf": {"file": "local:/app.py"}}),
             "remote_id": str(ident), "state": state,
             "platform_state": pstate} for k, ident in enumerate(ids)]


def proc_status(pid):
    return proc_status_path("/proc/%d/status" % pid)


def rss_mib(pid):
    return int(proc_status(pid)["VmRSS"]) / 1024.0


def threads(pid):
    return int(proc_status(pid)["Threads"])


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def switches(pid):
    """Context switches of all threads of @pid so far."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            st = proc_status_path("/proc/%d/task/%s/status" % (pid, tid))
        except OSError:
            continue  # the thread has just ended
        total += int(st["voluntary_ctxt_switches"]) + \
            int(st["nonvoluntary_ctxt_switches"])
    return total


def proc_status_path(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.split()[0] if value.split() else ""
    return out


def read_text(path):
    with open(path) as f:
        return f.read()


def wait_for(cond, timeout, what, step=0.01):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("timed out waiting for %s" % what)
        time.sleep(step)


def deploy_local(mnt, name, script, config="{}"):
    with open(os.path.join(mnt, "new", name + ".sh"), "w") as f:
        f.write(script)
    with open(os.path.join(mnt, "new", name + ".json"), "w") as f:
        f.write(config)


# ---------------------------------------------------------------- 1 and 2

def paired(b, rounds, runs):
    """Runs each of @runs (name -> function returning a result dict) once
    per round, in an order that alternates between rounds, so that a slow
    spell of the shared machine hits a figure and its baseline alike.
    Returns name -> list of results, one per round."""
    res = {k: [] for k in runs}
    names = list(runs)
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            res[k].append(runs[k]())
    return res


def ratio_of(res, a, base, key):
    """The median over rounds of a's @key over base's in the same round."""
    return med([x[key] / y[key] for x, y in zip(res[a], res[base])])


def item1(b, t):
    """Cached status read: jobfs vs static FUSE file vs tmpfs; cat vs curl."""
    rounds, n, warmup = 40, 500, 50
    state, mnt = b.path("i1", "state"), b.path("i1", "mnt")
    smnt = b.path("i1", "static")
    emu = b.start_emulator() if b.has_livy() else None
    config = None
    if emu:
        ids = emu.create(1)
        b.seed(state, livy_jobs(ids, "lv"))
        config = b.livy_config(emu)
    jobfs, _ = b.mount_jobfs(state, mnt, config=config, name="i1")
    deploy_local(mnt, "bench", "sleep 600\n")
    status = os.path.join(mnt, "bench", "status")
    wait_for(lambda: read_text(status) == "RUNNING\n", 20, "bench RUNNING")
    static, _ = b.mount([b.tool("staticfs")], smnt, "staticfs.log")
    tmpfs = os.path.join(b.shm, "status")
    with open(tmpfs, "w") as f:
        f.write("RUNNING\n")
    paths = {"jobfs": status, "static": os.path.join(smnt, "job", "status"),
             "tmpfs": tmpfs}
    daemons = {"jobfs": jobfs.pid, "static": static.pid}
    cpu = {k: 0.0 for k in daemons}
    ctx = {k: 0 for k in daemons}

    def read_loop(k):
        if k not in daemons:
            return b.statusloop(paths[k], n=n, warmup=warmup)
        c0, s0 = cpu_seconds(daemons[k]), switches(daemons[k])
        r = b.statusloop(paths[k], n=n, warmup=warmup)
        cpu[k] += cpu_seconds(daemons[k]) - c0
        ctx[k] += switches(daemons[k]) - s0
        return r

    res = paired(b, rounds, {k: (lambda k=k: read_loop(k)) for k in paths})
    p50 = {k: med([r["p50_us"] for r in v]) for k, v in res.items()}
    p99 = {k: med([r["p99_us"] for r in v]) for k, v in res.items()}
    for q, vals in (("p50", p50), ("p99", p99)):
        ratio = ratio_of(res, "jobfs", "static", q + "_us")
        t.add(1, "status read %s (open+read+close, %d rounds x %d)" % (
            q, rounds, n), "%.1f us" % vals["jobfs"],
            "static FUSE file %.1f us" % vals["static"], ratio,
            "<= 1.2x static", ratio <= 1.2)
    reads = rounds * (n + warmup)
    per = {k: v / reads * 1e6 for k, v in cpu.items()}
    sw = {k: v / reads for k, v in ctx.items()}
    t.add(1, "daemon CPU / context switches per status read",
          "%.1f us / %.2f" % (per["jobfs"], sw["jobfs"]),
          "static FUSE daemon %.1f us / %.2f" % (per["static"],
                                                 sw["static"]),
          per["jobfs"] / per["static"])
    t.add(1, "status read p50 / p99 vs tmpfs",
          "%.1f / %.1f us" % (p50["jobfs"], p99["jobfs"]),
          "tmpfs %.1f / %.1f us" % (p50["tmpfs"], p99["tmpfs"]),
          ratio_of(res, "jobfs", "tmpfs", "p50_us"))
    b.unmount(smnt)
    if emu:
        lv = os.path.join(mnt, "lv00000", "status")
        wait_for(lambda: read_text(lv) == "RUNNING\n", 20, "lv RUNNING")
        curl = ["curl", "-s", "-f", "-o", "/dev/null",
                "%s/batches/%d/state" % (emu.url, ids[0])]
        res = paired(b, 4, {
            "cat": lambda: b.spawnloop(["cat", lv], n=50),
            "curl": lambda: b.spawnloop(curl, n=50)})
        t.add(1, "`cat NAME/status` process p50 / p99 (livy job, ttl 2 s)",
              "%.2f / %.2f ms" % (med([r["p50_ms"] for r in res["cat"]]),
                                  med([r["p99_ms"] for r in res["cat"]])),
              "`curl` of the emulator's /batches/ID/state %.2f / %.2f ms" % (
                  med([r["p50_ms"] for r in res["curl"]]),
                  med([r["p99_ms"] for r in res["curl"]])),
              ratio_of(res, "cat", "curl", "p50_ms"))
        b.stop_emulator(emu)
    else:
        t.add(1, "`cat NAME/status` vs `curl`", "n/a",
              "livy platform not in this build")
    with open(os.path.join(mnt, "bench", "cancel"), "w") as f:
        f.write("stop\n")
    b.unmount(mnt)


def cats_parked(cats):
    """Whether every cat sits in read(2) (syscall 0 on x86-64)."""
    for c in cats:
        try:
            with open("/proc/%d/syscall" % c.pid) as f:
                if f.read().split()[0] != "0":
                    return False
        except OSError:
            return False
    return True


def item2(b, t):
    """Parked waiters: ls and status of a mount with 1,000 vs one without."""
    waiters, rounds = 1000, 10
    mnts, procs = {}, {}
    for k in ("busy", "idle"):
        mnts[k] = b.path("i2" + k, "mnt")
        procs[k], _ = b.mount_jobfs(b.path("i2" + k, "state"), mnts[k],
                                    name="i2" + k)
        deploy_local(mnts[k], "bench", "sleep 600\n")
        st = os.path.join(mnts[k], "bench", "status")
        wait_for(lambda st=st: read_text(st) == "RUNNING\n", 20, "RUNNING")
    pid = procs["busy"].pid
    idle_rss, idle_thr = rss_mib(pid), threads(pid)
    # the noise floor: the same comparison before any waiter is parked
    aa = paired(b, rounds, {k: (lambda m=mnts[k]: b.statusloop(
        os.path.join(m, "bench", "status"), n=2000)) for k in mnts})
    outdir = b.path("i2", "out")
    os.makedirs(outdir, exist_ok=True)
    cats = []
    wait = os.path.join(mnts["busy"], "bench", "wait")
    t0 = time.monotonic()
    for i in range(waiters):
        with open(os.path.join(outdir, str(i)), "w") as out:
            cats.append(subprocess.Popen(["cat", wait], stdout=out,
                                         stdin=subprocess.DEVNULL))
    wait_for(lambda: cats_parked(cats), 120, "the waiters to park", 0.1)
    log("%d waiters parked in %.1f s" % (waiters, time.monotonic() - t0))
    rss, thr = rss_mib(pid), threads(pid)
    runs = {}
    for k in ("busy", "idle"):
        st = os.path.join(mnts[k], "bench", "status")
        runs["status " + k] = lambda st=st: b.statusloop(st, n=2000)
        runs["ls " + k] = lambda m=mnts[k]: b.statusloop(m, n=500, warmup=20)
    res = paired(b, rounds, runs)
    whole = {}
    for k in ("busy", "idle"):
        st = os.path.join(mnts[k], "bench", "status")
        whole["cat " + k] = lambda st=st: b.spawnloop(["cat", st],
                                                      n=100)
        whole["ls " + k] = lambda m=mnts[k]: b.spawnloop(["ls", m],
                                                         n=100)
    res_whole = paired(b, 4, whole)
    t0 = time.monotonic()
    with open(os.path.join(mnts["busy"], "bench", "cancel"), "w") as f:
        f.write("stop\n")
    for c in cats:
        c.wait(timeout=60)
    woke = time.monotonic() - t0
    answers = set(read_text(os.path.join(outdir, str(i))).strip()
                  for i in range(waiters))
    for what, key in (("status read", "status"),
                      ("`ls` of the root (opendir+readdir)", "ls")):
        for q in ("p50", "p99"):
            busy = med([r[q + "_us"] for r in res[key + " busy"]])
            idle = med([r[q + "_us"] for r in res[key + " idle"]])
            ratio = ratio_of(res, key + " busy", key + " idle", q + "_us")
            t.add(2, "%s %s with %d parked waiters" % (what, q, waiters),
                  "%.1f us" % busy, "same mount without them %.1f us" % idle,
                  ratio, "< 2x idle" if q == "p99" else "",
                  ratio < 2 if q == "p99" else None)
    t.add(2, "noise floor: status read p50 / p99, the two mounts before "
          "any waiter", "ratio p99 %.2f" % ratio_of(aa, "busy", "idle",
                                                   "p99_us"),
          "", ratio_of(aa, "busy", "idle", "p50_us"))
    for what, key in (("`cat NAME/status` process", "cat"),
                      ("`ls` of the root, process", "ls")):
        busy = [med([r[q + "_ms"] for r in res_whole[key + " busy"]])
                for q in ("p50", "p99")]
        idle = [med([r[q + "_ms"] for r in res_whole[key + " idle"]])
                for q in ("p50", "p99")]
        ratio = ratio_of(res_whole, key + " busy", key + " idle", "p99_ms")
        t.add(2, "%s p50 / p99 with %d parked waiters (ratio: p99)" % (
            what, waiters), "%.2f / %.2f ms" % tuple(busy),
            "same mount without them %.2f / %.2f ms" % tuple(idle), ratio,
            "< 2x idle", ratio < 2)
    t.add(2, "jobfs RSS with %d parked waiters" % waiters, "%.1f MiB" % rss,
          "before them %.1f MiB" % idle_rss, rss / idle_rss)
    t.add(2, "jobfs threads with %d parked waiters" % waiters, str(thr),
          "before them %d" % idle_thr, thr / idle_thr,
          "no thread per waiter", thr < idle_thr + 20)
    t.add(2, "cancel -> all %d waiters answered" % waiters,
          "%.2f s (%s)" % (woke, ", ".join(sorted(answers))))
    with open(os.path.join(mnts["idle"], "bench", "cancel"), "w") as f:
        f.write("stop\n")
    for k in ("busy", "idle"):
        b.unmount(mnts[k])


# ---------------------------------------------------------------- 3 and 4

def item3(b, t):
    """Requests caused by readers within the ttl, and by the poller."""
    readers, reads, ttl = 50, 20, 3.0
    emu = b.start_emulator()
    ids = emu.create(1)
    state, mnt = b.path("i3", "state"), b.path("i3", "mnt")
    b.seed(state, livy_jobs(ids, "one"))
    b.mount_jobfs(state, mnt, "poll=600,ttl=%g" % ttl, b.livy_config(emu),
                  "i3")
    status = os.path.join(mnt, "one00000", "status")
    wait_for(lambda: status_requests(emu.stats()) >= 1, 20,
             "the first poll")
    time.sleep(ttl + 0.3)  # the cached state is now older than the ttl
    emu.reset()
    t0 = time.monotonic()
    procs = [subprocess.Popen([b.tool("statusloop"), "-n", str(reads), "-w",
                               "0", status], stdout=subprocess.DEVNULL)
             for _ in range(readers)]
    for p in procs:
        p.wait()
    span = time.monotonic() - t0
    got = status_requests(emu.stats())
    t.add(3, "status requests for %d readers x %d reads within the ttl "
          "(%.2f s < ttl %g s)" % (readers, reads, span, ttl), str(got),
          "%d reads" % (readers * reads), None, "1", got == 1)
    b.unmount(mnt)
    b.stop_emulator(emu)

    n, poll, passes = 250, 2.0, 4
    emu = b.start_emulator()
    ids = emu.create(n)
    state, mnt = b.path("i3b", "state"), b.path("i3b", "mnt")
    b.seed(state, livy_jobs(ids, "p"))
    b.mount_jobfs(state, mnt, "poll=%g,ttl=600" % poll, b.livy_config(emu),
                  "i3b")
    wait_for(lambda: emu.stats().get("GET /batches", 0) >= 1, 20,
             "the first poll")
    emu.reset()
    wait_for(lambda: len(emu.walks()) > passes, 30 * passes,
             "%d poller passes" % passes, 0.2)
    status, states, logs, period = per_pass(emu.walks())
    want = math.ceil(n / LIVY_PAGE)
    t.add(3, "poller status requests per pass, %d active runs (median of "
          "%d passes)" % (n, passes), "%g" % status,
          "page size %d" % LIVY_PAGE, None, "ceil(N/page) = %d" % want,
          status <= want)
    t.add(3, "poller output fetches per pass, %d running runs" % n,
          "%g state + %g log requests" % (states, logs),
          "one pass every %.2f s (poll=%g)" % (period, poll))
    b.unmount(mnt)
    b.stop_emulator(emu)


def item4(b, t):
    """The poller with 10,000 active runs (RUNNING, then QUEUED)."""
    n, poll, cycles = 10000, 5.0, 2
    for pstate, jstate in (("running", "RUNNING"), ("starting", "QUEUED")):
        emu = b.start_emulator()
        ids = emu.create(n, pstate)
        state, mnt = b.path("i4" + pstate, "state"), b.path("i4" + pstate,
                                                            "mnt")
        b.seed(state, livy_jobs(ids, "r", jstate, pstate), events=False)
        proc, took = b.mount_jobfs(state, mnt, "poll=%g,ttl=600" % poll,
                                   b.livy_config(emu), "i4" + pstate)
        wait_for(lambda: emu.stats().get("GET /batches", 0) >= 1, 30,
                 "the first poll")
        time.sleep(poll * 1.5)  # past the first pass, then mid-interval
        emu.reset()
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(poll * cycles)
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        st, walks = emu.stats(), emu.walks()
        rss = rss_mib(proc.pid)
        t.add(4, "poller CPU, %d %s runs, poll=%g" % (n, jstate, poll),
              "%.1f%% of a core (%.2f s per %g s)" % (cpu * 100,
                                                      cpu * poll, poll),
              "", None, "<= 5%", cpu <= 0.05)
        pp = per_pass(walks)
        states, logs = fetch_requests(st)
        if pp:
            note = "%d status per pass (ceil(N/page) = %d)" % (
                pp[0], math.ceil(n / LIVY_PAGE))
        else:  # one log per running run: that rate gives the pass time
            note = "no pass began: at %.0f logs/s one takes ~%.0f s" % (
                logs / (poll * cycles), n / max(1, logs / (poll * cycles)))
        t.add(4, "requests in %g s (%d passes began), %d %s runs" % (
            poll * cycles, len(walks), n, jstate),
            "%d status + %d state + %d log" % (status_requests(st), states,
                                                logs), note)
        t.add(4, "RSS, %d %s runs" % (n, jstate), "%.1f MiB" % rss, "",
              None, "<= 64 MB", rss * 1048576 <= 64e6)
        b.unmount(mnt)
        b.stop_emulator(emu)


# ---------------------------------------------------------------- 5

def item5(b, t):
    """Freshness: the platform's change seen in status / by poll()."""
    n = 20
    for mode, opts, spread in (("status", "poll=600,ttl=1", 3.0),
                               ("poll", "poll=2,ttl=600", 5.0)):
        emu = b.start_emulator()
        ids = emu.create(n)
        state, mnt = b.path("i5" + mode, "state"), b.path("i5" + mode,
                                                          "mnt")
        b.seed(state, livy_jobs(ids, "f"))
        b.mount_jobfs(state, mnt, opts, b.livy_config(emu), "i5" + mode)
        paths = [os.path.join(mnt, "f%05d" % k, "status") for k in range(n)]
        for p in paths:
            wait_for(lambda p=p: read_text(p) == "RUNNING\n", 20, p)
        seen = [None] * n
        ready = threading.Barrier(n + 1)
        watch = watch_read if mode == "status" else watch_poll
        threads_ = [threading.Thread(target=watch,
                                     args=(paths[k], seen, k, ready))
                    for k in range(n)]
        for th in threads_:
            th.start()
        ready.wait()
        start = time.time()
        offsets = sorted(random.uniform(0.2, spread) for _ in range(n))
        flips = []
        for k, off in enumerate(offsets):
            time.sleep(max(0, start + off - time.time()))
            flips.append(emu.set_state([ids[k]], "success"))
        for th in threads_:
            th.join(timeout=30)
        lat = sorted(s - f for s, f in zip(seen, flips) if s is not None)
        missing = n - len(lat)
        interval = "ttl=1 s" if mode == "status" else "poll=2 s"
        what = ("change -> `status` shows it (reader every 5 ms)"
                if mode == "status" else "change -> poll() wakes")
        p99 = lat[max(0, math.ceil(0.99 * len(lat)) - 1)] if lat else 0
        t.add(5, "%s p50 / p99 (%d changes%s)" % (
            what, n, ", %d missed" % missing if missing else ""),
            "%.2f / %.2f s" % (med(lat), p99), interval,
            med(lat) / (1.0 if mode == "status" else 2.0), "")
        b.unmount(mnt)
        b.stop_emulator(emu)


def watch_read(path, seen, k, ready):
    ready.wait()
    t_end = time.time() + 20
    while time.time() < t_end:
        fd = os.open(path, os.O_RDONLY)
        text = os.read(fd, 64)
        os.close(fd)
        if text == b"SUCCEEDED\n":
            seen[k] = time.time()
            return
        time.sleep(0.005)


def watch_poll(path, seen, k, ready):
    import select
    fd = os.open(path, os.O_RDONLY)
    try:
        os.read(fd, 64)
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        ready.wait()
        t_end = time.time() + 20
        while time.time() < t_end:
            if p.poll(1000):
                os.lseek(fd, 0, os.SEEK_SET)
                if os.read(fd, 64) == b"SUCCEEDED\n":
                    seen[k] = time.time()
                    return
    finally:
        os.close(fd)


# ---------------------------------------------------------------- 6

def write_random(path, mib):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(block)


def item6(b, t):
    """Deploy: cp into new/ vs a passthrough; close of NAME.json -> QUEUED."""
    mib, rounds = 512, 5
    src = os.path.join(b.shm, "bundle.bin")
    write_random(src, mib)
    state, mnt = b.path("i6", "state"), b.path("i6", "mnt")
    ptsrc, ptmnt = b.path("i6", "pt-src"), b.path("i6", "pt-mnt")
    plain = b.path("i6", "plain")
    for d in (ptsrc, plain):
        os.makedirs(d, exist_ok=True)
    b.mount_jobfs(state, mnt, name="i6")
    b.mount([b.tool("passthrough"), "-o", "source=" + ptsrc], ptmnt,
            "passthrough.log")
    targets = {"jobfs": os.path.join(mnt, "new"), "passthrough": ptmnt,
               "disk": plain}

    def copy(d):
        dst = os.path.join(d, "bundle.bin")
        subprocess.run(["sync"], check=True)
        t0 = time.monotonic()
        subprocess.run(["cp", src, dst], check=True)
        rate = mib / (time.monotonic() - t0)
        os.unlink(dst)
        return {"rate": rate}

    res = paired(b, rounds, {k: (lambda d=d: copy(d))
                             for k, d in targets.items()})
    rate = {k: med([r["rate"] for r in v]) for k, v in res.items()}
    ratio = ratio_of(res, "jobfs", "passthrough", "rate")
    t.add(6, "cp of a %d MiB bundle into new/ (%d rounds)" % (mib, rounds),
          "%.0f MiB/s" % rate["jobfs"],
          "passthrough FUSE %.0f MiB/s" % rate["passthrough"], ratio,
          ">= 0.8x passthrough", ratio >= 0.8)
    t.add(6, "cp of the same onto the disk, no FUSE", "%.0f MiB/s" %
          rate["disk"], "", None, "")
    b.unmount(ptmnt)
    for size, reps in ((1024, 5), (100 << 20, 3)):
        lat, closes = [], []
        for r in range(reps):
            name = "d%d-%d" % (size, r)
            bdir = os.path.join(mnt, "new", name)
            os.mkdir(bdir)
            with open(os.path.join(bdir, "main.sh"), "w") as f:
                f.write("exit 0\n")
            with open(os.path.join(bdir, "data.bin"), "wb") as f:
                block = os.urandom(min(size, 1 << 20))
                for _ in range(max(1, size // len(block))):
                    f.write(block)
            status = os.path.join(mnt, name, "status")
            fd = os.open(os.path.join(mnt, "new", name + ".json"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b'{"entry_point": "main.sh"}\n')
            t0 = time.monotonic()
            os.close(fd)
            t1 = time.monotonic()
            while read_text(status) == "DEPLOYING\n":
                if time.monotonic() - t1 > 60:
                    raise RuntimeError("%s stayed DEPLOYING" % name)
                time.sleep(0.001)
            lat.append(time.monotonic() - t1)
            closes.append(t1 - t0)
        label = "1 KiB" if size == 1024 else "100 MiB"
        t.add(6, "close of NAME.json -> QUEUED, %s bundle (%d runs)" % (
            label, reps), "%.0f ms" % (med(lat) * 1000),
            "close() itself %.1f ms" % (med(closes) * 1000), None, "")
    b.unmount(mnt)


# ---------------------------------------------------------------- 7

def item7(b, t):
    """100,000 jobs in the store: mount, ls, ls by-state, RSS."""
    n, mounts = 100000, 3
    state, mnt = b.path("i7", "state"), b.path("i7", "mnt")
    t0 = time.monotonic()
    jobs = []
    for i in range(n):
        failed = i % 10 == 9
        jobs.append({"name": "job-%06d" % i, "platform": "local",
                     "config": json.dumps({"args": ["part-%d" % i]}),
                     "remote_id": str(100000 + i),
                     "state": "FAILED" if failed else "SUCCEEDED",
                     "error": "exited with status 1: boom" if failed
                     else None, "exit_code": 1 if failed else 0})
    b.seed(state, jobs)
    log("seeded %d jobs in %.1f s" % (n, time.monotonic() - t0))
    took = []
    for _ in range(mounts):
        proc, dt = b.mount_jobfs(state, mnt, name="i7")
        os.stat(os.path.join(mnt, "README"))
        took.append(dt)
        if len(took) < mounts:
            b.unmount(mnt)
    t.add(7, "mount with %d jobs (%d mounts)" % (n, mounts),
          "%.3f s" % med(took), "", None, "< 0.5 s", med(took) < 0.5)
    count = subprocess.run("ls '%s' | wc -l" % mnt, shell=True, check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    ls = b.spawnloop(["sh", "-c", "ls '%s' | wc -l" % mnt], n=5, warmup=1)
    by = b.spawnloop(["ls", os.path.join(mnt, "by-state", "SUCCEEDED")], n=5,
                     warmup=1)
    t.add(7, "`ls | wc -l` of the root (%s entries)" % count,
          "%.3f s" % (ls["p50_ms"] / 1000), "", None, "< 1 s",
          ls["p50_ms"] < 1000)
    t.add(7, "`ls by-state/SUCCEEDED` (%d jobs)" % (n - n // 10),
          "%.3f s" % (by["p50_ms"] / 1000), "", None, "< 1 s",
          by["p50_ms"] < 1000)
    job = os.path.join(mnt, "job-050000")
    res = paired(b, 4, {
        "status": lambda: b.statusloop(os.path.join(job, "status"), n=500),
        "wait": lambda: b.statusloop(os.path.join(job, "wait"), n=500)})
    t.add(7, "status read p50 / p99 among %d jobs" % n,
          "%.1f / %.1f us" % (med([r["p50_us"] for r in res["status"]]),
                              med([r["p99_us"] for r in res["status"]])))
    t.add(7, "`wait` read of an ended run p50 / p99 among %d jobs" % n,
          "%.1f / %.1f us" % (med([r["p50_us"] for r in res["wait"]]),
                              med([r["p99_us"] for r in res["wait"]])),
          "status read in the same mount",
          ratio_of(res, "wait", "status", "p50_us"))
    rss = rss_mib(proc.pid)
    t.add(7, "RSS with %d jobs" % n, "%.1f MiB" % rss, "", None, "< 100 MB",
          rss * 1048576 < 100e6)
    b.unmount(mnt)


# ---------------------------------------------------------------- main

ITEMS = {1: item1, 2: item2, 3: item3, 4: item4, 5: item5, 6: item6,
         7: item7}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="the build directory")
    ap.add_argument("--only", default="", help="comma-separated items")
    ap.add_argument("--table", help="write the markdown table here")
    ap.add_argument("--json", help="write the rows as JSON here")
    opts = ap.parse_args()
    only = sorted(set(int(x) for x in opts.only.split(",") if x)) or \
        sorted(ITEMS)
    unknown = [i for i in only if i not in ITEMS]
    if unknown:
        ap.error("no item %s (items are 1-7)" % unknown[0])
    b = Bench(opts.build)
    t = Table()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    livy_items = {3, 4, 5}
    try:
        for item in only:
            if item in livy_items and not b.has_livy():
                t.add(item, ITEMS[item].__doc__.split(":")[0], "n/a",
                      "livy platform not in this build")
                continue
            log("item %d: %s" % (item, ITEMS[item].__doc__))
            t0 = time.monotonic()
            ITEMS[item](b, t)
            log("item %d took %.0f s" % (item, time.monotonic() - t0))
    finally:
        b.cleanup()
    text = t.markdown()
    if opts.table:
        with open(opts.table, "w") as f:
            f.write(text)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(t.rows, f, indent=1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
