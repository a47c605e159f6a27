"""Feature values on hand-checked trips, and the meter formula baseline."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from taximl.fares import meter_fare
from taximl.features import FEATURE_COLUMNS, features_for_record, features_frame, features_to_csv
from taximl.validation import validate_frame, validate_record


def _trip(**changes: object) -> dict:
    base = {
        "tpep_pickup_datetime": "2023-03-01 17:00:00",  # a Wednesday, rush hour
        "tpep_dropoff_datetime": "2023-03-01 17:20:00",
        "trip_distance": 3.0,
        "PULocationID": 132,
        "DOLocationID": 236,
        "RatecodeID": 1,
        "passenger_count": 2,
        "fare_amount": 20.0,
    }
    base.update(changes)
    return base


def test_features_of_a_rush_hour_trip_from_jfk() -> None:
    f = features_for_record(validate_record(_trip()).trip)
    assert list(f) == list(FEATURE_COLUMNS)
    assert f["duration_min"] == 20.0
    assert f["speed_mph"] == 9.0
    assert (f["pickup_hour"], f["pickup_dow"], f["is_weekend"]) == (17.0, 2.0, 0.0)
    assert (f["is_rush_hour"], f["is_overnight"]) == (1.0, 0.0)
    assert (f["pickup_airport"], f["dropoff_airport"], f["is_airport_trip"]) == (2.0, 0.0, 1.0)
    # 3 miles = 15 units; 20 min - 15 min at 12 mph = 5 slow units; $3 + 20 * $0.70
    assert f["meter_fare"] == pytest.approx(17.0)


@pytest.mark.parametrize(
    ("pickup", "rush", "overnight", "weekend"),
    [
        ("2023-03-04 17:00:00", 0.0, 0.0, 1.0),  # Saturday: no rush hour
        ("2023-03-01 20:00:00", 0.0, 1.0, 0.0),
        ("2023-03-01 05:59:00", 0.0, 1.0, 0.0),
        ("2023-03-01 06:00:00", 0.0, 0.0, 0.0),
        ("2023-03-01 16:00:00", 1.0, 0.0, 0.0),
    ],
)
def test_time_flags(pickup: str, rush: float, overnight: float, weekend: float) -> None:
    dropoff = str(pd.Timestamp(pickup) + pd.Timedelta(minutes=10))
    f = features_for_record(
        validate_record(_trip(tpep_pickup_datetime=pickup, tpep_dropoff_datetime=dropoff)).trip
    )
    assert (f["is_rush_hour"], f["is_overnight"], f["is_weekend"]) == (rush, overnight, weekend)


def test_meter_formula_follows_the_tariff_of_its_date() -> None:
    new, old = datetime(2023, 1, 5, 12), datetime(2019, 1, 5, 12)
    assert meter_fare(1.0, 5.0, new, 1) == pytest.approx(3.00 + 0.70 * 5)
    assert meter_fare(1.0, 5.0, old, 1) == pytest.approx(2.50 + 0.50 * 5)
    assert meter_fare(18.0, 50.0, new, 2) == 70.0
    assert meter_fare(18.0, 50.0, old, 2) == 52.0
    # a slow trip pays time: 1 mile in 15 min = 5 distance units + 10 slow minutes
    assert meter_fare(1.0, 15.0, new, 1) == pytest.approx(3.00 + 0.70 * 15)


def test_missing_optional_values_stay_missing_on_both_paths() -> None:
    record = _trip(RatecodeID=None, passenger_count="")
    single = features_for_record(validate_record(record).trip)
    batch = features_frame(validate_frame(pd.DataFrame([record])).valid)
    assert single["rate_code_id"] is None and single["passenger_count"] is None
    assert batch["rate_code_id"].isna().all() and batch["passenger_count"].isna().all()
    assert features_to_csv([single]).split(",")[11:13] == ["", ""]


def test_csv_body_has_one_line_per_trip_in_model_order() -> None:
    rows = [features_for_record(validate_record(_trip(trip_distance=d)).trip) for d in (1.5, 3.0)]
    body = features_to_csv(rows)
    lines = body.split("\n")
    assert len(lines) == 2
    assert [float(v) for v in lines[0].split(",")] == [rows[0][c] for c in FEATURE_COLUMNS]
    assert lines[1].startswith("3,20,9,17,2,0,1,0,2,0,1,1,2,132,236,")


def test_split_by_limits_respects_items_and_bytes() -> None:
    from taximl.batching import backoff_seconds, split_by_limits

    assert split_by_limits([100] * 10, max_items=4, max_bytes=10_000) == [(0, 4), (4, 8), (8, 10)]
    assert split_by_limits([100] * 10, max_items=100, max_bytes=350) == [
        (0, 3),
        (3, 6),
        (6, 9),
        (9, 10),
    ]
    assert split_by_limits([500, 10, 10], max_items=10, max_bytes=100) == [(0, 1), (1, 3)]
    assert split_by_limits([], max_items=1, max_bytes=1) == []
    for attempt in (1, 2, 3, 8):
        ceiling = min(2.0, 0.1 * 2 ** (attempt - 1))
        assert ceiling / 2 <= backoff_seconds(attempt, 0.1, 2.0) <= ceiling
