"""The local stack's HTTP server: chalice.local's request handling with the contract's answers at
the edge (local/edges.py), served so that many clients can connect at once, with one short access
line per request.

chalice.local listens with http.server's default backlog (`request_queue_size = 5`): 20-30
simultaneous connections got `ConnectionResetError`, where API Gateway answers them all. Here the
backlog is 128 (the kernel caps it at net.core.somaxconn) and every connection gets its own daemon
thread, as in chalice.local."""
from __future__ import annotations

import logging
import time
from typing import Any

from chalice.local import LocalDevServer, ThreadedHTTPServer

from local import moto_threads
from local.edges import EdgeRequestHandler, create_local_server

access_log = logging.getLogger("local.access")

LISTEN_BACKLOG = 128


class LocalHTTPServer(ThreadedHTTPServer):
    """A thread per connection (daemon threads) and a listen backlog that takes a burst of clients."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    allow_reuse_address = True


class AccessLoggingHandler(EdgeRequestHandler):
    """The edge's handler (chalice.local's, with problem+json edges); logs `METHOD /path STATUS N ms`
    per request instead of http.server's line. The query string is left out: it may carry a card number."""

    _status: int | None = None

    def handle_one_request(self) -> None:
        started = time.perf_counter()
        self._status = None
        moto_threads.begin_request()  # its moto calls queue by when it began
        try:
            super().handle_one_request()
        finally:
            moto_threads.end_request()
        if self._status is not None:
            path = (self.path or "").split("?", 1)[0]
            access_log.info("%s %s %s %.0f ms", self.command or "-", path or "-", self._status,
                            (time.perf_counter() - started) * 1000)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # handle_one_request logs the request once it is answered


def create_server(app: Any, config: Any, host: str, port: int) -> LocalDevServer:
    """local.edges.create_local_server with this module's server and handler."""
    return create_local_server(app, config, host, port, handler_cls=AccessLoggingHandler, server_cls=LocalHTTPServer)
