"""trip_source: validation, stable ids, malformed rows, start-at and loop, file variants."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pytest

from streaming_factories import tlc_row, write_csv
from taximl.schema import raw_trip_id, trip_id_for
from taximl.validation import validate_record
from trip_source import SourceStats, iter_trips, json_safe, parse_start_at, prepare_row


def _trips(path, **kwargs):
    stats = SourceStats()
    return list(iter_trips(path, stats, **kwargs)), stats


def test_valid_rows_get_stable_ids_and_typed_payloads(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(20)])
    first, stats = _trips(path)
    second, _ = _trips(path)
    assert [t.trip_id for t in first] == [t.trip_id for t in second]
    assert len({t.trip_id for t in first}) == 20 and stats.valid == 20
    payload = json.loads(first[0].data)
    assert payload["trip_id"] == first[0].trip_id
    assert payload["pickup_datetime"] == "2024-01-15T08:00:00"
    # the Lambda's validation accepts what the producer sends and computes the same id
    check = validate_record(payload)
    assert check.ok and trip_id_for(check.trip) == first[0].trip_id


def test_invalid_rows_are_sent_so_the_lambda_finds_the_same_reason(tmp_path) -> None:
    rows = [tlc_row(0), tlc_row(1, fare_amount="abc"), tlc_row(2, PULocationID=999),
            tlc_row(3, tpep_dropoff_datetime="2024-01-01 00:00:00"), tlc_row(4, trip_distance=None)]
    path = write_csv(tmp_path / "t.csv", rows)
    trips, stats = _trips(path)
    assert stats.valid == 1 and stats.invalid_sent == 4
    for trip in trips[1:]:
        assert trip.reason is not None
        assert validate_record(json.loads(trip.data)).reason == trip.reason
        assert raw_trip_id(json.loads(trip.data)) == trip.trip_id  # the quarantine's id
    assert set(stats.invalid_reasons) == {
        "non_numeric:fare_amount", "unknown_location:pu_location_id",
        "dropoff_not_after_pickup", "missing_field:trip_distance"}


def test_skip_mode_counts_invalid_rows_with_reasons(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(0), tlc_row(1, fare_amount=-5)])
    trips, stats = _trips(path, send_invalid=False)
    assert len(trips) == 1
    assert dict(stats.skipped) == {"invalid:negative_fare": 1}


def test_non_finite_values_stay_non_finite() -> None:
    assert json_safe(math.inf) == "inf" and json_safe(float("nan")) is None
    trip, skip = prepare_row({**validate_record(tlc_row(0)).trip, "fare_amount": math.inf},
                             send_invalid=True, partition_key="trip_id")
    assert skip is None and trip.reason == "non_finite:fare_amount"
    assert validate_record(json.loads(trip.data)).reason == "non_finite:fare_amount"


def test_start_at_row_number_and_pickup_time(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(10)])
    by_row, _ = _trips(path, start_at=parse_start_at("7"))
    assert len(by_row) == 3
    by_time, stats = _trips(path, start_at=parse_start_at("2024-01-15T08:35:00"))
    assert len(by_time) == 5 and stats.skipped["before_start_at"] == 5
    assert parse_start_at(None) is None
    with pytest.raises(ValueError):
        parse_start_at("yesterday")


def test_loop_repeats_the_file(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(4)])
    trips, stats = _trips(path, loop=True, max_passes=3)
    assert len(trips) == 12 and stats.passes == 3


def test_sort_by_pickup_orders_each_chunk(tmp_path) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in (5, 1, 3, 0)])
    trips, _ = _trips(path, sort_by_pickup=True)
    pickups = [t.pickup for t in trips]
    assert pickups == sorted(pickups)


def test_event_time_replay_orders_across_chunk_boundaries(tmp_path) -> None:
    # GIVEN a file in rough time order (trips displaced by up to 6 rows) read in chunks of 4,
    # with an invalid row whose pickup is years earlier
    order = [3, 0, 5, 1, 2, 8, 4, 9, 6, 7, 11, 10]
    rows = [tlc_row(i) for i in order]
    rows.insert(5, tlc_row(99, tpep_pickup_datetime="2002-01-01 00:00:00",
                            tpep_dropoff_datetime="2002-01-01 00:10:00"))
    path = write_csv(tmp_path / "t.csv", rows)
    trips, stats = _trips(path, sort_by_pickup=True, chunk_rows=4)
    # THEN the valid trips come out in pickup order, the invalid one is still sent
    valid = [t.pickup for t in trips if t.reason is None]
    assert valid == sorted(valid) and len(valid) == 12
    assert [t.reason for t in trips if t.reason] == ["pickup_out_of_range"]
    assert stats.valid == 12 and stats.invalid_sent == 1


def test_green_parquet_variant(tmp_path) -> None:
    import pandas as pd

    rows = []
    for i in range(5):
        row = tlc_row(i)
        row["lpep_pickup_datetime"] = pd.Timestamp(row.pop("tpep_pickup_datetime"))
        row["lpep_dropoff_datetime"] = pd.Timestamp(row.pop("tpep_dropoff_datetime"))
        rows.append(row)
    path = tmp_path / "green.parquet"
    pd.DataFrame(rows).to_parquet(path)
    trips, stats = _trips(path, partition_key="pickup_zone")
    assert stats.valid == 5
    payload = json.loads(trips[0].data)
    assert payload["taxi_type"] == "green" and trips[0].partition_key == "zone-100"
    assert isinstance(trips[0].pickup, datetime)
