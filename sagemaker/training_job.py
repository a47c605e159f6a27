"""Step 2: the SageMaker training job with the built-in XGBoost algorithm (SageMaker SDK).

The job is created, followed and read as the SDK's typed resource ``TrainingJob``::

    job = TrainingJob.create(training_job_name=..., algorithm_specification=..., ...)
    job.refresh(); job.training_job_status, job.secondary_status
    job.model_artifacts.s3_model_artifacts

The wait is the project's own loop (a one-line progress bar with the status), not
``job.wait()``, whose full-screen panel would replace the scripts' progress output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from taximl.errors import PlatformError

logger = logging.getLogger(__name__)

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
DEFAULT_MAX_RUNTIME_S = 3600
TERMINAL = ("Completed", "Failed", "Stopped")


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
    """The keyword arguments of ``TrainingJob.create``: CSV channels ``train`` and
    ``validation`` (File mode), as the SDK's shapes."""
    import sagemaker_sdk

    shapes, resources = sagemaker_sdk.shapes(), sagemaker_sdk.resources()
    input_config = [
        shapes.Channel(
            channel_name=name,
            data_source=shapes.DataSource(s3_data_source=shapes.S3DataSource(
                s3_data_type="S3Prefix", s3_uri=channels[name],
                s3_data_distribution_type="FullyReplicated")),
            content_type="text/csv",
            compression_type="None",
            input_mode="File",
        )
        for name in ("train", "validation")
        if name in channels
    ]
    return {
        "training_job_name": job_name,
        "algorithm_specification": shapes.AlgorithmSpecification(
            training_image=image_uri, training_input_mode="File"),
        "role_arn": role_arn,
        "input_data_config": input_config,
        "output_data_config": shapes.OutputDataConfig(s3_output_path=output_path),
        "resource_config": shapes.ResourceConfig(
            instance_type=instance_type, instance_count=instance_count,
            volume_size_in_gb=volume_gb),
        "stopping_condition": shapes.StoppingCondition(max_runtime_in_seconds=max_runtime_s),
        "hyper_parameters": {k: str(v) for k, v in hyperparameters.items()},
        "tags": [resources.Tag(key=k, value=v) for k, v in (tags or {}).items()],
    }


def run_training_job(
    sagemaker: Any,
    request: Mapping[str, Any],
    *,
    timeout_s: float = 3 * 3600,
    poll_s: float = 5.0,
    progress: bool = True,
) -> Any:
    """Create the job through ``sagemaker`` (a boto3 client) and wait until it ends.

    Returns the SDK's ``TrainingJob`` (PlatformError when it did not complete).
    """
    import sagemaker_sdk

    sagemaker_sdk.bind(sagemaker)
    job = sagemaker_sdk.resources().TrainingJob.create(**request)
    name = job.training_job_name
    logger.info("training job %s created", name)
    deadline = time.monotonic() + timeout_s
    bar = _status_bar(name, progress)
    last = None
    try:
        while True:
            status, secondary = job.training_job_status, job.secondary_status
            if bar is not None and (status, secondary) != last:
                bar.set_postfix_str(f"{status} / {secondary}", refresh=True)
                last = (status, secondary)
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                job.stop()
                raise PlatformError(
                    f"training job {name} still {status} after {timeout_s:.0f} s"
                )
            time.sleep(poll_s)
            job.refresh()
    finally:
        if bar is not None:
            bar.close()
    if status != "Completed":
        reason = job.failure_reason if sagemaker_sdk.is_set(job.failure_reason) else None
        raise PlatformError(f"training job {name} {status}: {reason or 'no reason given'}")
    return job


def model_artifact(job: Any) -> str:
    """``s3://.../<job>/output/model.tar.gz`` of a completed job (a ``TrainingJob`` or a
    DescribeTrainingJob dictionary)."""
    if isinstance(job, Mapping):
        return str(job["ModelArtifacts"]["S3ModelArtifacts"])
    return str(job.model_artifacts.s3_model_artifacts)


def _status_bar(name: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(desc=f"training job {name}", bar_format="{desc} [{elapsed}]{postfix}",
                mininterval=1.0)
