"""The seed's SageMaker steps with plain boto3 (shared by the tests/local/test_sagemaker_* files).

boto3 and the environment (the XGBoost image of the region from the SageMaker SDK): pointed at
real AWS (with ``SAGEMAKER_ROLE_ARN`` and a bucket you own in ``SAGEMAKER_TEST_BUCKET``) the
same steps run there.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass

import boto3
import numpy as np

from xgboost_image import image_uri

REGION = os.environ.get("AWS_REGION", "us-east-1")
ROLE_ARN = os.environ.get("SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerRole")
XGBOOST_IMAGE = image_uri(REGION)
N_FEATURES = 4
# Waiters: generous enough for real AWS, instant locally.
TRAINING_WAIT = {"Delay": 2, "MaxAttempts": 900}
ENDPOINT_WAIT = {"Delay": 2, "MaxAttempts": 900}


def unique(prefix: str) -> str:
    """A resource name unique within the test session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_rows(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Features and label ``3*x0 + 2*x1 + shift`` with a little noise."""
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 10, size=(n, N_FEATURES))
    label = 3 * features[:, 0] + 2 * features[:, 1] + shift + rng.normal(0, 0.1, n)
    return features, label


def training_csv(features: np.ndarray, label: np.ndarray) -> bytes:
    """Label first, no header: the built-in XGBoost training format."""
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([label, features]), delimiter=",", fmt="%.5f")
    return buffer.getvalue().encode()


def inference_csv(features: np.ndarray) -> str:
    """No label, no header: the text/csv body of InvokeEndpoint."""
    return "\n".join(",".join(f"{v:.5f}" for v in row) for row in features)


@dataclass(frozen=True)
class Dataset:
    """Where a job's channels live."""

    bucket: str
    prefix: str

    def uri(self, channel: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{channel}/"


def ensure_bucket(name: str | None = None) -> str:
    """The test bucket (created when missing)."""
    bucket = name or os.environ.get("SAGEMAKER_TEST_BUCKET", "st1630-sagemaker-tests")
    s3 = boto3.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)
    return bucket


def upload_dataset(bucket: str, shift: float = 0.0, n: int = 300, parts: int = 2) -> Dataset:
    """Upload train (in ``parts`` objects) and validation CSVs under a fresh prefix."""
    s3 = boto3.client("s3")
    dataset = Dataset(bucket, unique("data"))
    features, label = make_rows(n, seed=7, shift=shift)
    cut = int(n * 0.8)
    chunks = np.array_split(np.arange(cut), parts)
    for i, idx in enumerate(chunks):
        s3.put_object(
            Bucket=bucket,
            Key=f"{dataset.prefix}/train/part-{i}.csv",
            Body=training_csv(features[idx], label[idx]),
        )
    s3.put_object(
        Bucket=bucket,
        Key=f"{dataset.prefix}/validation/part-0.csv",
        Body=training_csv(features[cut:], label[cut:]),
    )
    return dataset


def channel(name: str, uri: str, content_type: str = "text/csv") -> dict:
    return {
        "ChannelName": name,
        "ContentType": content_type,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


DEFAULT_HYPERPARAMETERS = {
    "num_round": "40",
    "max_depth": "4",
    "eta": "0.3",
    "subsample": "1",
    "colsample_bytree": "1",
    "min_child_weight": "1",
    "objective": "reg:squarederror",
    "eval_metric": "rmse",
    "early_stopping_rounds": "5",
    "seed": "1",
}


def start_training(
    dataset: Dataset,
    hyperparameters: dict[str, str] | None = None,
    image: str = XGBOOST_IMAGE,
    channels: list[dict] | None = None,
    name: str | None = None,
) -> str:
    """CreateTrainingJob with the built-in XGBoost image; returns the job name."""
    job = name or unique("train")
    boto3.client("sagemaker").create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        HyperParameters=dict(
            DEFAULT_HYPERPARAMETERS if hyperparameters is None else hyperparameters
        ),
        InputDataConfig=channels
        if channels is not None
        else [
            channel("train", dataset.uri("train")),
            channel("validation", dataset.uri("validation")),
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{dataset.bucket}/{dataset.prefix}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 1800},
    )
    return job


def wait_training(job: str) -> dict:
    """Wait for the job to end (WaiterError when it fails) and describe it."""
    sm = boto3.client("sagemaker")
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig=TRAINING_WAIT
    )
    return sm.describe_training_job(TrainingJobName=job)


def train_model(dataset: Dataset, **kwargs) -> dict:
    """Train and return DescribeTrainingJob of the completed job."""
    return wait_training(start_training(dataset, **kwargs))


def create_model_and_config(artifact: str, variant: str) -> str:
    """CreateModel + CreateEndpointConfig (one variant); returns the config name."""
    sm = boto3.client("sagemaker")
    model = unique("model")
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": artifact},
    )
    config = unique("config")
    sm.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    return config


def create_endpoint(config: str) -> str:
    """CreateEndpoint and wait until InService; returns the endpoint name."""
    sm = boto3.client("sagemaker")
    endpoint = unique("endpoint")
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    sm.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=ENDPOINT_WAIT)
    return endpoint


def invoke_csv(
    endpoint: str, features: np.ndarray, accept: str = "text/csv"
) -> tuple[list[float], str]:
    """InvokeEndpoint with text/csv; returns (scores, invoked production variant)."""
    response = boto3.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept=accept, Body=inference_csv(features)
    )
    body = response["Body"].read().decode()
    scores = [float(v) for v in body.split(",")] if accept == "text/csv" else body
    return scores, response["InvokedProductionVariant"]
