"""The trip contract over every real TLC sample: every variant loads, counts are stable."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from taximl.features import FEATURE_COLUMNS, features_for_record, features_frame
from taximl.io import read_trips
from taximl.schema import TRIP_FIELDS
from taximl.validation import validate_frame, validate_record

SNAPSHOT = Path(__file__).parent / "snapshots" / "tlc_reason_counts.json"


def _raw_records(path: Path) -> list[dict]:
    """The file's rows as raw dicts, as a producer or the Lambda would see them (text for CSV)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")


def _counts(path: Path) -> dict:
    check = validate_frame(read_trips(path))
    return {
        "rows": len(check.valid) + len(check.rejected),
        "valid": len(check.valid),
        "rejected": check.reason_counts(),
    }


def test_every_sample_variant_loads_into_canonical_columns(tlc_sample_files: list[Path]) -> None:
    files = tlc_sample_files
    assert len(files) >= 39, "expected the 2018-2020, 2021, 2022 and 2023 samples"
    for path in files:
        trips = read_trips(path)
        assert list(trips.columns) == list(TRIP_FIELDS), path.name
        assert trips["pickup_datetime"].notna().mean() > 0.99, path.name
        assert trips["fare_amount"].notna().mean() > 0.99, path.name
        assert trips["pu_location_id"].notna().mean() > 0.99, path.name


def test_reason_counts_are_stable_and_plausible(tlc_sample_files: list[Path]) -> None:
    # GIVEN every real sample  WHEN validated  THEN counts match the reviewed snapshot
    counts = {p.name: _counts(p) for p in tlc_sample_files}
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n")
    assert counts == json.loads(SNAPSHOT.read_text())
    for name, c in counts.items():
        # real TLC data: at most a few percent unusable rows, mostly refunds and bad clocks
        assert c["valid"] / c["rows"] > 0.97, name
        assert set(c["rejected"]) <= {
            "negative_fare",
            "duration_too_long",
            "dropoff_not_after_pickup",
            "negative_distance",
            "absurd_fare",
            "absurd_distance",
            "pickup_out_of_range",
        }, name


@pytest.mark.parametrize(
    "sample",
    [
        "yellow_2022_sample.csv",
        "yellow_2023_sample.parquet",
        "yellow-2018-2020/yellow_tripdata_sample_2019-06.csv",
        "yellow-2018-2020/yellow_tripdata_sample_2021.csv",
    ],
)
def test_batch_and_record_paths_agree_on_every_row(shared_data_dir: Path, sample: str) -> None:
    path = shared_data_dir / "tlc" / sample
    frame_check = validate_frame(read_trips(path))
    record_checks = [validate_record(r) for r in _raw_records(path)]

    # same decision and reason for each row, in order
    frame_reasons = iter(frame_check.rejected["reason"])
    valid_rows = iter(frame_check.valid.to_dict("records"))
    for check in record_checks:
        if check.ok:
            assert _plain(next(valid_rows)) == _plain(check.trip)
        else:
            assert next(frame_reasons) == check.reason


def test_train_serve_feature_parity_on_real_samples(tlc_sample_files: list[Path]) -> None:
    # GIVEN the same real trips  WHEN features are computed by the training (frame) path and by
    # the inference (per-record) path  THEN every feature value is identical, bit for bit
    for path in tlc_sample_files:
        frame_check = validate_frame(read_trips(path))
        batch = features_frame(frame_check.valid)
        single = [
            features_for_record(c.trip) for c in map(validate_record, _raw_records(path)) if c.ok
        ]
        assert len(single) == len(batch), path.name
        for row, expected in zip(batch.itertuples(index=False), single, strict=True):
            for name, value in zip(FEATURE_COLUMNS, row, strict=True):
                other = expected[name]
                if other is None:
                    assert math.isnan(value), (path.name, name)
                else:
                    assert value == other, (path.name, name, value, other)


def _plain(trip: dict) -> dict:
    """Comparable python values: NaN/NA -> None, pandas Timestamp -> datetime, ints as ints."""
    out = {}
    for key, value in trip.items():
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            out[key] = None
        elif isinstance(value, pd.Timestamp):
            out[key] = value.to_pydatetime()
        elif hasattr(value, "item"):
            out[key] = value.item()
        else:
            out[key] = value
    return out
