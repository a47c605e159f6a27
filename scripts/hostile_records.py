"""Put hostile records into the trips stream of a running pipeline and check what became of them.

Usage (after ``source .local-stack/env.sh`` and ``eval "$(python -m taximl.config)"``, with
the demo or the deployed pipeline running; on AWS with your credentials)::

    python scripts/hostile_records.py [--valid 200] [--timeout 120] [--within 60]

Sends, in one go, one record of every hostile kind an attacker or a buggy producer can put in
the stream (deep nesting, huge numbers, bad UTF-8, wrong types, a 900 KB string, markup, SQL,
control characters, codes outside the TLC dictionary, a forged ``trip_id``, ...), followed by
``--valid`` good trips (generated, so they are new). Then it waits (at most ``--timeout`` s) and
checks, printing one line per record kind:

1. every hostile record is quarantined with a reason (found by its sequence number), or, for
   the two kinds that are valid trips in disguise, scored under the ``trip_id`` computed from
   the trip, never the forged one;
2. no text outside the TLC dictionary reached gold (``store_and_fwd_flag`` Y/N/empty,
   ``taxi_type`` yellow/green), and quarantine records are bounded and free of markup;
3. every valid trip sent after them was scored, within ``--within`` s of the put (the
   Lambda's ``processing_time``; gold objects themselves appear after the Firehose buffer).

Exit status 0 when all checks pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "producer", REPO / "data"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from taximl.batching import put_records  # noqa: E402
from taximl.config import Settings  # noqa: E402
from taximl.schema import STORE_AND_FWD_FLAGS, TAXI_TYPES  # noqa: E402

#: Largest quarantine line accepted (the Lambda keeps them near 10 KB).
MAX_QUARANTINE_LINE = 16 * 1024
GOOD_TRIP: dict[str, Any] = {
    "VendorID": 2, "tpep_pickup_datetime": "2024-03-01 08:15:00",
    "tpep_dropoff_datetime": "2024-03-01 08:31:30", "passenger_count": 1, "trip_distance": 2.4,
    "RatecodeID": 1, "store_and_fwd_flag": "N", "PULocationID": 161, "DOLocationID": 236,
    "payment_type": 1, "fare_amount": 17.0, "extra": 0.0, "mta_tax": 0.5, "tip_amount": 4.2,
    "tolls_amount": 0.0, "improvement_surcharge": 1.0, "total_amount": 25.2,
    "congestion_surcharge": 2.5, "airport_fee": 0.0,
}


@dataclass(frozen=True)
class Hostile:
    """One hostile record: its kind, its bytes, and whether it is a valid trip in disguise."""

    kind: str
    data: bytes
    scored: bool = False


def _trip(**changes: Any) -> bytes:
    return json.dumps({**GOOD_TRIP, **changes}).encode("utf-8", "surrogatepass")


def _trip_with_fare_literal(literal: bytes) -> bytes:
    """A complete trip whose ``fare_amount`` is written as ``literal`` (raw JSON text)."""
    return _trip(fare_amount=0).replace(b'"fare_amount": 0', b'"fare_amount": ' + literal)


def catalogue(tag: str) -> list[Hostile]:
    """Every hostile kind; ``tag`` makes the two scored ones new trips (a unique distance)."""
    unique_distance = 2.0 + int(tag[:6], 16) / 1e7
    return [
        Hostile("deep nesting: array", b"[" * 10_000 + b"]" * 10_000),
        Hostile("deep nesting: object", b'{"a":' * 5_000 + b"1" + b"}" * 5_000),
        Hostile("deep nesting inside a field", _trip(fare_amount=json.loads("[" * 30 + "]" * 30))),
        Hostile("huge integer literal", _trip_with_fare_literal(b"9" * 5_000)),
        Hostile("number overflow: 1e999", _trip_with_fare_literal(b"1e999")),
        Hostile("integer beyond float range", _trip(fare_amount=10**400)),
        Hostile("NaN literal", _trip_with_fare_literal(b"NaN")),
        Hostile("bad UTF-8", b'{"store_and_fwd_flag": "\xff\xfe"}'),
        Hostile("lone surrogate", _trip(store_and_fwd_flag="\ud800")),
        Hostile("wrong type: list", _trip(trip_distance=[2.4])),
        Hostile("wrong type: object", _trip(tpep_pickup_datetime={"$date": 0})),
        Hostile("wrong type: boolean", _trip(passenger_count=True)),
        Hostile("oversized: 900 KB flag", _trip(store_and_fwd_flag="<script>" * 112_500)),
        Hostile("markup in flag", _trip(store_and_fwd_flag="<script>alert(1)</script>")),
        Hostile("SQL in flag", _trip(store_and_fwd_flag="N'; DROP TABLE scored_trips;--")),
        Hostile("control characters in flag", _trip(store_and_fwd_flag="\x1b[2J\x07Y")),
        Hostile("bidi override in taxi_type", _trip(taxi_type="\u202eyellow")),
        Hostile("unknown vendor code", _trip(VendorID=3)),
        Hostile("unknown payment code", _trip(payment_type=9)),
        Hostile("unknown taxi type", _trip(taxi_type="limousine")),
        Hostile("not JSON", b"<html><body onload=alert(1)>"),
        Hostile("JSON but not an object", b'["VendorID", 2]'),
        Hostile("empty record", b""),
        Hostile("binary", bytes(range(256))),
        Hostile("forged trip_id, valid trip", _trip(trip_id="<b>someone-else</b>",
                                                     trip_distance=unique_distance), True),
        Hostile("unknown fields, valid trip", _trip(**{"<evil>": "x" * 10_000},
                                                     trip_distance=unique_distance + 0.1), True),
    ]


def valid_trips(count: int, seed: int) -> list[tuple[str, bytes]]:
    """(trip_id, payload) of ``count`` generated valid trips, serialised as the producer does."""
    from synth_trips import GenConfig, generate_chunk
    from taximl.schema import normalize_frame
    from trip_source import prepare_row

    frame = normalize_frame(generate_chunk(GenConfig(rows=count * 2, seed=seed), 0, count * 2))
    frame = frame.astype(object).where(frame.notna(), None)
    out = []
    for row in frame.to_dict("records"):
        trip, _ = prepare_row(row, send_invalid=False, partition_key="trip_id")
        if trip is not None:
            out.append((trip.trip_id, trip.data))
        if len(out) == count:
            break
    return out


def _lines(s3: Any, bucket: str, prefix: str) -> list[tuple[bytes, dict[str, Any]]]:
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            out += [(line, json.loads(line)) for line in body.splitlines() if line.strip()]
    return out


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Report:
    """What the checks found; ``ok`` when every one passed."""

    lines: list[str]
    ok: bool


def check(settings: Settings, hostile: list[Hostile], hostile_seqs: list[str],
          expected_ids: dict[int, str], valid_ids: list[str], put_at: float,
          within_s: float) -> tuple[Report, bool]:
    """One look at gold and quarantine: (report, everything arrived)."""
    import boto3

    s3 = boto3.client("s3")
    gold = [doc for _, doc in _lines(s3, settings.gold_bucket, "scored/")
            if _epoch(doc["processing_time"]) >= put_at - 1]
    quarantine = [(raw, doc) for raw, doc in _lines(s3, settings.gold_bucket, "quarantine/")
                  if _epoch(doc["processing_time"]) >= put_at - 1]
    by_seq = {doc["sequence_number"]: (raw, doc) for raw, doc in quarantine}
    scored = {doc["trip_id"]: doc for doc in gold}
    lines, ok, arrived = [], True, True
    for i, (item, seq) in enumerate(zip(hostile, hostile_seqs, strict=True)):
        if item.scored:
            doc = scored.get(expected_ids[i])
            outcome = f"scored as {expected_ids[i]}" if doc else "not scored yet"
            good = doc is not None
        else:
            raw, doc = by_seq.get(seq, (b"", None))
            outcome = f"quarantined: {doc['reason']}" if doc else "not quarantined yet"
            good = doc is not None and len(raw) <= MAX_QUARANTINE_LINE and not (
                set(raw.decode("utf-8", "replace")) & set("<>&"))
        arrived &= doc is not None
        ok &= good
        lines.append(f"  {'ok ' if good else 'BAD'} {item.kind:32} {outcome}")
    bad_codes = [d["trip_id"] for d in gold
                 if d.get("store_and_fwd_flag") not in (*STORE_AND_FWD_FLAGS, None)
                 or d.get("taxi_type") not in TAXI_TYPES]
    ok &= not bad_codes
    lines.append(f"  {'ok ' if not bad_codes else 'BAD'} gold rows since the put with a flag or "
                 f"taxi type outside the dictionary: {len(bad_codes)} of {len(gold)}")
    done = [scored[t] for t in valid_ids if t in scored]
    arrived &= len(done) == len(valid_ids)
    latest = max((_epoch(d["processing_time"]) - put_at for d in done), default=float("nan"))
    on_time = len(done) == len(valid_ids) and latest <= within_s
    ok &= on_time
    lines.append(f"  {'ok ' if on_time else 'BAD'} valid trips put after them scored: "
                 f"{len(done)} of {len(valid_ids)}, the last {latest:.1f} s after the put "
                 f"(limit {within_s:g} s)")
    return Report(lines, ok), arrived


def run_check(settings: Settings, *, valid: int = 200, timeout_s: float = 120.0,
              within_s: float = 60.0, say: Callable[[str], None] = print) -> bool:
    """Send the hostile catalogue and ``valid`` good trips; wait and report. True if all pass."""
    import boto3

    from taximl.schema import trip_id_for
    from taximl.validation import validate_record

    tag = uuid.uuid4().hex
    hostile = catalogue(tag)
    expected_ids = {i: trip_id_for(validate_record(json.loads(h.data)).trip)
                    for i, h in enumerate(hostile) if h.scored}
    good = valid_trips(valid, seed=int(tag[:8], 16))
    records = [(h.data, f"hostile-{tag[:8]}-{i}") for i, h in enumerate(hostile)]
    records += [(data, trip_id) for trip_id, data in good]
    kinesis = boto3.client("kinesis", region_name=settings.region)
    put_at = time.time()
    sequences = put_records(kinesis, settings.stream_name,
                            [{"Data": data, "PartitionKey": key} for data, key in records])
    say(f"put {len(hostile)} hostile records and then {len(good)} valid trips into "
        f"{settings.stream_name}; waiting for gold and quarantine (at most {timeout_s:g} s)")
    deadline = time.monotonic() + timeout_s
    while True:
        report, arrived = check(settings, hostile, sequences[:len(hostile)], expected_ids,
                                [t for t, _ in good], put_at, within_s)
        if arrived or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    for line in report.lines:
        say(line)
    say("PASS: every hostile record was scored or quarantined with a reason" if report.ok
        else "FAIL: see the lines marked BAD above")
    return report.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--valid", type=int, default=200, help="valid trips sent after them")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for everything to arrive (include the Firehose "
                             "buffer: 60 s on AWS)")
    parser.add_argument("--within", type=float, default=60.0,
                        help="valid trips must be scored this many seconds after the put")
    args = parser.parse_args(argv)
    ok = run_check(Settings.from_env(), valid=args.valid, timeout_s=args.timeout,
                   within_s=args.within)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
