"""Unit tests of the local Athena's pure parts (no stack needed)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from local.athena import translate
from local.athena.catalog import Column, TableDef
from local.athena.errors import QueryError
from local.athena.projection import java_to_strptime
from local.athena.results import format_array, java_float_text
from local.athena.tables import json_keys
from local.athena.types import duckdb_to_athena, duckdb_to_hive, hive_to_duckdb


@pytest.mark.parametrize(("value", "text"), [
    (2.0, "2.0"), (0.1, "0.1"), (12345678.9, "1.23456789E7"), (1e-4, "1.0E-4"),
    (-0.5, "-0.5"), (1234567.0, "1234567.0"), (float("nan"), "NaN"), (0.0, "0.0")])
def test_doubles_print_like_java(value, text):
    assert java_float_text(value) == text


def test_timestamps_have_milliseconds_and_nulls_stay_null():
    array = pa.array([pa.scalar(1_700_000_000_123_456, pa.timestamp("us")).as_py(), None],
                     pa.timestamp("us"))
    assert format_array(array).to_pylist() == ["2023-11-14 22:13:20.123", None]


def test_unnamed_expressions_get_trino_column_names():
    sql, refs = translate.prepare_query(
        translate.parse("SELECT VendorID, count(*), max(fare) AS top FROM trips GROUP BY 1"),
        "taxi")
    assert '"_col1"' in sql and "top" in sql.lower()
    assert [(r.database, r.name, r.line, r.col) for r in refs] == [("taxi", "trips", 1, 50)]


def test_catalog_prefix_is_accepted_and_other_catalogs_fail():
    _, refs = translate.prepare_query(
        translate.parse("SELECT * FROM awsdatacatalog.db.t"), "default")
    assert (refs[0].database, refs[0].name) == ("db", "t")
    with pytest.raises(QueryError, match="CATALOG_NOT_FOUND"):
        translate.prepare_query(translate.parse("SELECT * FROM other.db.t"), "default")


def test_syntax_errors_have_a_position():
    with pytest.raises(QueryError, match=r"^SYNTAX_ERROR: line 1:\d+: "):
        translate.parse("SELECT FROM WHERE")


def test_type_mappings():
    assert hive_to_duckdb("decimal") == "DECIMAL(10,0)"
    assert hive_to_duckdb("array<string>") == "VARCHAR[]"
    assert duckdb_to_athena("DECIMAL(18,3)") == ("decimal", 18, 3)
    assert duckdb_to_hive("INTEGER") == "int"
    assert duckdb_to_hive("STRUCT(a INTEGER, b VARCHAR)") == "struct<a:int,b:string>"


def test_java_date_patterns():
    fmt, regex = java_to_strptime("yyyy/MM/dd/HH")
    assert fmt == "%Y/%m/%d/%H" and regex == r"\d{4}/\d{2}/\d{2}/\d{2}"


SCHEMA = {"taxi": {"trips": {"n": "INTEGER", "big": "BIGINT", "x": "DOUBLE",
                             "d": "DECIMAL(10,2)", "s": "VARCHAR"}}}


def _sql(text: str) -> str:
    return translate.prepare_query(translate.parse(text), "taxi", lambda refs: SCHEMA)[0]


def test_integer_operands_become_integer_division():
    sql = _sql("SELECT 5 / 2, n / big, count(*) / 2, length(s) / 2, CAST(s AS integer) / n "
               "FROM trips")
    assert sql.count("//") == 5 and " / " not in sql


def test_other_operands_keep_float_division():
    sql = _sql("SELECT CAST(5 AS double) / 2, x / n, d / 2, 5.0 / 2, avg(n) / 2, nosuch / 2 "
               "FROM trips")
    assert "//" not in sql and sql.count(" / ") == 6


def test_division_typing_follows_subqueries_and_ctes():
    sql = _sql("WITH w AS (SELECT n * 3 AS y, x FROM trips) "
               "SELECT y / 2 AS half, x / 2 AS xs FROM (SELECT y, x FROM w)")
    assert "y // 2" in sql and "x / 2" in sql
    # without table types only literals and casts are typed
    bare = translate.prepare_query(translate.parse("SELECT 7 / 2, n / 2 FROM trips"), "taxi")[0]
    assert "7 // 2" in bare and "n / 2" in bare


def test_json_key_matching_per_serde():
    columns = [Column("vendorid", "int"), Column("ts", "string")]

    def table(serde: str, **params: str) -> TableDef:
        return TableDef("db", "t", columns, [], "s3://b/t/", serde, "", serde_params=params)

    openx, hive = "org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe"
    assert json_keys(table(openx)) == ({"vendorid": "vendorid", "ts": "ts"}, True)
    assert json_keys(table(openx, **{"case.insensitive": "FALSE", "mapping.ts": "timestamp"})) \
        == ({"vendorid": "vendorid", "ts": "timestamp"}, False)
    assert json_keys(table(hive, **{"mapping.ts": "timestamp"})) == (
        {"vendorid": "vendorid", "ts": "ts"}, True)
