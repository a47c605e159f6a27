"""Hive DDL and utility statements against the Glue catalog.

sqlglot parses ``CREATE DATABASE``, ``CREATE EXTERNAL TABLE``, ``DROP`` and ``DESCRIBE`` into
ASTs. It has no AST for ``MSCK REPAIR TABLE``, ``ALTER TABLE ... ADD/DROP PARTITION`` and the
``SHOW`` statements (it returns a generic ``Command``): those are read here from sqlglot's own
token stream (:class:`_Tokens`), not with regular expressions over the SQL text.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from local.athena import s3io
from local.athena.catalog import (
    HIVE_JSON_SERDE,
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
from local.athena.types import normalize_hive_type

_HIVE_EXC = "FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
_FORMATS = {
    "PARQUET": (PARQUET_SERDE, PARQUET_INPUT),
    "TEXTFILE": (LAZY_SERDE, TEXT_INPUT),
    "JSONFILE": (HIVE_JSON_SERDE, TEXT_INPUT),
    "ORC": ("org.apache.hadoop.hive.ql.io.orc.OrcSerde",
            "org.apache.hadoop.hive.ql.io.orc.OrcInputFormat"),
}


@dataclass
class Outcome:
    """Result of a DDL/utility statement: Athena's statement types and text rows (no header)."""

    statement_type: str = "DDL"
    substatement_type: str = ""
    column: str = ""
    rows: list[str] = field(default_factory=list)


def _semantic(message: str) -> QueryError:
    return QueryError("", f"FAILED: SemanticException {message}")


def _table_name(table: exp.Table, default_db: str) -> tuple[str, str]:
    db = table.args.get("db")
    return (db.name if db else default_db).lower(), table.name.lower()


# ---------------------------------------------------------------- CREATE / DROP DATABASE
def create_database(create: exp.Create, catalog: Catalog) -> Outcome:
    name = create.this.name.lower()
    if catalog.database_exists(name):
        if create.args.get("exists"):
            return Outcome(substatement_type="CREATE_DATABASE")
        raise QueryError("", f"{_HIVE_EXC}Database {name} already exists")
    props = create.args.get("properties")
    comment, location, params = "", "", {}
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.SchemaCommentProperty):
            comment = prop.this.name
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.Property):
            params[prop.name] = prop.args["value"].name
    catalog.create_database(name, comment, location, params)
    return Outcome(substatement_type="CREATE_DATABASE")


def drop_database(drop: exp.Drop, catalog: Catalog) -> Outcome:
    name = drop.this.name.lower() if drop.this else drop.args["tables"][0].name.lower()
    if not catalog.database_exists(name):
        if drop.args.get("exists"):
            return Outcome(substatement_type="DROP_DATABASE")
        raise _semantic(f"[Error 10072]: Database does not exist: {name}")
    tables = catalog.table_names(name)
    if tables and not drop.args.get("cascade"):
        raise QueryError("", f"{_HIVE_EXC}InvalidOperationException(message:Database {name} "
                             "is not empty. One or more tables exist.)")
    for table in tables:
        catalog.delete_table(name, table)
    catalog.delete_database(name)
    return Outcome(substatement_type="DROP_DATABASE")


# ---------------------------------------------------------------- CREATE EXTERNAL TABLE
def _column(col: exp.ColumnDef) -> Column:
    kind = col.args.get("kind")
    hive = normalize_hive_type(kind.sql("hive")) if kind else "string"
    return Column(col.name.lower(), hive)


