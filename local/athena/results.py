"""Query results the Athena way: VarCharValue strings, ColumnInfo, CSV output, paging.

Values are formatted like Athena engine v3 (Trino): doubles as Java's ``Double.toString``
(``2.0``, ``1.2345678E7``), timestamps with milliseconds, booleans ``true``/``false``, arrays
``[1, 2]``, rows and maps ``{a=1, b=2}``, NULL as a missing ``VarCharValue`` (and as an empty,
unquoted CSV field; every other CSV field is quoted).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.ipc as ipc

from local.athena import s3io
from local.athena.types import duckdb_to_athena

MAX_PAGE = 1000


def _java_digits(shortest: Decimal, negative: bool) -> str:
    _, digits, exponent = shortest.as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return ("-" if negative else "") + f"{mantissa}E{power}"


def java_float_text(value: float, single: bool = False) -> str:
    """Java ``Double.toString`` / ``Float.toString`` of ``value``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if single:
        shortest = np.format_float_scientific(np.float32(value), unique=True, trim="-")
    else:
        shortest = repr(float(value))
    number = Decimal(shortest)
    magnitude = abs(number)
    if magnitude == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if Decimal("0.001") <= magnitude < Decimal(10_000_000):
        text = format(number.normalize(), "f")
        return text if "." in text else text + ".0"
    return _java_digits(abs(number), number < 0)


def _value_text(value: Any) -> str:
    """Nested values (inside arrays, rows and maps) as Trino prints them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_float_text(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
            return "{" + ", ".join(f"{_value_text(k)}={_value_text(v)}" for k, v in value) + "}"
        return "[" + ", ".join(_value_text(x) for x in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat") and hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, bytes):
        return value.hex(" ")
    return str(value)


def format_array(array: pa.Array) -> pa.Array:
    """Any Arrow array -> string array of Athena ``VarCharValue``s (nulls kept)."""
    kind = array.type
    if pa.types.is_string(kind):
        return array
    if (pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
            or pa.types.is_integer(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind) or pa.types.is_date(kind)):
        return pc.cast(array, pa.string())
    if pa.types.is_timestamp(kind):
        text = pc.strftime(pc.cast(array, pa.timestamp("ms", kind.tz), safe=False),
                           "%Y-%m-%d %H:%M:%S")
        return pc.binary_join_element_wise(text, pa.scalar(f" {kind.tz}"), "") if kind.tz \
            else text
    if pa.types.is_floating(kind):
        single = pa.types.is_float32(kind)
        return pa.array([None if v is None else java_float_text(v, single)
                         for v in array.to_pylist()], pa.string())
    return pa.array([None if v is None else _value_text(v) for v in array.to_pylist()],
                    pa.string())


def column_info(names: list[str], duck_types: list[str]) -> list[dict[str, Any]]:
    """Athena ``ResultSetMetadata.ColumnInfo``."""
    infos = []
    for name, duck in zip(names, duck_types, strict=True):
        athena, precision, scale = duckdb_to_athena(duck)
        infos.append({"CatalogName": "hive", "SchemaName": "", "TableName": "",
                      "Name": name, "Label": name, "Type": athena, "Precision": precision,
                      "Scale": scale, "Nullable": "UNKNOWN",
                      "CaseSensitive": athena == "varchar"})
    return infos


@dataclass
class ResultInfo:
    """What an execution produced (persisted with the execution)."""

    columns: list[dict[str, Any]] = field(default_factory=list)
    header: bool = False
    rows: int = 0
    local_path: str = ""
    output_uri: str = ""


class ResultWriter:
    """Writes formatted rows to a local Arrow IPC file (for paging) and CSV to S3."""

    def __init__(self, local_path: str, output_uri: str, names: list[str],
                 duck_types: list[str], header: bool) -> None:
        self.info = ResultInfo(column_info(names, duck_types), header, 0, local_path, output_uri)
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names])
        os.makedirs(os.path.dirname(local_path), exist_ok=True)
        self._local = ipc.new_file(local_path, self.schema)
        self._stream = None
        self._csv = None
        self._csv_path = local_path + (".csv" if header else ".txt")
        if output_uri:
            self._stream = pa.OSFile(self._csv_path, "wb")
            if header:
                options = pcsv.WriteOptions(include_header=True, quoting_style="all_valid")
                self._csv = pcsv.CSVWriter(self._stream, self.schema, write_options=options)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        formatted = pa.record_batch([format_array(c) for c in batch.columns], schema=self.schema)
        self._local.write_batch(formatted)
        self.info.rows += formatted.num_rows
        if self._csv is not None:
            self._csv.write_batch(formatted)
        elif self._stream is not None:
            lines = "".join("\t".join(v or "" for v in row) + "\n"
                            for row in zip(*[c.to_pylist() for c in formatted.columns],
                                           strict=True))
            self._stream.write(lines.encode())

    def write_rows(self, rows: Iterable[list[str | None]]) -> None:
        rows = list(rows)
        columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(len(self.schema))]
        self.write_batch(pa.record_batch(columns, schema=self.schema))

    def close(self) -> ResultInfo:
        self._local.close()
        if self._csv is not None:
            self._csv.close()
        if self._stream is not None:
            self._stream.close()
            try:
                s3io.upload_file(self._csv_path, self.info.output_uri,
                                 "text/csv" if self.info.header else "text/plain")
            finally:
                os.remove(self._csv_path)
        return self.info


def read_page(info: ResultInfo, token: int, max_results: int
              ) -> tuple[list[dict[str, Any]], int | None]:
    """Rows ``[token, token + max_results)`` of the header-then-data sequence, next token."""
    header = 1 if info.header else 0
    total = info.rows + header
    end = min(total, token + max_results)
    rows: list[dict[str, Any]] = []
    if token < header:
        rows.append({"Data": [{"VarCharValue": c["Name"]} for c in info.columns]})
    start_data, end_data = max(0, token - header), max(0, end - header)
    if end_data > start_data and info.local_path:
        with pa.memory_map(info.local_path) as source:
            table = ipc.open_file(source).read_all().slice(start_data, end_data - start_data)
            for row in _iter_rows(table):
                rows.append({"Data": [{} if v is None else {"VarCharValue": v} for v in row]})
    return rows, (end if end < total else None)


def _iter_rows(table: pa.Table) -> Iterator[tuple]:
    columns = [c.to_pylist() for c in table.columns]
    return zip(*columns, strict=True) if columns else iter(())
