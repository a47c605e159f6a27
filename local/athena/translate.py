"""Trino (Athena engine v3) SQL -> DuckDB SQL with sqlglot, plus Athena's naming rules.

Everything goes through sqlglot's AST: parsing (``read="athena"``), identifier normalisation
(Trino is case-insensitive), qualification of table names with the context database, Trino's
``_col<N>`` names for unnamed expressions, Trino's integer division (``5 / 2`` is 2 when both
operands are integers: sqlglot's type annotation over the Glue column types decides) and
generation with ``write="duckdb"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from local.athena.catalog import CATALOG
from local.athena.errors import QueryError, position

log = logging.getLogger(__name__)

READ = "athena"
WRITE = "duckdb"
SCHEMA_DIALECT = "duckdb"
_DIV_ID = "athena_div"
# typing is best effort: a sqlglot failure leaves ``/`` as it is
_TYPING_ERRORS = (SqlglotError, KeyError, ValueError, TypeError, AttributeError)

# {database: {table: {column: DuckDB type}}} for the referenced tables
Schema = dict[str, dict[str, dict[str, str]]]


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str
    line: int | None
    col: int | None


def parse(sql: str) -> exp.Expression:
    """One statement; sqlglot errors become Athena ``SYNTAX_ERROR``s."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=READ) if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        where = position(err.get("line"), err.get("col"))
        detail = err.get("description") or str(exc)
        raise QueryError("SYNTAX_ERROR", f"{where}{detail}") from exc
    except TokenError as exc:
        raise QueryError("SYNTAX_ERROR", str(exc)) from exc
    if not statements:
        raise QueryError("SYNTAX_ERROR", "line 1:1: empty query")
    if len(statements) > 1:
        raise QueryError("INVALID_INPUT", "Only one sql statement is allowed. Got: "
                         + sql.strip())
    return statements[0]


def _start(identifier: exp.Expression | None) -> tuple[int | None, int | None]:
    if not isinstance(identifier, exp.Identifier):
        return None, None
    meta = identifier.meta or {}
    line, end = meta.get("line"), meta.get("col")
    if line is None or end is None:
        return None, None
    return line, max(1, end - len(identifier.name) + 1 - (2 if identifier.quoted else 0))


def qualify_tables(tree: exp.Expression, database: str) -> list[TableRef]:
    """Give every base-table reference its database; return them (CTEs excluded)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    refs: list[TableRef] = []
    for table in list(tree.find_all(exp.Table)):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if not table.args.get("db") and table.name.lower() in ctes:
            continue
        catalog = table.args.get("catalog")
        first = catalog or table.args.get("db") or table.this
        line, col = _start(first)
        if catalog is not None and catalog.name.lower() != CATALOG:
            raise QueryError("CATALOG_NOT_FOUND",
                             f"{position(line, col)}Catalog '{catalog.name}' does not exist")
        db = (table.args.get("db").name if table.args.get("db") else database).lower()
        name = table.name.lower()
        table.set("catalog", None)
        table.set("db", exp.to_identifier(db, quoted=True))
        table.set("this", exp.to_identifier(name, quoted=True))
        refs.append(TableRef(db, name, line, col))
    return refs


def _leftmost_select(tree: exp.Expression) -> exp.Select | None:
    node = tree
    while isinstance(node, exp.SetOperation):
        node = node.this
    if isinstance(node, exp.Subquery):
        return _leftmost_select(node.this)
    return node if isinstance(node, exp.Select) else None


def name_columns(tree: exp.Expression) -> None:
    """Trino names an unaliased, non-column output expression ``_col<position>``."""
    select = _leftmost_select(tree)
    if select is None:
        return
    named = []
    for i, item in enumerate(select.expressions):
        if isinstance(item, exp.Alias | exp.Column | exp.Star) or (
                isinstance(item, exp.Dot) and isinstance(item.expression, exp.Star)):
            named.append(item)
        else:
            named.append(exp.alias_(item, f"_col{i}", quoted=True))
    select.set("expressions", named)


def _is_integer(node: exp.Expression) -> bool:
    return node.type is not None and node.is_type(*exp.DataType.INTEGER_TYPES)


def integer_divisions(tree: exp.Expression, schema: Schema | None = None) -> int:
    """Turn Trino's integer ``/`` (both operands integers) into DuckDB's ``//``; returns how many.

    The types come from sqlglot: a copy of the tree is qualified against ``schema`` and
    annotated; the original tree is only changed where a division's operands are integers
    (so output names and everything else stay as written). Unknown types keep ``/``.
    """
    divisions = list(tree.find_all(exp.Div))
    if not divisions:
        return 0
    for i, division in enumerate(divisions):
        division.meta[_DIV_ID] = i
    try:
        mapping = MappingSchema(schema or {}, dialect=SCHEMA_DIALECT)
    except _TYPING_ERRORS as exc:
        log.debug("unusable schema for typing: %s", exc)
        mapping = MappingSchema({}, dialect=SCHEMA_DIALECT)
    typed = tree.copy()
    try:
        typed = qualify(typed, dialect="trino", schema=mapping, validate_qualify_columns=False,
                        quote_identifiers=False, identify=False, expand_stars=False)
    except _TYPING_ERRORS as exc:  # annotate what can be without it
        log.debug("could not qualify the query for typing: %s", exc)
        typed = tree.copy()
    try:
        annotate_types(typed, schema=mapping, dialect="trino")
    except _TYPING_ERRORS as exc:
        log.debug("could not annotate the query's types: %s", exc)
        return 0
    integral = {d.meta.get(_DIV_ID) for d in typed.find_all(exp.Div)
                if _is_integer(d.left) and _is_integer(d.right)}
    count = 0
    for division in divisions:
        marker = division.meta.pop(_DIV_ID, None)
        if marker in integral:
            division.replace(exp.IntDiv(this=division.left, expression=division.right))
            count += 1
    return count


def prepare_query(tree: exp.Expression, database: str,
                  resolve: Callable[[list[TableRef]], Schema] | None = None,
                  ) -> tuple[str, list[TableRef]]:
    """(DuckDB SQL, referenced tables) for a query in Athena's dialect.

    ``resolve`` gives the column types of the referenced tables (it may raise the query's
    ``TABLE_NOT_FOUND``); without it only literals and casts are typed.
    """
    tree = normalize_identifiers(tree.copy(), dialect="trino")
    refs = qualify_tables(tree, database)
    name_columns(tree)
    schema = resolve(refs) if resolve else None  # always called: it also checks the tables
    integer_divisions(tree, schema)
    try:
        sql = tree.sql(dialect=WRITE, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise QueryError("NOT_SUPPORTED", str(exc)) from exc
    return sql, refs
