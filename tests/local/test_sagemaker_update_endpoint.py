"""The seed's SageMaker sequence, UpdateEndpoint blue/green and a stack restart (boto3 + env)."""

from __future__ import annotations

import threading

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError

from sagemaker_steps import (
    ENDPOINT_WAIT,
    ROLE_ARN,
    XGBOOST_IMAGE,
    create_endpoint,
    create_model_and_config,
    ensure_bucket,
    invoke_csv,
    make_rows,
    train_model,
    unique,
    upload_dataset,
)

pytestmark = pytest.mark.stack

SHIFT = 100.0  # the second model's label is shifted: its predictions are unmistakable


@pytest.fixture(scope="module")
def artifacts(local_stack) -> tuple[str, str]:
    """Two trained models: the label, and the label + SHIFT."""
    bucket = ensure_bucket()
    first = train_model(upload_dataset(bucket))
    second = train_model(upload_dataset(bucket, shift=SHIFT))
    return (
        first["ModelArtifacts"]["S3ModelArtifacts"],
        second["ModelArtifacts"]["S3ModelArtifacts"],
    )


def _wait_in_service(endpoint: str) -> dict:
    sm = boto3.client("sagemaker")
    sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=ENDPOINT_WAIT)
    return sm.describe_endpoint(EndpointName=endpoint)


def _is_second(scores: list[float]) -> bool:
    return float(np.mean(scores)) > SHIFT / 2


def test_seed_sequence_update_endpoint_and_restart(local_stack, artifacts):
    sm = boto3.client("sagemaker")
    features, _ = make_rows(50, seed=21)

    # GIVEN an endpoint serving the first model
    endpoint = create_endpoint(create_model_and_config(artifacts[0], "mv-1"))
    before, variant = invoke_csv(endpoint, features)
    assert variant == "mv-1" and not _is_second(before)

    # WHEN it is updated to a config with the second model
    new_config = create_model_and_config(artifacts[1], "mv-2")
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] in (
        "Updating",
        "InService",
    )

    # THEN once InService it shows the new config and serves the new model
    described = _wait_in_service(endpoint)
    assert described["EndpointConfigName"] == new_config
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["mv-2"]
    after, variant = invoke_csv(endpoint, features)
    assert variant == "mv-2" and _is_second(after)
    assert after != before

    # AND after a stack restart the endpoint still serves the second model
    local_stack.restart()
    described = _wait_in_service(endpoint)
    assert described["EndpointConfigName"] == new_config
    restarted, variant = invoke_csv(endpoint, features)
    assert variant == "mv-2"
    assert restarted == pytest.approx(after)


def test_requests_in_flight_during_update_do_not_fail(local_stack, artifacts):
    sm = boto3.client("sagemaker")
    runtime = boto3.client("sagemaker-runtime")
    features, _ = make_rows(200, seed=22)
    endpoint = create_endpoint(create_model_and_config(artifacts[0], "mv-1"))
    new_config = create_model_and_config(artifacts[1], "mv-2")
    body = "\n".join(",".join(f"{v:.5f}" for v in row) for row in features)
    errors: list[Exception] = []
    variants: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        for _ in range(2000):  # bounded
            if stop.is_set():
                return
            try:
                response = runtime.invoke_endpoint(
                    EndpointName=endpoint, ContentType="text/csv", Body=body
                )
                response["Body"].read()
                variants.append(response["InvokedProductionVariant"])
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)
        _wait_in_service(endpoint)
        invoke_csv(endpoint, features)  # at least one request after the switch
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert variants and set(variants) <= {"mv-1", "mv-2"}
    _, variant = invoke_csv(endpoint, features)
    assert variant == "mv-2"


def test_update_to_a_model_that_cannot_load_keeps_the_old_config(local_stack, artifacts):
    sm = boto3.client("sagemaker")
    endpoint = create_endpoint(create_model_and_config(artifacts[0], "mv-1"))
    old_config = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    bucket = artifacts[0][5:].split("/", 1)[0]
    broken = create_model_and_config(f"s3://{bucket}/missing/model.tar.gz", "mv-broken")

    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=broken)
    described = _wait_in_service(endpoint)

    assert described["EndpointConfigName"] == old_config
    assert described.get("FailureReason")
    _, variant = invoke_csv(endpoint, make_rows(3, seed=23)[0])
    assert variant == "mv-1"


def test_update_unknown_endpoint_or_config_is_a_validation_error(local_stack, artifacts):
    sm = boto3.client("sagemaker")
    config = create_model_and_config(artifacts[0], "mv-1")
    with pytest.raises(ClientError) as caught:
        sm.update_endpoint(EndpointName=unique("missing"), EndpointConfigName=config)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    endpoint = create_endpoint(config)
    with pytest.raises(ClientError) as caught:
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=unique("missing"))
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_endpoint_from_a_model_package_serves(local_stack, artifacts):
    sm = boto3.client("sagemaker")
    group = unique("group")
    sm.create_model_package_group(ModelPackageGroupName=group)
    package_arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": artifacts[1]}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    model = unique("model")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"ModelPackageName": package_arn},
    )
    config = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "mv-7",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    endpoint = create_endpoint(config)
    scores, variant = invoke_csv(endpoint, make_rows(5, seed=24)[0])
    assert variant == "mv-7" and _is_second(scores)
