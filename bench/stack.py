"""What `make run` starts, in the bench's own process: in-process moto, the tables from
infra/template.json, the event bus, the Chalice local server on a free port and the stream pump
delivering to the stream handler. Shared by the benches that measure over real HTTP."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Http:
    """A JSON client without proxies; every POST carries a fresh Idempotency-Key."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode()}") from exc


@dataclass(frozen=True)
class LocalStack:
    http: Http
    secret: str  # the JWT secret the stack verifies tokens with
    pump: threading.Thread  # the thread that calls the stream handler


@contextlib.contextmanager
def local_stack(instrument_moto: Callable[[], None] = lambda: None) -> Iterator[LocalStack]:
    """Start the stack (local.server.running_stack, as `make run`), yield it, stop it.
    `instrument_moto` runs once moto serves one request at a time (local/moto_threads.py) and
    before the mock starts: the place to wrap moto's handler."""
    from local import server as local_server
    from local.moto_threads import serialize_moto_requests

    serialize_moto_requests()
    instrument_moto()
    with local_server.running_stack(0) as stack:
        pump = next(thread for thread in threading.enumerate() if thread.name == "stream-pump")
        yield LocalStack(Http(stack.url), os.environ["OMNICARD_JWT_SECRET"], pump)
