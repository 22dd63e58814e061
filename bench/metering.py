"""Counting what a workload costs, at the botocore layer: every DynamoDB write per partition key
and item in write request units (WRU), reads in read request units (RRU), EventBridge entries,
and Lambda invocations with a duration modelled from the calls each makes.

moto's ReturnConsumedCapacity is fixed constants, so units are computed from item sizes the way
DynamoDB bills on demand: a write is ⌈size / 1 KB⌉ WRU (at least 1) of the larger of the item
before and after it, twice that inside TransactWriteItems; a failed condition still costs its
units; a read is ⌈size / 4 KB⌉ RRU when strongly consistent, half that otherwise (a Query sums the
sizes of the items it returns first). Sizes follow DynamoDB's rules (attribute names count; a
number is about one byte per two digits; maps and lists add 3 bytes plus 1 per element)."""
from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("OMNICARD_JWT_SECRET", "bench-secret-0123456789-0123456789")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

# us-east-1 list prices (on demand), December 2026.
PRICE = {
    "api_gateway_request": 3.50 / 1e6,      # REST API, first 333 million requests a month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000166667,       # x86
    "dynamodb_wru": 0.625 / 1e6,            # on-demand write request unit
    "dynamodb_rru": 0.125 / 1e6,            # on-demand read request unit
    "eventbridge_event": 1.00 / 1e6,        # custom event (per 64 KB chunk)
}
LAMBDA_MEMORY_GB = 1.0  # .chalice/config.json lambda_memory_size 1024 (dev, prod)
# Modelled latency of each AWS call from a Lambda in the same region, and the function's own work.
CALL_MS = {"GetItem": 4, "BatchGetItem": 5, "Query": 5, "PutItem": 6, "UpdateItem": 6, "DeleteItem": 6,
           "TransactWriteItems": 12, "PutEvents": 15}
API_COMPUTE_MS = 6      # parse, authorize, plan, shape (bench/overhead.py: ~9 ms on moto, less on Lambda)
STREAM_RECORD_MS = 0.5  # decode one record and fold it


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item in DynamoDB's accounting, from its attribute-value form."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = str(Decimal(inner).normalize()).lstrip("-").replace(".", "")
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(len(s.encode()) for s in inner)
    if kind == "NS":
        return sum(_value_size({"N": n}) for n in inner)
    return sum(len(b) for b in inner)


def write_units(size: int, transactional: bool) -> int:
    return max(1, math.ceil(size / 1024)) * (2 if transactional else 1)


@dataclass
class Invocation:
    kind: str  # "api" or "stream"
    records: int = 0
    calls: Counter = field(default_factory=Counter)

    def duration_ms(self) -> float:
        own = API_COMPUTE_MS if self.kind == "api" else STREAM_RECORD_MS * self.records + 2
        return own + sum(CALL_MS.get(name, 5) * count for name, count in self.calls.items())


