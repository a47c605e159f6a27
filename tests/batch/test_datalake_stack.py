"""Step 1 on the local stack with real-shaped TLC months, then the training-set CTAS over them.

Yellow months whose types drift as the TLC's do, a green month, a bad file among good ones, an
upload that fails half-way: what Athena reads back, and what is left in S3 and Glue.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pandas as pd
import pytest

import setup_datalake
import trainset
from batch_s3 import read_parquet_prefix, s3_uri
from taximl.config import Settings
from taximl.errors import PlatformError
from test_bronze import green_month, yellow_month

pytestmark = pytest.mark.stack


@pytest.fixture
def settings(local_stack, monkeypatch, request) -> Settings:
    """Names of their own for each test (the stack is shared by the whole session)."""
    prefix = "dl-" + request.node.name.replace("_", "-")[5:30].strip("-")
    names = Settings.namespaced(prefix)
    for key, value in names.as_env().items():
        if value:
            monkeypatch.setenv(key, value)
    return Settings.from_env()


def _months(tmp_path: Path) -> list[Path]:
    """Two yellow months with drifting types, and a green month."""
    files = [tmp_path / "yellow_tripdata_2024-01.parquet",
             tmp_path / "yellow_tripdata_2024-02.parquet",
             tmp_path / "green_tripdata_2024-02.parquet"]
    yellow_month(2024, 1, 8).to_parquet(files[0], index=False)
    yellow_month(2024, 2, 6, int_codes=True, fee_name="airport_fee").to_parquet(files[1],
                                                                                 index=False)
    green_month(4).to_parquet(files[2], index=False)
    return files


def _athena_rows(settings: Settings, sql: str) -> list[dict]:
    return setup_datalake.query_rows(boto3.client("athena"),
                                     setup_datalake.run_query(
                                         boto3.client("athena"), sql,
                                         database=settings.glue_database,
                                         output_location=s3_uri(settings.processed_bucket,
                                                                "athena-results/")))


def _keys(bucket: str, prefix: str = "trips/") -> list[str]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(obj["Key"] for obj in listing.get("Contents", []))


def test_real_months_of_both_taxi_types_load_and_train(settings: Settings, tmp_path: Path,
                                                       capsys) -> None:
    # GIVEN a folder like data/download.py's cache: two yellow months, a green one, the zones
    _months(tmp_path)
    (tmp_path / "taxi_zone_lookup.csv").write_text("LocationID,Borough,Zone,service_zone\n")
    # WHEN step 1 loads the folder
    assert setup_datalake.main(["--sample", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # THEN each month sits under its taxi type, registered, and Athena counts every trip
    assert "note     skipped" in out and "taxi_zone_lookup.csv" in out
    assert _keys(settings.raw_bucket) == [
        "trips/green/year=2024/month=02/green_tripdata_2024-02.parquet",
        "trips/yellow/year=2024/month=01/yellow_tripdata_2024-01.parquet",
        "trips/yellow/year=2024/month=02/yellow_tripdata_2024-02.parquet",
    ]
    assert "athena   yellow year=2024 month=01: 8 rows" in out
    assert "athena   yellow year=2024 month=02: 6 rows" in out
    assert "athena   green year=2024 month=02: 4 rows" in out
    glue = boto3.client("glue")
    for taxi_type, expected in (("yellow", [["2024", "01"], ["2024", "02"]]),
                                ("green", [["2024", "02"]])):
        parts = glue.get_partitions(DatabaseName=settings.glue_database,
                                    TableName=f"{settings.raw_table}_{taxi_type}")["Partitions"]
        assert sorted(p["Values"] for p in parts) == expected
    # AND the drifting columns read back with their values, across both months
    rows = _athena_rows(settings, f"SELECT month, sum(passenger_count) AS p, "
                                  f"sum(ratecodeid) AS r, count(airport_fee) AS fee FROM "
                                  f"{settings.raw_table}_yellow GROUP BY month ORDER BY month")
    assert [(r["month"], float(r["p"]), float(r["r"]), int(r["fee"])) for r in rows] == [
        ("01", 12.0, 8.0, 8), ("02", 9.0, 6.0, 6)]

    # WHEN the training-set CTAS runs over both raw tables
    location = s3_uri(settings.processed_bucket, "training/test-run/trips/")
    trainset.run_ctas(boto3.client("athena"), settings, location)
    frame = read_parquet_prefix(boto3.client("s3"), location)
    # THEN it holds both taxi types under the canonical names, filtered like the pandas twin
    expected = pd.concat([yellow_month(2024, 1, 8), yellow_month(2024, 2, 6)], ignore_index=True)
    assert frame["taxi_type"].value_counts().to_dict() == {"yellow": 14, "green": 4}
    green = frame[frame["taxi_type"] == "green"].sort_values("fare_amount")
    assert green["fare_amount"].tolist() == [8.6, 9.3, 10.0, 11.4]
    assert green["airport_fee"].isna().all() and green["payment_type"].isna().sum() == 1
    yellow = frame[frame["taxi_type"] == "yellow"]
    assert sorted(yellow["fare_amount"]) == sorted(expected["fare_amount"])
    assert {"pickup_datetime", "rate_code_id", "pu_location_id"} <= set(frame.columns)


def test_a_bad_file_stops_the_run_before_anything_is_uploaded(settings: Settings,
                                                              tmp_path: Path, capsys) -> None:
    files = _months(tmp_path)
    broken = tmp_path / "yellow_tripdata_2024-03.parquet"
    broken.write_text("VendorID,tpep_pickup_datetime\n1,2024-03-01\n")  # a CSV named .parquet
    assert setup_datalake.main(["--sample", *map(str, files), str(broken)]) == 1
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert error.startswith("error: ") and "not a Parquet file" in error
    assert len(error.splitlines()) == 1 and "Traceback" not in captured.err
    s3 = boto3.client("s3")
    assert settings.raw_bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_a_failure_half_way_removes_what_the_run_uploaded(settings: Settings, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:
    # GIVEN a first load of January that worked
    files = _months(tmp_path)
    assert setup_datalake.main(["--sample", str(files[0])]) == 0
    capsys.readouterr()
    before = _keys(settings.raw_bucket)
    # WHEN the next run fails while registering its second new partition
    real = setup_datalake.Upload.add_partition
    calls = []

    def flaky(self, taxi_type, year, month):
        calls.append((taxi_type, year, month))
        if len(calls) == 3:
            raise PlatformError("Athena query FAILED: simulated outage")
        return real(self, taxi_type, year, month)

    monkeypatch.setattr(setup_datalake.Upload, "add_partition", flaky)
    assert setup_datalake.main(["--sample", *map(str, files)]) == 1
    error = capsys.readouterr().err.strip()
    # THEN it says what happened, and S3 and Glue are as they were before that run
    assert error.startswith("error: upload failed (Athena query FAILED: simulated outage)")
    assert "removed the 3 objects and 1 partitions of this run" in error
    assert _keys(settings.raw_bucket) == before
    s3 = boto3.client("s3")
    versions = s3.list_object_versions(Bucket=settings.raw_bucket, Prefix="trips/")
    jan_versions = [v for v in versions.get("Versions", []) if "2024-01" in v["Key"]]
    assert len(jan_versions) == 1  # January's re-upload is gone, its first version remains
    assert not versions.get("DeleteMarkers")
    glue = boto3.client("glue")
    parts = glue.get_partitions(DatabaseName=settings.glue_database,
                                TableName=f"{settings.raw_table}_yellow")["Partitions"]
    assert [p["Values"] for p in parts] == [["2024", "01"]]
    assert not glue.get_partitions(DatabaseName=settings.glue_database,
                                   TableName=f"{settings.raw_table}_green")["Partitions"]
