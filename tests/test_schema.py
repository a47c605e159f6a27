"""Column variants of TLC files map onto the canonical record."""

from __future__ import annotations

import pandas as pd
import pytest

from taximl.errors import UnsupportedFileError
from taximl.io import iter_trip_chunks, read_trips
from taximl.schema import TRIP_FIELDS, normalize_frame, normalize_record, trip_id_for
from taximl.validation import validate_record

VARIANTS = {
    "yellow official": (
        "VendorID",
        "tpep_pickup_datetime",
        "RatecodeID",
        "PULocationID",
        "improvement_surcharge",
    ),
    "yellow lower-case": (
        "vendorid",
        "tpep_pickup_datetime",
        "ratecodeid",
        "pulocationid",
        "improvement_surcharge",
    ),
    "green official": (
        "VendorID",
        "lpep_pickup_datetime",
        "RatecodeID",
        "PULocationID",
        "improvement_surcharge",
    ),
    "snake_case": (
        "vendor_id",
        "pickup_datetime",
        "rate_code_id",
        "pickup_location_id",
        "improvement_surcharge",
    ),
    "bigquery": (
        "vendor_id",
        "pickup_datetime",
        "rate_code",
        "pickup_location_id",
        "imp_surcharge",
    ),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_maps_to_canonical_names(variant: str) -> None:
    vendor, pickup, rate, pu, imp = VARIANTS[variant]
    raw = {
        vendor: "2",
        pickup: "2023-01-01 10:00:00",
        rate: "1",
        pu: "132",
        imp: "1.0",
        "extra_column": "ignored",
    }
    record = normalize_record(raw)
    assert set(record) == set(TRIP_FIELDS)
    assert (
        record["vendor_id"],
        record["pickup_datetime"],
        record["rate_code_id"],
        record["pu_location_id"],
        record["improvement_surcharge"],
    ) == ("2", "2023-01-01 10:00:00", "1", "132", "1.0")
    frame = normalize_frame(pd.DataFrame([raw]))
    assert list(frame.columns) == list(TRIP_FIELDS)
    assert frame.loc[0, "pu_location_id"] == "132"
    expected_type = "green" if pickup.startswith("lpep") else "yellow"
    assert record["taxi_type"] == frame.loc[0, "taxi_type"] == expected_type


def test_trip_id_is_stable_and_distinguishes_trips() -> None:
    base = {
        "tpep_pickup_datetime": "2023-01-01 10:00:00",
        "tpep_dropoff_datetime": "2023-01-01 10:12:00",
        "trip_distance": 2.0,
        "PULocationID": 1,
        "DOLocationID": 2,
        "fare_amount": 12.5,
    }
    a = validate_record(base).trip
    again = validate_record({k: str(v) for k, v in base.items()}).trip
    other = validate_record({**base, "fare_amount": 13.0}).trip
    assert trip_id_for(a) == trip_id_for(again)
    assert trip_id_for(a) != trip_id_for(other)
    assert len(trip_id_for(a)) == 20


def test_reader_streams_csv_and_parquet_in_chunks(tmp_path) -> None:
    rows = [
        {
            "VendorID": 1,
            "tpep_pickup_datetime": f"2023-01-01 10:{m:02d}:00",
            "tpep_dropoff_datetime": f"2023-01-01 11:{m:02d}:00",
            "fare_amount": 10.0 + m,
        }
        for m in range(25)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "t.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        chunks = list(iter_trip_chunks(tmp_path / name, chunk_rows=10))
        assert [len(c) for c in chunks] == [10, 10, 5]
        assert read_trips(tmp_path / name)["fare_amount"].tolist() == [10.0 + m for m in range(25)]


def test_reader_rejects_files_that_are_not_trips(tmp_path) -> None:
    (tmp_path / "zones.csv").write_text("LocationID,Borough\n1,EWR\n")
    with pytest.raises(UnsupportedFileError, match="not a TLC trip file"):
        read_trips(tmp_path / "zones.csv")
    with pytest.raises(UnsupportedFileError, match=r"expected a \.csv"):
        read_trips(tmp_path / "trips.json")
