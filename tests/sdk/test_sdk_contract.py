"""Contract: what the project's scripts create in the local stack reads back through the SDK.

The resources are made by the README's commands (step 1's datalake, step 2's ``train`` and
``deploy``) run as a student runs them, behind a loopback-only socket guard (the local stack
must see every call); then every resource type is read with the SageMaker SDK's typed
resources (``get`` and ``get_all``), whose pydantic shapes reject an answer that does not
match the API (an empty ``DataCaptureConfig``, a missing required member...).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

import sagemaker_sdk
import xgboost_image
from taximl.config import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_nyc_taxi.csv"
GUARD = Path(__file__).resolve().parent / "loopback_only"
PREFIX = "sdk-contract"

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def _field(output: str, label: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in output.splitlines()
                if line.startswith(label))


@pytest.fixture(scope="module")
def made(local_stack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Datalake, training run and deployment made by the scripts; what they printed."""
    if not SAMPLE.exists():
        pytest.skip("data/sample_nyc_taxi.csv not generated yet (python data/generate.py)")
    guard_dir = tmp_path_factory.mktemp("guard")
    environment = {**os.environ, **local_stack.env}
    environment.pop("SAGEMAKER_ROLE_ARN", None)
    env = {**environment, **Settings.namespaced(PREFIX, environment).as_env(),
           "PYTHONPATH": str(GUARD), "LOOPBACK_ONLY_LOG": str(guard_dir / "refused.log"),
           "LOOPBACK_ONLY_MARKER": str(guard_dir / "loaded")}
    outputs = {}
    for name, args in (("datalake", ["infra/datalake/setup_datalake.py", "--sample",
                                     str(SAMPLE)]),
                       ("train", ["sagemaker/train_register_deploy.py", "--quiet", "train"]),
                       ("deploy", ["sagemaker/train_register_deploy.py", "--quiet", "deploy"])):
        result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, text=True,
                                capture_output=True, timeout=600, check=False)
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        outputs[name] = result.stdout
    # every call of the scripts went to the local stack (the guard was there and refused none)
    assert (guard_dir / "loaded").exists()
    refused = guard_dir / "refused.log"
    assert not refused.exists(), refused.read_text()
    client = boto3.client("sagemaker")
    sagemaker_sdk.bind(client)
    return {"settings": Settings.from_env(env), "client": client, **outputs}


def test_training_job_reads_back(made: dict[str, Any]) -> None:
    resources = sagemaker_sdk.resources()
    name = _field(made["train"], "training job")
    job = resources.TrainingJob.get(name)
    assert job.training_job_status == "Completed"
    assert job.model_artifacts.s3_model_artifacts == _field(made["train"], "model artifact")
    assert job.algorithm_specification.training_image == xgboost_image.image_uri(
        made["settings"].region)
    assert [c.channel_name for c in job.input_data_config] == ["train", "validation"]
    assert job.secondary_status_transitions[-1].status == "Completed"
    assert "validation:rmse" in {m.metric_name for m in job.final_metric_data_list}
    listed = [j.training_job_name for j in resources.TrainingJob.get_all(name_contains=PREFIX)]
    assert listed == [name]


def test_registry_reads_back(made: dict[str, Any]) -> None:
    resources = sagemaker_sdk.resources()
    group_name = made["settings"].model_package_group
    group = resources.ModelPackageGroup.get(group_name)
    assert group.model_package_group_status == "Completed"
    assert [g.model_package_group_name for g in
            resources.ModelPackageGroup.get_all(name_contains=PREFIX)] == [group_name]
    summaries = made["client"].list_model_packages(
        ModelPackageGroupName=group_name, ModelPackageType="Versioned")
    parsed = [_parse(summary, "ModelPackageSummary")
              for summary in summaries["ModelPackageSummaryList"]]
    assert [(s.model_package_version, s.model_approval_status) for s in parsed] == [
        (1, "Approved")]
    version = resources.ModelPackage.get(parsed[0].model_package_arn)
    assert version.model_package_name == group_name  # a version's name is its group's
    assert version.model_package_group_name == group_name
    assert version.customer_metadata_properties["training_job"] == _field(
        made["train"], "training job")
    assert version.model_metrics.model_quality.statistics.s3_uri == _field(
        made["train"], "report")
    assert version.inference_specification.containers[0].model_data_url == _field(
        made["train"], "model artifact")


