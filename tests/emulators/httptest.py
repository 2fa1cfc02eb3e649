#!/usr/bin/env python3
"""A generic HTTP test server for tests/check_http.c.

Listens on 127.0.0.1 (port 0 by default) and prints the chosen port as the
first line of stdout; or on a Unix socket with --unix PATH (prints 0). Endpoints (any method):

  /echo                 200 {"method","path","query","headers","body"}
  /status/CODE          CODE with ?body=TEXT (default {"message":"status CODE"})
                        and ?retry_after=VALUE, ?location=URL
  /flaky/KEY            ?fail=N&code=C[&retry_after=S]: the first N requests
                        for KEY answer C, later ones 200 {"count": n}
  /delay                ?ms=N: answers 200 after N ms
  /drop                 closes the connection without an answer
  /badjson              200 with a body that is not JSON
  /_stats               {"METHOD /path": count} of every request so far
"""
import argparse
import json
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.stats = {}
        self.flaky = {}

    def count(self, key):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def flaky_hit(self, key):
        with self.lock:
            self.flaky[key] = self.flaky.get(key, 0) + 1
            return self.flaky[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = State()

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        body = self.read_body()
        if url.path != "/_stats":
            self.state.count(self.command + " " + url.path)
        parts = url.path.strip("/").split("/")
        route = getattr(self, "route_" + parts[0].lstrip("_"), None)
        if route is None:
            self.reply(404, json.dumps({"message": "no route " + url.path}))
            return
        route(parts, query, body)

    def route_echo(self, parts, query, body):
        self.reply(200, json.dumps({
            "method": self.command,
            "path": urllib.parse.urlsplit(self.path).path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }))

    def status_headers(self, query):
        headers = []
        if "retry_after" in query:
            headers.append(("Retry-After", query["retry_after"]))
        if "location" in query:
            headers.append(("Location", query["location"]))
        return headers

    def route_status(self, parts, query, body):
        code = int(parts[1])
        text = query.get("body", json.dumps({"message": "status %d" % code}))
        self.reply(code, text, headers=self.status_headers(query))

    def route_flaky(self, parts, query, body):
        n = self.state.flaky_hit(parts[1])
        if n <= int(query.get("fail", "1")):
            code = int(query.get("code", "503"))
            self.reply(code, json.dumps({"message": "flaky %d" % n}),
                       headers=self.status_headers(query))
        else:
            self.reply(200, json.dumps({"count": n}))

    def route_delay(self, parts, query, body):
        time.sleep(int(query.get("ms", "1000")) / 1000.0)
        self.reply(200, json.dumps({"slept_ms": int(query.get("ms", "1000"))}))

    def route_drop(self, parts, query, body):
        self.close_connection = True

    def route_badjson(self, parts, query, body):
        self.reply(200, "{\"truncated\": ")

    def route_stats(self, parts, query, body):
        with self.state.lock:
            self.reply(200, json.dumps(self.state.stats))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unix", help="listen on this Unix socket instead "
                        "(and print 0 as the port)")
    args = parser.parse_args()
    if args.unix:
        server = UnixServer(args.unix, Handler)
        print(0, flush=True)
    else:
        server = Server(("127.0.0.1", args.port), Handler)
        print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
