"""Logs, metrics and traces through Powertools: created once per process, applied to every
invocation by Chalice middleware (Powertools' handler decorators do not fit Chalice's one-argument
handlers; see AWS-NOTES).

- Logs are JSON lines with the Lambda context, a cold-start flag and correlation ids
  (`correlation_id` = API Gateway's request id, `idempotency_key`, `card_id`, `tx_id`, …).
  Correlation values are ids only: never a card number, a token or a request body.
- Metrics are CloudWatch EMF, namespace POWERTOOLS_METRICS_NAMESPACE, flushed once per invocation
  from the invocation's own metric set (a context variable: Lambda runs one invocation at a time,
  the local server one per thread, and neither may flush or clear another's set):
  per request `Requests`/`Failures` (5xx)/`Refusals` (4xx) by operation and channel, one count per
  new transaction (`Reloads`, `Payments`, `Redemptions`, …), and per stream batch `StreamRecords`,
  `StreamRecordFailures` and `StreamLag` (from the records' ApproximateCreationDateTime).
- Traces: Lambda's active tracing (the stage's `xray`) records each invocation; with
  OMNICARD_TRACE_CALLS=true the stage also records, through Powertools' Tracer, one `## <function>`
  subsegment per invocation with the DynamoDB and EventBridge calls under it and the correlation ids
  as annotations. Off by default: the X-Ray SDK's import and botocore patching are about a third of
  the API function's cold start (README, Cold start). Tracer disables itself outside Lambda.

Per stage (.chalice/config.json): POWERTOOLS_LOG_LEVEL, POWERTOOLS_LOGGER_SAMPLE_RATE (share of
invocations logged at DEBUG), POWERTOOLS_TRACE_DISABLED, POWERTOOLS_METRICS_DISABLED; `xray`
turns on active tracing for the stage's functions.

Nothing observability does after the handler returned may change the answer: a metrics flush, a
log line or a trace annotation that fails is logged and dropped, so a committed request is never
answered 5xx for it."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from chalice.app import Request, Response

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "omnicard"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Omnicard"

logger = Logger(service=SERVICE)


class InvocationMetrics:
    """Powertools' EMF metrics, one metric set per invocation.

    Powertools' `Metrics` keeps one set per process (class attributes shared by every instance):
    under the threaded local server one request's flush emptied or cleared another's set, which
    then failed to serialise after its commit. Each invocation here gets its own provider."""

    _current: ContextVar[AmazonCloudWatchEMFProvider | None] = ContextVar("omnicard_metrics", default=None)

    def begin(self) -> None:
        """A fresh, empty metric set for the invocation starting on this thread."""
        self._current.set(AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service=SERVICE))

    @property
    def provider(self) -> AmazonCloudWatchEMFProvider:
        provider = self._current.get()
        if provider is None:  # outside an invocation (a service called directly): a set of its own
            self.begin()
            provider = self._current.get()
        assert provider is not None
        return provider

    @property
    def metric_set(self) -> dict[str, Any]:
        return self.provider.metric_set

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        self.provider.add_metric(name=name, unit=unit, value=value)

    def add_dimension(self, name: str, value: str) -> None:
        self.provider.add_dimension(name=name, value=value)

    def flush(self) -> None:
        """Print this invocation's set as one EMF blob (nothing if it is empty), then drop it."""
        provider = self._current.get()
        self._current.set(None)
        if provider is not None and provider.metric_set:
            provider.flush_metrics()


metrics = InvocationMetrics()
TRACE_CALLS = os.environ.get("OMNICARD_TRACE_CALLS", "").strip().lower() == "true"


def _call_tracer() -> Any:
    # botocore only: DynamoDB and EventBridge calls are the latency worth tracing, and patching every
    # supported library (http.client too) would trace each AWS call twice and lengthen the cold start.
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE, patch_modules=["botocore"])


tracer = _call_tracer() if TRACE_CALLS else None

# The business name of the count a new transaction adds; transfer_in is the other half of a transfer.
TRANSACTION_METRICS = {
    "reload": "Reloads", "auto_reload": "AutoReloads", "payment": "Payments", "purchase": "Purchases",
    "redemption": "Redemptions", "refund": "Refunds", "adjustment": "Adjustments",
    "transfer_out": "Transfers", "stars_expired": "StarsExpirations",
}
# Keys that become X-Ray annotations (searchable) when an invocation has them.
_ANNOTATED = ("operation", "channel", "card_id", "member_id", "tx_id", "status")

# This invocation's correlation keys: one invocation per Lambda process, one per thread locally.
_invocation: ContextVar[dict[str, Any]] = ContextVar("omnicard_invocation")
_cold_start = [True]


def correlate(**keys: Any) -> None:
    """Add ids to this invocation's later log lines (and trace annotations); None is skipped.

    Ids only: never a card number, a token or a body."""
    present = {name: value for name, value in keys.items() if value is not None}
    if present:
        _keys().update(present)
        logger.thread_safe_append_keys(**present)


def record_committed(entries: Any) -> None:
    """Count the ledger entries a transaction just committed (`Reloads`, `AutoReloads`,
    `StarsExpirations`, …) and put their ids in the logs. Called by the ledger's commit, so every
    new transaction counts once — from a route, the stream's auto-reload or the expiry run — and an
    idempotent replay, which commits nothing, counts nothing."""
    with _never_raises("counting transactions"):  # they have committed: the answer stands
        entries = list(entries)
        for entry in entries:
            name = TRANSACTION_METRICS.get(entry.kind)
            if name:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if entries:
            correlate(tx_id=entries[0].tx_id)
            if len(entries) > 1:
                correlate(tx_ids=[entry.tx_id for entry in entries])


