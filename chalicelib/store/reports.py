"""Counters behind the daily channel report and the liability totals (Views table), sharded and
added once per stream batch.

Sharded: no key is written by every payment. A batch's sums go, per store (one item holds all of a
store's counters of the day), to one of `REPORT_SHARDS` report partitions (`REPORT#<day>#<k>`),
and to one of `LIABILITY_SHARDS` liability partitions (`LIABILITY#<k>`), k picked from the batch
(its stream shard and first sequence number) and the store, so the writes spread evenly over the
shards whatever the traffic; a read sums the shards.

Counted once: the event source mapping delivers each stream shard's records in order, one batch at
a time, and re-delivers only from the first record it has to retry (whole, bisected, or from a
reported failure). So each stream shard has one small progress item (`PROGRESS#<shard id>`): the
highest sequence number counted (`hwm`) and the sequence numbers at or below it that were *not*
counted (`holes`: records that failed before their turn and will come again). A record is counted
iff its sequence number is above `hwm` or in `holes`, and the batch's sums are added in the same
TransactWriteItems that moves the progress item, conditioned on the progress it read. Redelivered,
bisected, duplicated or reordered records therefore change nothing twice, and a record that failed
is counted when it finally succeeds (also when an operator replays it from the failure queue with
its shard id)."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.reports import STANDARD_COUNTERS, EntryDeltas, LiabilityDelta, ReportRow
from chalicelib.settings import get_settings
from chalicelib.store import keys
from chalicelib.store.client import dynamodb, from_attributes, to_attributes
from chalicelib.store.transactions import TransactionCancelled, transact

PROGRESS_ATTEMPTS = 8
# TransactWriteItems takes 100 items: the progress item, the liability shard, and at most this
# many report rows per transaction (a batch with more distinct rows is counted in chunks).
ROWS_PER_TRANSACTION = 96  # report items (a day's store), that is
MAX_HOLES = 500  # records failing for good are parked by the event source mapping; keep the newest


def _table() -> str:
    return get_settings().views_table


@dataclass(frozen=True)
class Contribution:
    """One stream record's counter deltas (an entry's or an offline item record's), by its sequence number."""

    sequence: int
    deltas: EntryDeltas


@dataclass(frozen=True)
class Progress:
    hwm: int
    holes: frozenset[int]
    version: int  # how many times it moved: the condition of the next move

    def uncounted(self, sequence: int) -> bool:
        return sequence > self.hwm or sequence in self.holes


def shard_of(*parts: str, shards: int) -> int:
    """A stable shard for these parts (not Python's hash, which differs per process)."""
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:8], "big") % shards


def count_batch(stream_shard: str, sequences: list[int], contributions: list[Contribution],
                failed: set[int]) -> set[int]:
    """Add the contributions of one stream batch to the counters, each record exactly once.

    `sequences` are all the batch's records (processed or not), `failed` those that failed before
    this step (they are not counted now, and stay countable). Returns the sequence numbers
    counted by this call. Raises if the counters could not be written (nothing of the chunk that
    raised is applied; the caller fails those records so they come again)."""
    by_sequence: dict[int, Contribution] = {}
    for contribution in contributions:
        by_sequence.setdefault(contribution.sequence, contribution)
    ordered = sorted(set(sequences) | set(by_sequence))
    counted: set[int] = set()
    for chunk in _chunks(ordered, by_sequence):
        counted |= _count_chunk(stream_shard, chunk, [by_sequence[s] for s in chunk if s in by_sequence], failed)
    _advance_as_of(stream_shard, ordered, list(by_sequence.values()))
    return counted


def _chunks(ordered: list[int], by_sequence: dict[int, Contribution]) -> list[list[int]]:
    """Consecutive runs of sequence numbers whose distinct report rows fit one transaction."""
    chunks: list[list[int]] = [[]]
    rows: set[Any] = set()
    for sequence in ordered:
        contribution = by_sequence.get(sequence)
        label = (contribution.deltas.day, contribution.deltas.row.store_id) if contribution else None
        if label is not None and label not in rows and len(rows) >= ROWS_PER_TRANSACTION:
            chunks.append([])
            rows = set()
        if label is not None:
            rows.add(label)
        chunks[-1].append(sequence)
    return [chunk for chunk in chunks if chunk]


