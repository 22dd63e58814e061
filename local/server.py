"""The local stack in one process: moto (or a DynamoDB endpoint you give), the tables from
infra/template.json, the Chalice app on http://127.0.0.1:$PORT, and a stream pump feeding
the app's ledger stream handler the way the Lambda event source mapping would.

The in-process moto is also served on a loopback port (local/moto_endpoint.py), and the stack
writes where it runs to local/.state/stack-<PORT>.json, so `make reconcile`, `make expire-stars`
and `make events` (local/ops.py) reach the same tables from another process. Published change
events are logged one readable line each (local/events.py).

Run with `make run` (or `python -m local.server`). Environment, all optional:
PORT (8000); OMNICARD_LOCAL_VERBOSE=1 (`make run VERBOSE=1`) for the full Powertools JSON logs and
EMF metrics instead of one short line per request; AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL to
use DynamoDB Local / LocalStack instead of moto; OMNICARD_* as in chalicelib/settings.py
(OMNICARD_JWT_SECRET defaults to the local secret that `make token` signs with).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from local import DEFAULT_LOCAL_SECRET

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(__file__).resolve().parent / ".state"
PARKED_PATH = STATE_DIR / "parked.jsonl"
STAGE = "local"
HOST = "127.0.0.1"
STREAM_HANDLER = "on_ledger_change"
WEBHOOK_HANDLER = "deliver_webhooks"
READY_TIMEOUT_SECONDS = 60
PUMP_BATCH_SIZE = 25

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
# Unless OMNICARD_LOCAL_VERBOSE is set: Powertools logs warnings and errors only, no EMF metrics
# (the access log says one line per request instead). Set before the app is imported.
_QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}

logger = logging.getLogger("local.server")


def main() -> int:
    """Serve until SIGINT or SIGTERM, then stop the server, the pump and moto; exit 0."""
    verbose = os.environ.get("OMNICARD_LOCAL_VERBOSE", "").lower() in ("1", "true", "yes")
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose
                        else "%(asctime)s %(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)  # "found credentials/endpoint" on every client
    if not verbose:
        for name, value in _QUIET.items():
            os.environ.setdefault(name, value)
    port = int(os.environ.get("PORT") or 8000)
    stop = threading.Event()
    _stop_on_signals(stop)
    with running_stack(port) as stack:
        threading.Thread(target=_announce_when_ready, args=(stack, stop), name="ready-check", daemon=True).start()
        stop.wait()
    logger.info("stopped")
    return 0


@dataclass(frozen=True)
class Stack:
    url: str  # the API
    aws_endpoint: str  # moto over HTTP (or the DynamoDB endpoint given): for tools in other processes
    state_path: Path  # stack-<port>.json: where the stack runs, for local/ops.py
    pump: Any  # the StreamPump (None without a ledger stream)
    events: Any  # the EventTail (None without a bus and a queue)
    webhooks: Any = None  # the WebhookPump (None without the queues)


@contextlib.contextmanager
def running_stack(port: int, *, moto_port: int = 0) -> Iterator[Stack]:
    """Everything `make run` runs, in this process, until the block ends: moto (and its loopback
    endpoint) or the endpoint in AWS_ENDPOINT_URL[_DYNAMODB], the tables, the bus, the event tail,
    the stream pump, and the API on http://127.0.0.1:port (0: a free port)."""
    _set_environment()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    config = _load_chalice_config()
    with contextlib.ExitStack() as cleanup:
        if endpoint:
            logger.info("using DynamoDB at %s", endpoint)
        else:
            endpoint = _start_moto(cleanup, moto_port)
        stop = threading.Event()
        cleanup.callback(stop.set)

        import boto3

        from chalicelib.settings import get_settings, reset_settings
        from chalicelib.store.client import reset_clients
        from local.http_server import create_server
        from local.tables import create_tables

        reset_settings()
        reset_clients()
        settings = get_settings()
        stream_arns = create_tables(boto3.client("dynamodb"), settings)
        _create_event_bus(boto3.client("events"), settings.event_bus)
        webhook_pump = _start_webhooks(config.chalice_app, settings, stop, cleanup)
        settings = get_settings()
        app = config.chalice_app
        original_class = app.__class__
        cleanup.callback(setattr, app, "__class__", original_class)  # create_server swaps it
        server = create_server(app, config, HOST, port)
        port = server.server.server_port
        events = _start_event_tail(cleanup, settings.event_bus, port)
        pump, pump_thread = _start_pump(app, stream_arns.get("LedgerTable", ""), stop)
        if pump_thread is not None:
            cleanup.callback(pump_thread.join, 10)
            cleanup.callback(stop.set)
        http_thread = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)
        http_thread.start()
        cleanup.callback(server.server.server_close)
        cleanup.callback(server.shutdown)
        stack = Stack(url=f"http://{HOST}:{port}", aws_endpoint=endpoint, state_path=STATE_DIR / f"stack-{port}.json",
                      pump=pump, events=events, webhooks=webhook_pump)
        _write_state(stack, settings, cleanup)
        logger.info("API at %s; AWS endpoint for other tools at %s", stack.url, stack.aws_endpoint)
        yield stack


