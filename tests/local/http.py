"""Test helpers for the local server over a real socket: a small JSON client without proxies,
and the app served on a free port by the HTTP server `make run` uses."""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Http:
    """JSON over HTTP; every POST carries a fresh Idempotency-Key unless one is given."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, *,
             key: str | None = None, timeout: float = 60) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if method == "POST":
            headers["Idempotency-Key"] = key or uuid.uuid4().hex
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else None


@contextlib.contextmanager
def serve_app(app: Any, config: Any) -> Iterator[Http]:
    """The app on 127.0.0.1:<free port> behind chalice's local HTTP server, until the block ends."""
    from chalice.local import create_local_server

    original_class = app.__class__  # create_local_server swaps it for its local subclass
    server = create_local_server(app, config, "127.0.0.1", free_port())
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield Http(f"http://127.0.0.1:{server.port}")
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app.__class__ = original_class