def _count_chunk(stream_shard: str, chunk: list[int], contributions: list[Contribution], failed: set[int]) -> set[int]:
    liability_shard = shard_of(stream_shard, str(chunk[0]), shards=keys.LIABILITY_SHARDS)
    processed = set(chunk) - failed
    for _ in range(PROGRESS_ATTEMPTS):
        progress = read_progress(stream_shard)
        fresh = [c for c in contributions if c.sequence in processed and progress.uncounted(c.sequence)]
        holes = (progress.holes - processed) | {s for s in chunk if s in failed and progress.uncounted(s)}
        if len(holes) > MAX_HOLES:
            holes = set(sorted(holes)[-MAX_HOLES:])
        hwm = max(progress.hwm, chunk[-1])
        if not fresh and hwm == progress.hwm and holes == progress.holes:
            return set()
        items = [_progress_item(stream_shard, progress, hwm, holes)]
        rows: dict[tuple[str, Any], ReportRow] = {}
        liability = LiabilityDelta()
        for contribution in fresh:
            deltas = contribution.deltas
            key = (deltas.day, deltas.row.label())
            rows[key] = rows[key].plus(deltas.row) if key in rows else deltas.row
            liability = liability.plus(deltas.liability)
        per_store: dict[tuple[str, str | None], list[ReportRow]] = defaultdict(list)
        for (day, _), row in rows.items():
            per_store[(day, row.store_id)].append(row)
        for (day, store_id), store_rows in per_store.items():
            shard = shard_of(stream_shard, str(chunk[0]), day, store_id or "", shards=keys.REPORT_SHARDS)
            items.append(("report", _report_update(day, shard, store_id, store_rows)))
        if not liability.is_zero():
            items.append(("liability", _liability_update(liability_shard, liability)))
        try:
            transact(items)
        except TransactionCancelled as exc:
            if "progress" in exc.failed or exc.conflict:
                continue  # another delivery of this shard moved it first: read it again
            raise
        return {c.sequence for c in fresh}
    raise TransactionCancelled({"progress"}, True)


def read_progress(stream_shard: str) -> Progress:
    response = dynamodb().get_item(TableName=_table(), Key=to_attributes(keys.stream_progress(stream_shard)),
                                   ConsistentRead=True)
    if "Item" not in response:
        return Progress(0, frozenset(), 0)
    item = from_attributes(response["Item"])
    return Progress(int(item["hwm"]), frozenset(int(s) for s in item.get("holes", [])), item["version"])


def _progress_item(stream_shard: str, seen: Progress, hwm: int, holes: set[int]) -> tuple[str, dict[str, Any]]:
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if seen.version:
        condition = {"ConditionExpression": "version = :seen",
                     "ExpressionAttributeValues": to_attributes({":seen": seen.version})}
    item = {**keys.stream_progress(stream_shard), "hwm": str(hwm), "holes": [str(s) for s in sorted(holes)],
            "version": seen.version + 1}
    return "progress", {"Put": {"TableName": _table(), "Item": to_attributes(item), **condition}}


def _report_update(day: str, shard: int, store_id: str | None, rows: list[ReportRow]) -> dict[str, Any]:
    """ADD a batch's rows of one store (or of no store) to that store's report item on one shard:
    each counter is the attribute `<channel>|<kind>|<currency>|<counter>`."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds = []
    for row in rows:
        for name, value in row.counters().items():
            if value or name in STANDARD_COUNTERS:
                index = len(adds)
                names[f"#c{index}"] = counter_attribute(row, name)
                values[f":c{index}"] = value
                adds.append(f"#c{index} :c{index}")
    update = "ADD " + ", ".join(adds)
    if store_id is not None:
        names["#store_id"], values[":store_id"] = "store_id", store_id
        update = "SET #store_id = :store_id " + update
    return {"Update": {
        "TableName": _table(), "Key": to_attributes(keys.report_store(day, shard, store_id)),
        "UpdateExpression": update, "ExpressionAttributeNames": names, "ExpressionAttributeValues": to_attributes(values)}}


def counter_attribute(row: ReportRow, counter: str) -> str:
    return f"{row.channel}|{row.kind}|{row.currency or ''}|{counter}"


def rows_from_item(item: dict[str, Any]) -> list[ReportRow]:
    """A report item's counters → its rows (one per channel, kind and currency)."""
    counters: dict[tuple[str, str | None, str, str | None], dict[str, int]] = defaultdict(dict)
    for name, value in item.items():
        if name.count("|") == 3 and isinstance(value, int):
            channel, kind, currency, counter = name.split("|")
            counters[(channel, item.get("store_id"), kind, currency or None)][counter] = value
    return [ReportRow.from_counters(label, values) for label, values in counters.items()]


