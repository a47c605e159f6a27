"""Local Athena benchmark: CTAS over 1 million Parquet rows and a group-by over gold partitions.

Starts its own local stack (port base 4976, temporary state) unless ``--use-env`` is given
(then it uses the running stack from the environment: ``source .local-stack/env.sh``).
Prints seconds from StartQueryExecution to SUCCEEDED (polling every 50 ms), as a student sees.

    .venv/bin/python benchmarks/bench_athena.py [--rows 1000000] [--gold-records 200000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
import uuid

import boto3
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from results import result

#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--rows", "200000", "--gold-records", "50000"]


def trips(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Synthetic TLC-like trips (canonical column names)."""
    pickup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 31 * 86400, n), "s")
    minutes = rng.uniform(1, 60, n)
    return pd.DataFrame({
        "vendor_id": rng.integers(1, 3, n).astype("int32"),
        "pickup_datetime": pickup,
        "dropoff_datetime": pickup + pd.to_timedelta(np.round(minutes * 60), "s"),
        "passenger_count": rng.integers(0, 6, n).astype(float),
        "trip_distance": np.round(minutes * rng.uniform(0.05, 0.6, n), 2),
        "rate_code_id": rng.choice([1.0, 2.0, 5.0, 99.0], n, p=[0.9, 0.05, 0.03, 0.02]),
        "pu_location_id": rng.integers(1, 266, n).astype("int32"),
        "do_location_id": rng.integers(1, 266, n).astype("int32"),
        "fare_amount": np.round(rng.uniform(-5, 120, n), 2),
        "tip_amount": np.round(rng.uniform(0, 15, n), 2),
        "total_amount": np.round(rng.uniform(3, 150, n), 2),
    })


def wait(athena, qid: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            if status["State"] != "SUCCEEDED":
                raise RuntimeError(f"{status['State']}: {status.get('StateChangeReason')}")
            return time.monotonic() - started
        time.sleep(0.05)
    raise TimeoutError(qid)


def timed(athena, sql: str, database: str, output: str, timeout: float) -> float:
    started = time.monotonic()
    qid = athena.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output})["QueryExecutionId"]
    wait(athena, qid, timeout)
    return time.monotonic() - started


