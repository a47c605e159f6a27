"""Step 1's bronze layer: TLC trip files -> one Parquet file per taxi type and pickup month.

Input: what the TLC publishes (monthly Parquet, older CSV, CSV.gz), yellow or green, in any of
the column naming schemes :mod:`taximl.schema` knows. The taxi type is recognised from the
columns (``tpep_*`` / ``airport_fee`` = yellow, ``lpep_*`` / ``ehail_fee`` / ``trip_type`` =
green); files whose columns carry no hint (the snake_case or BigQuery exports) fall back to a
``taxi_type`` column or to the file name (``yellow_...`` / ``green_...``).

Output: Parquet files with *exactly* the column names and types of the raw tables
(``infra/sql/raw_yellow_table.sql``, ``raw_green_table.sql``), one per pickup month, under
``<out>/<taxi_type>/year=YYYY/month=MM/<file stem>.parquet``. Why rewrite the TLC's Parquet
instead of copying the bytes: its monthly files drift in type (``passenger_count`` and
``RatecodeID`` are double in some months and int64 in others) and in name case
(``Airport_fee``/``airport_fee``), and Athena reads a Parquet column only as its own type or a
wider one of the same kind, so one table over the raw months needs one physical schema. Values
are kept as they are; a value that does not fit its column (text in a number column of a CSV, a
fractional vendor id) becomes NULL, as Athena's CSV SerDe would read it, and is counted.
Columns outside the TLC layout (e.g. a label column) are not uploaded and are reported. Rows
whose pickup time cannot be read have no month: they are skipped and counted.

Memory is bounded by ``chunk_rows`` (the file is read and written in chunks).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taximl.errors import UnsupportedFileError
from taximl.io import file_format
from taximl.schema import canonical_name

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

TAXI_TYPES = ("yellow", "green")
DEFAULT_CHUNK_ROWS = 500_000
TRIP_FILE_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz")

# Raw table columns per taxi type, in the TLC's order (names lower-cased, as Glue keeps them).
# Types: "bigint", "double", "string", "timestamp"; they must equal the DDL files (a test checks).
_YELLOW = (
    ("vendorid", "bigint"), ("tpep_pickup_datetime", "timestamp"),
    ("tpep_dropoff_datetime", "timestamp"), ("passenger_count", "double"),
    ("trip_distance", "double"), ("ratecodeid", "double"), ("store_and_fwd_flag", "string"),
    ("pulocationid", "bigint"), ("dolocationid", "bigint"), ("payment_type", "bigint"),
    ("fare_amount", "double"), ("extra", "double"), ("mta_tax", "double"),
    ("tip_amount", "double"), ("tolls_amount", "double"), ("improvement_surcharge", "double"),
    ("total_amount", "double"), ("congestion_surcharge", "double"), ("airport_fee", "double"),
    ("cbd_congestion_fee", "double"),
)
_GREEN = (
    ("vendorid", "bigint"), ("lpep_pickup_datetime", "timestamp"),
    ("lpep_dropoff_datetime", "timestamp"), ("store_and_fwd_flag", "string"),
    ("ratecodeid", "double"), ("pulocationid", "bigint"), ("dolocationid", "bigint"),
    ("passenger_count", "double"), ("trip_distance", "double"), ("fare_amount", "double"),
    ("extra", "double"), ("mta_tax", "double"), ("tip_amount", "double"),
    ("tolls_amount", "double"), ("ehail_fee", "double"), ("improvement_surcharge", "double"),
    ("total_amount", "double"), ("payment_type", "bigint"), ("trip_type", "double"),
    ("congestion_surcharge", "double"), ("cbd_congestion_fee", "double"),
)
RAW_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {"yellow": _YELLOW, "green": _GREEN}
PICKUP_COLUMN = {"yellow": "tpep_pickup_datetime", "green": "lpep_pickup_datetime"}
DROPOFF_COLUMN = {"yellow": "tpep_dropoff_datetime", "green": "lpep_dropoff_datetime"}

# Canonical field (taximl.schema) -> raw column, for the variants with other names.
_FROM_CANONICAL = {
    "vendor_id": "vendorid", "rate_code_id": "ratecodeid", "pu_location_id": "pulocationid",
    "do_location_id": "dolocationid",
}
_GREEN_HINTS = ("lpep_pickup_datetime", "lpep_dropoff_datetime", "ehail_fee", "trip_type")
_YELLOW_HINTS = ("tpep_pickup_datetime", "tpep_dropoff_datetime", "airport_fee")
_PARQUET_MAGIC = b"PAR1"
#: What reading a broken file raises (pyarrow's errors are ValueError/OSError subclasses too;
#: a truncated .csv.gz ends in EOFError or zlib.error).
_READ_ERRORS = (OSError, ValueError, UnicodeDecodeError, EOFError, zlib.error)
_EXPECTED = ("expected a TLC yellow or green trip file (Parquet or CSV) with pickup and dropoff "
             "times and fare_amount, e.g. yellow_tripdata_2024-01.parquet")


@dataclass(frozen=True)
class MonthFile:
    """One converted month: where the local Parquet file is and how many trips it holds."""

    taxi_type: str
    year: str
    month: str
    path: Path
    rows: int

    @property
    def key(self) -> str:
        """The object key under the raw bucket: ``trips/<type>/year=YYYY/month=MM/<name>``."""
        return f"trips/{self.taxi_type}/year={self.year}/month={self.month}/{self.path.name}"


@dataclass
class Converted:
    """What :func:`convert_file` made of one input file."""

    source: Path
    taxi_type: str
    months: list[MonthFile] = field(default_factory=list)
    rows_read: int = 0
    skipped_no_pickup: int = 0
    nulled: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return sum(m.rows for m in self.months)


# --- which files -------------------------------------------------------------------------------
def is_trip_file_name(path: Path) -> bool:
    """Parquet or CSV by its name (``.part`` downloads and hidden files are not)."""
    name = path.name.lower()
    return not name.startswith((".", "_")) and name.endswith(TRIP_FILE_SUFFIXES)


def input_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to load: given files as they are, folders expanded to their trip files.

    In a folder (not recursive) only ``.parquet``/``.csv``/``.csv.gz`` files count, and files
    whose columns are not trip columns (the zone lookup table ``data/download.py`` caches next
    to the months) are skipped with a note. Returns (files, notes).
    """
    files: list[Path] = []
    notes: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and is_trip_file_name(p))
            for candidate in found:
                try:
                    detect_taxi_type(read_columns(candidate), candidate.name)
                except UnsupportedFileError as exc:
                    notes.append(f"skipped {candidate}: {exc}")
                    continue
                files.append(candidate)
            if not found:
                notes.append(f"no .parquet, .csv or .csv.gz files in {path}")
        elif path.is_file():
            files.append(path)
        else:
            raise UnsupportedFileError(f"{path}: no such file or folder")
    if not files:
        raise UnsupportedFileError(f"no trip files to load in {', '.join(map(str, paths))} "
                                   f"({_EXPECTED})")
    return files, notes


