"""A webhook subscriber on 127.0.0.1 for tests: a real HTTP server in a thread that answers each
POST with the next scripted status (then 200s), optionally after a pause, and keeps every request."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    status: int


@dataclass
class Receiver:
    url: str
    script: list[int] = field(default_factory=list)  # statuses to answer first, in order; then 200
    pause: list[float] = field(default_factory=list)  # seconds to wait before answering, per request; then 0
    requests: list[Received] = field(default_factory=list)
    connections: int = 0

    def wait_for(self, count: int, timeout: float = 15.0, *, pump=None) -> list[Received]:
        """Until `count` requests arrived (calling `pump()` meanwhile, if given)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            if pump is not None:
                pump()
            time.sleep(0.05)
        return self.requests


@contextmanager
def receiver(script: list[int] | None = None, pause: list[float] | None = None) -> Iterator[Receiver]:
    state = Receiver(url="", script=list(script or []), pause=list(pause or []))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            with lock:
                state.connections += 1
                status = state.script.pop(0) if state.script else 200
                wait = state.pause.pop(0) if state.pause else 0.0
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(wait)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting
            with lock:
                state.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic(), status))

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/omnicard"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
