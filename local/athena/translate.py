"""Trino (Athena engine v3) SQL -> DuckDB SQL with sqlglot, plus Athena's naming rules.

Everything goes through sqlglot's AST: parsing (``read="athena"``), identifier normalisation
(Trino is case-insensitive), qualification of table names with the context database, Trino's
``_col<N>`` names for unnamed expressions, Trino's integer division (``5 / 2`` is 2 when both
operands are integers: sqlglot's type annotation over the Glue column types decides),
``format_datetime`` with its Joda-Time pattern (rewritten to DuckDB's ``strftime``; see
:func:`joda_format`) and generation with ``write="duckdb"``.
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


# --------------------------------------------------------------------------- format_datetime
# Joda-Time pattern letters (Trino's format_datetime) -> DuckDB strftime, by letter and count.
# A count is the minimum number of digits for numbers; text fields switch form at 4 letters.
_JODA_STRFTIME: dict[str, Callable[[int], str | None]] = {
    "y": lambda n: "%y" if n == 2 else ("%Y" if n <= 4 else None),
    "Y": lambda n: "%y" if n == 2 else ("%Y" if n <= 4 else None),
    "x": lambda n: "%G" if n in (1, 3, 4) else None,
    "w": lambda n: "%V" if n == 2 else None,
    "e": lambda n: "%u" if n == 1 else None,
    "E": lambda n: "%a" if n <= 3 else "%A",
    "M": lambda n: {1: "%-m", 2: "%m", 3: "%b"}.get(n, "%B"),
    "d": lambda n: {1: "%-d", 2: "%d"}.get(n),
    "D": lambda n: {1: "%-j", 3: "%j"}.get(n),
    "a": lambda n: "%p",
    "h": lambda n: {1: "%-I", 2: "%I"}.get(n),
    "H": lambda n: {1: "%-H", 2: "%H"}.get(n),
    "m": lambda n: {1: "%-M", 2: "%M"}.get(n),
    "s": lambda n: {1: "%-S", 2: "%S"}.get(n),
    "S": lambda n: {3: "%g", 6: "%f"}.get(n),
}
# numbers padded to the count where strftime has no such form: DuckDB function of the value
_JODA_NUMBER: dict[str, str] = {
    "y": "year({0})", "Y": "year({0})", "x": "isoyear({0})", "w": "week({0})",
    "e": "isodow({0})", "d": "day({0})", "D": "dayofyear({0})", "h": "(hour({0}) + 11) % 12 + 1",
    "H": "hour({0})", "m": "minute({0})", "s": "second({0})", "C": "year({0}) // 100",
    "K": "hour({0}) % 12", "k": "(hour({0}) + 23) % 24 + 1", "M": "month({0})",
}
# the session time zone of Athena is UTC: zone letters print UTC's offset and names
_JODA_ZONE = {"Z": "+0000", "ZZ": "+00:00", "z": "UTC", "zz": "UTC", "zzz": "UTC"}


def _joda_tokens(pattern: str) -> list[tuple[str, str]]:
    """``[("field", "yyyy"), ("text", "-"), ...]``; quotes as Joda reads them."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = i + 1
            text = ""
            while True:
                if end >= len(pattern):
                    raise QueryError("INVALID_FUNCTION_ARGUMENT",
                                     f"Illegal pattern component: {pattern[i:]}")
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        text, end = text + "'", end + 2
                        continue
                    break
                text, end = text + pattern[end], end + 1
            tokens.append(("text", text if end > i + 1 else "'"))
            i = end + 1
        elif char.isascii() and char.isalpha():
            end = i
            while end < len(pattern) and pattern[end] == char:
                end += 1
            tokens.append(("field", pattern[i:end]))
            i = end
        else:
            tokens.append(("text", char))
            i += 1
    return tokens


def joda_format(value: exp.Expression, pattern: str) -> exp.Expression:
    """DuckDB expression for Trino's ``format_datetime(value, pattern)`` (Joda-Time pattern).

    Pieces that ``strftime`` prints are gathered into one format string; numbers padded to a
    count it has no code for use ``printf('%0Nd', ...)``; the parts are joined with ``||``
    (NULL in, NULL out, like Trino). An unknown letter is Trino's ``Illegal pattern
    component`` error.
    """
    parts: list[exp.Expression] = []
    fmt: list[str] = []

    def flush() -> None:
        if fmt:
            parts.append(exp.Anonymous(this="strftime", expressions=[
                value.copy(), exp.Literal.string("".join(fmt))]))
            fmt.clear()

    column = value.sql(dialect=WRITE)
    for kind, token in _joda_tokens(pattern):
        if kind == "text":
            fmt.append(token.replace("%", "%%"))
            continue
        letter, count = token[0], len(token)
        if letter == "G":
            fmt.append("AD")
        elif letter in ("z", "Z"):
            fmt.append(_JODA_ZONE.get(token, "UTC"))
        elif letter == "S" and count not in (3, 6):
            flush()
            micros = exp.Anonymous(this="strftime", expressions=[
                value.copy(), exp.Literal.string("%f")])
            digits = exp.Anonymous(this="rpad", expressions=[
                micros, exp.Literal.number(max(count, 6)), exp.Literal.string("0")])
            parts.append(exp.Anonymous(this="left", expressions=[
                digits, exp.Literal.number(count)]))
        elif letter in _JODA_STRFTIME and _JODA_STRFTIME[letter](count) is not None:
            fmt.append(str(_JODA_STRFTIME[letter](count)))
        elif letter in _JODA_NUMBER:
            flush()
            number = sqlglot.parse_one(_JODA_NUMBER[letter].format(column), read=WRITE)
            parts.append(exp.Anonymous(this="printf", expressions=[
                exp.Literal.string(f"%0{count}d"), number]))
        else:
            raise QueryError("INVALID_FUNCTION_ARGUMENT", f"Illegal pattern component: {token}")
    flush()
    if not parts:
        return exp.Literal.string("")
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return result


def format_datetimes(tree: exp.Expression) -> int:
    """Rewrite every ``format_datetime(x, '<Joda pattern>')``; returns how many."""
    calls = [node for node in tree.find_all(exp.Anonymous)
             if str(node.this).lower() == "format_datetime"]
    for call in calls:
        args = call.expressions
        if len(args) != 2:
            raise QueryError("FUNCTION_NOT_FOUND",
                             f"Unexpected parameters for function format_datetime: {len(args)} "
                             "arguments (expected: timestamp, varchar)")
        value, pattern = args
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise QueryError("NOT_SUPPORTED", "the local Athena supports format_datetime with "
                             "a constant pattern only")
        call.replace(joda_format(value, pattern.this))
    return len(calls)


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
    format_datetimes(tree)
    schema = resolve(refs) if resolve else None  # always called: it also checks the tables
    integer_divisions(tree, schema)
    try:
        sql = tree.sql(dialect=WRITE, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise QueryError("NOT_SUPPORTED", str(exc)) from exc
    return sql, refs
