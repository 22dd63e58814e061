"""The ledger table's stream handler: every projection, a batch at a time, with partial batch failure.

A batch goes through the steps in order — views (wallet, activity), counters (channel report,
liability), the auto-reload rule, then the change events — and each step works on the whole
batch: a wallet item is written once with the newest change of the batch however many records
touched it, the counters get the batch's summed deltas in one transaction per batch (counted once
per stream shard, chalicelib/store/reports.py), and the events go out in PutEvents calls of 10.

A record that fails is reported in `batchItemFailures` and the rest of the batch is applied; the
event source mapping retries from it (bisecting, bounded) and then parks it on the on-failure
queue, so a poison record never blocks the shard. A record that fails before the counters is not
counted, and is counted when it comes again; every other step is idempotent (version-gated views,
an idempotency record per auto-reload), so a redelivered record changes nothing twice; its event is
sent again with the same event_id. Events go last, so a record whose view step fails has sent
nothing yet."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from chalicelib import clock
from chalicelib.observability import logger
from chalicelib.store import events as event_store
from chalicelib.store import reports as report_store
from chalicelib.streams import activity, auto_reload, changes, events, reports, wallet
from chalicelib.streams.changes import CardChange, Change, EntryAdded, EntryLinked, MemberChange

# Without a shard id in the event (tests, and a stream read without the event source mapping's
# tumbling window: README "Scale"), the records are taken to come from one shard.
SINGLE_SHARD = "single-shard"


@dataclass
class _Record:
    raw: dict[str, Any]
    sequence: int
    change: Change | None = None
    failed: bool = False


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = _Batch(event)
    batch.run()
    response: dict[str, Any] = {"batchItemFailures": batch.failures()}
    if "window" in event:  # a tumbling-window invocation must hand its state back (we keep none)
        response["state"] = {}
    return response


class _Batch:
    def __init__(self, event: dict[str, Any]) -> None:
        self.shard = str(event.get("shardId") or SINGLE_SHARD)
        self.records = [_Record(raw, int(raw["dynamodb"]["SequenceNumber"])) for raw in event.get("Records") or []]

    def run(self) -> None:
        for record in self.records:
            self._guard([record], lambda r=record: setattr(r, "change", changes.from_record(r.raw)))
        self._views()
        self._counters()
        for record in self._live(CardChange):
            self._guard([record], lambda r=record: auto_reload.on_card(r.change))
        self._events()

    def failures(self) -> list[dict[str, str]]:
        failed, seen = [], set()
        for record in self.records:
            identifier = record.raw["dynamodb"]["SequenceNumber"]
            if record.failed and identifier not in seen:
                seen.add(identifier)
                failed.append({"itemIdentifier": identifier})
        return failed

    # -- steps ---------------------------------------------------------------------------
    def _views(self) -> None:
        # The wallet: each card or member item once, with the newest version the batch holds.
        newest: dict[tuple[str, str], list[_Record]] = {}
        for record in self._live(CardChange, MemberChange):
            newest.setdefault((record.change.item["PK"], record.change.item["SK"]), []).append(record)
        for touching in newest.values():
            latest = max(touching, key=lambda r: r.change.after.version)
            self._guard(touching, lambda r=latest: wallet.project(r.change.item))
        for record in self._live(EntryAdded):
            self._guard([record], lambda r=record: activity.on_entry(r.change))
        for record in self._live(EntryLinked):
            self._guard([record], lambda r=record: activity.on_linked(r.change))
        for record in self._live(CardChange):
            self._guard([record], lambda r=record: activity.on_card(r.change))

    def _counters(self) -> None:
        contributions = []
        for record in self._live(*reports.COUNTED):
            deltas = self._guard([record], lambda r=record: reports.deltas_of(r.change))
            if deltas is not None:
                contributions.append(report_store.Contribution(record.sequence, deltas))
        failed = {record.sequence for record in self.records if record.failed}
        counting = [r for r in self.records if r.change is not None and not r.failed]
        self._guard(counting, lambda: report_store.count_batch(
            self.shard, [record.sequence for record in self.records], contributions, failed))

    def _events(self) -> None:
        outgoing, senders = [], []
        for record in self._live(CardChange, MemberChange, EntryAdded, changes.AdjustmentFiled):
            event = self._guard([record], lambda r=record: events.event_of(r.change))
            if event is not None:
                outgoing.append(event)
                senders.append(record)
        if not outgoing:
            return
        refused = self._guard(senders, lambda: event_store.publish_many(outgoing, clock.now()))
        for index, reason in (refused or {}).items():
            logger.warning("the bus refused an event", extra={"event_id": outgoing[index].event_id, "reason": reason})
            senders[index].failed = True

    # -- helpers -------------------------------------------------------------------------
    def _live(self, *types: type) -> list[_Record]:
        return [r for r in self.records if not r.failed and r.change is not None and isinstance(r.change, types)]

    def _guard(self, records: list[_Record], step: Callable[[], Any]) -> Any:
        """Run one step; if it raises, the records it was for fail (and go no further)."""
        try:
            return step()
        except Exception:  # noqa: BLE001 - reported in batchItemFailures, retried by the event source mapping
            logger.exception("stream record failed", extra={
                "sequence_numbers": [r.raw["dynamodb"]["SequenceNumber"] for r in records][:10]})
            for record in records:
                record.failed = True
            return None
