"""InvokeEndpoint follows the built-in XGBoost serving contract (boto3 + env only)."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from sagemaker_steps import (
    create_endpoint,
    create_model_and_config,
    ensure_bucket,
    inference_csv,
    invoke_csv,
    make_rows,
    train_model,
    upload_dataset,
)

pytestmark = pytest.mark.stack

VARIANT = "mv-1"


@pytest.fixture(scope="module")
def endpoint(local_stack) -> str:
    dataset = upload_dataset(ensure_bucket())
    artifact = train_model(dataset)["ModelArtifacts"]["S3ModelArtifacts"]
    return create_endpoint(create_model_and_config(artifact, VARIANT))


@pytest.fixture(scope="module")
def runtime(local_stack):
    return boto3.client("sagemaker-runtime")


def _invoke(runtime, endpoint: str, body, content_type: str = "text/csv", **kwargs):
    return runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType=content_type, Body=body, **kwargs
    )


def _model_error(runtime, endpoint, body, content_type="text/csv", **kwargs) -> dict:
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, endpoint, body, content_type, **kwargs)
    response = caught.value.response
    assert response["Error"]["Code"] == "ModelError"
    return response


def test_csv_batch_gives_one_line_of_scores_and_the_variant(endpoint):
    # GIVEN 500 rows WHEN invoked with text/csv THEN 500 comma-joined scores on one line
    features, label = make_rows(500, seed=11)
    scores, variant = invoke_csv(endpoint, features)
    assert len(scores) == 500
    assert variant == VARIANT
    rmse = float(np.sqrt(np.mean((np.asarray(scores) - label) ** 2)))
    assert rmse < 3.0  # the label spans ~0-50


def test_json_accept_gives_predictions_with_scores(endpoint, runtime):
    features, _ = make_rows(3, seed=12)
    response = _invoke(runtime, endpoint, inference_csv(features), Accept="application/json")
    assert response["ContentType"] == "application/json"
    payload = json.loads(response["Body"].read())
    assert [sorted(p) for p in payload["predictions"]] == [["score"]] * 3
    csv_scores, _ = invoke_csv(endpoint, features)
    assert [p["score"] for p in payload["predictions"]] == pytest.approx(csv_scores)


def test_empty_field_is_a_missing_value(endpoint, runtime):
    response = _invoke(runtime, endpoint, "1.0,,3.0,4.0\n,2.0,,\n")
    scores = response["Body"].read().decode().split(",")
    assert len(scores) == 2
    assert all(np.isfinite(float(s)) for s in scores)


def test_libsvm_input_matches_csv_input(endpoint, runtime):
    features, _ = make_rows(4, seed=13)
    libsvm = "\n".join(
        "0 " + " ".join(f"{j}:{v:.5f}" for j, v in enumerate(row)) for row in features
    )
    response = _invoke(runtime, endpoint, libsvm, content_type="text/libsvm")
    libsvm_scores = [float(s) for s in response["Body"].read().decode().split(",")]
    csv_scores, _ = invoke_csv(endpoint, features)
    assert libsvm_scores == pytest.approx(csv_scores, rel=1e-5)


def test_empty_body_gives_204(endpoint, runtime):
    response = _invoke(runtime, endpoint, b"")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert response["Body"].read() == b""


def test_json_input_is_rejected_with_415(endpoint, runtime):
    response = _model_error(runtime, endpoint, '{"instances": [[1, 2, 3, 4]]}', "application/json")
    assert response["OriginalStatusCode"] == 415
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424


def test_unparseable_csv_gives_400(endpoint, runtime):
    response = _model_error(runtime, endpoint, "1.0,abc,3.0,4.0\n")
    assert response["OriginalStatusCode"] == 400


def test_wrong_feature_count_gives_400(endpoint, runtime):
    response = _model_error(runtime, endpoint, "1.0,2.0\n")
    assert response["OriginalStatusCode"] == 400


def test_unsupported_accept_gives_406(endpoint, runtime):
    response = _model_error(runtime, endpoint, "1,2,3,4", Accept="image/png")
    assert response["OriginalStatusCode"] == 406


def test_body_over_6_mb_gives_413(endpoint, runtime):
    row = "1.00000,2.00000,3.00000,4.00000\n"
    body = row * (6 * 1024 * 1024 // len(row) + 10)
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, endpoint, body)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_unknown_endpoint_is_a_validation_error(local_stack, runtime):
    account = boto3.client("sts").get_caller_identity()["Account"]
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, "no-such-endpoint", "1,2,3,4")
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == f"Endpoint no-such-endpoint of account {account} not found."


def test_unknown_target_variant_is_a_validation_error(endpoint, runtime):
    with pytest.raises(ClientError) as caught:
        _invoke(runtime, endpoint, "1,2,3,4", TargetVariant="no-such-variant")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_target_variant_is_honoured(endpoint, runtime):
    response = _invoke(runtime, endpoint, "1,2,3,4", TargetVariant=VARIANT)
    assert response["InvokedProductionVariant"] == VARIANT


def test_endpoint_config_and_endpoint_describe_what_the_runtime_needs(endpoint):
    sm = boto3.client("sagemaker")
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert [v["VariantName"] for v in described["ProductionVariants"]] == [VARIANT]
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    model_name = config["ProductionVariants"][0]["ModelName"]
    model = sm.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/output/model.tar.gz")
