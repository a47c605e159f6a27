"""Registry calls against moto (in-process), the pipeline definition and the schedule template."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

import pipeline_definition
import registry
from taximl.config import Settings

REPO = Path(__file__).resolve().parents[2]
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield boto3.client("sagemaker", region_name="us-east-1")


def _register(sm, rmse: str, decision: registry.GateDecision) -> dict:
    return registry.register_version(
        sm, group="g", image_uri=IMAGE, model_data_url=f"s3://m/{rmse}/model.tar.gz",
        report_uri=f"s3://m/{rmse}/evaluation/report.json",
        metadata={"test_rmse": rmse, "feature_version": "1", "git_commit": "abc"},
        decision=decision, description="test",
    )


def test_versions_approval_and_metadata(sagemaker) -> None:
    # GIVEN an approved version 1 and a pending version 2
    first = _register(sagemaker, "1.0", registry.GateDecision(True, "first"))
    second = _register(sagemaker, "0.99", registry.GateDecision(False, "not by 1%"))
    assert (first["ModelPackageVersion"], second["ModelPackageVersion"]) == (1, 2)
    assert second["ModelApprovalStatus"] == "PendingManualApproval"
    assert second["ApprovalDescription"] == "not by 1%"
    assert second["CustomerMetadataProperties"]["git_commit"] == "abc"
    assert second["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("report.json")
    assert registry.latest_approved(sagemaker, "g")["ModelPackageVersion"] == 1
    # WHEN version 2 is approved by hand
    registry.set_status(sagemaker, second["ModelPackageArn"], registry.APPROVED, "by hand")
    # THEN it is the latest approved and keeps its metadata
    latest = registry.latest_approved(sagemaker, "g")
    assert latest["ModelPackageVersion"] == 2
    assert latest["CustomerMetadataProperties"]["test_rmse"] == "0.99"
    assert [p["ModelPackageVersion"] for p in registry.versions(sagemaker, "g")] == [2, 1]
    assert registry.model_data_url(latest) == "s3://m/0.99/model.tar.gz"
    assert registry.by_version(sagemaker, "g", 1)["ModelApprovalStatus"] == "Approved"


def test_bind_makes_the_sdk_use_the_callers_client(sagemaker) -> None:
    import sagemaker_sdk

    resources = sagemaker_sdk.resources()
    west = boto3.client("sagemaker", region_name="eu-west-1")
    # WHEN a group is created through the SDK bound to each client in turn
    sagemaker_sdk.bind(sagemaker)
    resources.ModelPackageGroup.create(model_package_group_name="east-group")
    sagemaker_sdk.bind(west)
    created = resources.ModelPackageGroup.create(model_package_group_name="west-group")
    # THEN each landed where its client points, and the SDK read it back typed
    assert created.model_package_group_arn.startswith("arn:aws:sagemaker:eu-west-1:")
    for client, name in ((sagemaker, "east-group"), (west, "west-group")):
        groups = client.list_model_package_groups()["ModelPackageGroupSummaryList"]
        assert [g["ModelPackageGroupName"] for g in groups] == [name]
    sagemaker_sdk.bind(sagemaker)
    assert resources.ModelPackageGroup.get("east-group").model_package_group_status == "Completed"


def test_no_group_means_no_versions(sagemaker) -> None:
    assert registry.versions(sagemaker, "missing") == []
    assert registry.latest_approved(sagemaker, "missing") is None


def test_committed_pipeline_definition_is_current() -> None:
    # The JSON in infra/pipeline is generated: regenerate it when this fails
    # (python sagemaker/pipeline_definition.py write, with no PROJECT_PREFIX set).
    expected = pipeline_definition.definition_json(
        Settings.from_env({}), pipeline_definition.EXAMPLE_ROLE
    )
    assert pipeline_definition.DEFINITION_FILE.read_text(encoding="utf-8") == expected


def test_pipeline_steps_process_train_evaluate_and_register_conditionally() -> None:
    definition = pipeline_definition.build_definition(Settings.from_env({}), "arn:role")
    steps = {s["Name"]: s for s in definition["Steps"]}
    assert [s["Type"] for s in definition["Steps"]] == [
        "Processing", "Training", "Processing", "Condition"]
    train = steps["TrainFareModel"]["Arguments"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert train["HyperParameters"]["objective"] == "reg:squarederror"
    gate = steps["CheckApprovalGate"]["Arguments"]
    assert gate["Conditions"][0]["LeftValue"]["Std:JsonGet"]["Path"] == "gate.approve"
    assert gate["IfSteps"][0]["Arguments"]["ModelApprovalStatus"] == "Approved"
    assert gate["ElseSteps"][0]["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval"
    # every property reference points at a step or parameter that exists
    text = json.dumps(definition)
    names = {p["Name"] for p in definition["Parameters"]}
    for ref in set(re.findall(r'"Get": "([^"]+)"', text)):
        kind, name = ref.split(".")[:2]
        assert (kind == "Steps" and name in steps) or (kind == "Parameters" and name in names) \
            or kind == "Execution", ref
    # the entry script exists and accepts both step names
    entry = REPO / "sagemaker" / "pipeline_step.py"
    out = subprocess.run([sys.executable, str(entry), "--help"], capture_output=True, text=True,
                         timeout=60, check=True)
    assert "prepare" in out.stdout and "evaluate" in out.stdout


@pytest.mark.skipif(shutil.which("cfn-lint") is None and not (
    Path(sys.executable).parent / "cfn-lint").exists(), reason="cfn-lint not installed")
def test_retraining_schedule_template_passes_cfn_lint() -> None:
    exe = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    result = subprocess.run([exe, str(REPO / "infra" / "pipeline" / "retraining.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _expr(value):
    """The JSON of an SDK workflow entity (``.expr``), at any depth of a request."""
    from sagemaker.core.helper.pipeline_variable import PipelineVariable

    if isinstance(value, PipelineVariable):
        return value.expr
    if isinstance(value, dict):
        return {k: _expr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expr(v) for v in value]
    return value


def test_pipeline_expressions_are_the_sdks() -> None:
    """The generator's parameters, property references, joins, property file and condition are
    what sagemaker-core's workflow classes write for the same steps (the Pipeline and step
    classes are in sagemaker-mlops, whose dependencies the project does not install)."""
    import sagemaker_sdk

    sagemaker_sdk.resources()  # the SDK imported quietly, as the scripts do
    from sagemaker.core.workflow.conditions import ConditionEquals
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.properties import Properties, PropertyFile

    settings = Settings.from_env({})
    definition = pipeline_definition.build_definition(settings, "arn:role")
    steps = {s["Name"]: s for s in definition["Steps"]}
    # parameters
    parameters = [ParameterString(name=p["Name"], default_value=p["DefaultValue"])
                  for p in definition["Parameters"]]
    assert definition["Parameters"] == [p.to_request() for p in parameters]
    by_name = {p.name: p for p in parameters}
    # the run folder, the training step's output and instance type
    run_root = Join(on="", values=[f"s3://{settings.models_bucket}/pipeline-runs/",
                                   ExecutionVariables.PIPELINE_EXECUTION_ID])
    train = steps["TrainFareModel"]["Arguments"]
    assert train["OutputDataConfig"]["S3OutputPath"] == Join(
        on="", values=[run_root, "/model"]).expr
    assert train["ResourceConfig"]["InstanceType"] == by_name["TrainingInstanceType"].expr
    # the training channels are the prepare step's outputs
    prepare = Properties(step_name="PrepareTrainingSet",
                         shape_name="DescribeProcessingJobResponse")
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]] == [
        prepare.ProcessingOutputConfig.Outputs[name].S3Output.S3Uri.expr
        for name in ("train", "validation")]
    # the evaluation reads the model artifact; its report is a property file
    trained = Properties(step_name="TrainFareModel", shape_name="DescribeTrainingJobResponse")
    evaluate = steps["EvaluateFareModel"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"]
              for i in evaluate["Arguments"]["ProcessingInputs"]}
    assert inputs["model"] == trained.ModelArtifacts.S3ModelArtifacts.expr
    report = PropertyFile(name="EvaluationReport", output_name="evaluation",
                          path="report.json")
    assert evaluate["PropertyFiles"] == [report.expr]
    assert evaluate["Arguments"]["Environment"]["PIPELINE_RUN_ID"] == \
        ExecutionVariables.PIPELINE_EXECUTION_ID.expr
    # the gate is an Equals condition on the report's gate.approve
    condition = ConditionEquals(left=JsonGet(step_name="EvaluateFareModel",
                                             property_file=report, json_path="gate.approve"),
                                right=True)
    gate = steps["CheckApprovalGate"]["Arguments"]
    assert gate["Conditions"] == [_expr(condition.to_request())]
    # the registered version points at the model, the job and the report
    evaluated = Properties(step_name="EvaluateFareModel",
                           shape_name="DescribeProcessingJobResponse")
    for branch in (gate["IfSteps"][0], gate["ElseSteps"][0]):
        arguments = branch["Arguments"]
        container = arguments["InferenceSpecification"]["Containers"][0]
        assert container["ModelDataUrl"] == trained.ModelArtifacts.S3ModelArtifacts.expr
        assert arguments["CustomerMetadataProperties"]["training_job"] == \
            trained.TrainingJobName.expr
        assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == Join(
            on="", values=[evaluated.ProcessingOutputConfig.Outputs["evaluation"]
                           .S3Output.S3Uri, "/report.json"]).expr


def _has_mlops() -> bool:
    try:
        return importlib.util.find_spec("sagemaker.mlops") is not None
    except ImportError:
        return False


@pytest.mark.skipif(not _has_mlops(), reason=(
    "sagemaker-mlops is not installed: the project installs sagemaker-core only, because "
    "sagemaker-mlops needs sagemaker-train (MLflow, ~1 GB) and sagemaker-core>=2.27 "
    "(boto3>=1.43.90). Run this comparison in a virtualenv with `pip install sagemaker-mlops "
    "pytest xgboost-cpu pandas pyarrow moto psutil`"))
def test_processing_steps_are_what_the_sdks_pipeline_classes_write(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator's two processing steps, next to what the SDK's ``Processor`` +
    ``ProcessingStep`` + ``Pipeline`` write for the same image, code, inputs and outputs.

    The training step between them is the generator's, wrapped in the SDK's ``Step`` base
    class: sagemaker-train's ``ModelTrainer`` checks the role with IAM's
    SimulatePrincipalPolicy as soon as it is constructed (a call to AWS even for a pipeline
    definition, which a definition generator must not need, and which moto does not answer).
    """
    settings = Settings.from_env({})
    # importing sagemaker.mlops creates boto3 clients: it needs a region (and, without
    # credentials, would ask the EC2 metadata service)
    monkeypatch.setenv("AWS_DEFAULT_REGION", settings.region)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes.shapes import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import Properties, PropertyFile
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, Step, StepTypeEnum

    from xgboost_image import PROCESSING_VERSION, image_uri

    role, code = pipeline_definition.EXAMPLE_ROLE, pipeline_definition.CODE
    session = PipelineSession(boto_session=boto3.Session(region_name=settings.region),
                              default_bucket=settings.models_bucket)
    parameters = {name: ParameterString(name=name, default_value=value) for name, value in (
        ("FromMonth", "000001"), ("ToMonth", "999912"), ("SampleFraction", "1.0"),
        ("ApprovalMargin", "0.01"), ("TargetFpr", "0.01"),
        ("ProcessingInstanceType", "ml.m5.xlarge"), ("TrainingInstanceType", "ml.m5.xlarge"))}
    run_id = ExecutionVariables.PIPELINE_EXECUTION_ID
    run_root = Join(on="", values=[f"s3://{settings.models_bucket}/pipeline-runs/", run_id])
    env = {name: value for name, value in settings.as_env().items() if value}
    env.update({"PIPELINE_RUN_ID": run_id, "FROM_MONTH": parameters["FromMonth"],
                "TO_MONTH": parameters["ToMonth"],
                "SAMPLE_FRACTION": parameters["SampleFraction"],
                "APPROVAL_MARGIN": parameters["ApprovalMargin"],
                "TARGET_FPR": parameters["TargetFpr"]})

    def s3_input(name: str, uri, local: str) -> ProcessingInput:
        return ProcessingInput(input_name=name, app_managed=False, s3_input=ProcessingS3Input(
            s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated"))

    def s3_output(name: str, local: str) -> ProcessingOutput:
        return ProcessingOutput(output_name=name, app_managed=False, s3_output=ProcessingS3Output(
            s3_uri=Join(on="", values=[run_root, f"/{name}"]), local_path=local,
            s3_upload_mode="EndOfJob"))

    def step(name: str, entry: str, inputs, outputs, **extra) -> ProcessingStep:
        processor = Processor(
            role=role, image_uri=image_uri(settings.region, PROCESSING_VERSION),
            instance_count=1, instance_type=parameters["ProcessingInstanceType"],
            volume_size_in_gb=30, env=env, sagemaker_session=session,
            entrypoint=["python3", f"{code}/sagemaker/pipeline_step.py", entry])
        return ProcessingStep(name=name, step_args=processor.run(inputs=inputs, outputs=outputs),
                              **extra)

    code_input = s3_input("code", f"s3://{settings.models_bucket}/{pipeline_definition.CODE_PREFIX}",
                          code)
    prepare = step("PrepareTrainingSet", "prepare", [code_input], [
        s3_output(n, f"/opt/ml/processing/output/{n}")
        for n in ("train", "validation", "test", "trips")])
    ours = pipeline_definition.build_definition(settings, role)
    ours_steps = {s["Name"]: s for s in ours["Steps"]}

    class GeneratedTraining(Step):
        """The generator's TrainFareModel, so that the SDK can resolve references to it."""

        def __init__(self) -> None:
            super().__init__(name="TrainFareModel", step_type=StepTypeEnum.TRAINING)

        @property
        def arguments(self):
            return ours_steps["TrainFareModel"]["Arguments"]

        @property
        def properties(self):
            return Properties(step_name=self.name, shape_name="DescribeTrainingJobResponse")

    training = GeneratedTraining()
    trained = training.properties
    evaluate = step("EvaluateFareModel", "evaluate", [
        code_input,
        s3_input("model", trained.ModelArtifacts.S3ModelArtifacts,
                 "/opt/ml/processing/input/model"),
        s3_input("trips", prepare.properties.ProcessingOutputConfig.Outputs["trips"]
                 .S3Output.S3Uri, "/opt/ml/processing/input/trips"),
    ], [s3_output("evaluation", "/opt/ml/processing/evaluation")], property_files=[
        PropertyFile(name="EvaluationReport", output_name="evaluation", path="report.json")])
    pipeline = Pipeline(name=pipeline_definition.pipeline_name(settings),
                        parameters=list(parameters.values()),
                        steps=[prepare, training, evaluate],
                        sagemaker_session=session)
    sdk = json.loads(pipeline.definition())

    def without_defaults(value):
        """The SDK also writes S3CompressionType "None", the API's default."""
        if isinstance(value, dict):
            return {k: without_defaults(v) for k, v in value.items()
                    if not (k == "S3CompressionType" and v == "None")}
        if isinstance(value, list):
            return [without_defaults(v) for v in value]
        return value

    assert ours["Parameters"] == sdk["Parameters"]
    written = {s["Name"]: s for s in sdk["Steps"]}
    assert list(written) == ["PrepareTrainingSet", "TrainFareModel", "EvaluateFareModel"]
    for name in ("PrepareTrainingSet", "EvaluateFareModel"):
        assert without_defaults(written[name]) == ours_steps[name], name