def run(rows: int, gold_records: int, timeout: float) -> None:
    s3, athena = boto3.client("s3"), boto3.client("athena")
    bucket = f"bench-athena-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    output = f"s3://{bucket}/results/"
    db = "bench"
    rng = np.random.default_rng(7)
    timed(athena, f"CREATE DATABASE IF NOT EXISTS {db}", db, output, timeout)

    # ---- 1 million rows of Parquet -> CTAS
    started = time.monotonic()
    files = 4
    for i in range(files):
        buffer = io.BytesIO()
        trips(rng, rows // files).to_parquet(buffer, index=False)
        s3.put_object(Bucket=bucket, Key=f"trips/part-{i}.parquet", Body=buffer.getvalue())
    print(f"generated and uploaded {rows:,} Parquet rows in {time.monotonic() - started:.1f} s")
    timed(athena, f"""CREATE EXTERNAL TABLE {db}.trips (vendor_id int, pickup_datetime timestamp,
        dropoff_datetime timestamp, passenger_count double, trip_distance double,
        rate_code_id double, pu_location_id int, do_location_id int, fare_amount double,
        tip_amount double, total_amount double) STORED AS PARQUET
        LOCATION 's3://{bucket}/trips/'""", db, output, timeout)
    select = f"""SELECT vendor_id, pickup_datetime, dropoff_datetime, passenger_count,
          trip_distance, rate_code_id, pu_location_id, do_location_id, fare_amount,
          date_diff('second', pickup_datetime, dropoff_datetime) AS duration_s,
          hour(pickup_datetime) AS pickup_hour, day_of_week(pickup_datetime) AS pickup_dow
        FROM {db}.trips
        WHERE fare_amount >= 2.5 AND trip_distance > 0 AND passenger_count > 0
          AND rate_code_id IN (1, 2, 3, 4)"""
    seconds = timed(athena, f"""CREATE TABLE {db}.training WITH (format = 'PARQUET',
        external_location = 's3://{bucket}/training/') AS {select}""", db, output, timeout)
    print(f"CTAS over {rows:,} Parquet rows (filter + features, Parquet GZIP): {seconds:.2f} s "
          f"({rows / seconds:,.0f} rows/s)")
    result("athena_ctas_s", seconds)
    result("athena_ctas_rows_per_s", rows / seconds)
    seconds = timed(athena, f"""CREATE TABLE {db}.training_by_day WITH (format = 'PARQUET',
        external_location = 's3://{bucket}/training_by_day/', partitioned_by = ARRAY['day'])
        AS SELECT *, date_format(pickup_datetime, '%Y-%m-%d') AS day FROM ({select})""",
                    db, output, timeout)
    print(f"CTAS over {rows:,} Parquet rows, partitioned by day (31 partitions): "
          f"{seconds:.2f} s ({rows / seconds:,.0f} rows/s)")

    # ---- gold layer: JSON lines under yyyy/MM/dd/HH/ like Firehose, partition projection
    started = time.monotonic()
    hours = 72
    per_hour = max(1, gold_records // hours)
    frame = trips(rng, per_hour * hours)
    frame["is_outlier"] = rng.random(len(frame)) < 0.03
    # at-least-once delivery: 1% of the trips are in gold twice (a later processing_time)
    frame["trip_id"] = [f"{i:020x}" for i in range(len(frame))]
    frame["processing_time"] = "2024-01-01T00:00:00.000Z"
    copies = frame.sample(frac=0.01, random_state=7).assign(
        processing_time="2024-01-01T00:00:01.000Z")
    frame = pd.concat([frame, copies]).sort_index(kind="stable")
    frame["predicted_fare"] = np.round(frame["fare_amount"] * rng.uniform(0.8, 1.2, len(frame)), 2)
    frame["pickup_datetime"] = frame["pickup_datetime"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame["dropoff_datetime"] = frame["dropoff_datetime"].dt.strftime("%Y-%m-%d %H:%M:%S")
    records = frame.to_dict(orient="records")
    per_hour = -(-len(records) // hours)
    for h in range(hours):
        when = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=h)
        body = "".join(json.dumps(r) + "\n" for r in records[h * per_hour:(h + 1) * per_hour])
        key = f"gold/{when:%Y/%m/%d/%H}/gold-stream-1-{when:%Y-%m-%d-%H}-00-00-{uuid.uuid4()}"
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    size = len(json.dumps(records[0])) + 1
    print(f"wrote {len(records):,} gold JSON records (~{size} B each) in {hours} hourly "
          f"prefixes in {time.monotonic() - started:.1f} s")
    timed(athena, f"""CREATE EXTERNAL TABLE {db}.gold (vendor_id int, pickup_datetime timestamp,
        fare_amount double, predicted_fare double, trip_distance double, is_outlier boolean,
        pu_location_id int, trip_id string, processing_time string)
        PARTITIONED BY (dt string)
        ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
        LOCATION 's3://{bucket}/gold/'
        TBLPROPERTIES ('projection.enabled' = 'true', 'projection.dt.type' = 'date',
          'projection.dt.format' = 'yyyy/MM/dd/HH', 'projection.dt.range' = '2024/01/01/00,NOW',
          'projection.dt.interval' = '1', 'projection.dt.interval.unit' = 'HOURS',
          'storage.location.template' = 's3://{bucket}/gold/${{dt}}/')""", db, output, timeout)
    group_by = f"""SELECT substr(dt, 1, 10) AS day, count(*) AS trips,
          sum(CASE WHEN is_outlier THEN 1 ELSE 0 END) AS outliers,
          avg(abs(fare_amount - predicted_fare)) AS mae
        FROM {db}.gold GROUP BY 1 ORDER BY 1"""
    seconds = timed(athena, group_by, db, output, timeout)
    print(f"group-by over {hours} gold hour partitions ({len(records):,} JSON records): "
          f"{seconds:.2f} s ({len(records) / seconds:,.0f} records/s)")
    result("athena_gold_group_by_s", seconds)
    distinct = f"""WITH trips AS (SELECT * FROM (SELECT t.*, row_number() OVER (
          PARTITION BY trip_id ORDER BY processing_time) AS copy_rank FROM {db}.gold t)
          WHERE copy_rank = 1) """ + group_by.replace(f"FROM {db}.gold", "FROM trips")
    distinct_s = timed(athena, distinct, db, output, timeout)
    print(f"the same group-by on distinct trips (infra/streaming/gold_distinct_trips.sql, "
          f"1% duplicates): {distinct_s:.2f} s ({distinct_s / seconds:.2f}x)")
    result("athena_gold_distinct_group_by_s", distinct_s)
    result("athena_distinct_overhead_x", distinct_s / seconds)
    seconds = timed(athena, group_by.replace("GROUP BY", "WHERE dt LIKE '2024/01/02/%' GROUP BY"),
                    db, output, timeout)
    print(f"same group-by restricted to one day (24 partitions): {seconds:.2f} s")
    trivial = timed(athena, "SELECT 1", db, output, timeout)
    print(f"a trivial query (SELECT 1), start to SUCCEEDED: {trivial:.3f} s")
    result("athena_trivial_query_s", trivial)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gold-records", type=int, default=200_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--use-env", action="store_true",
                        help="use the running stack from the environment (source env.sh)")
    parser.add_argument("--port-base", type=int, default=4976)
    args = parser.parse_args()
    from local.temporary import temporary_stack

    with contextlib.nullcontext() if args.use_env else temporary_stack(args.port_base):
        run(args.rows, args.gold_records, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
