"""Glue tables as DuckDB views over S3 objects (pyarrow datasets; no DuckDB httpfs needed).

Each table becomes a ``pyarrow.dataset.FileSystemDataset`` built from exactly the objects of its
location (partitioned tables: only the registered or projected partitions, each fragment carrying
its partition values so DuckDB's filter push-down prunes them), registered in a DuckDB connection
and wrapped in a view ``"<database>"."<table>"`` that casts every column to its declared type the
way the Hive SerDes do (unparseable values become NULL).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from local.athena import projection, s3io
from local.athena.catalog import Catalog, Column, TableDef
from local.athena.types import arrow_to_duckdb, hive_to_arrow, hive_to_duckdb

log = logging.getLogger(__name__)

HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_LINE = "__line"
_SCALAR_DUCK = {"VARCHAR", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE",
                "BOOLEAN", "DATE", "TIMESTAMP", "BLOB"}


@dataclass
class Registered:
    """A table registered in a connection: how many bytes its objects hold."""

    table: TableDef
    scanned_bytes: int
    files: int


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def decode_delimiter(text: str | None, default: str) -> str:
    """Hive delimiter property -> one character (``\\t``, ``\\001`` and numeric forms accepted)."""
    if text is None or text == "":
        return default
    escapes = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}
    if text in escapes:
        return escapes[text]
    if text.startswith("\\") and text[1:].isdigit():
        return chr(int(text[1:], 8))
    if text.isdigit() and len(text) > 1:
        return chr(int(text))
    return text[0]


# ---------------------------------------------------------------- files of a table
def table_files(table: TableDef, catalog: Catalog
                ) -> list[tuple[list[str], list[s3io.S3Object]]]:
    """(partition values, objects) groups that make up the table's data."""
    if not table.partition_keys:
        return [([], list(s3io.list_objects(table.location)))]
    if table.projection_enabled:
        return projection.projected_partitions(table)
    partitions = [p for p in catalog.partitions(table) if p.location]
    if not partitions:
        return []
    root = s3io.dir_prefix(table.location)
    prefixes = [s3io.dir_prefix(p.location) for p in partitions]
    if all(prefix.startswith(root) for prefix in prefixes) and len(prefixes) > 1:
        listing = list(s3io.list_objects(root))
        owners = sorted(range(len(prefixes)), key=lambda i: -len(prefixes[i]))
        groups: dict[int, list[s3io.S3Object]] = {}
        for obj in listing:
            uri = f"s3://{obj.bucket}/{obj.key}"
            for i in owners:
                if uri.startswith(_s3(prefixes[i])):
                    groups.setdefault(i, []).append(obj)
                    break
        return [(partitions[i].values, groups[i]) for i in sorted(groups)]
    return [(p.values, list(s3io.list_objects(p.location))) for p in partitions]


def _s3(uri: str) -> str:
    """Normalise s3a:// and s3n:// to s3://."""
    return "s3://" + uri.split("://", 1)[1]


# ---------------------------------------------------------------- datasets per format
def _partition_value(text: str, column: Column) -> object:
    if text == HIVE_NULL_PARTITION:
        return None
    duck = hive_to_duckdb(column.type)
    try:
        if duck in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT"):
            return int(text)
        if duck in ("FLOAT", "DOUBLE"):
            return float(text)
        if duck.startswith("DECIMAL"):
            return Decimal(text)
        if duck == "BOOLEAN":
            return text.lower() == "true"
        if duck == "DATE":
            return date.fromisoformat(text[:10])
        if duck == "TIMESTAMP":
            return datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def _partition_expression(table: TableDef, values: list[str]) -> pc.Expression:
    expression = pc.scalar(True)
    for column, text in zip(table.partition_keys, values, strict=False):
        value = _partition_value(text, column)
        field = pc.field(column.name)
        if value is None:
            expression = expression & field.is_null()
        else:
            expression = expression & (field == pa.scalar(value, hive_to_arrow(column.type)))
    return expression


def _keeps_empty_lines(table: TableDef) -> bool:
    """Hive's text reader hands empty lines to the SerDe: LazySimpleSerDe makes a row of them
    (first field ``''``, the rest NULL) and the OpenX JSON SerDe a row of NULLs (Trino's
    ``TextLineReader``/``SimpleDeserializer``/``OpenXJsonDeserializer``). A final line
    terminator does not start another line. The Hive JSON SerDe's case is not covered: its
    empty lines stay skipped."""
    return table.data_format == "text" or (table.data_format == "json" and _is_openx(table))


