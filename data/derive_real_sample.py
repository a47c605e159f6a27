"""Derive the bundled real sample (``data/real_sample/``) from the shared real TLC samples.

    python data/derive_real_sample.py            # ../shared/data -> data/real_sample/

Input: the great_expectations test sets of real NYC TLC yellow trips (10,000 trips drawn from
each month, snake_case CSV; Apache License 2.0), ``<shared>/tlc/yellow-2018-2020/
yellow_tripdata_sample_2019-MM.csv``. Output: the same trips as the TLC publishes its months
today, one Parquet file per month with the official yellow column names and types
(``VendorID`` int64, ``tpep_pickup_datetime`` timestamp, ``passenger_count`` and ``RatecodeID``
double, ..., ``airport_fee`` double, empty before 2022), rows sorted by pickup time:

- ``history/yellow_tripdata_2019-06.parquet`` .. ``2019-11``: what step 1 loads and step 2
  trains on;
- ``holdout/yellow_tripdata_2019-12.parquet``: a later month, never trained on, that the demo
  streams (with labelled anomalies mixed in) and ``sagemaker/evaluate_detection.py`` scores.

No value is changed and no row is dropped: invalid trips (negative fares, dropoff before
pickup, ...) stay, as in the TLC's files. ``tests/data/test_real_sample.py`` re-derives the
files when the shared data is present and compares them with the committed ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
DEFAULT_OUT = REPO / "data" / "real_sample"
SOURCE = "tlc/yellow-2018-2020/yellow_tripdata_sample_{month}.csv"
HISTORY_MONTHS = ("2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11")
HOLDOUT_MONTHS = ("2019-12",)

#: Source column (great_expectations snake_case) -> TLC yellow Parquet column and its type.
COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("vendor_id", "VendorID", pa.int64()),
    ("pickup_datetime", "tpep_pickup_datetime", pa.timestamp("us")),
    ("dropoff_datetime", "tpep_dropoff_datetime", pa.timestamp("us")),
    ("passenger_count", "passenger_count", pa.float64()),
    ("trip_distance", "trip_distance", pa.float64()),
    ("rate_code_id", "RatecodeID", pa.float64()),
    ("store_and_fwd_flag", "store_and_fwd_flag", pa.string()),
    ("pickup_location_id", "PULocationID", pa.int64()),
    ("dropoff_location_id", "DOLocationID", pa.int64()),
    ("payment_type", "payment_type", pa.int64()),
    ("fare_amount", "fare_amount", pa.float64()),
    ("extra", "extra", pa.float64()),
    ("mta_tax", "mta_tax", pa.float64()),
    ("tip_amount", "tip_amount", pa.float64()),
    ("tolls_amount", "tolls_amount", pa.float64()),
    ("improvement_surcharge", "improvement_surcharge", pa.float64()),
    ("total_amount", "total_amount", pa.float64()),
    ("congestion_surcharge", "congestion_surcharge", pa.float64()),
    ("airport_fee", "airport_fee", pa.float64()),
)
SCHEMA = pa.schema([pa.field(name, kind) for _, name, kind in COLUMNS])


def derive_month(source: Path) -> pa.Table:
    """One shared CSV month as a TLC-layout Arrow table (rows sorted by pickup time)."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    columns = {}
    for src, name, kind in COLUMNS:
        text = frame[src] if src in frame.columns else pd.Series([""] * len(frame), dtype=str)
        text = text.str.strip().replace("", None)
        if pa.types.is_timestamp(kind):
            values = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S").astype("datetime64[us]")
        elif pa.types.is_integer(kind):
            values = pd.to_numeric(text).astype("Int64")
        elif pa.types.is_floating(kind):
            values = pd.to_numeric(text).astype("float64")
        else:
            values = text.astype("string")
        columns[name] = values
    table = pa.Table.from_pandas(pd.DataFrame(columns), schema=SCHEMA, preserve_index=False)
    order = pc.sort_indices(table, sort_keys=[("tpep_pickup_datetime", "ascending"),
                                                      ("tpep_dropoff_datetime", "ascending")])
    return table.take(order)


def target_path(out: Path, month: str) -> Path:
    folder = "holdout" if month in HOLDOUT_MONTHS else "history"
    return out / folder / f"yellow_tripdata_{month}.parquet"


def derive(shared: Path, out: Path) -> list[Path]:
    """Write every month of the sample under ``out``; returns the files."""
    written = []
    for month in (*HISTORY_MONTHS, *HOLDOUT_MONTHS):
        source = shared / SOURCE.format(month=month)
        if not source.is_file():
            raise FileNotFoundError(f"{source} not found (set SHARED_DATA_DIR or --shared)")
        path = target_path(out, month)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(derive_month(source), path, compression="zstd", compression_level=9,
                       row_group_size=100_000)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="the shared data folder (holds tlc/yellow-2018-2020/)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        files = derive(args.shared, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in files:
        print(f"wrote {path} ({pq.read_metadata(path).num_rows:,} trips, "
              f"{path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
