"""A whole Omnicard stack on a fresh moto account, for tests that outlive one pytest fixture
(a module's shared world, each example of a state machine, a live server for fuzzing)."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterator

import boto3
from chalice.test import Client
from moto import mock_aws

from chalicelib import clock as clock_module
from chalicelib.settings import reset_settings
from chalicelib.store.client import reset_clients
from local.pump import StreamPump
from local.tables import create_tables
from local.webhooks import create_webhook_key
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
        create_webhook_key(boto3.client("kms"), "alias/omnicard-webhooks")
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
