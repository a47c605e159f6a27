"""Validation rules, one scenario each, checked on both paths (record and frame)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taximl.validation import validate_frame, validate_record

GOOD = {
    "VendorID": 2,
    "tpep_pickup_datetime": "2023-03-01 08:15:00",
    "tpep_dropoff_datetime": "2023-03-01 08:31:30",
    "passenger_count": 1,
    "trip_distance": 2.4,
    "RatecodeID": 1,
    "store_and_fwd_flag": "N",
    "PULocationID": 161,
    "DOLocationID": 236,
    "payment_type": 1,
    "fare_amount": 17.0,
    "extra": 0.0,
    "mta_tax": 0.5,
    "tip_amount": 4.2,
    "tolls_amount": 0.0,
    "improvement_surcharge": 1.0,
    "total_amount": 25.2,
    "congestion_surcharge": 2.5,
    "airport_fee": 0.0,
}


def _with(**changes: object) -> dict:
    record = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            record.pop(key)
        else:
            record[key] = value
    return record


_DROP = object()

CASES = [
    ("missing_field:fare_amount", {"fare_amount": _DROP}),
    ("missing_field:pickup_datetime", {"tpep_pickup_datetime": ""}),
    ("missing_field:pu_location_id", {"PULocationID": None}),
    ("non_numeric:trip_distance", {"trip_distance": "two miles"}),
    ("non_numeric:passenger_count", {"passenger_count": True}),
    ("non_finite:fare_amount", {"fare_amount": float("inf")}),
    ("non_finite:tip_amount", {"tip_amount": "-inf"}),
    ("non_integer:pu_location_id", {"PULocationID": 161.5}),
    ("bad_timestamp:dropoff_datetime", {"tpep_dropoff_datetime": "yesterday"}),
    ("dropoff_not_after_pickup", {"tpep_dropoff_datetime": "2023-03-01 08:15:00"}),
    ("dropoff_not_after_pickup", {"tpep_dropoff_datetime": "2023-03-01 07:00:00"}),
    ("duration_too_long", {"tpep_dropoff_datetime": "2023-03-01 14:00:00"}),
    (
        "pickup_out_of_range",
        {
            "tpep_pickup_datetime": "2002-12-31 23:50:00",
            "tpep_dropoff_datetime": "2003-01-01 00:05:00",
        },
    ),
    ("negative_distance", {"trip_distance": -1.2}),
    ("absurd_distance", {"trip_distance": 4000}),
    ("unknown_location:pu_location_id", {"PULocationID": 0}),
    ("unknown_location:do_location_id", {"DOLocationID": 266}),
    ("unknown_rate_code", {"RatecodeID": 7}),
    ("absurd_passenger_count", {"passenger_count": 12}),
    ("negative_fare", {"fare_amount": -5.0}),
    ("absurd_fare", {"fare_amount": 25000}),
    # hostile or buggy producers: wrong types, overflow, huge text, values off the dictionary
    ("wrong_type:fare_amount", {"fare_amount": [17.0]}),
    ("wrong_type:pickup_datetime", {"tpep_pickup_datetime": {"$date": 1}}),
    ("wrong_type:store_and_fwd_flag", {"store_and_fwd_flag": ["Y"]}),
    ("non_finite:fare_amount", {"fare_amount": 10**400}),
    ("non_numeric:trip_distance", {"trip_distance": "1" * 900_000}),
    ("bad_timestamp:pickup_datetime", {"tpep_pickup_datetime": "2023-03-01 08:15:00" * 50}),
    ("bad_timestamp:dropoff_datetime", {"tpep_dropoff_datetime": "9999-12-31T23:00:00-05:00"}),
    ("unknown_code:vendor_id", {"VendorID": 3}),
    ("unknown_code:payment_type", {"payment_type": 7}),
    ("unknown_code:store_and_fwd_flag", {"store_and_fwd_flag": "<script>alert(1)</script>"}),
    ("unknown_code:store_and_fwd_flag", {"store_and_fwd_flag": "N'; DROP TABLE trips;--"}),
    ("unknown_code:store_and_fwd_flag", {"store_and_fwd_flag": "\x1b[31mY"}),
    ("unknown_code:store_and_fwd_flag", {"store_and_fwd_flag": "x" * 900_000}),
    ("unknown_code:store_and_fwd_flag", {"store_and_fwd_flag": 1}),
    ("unknown_code:taxi_type", {"taxi_type": "limousine"}),
]


@pytest.mark.parametrize(("reason", "changes"), CASES, ids=[c[0] for c in CASES])
def test_rejected_record_gets_its_reason_on_both_paths(reason: str, changes: dict) -> None:
    record = _with(**changes)
    assert validate_record(record).reason == reason
    frame_check = validate_frame(pd.DataFrame([GOOD, record]))
    assert len(frame_check.valid) == 1, "the good record in the same batch goes on"
    assert list(frame_check.rejected["reason"]) == [reason]


def test_good_record_is_typed_and_canonical() -> None:
    check = validate_record(GOOD)
    assert check.ok and check.reason is None
    trip = check.trip
    assert trip["pickup_datetime"] == datetime(2023, 3, 1, 8, 15)
    assert trip["pu_location_id"] == 161 and isinstance(trip["pu_location_id"], int)
    assert trip["taxi_type"] == "yellow"
    assert trip["fare_amount"] == 17.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("passenger_count", None),
        ("RatecodeID", float("nan")),
        ("congestion_surcharge", ""),
        ("airport_fee", _DROP),
        ("store_and_fwd_flag", None),
        ("store_and_fwd_flag", " "),
        ("VendorID", None),
        ("payment_type", float("nan")),
    ],
)
def test_optional_fields_may_be_missing(field: str, value: object) -> None:
    check = validate_record(_with(**{field: value}))
    assert check.ok, check.reason


def test_columns_missing_from_a_file_are_missing_values_on_both_paths() -> None:
    # GIVEN a file without the optional text and code columns (pandas fills them with pd.NA)
    record = {k: v for k, v in GOOD.items()
              if k not in ("store_and_fwd_flag", "VendorID", "payment_type")}
    # THEN both paths accept it, the absent codes as missing values
    assert validate_record(record).trip["store_and_fwd_flag"] is None
    frame = validate_frame(pd.DataFrame([record, record]))
    assert len(frame.valid) == 2 and frame.rejected.empty
    assert frame.valid["store_and_fwd_flag"].isna().all()
    assert validate_record({**GOOD, "store_and_fwd_flag": pd.NA}).ok
    assert validate_record({**GOOD, "tip_amount": pd.NA}).trip["tip_amount"] is None


def test_first_failing_rule_wins() -> None:
    record = _with(trip_distance=-1, fare_amount=-3, PULocationID=999)
    assert validate_record(record).reason == "negative_distance"
    assert list(validate_frame(pd.DataFrame([record])).rejected["reason"]) == ["negative_distance"]


def test_text_values_parse_like_typed_values() -> None:
    as_text = {key: str(value) for key, value in GOOD.items()}
    assert validate_record(as_text).trip == validate_record(GOOD).trip


def test_frame_path_handles_messy_text_columns() -> None:
    # GIVEN a CSV-like frame where numeric columns arrive as text, some of it garbage
    rows = [
        {key: str(v) for key, v in GOOD.items()},
        {**{key: str(v) for key, v in GOOD.items()}, "fare_amount": "n/a"},
        {**{key: str(v) for key, v in GOOD.items()}, "PULocationID": ""},
    ]
    check = validate_frame(pd.DataFrame(rows))
    assert check.reason_counts() == {
        "non_numeric:fare_amount": 1,
        "missing_field:pu_location_id": 1,
    }
    assert check.valid["fare_amount"].tolist() == [17.0]
    assert check.valid["pu_location_id"].dtype == "Int64"


def test_timezone_labels_keep_the_wall_clock() -> None:
    # BigQuery exports label TLC wall-clock times "+00:00": the clock time must not move
    record = _with(
        tpep_pickup_datetime="2023-03-01 08:15:00+00:00",
        tpep_dropoff_datetime="2023-03-01T08:31:30+00:00",
    )
    assert validate_record(record).trip["pickup_datetime"] == datetime(2023, 3, 1, 8, 15)
    frame = validate_frame(pd.DataFrame([record])).valid
    assert frame["pickup_datetime"].iloc[0] == pd.Timestamp("2023-03-01 08:15")


def test_typed_parquet_like_columns_take_the_vectorised_path() -> None:
    frame = pd.DataFrame([GOOD] * 3)
    frame["tpep_pickup_datetime"] = pd.to_datetime(frame["tpep_pickup_datetime"])
    frame["tpep_dropoff_datetime"] = pd.to_datetime(frame["tpep_dropoff_datetime"])
    frame.loc[1, "fare_amount"] = np.inf
    check = validate_frame(frame)
    assert len(check.valid) == 2
    assert check.reason_counts() == {"non_finite:fare_amount": 1}


def test_trip_id_from_the_input_is_never_trusted() -> None:
    # GIVEN a record that claims another trip's id  WHEN validated on either path
    record = {"trip_id": "<b>someone-else</b>", **GOOD}
    # THEN the claim is dropped like any unknown field: the id is computed from the trip
    assert "trip_id" not in validate_record(record).trip
    assert "trip_id" not in validate_frame(pd.DataFrame([record])).valid.columns
    assert validate_record(record).trip == validate_record(GOOD).trip


def test_every_text_field_of_a_valid_trip_is_a_dictionary_code() -> None:
    trip = validate_record(_with(store_and_fwd_flag=" Y ", taxi_type="GREEN")).trip
    assert trip["store_and_fwd_flag"] == "Y" and trip["taxi_type"] == "green"
    frame = validate_frame(pd.DataFrame([_with(store_and_fwd_flag=" Y ", taxi_type="GREEN")]))
    assert frame.valid[["store_and_fwd_flag", "taxi_type"]].iloc[0].tolist() == ["Y", "green"]


# --- property: whatever a producer sends, both paths decide alike and neither raises ---------
HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**320),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " ", "Y", "N", "y", "yellow", "GREEN", "<script>alert(1)</script>",
                     "1e999", "NaN", "-0", "0x10", "2023-03-01 08:20:00", "2023-03-01T08:20+05:00",
                     "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00", "9" * 200]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(_DROP),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(st.sampled_from(sorted(GOOD)), HOSTILE_VALUES, min_size=1,
                               max_size=4))
def test_record_and_frame_paths_agree_on_hostile_values(changes: dict) -> None:
    record = _with(**changes)
    check = validate_record(record)
    frame = validate_frame(pd.DataFrame([GOOD, record]))
    assert len(frame.valid) == (2 if check.ok else 1)
    if check.ok:
        assert frame.rejected.empty
        assert frame.valid.iloc[1]["fare_amount"] == check.trip["fare_amount"]
        assert check.trip["store_and_fwd_flag"] in (None, "Y", "N")
    else:
        assert list(frame.rejected["reason"]) == [check.reason]
