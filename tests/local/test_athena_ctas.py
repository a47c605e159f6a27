"""Contract tests: CREATE TABLE AS SELECT and INSERT INTO (Parquet in S3, tables in Glue)."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest

from test_athena_support import failure, keys, make_bucket, put, put_parquet, query, run, unique

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def env(local_stack) -> dict[str, str]:
    bucket = make_bucket()
    db = unique("ctas_")
    output = f"s3://{bucket}/results/"
    run(f"CREATE DATABASE {db}", output)
    frame = pd.DataFrame({"id": range(10), "amount": [float(i) for i in range(10)],
                          "day": [f"2024-01-{1 + i % 3:02d}" for i in range(10)]})
    put_parquet(bucket, "src/part.parquet", frame)
    run(f"CREATE EXTERNAL TABLE {db}.src (id bigint, amount double, day string) "
        f"STORED AS PARQUET LOCATION 's3://{bucket}/src/'", output)
    return {"bucket": bucket, "db": db, "output": output}


def test_ctas_writes_partitioned_parquet_and_registers_table_and_partitions(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    execution = run(f"""CREATE TABLE {db}.daily WITH (format = 'PARQUET',
          external_location = 's3://{bucket}/daily/', partitioned_by = ARRAY['day'])
        AS SELECT id, amount * 2 AS doubled, day FROM {db}.src WHERE id > 0""", out)
    assert execution["StatementType"] == "DDL"
    assert execution["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    written = keys(bucket, "daily/")
    assert {k.split("/")[1] for k in written} == {"day=2024-01-01", "day=2024-01-02",
                                                  "day=2024-01-03"}
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=db, Name="daily")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "doubled"]
    assert table["PartitionKeys"] == [{"Name": "day", "Type": "string"}]
    assert "Parquet" in table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    partitions = glue.get_partitions(DatabaseName=db, TableName="daily")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == ["2024-01-01", "2024-01-02",
                                                          "2024-01-03"]
    assert query(f"SELECT day, count(*), sum(doubled) FROM {db}.daily GROUP BY day "
                 "ORDER BY day", out) == [["2024-01-01", "3", "36.0"],
                                          ["2024-01-02", "3", "24.0"],
                                          ["2024-01-03", "3", "30.0"]]


def test_ctas_into_non_empty_location_fails_like_athena(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put(bucket, "busy/existing.txt", "x")
    reason = failure(f"CREATE TABLE {db}.busy WITH (external_location = 's3://{bucket}/busy/') "
                     f"AS SELECT 1 AS x", out)
    assert reason.startswith("HIVE_PATH_ALREADY_EXISTS: Target directory for table")
    assert boto3.client("glue").get_tables(DatabaseName=db)["TableList"]
    assert "busy" not in [t["Name"] for t in
                          boto3.client("glue").get_tables(DatabaseName=db)["TableList"]]


def test_ctas_over_100_partitions_fails(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    reason = failure(f"""CREATE TABLE {db}.many WITH (external_location = 's3://{bucket}/many/',
          partitioned_by = ARRAY['p']) AS SELECT x, x AS p FROM UNNEST(sequence(1, 101)) AS t(x)""",
                     out)
    assert reason.startswith("HIVE_TOO_MANY_OPEN_PARTITIONS")
    assert keys(bucket, "many/") == []


def test_ctas_partition_columns_must_come_last(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    reason = failure(f"""CREATE TABLE {db}.order_bad WITH (
          external_location = 's3://{bucket}/order_bad/', partitioned_by = ARRAY['day'])
        AS SELECT day, id FROM {db}.src""", out)
    assert reason.startswith("HIVE_COLUMN_ORDER_MISMATCH")


def test_ctas_existing_table_and_default_location(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    execution = run(f"CREATE TABLE {db}.plain AS SELECT id FROM {db}.src", out)
    qid = execution["QueryExecutionId"]
    assert keys(bucket, f"results/tables/{qid}/")  # Athena's default CTAS location
    assert query(f"SELECT count(*) FROM {db}.plain", out) == [["10"]]
    assert failure(f"CREATE TABLE {db}.plain AS SELECT 1 AS id", out).startswith(
        "TABLE_ALREADY_EXISTS")
    run(f"CREATE TABLE IF NOT EXISTS {db}.plain AS SELECT 1 AS id", out)


def test_insert_into_appends_files_and_partitions(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    run(f"""CREATE TABLE {db}.appendable WITH (external_location = 's3://{bucket}/app/',
          partitioned_by = ARRAY['day']) AS SELECT id, day FROM {db}.src WHERE id < 2""", out)
    run(f"INSERT INTO {db}.appendable SELECT 100, '2024-02-01'", out)
    assert query(f"SELECT id, day FROM {db}.appendable ORDER BY id", out) == [
        ["0", "2024-01-01"], ["1", "2024-01-02"], ["100", "2024-02-01"]]
