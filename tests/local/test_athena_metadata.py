"""A student's first Athena session: table metadata from the Glue catalog and format_datetime.

``aws athena list-table-metadata`` / ``get-table-metadata`` (ListTableMetadata and
GetTableMetadata) and Trino's ``format_datetime`` with Joda-Time patterns, each through boto3
and through the AWS CLI against the local stack; the pattern translation is also checked on
its own (DuckDB in process) and with arbitrary patterns (hypothesis).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from local.athena.errors import QueryError
from local.athena.translate import joda_format
from test_athena_support import failure, make_bucket, put, query, run, unique

AWS_CLI = str(Path(sys.executable).with_name("aws"))
CATALOG = "AwsDataCatalog"
MOMENT = "TIMESTAMP '2024-03-05 07:08:09.123456'"


@pytest.fixture(scope="module")
def env(local_stack) -> dict[str, str]:
    """A database with two tables made by Athena DDL (one partitioned) and one made with
    Glue's API, as step 1 does (with a column comment)."""
    bucket = make_bucket()
    output = f"s3://{bucket}/results/"
    db = unique("meta_")
    run(f"CREATE DATABASE {db}", output)
    run(f"CREATE EXTERNAL TABLE {db}.trips (vendor_id int, "
        "pickup_datetime timestamp, fare_amount double) "
        "PARTITIONED BY (year string, month string) STORED AS PARQUET "
        f"LOCATION 's3://{bucket}/trips/' TBLPROPERTIES ('classification'='parquet')",
        output)
    run(f"CREATE EXTERNAL TABLE {db}.trips_2023 (vendor_id int) STORED AS PARQUET "
        f"LOCATION 's3://{bucket}/trips_2023/'", output)
    boto3.client("glue").create_table(DatabaseName=db, TableInput={
        "Name": "zones", "TableType": "EXTERNAL_TABLE",
        "Parameters": {"skip.header.line.count": "1", "classification": "csv"},
        "StorageDescriptor": {
            "Columns": [{"Name": "location_id", "Type": "int"},
                        {"Name": "zone", "Type": "string", "Comment": "TLC zone name"}],
            "Location": f"s3://{bucket}/zones/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary":
                          "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                          "Parameters": {"field.delim": ","}}}})
    put(bucket, "zones/zones.csv", "location_id,zone\n132,JFK Airport\n138,LaGuardia\n")
    return {"db": db, "bucket": bucket, "output": output}


def _cli(*args: str) -> dict:
    done = subprocess.run([AWS_CLI, "athena", *args, "--output", "json"], capture_output=True,
                          text=True, timeout=60, env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ------------------------------------------------------------------ table metadata
@pytest.mark.stack
def test_list_and_get_table_metadata_through_boto3(env) -> None:
    athena, db, bucket = boto3.client("athena"), env["db"], env["bucket"]
    listed = athena.list_table_metadata(CatalogName=CATALOG, DatabaseName=db)
    assert [t["Name"] for t in listed["TableMetadataList"]] == ["trips", "trips_2023", "zones"]
    assert "NextToken" not in listed
    trips = listed["TableMetadataList"][0]
    assert trips["TableType"] == "EXTERNAL_TABLE"
    assert trips["Columns"] == [
        {"Name": "vendor_id", "Type": "int"},
        {"Name": "pickup_datetime", "Type": "timestamp"},
        {"Name": "fare_amount", "Type": "double"}]
    assert trips["PartitionKeys"] == [{"Name": "year", "Type": "string"},
                                      {"Name": "month", "Type": "string"}]
    assert trips["Parameters"]["location"] == f"s3://{bucket}/trips/"
    assert trips["Parameters"]["classification"] == "parquet"
    assert "parquet" in trips["Parameters"]["serde.serialization.lib"].lower()
    assert trips["CreateTime"].year >= 2024
    # GetTableMetadata answers the same description
    got = athena.get_table_metadata(CatalogName=CATALOG, DatabaseName=db, TableName="ZONES")
    zones = got["TableMetadata"]
    assert zones == listed["TableMetadataList"][2]
    assert zones["Parameters"]["skip.header.line.count"] == "1"
    assert zones["Parameters"]["serde.param.field.delim"] == ","
    assert zones["Columns"] == [{"Name": "location_id", "Type": "int"},
                                {"Name": "zone", "Type": "string", "Comment": "TLC zone name"}]
    assert query(f"SELECT zone FROM {db}.zones ORDER BY location_id", env["output"]) == [
        ["JFK Airport"], ["LaGuardia"]]
    # the expression filters names like Glue's; pages of MaxResults carry a NextToken
    filtered = athena.list_table_metadata(CatalogName=CATALOG, DatabaseName=db,
                                          Expression="trips*")["TableMetadataList"]
    assert [t["Name"] for t in filtered] == ["trips", "trips_2023"]
    pages = athena.get_paginator("list_table_metadata").paginate(
        CatalogName=CATALOG, DatabaseName=db, PaginationConfig={"PageSize": 2})
    assert [[t["Name"] for t in p["TableMetadataList"]] for p in pages] == [
        ["trips", "trips_2023"], ["zones"]]


@pytest.mark.stack
def test_table_metadata_errors_through_boto3(env) -> None:
    athena = boto3.client("athena")
    with pytest.raises(ClientError) as err:
        athena.get_table_metadata(CatalogName=CATALOG, DatabaseName=env["db"],
                                  TableName="nope")
    assert err.value.response["Error"]["Code"] == "MetadataException"
    assert err.value.response["Error"]["Message"] == f"Table nope not found in database {env['db']}"
    with pytest.raises(ClientError) as err:
        athena.list_table_metadata(CatalogName=CATALOG, DatabaseName="no_such_db")
    assert (err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]) == (
        "MetadataException", "Database no_such_db not found.")
    with pytest.raises(ClientError) as err:
        athena.list_table_metadata(CatalogName="hive", DatabaseName=env["db"])
    assert err.value.response["Error"]["Message"] == "Catalog hive not found."
    with pytest.raises(ClientError) as err:
        athena.list_table_metadata(CatalogName=CATALOG, DatabaseName=env["db"], MaxResults=51)
    assert "less than or equal to 50" in err.value.response["Error"]["Message"]


@pytest.mark.stack
def test_list_and_get_table_metadata_through_the_aws_cli(env) -> None:
    db = env["db"]
    listed = _cli("list-table-metadata", "--catalog-name", CATALOG, "--database-name", db)
    assert [t["Name"] for t in listed["TableMetadataList"]] == ["trips", "trips_2023", "zones"]
    got = _cli("get-table-metadata", "--catalog-name", CATALOG, "--database-name", db,
               "--table-name", "trips")["TableMetadata"]
    assert [c["Name"] for c in got["Columns"]] == ["vendor_id", "pickup_datetime",
                                                   "fare_amount"]
    assert [p["Name"] for p in got["PartitionKeys"]] == ["year", "month"]
    assert got["Parameters"]["location"] == f"s3://{env['bucket']}/trips/"


# ------------------------------------------------------------------ format_datetime
@pytest.mark.stack
def test_format_datetime_through_boto3(env) -> None:
    db, out = env["db"], env["output"]
    assert query(
        f"SELECT format_datetime({MOMENT}, 'yyyy-MM-dd HH:mm:ss'), "
        f"format_datetime({MOMENT}, 'EEEE d MMMM yyyy, h:mm a'), "
        f"format_datetime({MOMENT}, 'yyyy-MM-dd''T''HH:mm:ss.SSSZZ'), "
        f"format_datetime({MOMENT}, 'EEE, dd MMM yy'), "
        f"format_datetime({MOMENT}, 'D/DDD xxxx-''W''ww-e k K'), "
        "format_datetime(CAST(NULL AS timestamp), 'yyyy')", out) == [[
            "2024-03-05 07:08:09", "Tuesday 5 March 2024, 7:08 AM",
            "2024-03-05T07:08:09.123+00:00", "Tue, 05 Mar 24", "65/065 2024-W10-2 7 7", None]]
    # over a table's column, grouped by the formatted value
    run(f"CREATE TABLE {db}.rides AS SELECT * FROM (VALUES "
        "(TIMESTAMP '2024-01-31 23:59:00', 10.0), (TIMESTAMP '2024-02-01 00:10:00', 12.5), "
        "(TIMESTAMP '2024-02-11 08:00:00', 7.5)) AS t(pickup, fare)", out)
    assert query(f"SELECT format_datetime(pickup, 'yyyy-MM') AS month, sum(fare) "
                 f"FROM {db}.rides GROUP BY 1 ORDER BY 1", out) == [
        ["2024-01", "10.0"], ["2024-02", "20.0"]]
    # an unknown pattern letter is Trino's error, not a crash
    assert failure(f"SELECT format_datetime({MOMENT}, 'yyyy-qq')", out) == (
        "INVALID_FUNCTION_ARGUMENT: Illegal pattern component: qq")


@pytest.mark.stack
def test_format_datetime_through_the_aws_cli(env) -> None:
    sql = f"SELECT format_datetime({MOMENT}, 'dd/MM/yyyy HH:mm') AS local_time"
    qid = _cli("start-query-execution", "--query-string", sql,
               "--result-configuration", f"OutputLocation={env['output']}")["QueryExecutionId"]
    for _ in range(300):
        status = _cli("get-query-execution", "--query-execution-id", qid)[
            "QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
    assert status["State"] == "SUCCEEDED", status.get("StateChangeReason")
    rows = _cli("get-query-results", "--query-execution-id", qid)["ResultSet"]["Rows"]
    assert [[d.get("VarCharValue") for d in r["Data"]] for r in rows] == [
        ["local_time"], ["05/03/2024 07:08"]]


def _format(pattern: str, moment: str = "2024-03-05 00:08:09.123456") -> str:
    sql = joda_format(exp.column("ts"), pattern).sql(dialect="duckdb")
    return duckdb.sql(f"SELECT {sql} FROM (SELECT TIMESTAMP '{moment}' AS ts)").fetchall()[0][0]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("yyyy-MM-dd", "2024-03-05"),
    ("y yy yyy yyyyy", "2024 24 2024 02024"),
    ("M MM MMM MMMM", "3 03 Mar March"),
    ("d dd ddd", "5 05 005"),
    ("H HH h hh k K a", "0 00 12 12 24 0 AM"),
    ("m mm s ss", "8 08 9 09"),
    ("S SS SSS SSSSSS SSSSSSSS", "1 12 123 123456 12345600"),
    ("E EEEE e", "Tue Tuesday 2"),
    ("C G", "20 AD"),
    ("'quoted' 'it''s' ''", "quoted it's '"),
    ("100% {yyyy}", "100% {2024}"),
    ("Z ZZ z", "+0000 +00:00 UTC"),
])
def test_joda_patterns(pattern: str, expected: str) -> None:
    assert _format(pattern) == expected


def test_joda_afternoon_and_new_year_week() -> None:
    # 2021-01-01 is in ISO week 53 of 2020 (weekyear), a Friday
    assert _format("yyyy xxxx ww e h a", "2021-01-01 15:04:05") == "2021 2020 53 5 3 PM"


@pytest.mark.parametrize(("pattern", "component"), [
    ("yyyy-qq", "qq"), ("'open", "'open"), ("bbb", "bbb")])
def test_bad_joda_patterns_are_trinos_error(pattern: str, component: str) -> None:
    with pytest.raises(QueryError) as err:
        joda_format(exp.column("ts"), pattern)
    assert str(err.value) == f"INVALID_FUNCTION_ARGUMENT: Illegal pattern component: {component}"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("yYxwMdDEeaHhkKmsSCGzZ'%-:/. T{}q")),
               max_size=24))
def test_any_pattern_formats_or_fails_cleanly(pattern: str) -> None:
    # bad input never crashes the engine: a string result, or Trino's pattern error
    try:
        sql = joda_format(exp.column("ts"), pattern).sql(dialect="duckdb")
    except QueryError as exc:
        assert str(exc).startswith("INVALID_FUNCTION_ARGUMENT: Illegal pattern component: ")
        return
    value = duckdb.sql(f"SELECT {sql} FROM (SELECT TIMESTAMP '2024-03-05 07:08:09' AS ts)"
                       ).fetchall()[0][0]
    assert isinstance(value, str)
    if "'" not in pattern and not any(c.isalpha() for c in pattern):
        assert value == pattern  # only punctuation: printed as written
