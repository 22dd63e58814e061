"""`omnicard` command line for operators. `omnicard reconcile --help` for the options.

It reads the tables named by OMNICARD_LEDGER_TABLE / OMNICARD_VIEWS_TABLE (or the flags) with the
ambient AWS credentials and region (AWS_PROFILE, AWS_REGION …), and the rules of
OMNICARD_RULES_FILE (default: the shipped chalicelib/rules.json). It needs no token secret."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import timedelta

from aws_lambda_powertools import Logger

EXIT_OK, EXIT_BREACH, EXIT_ERROR = 0, 1, 2


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, so a caller (or a test) that
    swaps stderr sees the command's errors."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


# Errors are structured log lines on stderr; stdout carries only the report (plain text, or JSON
# with --json that scripts parse), so it is written as the command's output, not logged.
logger = Logger(service="omnicard-ops", logger_handler=_StderrHandler())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omnicard", description="Omnicard operator tools")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("reconcile", help="check that money, stars and views are exact; "
                                                  "exit 1 on any breach")
    check.add_argument("--ledger-table", default=os.environ.get("OMNICARD_LEDGER_TABLE", "omnicard-ledger"))
    check.add_argument("--views-table", default=os.environ.get("OMNICARD_VIEWS_TABLE", "omnicard-views"))
    check.add_argument("--no-views", action="store_true", help="skip the stream-kept views")
    check.add_argument("--stream", action="store_true",
                       help="also read the ledger stream (last 24 h): versions gapless, entries written once")
    check.add_argument("--expiry-grace-hours", type=float, default=26.0,
                       help="expired stars older than this must have been written off (default 26; 0 skips)")
    check.add_argument("--confirm", type=int, default=2, metavar="N",
                       help="re-check a breach N more times before reporting it (default 2; 0 on a quiet stage)")
    check.add_argument("--confirm-delay", type=float, default=3.0, metavar="SECONDS")
    check.add_argument("--segments", type=int, default=1, help="parallel Scan segments")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    backfill = commands.add_parser("backfill-chain", help="once per stage: chain the ledger entries written before "
                                                          "the ledger was verifiable (README, \"Verifiable ledger\")")
    backfill.add_argument("--ledger-table", default=os.environ.get("OMNICARD_LEDGER_TABLE", "omnicard-ledger"))
    verify = commands.add_parser("verify-card", help="recompute a card's chain from a stage's API and compare "
                                                     "it with the card's ledger_head; exit 1 if it does not hold")
    verify.add_argument("card_id")
    verify.add_argument("--url", required=True, help="the stage's API base URL, e.g. https://api.example.com")
    verify.add_argument("--token", default=os.environ.get("OMNICARD_TOKEN"),
                        help="a bearer token that may read the card (default: $OMNICARD_TOKEN)")
    verify.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP request")
    verify.add_argument("--page-size", type=int, default=100, choices=range(1, 101), metavar="1..100",
                        help="transactions per page (default 100)")
    args = parser.parse_args(argv)
    if args.command == "backfill-chain":
        return _backfill(args)
    if args.command == "verify-card":
        return _verify(args)
    return _reconcile(args)


def _backfill(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.ops.chain import backfill_chain
    from chalicelib.store.chain import ChainConflict

    try:
        result = backfill_chain(args.ledger_table)
    except (BotoCoreError, ClientError, ChainConflict) as exc:
        logger.error("omnicard backfill-chain failed", extra={"error": str(exc)})
        return EXIT_ERROR
    sys.stdout.write(f"chained {len(result.chained)} chains ({result.entries} entries linked)"
                     + (f"; still moving, run again: {', '.join(result.skipped)}" if result.skipped else "") + "\n")
    return EXIT_BREACH if result.skipped else EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from chalicelib.ops.chain import ApiError, verify_card

    if not args.token:
        logger.error("omnicard verify-card: no token (--token or OMNICARD_TOKEN)")
        return EXIT_ERROR
    try:
        verdict = verify_card(args.url, args.card_id, args.token, timeout=args.timeout, page_size=args.page_size)
    except ApiError as exc:
        logger.error("omnicard verify-card: cannot read the card", extra={"error": str(exc)})
        return EXIT_ERROR
    sys.stdout.write(verdict.render() + "\n")
    return EXIT_OK if verdict.ok else EXIT_BREACH


def _reconcile(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.ops.reconcile import Scope, reconcile
    from chalicelib.settings import SettingsError, configured_rules

    try:
        rules = configured_rules()
    except SettingsError as exc:
        logger.error("omnicard reconcile: bad rules file", extra={"error": str(exc)})
        return EXIT_ERROR
    scope = Scope(ledger_table=args.ledger_table, views_table=None if args.no_views else args.views_table,
                  rules=rules, streams_client=boto3.client("dynamodbstreams") if args.stream else None,
                  expiry_grace=timedelta(hours=args.expiry_grace_hours) if args.expiry_grace_hours > 0 else None,
                  segments=max(1, args.segments))
    try:
        report = reconcile(scope, confirm_passes=max(0, args.confirm), confirm_delay=args.confirm_delay)
    except (BotoCoreError, ClientError) as exc:
        logger.error("omnicard reconcile: cannot read the tables", extra={"error": str(exc)})
        return EXIT_ERROR
    sys.stdout.write((json.dumps(report.as_dict(), indent=2) if args.json else report.render()) + "\n")
    return EXIT_OK if report.ok else EXIT_BREACH


if __name__ == "__main__":
    raise SystemExit(main())
