"""CreateTrainingJob with the built-in XGBoost image behaves like SageMaker (boto3 + env only)."""

from __future__ import annotations

import io
import tarfile

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError

from sagemaker_steps import (
    DEFAULT_HYPERPARAMETERS,
    TRAINING_WAIT,
    channel,
    ensure_bucket,
    start_training,
    train_model,
    upload_dataset,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def dataset(local_stack):
    return upload_dataset(ensure_bucket())


def _failed(job: str) -> dict:
    sm = boto3.client("sagemaker")
    with pytest.raises(WaiterError):
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=job, WaiterConfig=TRAINING_WAIT
        )
    described = sm.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Failed"
    return described


def test_training_job_completes_with_metrics_and_model_artifact(dataset):
    # GIVEN train/validation CSVs in S3 WHEN a training job runs to the end
    described = train_model(dataset)

    # THEN it is Completed with SageMaker's fields
    assert described["TrainingJobStatus"] == "Completed"
    assert described["SecondaryStatus"] == "Completed"
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert {"train:rmse", "validation:rmse"} <= set(metrics)
    assert 0 < metrics["validation:rmse"] < 5  # label spread is ~30: the model learned something
    assert described["TrainingStartTime"] <= described["TrainingEndTime"]
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert statuses[0] == "Starting" and statuses[-1] == "Completed"
    assert "Training" in statuses

    # AND model.tar.gz holding xgboost-model is at <output>/<job>/output/
    artifact = described["ModelArtifacts"]["S3ModelArtifacts"]
    job = described["TrainingJobName"]
    assert artifact == f"s3://{dataset.bucket}/{dataset.prefix}/output/{job}/output/model.tar.gz"
    bucket, key = artifact[5:].split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "xgboost-model" in tar.getnames()


def test_training_job_is_in_progress_first_and_listed(dataset):
    sm = boto3.client("sagemaker")
    job = start_training(dataset, hyperparameters={**DEFAULT_HYPERPARAMETERS, "num_round": "5"})
    first = sm.describe_training_job(TrainingJobName=job)
    assert first["TrainingJobStatus"] in ("InProgress", "Completed")

    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig=TRAINING_WAIT
    )
    listed = sm.list_training_jobs(NameContains=job, StatusEquals="Completed")
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == [job]


@pytest.mark.parametrize(
    ("name", "value", "reason_part"),
    [
        ("max_depth", "-1", "max_depth"),
        ("eta", "1.5", "eta"),
        ("subsample", "0", "subsample"),
        ("objective", "reg:nonsense", "objective"),
        ("eval_metric", "accuracy", "eval_metric"),
        ("num_round", "ten", "num_round"),
        ("unknown_knob", "1", "unknown_knob"),
    ],
)
def test_bad_hyperparameter_fails_the_job_with_a_client_error(dataset, name, value, reason_part):
    job = start_training(dataset, hyperparameters={**DEFAULT_HYPERPARAMETERS, name: value})
    described = _failed(job)
    assert described["FailureReason"].startswith("ClientError")
    assert reason_part in described["FailureReason"]


def test_missing_num_round_fails(dataset):
    hyperparameters = {k: v for k, v in DEFAULT_HYPERPARAMETERS.items() if k != "num_round"}
    described = _failed(start_training(dataset, hyperparameters=hyperparameters))
    assert "num_round" in described["FailureReason"]


def test_empty_channel_fails_with_reason(dataset):
    channels = [channel("train", f"s3://{dataset.bucket}/{dataset.prefix}/nothing-here/")]
    hyperparameters = {"num_round": "5"}
    described = _failed(start_training(dataset, hyperparameters=hyperparameters, channels=channels))
    assert "ClientError" in described["FailureReason"]


def test_libsvm_channels_train(dataset):
    s3 = boto3.client("s3")
    rows = "\n".join(f"{2 * i % 7} 0:{i % 7} 1:{i % 3}" for i in range(200)).encode()
    s3.put_object(Bucket=dataset.bucket, Key=f"{dataset.prefix}/libsvm/train.txt", Body=rows)
    channels = [channel("train", f"s3://{dataset.bucket}/{dataset.prefix}/libsvm/", "text/libsvm")]
    described = train_model(dataset, hyperparameters={"num_round": "5"}, channels=channels)
    assert described["TrainingJobStatus"] == "Completed"


def test_duplicate_training_job_name_is_rejected(dataset):
    job = start_training(dataset, hyperparameters={"num_round": "2"})
    with pytest.raises(ClientError) as caught:
        start_training(dataset, hyperparameters={"num_round": "2"}, name=job)
    assert caught.value.response["Error"]["Code"] == "ResourceInUse"


def test_stop_training_job_ends_stopped(dataset):
    sm = boto3.client("sagemaker")
    hyperparameters = {"num_round": "100000", "max_depth": "10", "eta": "0.001"}
    job = start_training(dataset, hyperparameters=hyperparameters)
    sm.stop_training_job(TrainingJobName=job)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig=TRAINING_WAIT
    )
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as caught:
        sm.stop_training_job(TrainingJobName=job)
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_non_xgboost_image_fails_locally(dataset):
    # The local stack runs only the built-in XGBoost image (documented choice): on AWS this
    # image would run, so this is a local-only behaviour.
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-algorithm:latest"
    described = _failed(start_training(dataset, image=image))
    assert "not supported locally" in described["FailureReason"]