def _start_moto(cleanup: contextlib.ExitStack, moto_port: int) -> str:
    """In-process moto, thread-safe and with DynamoDB's rollback, also served on a loopback port."""
    from moto import mock_aws

    from local.moto_endpoint import MotoEndpoint
    from local.moto_threads import serialize_moto_requests
    from local.moto_transactions import patch_moto_transactions

    # HTTP request threads, the pump and the endpoint share one moto: one request at a time.
    serialize_moto_requests()
    patch_moto_transactions()  # streams survive cancelled transactions; backups stay cheap
    mock = mock_aws()
    mock.start()
    cleanup.callback(mock.stop)
    endpoint = MotoEndpoint(HOST, moto_port).start()
    cleanup.callback(endpoint.stop)
    logger.info("using in-process moto (data lasts until the server stops)")
    return endpoint.url


def _start_event_tail(cleanup: contextlib.ExitStack, bus: str, port: int) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from local.events import EventTail

    try:
        tail = EventTail(boto3.client("events"), boto3.client("sqs"), bus, STATE_DIR / f"events-{port}.jsonl").start()
    except (BotoCoreError, ClientError) as exc:
        logger.warning("published events will not be shown (%s)", exc)
        return None
    cleanup.callback(tail.stop)
    return tail


def _write_state(stack: Stack, settings: Any, cleanup: contextlib.ExitStack) -> None:
    """Where this stack runs, for `make reconcile` / `make expire-stars` / `make events`."""
    state = {"url": stack.url, "pid": os.getpid(), "aws_endpoint": stack.aws_endpoint,
             "region": os.environ["AWS_DEFAULT_REGION"], "ledger_table": settings.ledger_table,
             "views_table": settings.views_table, "event_bus": settings.event_bus,
             "events_log": str(stack.events.log_path) if stack.events is not None else None,
             "secret_is_default": os.environ.get("OMNICARD_JWT_SECRET") == DEFAULT_LOCAL_SECRET}
    stack.state_path.parent.mkdir(parents=True, exist_ok=True)
    stack.state_path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    cleanup.callback(stack.state_path.unlink, missing_ok=True)


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
        if current != value and os.environ.get("OMNICARD_LOCAL_VERBOSE"):
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


