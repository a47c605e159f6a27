"""Contract tests: Athena DDL over S3 data with table definitions in the Glue catalog."""

from __future__ import annotations

import gzip
import json

import boto3
import pandas as pd
import pytest

from test_athena_support import failure, make_bucket, put, put_parquet, query, run, unique

pytestmark = pytest.mark.stack

CSV_BODY = ("vendorid,pickup,fare,flag\n"
            "1,2024-01-01 10:00:00,12.5,true\n"
            "2,2024-01-02 11:30:00,7.25,false\n"
            "x,not a time,,\n")


@pytest.fixture(scope="module")
def env(local_stack) -> dict[str, str]:
    bucket = make_bucket()
    db = unique("ddl_")
    output = f"s3://{bucket}/results/"
    run(f"CREATE DATABASE {db}", output)
    return {"bucket": bucket, "db": db, "output": output}


def test_create_database_is_in_glue_and_duplicate_fails(env):
    assert boto3.client("glue").get_database(Name=env["db"])["Database"]["Name"] == env["db"]
    assert "already exists" in failure(f"CREATE DATABASE {env['db']}", env["output"])
    run(f"CREATE DATABASE IF NOT EXISTS {env['db']}", env["output"])


def test_lazy_simple_serde_csv_with_field_delim_and_header_skip(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put(bucket, "csv/part-0.csv", CSV_BODY)
    put(bucket, "csv/_SUCCESS", "")  # Athena ignores files starting with _ or .
    run(f"""CREATE EXTERNAL TABLE {db}.trips_csv (vendorid int, pickup timestamp, fare double,
            flag boolean)
          ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
          WITH SERDEPROPERTIES ('field.delim' = ',')
          STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
          OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
          LOCATION 's3://{bucket}/csv/'
          TBLPROPERTIES ('skip.header.line.count'='1')""", out)
    rows = query(f"SELECT * FROM {db}.trips_csv ORDER BY pickup", out)
    # values that do not parse as the declared type are NULL, as with the Hive SerDe
    assert rows == [["1", "2024-01-01 10:00:00.000", "12.5", "true"],
                    ["2", "2024-01-02 11:30:00.000", "7.25", "false"],
                    [None, None, None, None]]
    table = boto3.client("glue").get_table(DatabaseName=db, Name="trips_csv")["Table"]
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert table["Parameters"]["skip.header.line.count"] == "1"
    assert [c["Type"] for c in table["StorageDescriptor"]["Columns"]] == [
        "int", "timestamp", "double", "boolean"]


def test_lazy_simple_serde_ignores_separator_char(env):
    """The course template's bug: LazySimpleSerDe splits on field.delim (default \\001)."""
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put(bucket, "csv-wrong/part-0.csv", CSV_BODY)
    run(f"""CREATE EXTERNAL TABLE {db}.trips_wrong (vendorid string, pickup string)
          ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
          WITH SERDEPROPERTIES ('separatorChar' = ',')
          LOCATION 's3://{bucket}/csv-wrong/'""", out)
    rows = query(f"SELECT * FROM {db}.trips_wrong", out)
    assert rows[0] == ["vendorid,pickup,fare,flag", None]  # header not skipped, no split


def test_open_csv_serde_with_quotes(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put(bucket, "ocsv/a.csv", 'id;name\n"1";"Smith; John"\n"2";"O\'Neil"\n')
    run(f"""CREATE EXTERNAL TABLE {db}.people (id int, name string)
          ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
          WITH SERDEPROPERTIES ('separatorChar' = ';', 'quoteChar' = '"')
          LOCATION 's3://{bucket}/ocsv/' TBLPROPERTIES ('skip.header.line.count'='1')""", out)
    assert query(f"SELECT id, name FROM {db}.people ORDER BY id", out) == [
        ["1", "Smith; John"], ["2", "O'Neil"]]


def test_json_lines_table_including_gzip_objects(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    lines = [{"trip_id": "a", "fare": 10.5, "n": 1}, {"trip_id": "b", "fare": 3, "extra": 1},
             {"trip_id": "c"}]
    put(bucket, "json/a.json", "".join(json.dumps(x) + "\n" for x in lines[:2]))
    put(bucket, "json/b.json.gz", gzip.compress((json.dumps(lines[2]) + "\n").encode()))
    run(f"""CREATE EXTERNAL TABLE {db}.events (trip_id string, fare double, n bigint)
          ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
          LOCATION 's3://{bucket}/json/'""", out)
    assert query(f"SELECT trip_id, fare, n FROM {db}.events ORDER BY trip_id", out) == [
        ["a", "10.5", "1"], ["b", "3.0", None], ["c", None, None]]


def test_parquet_table_and_table_created_directly_in_glue(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    put_parquet(bucket, "pq/x.parquet", pd.DataFrame({"id": [1, 2], "amount": [1.5, 2.5]}))
    run(f"CREATE EXTERNAL TABLE {db}.pq (id bigint, amount double) STORED AS PARQUET "
        f"LOCATION 's3://{bucket}/pq/'", out)
    assert query(f"SELECT sum(amount), max(id) FROM {db}.pq", out) == [["4.0", "2"]]
    # GIVEN a table registered with the Glue API (as CloudFormation or a script would)
    boto3.client("glue").create_table(DatabaseName=db, TableInput={
        "Name": "pq_glue", "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {
            "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
            "Location": f"s3://{bucket}/pq/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "SerdeInfo": {"SerializationLibrary":
                          "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
    # THEN Athena queries it
    assert query(f"SELECT count(*) FROM {db}.pq_glue WHERE amount > 2", out) == [["1"]]


def test_partitions_msck_repair_and_alter_table_add_partition(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    for month, fare in (("01", "10"), ("02", "20")):
        put(bucket, f"parts/year=2024/month={month}/data.csv", f"1,{fare}\n2,{fare}\n")
    put(bucket, "elsewhere/march/data.csv", "3,30\n")
    run(f"""CREATE EXTERNAL TABLE {db}.parts (id int, fare double)
          PARTITIONED BY (year string, month string)
          ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
          LOCATION 's3://{bucket}/parts/'""", out)
    # WHEN no partition is registered THEN no rows are read
    assert query(f"SELECT count(*) FROM {db}.parts", out) == [["0"]]
    run(f"MSCK REPAIR TABLE {db}.parts", out)
    assert query(f"SELECT month, sum(fare) FROM {db}.parts GROUP BY month ORDER BY month", out) \
        == [["01", "20.0"], ["02", "40.0"]]
    run(f"ALTER TABLE {db}.parts ADD IF NOT EXISTS PARTITION (year='2024', month='03') "
        f"LOCATION 's3://{bucket}/elsewhere/march/' PARTITION (year='2024', month='01')", out)
    assert query(f"SELECT id, fare FROM {db}.parts WHERE month = '03'", out) == [["3", "30.0"]]
    shown = run(f"SHOW PARTITIONS {db}.parts", out)
    from test_athena_support import all_rows
    rows, _ = all_rows(shown["QueryExecutionId"])
    assert rows == [["year=2024/month=01"], ["year=2024/month=02"], ["year=2024/month=03"]]
    glue = boto3.client("glue").get_partitions(DatabaseName=db, TableName="parts")
    assert sorted(p["Values"][1] for p in glue["Partitions"]) == ["01", "02", "03"]
    assert "already exists" in failure(
        f"ALTER TABLE {db}.parts ADD PARTITION (year='2024', month='03')", out).lower()


def test_partition_projection_integer_enum_and_date(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    for day, hour in (("2024/05/01", "00"), ("2024/05/02", "13"), ("2023/01/01", "00")):
        put(bucket, f"gold/{day}/{hour}/file-1", json.dumps({"fare": 1.0}) + "\n")
    put(bucket, "proj2/region=eu/n=7/x.json", json.dumps({"fare": 7}) + "\n")
    put(bucket, "proj2/region=us/n=7/x.json", json.dumps({"fare": 8}) + "\n")
    run(f"""CREATE EXTERNAL TABLE {db}.gold (fare double)
          PARTITIONED BY (dt string, hour string)
          ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
          LOCATION 's3://{bucket}/gold/'
          TBLPROPERTIES ('projection.enabled'='true',
            'projection.dt.type'='date', 'projection.dt.format'='yyyy/MM/dd',
            'projection.dt.range'='2024/01/01,NOW', 'projection.hour.type'='integer',
            'projection.hour.range'='0,23', 'projection.hour.digits'='2',
            'storage.location.template'='s3://{bucket}/gold/${{dt}}/${{hour}}/')""", out)
    # 2023/01/01 is outside the projected date range
    assert query(f"SELECT dt, hour, fare FROM {db}.gold ORDER BY dt", out) == [
        ["2024/05/01", "00", "1.0"], ["2024/05/02", "13", "1.0"]]
    run(f"""CREATE EXTERNAL TABLE {db}.proj2 (fare double) PARTITIONED BY (region string, n int)
          ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
          LOCATION 's3://{bucket}/proj2/'
          TBLPROPERTIES ('projection.enabled'='true', 'projection.region.type'='enum',
            'projection.region.values'='eu', 'projection.n.type'='integer',
            'projection.n.range'='1,10')""", out)
    assert query(f"SELECT region, n, fare FROM {db}.proj2", out) == [["eu", "7", "7.0"]]


def test_show_tables_describe_and_drop_table(env):
    bucket, db, out = env["bucket"], env["db"], env["output"]
    run(f"CREATE EXTERNAL TABLE {db}.to_drop (a string) LOCATION 's3://{bucket}/none/'", out)
    from test_athena_support import all_rows
    tables = all_rows(run(f"SHOW TABLES IN {db}", out)["QueryExecutionId"])[0]
    assert ["to_drop"] in tables
    described = all_rows(run(f"DESCRIBE {db}.to_drop", out)["QueryExecutionId"])[0]
    assert described[0][0].split("\t")[0].strip() == "a"
    run(f"DROP TABLE {db}.to_drop", out)
    run(f"DROP TABLE IF EXISTS {db}.to_drop", out)
    assert "Table not found" in failure(f"DROP TABLE {db}.to_drop", out)
    assert failure(f"SELECT * FROM {db}.to_drop", out).startswith("TABLE_NOT_FOUND")
