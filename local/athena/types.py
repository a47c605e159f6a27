"""Type names: Hive (Glue columns) <-> DuckDB (execution) <-> Athena result ``ColumnInfo``."""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp

_HIVE_TO_DUCKDB = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR",
    "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "integer": "INTEGER",
    "bigint": "BIGINT", "float": "FLOAT", "real": "FLOAT", "double": "DOUBLE",
    "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "binary": "BLOB",
}

_HIVE_TO_ARROW = {
    "VARCHAR": pa.string(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(), "BIGINT": pa.int64(), "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"), "BLOB": pa.binary(),
}

# DuckDB result type -> (Athena ColumnInfo type, precision)
_DUCKDB_TO_ATHENA = {
    "VARCHAR": ("varchar", 2147483647), "TINYINT": ("tinyint", 3), "SMALLINT": ("smallint", 5),
    "INTEGER": ("integer", 10), "BIGINT": ("bigint", 19), "HUGEINT": ("bigint", 19),
    "UTINYINT": ("smallint", 5), "USMALLINT": ("integer", 10), "UINTEGER": ("bigint", 19),
    "UBIGINT": ("bigint", 19), "FLOAT": ("float", 17), "DOUBLE": ("double", 17),
    "BOOLEAN": ("boolean", 0), "DATE": ("date", 0), "TIMESTAMP": ("timestamp", 3),
    "TIMESTAMP_MS": ("timestamp", 3), "TIMESTAMP_NS": ("timestamp", 3),
    "TIMESTAMP_S": ("timestamp", 3), "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "TIME": ("time", 3), "INTERVAL": ("interval day to second", 0), "BLOB": ("varbinary", 0),
    "UUID": ("uuid", 0), "JSON": ("json", 0), '"NULL"': ("unknown", 0), "NULL": ("unknown", 0),
}

_DUCKDB_TO_HIVE = {
    "VARCHAR": "string", "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int",
    "BIGINT": "bigint", "HUGEINT": "bigint", "UTINYINT": "smallint", "USMALLINT": "int",
    "UINTEGER": "bigint", "UBIGINT": "bigint", "FLOAT": "float", "DOUBLE": "double",
    "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp", "TIMESTAMP_S": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp", "BLOB": "binary", "UUID": "string",
    "JSON": "string", '"NULL"': "string", "NULL": "string",
}

_BASE = re.compile(r"^\s*([a-zA-Z_ ]+?)\s*(\(.*\))?\s*$")


def normalize_hive_type(text: str) -> str:
    """Glue's spelling of a Hive type: lower case, no blanks (``struct<a:int,b:string>``)."""
    return re.sub(r"\s+", "", text.strip().lower())


def hive_to_duckdb(hive_type: str) -> str:
    """DuckDB type for a Glue/Hive column type (``decimal`` alone is Hive's decimal(10,0))."""
    text = normalize_hive_type(hive_type)
    match = _BASE.match(text)
    if match and "<" not in text:
        base, params = match.group(1), match.group(2) or ""
        if base == "decimal":
            return f"DECIMAL{params}" if params else "DECIMAL(10,0)"
        if base in _HIVE_TO_DUCKDB:
            return _HIVE_TO_DUCKDB[base]
    return exp.DataType.build(text, dialect="hive").sql("duckdb").replace("TEXT", "VARCHAR")


def hive_to_arrow(hive_type: str) -> pa.DataType:
    """Arrow type for a partition column (partition values are scalars)."""
    duck = hive_to_duckdb(hive_type)
    if duck.startswith("DECIMAL"):
        precision, scale = (int(x) for x in duck[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return _HIVE_TO_ARROW.get(duck, pa.string())


def duckdb_to_athena(duck_type: str) -> tuple[str, int, int]:
    """(Athena ColumnInfo ``Type``, ``Precision``, ``Scale``) for a DuckDB result type."""
    text = str(duck_type).upper()
    if text.startswith("DECIMAL"):
        precision, scale = (int(x) for x in text[8:-1].split(","))
        return "decimal", precision, scale
    if text.endswith("]"):
        return "array", 0, 0
    if text.startswith("STRUCT"):
        return "row", 0, 0
    if text.startswith("MAP"):
        return "map", 0, 0
    name, precision = _DUCKDB_TO_ATHENA.get(text, ("varchar", 2147483647))
    return name, precision, 0


def duckdb_to_hive(duck_type: str) -> str:
    """Glue column type for a DuckDB type (CTAS registers its columns with these)."""
    text = str(duck_type).upper()
    if text in _DUCKDB_TO_HIVE:
        return _DUCKDB_TO_HIVE[text]
    if text.startswith("DECIMAL"):
        return text.lower().replace(" ", "")
    built = exp.DataType.build(text, dialect="duckdb").sql("hive").lower()
    return normalize_hive_type(built)


def arrow_to_duckdb(arrow_type: pa.DataType) -> str | None:
    """DuckDB name of a primitive Arrow type (None when not a simple scalar)."""
    for duck, arrow in _HIVE_TO_ARROW.items():
        if arrow_type == arrow:
            return duck
    if pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "VARCHAR"
    return None
