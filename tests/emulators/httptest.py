#!/usr/bin/env python3
"""A generic HTTP test server for tests/check_http.c.

Listens on 127.0.0.1 (port 0 by default) and prints the chosen port as the
first line of stdout; or on a Unix socket with --unix PATH (prints 0).
Built on emulator.py (its counters, faults and /_emulator/ endpoints).
Endpoints (any method):

  /echo                 200 {"method","path","query","headers","body"}
  /status/CODE          CODE with ?body=TEXT (default {"message":"status CODE"})
                        and ?retry_after=VALUE, ?location=URL
  /flaky/KEY            ?fail=N&code=C[&retry_after=S]: the first N requests
                        for KEY answer C, later ones 200 {"count": n}
  /delay                ?ms=N: answers 200 after N ms
  /drop                 closes the connection without an answer
  /badjson              200 with a body that is not JSON
  /_stats               {"METHOD /path": count} of every request so far
                        (the same as /_emulator/stats)
"""
import json
import sys
import time
import urllib.parse

import emulator


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.flaky = {}

    def flaky_hit(self, key):
        with self.lock:
            self.flaky[key] = self.flaky.get(key, 0) + 1
            return self.flaky[key]


class Handler(emulator.Handler):
    def count_key(self, method, path, query):
        return None if path == "/_stats" else method + " " + path

    def route(self, method, path, query, body):
        parts = path.strip("/").split("/")
        route = getattr(self, "route_" + parts[0].lstrip("_"), None)
        if route is None:
            return self.send(404, {"message": "no route " + path})
        route(parts, query, body)

    def route_echo(self, parts, query, body):
        self.send(200, {
            "method": self.command,
            "path": urllib.parse.urlsplit(self.path).path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        })

    @staticmethod
    def status_headers(query):
        headers = []
        if "retry_after" in query:
            headers.append(("Retry-After", query["retry_after"]))
        if "location" in query:
            headers.append(("Location", query["location"]))
        return headers

    def route_status(self, parts, query, body):
        code = int(parts[1])
        text = query.get("body", json.dumps({"message": "status %d" % code}))
        self.send(code, text, self.json_type, self.status_headers(query))

    def route_flaky(self, parts, query, body):
        n = self.state.flaky_hit(parts[1])
        if n <= int(query.get("fail", "1")):
            code = int(query.get("code", "503"))
            self.send(code, {"message": "flaky %d" % n},
                      headers=self.status_headers(query))
        else:
            self.send(200, {"count": n})

    def route_delay(self, parts, query, body):
        ms = int(query.get("ms", "1000"))
        time.sleep(ms / 1000.0)
        self.send(200, {"slept_ms": ms})

    def route_drop(self, parts, query, body):
        self.drop()

    def route_badjson(self, parts, query, body):
        self.send(200, "{\"truncated\": ", self.json_type)

    def route_stats(self, parts, query, body):
        with self.state.lock:
            self.send(200, dict(self.state.stats))


if __name__ == "__main__":
    sys.exit(emulator.main(Handler, State, __doc__))
