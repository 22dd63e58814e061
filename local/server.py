"""The local stack in one process: moto (or a DynamoDB endpoint you give), the tables from
infra/template.json, the Chalice app on http://127.0.0.1:$PORT, and a stream pump feeding
the app's ledger stream handler the way the Lambda event source mapping would.

Run with `make run` (or `python -m local.server`). Environment, all optional:
PORT (8000); AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL to use DynamoDB Local / LocalStack
instead of moto; OMNICARD_* as in chalicelib/settings.py (OMNICARD_JWT_SECRET defaults to the
local secret that `make token` signs with).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from local import DEFAULT_LOCAL_SECRET

ROOT = Path(__file__).resolve().parent.parent
PARKED_PATH = Path(__file__).resolve().parent / ".state" / "parked.jsonl"
STAGE = "local"
HOST = "127.0.0.1"
STREAM_HANDLER = "on_ledger_change"
READY_TIMEOUT_SECONDS = 60

# Fake credentials even when an endpoint is given: the local stack must never reach a real account.
_AWS_DEFAULTS = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # botocore >= 1.44.4 sends stream calls to an account-specific host that moto does not intercept.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
# The server's own values win over .chalice/config.json so tokens from `make token` verify.
_APP_DEFAULTS = {"OMNICARD_JWT_SECRET": DEFAULT_LOCAL_SECRET, "OMNICARD_AUTH_MODE": "hs256"}

logger = logging.getLogger("local.server")


def main() -> int:
    """Serve until SIGINT or SIGTERM, then stop the server, the pump and moto; exit 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "found credentials/endpoint" on every client
    _set_environment()
    port = int(os.environ.get("PORT") or 8000)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    config = _load_chalice_config()

    mock = None
    if endpoint:
        logger.info("using DynamoDB at %s", endpoint)
    else:
        from moto import mock_aws

        from local.moto_threads import serialize_moto_requests
        from local.moto_transactions import patch_moto_transactions

        # HTTP request threads and the pump share one in-process moto: one request at a time.
        serialize_moto_requests()
        patch_moto_transactions()  # or every transaction slows down as the tables and stream grow
        mock = mock_aws()
        mock.start()
        logger.info("using in-process moto (data lasts until the server stops)")

    stop = threading.Event()
    pump_thread: threading.Thread | None = None
    try:
        import boto3
        from local.edges import create_local_server  # chalice.local's, with the contract's edge answers

        from chalicelib.settings import get_settings, reset_settings
        from local.tables import create_tables

        reset_settings()
        stream_arns = create_tables(boto3.client("dynamodb"), get_settings())
        _create_event_bus(boto3.client("events"), get_settings().event_bus)
        app = config.chalice_app
        pump_thread = _start_pump(app, stream_arns.get("LedgerTable", ""), stop)
        server = create_local_server(app, config, HOST, port)
        _stop_on_signals(server, stop)
        threading.Thread(target=_announce_when_ready, args=(port, stop), name="ready-check", daemon=True).start()
        server.serve_forever()
        server.server.server_close()
    finally:
        stop.set()
        if pump_thread is not None:
            pump_thread.join(timeout=10)
        if mock is not None:
            mock.stop()
    logger.info("stopped")
    return 0


def _set_environment() -> None:
    """Defaults that must be in place before any boto3 client (or the app) is created."""
    for name, value in {**_AWS_DEFAULTS, **_APP_DEFAULTS}.items():
        os.environ.setdefault(name, value)
    # DynamoDB Local and LocalStack serve streams on the same endpoint as the tables.
    dynamodb_endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if dynamodb_endpoint:
        os.environ.setdefault("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", dynamodb_endpoint)


def _load_chalice_config() -> Any:
    """The `local` stage's Config; its environment_variables fill only what is still unset.

    CLIFactory would otherwise update the environment with the config's values over ours.
    """
    from chalice.cli.factory import CLIFactory

    config = CLIFactory(str(ROOT), environ={}).create_config_obj(chalice_stage_name=STAGE)
    for name, value in config.environment_variables.items():
        current = os.environ.setdefault(name, value)
        if current != value:
            logger.info("%s from the environment overrides .chalice/config.json's %s stage", name, STAGE)
    return config


def _create_event_bus(events: Any, name: str) -> None:
    """The bus the stream handler publishes change events to (moto's, or AWS_ENDPOINT_URL's)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        events.create_event_bus(Name=name)
        logger.info("created event bus %s", name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            logger.warning("event bus %s unavailable (%s): change events will fail and their records be parked", name, exc)
    except BotoCoreError as exc:
        logger.warning("event bus %s unavailable (%s): change events will fail and their records be parked", name, exc)


def _start_pump(app: Any, stream_arn: str, stop: threading.Event) -> threading.Thread | None:
    import boto3
    from chalice.local import LambdaContext

    from local.pump import StreamPump

    handler = app.handler_map.get(STREAM_HANDLER)
    if handler is None or not stream_arn:
        logger.warning("no %s handler or no ledger stream: stream records will not be delivered", STREAM_HANDLER)
        return None

    def deliver(event: dict[str, Any]) -> dict[str, Any] | None:
        context = LambdaContext(f"{app.app_name}-{STAGE}-{STREAM_HANDLER}", memory_size=512, max_runtime_ms=60_000)
        response: dict[str, Any] | None = handler(event, context)
        return response

    pump = StreamPump(boto3.client("dynamodbstreams"), stream_arn, deliver, parked_path=PARKED_PATH)
    thread = threading.Thread(target=pump.run, args=(stop,), name="stream-pump", daemon=True)
    thread.start()
    logger.info("stream pump delivering %s to %s (parked records go to %s)",
                stream_arn, STREAM_HANDLER, PARKED_PATH.relative_to(ROOT))
    return thread


def _stop_on_signals(server: Any, stop: threading.Event) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()
        # shutdown() waits for serve_forever(), which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, name="shutdown", daemon=True).start()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _announce_when_ready(port: int, stop: threading.Event) -> None:
    """Say 'ready' only once GET /v1/health answers 200 through the real socket."""
    base = f"http://{HOST}:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with opener.open(f"{base}/v1/health", timeout=2) as response:
                if response.status == 200:
                    print(f"Omnicard local stack ready at {base} — get a token with: "
                          "make token ROLE=customer MEMBER=<member_id>", flush=True)
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or not healthy yet: try again
        stop.wait(0.2)
    if not stop.is_set():
        logger.error("GET %s/v1/health did not answer 200 within %d s", base, READY_TIMEOUT_SECONDS)


if __name__ == "__main__":
    raise SystemExit(main())
