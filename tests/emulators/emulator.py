"""The base of every emulator here: a threaded HTTP server on 127.0.0.1
(or a Unix socket) that prints its port first, so that a test can start it
on port 0, and a request handler with what all emulators share. An
emulator subclasses State (its data, guarded by state.lock) and Handler
(its routes: route()), and calls serve() (or main()).

Every request outside /_emulator/ goes, in this order, through:
  counting     under the key count_key() gives (default "METHOD /path";
               None: not counted)
  faults       the switched-on fault, if one applies (see below)
  route()      the emulator's own handling; it answers with send()

Control endpoints (never counted, never faulted):
  GET    /_emulator/stats    {"KEY": count, ...}
  DELETE /_emulator/stats    resets the counters
  POST   /_emulator/faults   switches faults (the whole switch: a field left
                             out takes its start-up default); answers it
  POST   /_emulator/config   the emulator's settings (configure())
  GET    /_emulator/NAME     what the emulator shows (control_get())

The fault switch (POST /_emulator/faults):
  {"rate": 0.3,             each request that matches fails with that
                            probability,
   "fail_next": N,          or: the next N requests that match fail
   "kinds": ["500", ...],   how a failing one fails (one picked at random)
   "paths": ["/v1/"],       only requests whose path starts so (default all)
   "on": "KEY",             only requests counted under KEY (default any)
   "code": 503,             the status of kinds "code" and "after_code"
   "slow_seconds": 2}       the wait of kind "slow"
Kinds that act BEFORE the server acted (nothing is done):
  500 503 429   that error, in the emulator's error shape (fault_error());
                503 and 429 with Retry-After: 1
  code          the error "code" (without Retry-After)
  slow          waits slow_seconds, then handles the request as usual
  drop          closes the connection without an answer
Kinds that act AFTER the server acted (the state changed, the answer lost):
  after_drop    closes the connection instead of answering
  after_500     answers 500 instead
  after_code    answers "code" instead
  badjson       a 2xx answer's body cut in half (a body not JSON: 500)
Without "kinds": every kind before acting but "code" (with "rate"), or
["code"] (with "fail_next"). An emulator may give a kind a meaning of its
own for some requests (fault_kind()).

Command-line options every emulator has (common_options()): --port,
--unix, --seed, --fault-rate, --fault-kinds, --slow-seconds, --verbose.
"""

import argparse
import json
import random
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BEFORE = ("500", "503", "429", "code", "slow", "drop")
AFTER = ("after_drop", "after_500", "after_code", "badjson")
KINDS = BEFORE + AFTER
# without "kinds": what a random fault may be
RANDOM_KINDS = ("500", "503", "429", "slow", "drop", "badjson")