def _start_webhooks(app: Any, settings: Any, stop: threading.Event, cleanup: contextlib.ExitStack) -> Any:
    """The webhook queues, KMS key and delivery thread (local/webhooks.py); None if unavailable."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
    from chalice.local import LambdaContext

    from chalicelib.settings import reset_settings
    from local.webhooks import WebhookPump, create_webhook_key, create_webhook_queues

    handler = app.handler_map.get(WEBHOOK_HANDLER)
    try:
        create_webhook_key(boto3.client("kms"), settings.webhook_key)
        queues = create_webhook_queues(boto3.client("events"), boto3.client("sqs"), settings.event_bus)
    except (BotoCoreError, ClientError) as exc:
        logger.warning("webhooks will not be delivered (%s)", exc)
        return None
    os.environ["OMNICARD_WEBHOOK_QUEUE_URL"] = queues.queue_url
    os.environ["OMNICARD_WEBHOOK_DEAD_LETTER_URL"] = queues.dead_letter_url
    reset_settings()

    def deliver(event: dict[str, Any]) -> dict[str, Any] | None:
        context = LambdaContext(f"{app.app_name}-{STAGE}-{WEBHOOK_HANDLER}", memory_size=512, max_runtime_ms=120_000)
        response: dict[str, Any] | None = handler(event, context)
        return response

    pump = WebhookPump(boto3.client("sqs"), queues, deliver)
    thread = threading.Thread(target=pump.run, args=(stop,), name="webhook-pump", daemon=True)
    thread.start()
    cleanup.callback(thread.join, 15)
    cleanup.callback(stop.set)  # callbacks run last-in first-out: stop it, then wait for it
    logger.info("webhook pump delivering %s to %s", queues.queue_url, WEBHOOK_HANDLER)
    return pump


def _start_pump(app: Any, stream_arn: str, stop: threading.Event) -> tuple[Any, threading.Thread | None]:
    import boto3
    from chalice.local import LambdaContext

    from local import moto_threads
    from local.pump import StreamPump

    handler = app.handler_map.get(STREAM_HANDLER)
    if handler is None or not stream_arn:
        logger.warning("no %s handler or no ledger stream: stream records will not be delivered", STREAM_HANDLER)
        return None, None

    def deliver(event: dict[str, Any]) -> dict[str, Any] | None:
        context = LambdaContext(f"{app.app_name}-{STAGE}-{STREAM_HANDLER}", memory_size=512, max_runtime_ms=60_000)
        # A batch runs with moto to itself: on AWS the handler has its own capacity, here it shares
        # one process with the API, and taking turns per call let a busy API outrun it for good
        # (views minutes behind). API requests wait for at most one batch instead.
        with moto_threads.lock:
            response: dict[str, Any] | None = handler(event, context)
        return response

    # Batches of at most PUMP_BATCH_SIZE (Lambda's are up to the mapping's 100, often fewer):
    # bounds how long one batch keeps the API waiting.
    pump = StreamPump(boto3.client("dynamodbstreams"), stream_arn, deliver, parked_path=PARKED_PATH,
                      batch_size=PUMP_BATCH_SIZE)
    def run() -> None:
        from local.moto_threads import prioritise_this_thread

        prioritise_this_thread()  # or a busy API starves it and the views fall behind for good
        pump.run(stop)

    thread = threading.Thread(target=run, name="stream-pump", daemon=True)
    thread.start()
    logger.info("stream pump delivering %s to %s (parked records go to %s)",
                stream_arn, STREAM_HANDLER, PARKED_PATH.relative_to(ROOT))
    return pump, thread


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def _announce_when_ready(stack: Stack, stop: threading.Event) -> None:
    """Say 'ready' only once GET /v1/health answers 200 through the real socket."""
    base = stack.url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with opener.open(f"{base}/v1/health", timeout=2) as response:
                if response.status == 200:
                    print(f"Omnicard local stack ready at {base} — get a token with: "
                          "make token ROLE=customer MEMBER=<member_id>\n"
                          f"  AWS endpoint {stack.aws_endpoint} (make reconcile, make expire-stars, make events"
                          f"{'' if base.endswith(':8000') else ' with PORT=' + base.rsplit(':', 1)[1]})",
                          flush=True)
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or not healthy yet: try again
        stop.wait(0.2)
    if not stop.is_set():
        logger.error("GET %s/v1/health did not answer 200 within %d s", base, READY_TIMEOUT_SECONDS)


if __name__ == "__main__":
    raise SystemExit(main())
