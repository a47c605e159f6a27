"""Trino (Athena engine v3) SQL -> DuckDB SQL with sqlglot, plus Athena's naming rules.

Everything goes through sqlglot's AST: parsing (``read="athena"``), identifier normalisation
(Trino is case-insensitive), qualification of table names with the context database, Trino's
``_col<N>`` names for unnamed expressions and generation with ``write="duckdb"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from local.athena.catalog import CATALOG
from local.athena.errors import QueryError, position

READ = "athena"
WRITE = "duckdb"


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


def prepare_query(tree: exp.Expression, database: str) -> tuple[str, list[TableRef]]:
    """(DuckDB SQL, referenced tables) for a query in Athena's dialect."""
    tree = normalize_identifiers(tree.copy(), dialect="trino")
    refs = qualify_tables(tree, database)
    name_columns(tree)
    try:
        sql = tree.sql(dialect=WRITE, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise QueryError("NOT_SUPPORTED", str(exc)) from exc
    return sql, refs