def test_deployment_reads_back(made: dict[str, Any]) -> None:
    resources = sagemaker_sdk.resources()
    endpoint_name = made["settings"].endpoint_name
    config_name = _field(made["deploy"], "endpoint config")
    endpoint = resources.Endpoint.get(endpoint_name)
    assert (endpoint.endpoint_status, endpoint.endpoint_config_name) == ("InService",
                                                                          config_name)
    # no data capture configured: the member is absent, as on AWS (not an empty object)
    assert not sagemaker_sdk.is_set(endpoint.data_capture_config)
    assert "DataCaptureConfig" not in made["client"].describe_endpoint(
        EndpointName=endpoint_name)
    assert [v.variant_name for v in endpoint.production_variants] == ["mv-1"]
    config = resources.EndpointConfig.get(config_name)
    variant = config.production_variants[0]
    assert (variant.variant_name, variant.instance_type) == ("mv-1", "ml.m5.large")
    model = resources.Model.get(variant.model_name)
    assert model.primary_container.model_data_url == _field(made["train"], "model artifact")
    for cls, attribute, expected in (
            (resources.Endpoint, "endpoint_name", endpoint_name),
            (resources.EndpointConfig, "endpoint_config_name", config_name),
            (resources.Model, "model_name", variant.model_name)):
        names = [getattr(item, attribute) for item in cls.get_all(name_contains=PREFIX)]
        assert names == [expected], cls.__name__
    # ListModels answers ModelSummary items, filtered, in pages
    listed = made["client"].list_models(NameContains=PREFIX, MaxResults=1)
    assert [sorted(m) for m in listed["Models"]] == [["CreationTime", "ModelArn", "ModelName"]]
    assert "NextToken" not in listed


def test_endpoint_with_data_capture_reads_back(made: dict[str, Any]) -> None:
    # GIVEN an endpoint whose configuration captures 20 % of the requests
    resources, shapes = sagemaker_sdk.resources(), sagemaker_sdk.shapes()
    model_name = resources.EndpointConfig.get(
        _field(made["deploy"], "endpoint config")).production_variants[0].model_name
    capture = f"s3://{made['settings'].models_bucket}/capture/"
    resources.EndpointConfig.create(
        endpoint_config_name=f"{PREFIX}-capture",
        production_variants=[shapes.ProductionVariant(
            variant_name="mv-1", model_name=model_name, initial_instance_count=1,
            instance_type="ml.m5.large", initial_variant_weight=1.0)],
        data_capture_config=shapes.DataCaptureConfig(
            enable_capture=True, initial_sampling_percentage=20, destination_s3_uri=capture,
            capture_options=[shapes.CaptureOption(capture_mode="Input")]),
    )
    resources.Endpoint.create(endpoint_name=f"{PREFIX}-capture",
                              endpoint_config_name=f"{PREFIX}-capture")
    # THEN the endpoint reports the capture as DescribeEndpoint's summary, the config as set
    summary = resources.Endpoint.get(f"{PREFIX}-capture").data_capture_config
    assert (summary.enable_capture, summary.capture_status, summary.current_sampling_percentage,
            summary.destination_s3_uri) == (True, "Started", 20, capture)
    config = resources.EndpointConfig.get(f"{PREFIX}-capture").data_capture_config
    assert (config.initial_sampling_percentage, config.destination_s3_uri) == (20, capture)


def _parse(item: dict[str, Any], shape: str) -> Any:
    """A raw boto3 answer (one list item) validated by the SDK's pydantic shape."""
    from sagemaker.core.utils.code_injection.codec import transform

    return getattr(sagemaker_sdk.shapes(), shape)(**transform(item, shape))


def test_failed_training_job_reports_its_reason(made: dict[str, Any]) -> None:
    # GIVEN a training request whose image the local stack cannot run (AWS would pull it)
    from taximl.errors import PlatformError
    from training_job import run_training_job, training_job_request

    settings = made["settings"]
    request = training_job_request(
        job_name=f"{PREFIX}-bad-image", image_uri="123456789012.dkr.ecr.us-east-1."
        "amazonaws.com/my-algorithm:1", role_arn="arn:aws:iam::123456789012:role/r",
        channels={"train": f"s3://{settings.processed_bucket}/none/"},
        output_path=f"s3://{settings.models_bucket}/training-jobs/",
        hyperparameters={"num_round": "5"})
    # WHEN it runs through the SDK THEN the job's FailureReason reaches the student
    with pytest.raises(PlatformError) as err:
        run_training_job(made["client"], request, poll_s=0.2, progress=False)
    assert str(err.value).startswith(f"training job {PREFIX}-bad-image Failed: ClientError: "
                                      "the local stack runs only the built-in XGBoost")
