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
    """Start the stack, yield it, stop it. `instrument_moto` runs once moto serves one request at
    a time (local/moto_threads.py) and before the mock starts: the place to wrap moto's handler."""
    from local import server as local_server

    local_server._set_environment()
    config = local_server._load_chalice_config()

    import boto3
    from chalice.local import create_local_server
    from moto import mock_aws

    from chalicelib.settings import get_settings, reset_settings
    from chalicelib.store.client import reset_clients
    from local.moto_threads import serialize_moto_requests
    from local.moto_transactions import patch_moto_transactions
    from local.tables import create_tables

    serialize_moto_requests()
    instrument_moto()
    patch_moto_transactions()
    mock = mock_aws()
    mock.start()
    stop = threading.Event()
    pump = None
    try:
        reset_settings()
        reset_clients()
        settings = get_settings()
        stream_arns = create_tables(boto3.client("dynamodb"), settings)
        local_server._create_event_bus(boto3.client("events"), settings.event_bus)
        app = config.chalice_app
        pump = local_server._start_pump(app, stream_arns["LedgerTable"], stop)
        port = free_port()
        httpd = create_local_server(app, config, "127.0.0.1", port)
        threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()
        try:
            yield LocalStack(Http(f"http://127.0.0.1:{port}"), os.environ["OMNICARD_JWT_SECRET"], pump)
        finally:
            httpd.shutdown()
    finally:
        stop.set()
        if pump is not None:
            pump.join(timeout=10)
        mock.stop()
