"""Splitting work into AWS-sized requests, and backoff between retries (standard library only).

Shared by the producer (Kinesis PutRecords), the Lambda (InvokeEndpoint chunks, Firehose
PutRecordBatch) and anything else that must respect a per-call item and byte limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Kinesis PutRecords takes at most 500 records per call.
PUT_RECORDS_MAX = 500


def split_by_limits(sizes: Sequence[int], max_items: int, max_bytes: int) -> list[tuple[int, int]]:
    """(start, stop) ranges over items of ``sizes`` bytes, each within both limits.

    An item larger than ``max_bytes`` gets a range of its own (the caller decides its fate).
    """
    ranges: list[tuple[int, int]] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start >= max_items or total + size > max_bytes):
            ranges.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def backoff_seconds(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with "equal jitter" before retry number ``attempt`` (1, 2, ...)."""
    ceiling = min(cap_s, base_s * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def put_records(client: Any, stream: str, entries: Sequence[Mapping[str, Any]], *,
                attempts: int = 10, base_s: float = 0.1, cap_s: float = 5.0,
                sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Kinesis ``PutRecords`` of ``entries`` (``Data``, ``PartitionKey``) in calls of 500,
    retrying only the entries that failed; the sequence number of each entry, in order.

    For scripts that put a known set of records (tests, benchmarks, replays); the producer has
    its own sender. Raises RuntimeError when entries still fail after ``attempts``.
    """
    sequences = [""] * len(entries)
    for start in range(0, len(entries), PUT_RECORDS_MAX):
        pending = list(range(start, min(start + PUT_RECORDS_MAX, len(entries))))
        for attempt in range(attempts):
            if attempt:
                sleep(backoff_seconds(attempt, base_s, cap_s))
            response = client.put_records(StreamName=stream,
                                          Records=[dict(entries[i]) for i in pending])
            failed = []
            for i, result in zip(pending, response["Records"], strict=True):
                if result.get("SequenceNumber") and not result.get("ErrorCode"):
                    sequences[i] = result["SequenceNumber"]
                else:
                    failed.append(i)
            pending = failed
            if not pending:
                break
        if pending:
            raise RuntimeError(f"{len(pending)} records not accepted by {stream} "
                               f"after {attempts} attempts")
    return sequences
