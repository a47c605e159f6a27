"""Trips to send: read any TLC file in chunks, validate each row, serialise it as a record.

Each row becomes a :class:`OutgoingTrip` with a stable ``trip_id`` (same trip -> same id, so
replays and retries are idempotent downstream) and the JSON payload sent to Kinesis:

- a valid row is sent as its typed canonical trip (ISO timestamps);
- an invalid row is sent as its canonical raw values (``--invalid send``, the default) so that
  the Lambda, which validates with the same shared code, puts it in quarantine with the reason;
  with ``--invalid skip`` it is counted as skipped with its reason instead;
- a row that cannot be serialised (or is over the Kinesis 1 MB record limit) is always skipped.

Memory stays bounded by the chunk size: the file is never loaded whole.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from taximl.io import iter_trip_chunks
from taximl.schema import TRIP_FIELDS, TRIP_ID, trip_id_for
from taximl.validation import parse_timestamp, validate_record

logger = logging.getLogger(__name__)

#: Kinesis limit for one record (data + partition key).
MAX_RECORD_BYTES = 1024 * 1024
PARTITION_KEYS = ("trip_id", "pickup_zone", "vendor", "random")


@dataclass(frozen=True)
class OutgoingTrip:
    """One record ready for Kinesis."""

    trip_id: str
    data: bytes
    partition_key: str
    pickup: datetime | None
    reason: str | None  # None for a valid trip, else the validation reason


@dataclass
class SourceStats:
    """What the source read and what it held back."""

    rows_read: int = 0
    valid: int = 0
    invalid_sent: int = 0
    invalid_reasons: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    passes: int = 0

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def give_back(self, trip: OutgoingTrip) -> None:
        """Uncount a trip that was read but will not be sent (a stop while waiting for it)."""
        self.rows_read -= 1
        if trip.reason is None:
            self.valid -= 1
        else:
            self.invalid_sent -= 1
            self.invalid_reasons[trip.reason] -= 1
            if not self.invalid_reasons[trip.reason]:
                del self.invalid_reasons[trip.reason]


def json_safe(value: Any) -> Any:
    """A JSON-serialisable form of one field value (missing -> None, datetimes -> ISO text).

    Non-finite numbers become the text ``"inf"``/``"-inf"`` so the Lambda still sees them as
    non-finite (JSON has no infinity), instead of silently turning them into missing values.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, (bool, int, str)):
        return value
    text = str(value)
    return None if text in ("<NA>", "NaT", "nan") else text


def partition_key_for(trip: Mapping[str, Any], trip_id: str, choice: str, counter: int) -> str:
    """Kinesis partition key for a trip.

    ``trip_id`` (default) spreads trips evenly over shards; ``pickup_zone`` keeps each zone's
    trips in order on one shard (hot zones such as JFK make hot shards); ``vendor`` groups by
    vendor; ``random`` is a rotating key (no ordering at all).
    """
    if choice == "trip_id":
        return trip_id
    if choice == "pickup_zone":
        return f"zone-{trip.get('pu_location_id')}"
    if choice == "vendor":
        return f"vendor-{trip.get('vendor_id')}"
    if choice == "random":
        return f"k{counter % 1024}"
    raise ValueError(f"unknown partition key choice {choice!r}; use one of {PARTITION_KEYS}")


def prepare_row(
    row: Mapping[str, Any], *, send_invalid: bool, partition_key: str, counter: int = 0
) -> tuple[OutgoingTrip | None, str | None]:
    """Validate and serialise one canonical row: (trip, None), or (None, skip reason)."""
    check = validate_record(row)
    if check.trip is not None:
        body = {name: json_safe(value) for name, value in check.trip.items()}
        trip_id = trip_id_for(check.trip)
        pickup = check.trip["pickup_datetime"]
    else:
        if not send_invalid:
            return None, f"invalid:{check.reason}"
        body = {name: json_safe(row.get(name)) for name in TRIP_FIELDS}
        trip_id = trip_id_for(body)
        pickup = parse_timestamp(row.get("pickup_datetime"))[0]
    body = {TRIP_ID: trip_id, **{k: v for k, v in body.items() if k != TRIP_ID}}
    try:
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        logger.debug("row %s not serialisable: %s", trip_id, exc)
        return None, "unserialisable"
    key = partition_key_for(body, trip_id, partition_key, counter)
    if len(data) + len(key.encode("utf-8")) > MAX_RECORD_BYTES:
        return None, "record_too_large"
    return OutgoingTrip(trip_id, data, key, pickup, check.reason), None


