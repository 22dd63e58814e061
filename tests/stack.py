"""A whole Omnicard stack on a fresh moto account, for tests that outlive one pytest fixture
(a module's shared world, each example of a state machine, a live server for fuzzing)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

import boto3
from chalice.cli.factory import CLIFactory
from chalice.test import Client
from moto import mock_aws

from chalicelib import clock as clock_module
from chalicelib.settings import reset_settings
from chalicelib.store.client import reset_clients
from local.edges import create_local_server
from local.pump import StreamPump
from local.tables import create_tables
from tests.conftest import ROOT, Api, chalice_app

START = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


@dataclass
class Stack:
    api: Api
    client: Client
    drain: Callable[[], int]
    clock: clock_module.FixedClock | None
    streams: dict[str, str]


@contextmanager
def fresh_stack(start: datetime | None = START) -> Iterator[Stack]:
    """Tables from the template on a new moto account, the app's test client, a stream pump, and
    (unless `start` is None) a FixedClock installed as the app's clock."""
    with mock_aws():
        reset_settings()
        reset_clients()
        streams = create_tables(boto3.client("dynamodb"))
        boto3.client("events").create_event_bus(Name="omnicard")
        fixed = clock_module.FixedClock(start) if start is not None else None
        if fixed is not None:
            clock_module.use_clock(fixed)
        try:
            with Client(chalice_app, stage_name="local", project_dir=str(ROOT)) as client:
                pump = StreamPump(boto3.client("dynamodbstreams"), streams["LedgerTable"],
                                  lambda event: client.lambda_.invoke("on_ledger_change", event).payload)
                yield Stack(Api(client), client, pump.drain, fixed, streams)
        finally:
            clock_module.use_clock(clock_module.SystemClock())
    reset_clients()
    reset_settings()


@contextmanager
def served(stack: Stack, *, pump_every: float | None = None) -> Iterator[str]:
    """The stack's app on a real socket (the local server with its gateway edge, on 127.0.0.1, a free
    port), as `make run` serves it; yields the base URL. With `pump_every` (seconds) a thread also delivers
    the ledger stream continuously, as `make run`'s pump does (`stack.drain` stays usable: the pump
    serialises its reads)."""
    config = CLIFactory(str(ROOT), environ={}).create_config_obj(chalice_stage_name="local")
    app_class = chalice_app.__class__
    server = create_local_server(chalice_app, config, "127.0.0.1", 0)
    stop = threading.Event()
    threads = [threading.Thread(target=server.server.serve_forever, name="served-http", daemon=True)]
    if pump_every is not None:
        def pump() -> None:
            while not stop.wait(pump_every):
                stack.drain()
        threads.append(threading.Thread(target=pump, name="served-pump", daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield f"http://127.0.0.1:{server.server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server.server_close()
        for thread in threads[1:]:
            thread.join(timeout=10)
        chalice_app.__class__ = app_class  # create_local_server swaps the app's class
