"""Step 8 on AWS: the SageMaker Pipeline of the retraining (process, train, evaluate, register).

    python sagemaker/pipeline_definition.py write          # infra/pipeline/pipeline-definition.json
    python sagemaker/pipeline_definition.py upload         # code + definition to the models bucket
    python sagemaker/pipeline_definition.py upsert         # create/update the pipeline (boto3)

Steps: ``PrepareTrainingSet`` (processing: CTAS, contract, features, time split) ->
``TrainFareModel`` (built-in XGBoost, same hyperparameters as ``train_register_deploy.py``) ->
``EvaluateFareModel`` (processing: report, baselines, thresholds, approval gate) ->
``CheckApprovalGate`` (condition on ``gate.approve`` of the report) -> ``RegisterApproved`` or
``RegisterPending``. The EventBridge schedule that starts it is ``infra/pipeline/retraining.yaml``.
The processing steps run this repository's code (``pipeline_step.py``) in the built-in XGBoost
image ``PROCESSING_VERSION`` (Python 3.10 with pandas, pyarrow, boto3 and xgboost); that code is
kept 3.10-compatible (a test checks it). Training uses the ``1.7-1`` image, like step 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import registry
from taximl.config import Settings
from taximl.thresholds import DEFAULT_TARGET_FPR
from xgb_training import HYPERPARAMETERS
from xgboost_image import PROCESSING_VERSION, image_uri

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFINITION_FILE = REPO_ROOT / "infra" / "pipeline" / "pipeline-definition.json"
CODE_PREFIX = "pipeline/code/"
DEFINITION_KEY = "pipeline/pipeline-definition.json"
CODE_DIRS = (("sagemaker", "*.py"), ("taximl", "*.py"), ("infra/sql", "*.sql"))
EXAMPLE_ROLE = "arn:aws:iam::111122223333:role/st1630-taxi-sagemaker-execution"
CODE = "/opt/ml/processing/input/code"


def pipeline_name(settings: Settings) -> str:
    return f"{settings.project_prefix}-retraining"


def _get(path: str) -> dict[str, str]:
    return {"Get": path}


def _join(*values: Any) -> dict[str, Any]:
    return {"Std:Join": {"On": "", "Values": list(values)}}


def _resources(instance_param: str) -> dict[str, Any]:
    return {"ClusterConfig": {"InstanceType": _get(f"Parameters.{instance_param}"),
                              "InstanceCount": 1, "VolumeSizeInGB": 30}}


def build_definition(settings: Settings, role_arn: str) -> dict[str, Any]:
    """The pipeline definition (JSON schema 2020-12-01) for these settings and role."""
    image = image_uri(settings.region)
    processing_image = image_uri(settings.region, PROCESSING_VERSION)
    code_uri = f"s3://{settings.models_bucket}/{CODE_PREFIX}"
    run_root = _join(f"s3://{settings.models_bucket}/pipeline-runs/",
                     _get("Execution.PipelineExecutionId"))
    env = {name: value for name, value in settings.as_env().items() if value}
    env.update({
        "PIPELINE_RUN_ID": _get("Execution.PipelineExecutionId"),
        "FROM_MONTH": _get("Parameters.FromMonth"),
        "TO_MONTH": _get("Parameters.ToMonth"),
        "SAMPLE_FRACTION": _get("Parameters.SampleFraction"),
        "APPROVAL_MARGIN": _get("Parameters.ApprovalMargin"),
        "TARGET_FPR": _get("Parameters.TargetFpr"),
    })
    code_input = {"InputName": "code", "AppManaged": False, "S3Input": {
        "S3Uri": code_uri, "LocalPath": CODE, "S3DataType": "S3Prefix",
        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}

    def output(name: str, local: str) -> dict[str, Any]:
        return {"OutputName": name, "AppManaged": False, "S3Output": {
            "S3Uri": _join(run_root, f"/{name}"), "LocalPath": local,
            "S3UploadMode": "EndOfJob"}}

    def step_input(name: str, uri: Any, local: str) -> dict[str, Any]:
        return {"InputName": name, "AppManaged": False, "S3Input": {
            "S3Uri": uri, "LocalPath": local, "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated"}}

    prepare = {
        "Name": "PrepareTrainingSet",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": _resources("ProcessingInstanceType"),
            "AppSpecification": {"ImageUri": processing_image, "ContainerEntrypoint": [
                "python3", f"{CODE}/sagemaker/pipeline_step.py", "prepare"]},
            "RoleArn": role_arn,
            "Environment": env,
            "ProcessingInputs": [code_input],
            "ProcessingOutputConfig": {"Outputs": [
                output(name, f"/opt/ml/processing/output/{name}")
                for name in ("train", "validation", "test", "trips")]},
        },
    }
    outputs = "Steps.PrepareTrainingSet.ProcessingOutputConfig.Outputs"
    train = {
        "Name": "TrainFareModel",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": role_arn,
            "OutputDataConfig": {"S3OutputPath": _join(run_root, "/model")},
            "ResourceConfig": {"InstanceType": _get("Parameters.TrainingInstanceType"),
                               "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "HyperParameters": dict(HYPERPARAMETERS),
            "InputDataConfig": [
                {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
                    "S3Uri": _get(f"{outputs}['{name}'].S3Output.S3Uri")}}}
                for name in ("train", "validation")
            ],
        },
    }
    model_uri = _get("Steps.TrainFareModel.ModelArtifacts.S3ModelArtifacts")
    evaluate = {
        "Name": "EvaluateFareModel",
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": _resources("ProcessingInstanceType"),
            "AppSpecification": {"ImageUri": processing_image, "ContainerEntrypoint": [
                "python3", f"{CODE}/sagemaker/pipeline_step.py", "evaluate"]},
            "RoleArn": role_arn,
            "Environment": env,
            "ProcessingInputs": [
                code_input,
                step_input("model", model_uri, "/opt/ml/processing/input/model"),
                step_input("trips", _get(f"{outputs}['trips'].S3Output.S3Uri"),
                           "/opt/ml/processing/input/trips"),
            ],
            "ProcessingOutputConfig": {"Outputs": [
                output("evaluation", "/opt/ml/processing/evaluation")]},
        },
        "PropertyFiles": [{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                           "FilePath": "report.json"}],
    }
    report_uri = _join(
        _get("Steps.EvaluateFareModel.ProcessingOutputConfig.Outputs['evaluation']"
             ".S3Output.S3Uri"), "/report.json")

    def register(name: str, status: str) -> dict[str, Any]:
        return {
            "Name": name,
            "Type": "RegisterModel",
            "Arguments": {
                "ModelPackageGroupName": settings.model_package_group,
                "ModelApprovalStatus": status,
                "InferenceSpecification": {
                    "Containers": [{"Image": image, "ModelDataUrl": model_uri}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv", "application/json"],
                    "SupportedRealtimeInferenceInstanceTypes": registry.REALTIME_INSTANCE_TYPES,
                    "SupportedTransformInstanceTypes": registry.TRANSFORM_INSTANCE_TYPES,
                },
                "ModelMetrics": {"ModelQuality": {"Statistics": {
                    "ContentType": "application/json", "S3Uri": report_uri}}},
                "CustomerMetadataProperties": {
                    "training_data": _get(f"{outputs}['trips'].S3Output.S3Uri"),
                    "training_job": _get("Steps.TrainFareModel.TrainingJobName"),
                    "pipeline_execution": _get("Execution.PipelineExecutionId"),
                },
            },
        }

    gate = {
        "Name": "CheckApprovalGate",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{
                "Type": "Equals",
                "LeftValue": {"Std:JsonGet": {
                    "PropertyFile": _get("Steps.EvaluateFareModel.PropertyFiles.EvaluationReport"),
                    "Path": "gate.approve"}},
                "RightValue": True,
            }],
            "IfSteps": [register("RegisterApproved", registry.APPROVED)],
            "ElseSteps": [register("RegisterPending", registry.PENDING)],
        },
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "FromMonth", "Type": "String", "DefaultValue": "000001"},
            {"Name": "ToMonth", "Type": "String", "DefaultValue": "999912"},
            {"Name": "SampleFraction", "Type": "String", "DefaultValue": "1.0"},
            {"Name": "ApprovalMargin", "Type": "String", "DefaultValue": "0.01"},
            {"Name": "TargetFpr", "Type": "String", "DefaultValue": str(DEFAULT_TARGET_FPR)},
            {"Name": "ProcessingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
            {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
        ],
        "Steps": [prepare, train, evaluate, gate],
    }


def definition_json(settings: Settings, role_arn: str) -> str:
    return json.dumps(build_definition(settings, role_arn), indent=2, sort_keys=True) + "\n"


def upload_code(s3: Any, settings: Settings) -> int:
    count = 0
    for folder, pattern in CODE_DIRS:
        for path in sorted((REPO_ROOT / folder).glob(pattern)):
            s3.upload_file(str(path), settings.models_bucket,
                           f"{CODE_PREFIX}{folder}/{path.name}")
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SageMaker Pipeline of the retraining")
    parser.add_argument("command", choices=("write", "upload", "upsert"))
    parser.add_argument("--role-arn", help="execution role (default: the project's role)")
    parser.add_argument("--out", type=Path, default=DEFINITION_FILE)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "write":
        role = args.role_arn or EXAMPLE_ROLE
        args.out.write_text(definition_json(settings, role), encoding="utf-8")
        print(f"wrote {args.out} (role {role})")
        return 0
    from aws_clients import make_clients
    from execution_role import ensure_role

    clients = make_clients(settings.region)
    role = ensure_role(clients.iam, settings, args.role_arn)
    body = definition_json(settings, role)
    files = upload_code(clients.s3, settings)
    clients.s3.put_object(Bucket=settings.models_bucket, Key=DEFINITION_KEY, Body=body.encode())
    print(f"uploaded {files} code files to s3://{settings.models_bucket}/{CODE_PREFIX}")
    print(f"uploaded the definition to s3://{settings.models_bucket}/{DEFINITION_KEY}")
    if args.command == "upsert":
        name = pipeline_name(settings)
        request = {"PipelineName": name, "PipelineDefinition": body, "RoleArn": role,
                   "PipelineDescription": "Retraining of the taxi fare model"}
        try:
            clients.sagemaker.describe_pipeline(PipelineName=name)
            clients.sagemaker.update_pipeline(**request)
            print(f"updated pipeline {name}")
        except clients.sagemaker.exceptions.ResourceNotFound:
            clients.sagemaker.create_pipeline(**request)
            print(f"created pipeline {name}")
        print(f"start it: aws sagemaker start-pipeline-execution --pipeline-name {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
