"""Steps 1, 2 and 8 end to end on the local stack, with the README's exact commands.

datalake -> training set + training job + report + registry -> deploy -> invoke -> second
version (pending, approved by hand) -> deploy (UpdateEndpoint) -> rollback -> status -> retrain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest

import registry
import trainset
from taximl.config import Settings
from taximl.features import features_for_record, features_to_csv
from taximl.io import read_trips
from taximl.thresholds import decide, doc_from_json
from taximl.validation import validate_frame, validate_record

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "data" / "real_sample" / "history"
PREFIX = "batch-e2e"

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def _run(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _invoke(endpoint: str, trip: dict) -> tuple[str, float]:
    checked = validate_record(trip)
    assert checked.ok, checked.reason
    body = features_to_csv([features_for_record(checked.trip)])
    response = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body.encode())
    return response["InvokedProductionVariant"], float(response["Body"].read().decode())


@pytest.fixture(scope="module")
def env(local_stack) -> dict[str, str]:
    if not HISTORY.is_dir():
        pytest.skip("data/real_sample/ missing (python data/derive_real_sample.py)")
    environment = {**os.environ, **local_stack.env}
    environment.pop("SAGEMAKER_ROLE_ARN", None)
    # every name derives from the prefix, not from the outer shell
    return {**environment, **Settings.namespaced(PREFIX, environment).as_env()}


def test_datalake_training_registry_deploy_rollback(env: dict[str, str], tmp_path: Path) -> None:
    settings = Settings.from_env(env)
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")

    # step 1: datalake, with the bundled real months (the README's command, no argument)
    out = _run("infra/datalake/setup_datalake.py", env=env)
    for month in ("06", "07", "09", "10", "11"):
        assert f"athena   yellow year=2019 month={month}: 10000 rows" in out
    # one trip of the 2019-08 file has a 2008 pickup: it gets its own month, as in the TLC file
    assert "athena   yellow year=2019 month=08: 9999 rows" in out
    assert "athena   yellow year=2008 month=12: 1 rows" in out
    for bucket in (settings.raw_bucket, settings.processed_bucket, settings.models_bucket):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
    partitions = boto3.client("glue").get_partitions(
        DatabaseName=settings.glue_database, TableName=f"{settings.raw_table}_yellow")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2008", "12"]] + [
        ["2019", f"{m:02d}"] for m in range(6, 12)]

    # step 2: training set, training job, report, registry (first version beats the meter)
    out = _run("sagemaker/train_register_deploy.py", "--quiet", "train", env=env)
    assert "version 1 -> Approved" in out
    report_uri = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("report"))
    bucket, key = report_uri[5:].split("/", 1)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    overall = report["overall"]
    assert overall["model"]["rmse"] < overall["meter_formula"]["rmse"]
    assert overall["model"]["rmse"] < overall["course_template"]["rmse"]
    assert set(report["segments"]) == {"rate_code", "airport", "distance_band", "hour_band"}
    # the CTAS keeps the same trips as its pandas twin
    valid = pd.concat([validate_frame(read_trips(f)).valid for f in sorted(HISTORY.iterdir())])
    assert sum(report["split_sizes"].values()) == int(trainset.plausible_mask(valid).sum())
    # thresholds from the calibration split, their flagged rate on the later test split
    sizes = report["split_sizes"]
    assert list(sizes) == ["train", "validation", "calibration", "test"]
    times = report["split_time_ranges"]
    assert times["validation"][1] <= times["calibration"][0] <= times["calibration"][1]
    assert times["calibration"][1] <= times["test"][0]
    rates = report["flag_rate"]
    assert rates["target"] == report["thresholds"]["target_fpr"]
    assert rates["overall"]["trips"] == sizes["test"]
    low, high = rates["overall"]["ci95"]
    assert low <= rates["overall"]["rate"] <= high
    assert rates["overall"]["rate"] <= 1.5 * rates["target"]  # version 1 was approved
    assert sum(e["trips"] for e in rates["segments"]["distance_band"].values()) == sizes["test"]
    package = registry.by_version(sm, settings.model_package_group, 1)
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == report_uri
    assert package["CustomerMetadataProperties"]["feature_version"] == report["feature_version"]

    # deploy: the production variant is named after the version, thresholds are stored
    out = _run("sagemaker/train_register_deploy.py", "--quiet", "deploy", env=env)
    assert "(no endpoint) -> mv-1 (InService)" in out
    trip = {"tpep_pickup_datetime": "2019-12-11 10:00:00",
            "tpep_dropoff_datetime": "2019-12-11 10:15:00", "passenger_count": "1",
            "trip_distance": "2.5", "RatecodeID": "1", "PULocationID": "161",
            "DOLocationID": "236", "fare_amount": "16.30"}
    variant, predicted = _invoke(settings.endpoint_name, trip)
    assert variant == "mv-1" and 5 < predicted < 40
    item = boto3.client("dynamodb").get_item(
        TableName=settings.params_table, Key={"id": {"S": f"thresholds/{variant}"}})["Item"]
    doc = doc_from_json(item["value"]["S"])
    assert doc["mode"] == "calibrated" and doc["model_version"] == "mv-1"
    features = features_for_record(validate_record(trip).trip)
    assert not decide(predicted, predicted, features, doc).is_outlier
    assert decide(predicted + 60, predicted, features, doc).is_outlier

    # the detection evaluation: a month of the history is refused, the held-out one is scored
    refused = subprocess.run(
        [sys.executable, "sagemaker/evaluate_detection.py", "--quiet", "--month",
         str(HISTORY / "yellow_tripdata_2019-11.parquet"), "--out", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "not held out in time" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    out = _run("sagemaker/evaluate_detection.py", "--quiet", "--out", str(tmp_path), env=env)
    assert "model        : mv-1 on" in out and "training data until 2019-11-30" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["detection"]["labelled"] == 298 and report["model_variant"] == "mv-1"
    assert report["threshold_document"] == doc
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "predicted_vs_actual.png", "residuals_thresholds.png"]

    # a second run on the same data does not beat version 1: pending, approved by hand
    out = _run("sagemaker/train_register_deploy.py", "--quiet", "train", env=env)
    assert "version 2 -> PendingManualApproval" in out and "does not beat" in out
    _run("sagemaker/train_register_deploy.py", "approve", "--version", "2", env=env)
    out = _run("sagemaker/train_register_deploy.py", "--quiet", "deploy", env=env)
    assert "mv-1 -> mv-2 (InService)" in out
    assert _invoke(settings.endpoint_name, trip)[0] == "mv-2"

    # rollback in one command
    out = _run("sagemaker/train_register_deploy.py", "--quiet", "rollback", env=env)
    assert "mv-2 -> mv-1" in out and "version 2 marked Rejected" in out
    assert _invoke(settings.endpoint_name, trip)[0] == "mv-1"
    out = _run("sagemaker/train_register_deploy.py", "status", env=env)
    assert "serving mv-1" in out and "Rejected" in out

    # step 8: the local retraining run registers a new (pending) version
    out = _run("sagemaker/retrain.py", "--once", "--quiet", env=env)
    assert "retrain: version 3 PendingManualApproval" in out


def test_pipeline_processing_steps_run_the_same_code(env: dict[str, str], tmp_path: Path) -> None:
    # GIVEN the datalake (idempotent) and a processing-container layout in a temp dir
    import numpy as np
    import pandas as pd

    from xgb_training import model_archive, train_booster

    _run("infra/datalake/setup_datalake.py", env=env)
    step_env = {**env, "SM_PROCESSING_BASE": str(tmp_path), "PIPELINE_RUN_ID": "e2e-run"}
    # WHEN the prepare step runs
    _run("sagemaker/pipeline_step.py", "prepare", env=step_env)
    out = tmp_path / "output"
    train = pd.read_csv(out / "train" / "train.csv", header=None)
    assert len(train) > 1000 and (out / "trips" / "test.parquet").exists()
    # AND a model trained from its train channel is handed to the evaluate step
    booster = train_booster((train.iloc[:, 1:].to_numpy(), train[0].to_numpy()), None,
                            {"objective": "reg:squarederror", "num_round": "50"})
    (tmp_path / "input" / "model").mkdir(parents=True)
    (tmp_path / "input" / "model" / "model.tar.gz").write_bytes(model_archive(booster))
    (out / "trips").rename(tmp_path / "input" / "trips")
    _run("sagemaker/pipeline_step.py", "evaluate", env=step_env)
    # THEN the report the condition step reads has the gate, next to the thresholds
    report = json.loads((tmp_path / "evaluation" / "report.json").read_text())
    assert isinstance(report["gate"]["approve"], bool) and report["gate"]["reason"]
    assert np.isfinite(report["overall"]["model"]["rmse"])
    doc = doc_from_json((tmp_path / "evaluation" / "thresholds.json").read_text())
    assert doc["mode"] == "calibrated"
