"""A small fare model on the local endpoint, fast enough for end-to-end tests and benchmarks.

Trains XGBoost on generated trips with the shared feature code (as the training step does),
uploads ``model.tar.gz``, creates model -> endpoint config (variant ``mv-<version>``) ->
endpoint with the SageMaker API, and stores a calibrated threshold document for the variant.
The full training/registry flow is tested by the training issue; this keeps these tests quick.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from taximl.config import Settings
from taximl.features import FEATURE_COLUMNS, LABEL, features_frame
from taximl.io import read_trips
from taximl.thresholds import calibrate, doc_to_json, param_id, variant_name
from taximl.validation import validate_frame

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"


def train_archive(train_csv: Path, rounds: int = 150) -> tuple[bytes, dict[str, Any]]:
    """``model.tar.gz`` bytes and a threshold document calibrated on held-out rows."""
    import xgboost as xgb

    valid = validate_frame(read_trips(train_csv)).valid
    features = features_frame(valid)
    label = valid[LABEL].to_numpy(dtype="float64")
    n_fit = int(len(valid) * 0.8)
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.1, "tree_method": "hist",
         "nthread": 2},
        xgb.DMatrix(features.iloc[:n_fit].to_numpy(), label=label[:n_fit]), rounds)
    held = features.iloc[n_fit:]
    predicted = booster.predict(xgb.DMatrix(held.to_numpy()))
    doc = calibrate(label[n_fit:], predicted, held.to_dict("records"), target_fpr=0.01,
                    min_segment_rows=100)
    raw = booster.save_raw("json")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(bytes(raw)))
    assert list(held.columns) == list(FEATURE_COLUMNS)
    return buffer.getvalue(), doc


def deploy_quick_model(settings: Settings, train_csv: Path, version: int = 1,
                       timeout_s: float = 60.0) -> str:
    """Train, upload and serve a model as variant ``mv-<version>``; returns the variant."""
    archive, doc = train_archive(train_csv)
    region = settings.region
    s3 = boto3.client("s3", region_name=region)
    sm = boto3.client("sagemaker", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    try:
        s3.head_bucket(Bucket=settings.models_bucket)
    except ClientError:
        s3.create_bucket(Bucket=settings.models_bucket)
    key = f"e2e/mv-{version}/model.tar.gz"
    s3.put_object(Bucket=settings.models_bucket, Key=key, Body=archive)
    variant = variant_name(version)
    doc["model_version"] = variant
    stamp = str(int(time.time() * 1000))
    model = f"{settings.project_prefix}-{variant}-{stamp}"
    sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": f"s3://{settings.models_bucket}/{key}"})
    sm.create_endpoint_config(EndpointConfigName=model, ProductionVariants=[{
        "VariantName": variant, "ModelName": model, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])
    try:
        sm.describe_endpoint(EndpointName=settings.endpoint_name)
        sm.update_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=model)
    except ClientError:
        sm.create_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=model)
    deadline = time.monotonic() + timeout_s
    while True:
        described = sm.describe_endpoint(EndpointName=settings.endpoint_name)
        if described["EndpointStatus"] == "InService" and \
                described["EndpointConfigName"] == model:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"endpoint not InService: {described['EndpointStatus']}")
        time.sleep(0.3)
    try:
        ddb.describe_table(TableName=settings.params_table)
    except ClientError:
        ddb.create_table(TableName=settings.params_table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.put_item(TableName=settings.params_table, Item={
        "id": {"S": param_id(version)}, "value": {"S": doc_to_json(doc)}})
    return variant