def _line_format(table: TableDef, skip_rows: int, avoid: str) -> ds.CsvFileFormat:
    """Each text line as one string column (the SerDe logic then runs in DuckDB)."""
    splitter = next(c for c in ("\x1e", "\x1f", "\x1d", "\x1c") if c != avoid)
    return ds.CsvFileFormat(
        parse_options=pcsv.ParseOptions(delimiter=splitter, quote_char=False,
                                        escape_char=False, double_quote=False,
                                        ignore_empty_lines=not _keeps_empty_lines(table),
                                        invalid_row_handler=lambda row: "skip"),
        read_options=pcsv.ReadOptions(column_names=[_LINE], skip_rows=skip_rows,
                                      block_size=1 << 22),
        convert_options=pcsv.ConvertOptions(column_types={_LINE: pa.string()},
                                            strings_can_be_null=False, null_values=[]),
    )


def _skip_rows(table: TableDef) -> int:
    try:
        return max(0, int(table.params.get("skip.header.line.count", "0")))
    except ValueError:
        return 0


def _cast(expr: str, column: Column) -> str:
    duck = hive_to_duckdb(column.type)
    if duck == "VARCHAR":
        return expr
    if duck == "TIMESTAMP":
        return (f"COALESCE(TRY_CAST({expr} AS TIMESTAMP), "
                f"TRY_CAST(epoch_ms(TRY_CAST({expr} AS BIGINT)) AS TIMESTAMP))")
    return f"TRY_CAST({expr} AS {duck})"


def _text_view(table: TableDef, source: str) -> str:
    """LazySimpleSerDe: split on ``field.delim``; missing fields NULL, ``\\N`` NULL."""
    params = table.serde_params
    delim = decode_delimiter(params.get("field.delim") or params.get("serialization.format"),
                             "\x01")
    null_format = params.get("serialization.null.format", "\\N")
    fields = []
    for i, column in enumerate(table.columns, start=1):
        raw = f"NULLIF(__f[{i}], {sql_string(null_format)})"
        fields.append(f"{_cast(raw, column)} AS {quote(column.name)}")
    parts = [quote(c.name) for c in table.partition_keys]
    inner = (f"SELECT string_split({quote(_LINE)}, {sql_string(delim)}) AS __f"
             + "".join(f", {p}" for p in parts) + f" FROM {source}")
    return f"SELECT {', '.join(fields + parts)} FROM ({inner})"


def _is_openx(table: TableDef) -> bool:
    return "openx" in table.serde.lower()


def json_keys(table: TableDef) -> tuple[dict[str, str], bool]:
    """(column -> JSON key, whether keys match case-insensitively) for a JSON table.

    OpenX JsonSerDe: ``mapping.<column>`` names the key, ``case.insensitive`` (default true)
    decides the match. Hive JsonSerDe: keys always match case-insensitively, no mappings.
    """
    params = {k.lower(): v for k, v in table.serde_params.items()}
    if not _is_openx(table):
        return {c.name: c.name for c in table.columns}, True
    insensitive = params.get("case.insensitive", "true").strip().lower() != "false"
    return {c.name: params.get(f"mapping.{c.name}", c.name) for c in table.columns}, insensitive


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace('"', '\\"') + '"'


def _key_lookup(line: str, key: str) -> str:
    """The JSON value of the last top-level key equal to ``key`` ignoring case (NULL if none)."""
    entries = f"map_entries(json_transform({line}, '\"MAP(VARCHAR, JSON)\"'))"
    return (f"list_filter({entries}, lambda __e: lower(__e.key) = "
            f"{sql_string(key.lower())})[-1].value")


def _json_view(table: TableDef, source: str) -> str:
    """OpenX / Hive JsonSerDe: one JSON object per line, keys by name.

    The exact key is read first (one batched ``json_extract_string`` per line); when it gives
    NULL and keys match case-insensitively, the key is looked up ignoring case.
    """
    params = table.serde_params
    keys, insensitive = json_keys(table)
    line = quote(_LINE)
    if _is_openx(table):  # OpenX: a line that is not an object/array is a row of NULLs
        line = f"(CASE WHEN regexp_matches({line}, '^\\s*[\\[{{]') THEN {line} END)"
    if params.get("ignore.malformed.json", "").lower() == "true":
        line = f"(CASE WHEN json_valid({line}) THEN {line} END)"
    paths, fields = [], []
    for column in table.columns:
        key = keys[column.name]
        duck = hive_to_duckdb(column.type)
        if duck in _SCALAR_DUCK or duck.startswith("DECIMAL"):
            paths.append(_json_path(key))
            raw = f"__f[{len(paths)}]"
            if insensitive:
                raw = f"COALESCE({raw}, json_extract_string({_key_lookup('__l', key)}, '$'))"
            fields.append(f"{_cast(raw, column)} AS {quote(column.name)}")
        else:
            value = f"json_extract(__l, {sql_string(_json_path(key))})"
            if insensitive:
                value = f"COALESCE({value}, {_key_lookup('__l', key)})"
            fields.append(f"TRY_CAST({value} AS {duck}) AS {quote(column.name)}")
    parts = [quote(c.name) for c in table.partition_keys]
    path_list = "[" + ", ".join(sql_string(p) for p in paths) + "]" if paths else "['$.__none']"
    inner = (f"SELECT {line} AS __l, json_extract_string({line}, {path_list}) AS __f"
             + "".join(f", {p}" for p in parts) + f" FROM {source}")
    return f"SELECT {', '.join(fields + parts)} FROM ({inner})"


