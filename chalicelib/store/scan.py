"""Whole-table reads for the operator's reconciliation (`omnicard reconcile`), never a request path.

A Scan reads every item of a table: a strongly consistent Scan costs one read capacity unit per
4 KB read (half that eventually consistent), so reconciling a table of N items of ~300 bytes costs
about N/13 RCUs and N/1 MB round trips. Run it off-peak, or with segments to finish sooner."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

from chalicelib.store.client import dynamodb, from_attributes


def scan_items(table: str, *, segments: int = 1, consistent: bool = True) -> list[dict[str, Any]]:
    """Every item of `table` (plain Python values), paginated; `segments` > 1 scans in parallel."""
    if segments <= 1:
        return list(_scan_segment(table, None, consistent))
    with ThreadPoolExecutor(max_workers=segments) as pool:
        parts = pool.map(lambda segment: list(_scan_segment(table, (segment, segments), consistent)),
                         range(segments))
        return [item for part in parts for item in part]


def _scan_segment(table: str, segment: tuple[int, int] | None, consistent: bool) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": consistent}
    if segment is not None:
        request.update(Segment=segment[0], TotalSegments=segment[1])
    while True:
        response = dynamodb().scan(**request)
        for item in response.get("Items", []):
            yield from_attributes(item)
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def stream_changes(streams_client: Any, table: str, *, empty_pages: int = 2) -> Iterator[dict[str, Any]]:
    """Every change still held by `table`'s stream (24 hours on AWS), shard by shard in order, as
    {"event", "keys", "new", "old"} with plain values. Stops reading an open shard after
    `empty_pages` empty reads in a row."""
    stream_arn = dynamodb().describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not stream_arn:
        return
    shards: list[dict[str, Any]] = []
    request: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams_client.describe_stream(**request)["StreamDescription"]
        shards += description.get("Shards", [])
        if not description.get("LastEvaluatedShardId"):
            break
        request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
    for shard in shards:
        iterator = streams_client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        empty = 0
        while iterator and empty < empty_pages:
            page = streams_client.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            empty = 0 if records else empty + 1
            for record in records:
                images = record["dynamodb"]
                yield {"event": record["eventName"], "keys": from_attributes(images["Keys"]),
                       "new": from_attributes(images["NewImage"]) if "NewImage" in images else None,
                       "old": from_attributes(images["OldImage"]) if "OldImage" in images else None}
            iterator = page.get("NextShardIterator")
