"""Documents shaped like the Lambda's gold and quarantine records, indexed for the viz tests.

The records carry the fields ``lambda/scoring.py`` writes (``_scored_record`` and
``_quarantine_record``); they are indexed through the project's own templates and ingest
pipelines (``viz/setup_index.py``), i.e. into daily indices named as Firehose names them.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO, REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from indices import quarantine_index  # noqa: E402

#: Strings a hostile producer could make appear in a quarantine reason.
HOSTILE = ("<script>window.__pwned=1</script>", "<img src=x onerror=\"window.__pwned=2\">",
           "'; DROP TABLE trips; --", "\u0007\u001b[31mred")


@dataclass(frozen=True)
class Indexed:
    """What was indexed: counts a page must show."""

    trips: int
    outliers: int
    quarantined: int
    reasons: dict[str, int]
    outlier_hours: dict[int, int]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def scored_record(i: int, now: datetime, rng: random.Random, version: str) -> dict[str, Any]:
    pickup = datetime(2024, 1, 1 + i % 28, i % 24, rng.randint(0, 59), rng.randint(0, 59))
    fare = round(rng.uniform(4, 60), 2)
    outlier = i % 9 == 0
    predicted = round(fare - (rng.uniform(15, 40) if outlier else rng.uniform(-2, 2)), 4)
    arrival = now - timedelta(seconds=rng.uniform(0, 600))
    return {
        "trip_id": f"viz-{i:06d}", "taxi_type": "yellow", "vendor_id": 2,
        "pickup_datetime": pickup.isoformat(), "dropoff_datetime":
            (pickup + timedelta(minutes=12)).isoformat(),
        "passenger_count": 1.0, "trip_distance": 2.5, "rate_code_id": 1,
        "store_and_fwd_flag": "N", "pu_location_id": [132, 138, 161, 237, 48][i % 5],
        "do_location_id": [236, 170, 230, 1, 264][i % 5], "payment_type": 1,
        "fare_amount": fare, "extra": 0.5, "mta_tax": 0.5, "tip_amount": 1.0,
        "tolls_amount": 0.0, "improvement_surcharge": 1.0, "total_amount": round(fare + 3, 2),
        "congestion_surcharge": 2.5, "airport_fee": 0.0, "predicted_fare": predicted,
        "residual": round(fare - predicted, 4), "anomaly_score": 2.0 if outlier else 0.2,
        "is_outlier": outlier, "threshold_rule": "segment" if i % 2 else "global",
        "threshold": 9.5, "threshold_mode": "calibrated", "meter_fare": fare,
        "model_version": version, "feature_version": "3",
        "event_time": _iso(arrival), "processing_time": _iso(arrival + timedelta(seconds=1)),
    }


def quarantine_record(i: int, now: datetime, reason: str) -> dict[str, Any]:
    arrival = now - timedelta(seconds=30 + i)
    return {"trip_id": None, "reason": reason, "record": {"store_and_fwd_flag": reason},
            "sequence_number": f"4959{i:040d}", "event_time": _iso(arrival),
            "processing_time": _iso(arrival)}


def index_sample(client: Any, settings: Any, trips: int = 450, seed: int = 5,
                 now: datetime | None = None) -> Indexed:
    """Index ``trips`` scored trips (two model versions) and hostile quarantined records."""
    import setup_index

    setup_index.apply_template(settings)
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    day = now.strftime("%Y-%m-%d")
    lines: list[str] = []
    outliers = 0
    hours: dict[int, int] = {}
    for i in range(trips):
        record = scored_record(i, now, rng, "mv-1" if i < trips * 2 // 3 else "mv-2")
        outliers += record["is_outlier"]
        if record["is_outlier"]:
            hour = int(record["pickup_datetime"][11:13])
            hours[hour] = hours.get(hour, 0) + 1
        lines += [json.dumps({"index": {"_index": f"{settings.opensearch_index}-{day}"}}),
                  json.dumps(record)]
    reasons = {"invalid:store_and_fwd_flag": 3, **{f"invalid:{h}": 1 for h in HOSTILE},
               "undecodable:json": 2}
    n = 0
    for reason, count in reasons.items():
        for _ in range(count):
            lines += [json.dumps({"index": {"_index": f"{quarantine_index(settings)}-{day}"}}),
                      json.dumps(quarantine_record(n, now, reason))]
            n += 1
    result = client.bulk(body="\n".join(lines) + "\n")
    assert not result["errors"], [i for i in result["items"] if "error" in next(iter(i.values()))]
    client.indices.refresh(index=f"{settings.opensearch_index}-*,{quarantine_index(settings)}-*")
    return Indexed(trips, outliers, n, reasons, hours)