def _typed_view(table: TableDef, source: str, physical: pa.Schema) -> str:
    """Parquet/ORC/OpenCSV: columns matched by name (case-insensitive), cast when types differ."""
    by_name = {f.name.lower(): f for f in physical}
    fields = []
    for column in table.columns:
        duck = hive_to_duckdb(column.type)
        found = by_name.get(column.name)
        if found is None:
            fields.append(f"CAST(NULL AS {duck}) AS {quote(column.name)}")
        elif arrow_to_duckdb(found.type) == duck:
            fields.append(f"{quote(found.name)} AS {quote(column.name)}")
        elif arrow_to_duckdb(found.type) == "VARCHAR":
            fields.append(f"{_cast(quote(found.name), column)} AS {quote(column.name)}")
        else:
            fields.append(f"TRY_CAST({quote(found.name)} AS {duck}) AS {quote(column.name)}")
    fields += [quote(c.name) for c in table.partition_keys]
    return f"SELECT {', '.join(fields)} FROM {source}"


def _dataset(table: TableDef, groups: list[tuple[list[str], list[s3io.S3Object]]]
             ) -> tuple[ds.Dataset, pa.Schema]:
    """The dataset over the objects plus the schema the view reads from it."""
    paths, expressions = [], []
    for values, objects in groups:
        expression = _partition_expression(table, values)
        for obj in objects:
            paths.append(obj.path)
            expressions.append(expression)
    partition_fields = [pa.field(c.name, hive_to_arrow(c.type)) for c in table.partition_keys]
    fmt_name = table.data_format
    fs = s3io.filesystem()
    skip = _skip_rows(table)
    if fmt_name in ("parquet", "orc"):
        names = {c.name for c in table.partition_keys}
        if paths:
            physical = (pq.read_schema(paths[0], filesystem=fs) if fmt_name == "parquet"
                        else ds.dataset(paths[0], format="orc", filesystem=fs).schema)
            physical = pa.schema([f for f in physical if f.name.lower() not in names])
        else:
            physical = pa.schema([pa.field(c.name, pa.string()) for c in table.columns])
        file_format: ds.FileFormat = ds.ParquetFileFormat() if fmt_name == "parquet" \
            else ds.OrcFileFormat()
    elif fmt_name == "opencsv":
        params = table.serde_params
        file_format = ds.CsvFileFormat(
            parse_options=pcsv.ParseOptions(
                delimiter=decode_delimiter(params.get("separatorChar"), ","),
                quote_char=decode_delimiter(params.get("quoteChar"), '"'),
                escape_char=decode_delimiter(params.get("escapeChar"), "\\"),
                newlines_in_values=True, invalid_row_handler=lambda row: "skip"),
            read_options=pcsv.ReadOptions(column_names=[c.name for c in table.columns],
                                          skip_rows=skip, block_size=1 << 22),
            convert_options=pcsv.ConvertOptions(
                column_types={c.name: pa.string() for c in table.columns},
                strings_can_be_null=False, null_values=[]),
        )
        physical = pa.schema([pa.field(c.name, pa.string()) for c in table.columns])
    else:
        avoid = decode_delimiter(table.serde_params.get("field.delim"), "\x01")
        file_format = _line_format(table, skip, avoid)
        physical = pa.schema([pa.field(_LINE, pa.string())])
    schema = pa.schema(list(physical) + partition_fields)
    dataset = ds.FileSystemDataset.from_paths(paths, schema=schema, format=file_format,
                                              filesystem=fs, partitions=expressions or None)
    return dataset, physical


def register(con: duckdb.DuckDBPyConnection, table: TableDef, catalog: Catalog,
             alias: str) -> Registered:
    """Create ``"<db>"."<table>"`` in ``con`` over the table's S3 objects."""
    groups = table_files(table, catalog)
    dataset, physical = _dataset(table, groups)
    source = f"__src_{alias}"
    con.register(source, dataset)
    if table.data_format == "text":
        body = _text_view(table, source)
    elif table.data_format == "json":
        body = _json_view(table, source)
    else:
        body = _typed_view(table, source, physical)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(table.database)}")
    con.execute(f"CREATE OR REPLACE VIEW {quote(table.database)}.{quote(table.name)} AS {body}")
    size = sum(o.size for _, objs in groups for o in objs)
    files = sum(len(objs) for _, objs in groups)
    log.debug("registered %s: %d files, %d bytes", table.qualified, files, size)
    return Registered(table, size, files)
