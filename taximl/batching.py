"""Splitting work into AWS-sized requests, and backoff between retries (standard library only).

Shared by the producer (Kinesis PutRecords), the Lambda (InvokeEndpoint chunks, Firehose
PutRecordBatch) and anything else that must respect a per-call item and byte limit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


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