class State:
    """What an emulator knows, under self.lock: its counters, its fault
    switch and its random numbers (--seed). Subclass it for the rest."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.stats = {}
        self.rng = random.Random(getattr(opts, "seed", None))
        kinds = getattr(opts, "fault_kinds", None)
        self.fault_defaults = {
            "rate": getattr(opts, "fault_rate", 0.0) or 0.0,
            "fail_next": 0,
            "kinds": kinds.split(",") if kinds else None,
            "paths": [],
            "on": None,
            "code": 503,
            "slow_seconds": getattr(opts, "slow_seconds", 2.0),
        }
        self.faults = self.switch_faults({})

    def count(self, key):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def switch_faults(self, req):
        """Sets the fault switch from @req (the defaults where it is
        silent) and returns it. Not locked: call it under self.lock."""
        f = dict(self.fault_defaults)
        f.update({k: req[k] for k in f if k in req})
        f["rate"] = float(f["rate"] or 0)
        f["fail_next"] = int(f["fail_next"] or 0)
        f["code"] = int(f["code"])
        f["slow_seconds"] = float(f["slow_seconds"])
        f["paths"] = list(f["paths"] or [])
        if f["kinds"] is None:
            f["kinds"] = ["code"] if f["fail_next"] > 0 else \
                list(RANDOM_KINDS)
        f["kinds"] = [str(k) for k in f["kinds"]]
        self.faults = f
        return dict(f)

    def pick_fault(self, path, key):
        """The kind of fault the request to @path counted as @key gets,
        or None."""
        with self.lock:
            f = self.faults
            if f["paths"] and not any(path.startswith(p)
                                      for p in f["paths"]):
                return None
            if f["on"] is not None and key != f["on"]:
                return None
            kinds = [k for k in f["kinds"] if k in KINDS]
            if not kinds:
                return None
            if f["fail_next"] > 0:
                f["fail_next"] -= 1
            elif f["rate"] <= 0 or self.rng.random() >= f["rate"]:
                return None
            return self.rng.choice(kinds)

    def coin(self):
        with self.lock:
            return self.rng.random() < 0.5


class Handler(BaseHTTPRequestHandler):
    """Routing, answers, counting, faults and control endpoints. An
    emulator overrides route() and, as it needs, count_key(), fault_error(),
    fault_kind(), configure(), control_get(), extra_headers()."""

    protocol_version = "HTTP/1.1"
    json_type = "application/json"
    state = None  # the State, set by serve()

    # ---- hooks

    def route(self, method, path, query, body):
        self.send(404, {"message": "no route " + path})

    def count_key(self, method, path, query):
        return method + " " + path

    def fault_error(self, code):
        """The answer to an injected error @code, in the emulator's error
        shape; may use self.retry_after (a list of headers)."""
        self.send(code, {"message": "injected fault %d" % code},
                  headers=self.retry_after)

    def fault_kind(self, kind):
        """The kind a picked fault really is for this request."""
        return kind

    def configure(self, req):
        """POST /_emulator/config: applies @req, returns the settings, or
        None when the emulator has none."""
        return None

    def control_get(self, name, query):
        """GET /_emulator/NAME: a JSON value, or None (404)."""
        return None

    def extra_headers(self):
        """Headers of every answer."""
        return []

    # ---- plumbing

    def log_message(self, fmt, *args):
        if getattr(self.state.opts, "verbose", False):
            sys.stderr.write("%s: %s\n" % (type(self).__module__,
                                            fmt % args))

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body=None, ctype=None, headers=()):
        """Answers @status with @body: a JSON value (a dict or a list,
        sent as JSON), str or bytes (sent as @ctype), or None (empty)."""
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            ctype = ctype or self.json_type
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        if self.fault in AFTER:
            self.held = (status, data, ctype, list(headers))
            return
        self.write_answer(status, data, ctype, headers)

    def write_answer(self, status, data, ctype, headers):
        self.send_response(status)
        for name, value in self.extra_headers():
            self.send_header(name, value)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def drop(self):
        """Closes the connection without an answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- one request

    def handle_any(self):
        self.fault, self.held = None, None
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query,
                                            keep_blank_values=True))
        body = self.read_body()
        if url.path.startswith("/_emulator/"):
            return self.control(url.path[len("/_emulator/"):], query, body)
        key = self.count_key(self.command, url.path, query)
        if key is not None:
            self.state.count(key)
        kind = self.state.pick_fault(url.path, key)
        self.fault = self.fault_kind(kind) if kind else None
        self.retry_after = []
        if self.fault in ("500", "503", "429", "code"):
            if self.fault in ("429", "503"):
                self.retry_after = [("Retry-After", "1")]
            code = self.state.faults["code"] if self.fault == "code" else \
                int(self.fault)
            self.fault = None
            return self.fault_error(code)
        if self.fault == "slow":
            time.sleep(self.state.faults["slow_seconds"])
        if self.fault == "drop":
            return self.drop()
        self.route(self.command, url.path, query, body)
        if self.fault in AFTER:
            self.answer_after_acting()

    def answer_after_acting(self):
        """The server acted on the request: now lose its answer."""
        kind, held = self.fault, self.held
        self.fault = None
        if kind == "after_drop" or held is None:
            return self.drop()
        status, data, ctype, headers = held
        if kind == "badjson":
            if not 200 <= status < 300:
                return self.write_answer(status, data, ctype, headers)
            if (ctype or "").startswith("application/json"):
                return self.write_answer(status, data[:max(1, len(data) // 2)],
                                         ctype, headers)
            kind = "after_500"
        self.fault_error(self.state.faults["code"] if kind == "after_code"
                         else 500)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

    # ---- control

    def control(self, name, query, body):
        st = self.state
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return self.send(400, {"message": "bad JSON"})
        if name == "stats" and self.command == "GET":
            with st.lock:
                return self.send(200, dict(st.stats))
        if name == "stats" and self.command == "DELETE":
            with st.lock:
                st.stats.clear()
            return self.send(200, {})
        if name == "faults" and self.command == "POST":
            with st.lock:
                return self.send(200, st.switch_faults(req))
        if name == "config" and self.command == "POST":
            out = self.configure(req)
            if out is not None:
                return self.send(200, out)
        if self.command == "GET":
            out = self.control_get(name, query)
            if out is not None:
                return self.send(200, out)
        self.send(404, {"message": "no such control endpoint"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connect at once

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler wants a pair

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def common_options(parser, fault_kinds=""):
    """Adds the options every emulator has to @parser."""
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unix", help="listen on this Unix socket instead "
                        "(and print 0 as the port)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default=fault_kinds,
                        help="comma-separated (default: %(default)s)")
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--verbose", action="store_true")
    return parser


def serve(handler, state, port=0, unix=None):
    """Serves @handler with @state on 127.0.0.1:@port (0: any), or on the
    Unix socket @unix, printing the port (0 for a socket)."""
    handler.state = state
    if unix:
        server = UnixServer(unix, handler)
        port = 0
    else:
        server = Server(("127.0.0.1", port), handler)
        port = server.server_address[1]
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def main(handler, state_class, doc, add_options=None, fault_kinds=""):
    """Parses the options (common_options() and @add_options(parser)),
    makes the state and serves."""
    parser = argparse.ArgumentParser(description=doc.strip().split("\n")[0])
    common_options(parser, fault_kinds)
    if add_options:
        add_options(parser)
    opts = parser.parse_args()
    serve(handler, state_class(opts), opts.port, opts.unix)
    return 0