def observe_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Middleware for every event type: Lambda context in the logs, a trace subsegment, and the
    invocation's metrics flushed at the end, whatever happened."""
    context = event.lambda_context if isinstance(event, Request) else getattr(event, "context", None)
    name = getattr(context, "function_name", None) or SERVICE
    _begin(context)
    try:
        with _subsegment(name):
            return get_response(event)
    except Exception:
        # Event handlers only: a route's errors become responses inside Chalice (see api/http.py).
        with _never_raises("counting an invocation error"):
            logger.exception("invocation failed")
            metrics.add_metric(name="InvocationErrors", unit=MetricUnit.Count, value=1)
        raise
    finally:
        with _never_raises("flushing metrics"):
            metrics.flush()


def observe_request(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Middleware for HTTP: the request id as correlation id, outcome metrics by operation and
    channel, and one access log line."""
    started = time.perf_counter()
    # API Gateway's request id (in its access logs and x-amzn-RequestId); locally the invocation's.
    request_id = (request.context or {}).get("requestId") or _keys().get("function_request_id")
    correlate(correlation_id=request_id, http_method=request.method, route=request.path)
    response = get_response(request)
    with _never_raises("recording the request"):
        status = response.status_code
        keys = _keys()
        metrics.add_dimension(name="operation", value=str(keys.get("operation") or request.path))
        metrics.add_dimension(name="channel", value=str(keys.get("channel") or "none"))
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=int(status >= 500))
        metrics.add_metric(name="Refusals", unit=MetricUnit.Count, value=int(400 <= status < 500))
        correlate(status=status)
        logger.info("request served", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)})
    return response


def observe_stream(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Middleware for DynamoDB stream batches: records, failed records, and lag (how long the
    batch's oldest change waited before its views were updated)."""
    records = event.to_dict().get("Records") or []
    function_name = getattr(event.context, "function_name", None) or "stream"
    metrics.add_dimension(name="operation", value=str(function_name))
    created_ms = [_epoch_ms(r["dynamodb"]["ApproximateCreationDateTime"]) for r in records
                  if "ApproximateCreationDateTime" in r.get("dynamodb", {})]
    if created_ms:
        lag_ms = max(0, time.time_ns() // 1_000_000 - min(created_ms))
        metrics.add_metric(name="StreamLag", unit=MetricUnit.Milliseconds, value=lag_ms)
    metrics.add_metric(name="StreamRecords", unit=MetricUnit.Count, value=len(records))
    if records:
        correlate(records=len(records),
                  first_sequence_number=records[0].get("dynamodb", {}).get("SequenceNumber"),
                  last_sequence_number=records[-1].get("dynamodb", {}).get("SequenceNumber"))
    result = get_response(event)
    with _never_raises("recording the stream batch"):  # or the applied batch would be redelivered
        failures = len(result.get("batchItemFailures") or []) if isinstance(result, dict) else 0
        metrics.add_metric(name="StreamRecordFailures", unit=MetricUnit.Count, value=failures)
        if failures:
            logger.warning("stream batch had failed records", extra={"failed_records": failures})
        else:
            logger.info("stream batch processed")
    return result


def _epoch_ms(seconds: Any) -> int:
    """A record's ApproximateCreationDateTime (epoch seconds, a number that may carry a fraction)
    in whole milliseconds, by decimal arithmetic."""
    return int(Decimal(str(seconds)) * 1000)


def _keys() -> dict[str, Any]:
    try:
        return _invocation.get()
    except LookupError:  # outside an invocation (a test calling a service directly)
        keys: dict[str, Any] = {}
        _invocation.set(keys)
        return keys


def _begin(context: Any) -> None:
    cold_start, _cold_start[0] = _cold_start[0], False
    _invocation.set({})
    logger.thread_safe_clear_keys()
    logger.refresh_sample_rate_calculation()
    metrics.begin()
    correlate(cold_start=cold_start, function_name=getattr(context, "function_name", None),
              function_request_id=getattr(context, "aws_request_id", None))


@contextmanager
def _subsegment(name: str) -> Iterator[None]:
    if tracer is None or tracer.disabled:
        yield
        return
    with tracer.provider.in_subsegment(name=f"## {name}") as subsegment:
        subsegment.put_annotation(key="ColdStart", value=bool(_keys().get("cold_start")))
        subsegment.put_annotation(key="Service", value=SERVICE)
        try:
            yield
        finally:
            with _never_raises("annotating the trace"):
                for key in _ANNOTATED:
                    value = _keys().get(key)
                    if value is not None:
                        subsegment.put_annotation(key=key, value=value)


@contextmanager
def _never_raises(what: str) -> Iterator[None]:
    """Observability after the handler ran: a failure is logged, never raised into the answer
    (the transaction may have committed)."""
    try:
        yield
    except Exception:  # noqa: BLE001 - logged with its traceback; the response stands
        try:
            logger.exception(f"observability failed while {what}; the response stands")
        except Exception:  # noqa: BLE001, S110 - a broken log handler must not fail the request either
            pass
