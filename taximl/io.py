"""Reading TLC trip files (CSV, CSV.gz or Parquet; any column variant) in bounded memory."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from taximl.errors import UnsupportedFileError
from taximl.schema import canonical_name, normalize_frame

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 100_000
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def file_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from a file name; raises UnsupportedFileError otherwise."""
    name = str(path).lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise UnsupportedFileError(f"{path}: expected a .csv, .csv.gz or .parquet TLC trip file")


def iter_raw_chunks(
    path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Yield the file's rows as DataFrames of at most ``chunk_rows`` rows, columns untouched."""
    import pandas as pd
    import pyarrow.parquet as pq

    if file_format(path) == "parquet":
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    with pd.read_csv(path, chunksize=chunk_rows, low_memory=False) as reader:
        yield from reader


def read_raw(path: str | Path) -> pd.DataFrame:
    """The whole file with its own columns (small files only: prefer iter_raw_chunks).

    Raises UnsupportedFileError, with a one-line message, for a missing, empty or unreadable
    file.
    """
    import pandas as pd
    import pyarrow as pa

    if not Path(path).is_file():
        raise UnsupportedFileError(f"{path}: no such file")
    try:
        chunks = list(iter_raw_chunks(path))
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UnsupportedFileError(f"{path}: cannot read it as a {file_format(path)} trip file "
                                   f"({first})") from None
    if not chunks:
        raise UnsupportedFileError(f"{path}: the file holds no rows")
    return pd.concat(chunks, ignore_index=True)


def iter_trip_chunks(
    path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Yield canonical (normalised, not validated) trip frames from any TLC file."""
    checked = False
    for chunk in iter_raw_chunks(path, chunk_rows):
        if not checked:
            _check_columns(path, list(map(str, chunk.columns)))
            checked = True
        yield normalize_frame(chunk)


def read_trips(path: str | Path) -> pd.DataFrame:
    """The whole file as one canonical frame (small files only: prefer iter_trip_chunks)."""
    import pandas as pd

    chunks = list(iter_trip_chunks(path))
    if not chunks:
        raise UnsupportedFileError(f"{path}: the file holds no rows")
    return pd.concat(chunks, ignore_index=True)


def _check_columns(path: str | Path, columns: list[str]) -> None:
    known = {canonical_name(col) for col in columns} - {None}
    needed = {"pickup_datetime", "dropoff_datetime", "fare_amount"}
    if not needed <= known:
        raise UnsupportedFileError(
            f"{path}: not a TLC trip file (columns {columns[:8]}...; "
            f"missing {sorted(needed - known)})"
        )
    ignored = [col for col in columns if canonical_name(col) is None]
    if ignored:
        logger.debug("%s: ignoring columns %s", path, ignored)
