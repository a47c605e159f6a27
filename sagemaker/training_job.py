"""Step 2: the SageMaker training job with the built-in XGBoost algorithm (boto3 only)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from taximl.errors import PlatformError

logger = logging.getLogger(__name__)

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
DEFAULT_MAX_RUNTIME_S = 3600


def training_job_request(
    *,
    job_name: str,
    image_uri: str,
    role_arn: str,
    channels: Mapping[str, str],
    output_path: str,
    hyperparameters: Mapping[str, str],
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    volume_gb: int = 10,
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob request: CSV channels ``train`` and ``validation`` (File mode)."""
    input_config = [
        {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": channels[name],
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": "text/csv",
            "CompressionType": "None",
            "InputMode": "File",
        }
        for name in ("train", "validation")
        if name in channels
    ]
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": input_config,
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": instance_count,
            "VolumeSizeInGB": volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        "HyperParameters": {k: str(v) for k, v in hyperparameters.items()},
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def run_training_job(
    sagemaker: Any,
    request: Mapping[str, Any],
    *,
    timeout_s: float = 3 * 3600,
    poll_s: float = 5.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Create the job and wait until it ends; returns DescribeTrainingJob (PlatformError if not
    Completed)."""
    name = request["TrainingJobName"]
    sagemaker.create_training_job(**request)
    logger.info("training job %s created", name)
    deadline = time.monotonic() + timeout_s
    bar = _status_bar(name, progress)
    last = None
    try:
        while True:
            job = sagemaker.describe_training_job(TrainingJobName=name)
            status = job["TrainingJobStatus"]
            secondary = job.get("SecondaryStatus", "")
            if bar is not None and (status, secondary) != last:
                bar.set_postfix_str(f"{status} / {secondary}", refresh=True)
                last = (status, secondary)
            if status in ("Completed", "Failed", "Stopped"):
                break
            if time.monotonic() > deadline:
                sagemaker.stop_training_job(TrainingJobName=name)
                raise PlatformError(
                    f"training job {name} still {status} after {timeout_s:.0f} s"
                )
            time.sleep(poll_s)
    finally:
        if bar is not None:
            bar.close()
    if status != "Completed":
        raise PlatformError(
            f"training job {name} {status}: {job.get('FailureReason', 'no reason given')}"
        )
    return job


def model_artifact(job: Mapping[str, Any]) -> str:
    """``s3://.../<job>/output/model.tar.gz`` of a completed job."""
    return str(job["ModelArtifacts"]["S3ModelArtifacts"])


def _status_bar(name: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(desc=f"training job {name}", bar_format="{desc} [{elapsed}]{postfix}",
                mininterval=1.0)
