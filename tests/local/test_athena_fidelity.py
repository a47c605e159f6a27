"""Contract tests: Trino semantics the local Athena reproduces (division, JSON keys, text lines)."""

from __future__ import annotations

import json

import boto3
import pytest

from test_athena_support import all_rows, failure, make_bucket, put, query, run, start, unique, wait

pytestmark = pytest.mark.stack

DIVISION_BY_ZERO = "DIVISION_BY_ZERO: Division by zero"


@pytest.fixture(scope="module")
def env(local_stack) -> dict[str, str]:
    bucket = make_bucket()
    db = unique("fidelity_")
    output = f"s3://{bucket}/results/"
    run(f"CREATE DATABASE {db}", output)
    put(bucket, "nums/part-0.csv", "n,big,x\n7,2,1.5\n-7,2,3.0\n5,0,0.0\n")
    run(f"""CREATE EXTERNAL TABLE {db}.nums (n int, big bigint, x double)
          ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
          LOCATION 's3://{bucket}/nums/'
          TBLPROPERTIES ('skip.header.line.count'='1')""", output)
    return {"bucket": bucket, "db": db, "output": output}


def _json_table(env: dict[str, str], name: str, serde: str, properties: str = "",
                columns: str = "vendorid int, fare double, tags array<string>") -> str:
    bucket, db = env["bucket"], env["db"]
    put(bucket, f"{name}/part-0.json",
        json.dumps({"VendorID": 1, "Fare": 2.5, "TAGS": ["a", "b"], "timestamp": "t1"}) + "\n"
        + json.dumps({"vendorid": 2, "fare": 4.0, "tags": [], "timestamp": "t2"}) + "\n")
    props = f"WITH SERDEPROPERTIES ({properties})" if properties else ""
    run(f"""CREATE EXTERNAL TABLE {db}.{name} ({columns})
          ROW FORMAT SERDE '{serde}' {props}
          LOCATION 's3://{bucket}/{name}/'""", env["output"])
    return f"{db}.{name}"


# ---------------------------------------------------------------- integer division
def test_integer_operands_divide_as_integers(env):
    # GIVEN integer literals, integer columns and double operands
    execution = run("SELECT 5 / 2 AS lit, -7 / 2 AS neg, CAST(5 AS double) / 2 AS dbl, "
                    "7 % 3 AS rem, 10 / 4 * 4 AS chained", env["output"])
    rows, columns = all_rows(execution["QueryExecutionId"])
    # THEN integer / integer truncates toward zero and keeps an integer type (Trino)
    assert rows[1] == ["2", "-3", "2.5", "1", "8"]
    assert [c["Type"] for c in columns] == ["integer", "integer", "double", "integer", "integer"]


def test_integer_columns_and_aggregates_divide_as_integers(env):
    db, out = env["db"], env["output"]
    rows = query(f"SELECT n / big, n / 2, CAST(n AS double) / 2, x / 2 FROM {db}.nums "
                 "WHERE big <> 0 ORDER BY n", out)
    assert rows == [["-3", "-3", "-3.5", "1.5"], ["3", "3", "3.5", "0.75"]]
    # count(*) and sum(int) are bigint: their quotient is an integer too; avg is a double
    assert query(f"SELECT count(*) / 2, sum(n) / count(*), avg(n) / 2 FROM {db}.nums",
                 out) == [["1", "1", "0.8333333333333334"]]
    # through a subquery and a CTE the operand types are still known
    assert query(f"WITH w AS (SELECT n * 3 AS y FROM {db}.nums) "
                 "SELECT max(y) / 2 FROM (SELECT y FROM w)", out) == [["10"]]


# ---------------------------------------------------------------- division by zero
@pytest.mark.parametrize("sql", [
    "SELECT 1 / 0",
    "SELECT 7 % 0",
    "SELECT n / big FROM {db}.nums",
    "SELECT sum(n) / (count(*) - 3) FROM {db}.nums",
])
def test_integer_division_by_zero_fails_the_query(env, sql):
    reason = failure(sql.format(db=env["db"]), env["output"])
    assert reason == DIVISION_BY_ZERO


def test_division_by_zero_error_is_a_user_error(env):
    execution = wait(start("SELECT 1 / 0", env["output"]))
    assert execution["Status"]["State"] == "FAILED"
    assert execution["Status"]["AthenaError"]["ErrorCategory"] == 2