class Meter:
    """Install on the app's clients; `phase` ("api" / "stream") labels what is counted."""

    def __init__(self, raw_dynamodb: Any) -> None:
        self.raw = raw_dynamodb  # an unmetered client, to size items after a write
        self.phase = "api"
        self.wru: dict[tuple[str, str], Counter] = defaultdict(Counter)        # (phase, PK) → units by table
        self.item_wru: Counter = Counter()                                     # (PK, SK) → units
        self.wru_by_phase: Counter = Counter()
        self.rru_by_phase: Counter = Counter()
        self.calls: dict[str, Counter] = defaultdict(Counter)
        self.events_entries: Counter = Counter()
        self.invocations: list[Invocation] = []
        self.current: Invocation | None = None
        self._pending: dict[int, Any] = {}

    def reset(self) -> None:
        """Forget everything counted so far (e.g. a set-up), keep the installed hooks."""
        self.__init__(self.raw)  # type: ignore[misc]

    def install(self, dynamodb: Any, events: Any) -> None:
        dynamodb.meta.events.register("before-parameter-build.dynamodb", self._before)
        dynamodb.meta.events.register("after-call.dynamodb", self._after)
        events.meta.events.register("before-parameter-build.events", self._stash)
        events.meta.events.register("after-call.events", self._after_events)

    # -- invocations ---------------------------------------------------------------------
    def begin(self, kind: str, records: int = 0) -> None:
        self.phase = kind
        self.current = Invocation(kind, records)
        self.invocations.append(self.current)

    def end(self) -> None:
        self.current = None

    # -- hooks ---------------------------------------------------------------------------
    def _count_call(self, name: str) -> None:
        self.calls[self.phase][name] += 1
        if self.current is not None:
            self.current.calls[name] += 1

    def _stash(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["meter_params"] = params

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = model.name
        context["meter_params"] = params
        if name in ("UpdateItem", "DeleteItem"):
            self._pending[id(params)] = (params["TableName"], params["Key"], self._size_now(params["TableName"], params["Key"]))
        elif name == "TransactWriteItems":
            before = []
            for entry in params["TransactItems"]:
                (op, body), = entry.items()
                key = body.get("Key") or {k: body["Item"][k] for k in ("PK", "SK")}
                before.append(self._size_now(body["TableName"], key))
            self._pending[id(params)] = before

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        name = model.name
        params = context.get("meter_params", {})
        self._count_call(name)
        failed = "Error" in parsed and parsed["Error"].get("Code")
        if name == "PutItem":
            self._write(params["TableName"], params["Item"], item_size(params["Item"]), False)
        elif name in ("UpdateItem", "DeleteItem"):
            table, key, before = self._pending.pop(id(params), (params["TableName"], params["Key"], 0))
            after = 0 if name == "DeleteItem" else self._size_now(table, key)
            self._write(table, key, max(before, after), False)
        elif name == "TransactWriteItems":
            before = self._pending.pop(id(params), [0] * len(params["TransactItems"]))
            for entry, size_before in zip(params["TransactItems"], before):
                (op, body), = entry.items()
                key = body.get("Key") or {k: body["Item"][k] for k in ("PK", "SK")}
                if op == "Put":
                    size = item_size(body["Item"])
                elif op == "Update" and not failed:
                    size = max(size_before, self._size_now(body["TableName"], key))
                else:
                    size = size_before
                self._write(body["TableName"], key, size, True)
        elif name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    item = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                    self._write(table, item, item_size(item), False)
        elif name == "GetItem":
            size = item_size(parsed.get("Item", {}))
            self._read(size, params.get("ConsistentRead", False))
        elif name == "BatchGetItem":
            for table, items in parsed.get("Responses", {}).items():
                consistent = params["RequestItems"][table].get("ConsistentRead", False)
                for item in items:
                    self._read(item_size(item), consistent)
        elif name in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self._read(size, params.get("ConsistentRead", False))

    def _after_events(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self._count_call(model.name)
        params = context.get("meter_params", {})
        if model.name == "PutEvents":
            self.events_entries[self.phase] += len(params["Entries"])

    # -- units ---------------------------------------------------------------------------
    def _size_now(self, table: str, key: dict[str, Any]) -> int:
        item = self.raw.get_item(TableName=table, Key={k: key[k] for k in ("PK", "SK")}).get("Item")
        return item_size(item) if item else 0

    def _write(self, table: str, key: dict[str, Any], size: int, transactional: bool) -> None:
        units = write_units(size, transactional)
        pk, sk = key["PK"]["S"], key["SK"]["S"]
        self.wru[(self.phase, pk)][table] += units
        self.item_wru[(pk, sk)] += units
        self.wru_by_phase[self.phase] += units

    def _read(self, size: int, consistent: bool) -> None:
        units = max(1, math.ceil(size / 4096)) * (1 if consistent else 0.5)
        self.rru_by_phase[self.phase] += units

    # -- results -------------------------------------------------------------------------
    def by_partition_key(self) -> Counter:
        """WRU per partition key (API and stream together; a shape like CARD#… stays apart)."""
        total: Counter = Counter()
        for (_, pk), tables in self.wru.items():
            total[pk] += sum(tables.values())
        return total

    def cost(self) -> dict[str, float]:
        api = [i for i in self.invocations if i.kind == "api"]
        gb_seconds = sum(i.duration_ms() for i in self.invocations) / 1000 * LAMBDA_MEMORY_GB
        wru = sum(self.wru_by_phase.values())
        rru = sum(self.rru_by_phase.values())
        return {
            "API Gateway": len(api) * PRICE["api_gateway_request"],
            "Lambda requests": len(self.invocations) * PRICE["lambda_request"],
            "Lambda duration": gb_seconds * PRICE["lambda_gb_second"],
            "DynamoDB writes": wru * PRICE["dynamodb_wru"],
            "DynamoDB reads": rru * PRICE["dynamodb_rru"],
            "EventBridge": sum(self.events_entries.values()) * PRICE["eventbridge_event"],
        }


def shape(pk: str) -> str:
    """A partition key's family, for the README: CARD#crd_… → CARD#<id>."""
    head, _, rest = pk.partition("#")
    if not rest:
        return pk
    if head in ("REPORT", "LIABILITY", "COUNTED", "PROGRESS"):
        parts = rest.split("#")
        if head == "REPORT":
            return "REPORT#<day>" + ("#<shard>" if len(parts) > 1 else "")
        if head == "LIABILITY":
            return "LIABILITY#<source>" if not parts[0].isdigit() else "LIABILITY#<shard>"
        if head == "COUNTED":
            return "COUNTED#<entry>"
        return "PROGRESS#<stream shard>"
    return f"{head}#<id>"
