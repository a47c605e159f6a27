"""One Athena statement end to end: parse, run against Glue + S3 + DuckDB, write the results."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from sqlglot import exp

from local.athena import ctas, ddl, s3io, tables, translate
from local.athena.catalog import Catalog, TableDef
from local.athena.errors import QueryCancelled, QueryError, position
from local.athena.results import ResultInfo, ResultWriter
from local.athena.types import hive_to_duckdb

log = logging.getLogger(__name__)

ENV_THREADS = "LOCAL_ATHENA_DUCKDB_THREADS"
BATCH_ROWS = 65_536
INTERRUPT_WINDOW_S = 60.0
INTERRUPT_EVERY_S = 0.1
_NARROW_RESULT = {"HUGEINT": "BIGINT", "UHUGEINT": "BIGINT", "UBIGINT": "BIGINT"}


@dataclass
class Request:
    """What StartQueryExecution asked for."""

    qid: str
    query: str
    database: str
    output_location: str  # folder URI ("" when none)


@dataclass
class Outcome:
    """What the execution produced."""

    statement_type: str
    substatement_type: str
    result: ResultInfo
    scanned_bytes: int = 0
    manifest: str = ""
    files: list[str] = field(default_factory=list)


def _result_uri(folder: str, qid: str, ext: str) -> str:
    return f"{folder.rstrip('/')}/{qid}.{ext}" if folder else ""


class Engine:
    """Runs statements; ``results_dir`` keeps the formatted rows GetQueryResults pages through."""

    def __init__(self, results_dir: str, catalog: Catalog | None = None) -> None:
        self.results_dir = results_dir
        self._catalog = catalog
        self._threads = int(os.environ.get(ENV_THREADS, "2"))
        self._running: dict[str, duckdb.DuckDBPyConnection] = {}
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog()
        return self._catalog

    def local_path(self, qid: str) -> str:
        return os.path.join(self.results_dir, f"{qid}.arrow")

    def interrupt(self, qid: str) -> bool:
        """Stop a running query's DuckDB work (StopQueryExecution).

        An interrupt only reaches a statement DuckDB is executing, so it is repeated until
        the query lets go of its connection (the stop may land just before execution starts).
        """
        with self._lock:
            con = self._running.get(qid)
        if con is None:
            return False
        threading.Thread(target=self._keep_interrupting, args=(qid, con), daemon=True,
                         name=f"athena-stop-{qid[:8]}").start()
        return True

    def _keep_interrupting(self, qid: str, con: duckdb.DuckDBPyConnection) -> None:
        deadline = time.monotonic() + INTERRUPT_WINDOW_S
        while time.monotonic() < deadline:
            with self._lock:
                if self._running.get(qid) is not con:
                    return
                try:
                    con.interrupt()
                except duckdb.Error:
                    return
            time.sleep(INTERRUPT_EVERY_S)

    # ------------------------------------------------------------------ entry point
    def run(self, request: Request, cancelled: Callable[[], bool] = lambda: False) -> Outcome:
        tree = translate.parse(request.query)
        catalog = self.catalog
        if isinstance(tree, exp.Create):
            kind = (tree.args.get("kind") or "").upper()
            if kind in ("DATABASE", "SCHEMA"):
                return self._ddl(request, ddl.create_database(tree, catalog))
            if kind == "TABLE" and tree.args.get("expression") is not None:
                return self._ctas(request, tree)
            if kind == "TABLE":
                return self._ddl(request, ddl.create_table(tree, request.database, catalog))
            raise QueryError("NOT_SUPPORTED", f"CREATE {kind} is not supported by the local "
                                              "Athena")
        if isinstance(tree, exp.Drop):
            kind = (tree.args.get("kind") or "").upper()
            if kind in ("DATABASE", "SCHEMA"):
                return self._ddl(request, ddl.drop_database(tree, catalog))
            if kind == "TABLE":
                return self._ddl(request, ddl.drop_table(tree, request.database, catalog))
            raise QueryError("NOT_SUPPORTED", f"DROP {kind} is not supported by the local Athena")
        if isinstance(tree, exp.Describe):
            return self._ddl(request, ddl.describe(tree, request.database, catalog))
        if isinstance(tree, exp.Command | exp.Show):
            return self._ddl(request, ddl.command(tree, request.database, catalog))
        if isinstance(tree, exp.Alter):
            return self._ddl(request, ddl.alter(request.query, request.database, catalog))
        if isinstance(tree, exp.Insert):
            return self._insert(request, tree)
        if isinstance(tree, exp.Query):
            return self._select(request, tree, cancelled)
        raise QueryError("NOT_SUPPORTED", f"{type(tree).__name__} statements are not supported "
                                          "by the local Athena")

    # ------------------------------------------------------------------ statement kinds
    def _ddl(self, request: Request, outcome: ddl.Outcome) -> Outcome:
        uri = _result_uri(request.output_location, request.qid, "txt")
        names = [outcome.column] if outcome.column else (["result"] if outcome.rows else [])
        writer = ResultWriter(self.local_path(request.qid), uri, names,
                              ["VARCHAR"] * len(names), header=False)
        if outcome.rows:
            writer.write_rows([[r] for r in outcome.rows])
        info = writer.close()
        return Outcome(outcome.statement_type, outcome.substatement_type, info)

    def _connect(self, request: Request) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": self._threads})
        with self._lock:
            self._running[request.qid] = con
        return con

    def _release(self, request: Request, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._running.pop(request.qid, None)
        con.close()

    def _register(self, con: duckdb.DuckDBPyConnection, tree: exp.Expression,
                  request: Request) -> tuple[str, int]:
        found: dict[tuple[str, str], TableDef] = {}

        def resolve(refs: list[translate.TableRef]) -> translate.Schema:
            schema: translate.Schema = {}
            for ref in refs:
                key = (ref.database, ref.name)
                if key not in found:
                    found[key] = self.catalog.require_table(ref.database, ref.name,
                                                            position(ref.line, ref.col))
                table = found[key]
                schema.setdefault(ref.database, {})[ref.name] = {
                    c.name: hive_to_duckdb(c.type) for c in table.columns + table.partition_keys}
            return schema

        sql, _ = translate.prepare_query(tree, request.database, resolve)
        scanned = 0
        for i, table in enumerate(found.values()):
            scanned += tables.register(con, table, self.catalog, str(i)).scanned_bytes
        return sql, scanned

    def _select(self, request: Request, tree: exp.Expression,
                cancelled: Callable[[], bool]) -> Outcome:
        con = self._connect(request)
        try:
            with _mapped_errors(tree):
                sql, scanned = self._register(con, tree, request)
                if cancelled():
                    raise QueryCancelled()
                relation = con.sql(sql)
                names, types = relation.columns, [str(t) for t in relation.types]
                if any(t in _NARROW_RESULT for t in types):
                    casts = ", ".join(
                        f"CAST(#{i + 1} AS {_NARROW_RESULT[t]})" if t in _NARROW_RESULT
                        else f"#{i + 1}" for i, t in enumerate(types))
                    relation = con.sql(f"SELECT {casts} FROM ({sql})")
                    types = [_NARROW_RESULT.get(t, t) for t in types]
                writer = ResultWriter(self.local_path(request.qid),
                                      _result_uri(request.output_location, request.qid, "csv"),
                                      names, types, header=True)
                reader = relation.to_arrow_reader(batch_size=BATCH_ROWS)
                for batch in reader:
                    if cancelled():
                        raise QueryCancelled()
                    writer.write_batch(_rename(batch, names))
                info = writer.close()
        finally:
            self._release(request, con)
        return Outcome("DML", "SELECT", info, scanned)

    def _ctas(self, request: Request, tree: exp.Create) -> Outcome:
        con = self._connect(request)
        try:
            with _mapped_errors(tree):
                sql, scanned = self._register(con, tree.expression, request)
                rows, files = ctas.run_ctas(tree, con, sql, request.database, request.qid,
                                            request.output_location, self.catalog)
        finally:
            self._release(request, con)
        return self._count_result(request, "CREATE_TABLE_AS_SELECT", rows, files, scanned)

    def _insert(self, request: Request, tree: exp.Insert) -> Outcome:
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        db_ident = target.args.get("db")
        db = (db_ident.name if db_ident else request.database).lower()
        table = self.catalog.require_table(db, target.name.lower())
        con = self._connect(request)
        try:
            with _mapped_errors(tree):
                sql, scanned = self._register(con, tree.expression, request)
                rows, files = ctas.run_insert(table, con, sql, request.qid, self.catalog)
        finally:
            self._release(request, con)
        return self._count_result(request, "INSERT", rows, files, scanned, "DML")

    def _count_result(self, request: Request, substatement: str, rows: int, files: list[str],
                      scanned: int, statement: str = "DDL") -> Outcome:
        manifest = ""
        if request.output_location and files:
            manifest = _result_uri(request.output_location, f"{request.qid}-manifest", "csv")
            s3io.put_text(manifest, "".join(f"{f}\n" for f in files), "text/csv")
        writer = ResultWriter(self.local_path(request.qid),
                              _result_uri(request.output_location, request.qid, "csv"),
                              ["rows"], ["BIGINT"], header=True)
        writer.write_batch(pa.record_batch([pa.array([rows], pa.int64())], names=["rows"]))
        return Outcome(statement, substatement, writer.close(), scanned, manifest, files)


def _rename(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    return pa.record_batch(batch.columns, names=names) if batch.schema.names != names else batch


class _mapped_errors:
    """Turn DuckDB/pyarrow exceptions into Athena error codes and messages."""

    def __init__(self, tree: exp.Expression) -> None:
        self.tree = tree

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, QueryError | QueryCancelled):
            return False
        if isinstance(exc, duckdb.InterruptException):
            raise QueryCancelled() from exc
        raise _translate_error(exc, self.tree) from exc


def _column_position(tree: exp.Expression, name: str) -> str:
    for column in tree.find_all(exp.Column):
        if column.name.lower() == name.lower():
            meta = column.this.meta or {}
            if meta.get("line") and meta.get("col"):
                return position(meta["line"], meta["col"] - len(column.name) + 1)
    return ""


def _translate_error(exc: BaseException, tree: exp.Expression) -> QueryError:
    text = str(exc).split("\n")[0]
    if isinstance(exc, duckdb.BinderException):
        match = re.search(r'Referenced column "([^"]+)" not found', text)
        if match:
            name = match.group(1)
            return QueryError("COLUMN_NOT_FOUND", f"{_column_position(tree, name)}Column "
                              f"'{name}' cannot be resolved or requester is not authorized to "
                              "access requested resources")
        if "No function matches" in text:
            return QueryError("FUNCTION_NOT_FOUND", text)
        code = "EXPRESSION_NOT_AGGREGATE" if "GROUP BY" in text else "SEMANTIC_ERROR"
        return QueryError(code, text)
    if isinstance(exc, duckdb.CatalogException):
        match = re.search(r"Function with name (\w+) does not exist", text)
        if match:
            return QueryError("FUNCTION_NOT_FOUND", f"Function '{match.group(1)}' not registered")
        return QueryError("SEMANTIC_ERROR", text)
    if isinstance(exc, duckdb.ParserException):
        return QueryError("SYNTAX_ERROR", text)
    if isinstance(exc, duckdb.InvalidInputException) and "Division by zero" in text:
        # Trino: integer and decimal ``/`` and ``%`` by zero fail (doubles give Infinity/NaN)
        return QueryError("DIVISION_BY_ZERO", "Division by zero")
    if isinstance(exc, duckdb.ConversionException):
        return QueryError("INVALID_CAST_ARGUMENT", text)
    if isinstance(exc, duckdb.OutOfRangeException):
        return QueryError("NUMERIC_VALUE_OUT_OF_RANGE", text)
    if isinstance(exc, duckdb.InvalidInputException) and "JSON" in text:
        return QueryError("HIVE_BAD_DATA", f"Error parsing field value: {text}")
    if isinstance(exc, pa.ArrowInvalid | pa.ArrowTypeError | pa.ArrowNotImplementedError):
        return QueryError("HIVE_BAD_DATA", text)
    if isinstance(exc, OSError | pa.ArrowException):
        return QueryError("HIVE_CANNOT_OPEN_SPLIT", text)
    if isinstance(exc, duckdb.Error):
        return QueryError("GENERIC_USER_ERROR", text)
    log.exception("internal error")
    return QueryError("GENERIC_INTERNAL_ERROR", text, category=1)
