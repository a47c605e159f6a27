"""The course's own Athena SQL (corrected DDL + training-set CTAS) against the local stack.

Runs ``infra/sql/*.sql`` through boto3 ``start_query_execution`` and through the
``aws athena start-query-execution`` CLI: the corrected CSV DDL of the course template over CSV
months, the Parquet raw tables of step 1 over the same months as Parquet, and the training-set
CTAS over them, whose rows are compared with an expectation computed independently with pandas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import boto3
import numpy as np
import pandas as pd
import pytest

from test_athena_support import all_rows, make_bucket, put, put_parquet, query, run, unique

pytestmark = pytest.mark.stack

SQL_DIR = Path(__file__).resolve().parents[2] / "infra" / "sql"
AWS_CLI = str(Path(sys.executable).with_name("aws"))

TLC_HEADER = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count",
              "trip_distance", "RatecodeID", "store_and_fwd_flag", "PULocationID",
              "DOLocationID", "payment_type", "fare_amount", "extra", "mta_tax", "tip_amount",
              "tolls_amount", "improvement_surcharge", "total_amount",
              "congestion_surcharge", "Airport_fee"]

def course_sql(name: str, **values: str) -> str:
    text = (SQL_DIR / name).read_text(encoding="utf-8")
    return Template(text).substitute(values).strip().rstrip(";")


def make_month(rng: np.random.Generator, year: int, month: int, n: int) -> pd.DataFrame:
    """TLC yellow rows, a share of them invalid in one of the ways the CTAS filters out."""
    start = pd.Timestamp(year=year, month=month, day=1)
    pickup = start + pd.to_timedelta(rng.integers(0, 27 * 86400, n), unit="s")
    minutes = rng.uniform(2, 60, n)
    frame = pd.DataFrame({
        "VendorID": rng.integers(1, 3, n),
        "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + pd.to_timedelta(np.round(minutes * 60), unit="s"),
        "passenger_count": rng.integers(1, 5, n).astype(float),
        "trip_distance": np.round(minutes * rng.uniform(0.1, 0.5, n), 2),
        "RatecodeID": rng.choice([1.0, 1.0, 1.0, 2.0], n),
        "store_and_fwd_flag": rng.choice(["N", "Y"], n),
        "PULocationID": rng.integers(1, 266, n), "DOLocationID": rng.integers(1, 266, n),
        "payment_type": rng.integers(1, 3, n),
        "fare_amount": np.round(rng.uniform(3, 80, n), 2),
        "extra": 0.5, "mta_tax": 0.5, "tip_amount": np.round(rng.uniform(0, 10, n), 2),
        "tolls_amount": 0.0, "improvement_surcharge": 1.0, "total_amount": 0.0,
        "congestion_surcharge": 2.5, "Airport_fee": 0.0})
    frame["total_amount"] = np.round(frame["fare_amount"] + frame["tip_amount"] + 4.5, 2)
    broken = [("fare_amount", 0.0), ("fare_amount", -5.0), ("fare_amount", 2.0),
              ("fare_amount", 900.0), ("trip_distance", 0.0), ("trip_distance", 150.0),
              ("passenger_count", 0.0), ("RatecodeID", 5.0), ("RatecodeID", 99.0),
              ("PULocationID", 0), ("DOLocationID", 300)]
    for i, (column, value) in enumerate(broken):
        frame.loc[i * 3, column] = value
    frame.loc[40, "tpep_dropoff_datetime"] = frame.loc[40, "tpep_pickup_datetime"] + \
        pd.Timedelta(seconds=30)                                  # under a minute
    frame.loc[41, "tpep_dropoff_datetime"] = frame.loc[41, "tpep_pickup_datetime"] + \
        pd.Timedelta(hours=4)                                     # over three hours
    frame.loc[42, "trip_distance"] = 60.0                        # 60 miles in minutes: > 80 mph
    return frame


def expected_training(frame: pd.DataFrame) -> pd.DataFrame:
    """The CTAS filters, applied with pandas."""
    seconds = (frame["tpep_dropoff_datetime"] - frame["tpep_pickup_datetime"]).dt.total_seconds()
    keep = ((frame["fare_amount"] > 0) & (frame["fare_amount"] < 500)
            & (frame["trip_distance"] > 0) & (frame["trip_distance"] < 100)
            & (frame["fare_amount"] >= 2.5)
            & frame["RatecodeID"].isin([1, 2, 3, 4])
            & frame["PULocationID"].between(1, 265) & frame["DOLocationID"].between(1, 265)
            & seconds.between(60, 10800)
            & (frame["trip_distance"] * 3600.0 / seconds <= 80))
    return frame[keep]


def as_rows(frame: pd.DataFrame) -> list[tuple]:
    """(vendor, pickup text, fare, distance, passengers) sorted: what the checks compare."""
    return sorted(zip(frame["VendorID"].astype(int),
                      frame["tpep_pickup_datetime"].dt.strftime("%Y-%m-%d %H:%M:%S.000"),
                      frame["fare_amount"].round(2), frame["trip_distance"].round(2),
                      frame["passenger_count"].astype(float), strict=True))


def result_rows(rows: list[list[str | None]]) -> list[tuple]:
    return sorted((int(r[0]), r[1], round(float(r[2]), 2), round(float(r[3]), 2), float(r[4]))
                  for r in rows)


@pytest.fixture(scope="module")
def course(local_stack) -> dict:
    raw_bucket, processed_bucket = make_bucket(), make_bucket()
    rng = np.random.default_rng(1630)
    months = {("2024", "01"): make_month(rng, 2024, 1, 120),
              ("2024", "02"): make_month(rng, 2024, 2, 60)}
    for (year, month), frame in months.items():
        name = f"yellow_tripdata_{year}-{month}"
        text = frame.to_csv(index=False, header=TLC_HEADER, date_format="%Y-%m-%d %H:%M:%S")
        put(raw_bucket, f"csv/yellow/year={year}/month={month}/{name}.csv", text)
        put_parquet(raw_bucket, f"trips/yellow/year={year}/month={month}/{name}.parquet",
                    frame.astype({"VendorID": "int64", "PULocationID": "int64",
                                  "DOLocationID": "int64", "payment_type": "int64"}))
    values = {"database": unique("course_"), "raw_table": "raw",
              "training_table": "training_set", "raw_bucket": raw_bucket,
              "processed_bucket": processed_bucket, "from_month": "202401",
              "to_month": "202401", "sample_fraction": "1.0"}
    output = f"s3://{processed_bucket}/athena-results/"
    run(f"CREATE DATABASE IF NOT EXISTS {values['database']}", output)
    run(course_sql("raw_trips_csv_table.sql", **values), output)
    run(f"MSCK REPAIR TABLE {values['database']}.raw", output)
    for taxi_type in ("yellow", "green"):
        run(course_sql(f"raw_{taxi_type}_table.sql", **values), output)
    for year, month in months:
        run(course_sql("add_raw_partition.sql", taxi_type="yellow", year=year, month=month,
                       **values), output)
    return {"values": values, "months": months, "output": output}


@pytest.mark.parametrize("table", ["raw", "raw_yellow"])
def test_raw_tables_read_every_month(course, table):
    # the course's CSV table (header skipped) and step 1's Parquet table read the same trips
    values, output = course["values"], course["output"]
    rows = query(f"SELECT year, month, count(*), count(vendorid), min(tpep_pickup_datetime) "
                 f"FROM {values['database']}.{table} GROUP BY 1, 2 ORDER BY 1, 2", output)
    jan, feb = course["months"][("2024", "01")], course["months"][("2024", "02")]
    assert [r[:4] for r in rows] == [["2024", "01", str(len(jan)), str(len(jan))],
                                     ["2024", "02", str(len(feb)), str(len(feb))]]
    assert rows[0][4] == jan["tpep_pickup_datetime"].min().strftime("%Y-%m-%d %H:%M:%S.000")


def test_training_ctas_through_boto3_gives_the_pandas_rows(course):
    values, output = course["values"], course["output"]
    location = f"s3://{values['processed_bucket']}/training/run=boto3/"
    run(course_sql("drop_training_table.sql", **values), output)
    execution = run(course_sql("create_training_set.sql", location=location, **values), output)
    assert execution["SubstatementType"] == "CREATE_TABLE_AS_SELECT"
    expected = as_rows(expected_training(course["months"][("2024", "01")]))
    assert 60 < len(expected) < 120
    rows = query(f"SELECT vendor_id, pickup_datetime, fare_amount, trip_distance, "
                 f"passenger_count FROM {values['database']}.training_set", output)
    assert result_rows(rows) == expected
    # the Parquet files in S3 hold the same rows, with the canonical column names
    bucket = values["processed_bucket"]
    frame = pd.read_parquet(f"s3://{bucket}/training/run=boto3/", storage_options={
        "client_kwargs": {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}}) \
        if _has_s3fs() else _read_parquet_prefix(bucket, "training/run=boto3/")
    assert len(frame) == len(expected)
    assert {"vendor_id", "pickup_datetime", "fare_amount", "pu_location_id"} <= set(frame.columns)
    table = boto3.client("glue").get_table(DatabaseName=values["database"],
                                           Name="training_set")["Table"]
    assert table["StorageDescriptor"]["Location"] == location


def _has_s3fs() -> bool:
    try:
        import s3fs  # noqa: F401
    except ImportError:
        return False
    return True


def _read_parquet_prefix(bucket: str, prefix: str) -> pd.DataFrame:
    import io

    s3 = boto3.client("s3")
    parts = [pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))
             for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    return pd.concat(parts, ignore_index=True)


def _cli(*args: str) -> dict:
    done = subprocess.run([AWS_CLI, "athena", *args, "--output", "json"], capture_output=True,
                          text=True, timeout=60, env=os.environ.copy(), check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def _cli_run(sql: str, database: str, output: str) -> str:
    qid = _cli("start-query-execution", "--query-string", sql,
               "--query-execution-context", f"Database={database}",
               "--result-configuration", f"OutputLocation={output}")["QueryExecutionId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = _cli("get-query-execution", "--query-execution-id", qid)[
            "QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert status["State"] == "SUCCEEDED", status.get("StateChangeReason")
            return qid
        time.sleep(0.2)
    raise TimeoutError(qid)


def test_training_ctas_through_the_aws_cli(course):
    values, output = course["values"], course["output"]
    database = values["database"]
    _cli_run(course_sql("drop_training_table.sql", **values), database, output)
    location = f"s3://{values['processed_bucket']}/training/run=cli/"
    _cli_run(course_sql("create_training_set.sql", location=location, **values), database,
             output)
    qid = _cli_run("SELECT vendor_id, pickup_datetime, fare_amount, trip_distance, "
                   "passenger_count FROM training_set", database, output)
    reply = _cli("get-query-results", "--query-execution-id", qid)
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in reply["ResultSet"]["Rows"]]
    assert rows[0] == ["vendor_id", "pickup_datetime", "fare_amount", "trip_distance",
                       "passenger_count"]
    assert result_rows(rows[1:]) == as_rows(expected_training(course["months"][("2024", "01")]))
    same = all_rows(qid)[0]  # boto3 sees the same execution
    assert same == rows