def create_table(create: exp.Create, default_db: str, catalog: Catalog) -> Outcome:
    """``CREATE EXTERNAL TABLE`` (Hive DDL) -> Glue ``CreateTable``."""
    schema = create.this
    db, name = _table_name(schema.this, default_db)
    props = create.args.get("properties")
    items = list(props.expressions) if props else []
    if not any(isinstance(p, exp.ExternalProperty) for p in items):
        raise QueryError("", "FAILED: SemanticException Only EXTERNAL table creation is "
                             "supported in Hive DDL; use CREATE TABLE AS SELECT.")
    if not catalog.database_exists(db):
        raise _semantic(f"[Error 10072]: Database does not exist: {db}")
    if catalog.get_table(db, name) is not None:
        if create.args.get("exists"):
            return Outcome(substatement_type="CREATE_TABLE")
        raise QueryError("", f"{_HIVE_EXC}AlreadyExistsException(message:Table {db}.{name} "
                             "already exists)")
    columns = [_column(c) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    partition_keys: list[Column] = []
    serde, input_format = "", ""
    serde_params: dict[str, str] = {}
    params: dict[str, str] = {"EXTERNAL": "TRUE"}
    location = ""
    for prop in items:
        if isinstance(prop, exp.PartitionedByProperty):
            partition_keys = [_column(c) for c in prop.this.expressions
                              if isinstance(c, exp.ColumnDef)]
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name
            extra = prop.args.get("serde_properties")
            for kv in extra.expressions if extra else []:
                serde_params[kv.name] = kv.args["value"].name
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            serde = LAZY_SERDE
            for arg, key in (("fields", "field.delim"), ("escaped", "escape.delim"),
                             ("collection_items", "collection.delim"),
                             ("map_keys", "mapkey.delim"), ("lines", "line.delim"),
                             ("null", "serialization.null.format")):
                if prop.args.get(arg) is not None:
                    serde_params[key] = prop.args[arg].name
            if "field.delim" in serde_params:
                serde_params["serialization.format"] = serde_params["field.delim"]
        elif isinstance(prop, exp.FileFormatProperty):
            value = prop.this
            if isinstance(value, exp.InputOutputFormat):
                input_format = value.args["input_format"].name
            else:
                fmt = value.name.upper()
                if fmt not in _FORMATS:
                    raise QueryError("NOT_SUPPORTED", f"STORED AS {fmt} is not supported locally")
                default_serde, input_format = _FORMATS[fmt]
                serde = serde or default_serde
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.SchemaCommentProperty):
            params["comment"] = prop.this.name
        elif isinstance(prop, exp.Property) and prop.args.get("value") is not None:
            params[prop.name] = prop.args["value"].name
    if not location:
        raise QueryError("", "FAILED: SemanticException [Error 10000]: LOCATION is required "
                             "for an external table.")
    s3io.split_uri(location)
    serde = serde or LAZY_SERDE
    if not input_format:
        input_format = PARQUET_INPUT if serde == PARQUET_SERDE else TEXT_INPUT
    table = TableDef(db, name, columns, partition_keys, location, serde, input_format,
                     serde_params, params)
    catalog.create_table(table)
    return Outcome(substatement_type="CREATE_TABLE")


def drop_table(drop: exp.Drop, default_db: str, catalog: Catalog) -> Outcome:
    db, name = _table_name(drop.args["tables"][0] if drop.args.get("tables") else drop.this,
                           default_db)
    if catalog.get_table(db, name) is None:
        if drop.args.get("exists"):
            return Outcome(substatement_type="DROP_TABLE")
        raise _semantic(f"[Error 10001]: Table not found {db}.{name}")
    catalog.delete_table(db, name)
    return Outcome(substatement_type="DROP_TABLE")


def describe(describe_: exp.Describe, default_db: str, catalog: Catalog) -> Outcome:
    db, name = _table_name(describe_.this, default_db)
    table = catalog.get_table(db, name)
    if table is None:
        raise _semantic(f"[Error 10001]: Table not found {db}.{name}")
    rows = [f"{c.name:<20}\t{c.type:<20}\t" for c in table.columns + table.partition_keys]
    if table.partition_keys:
        rows += ["", "# Partition Information", f"{'# col_name':<20}\t{'data_type':<20}\t"
                 f"{'comment':<20}", ""]
        rows += [f"{c.name:<20}\t{c.type:<20}\t" for c in table.partition_keys]
    return Outcome("UTILITY", "DESCRIBE", "col_name", rows)


