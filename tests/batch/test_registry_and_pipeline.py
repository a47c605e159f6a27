"""Registry calls against moto (in-process), the pipeline definition and the schedule template."""

from __future__ import annotations

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