def test_double_division_by_zero_and_try_do_not_fail(env):
    db, out = env["db"], env["output"]
    assert query("SELECT CAST(1 AS double) / 0, CAST(-1 AS double) / 0, "
                 "CAST(0 AS double) / 0, try(1 / 0)", out) == [
        ["Infinity", "-Infinity", "NaN", None]]
    assert query(f"SELECT x / big FROM {db}.nums WHERE n = 5", out) == [["NaN"]]
    # a zero divisor filtered out (or guarded) never reaches the division
    assert query(f"SELECT n / big FROM {db}.nums WHERE big <> 0 ORDER BY n", out) == [
        ["-3"], ["3"]]
    assert query(f"SELECT CASE WHEN big = 0 THEN NULL ELSE n / big END FROM {db}.nums "
                 "ORDER BY n", out) == [["-3"], [None], ["3"]]


# ---------------------------------------------------------------- JSON SerDe keys
def test_openx_json_matches_keys_ignoring_case_by_default(env):
    table = _json_table(env, "openx_default", "org.openx.data.jsonserde.JsonSerDe")
    assert query(f"SELECT vendorid, fare, tags FROM {table} ORDER BY vendorid",
                 env["output"]) == [["1", "2.5", "[a, b]"], ["2", "4.0", "[]"]]


def test_openx_json_case_sensitive_needs_mappings(env):
    # GIVEN case.insensitive=false: keys with upper case no longer match the lower-case columns
    table = _json_table(env, "openx_sensitive", "org.openx.data.jsonserde.JsonSerDe",
                        "'case.insensitive'='false'")
    assert query(f"SELECT vendorid, fare, tags FROM {table} ORDER BY vendorid NULLS LAST",
                 env["output"]) == [["2", "4.0", "[]"], [None, None, None]]
    # WHEN a mapping names the key exactly THEN it matches again (only that exact spelling)
    table = _json_table(env, "openx_mapped", "org.openx.data.jsonserde.JsonSerDe",
                        "'case.insensitive'='false', 'mapping.vendorid'='VendorID'")
    assert query(f"SELECT vendorid, fare FROM {table} ORDER BY vendorid NULLS LAST",
                 env["output"]) == [["1", None], [None, "4.0"]]


def test_openx_json_mapping_renames_a_keyword_key(env):
    table = _json_table(env, "openx_ts", "org.openx.data.jsonserde.JsonSerDe",
                        "'mapping.ts'='timestamp'", columns="vendorid int, ts string")
    assert query(f"SELECT vendorid, ts FROM {table} ORDER BY vendorid", env["output"]) == [
        ["1", "t1"], ["2", "t2"]]


def test_hive_json_matches_keys_ignoring_case(env):
    table = _json_table(env, "hive_json", "org.apache.hive.hcatalog.data.JsonSerDe")
    assert query(f"SELECT vendorid, fare, tags FROM {table} ORDER BY vendorid",
                 env["output"]) == [["1", "2.5", "[a, b]"], ["2", "4.0", "[]"]]
    stored = boto3.client("glue").get_table(DatabaseName=env["db"], Name="hive_json")["Table"]
    assert stored["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == \
        "org.apache.hive.hcatalog.data.JsonSerDe"


# ---------------------------------------------------------------- empty lines
def test_empty_lines_of_a_text_file_are_rows(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    # GIVEN a CSV file with a header, an empty line in the middle and CRLF line ends
    put(bucket, "blank/part-0.csv", "n,s\r\n1,a\r\n\r\n2,b\r\n")
    run(f"""CREATE EXTERNAL TABLE {db}.blank (n int, s string)
          ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
          LOCATION 's3://{bucket}/blank/'
          TBLPROPERTIES ('skip.header.line.count'='1')""", out)
    # THEN the empty line is a row (LazySimpleSerDe: first field '', missing fields NULL),
    # while the final line terminator does not add one
    assert query(f"SELECT n, s FROM {db}.blank ORDER BY n NULLS LAST", out) == [
        ["1", "a"], ["2", "b"], [None, None]]
    assert query(f"SELECT count(*), count(n), count(s) FROM {db}.blank", out) == [
        ["3", "2", "2"]]
    # the empty line's string column is '' (not NULL) when it comes first
    put(bucket, "blank2/part-0.txt", "a|1\n\nb|2\n")
    run(f"""CREATE EXTERNAL TABLE {db}.blank2 (s string, n int)
          ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
          LOCATION 's3://{bucket}/blank2/'""", out)
    assert query(f"SELECT s, n FROM {db}.blank2 ORDER BY s", out) == [
        ["", None], ["a", "1"], ["b", "2"]]


def test_openx_json_empty_line_is_a_row_of_nulls(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put(bucket, "jblank/part-0.json", '{"a": 1}\n\n{"a": 2}\n')
    run(f"""CREATE EXTERNAL TABLE {db}.jblank (a int)
          ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
          LOCATION 's3://{bucket}/jblank/'""", out)
    assert query(f"SELECT a FROM {db}.jblank ORDER BY a NULLS LAST", out) == [
        ["1"], ["2"], [None]]
