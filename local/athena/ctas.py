"""CREATE TABLE AS SELECT and INSERT INTO: write query results to S3 and register them in Glue.

Like Athena: the target location must be empty, at most 100 partitions per query, partition
columns last and in ``partitioned_by`` order, Parquet (GZIP by default) or text files under
``<external_location>/<col>=<value>/``, table and partitions registered in the Glue catalog.
Without ``external_location`` the data goes to ``<OutputLocation>/tables/<QueryExecutionId>/``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from sqlglot import exp

from local.athena import s3io
from local.athena.catalog import (
    LAZY_SERDE,
    PARQUET_INPUT,
    PARQUET_SERDE,
    TEXT_INPUT,
    Catalog,
    Column,
    Partition,
    TableDef,
)
from local.athena.errors import QueryError
from local.athena.tables import decode_delimiter, quote
from local.athena.types import duckdb_to_hive

MAX_PARTITIONS = 100
_STAGE = "__ctas_rows"
_NARROW = {"HUGEINT": "BIGINT", "UBIGINT": "BIGINT", "UINTEGER": "BIGINT", "USMALLINT": "INTEGER",
           "UTINYINT": "SMALLINT", "UUID": "VARCHAR", "JSON": "VARCHAR",
           "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "TIMESTAMP_NS": "TIMESTAMP",
           "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_S": "TIMESTAMP", '"NULL"': "VARCHAR"}


@dataclass
class CtasOptions:
    """The ``WITH (...)`` properties of a CTAS."""

    fmt: str = "PARQUET"
    external_location: str = ""
    partitioned_by: tuple[str, ...] = ()
    compression: str = ""
    field_delimiter: str = "\x01"

    @classmethod
    def from_properties(cls, props: exp.Properties | None) -> CtasOptions:
        options = cls()
        for prop in props.expressions if props else []:
            if isinstance(prop, exp.FileFormatProperty):
                options.fmt = prop.this.name.upper()
                continue
            if isinstance(prop, exp.PartitionedByProperty):
                values = prop.this.expressions if isinstance(prop.this, exp.Array | exp.Schema) \
                    else [prop.this]
                options.partitioned_by = tuple(v.name.lower() for v in values)
                continue
            key = prop.name.lower() if isinstance(prop, exp.Property) else ""
            value = prop.args.get("value")
            text = value.name if value is not None else ""
            if key == "external_location":
                options.external_location = text
            elif key == "write_compression" or key.endswith("_compression"):
                options.compression = text.upper()
            elif key == "field_delimiter":
                options.field_delimiter = decode_delimiter(text, "\x01")
            elif key == "format":
                options.fmt = text.upper()
            elif key == "table_type" and text.upper() != "HIVE":
                raise QueryError("NOT_SUPPORTED",
                                 f"table_type {text} is not supported by the local Athena")
        if options.fmt not in ("PARQUET", "TEXTFILE"):
            raise QueryError("NOT_SUPPORTED", f"format {options.fmt} is not supported by the "
                                              "local Athena (use PARQUET or TEXTFILE)")
        return options


def _stage(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    """Materialise the query as a temp table with writable types; (name, duckdb type)s."""
    con.execute(f"CREATE TEMP TABLE {_STAGE} AS {sql}")
    described = con.execute(f"DESCRIBE {_STAGE}").fetchall()
    columns = []
    for row in described:
        name, duck = row[0], str(row[1])
        if duck in _NARROW:
            con.execute(f"ALTER TABLE {_STAGE} ALTER {quote(name)} TYPE {_NARROW[duck]}")
            duck = _NARROW[duck]
        columns.append((name, duck))
    return columns


def _check_partitions(table_name: str, columns: list[tuple[str, str]],
                      partitioned_by: tuple[str, ...]) -> None:
    names = [c[0].lower() for c in columns]
    for key in partitioned_by:
        if key not in names:
            raise QueryError("HIVE_COLUMN_ORDER_MISMATCH", f"Partition column {key} is not "
                             f"among the columns of the query for table {table_name}")
    if partitioned_by and tuple(names[-len(partitioned_by):]) != partitioned_by:
        raise QueryError("HIVE_COLUMN_ORDER_MISMATCH",
                         "Partition keys must be the last columns in the table and in the same "
                         f"order as the table properties: [{', '.join(partitioned_by)}]")
    if partitioned_by and len(partitioned_by) == len(names):
        raise QueryError("INVALID_TABLE_PROPERTY", "Table contains only partition columns")


def _count_partitions(con: duckdb.DuckDBPyConnection, partitioned_by: tuple[str, ...]) -> int:
    if not partitioned_by:
        return 0
    cols = ", ".join(quote(c) for c in partitioned_by)
    return con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM {_STAGE})").fetchone()[0]


def write_files(con: duckdb.DuckDBPyConnection, location: str, qid: str, fmt: str,
                partitioned_by: tuple[str, ...], compression: str, delimiter: str
                ) -> tuple[list[str], dict[tuple[str, ...], str]]:
    """Write the staged rows under ``location``; (object URIs, {partition values: location})."""
    bucket, prefix = s3io.split_uri(location)
    base = f"{bucket}/{s3io.dir_prefix(prefix)}".rstrip("/")
    with tempfile.TemporaryDirectory(prefix="athena-ctas-") as local:
        written = _write_local(con, local, qid, fmt, partitioned_by, compression, delimiter)
        for path in written:
            s3io.upload_file(os.path.join(local, path), f"s3://{base}/{path}")
    partitions: dict[tuple[str, ...], str] = {}
    for path in written:
        parts = path.split("/")[:-1]
        if partitioned_by:
            values = tuple(unquote(p.split("=", 1)[1]) for p in parts[:len(partitioned_by)])
            partitions[values] = f"s3://{base}/" + "/".join(parts[:len(partitioned_by)]) + "/"
    return [f"s3://{base}/{p}" for p in written], partitions


def _write_local(con: duckdb.DuckDBPyConnection, local: str, qid: str, fmt: str,
                 partitioned_by: tuple[str, ...], compression: str, delimiter: str) -> list[str]:
    """Write the staged rows as files under ``local``; their relative paths."""
    reader = con.execute(f"SELECT * FROM {_STAGE}").to_arrow_reader(batch_size=262_144)
    schema = reader.schema
    if fmt == "PARQUET":
        file_format = ds.ParquetFileFormat()
        options = file_format.make_write_options(compression=(compression or "GZIP").lower())
        suffix = ""
    else:
        file_format = ds.CsvFileFormat()
        options = file_format.make_write_options(
            include_header=False, delimiter=delimiter, quoting_style="none")
        suffix = ""
    partitioning = None
    if partitioned_by:
        fields = [schema.field(schema.get_field_index(c)) for c in partitioned_by]
        partitioning = ds.partitioning(pa.schema(fields), flavor="hive")
    written: list[str] = []
    ds.write_dataset(
        reader, local, format=file_format, file_options=options, partitioning=partitioning,
        basename_template=f"{qid}_{{i}}{suffix}", existing_data_behavior="overwrite_or_ignore",
        max_partitions=MAX_PARTITIONS + 1, max_rows_per_file=250_000, max_rows_per_group=125_000,
        file_visitor=lambda f: written.append(os.path.relpath(f.path, local)))
    return sorted(p.replace(os.sep, "/") for p in written)


def run_ctas(create: exp.Create, con: duckdb.DuckDBPyConnection, sql: str, default_db: str,
             qid: str, output_location: str, catalog: Catalog) -> tuple[int, list[str]]:
    """Execute a CTAS whose SELECT is ``sql`` (DuckDB); returns (rows written, object URIs)."""
    target = create.this
    db_ident = target.args.get("db")
    db = (db_ident.name if db_ident else default_db).lower()
    name = target.name.lower()
    options = CtasOptions.from_properties(create.args.get("properties"))
    if not catalog.database_exists(db):
        raise QueryError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist")
    if catalog.get_table(db, name) is not None:
        if create.args.get("exists"):
            return 0, []
        raise QueryError("TABLE_ALREADY_EXISTS", f"Table 'awsdatacatalog.{db}.{name}' "
                                                 "already exists")
    location = options.external_location or (
        f"{output_location.rstrip('/')}/tables/{qid}/" if output_location else "")
    if not location:
        raise QueryError("INVALID_TABLE_PROPERTY", "external_location or an output location "
                                                   "is required")
    location = s3io.dir_prefix(location)
    if not s3io.prefix_is_empty(location):
        raise QueryError("HIVE_PATH_ALREADY_EXISTS",
                         f"Target directory for table '{db}.{name}' already exists: {location}. "
                         "You may need to manually clean the data at location "
                         f"'{location}' before retrying. Athena will not delete data in your "
                         "account.")
    columns = _stage(con, sql)
    _check_partitions(f"{db}.{name}", columns, options.partitioned_by)
    if _count_partitions(con, options.partitioned_by) > MAX_PARTITIONS:
        raise QueryError("HIVE_TOO_MANY_OPEN_PARTITIONS",
                         f"Exceeded limit of {MAX_PARTITIONS} open writers for "
                         "partitions/buckets")
    rows = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0]
    files, partitions = write_files(con, location, qid, options.fmt, options.partitioned_by,
                                    options.compression, options.field_delimiter)
    keys = set(options.partitioned_by)
    hive_cols = [Column(n.lower(), duckdb_to_hive(t)) for n, t in columns]
    if options.fmt == "PARQUET":
        serde, input_format, serde_params = PARQUET_SERDE, PARQUET_INPUT, {
            "serialization.format": "1"}
        params = {"classification": "parquet",
                  "parquet.compression": options.compression or "GZIP"}
    else:
        serde, input_format = LAZY_SERDE, TEXT_INPUT
        serde_params = {"field.delim": options.field_delimiter,
                        "serialization.format": options.field_delimiter}
        params = {"classification": "csv"}
    params.update({"EXTERNAL": "TRUE", "has_encrypted_data": "false"})
    table = TableDef(db, name, [c for c in hive_cols if c.name not in keys],
                     [next(c for c in hive_cols if c.name == k) for k in options.partitioned_by],
                     location, serde, input_format, serde_params, params)
    catalog.create_table(table)
    if partitions:
        catalog.add_partitions(table, [Partition(list(v), loc)
                                       for v, loc in sorted(partitions.items())])
    return rows, files


def run_insert(table: TableDef, con: duckdb.DuckDBPyConnection, sql: str, qid: str,
               catalog: Catalog) -> tuple[int, list[str]]:
    """INSERT INTO an existing Parquet/text table: new files plus new partitions in Glue."""
    if table.data_format not in ("parquet", "text"):
        raise QueryError("NOT_SUPPORTED", f"INSERT INTO a {table.data_format} table is not "
                                          "supported by the local Athena")
    columns = _stage(con, sql)
    expected = len(table.columns) + len(table.partition_keys)
    if len(columns) != expected:
        raise QueryError("TYPE_MISMATCH", f"Insert query has {len(columns)} columns, "
                                          f"target table '{table.qualified}' has {expected}")
    targets = [c.name for c in table.columns + table.partition_keys]
    renames = ", ".join(f"{quote(n)} AS {quote(t)}" for (n, _), t in
                        zip(columns, targets, strict=True))
    con.execute(f"CREATE TEMP TABLE __ins AS SELECT {renames} FROM {_STAGE}")
    con.execute(f"DROP TABLE {_STAGE}")
    con.execute(f"ALTER TABLE __ins RENAME TO {_STAGE}")
    keys = tuple(c.name for c in table.partition_keys)
    if _count_partitions(con, keys) > MAX_PARTITIONS:
        raise QueryError("HIVE_TOO_MANY_OPEN_PARTITIONS",
                         f"Exceeded limit of {MAX_PARTITIONS} open writers for "
                         "partitions/buckets")
    rows = con.execute(f"SELECT count(*) FROM {_STAGE}").fetchone()[0]
    fmt = "PARQUET" if table.data_format == "parquet" else "TEXTFILE"
    delimiter = decode_delimiter(table.serde_params.get("field.delim"), "\x01")
    files, partitions = write_files(con, table.location, qid, fmt, keys,
                                    table.params.get("parquet.compression", ""), delimiter)
    if partitions:
        catalog.add_partitions(table, [Partition(list(v), loc)
                                       for v, loc in sorted(partitions.items())])
    return rows, files
