"""Operator commands against the running local stack (`make run`), from another process:

    python -m local.ops reconcile [omnicard reconcile options]   # make reconcile
    python -m local.ops expire-stars [--at 2027-02-01T00:05:00Z]  # make expire-stars
    python -m local.ops events [--follow]                         # make events

They find the stack by PORT (default 8000, as `make run`) in local/.state/stack-<PORT>.json and
reach its moto through the ordinary AWS endpoint setting (AWS_ENDPOINT_URL), with the same fake
credentials: the code paths are the deployed ones. `reconcile` exits as `omnicard reconcile`
does: 0 clean, 1 on a breach, 2 when it cannot check (here also: no stack running)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

STATE_DIR = Path(__file__).resolve().parent / ".state"
EXIT_NO_STACK = 2


class NoStack(RuntimeError):
    """No `make run` stack answers on this port."""


def stack_state(port: int) -> dict[str, Any]:
    """The state file of the stack on `port`, if its process is still alive."""
    path = STATE_DIR / f"stack-{port}.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoStack(f"no local stack on port {port} ({path} is missing): start one with `make run"
                      f"{'' if port == 8000 else f' PORT={port}'}`") from None
    try:
        os.kill(int(state["pid"]), 0)
    except (ProcessLookupError, PermissionError):
        raise NoStack(f"the local stack on port {port} (pid {state['pid']}) is gone: start it again") from None
    return state


def use_stack(state: dict[str, Any]) -> None:
    """Point boto3 and the settings of this process at the stack's moto and tables."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
        os.environ.pop(name, None)
    os.environ.update({
        "AWS_ENDPOINT_URL": state["aws_endpoint"], "AWS_DEFAULT_REGION": state["region"],
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "OMNICARD_LEDGER_TABLE": state["ledger_table"], "OMNICARD_VIEWS_TABLE": state["views_table"],
        "OMNICARD_EVENT_BUS": state["event_bus"],
    })


def reconcile(argv: list[str], state: dict[str, Any]) -> int:
    from chalicelib.ops.cli import main as omnicard

    use_stack(state)
    return omnicard(["reconcile", *argv])


def expire_stars(at: str | None, state: dict[str, Any]) -> int:
    """Run the app's daily `expire_stars` schedule handler now (or as if at `at`), as Lambda would."""
    from local import DEFAULT_LOCAL_SECRET

    use_stack(state)
    os.environ.setdefault("OMNICARD_JWT_SECRET", DEFAULT_LOCAL_SECRET)  # settings need one; expiry reads no token
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from chalice.local import LambdaContext

    from chalicelib import clock
    from local import server

    config = server._load_chalice_config()
    app = config.chalice_app
    if at:
        clock.use_clock(clock.FixedClock(datetime.fromisoformat(at.replace("Z", "+00:00"))))
    event = {"version": "0", "id": "local", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
             "region": state["region"], "resources": [], "detail": {}}
    context = LambdaContext(f"{app.app_name}-local-expire_stars", memory_size=512, max_runtime_ms=300_000)
    result = app.handler_map["expire_stars"](event, context)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")  # the last line: one JSON object
    return 0


def events(follow: bool, state: dict[str, Any]) -> int:
    """Print the stack's published events, one line each (and keep printing with --follow)."""
    from local.events import describe

    path = Path(state["events_log"] or "")
    if not state["events_log"] or not path.exists():
        sys.stderr.write("this stack records no events (no bus or no queue)\n")
        return EXIT_NO_STACK
    with path.open(encoding="utf-8") as log:
        while True:
            line = log.readline()
            if line:
                event = json.loads(line)
                sys.stdout.write(f"{event.get('time', '')} {describe(event)}\n")
                sys.stdout.flush()
                continue
            if not follow:
                return 0
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.ops", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000),
                        help="the port `make run` serves on (default: $PORT or 8000)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reconcile", help="omnicard reconcile against the stack (options pass through)",
                        add_help=False)
    expire = commands.add_parser("expire-stars", help="run the daily star expiry now")
    expire.add_argument("--at", help="as if at this UTC time (ISO 8601), e.g. to expire stars a year ahead")
    tail = commands.add_parser("events", help="the stack's published events, one line each")
    tail.add_argument("--follow", "-f", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "reconcile":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        state = stack_state(args.port)
    except NoStack as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_NO_STACK
    if args.command == "reconcile":
        return reconcile(rest, state)
    if args.command == "expire-stars":
        return expire_stars(args.at, state)
    return events(args.follow, state)


if __name__ == "__main__":
    raise SystemExit(main())
