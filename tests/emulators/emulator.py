"""The HTTP server every emulator here runs: threaded, on 127.0.0.1, quiet
about clients that hang up, and printing its port first so that a test
can start it on port 0."""

import sys
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connect at once

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(handler, port, before_serving=None):
    """Serves @handler on 127.0.0.1:@port (0: any), printing the port."""
    server = Server(("127.0.0.1", port), handler)
    if before_serving:
        before_serving(server)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
