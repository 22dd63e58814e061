"""A fault injector at the botocore layer of the app's own DynamoDB client (no mocks of boto3: the
requests still go through botocore's retries and moto's real tables).

Where a fault strikes decides what it means:
- `before_send`: the request never reached DynamoDB (throttled, timed out on the way); botocore
  retries it if the error is retryable, as it would on AWS;
- `after_send`: DynamoDB applied the request and the response was lost (a read timeout); botocore
  retries the *same* request, which now meets the state the first one left;
- `after_call`: the call returned and the function died before using the answer (a crash after
  the transaction committed, before the HTTP response was sent)."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

from chalicelib.store.client import dynamodb

# botocore calls every before-send handler even after one has answered, so moto would still apply a
# request we answered with an error: requests answered here are marked for moto to pass over.
_answered: set[int] = set()
_install = threading.Lock()


def _moto_passes_over_answered_requests() -> None:
    with _install:
        if getattr(BotocoreStubber.__call__, "_passes_over_faults", False):
            return
        original = BotocoreStubber.__call__

        def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
            if id(request) in _answered:
                _answered.discard(id(request))
                return None
            return original(self, event_name, request, **kwargs)

        call._passes_over_faults = True  # type: ignore[attr-defined]
        BotocoreStubber.__call__ = call  # type: ignore[method-assign]


class Crash(Exception):
    """The Lambda process dying at this point (nothing catches it on purpose)."""


def throttled(request: Any) -> AWSResponse:
    """DynamoDB's answer to a throttled request (botocore retries it with backoff)."""
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                       "message": "The level of configured provisioned throughput for the table was exceeded."})
    return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"},
                       MockRawResponse(body.encode()))


def transaction_conflict(request: Any) -> AWSResponse:
    """A TransactWriteItems cancelled because another transaction held one of its items."""
    items = len(json.loads(request.body)["TransactItems"])
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                       "message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                                  f"[{', '.join(['TransactionConflict'] * items)}]",
                       "CancellationReasons": [{"Code": "TransactionConflict",
                                                "Message": "Transaction is ongoing for the item"}] * items})
    return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"},
                       MockRawResponse(body.encode()))


def read_timeout(request: Any) -> Exception:
    return ReadTimeoutError(endpoint_url=request.url)


@dataclass
class Fault:
    """Strikes the matching calls after `skip` of them have gone through, `times` times."""

    operation: str
    times: int
    skip: int = 0
    table: str | None = None
    seen: int = 0
    struck: int = 0

    def due(self, table: str | None) -> bool:
        if self.table is not None and table != self.table:
            return False
        self.seen += 1
        if self.seen > self.skip and self.struck < self.times:
            self.struck += 1
            return True
        return False


@dataclass
class Faults:
    client: Any = field(default_factory=dynamodb)
    handlers: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)

    def before_send(self, operation: str, answer: Callable[[Any], AWSResponse | Exception], *, times: int = 1,
                    skip: int = 0, table: str | None = None) -> Fault:
        """The request never reaches DynamoDB: `answer` is DynamoDB's error response, or an exception."""
        fault = Fault(operation, times, skip, table)
        _moto_passes_over_answered_requests()

        def handler(request: Any, **_: Any) -> AWSResponse | None:
            if not fault.due(_table(request)):
                return None
            outcome = answer(request)
            if isinstance(outcome, Exception):
                raise outcome
            _answered.add(id(request))
            return outcome

        # Handlers of the specific event run before moto's (registered on plain "before-send").
        self._register(f"before-send.dynamodb.{operation}", handler)
        return fault

    def after_send(self, operation: str, error: Callable[[Any], Exception], *, times: int = 1, skip: int = 0,
                   table: str | None = None) -> Fault:
        """DynamoDB applies the request, then the response is lost with `error`."""
        fault = Fault(operation, times, skip, table)
        event = f"before-send.dynamodb.{operation}"

        def handler(request: Any, event_name: str = "", **_: Any) -> None:
            if event_name == event and fault.due(_table(request)):
                raise error(request)

        # On plain "before-send" and last, so it runs after moto has applied the request.
        self._register("before-send", handler, last=True)
        return fault

    def after_call(self, operation: str, *, times: int = 1, skip: int = 0) -> Fault:
        """The call succeeds and the function crashes right after it."""
        fault = Fault(operation, times, skip)

        def handler(**_: Any) -> None:
            if fault.due(None):
                raise Crash(f"crashed after {operation} committed")

        self._register(f"after-call.dynamodb.{operation}", handler)
        return fault

    def _register(self, event: str, handler: Callable[..., Any], *, last: bool = False) -> None:
        (self.client.meta.events.register_last if last else self.client.meta.events.register)(event, handler)
        self.handlers.append((event, handler))

    def clear(self) -> None:
        for event, handler in self.handlers:
            self.client.meta.events.unregister(event, handler)
        self.handlers.clear()


def _table(request: Any) -> str | None:
    body = json.loads(request.body or b"{}")
    if "TableName" in body:
        return body["TableName"]
    names = {next(iter(item.values())).get("TableName") for item in body.get("TransactItems", [])}
    return names.pop() if len(names) == 1 else None