def _liability_update(shard: int, delta: LiabilityDelta) -> dict[str, Any]:
    names, values, adds = {}, {}, []
    for index, (currency, amount) in enumerate(sorted(delta.value.items())):
        names[f"#v{index}"] = f"VALUE#{currency}"
        values[f":v{index}"] = amount
        adds.append(f"#v{index} :v{index}")
    if delta.stars:
        names["#stars"], values[":stars"] = "stars", delta.stars
        adds.append("#stars :stars")
    return {"Update": {"TableName": _table(), "Key": to_attributes(keys.liability_totals(shard)),
                       "UpdateExpression": "ADD " + ", ".join(adds), "ExpressionAttributeNames": names,
                       "ExpressionAttributeValues": to_attributes(values)}}


def _advance_as_of(stream_shard: str, ordered: list[int], contributions: list[Contribution]) -> None:
    """Each day's report and the liability show the newest entry of the batch, counted now or by an
    earlier delivery (which may have stopped before this step). One shard's AS_OF each; a read
    takes the newest of all shards."""
    if not contributions:
        return
    key = str(ordered[0])
    newest_per_day: dict[str, str] = defaultdict(str)
    for contribution in contributions:
        day = contribution.deltas.day
        newest_per_day[day] = max(newest_per_day[day], contribution.deltas.created_at)
    for day, as_of in sorted(newest_per_day.items()):
        advance_as_of(keys.report_as_of(day, shard_of(stream_shard, key, day, shards=keys.REPORT_SHARDS)), as_of)
    advance_as_of(keys.liability_as_of(shard_of(stream_shard, key, shards=keys.LIABILITY_SHARDS)),
                  max(newest_per_day.values()))


def read_report(day: str) -> tuple[list[ReportRow], str | None]:
    """The day's rows (one per shard that counted it: channel_report sums them) and as_of, the
    newest of the shards': a Query per shard (reports are read rarely; the writes are what must
    spread)."""
    rows, as_of = [], None
    for shard in range(keys.REPORT_SHARDS):
        for item in _partition(keys.report_partition(day, shard)):
            if item["SK"] == keys.AS_OF:
                as_of = max(as_of or item["as_of"], item["as_of"])
            else:
                rows += rows_from_item(item)
    return rows, as_of


def read_liability() -> tuple[dict[str, int], int, str | None]:
    """({currency: outstanding value}, outstanding stars, as_of), summed over the shards: one
    BatchGetItem of every shard's totals and as_of."""
    wanted = [key for shard in range(keys.LIABILITY_SHARDS)
              for key in (keys.liability_totals(shard), keys.liability_as_of(shard))]
    value: dict[str, int] = defaultdict(int)
    stars, as_of = 0, None
    for item in _batch_get(wanted):
        if item["SK"] == keys.AS_OF:
            as_of = max(as_of or item["as_of"], item["as_of"])
            continue
        stars += item.get("stars", 0)
        for name, amount in item.items():
            if name.startswith("VALUE#"):
                value[name.removeprefix("VALUE#")] += amount
    return dict(value), stars, as_of


def advance_as_of(key: dict[str, str], as_of: str) -> None:
    """Move a view's as_of forward to `as_of`; an older time never moves it back."""
    try:
        dynamodb().update_item(
            TableName=_table(), Key=to_attributes(key), UpdateExpression="SET as_of = :as_of",
            ConditionExpression="attribute_not_exists(as_of) OR as_of < :as_of",
            ExpressionAttributeValues=to_attributes({":as_of": as_of}))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _batch_get(wanted: list[dict[str, str]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {_table(): {"Keys": [to_attributes(key) for key in wanted], "ConsistentRead": True}}
    while request:
        response = dynamodb().batch_get_item(RequestItems=request)
        found += [from_attributes(item) for item in response.get("Responses", {}).get(_table(), [])]
        request = response.get("UnprocessedKeys") or {}
    return found


def _partition(pk: str) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "PK = :pk",
                             "ExpressionAttributeValues": to_attributes({":pk": pk})}
    items: list[dict[str, Any]] = []
    while True:
        response = dynamodb().query(**query)
        items += [from_attributes(item) for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return items
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
