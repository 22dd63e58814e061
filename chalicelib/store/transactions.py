"""One TransactWriteItems call, with its cancellation reasons read back per labelled item."""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.store.client import dynamodb


# Errors botocore's standard retry mode already retried with backoff; still failing → 503, retry later.
THROTTLING = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                        "InternalServerError", "ServiceUnavailable"})


def is_throttling(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in THROTTLING


class TransactionCancelled(Exception):
    """The transaction applied nothing; `failed` names the items whose condition failed and
    `conflict` says whether another transaction was in the way (retry)."""

    def __init__(self, failed: set[str], conflict: bool) -> None:
        super().__init__(f"cancelled: failed={sorted(failed)} conflict={conflict}")
        self.failed = failed
        self.conflict = conflict


def transact(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Write (label, TransactItem) pairs atomically; raise TransactionCancelled naming the labels
    whose conditions failed."""
    try:
        dynamodb().transact_write_items(TransactItems=[item for _, item in items])
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or []
            failed = {label for (label, _), reason in zip(items, reasons)
                      if reason.get("Code") == "ConditionalCheckFailed"}
            conflict = any(reason.get("Code") == "TransactionConflict" for reason in reasons)
            raise TransactionCancelled(failed, conflict or not failed) from exc
        if code in ("TransactionInProgressException", "TransactionConflictException"):
            raise TransactionCancelled(set(), True) from exc
        if code in THROTTLING:
            raise ServiceUnavailable("the card store is busy; retry with the same Idempotency-Key",
                                     headers={"Retry-After": "1"}) from exc
        raise