def parse_start_at(text: str | None) -> int | datetime | None:
    """``--start-at``: a row number (skip that many rows) or a pickup time (ISO 8601)."""
    if text is None or text == "":
        return None
    if text.isdigit():
        return int(text)
    parsed, _error = parse_timestamp(text)
    if parsed is None:
        raise ValueError(f"--start-at {text!r}: expected a row number or an ISO date/time")
    return parsed


def iter_trips(
    path: str | Path,
    stats: SourceStats,
    *,
    send_invalid: bool = True,
    partition_key: str = "trip_id",
    start_at: int | datetime | None = None,
    loop: bool = False,
    sort_by_pickup: bool = False,
    chunk_rows: int = 50_000,
    max_passes: int | None = None,
) -> Iterator[OutgoingTrip]:
    """Yield trips from ``path`` (again and again with ``loop``), updating ``stats``.

    With ``sort_by_pickup`` (event-time replay) valid trips come out in pickup order through a
    reorder buffer of ``chunk_rows`` trips that spans chunk boundaries: memory stays bounded and
    a file that is only roughly in time order (like the TLC monthly files) replays in order.
    Invalid trips carry no trusted time and go out as soon as they are read.
    """
    if partition_key not in PARTITION_KEYS:
        raise ValueError(f"unknown partition key choice {partition_key!r}")
    options = {"send_invalid": send_invalid, "partition_key": partition_key,
               "start_at": start_at, "sort_by_pickup": sort_by_pickup, "chunk_rows": chunk_rows}
    while True:
        stats.passes += 1
        trips = _one_pass(path, stats, **options)
        yield from reorder_by_pickup(trips, chunk_rows) if sort_by_pickup else trips
        if not loop or (max_passes is not None and stats.passes >= max_passes):
            return


def reorder_by_pickup(trips: Iterable[OutgoingTrip], window: int) -> Iterator[OutgoingTrip]:
    """Valid trips in pickup order, holding at most ``window`` of them; others pass at once."""
    heap: list[tuple[datetime, int, OutgoingTrip]] = []
    for seq, trip in enumerate(trips):
        if trip.reason is not None or trip.pickup is None:
            yield trip
            continue
        heapq.heappush(heap, (trip.pickup, seq, trip))
        if len(heap) > window:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def _one_pass(
    path: str | Path,
    stats: SourceStats,
    *,
    send_invalid: bool,
    partition_key: str,
    start_at: int | datetime | None,
    sort_by_pickup: bool,
    chunk_rows: int,
) -> Iterator[OutgoingTrip]:
    counter = 0
    row_number = 0
    for chunk in iter_trip_chunks(path, chunk_rows=chunk_rows):
        if sort_by_pickup:
            chunk = _sorted_by_pickup(chunk)
        frame = chunk.astype(object).where(chunk.notna(), None)
        for row in frame.to_dict("records"):
            row_number += 1
            if isinstance(start_at, int) and row_number <= start_at:
                continue
            stats.rows_read += 1
            if isinstance(start_at, datetime):
                pickup = parse_timestamp(row.get("pickup_datetime"))[0]
                if pickup is not None and pickup < start_at:
                    stats.skipped["before_start_at"] += 1
                    continue
            trip, skip = prepare_row(
                row, send_invalid=send_invalid, partition_key=partition_key, counter=counter
            )
            counter += 1
            if trip is None:
                stats.skipped[skip or "unknown"] += 1
                if skip and skip.startswith("invalid:"):
                    stats.invalid_reasons[skip.removeprefix("invalid:")] += 1
                continue
            if trip.reason is None:
                stats.valid += 1
            else:
                stats.invalid_sent += 1
                stats.invalid_reasons[trip.reason] += 1
            yield trip


def _sorted_by_pickup(chunk: Any) -> Any:
    import pandas as pd

    keys = pd.to_datetime(chunk["pickup_datetime"], errors="coerce", format="mixed")
    order = keys.sort_values(kind="stable", na_position="last").index
    return chunk.loc[order].reset_index(drop=True)
