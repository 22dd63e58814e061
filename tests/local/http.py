"""Test helpers for the local server over a real socket: a small JSON client without proxies,
the app served on a free port by the HTTP server `make run` uses, and clients released at once."""
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


def at_once(count: int, action: Any) -> list[Any]:
    """`action(index)` on `count` threads released together; an exception raised is the result."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - e.g. a reset connection: the caller asserts on it
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


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
    """The app on 127.0.0.1:<free port> behind the local stack's HTTP server (a thread per
    connection, as `make run`), until the block ends."""
    from local.http_server import create_server

    original_class = app.__class__  # create_server swaps it for chalice's local subclass
    server = create_server(app, config, "127.0.0.1", free_port())
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield Http(f"http://127.0.0.1:{server.port}")
    finally:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        app.__class__ = original_class