# ---------------------------------------------------------------- token-level statements
class _Tokens:
    """A cursor over sqlglot tokens for the statements sqlglot only knows as ``Command``."""

    def __init__(self, sql: str) -> None:
        tokens = sqlglot.Dialect.get_or_raise("athena").tokenize(sql)
        self.items: list[Token] = [t for t in tokens if t.token_type not in (
            TokenType.HIVE_TOKEN_STREAM, TokenType.SEMICOLON)]
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.items[j] if j < len(self.items) else None

    def word(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text.upper() if token and token.token_type != TokenType.STRING else ""

    def accept(self, *words: str) -> bool:
        if all(self.word(k) == w for k, w in enumerate(words)):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            token = self.peek()
            where = f"line {token.line}:{token.col}: " if token else ""
            found = token.text if token else "<EOF>"
            raise QueryError("SYNTAX_ERROR", f"{where}mismatched input '{found}'. "
                                             f"Expecting: {' '.join(words)}")

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryError("SYNTAX_ERROR", "mismatched input '<EOF>'")
        self.i += 1
        return token

    def name(self, default_db: str) -> tuple[str, str]:
        """``[catalog.][db.]table`` (backticks and quotes allowed)."""
        parts = [self.take().text]
        while self.peek() is not None and self.peek().token_type == TokenType.DOT:
            self.i += 1
            parts.append(self.take().text)
        parts = [p.strip("`\"").lower() for p in parts]
        if len(parts) == 1:
            return default_db, parts[0]
        return parts[-2], parts[-1]

    def done(self) -> bool:
        return self.i >= len(self.items)

    def partition_spec(self) -> list[tuple[str, str]]:
        """``(k='v', k2=3)`` -> [(k, v), ...]."""
        spec: list[tuple[str, str]] = []
        if self.take().token_type != TokenType.L_PAREN:
            raise QueryError("SYNTAX_ERROR", "expected '(' after PARTITION")
        while True:
            key = self.take().text.strip("`\"").lower()
            if self.take().token_type != TokenType.EQ:
                raise QueryError("SYNTAX_ERROR", f"expected '=' after partition key {key}")
            spec.append((key, self.take().text))
            token = self.take()
            if token.token_type == TokenType.R_PAREN:
                return spec
            if token.token_type != TokenType.COMMA:
                raise QueryError("SYNTAX_ERROR", f"unexpected '{token.text}' in PARTITION")


def _spec_values(table: TableDef, spec: list[tuple[str, str]]) -> list[str]:
    given = dict(spec)
    keys = [c.name for c in table.partition_keys]
    if set(given) != set(keys):
        raise _semantic(f"[Error 10006]: Partition not found {spec} (partition keys of "
                        f"{table.database}.{table.name}: {keys})")
    return [given[k] for k in keys]


def partition_path(table: TableDef, values: list[str]) -> str:
    return "/".join(f"{c.name}={v}" for c, v in zip(table.partition_keys, values, strict=True))


def _require(catalog: Catalog, db: str, name: str) -> TableDef:
    table = catalog.get_table(db, name)
    if table is None:
        raise _semantic(f"[Error 10001]: Table not found {db}.{name}")
    return table


def alter_table(tokens: _Tokens, default_db: str, catalog: Catalog) -> Outcome:
    tokens.expect("TABLE")
    db, name = tokens.name(default_db)
    table = _require(catalog, db, name)
    if tokens.accept("ADD"):
        if_not_exists = tokens.accept("IF", "NOT", "EXISTS")
        existing = {tuple(p.values) for p in catalog.partitions(table)}
        new: list[Partition] = []
        while tokens.accept("PARTITION"):
            values = _spec_values(table, tokens.partition_spec())
            location = s3io.dir_prefix(table.location) + partition_path(table, values) + "/"
            if tokens.accept("LOCATION"):
                location = tokens.take().text
            if tuple(values) in existing:
                if not if_not_exists:
                    raise QueryError("", f"{_HIVE_EXC}AlreadyExistsException(message:"
                                         f"Partition already exists: {values})")
                continue
            new.append(Partition(values, location))
        catalog.add_partitions(table, new)
        return Outcome(substatement_type="ALTER_TABLE_ADD_PARTITION")
    if tokens.accept("DROP"):
        if_exists = tokens.accept("IF", "EXISTS")
        existing = {tuple(p.values) for p in catalog.partitions(table)}
        while tokens.accept("PARTITION"):
            values = _spec_values(table, tokens.partition_spec())
            if tuple(values) not in existing:
                if if_exists:
                    continue
                raise _semantic(f"[Error 10006]: Partition not found {values}")
            catalog.glue.delete_partition(DatabaseName=db, TableName=name,
                                          PartitionValues=values)
            tokens.accept(",")
        return Outcome(substatement_type="ALTER_TABLE_DROP_PARTITION")
    raise QueryError("NOT_SUPPORTED", "Only ALTER TABLE ADD/DROP PARTITION is supported locally")


def msck_repair(tokens: _Tokens, default_db: str, catalog: Catalog) -> Outcome:
    """Register every ``k1=v1/k2=v2/`` prefix under the location that the catalog lacks."""
    tokens.expect("TABLE")
    db, name = tokens.name(default_db)
    table = _require(catalog, db, name)
    if not table.partition_keys:
        return Outcome(substatement_type="MSCK_REPAIR_TABLE")
    keys = [c.name for c in table.partition_keys]
    root = s3io.dir_prefix(table.location)
    _, root_key = s3io.split_uri(root)
    existing = {tuple(p.values) for p in catalog.partitions(table)}
    found: dict[tuple[str, ...], str] = {}
    for obj in s3io.list_objects(root):
        parts = obj.key[len(root_key):].split("/")[:-1]
        if len(parts) < len(keys):
            continue
        pairs = [p.split("=", 1) for p in parts[:len(keys)]]
        if any(len(p) != 2 or p[0].lower() != k for p, k in zip(pairs, keys, strict=True)):
            continue
        values = tuple(p[1] for p in pairs)
        found.setdefault(values, root + "/".join(parts[:len(keys)]) + "/")
    missing = sorted(v for v in found if v not in existing)
    catalog.add_partitions(table, [Partition(list(v), found[v]) for v in missing])
    rows: list[str] = []
    if missing:
        listed = "\t".join(f"{name}:{partition_path(table, list(v))}" for v in missing)
        rows.append(f"Partitions not in metastore:\t{listed}")
        rows += [f"Repair: Added partition to metastore {name}:{partition_path(table, list(v))}"
                 for v in missing]
    return Outcome("DDL", "MSCK_REPAIR_TABLE", "", rows)


def _like(name: str, pattern: str | None) -> bool:
    if not pattern:
        return True
    return any(fnmatch.fnmatchcase(name, alt.strip().lower()) for alt in pattern.split("|"))


def show(tokens: _Tokens, default_db: str, catalog: Catalog) -> Outcome:
    if tokens.accept("TABLES"):
        db = default_db
        if tokens.accept("IN") or tokens.accept("FROM"):
            db = tokens.take().text.strip("`\"").lower()
        tokens.accept("LIKE")
        pattern = tokens.take().text if not tokens.done() else None
        if not catalog.database_exists(db):
            raise QueryError("SCHEMA_NOT_FOUND", f"Schema '{db}' does not exist")
        names = [t for t in catalog.table_names(db) if _like(t, pattern)]
        return Outcome("UTILITY", "SHOW_TABLES", "tab_name", names)
    if tokens.accept("DATABASES") or tokens.accept("SCHEMAS"):
        tokens.accept("LIKE")
        pattern = tokens.take().text if not tokens.done() else None
        names = [d for d in catalog.databases() if _like(d, pattern)]
        return Outcome("UTILITY", "SHOW_DATABASES", "database_name", names)
    if tokens.accept("PARTITIONS"):
        db, name = tokens.name(default_db)
        table = _require(catalog, db, name)
        if not table.partition_keys:
            raise _semantic(f"[Error 10241]: Table {name} is not a partitioned table")
        rows = [partition_path(table, p.values) for p in catalog.partitions(table)]
        return Outcome("UTILITY", "SHOW_PARTITIONS", "partition", rows)
    if tokens.accept("COLUMNS"):
        if not (tokens.accept("IN") or tokens.accept("FROM")):
            tokens.expect("IN")
        db, name = tokens.name(default_db)
        if tokens.accept("IN") or tokens.accept("FROM"):
            db = tokens.take().text.strip("`\"").lower()
        table = _require(catalog, db, name)
        return Outcome("UTILITY", "SHOW_COLUMNS", "field",
                       [c.name for c in table.columns + table.partition_keys])
    if tokens.accept("TBLPROPERTIES"):
        db, name = tokens.name(default_db)
        table = _require(catalog, db, name)
        return Outcome("UTILITY", "SHOW_TBLPROPERTIES", "prpt_name",
                       [f"{k}\t{v}" for k, v in sorted(table.params.items())])
    raise QueryError("NOT_SUPPORTED", f"SHOW {tokens.word()} is not supported locally")


def alter(sql: str, default_db: str, catalog: Catalog) -> Outcome:
    """ALTER TABLE that sqlglot parsed as ``exp.Alter``: read again from the tokens."""
    tokens = _Tokens(sql)
    tokens.expect("ALTER")
    return alter_table(tokens, default_db, catalog)


def command(tree: exp.Expression, default_db: str, catalog: Catalog) -> Outcome:
    """MSCK REPAIR TABLE, ALTER TABLE ... PARTITION and SHOW ...

    sqlglot returns these as ``Command(this=<keyword>, expression=<rest of the text>)``;
    the rest is tokenized again with sqlglot's tokenizer.
    """
    keyword = " ".join(str(tree.this).upper().split())
    rest = tree.expression
    rest = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
    tokens = _Tokens(rest)
    if keyword == "MSCK REPAIR" or (keyword == "MSCK" and tokens.accept("REPAIR")):
        return msck_repair(tokens, default_db, catalog)
    if keyword == "ALTER":
        return alter_table(tokens, default_db, catalog)
    if keyword == "SHOW":
        return show(tokens, default_db, catalog)
    raise QueryError("NOT_SUPPORTED", f"Statement '{keyword}' is not supported by the local "
                                      "Athena")
