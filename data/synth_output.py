"""Chunked writers for generated trips: CSV (appended) and Parquet (one row group per chunk).

Both write to ``<out>.tmp`` and rename at the end, so a crashed run never leaves a half file
under the final name. Memory stays bounded by one chunk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synth_trips import LABEL_COLUMN, TRIP_COLUMNS

#: Parquet types of the official 2023 yellow files (nullable integers stored as double there).
PARQUET_TYPES: dict[str, pa.DataType] = {
    "VendorID": pa.int64(),
    "tpep_pickup_datetime": pa.timestamp("us"),
    "tpep_dropoff_datetime": pa.timestamp("us"),
    "passenger_count": pa.float64(),
    "trip_distance": pa.float64(),
    "RatecodeID": pa.float64(),
    "store_and_fwd_flag": pa.string(),
    "PULocationID": pa.int64(),
    "DOLocationID": pa.int64(),
    "payment_type": pa.int64(),
    "fare_amount": pa.float64(),
    "extra": pa.float64(),
    "mta_tax": pa.float64(),
    "tip_amount": pa.float64(),
    "tolls_amount": pa.float64(),
    "improvement_surcharge": pa.float64(),
    "total_amount": pa.float64(),
    "congestion_surcharge": pa.float64(),
    "Airport_fee": pa.float64(),
    LABEL_COLUMN: pa.string(),
}
_CSV_INTEGER_COLUMNS = ("passenger_count", "RatecodeID")


class TripSink(Protocol):
    """Where generated chunks go."""

    def write(self, chunk: pd.DataFrame) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class CsvSink:
    """CSV in TLC style: ``YYYY-MM-DD HH:MM:SS`` times, amounts with 2 decimals, empty = missing."""

    def __init__(self, path: Path, with_label: bool) -> None:
        self.path = path
        self.columns = [*TRIP_COLUMNS, *([LABEL_COLUMN] if with_label else [])]
        self._tmp = path.with_name(path.name + ".tmp")
        self._fh = self._tmp.open("w", encoding="utf-8", newline="")
        self._header = True

    def write(self, chunk: pd.DataFrame) -> None:
        chunk = chunk[self.columns].copy()
        for name in _CSV_INTEGER_COLUMNS:
            if pd.api.types.is_float_dtype(chunk[name]):
                chunk[name] = chunk[name].astype("Int64")
        chunk.to_csv(
            self._fh,
            header=self._header,
            index=False,
            float_format="%.2f",
            date_format="%Y-%m-%d %H:%M:%S",
            lineterminator="\n",
        )
        self._header = False

    def close(self) -> None:
        self._fh.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class ParquetSink:
    """Parquet with the official yellow column names and types; one row group per chunk."""

    def __init__(self, path: Path, with_label: bool) -> None:
        self.path = path
        self.columns = [*TRIP_COLUMNS, *([LABEL_COLUMN] if with_label else [])]
        self.schema = pa.schema([(name, PARQUET_TYPES[name]) for name in self.columns])
        self._tmp = path.with_name(path.name + ".tmp")
        self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")

    def write(self, chunk: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(chunk[self.columns], schema=self.schema, preserve_index=False)
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)


def open_sink(path: Path, with_label: bool) -> TripSink:
    """A writer for ``path`` chosen by its suffix (.csv or .parquet)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        return CsvSink(path, with_label)
    if suffix in (".parquet", ".pq"):
        return ParquetSink(path, with_label)
    raise ValueError(f"unsupported output format {suffix!r}: use .csv or .parquet")