def output_stem(path: Path) -> str:
    """``yellow_tripdata_2024-01.parquet`` -> ``yellow_tripdata_2024-01`` (``.csv.gz`` too)."""
    name = path.name
    for suffix in sorted(TRIP_FILE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


# --- which columns -----------------------------------------------------------------------------
def read_columns(path: Path) -> list[str]:
    """The column names of a Parquet or CSV file (one-line UnsupportedFileError otherwise)."""
    import pandas as pd
    import pyarrow.parquet as pq

    kind = _kind(path)
    try:
        if kind == "parquet":
            return [str(name) for name in pq.read_schema(path).names]
        return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    except _READ_ERRORS as exc:
        raise UnsupportedFileError(f"{path}: unreadable {kind} file ({_first_line(exc)}); "
                                   f"{_EXPECTED}") from None


def detect_taxi_type(columns: list[str], file_name: str = "", taxi_types: Any = None) -> str:
    """``"yellow"`` or ``"green"`` from the columns, else from the file name; raises otherwise.

    ``taxi_types`` are the values of a ``taxi_type`` column, when the file has one.
    """
    lowered = {str(c).strip().lower() for c in columns}
    known = {canonical_name(c) for c in columns} - {None}
    if not {"pickup_datetime", "dropoff_datetime", "fare_amount"} <= known:
        shown = ", ".join(list(map(str, columns))[:6]) + (", ..." if len(columns) > 6 else "")
        raise UnsupportedFileError(f"not a trip file (columns: {shown}); {_EXPECTED}")
    green = any(h in lowered for h in _GREEN_HINTS)
    yellow = any(h in lowered for h in _YELLOW_HINTS)
    if green and yellow:
        raise UnsupportedFileError("has both yellow (tpep_) and green (lpep_) columns; "
                                   "expected one taxi type per file")
    if green or yellow:
        return "green" if green else "yellow"
    values = {str(v).strip().lower() for v in (taxi_types or ()) if str(v).strip()}
    if len(values) == 1 and next(iter(values)) in TAXI_TYPES:
        return next(iter(values))
    stem = file_name.lower()
    for taxi_type in TAXI_TYPES:
        if stem.startswith(taxi_type):
            return taxi_type
    raise UnsupportedFileError("cannot tell yellow from green trips: expected tpep_ (yellow) or "
                               "lpep_ (green) time columns, a taxi_type column or a file name "
                               "starting with yellow_ or green_")


def column_mapping(columns: list[str], taxi_type: str) -> tuple[dict[str, str], list[str]]:
    """Source column -> raw column, and the source columns left out (first source wins)."""
    targets = {name for name, _ in RAW_COLUMNS[taxi_type]}
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for column in columns:
        key = str(column).strip().lower()
        target = key if key in targets else _from_canonical(canonical_name(str(column)),
                                                            taxi_type)
        if target is None or target not in targets or target in mapping.values():
            ignored.append(str(column))
            continue
        mapping[column] = target
    return mapping, ignored


def _from_canonical(canonical: str | None, taxi_type: str) -> str | None:
    if canonical is None:
        return None
    if canonical == "pickup_datetime":
        return PICKUP_COLUMN[taxi_type]
    if canonical == "dropoff_datetime":
        return DROPOFF_COLUMN[taxi_type]
    return _FROM_CANONICAL.get(canonical, canonical)


# --- types -------------------------------------------------------------------------------------
def arrow_schema(taxi_type: str) -> pa.Schema:
    """The raw table's columns as an Arrow schema (what every uploaded file holds)."""
    import pyarrow as pa

    types = {"bigint": pa.int64(), "double": pa.float64(), "string": pa.string(),
             "timestamp": pa.timestamp("us")}
    return pa.schema([pa.field(name, types[kind]) for name, kind in RAW_COLUMNS[taxi_type]])


def conform(chunk: pd.DataFrame, taxi_type: str, mapping: dict[str, str]
            ) -> tuple[pd.DataFrame, Counter[str]]:
    """The chunk in the raw table's columns and types; per column, values turned NULL."""
    import pandas as pd

    out: dict[str, pd.Series] = {}
    nulled: Counter[str] = Counter()
    source_of = {target: source for source, target in mapping.items()}
    for name, kind in RAW_COLUMNS[taxi_type]:
        if name not in source_of:
            out[name] = pd.Series([None] * len(chunk), index=chunk.index, dtype=_pandas_dtype(kind))
            continue
        raw = chunk[source_of[name]]
        value = _typed(raw, kind)
        lost = int((_present(raw) & value.isna()).sum())
        if lost:
            nulled[name] += lost
        out[name] = value
    return pd.DataFrame(out, index=chunk.index), nulled


def _pandas_dtype(kind: str) -> str:
    return {"bigint": "Int64", "double": "float64", "string": "string",
            "timestamp": "datetime64[us]"}[kind]


def _present(raw: pd.Series) -> pd.Series:
    """Values that hold something (not null, not an empty or blank string)."""
    import pandas as pd

    present = raw.notna()
    if pd.api.types.is_object_dtype(raw) or pd.api.types.is_string_dtype(raw):
        present &= raw.astype("string").str.strip().fillna("") != ""
    return present


def _typed(raw: pd.Series, kind: str) -> pd.Series:
    import numpy as np
    import pandas as pd

    if kind == "string":
        text = raw.astype("string").str.strip()
        return text.where(text != "", None).astype("string")
    if kind == "timestamp":
        return _timestamps(raw)
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype("float64")
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    numbers = numbers.where(np.isfinite(numbers))
    if kind == "double":
        return numbers
    whole = numbers.where(numbers == np.floor(numbers))
    return whole.astype("Int64")


def _timestamps(raw: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(raw):
        values = raw
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return values.astype("datetime64[us]")
    text = raw.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    retry = parsed.isna() & text.notna() & (text != "")
    if retry.any():  # other spellings (e.g. 01/31/2019 10:05:00 PM): element by element
        parsed[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None).astype("datetime64[us]")


# --- conversion --------------------------------------------------------------------------------
def convert_file(path: Path, out_dir: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Converted:
    """Convert one TLC file into ``<out_dir>/<type>/year=/month=/<stem>.parquet`` files.

    Raises UnsupportedFileError (one line, no traceback needed) for anything that is not a
    readable yellow or green trip file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = read_columns(path)
    taxi_type = _taxi_type_of(path, columns)
    mapping, ignored = column_mapping(columns, taxi_type)
    result = Converted(source=path, taxi_type=taxi_type, ignored_columns=ignored)
    result.missing_columns = [n for n, _ in RAW_COLUMNS[taxi_type] if n not in mapping.values()]
    schema = arrow_schema(taxi_type)
    pickup = PICKUP_COLUMN[taxi_type]
    writers: dict[tuple[str, str], pq.ParquetWriter] = {}
    counts: Counter[tuple[str, str]] = Counter()
    stem = output_stem(path)
    try:
        for chunk in _chunks(path, list(mapping), chunk_rows):
            result.rows_read += len(chunk)
            frame, nulled = conform(chunk, taxi_type, mapping)
            nulled.pop(pickup, None)  # those rows are skipped, and counted as such
            result.nulled.update(nulled)
            when = frame[pickup]
            keep = when.notna()
            result.skipped_no_pickup += int((~keep).sum())
            frame = frame[keep]
            months = (when[keep].dt.year * 100 + when[keep].dt.month).to_numpy()
            for month_key, part in frame.groupby(months, sort=True):
                year, month = f"{int(month_key) // 100:04d}", f"{int(month_key) % 100:02d}"
                if (year, month) not in writers:
                    target = out_dir / taxi_type / f"year={year}" / f"month={month}"
                    target.mkdir(parents=True, exist_ok=True)
                    writers[(year, month)] = pq.ParquetWriter(
                        target / f"{stem}.parquet", schema, compression="snappy")
                table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
                writers[(year, month)].write_table(table)
                counts[(year, month)] += len(part)
    except (pa.ArrowException, *_READ_ERRORS) as exc:
        raise UnsupportedFileError(f"{path}: cannot read it as a {_kind(path)} trip file "
                                   f"({_first_line(exc)}); {_EXPECTED}") from None
    finally:
        for writer in writers.values():
            writer.close()
    if result.rows_read == 0:
        raise UnsupportedFileError(f"{path}: the file holds no rows; {_EXPECTED}")
    for (year, month), rows in sorted(counts.items()):
        result.months.append(MonthFile(
            taxi_type, year, month,
            out_dir / taxi_type / f"year={year}" / f"month={month}" / f"{stem}.parquet", rows))
    return result


def _taxi_type_of(path: Path, columns: list[str]) -> str:
    values: list[Any] = []
    taxi_column = next((c for c in columns if str(c).strip().lower() == "taxi_type"), None)
    if taxi_column is not None:
        values = sorted({str(v) for chunk in _chunks(path, [taxi_column], DEFAULT_CHUNK_ROWS)
                         for v in chunk[taxi_column].dropna().unique()})
    try:
        return detect_taxi_type(columns, path.name, values)
    except UnsupportedFileError as exc:
        raise UnsupportedFileError(f"{path}: {exc}") from None


def _chunks(path: Path, columns: list[str], chunk_rows: int):
    """The file's rows in chunks of the given columns (CSV read as text, converted later)."""
    import pandas as pd
    import pyarrow.parquet as pq

    if _kind(path) == "parquet":
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
            yield batch.to_pandas()
        return
    with pd.read_csv(path, usecols=columns, dtype=str, chunksize=chunk_rows,
                     encoding="utf-8-sig", keep_default_na=False) as reader:
        yield from reader


def _kind(path: Path) -> str:
    """``parquet`` or ``csv``: the name decides, the first bytes must agree."""
    kind = file_format(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise UnsupportedFileError(f"{path}: cannot open it ({_first_line(exc)})") from None
    if kind == "parquet" and head != _PARQUET_MAGIC:
        raise UnsupportedFileError(f"{path}: not a Parquet file (a Parquet file starts with "
                                   f"PAR1); {_EXPECTED}")
    if kind == "csv" and head == _PARQUET_MAGIC:
        raise UnsupportedFileError(f"{path}: this is a Parquet file named like a CSV: rename it "
                                   "to .parquet")
    return kind


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return re.sub(r"\s+", " ", text[0])[:200] if text else type(exc).__name__
