"""Every CloudFormation template lints (cfn-lint) and scans (checkov) clean, offline.

checkov runs from its own virtualenv (``requirements-checkov.txt``; it pins an older boto3 than
the project), installed on first use by ``infra/cicd/lint_templates.py``. Each suppression sits
in its resource's ``Metadata`` with a reason, and each one is still needed: without the
suppressions, checkov fails exactly the suppressed checks.
"""

from __future__ import annotations

import re
from pathlib import Path

import lint_templates
import pytest
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"infra/cloudformation/stack.yaml", "infra/pipeline/retraining.yaml",
            "infra/cicd/pipeline.yaml"}
SKIP_BLOCK = re.compile(r"    Metadata:\n      checkov:\n        skip:\n"
                        r"(?:          - id: \S+\n            comment: .*\n)+")


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as plain values."""


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def templates() -> list[Path]:
    return lint_templates.templates()


@pytest.fixture(scope="module")
def checkov_exe() -> Path:
    return lint_templates.ensure_checkov(say=lambda message: None)


def test_every_template_is_found(templates):
    assert {str(p.relative_to(REPO)) for p in templates} == EXPECTED


def test_cfn_lint_has_no_finding(templates):
    assert [str(f) for f in lint_templates.cfn_lint(templates)] == []


def test_checkov_has_no_finding(templates, checkov_exe):
    report = lint_templates.checkov(templates, checkov_exe)
    assert [str(f) for f in report.failed] == []
    assert report.skipped, "the suppressions below were not seen by checkov"


def test_each_suppression_sits_on_its_resource_with_a_reason(templates):
    for path in templates:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)
        assert "checkov" not in (doc.get("Metadata") or {}), f"{path}: global checkov skip"
        assert "cfn-lint" not in (doc.get("Metadata") or {}), f"{path}: global cfn-lint config"
        for name, resource in doc["Resources"].items():
            for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
                assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
                assert len(skip.get("comment", "")) >= 40, f"{name} {skip['id']}: say why"


def test_each_suppression_is_still_needed(templates, checkov_exe, tmp_path):
    # GIVEN the templates without their checkov suppressions
    report = lint_templates.checkov(templates, checkov_exe)
    suppressed = {(f.template, f.rule, f.resource) for f in report.skipped}
    stripped = []
    for path in templates:
        copy = tmp_path / path.relative_to(REPO)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(SKIP_BLOCK.sub("", path.read_text(encoding="utf-8")), encoding="utf-8")
        stripped.append(copy)
    # WHEN checkov scans them
    bare = lint_templates.checkov(stripped, checkov_exe)
    # THEN it fails exactly the checks that were suppressed, no more, no fewer
    failed = {(str(Path(f.template).relative_to(tmp_path)), f.rule, f.resource)
              for f in bare.failed}
    assert failed == suppressed


def test_the_tools_do_find_problems(tmp_path, checkov_exe):
    # a public, unencrypted bucket and a Lambda on a runtime that can no longer be created
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Bucket:\n"
        "    Type: AWS::S3::Bucket\n"
        "    Properties:\n"
        "      PublicAccessBlockConfiguration: {BlockPublicAcls: false}\n"
        "  Fn:\n"
        "    Type: AWS::Lambda::Function\n"
        "    Properties:\n"
        "      Runtime: python3.7\n"
        "      Handler: a.b\n"
        "      Role: arn:aws:iam::123456789012:role/r\n"
        "      Code: {ZipFile: 'def b(e, c): pass'}\n", encoding="utf-8")
    lint = {f.rule for f in lint_templates.cfn_lint([bad])}
    assert "E2531" in lint or "E2533" in lint  # deprecated runtime
    scan = {f.rule for f in lint_templates.checkov([bad], checkov_exe).failed}
    assert {"CKV_AWS_53", "CKV_AWS_21"} <= scan  # public ACLs allowed, no versioning


def test_buildspec_runs_the_projects_commands():
    spec = yaml.safe_load((REPO / "buildspec.yml").read_text(encoding="utf-8"))
    assert spec["version"] == 0.2
    commands = [c for phase in spec["phases"].values() for c in phase["commands"]]
    assert commands[:2] == ["make setup", "make test"]
    scripts = re.findall(r"\.venv/bin/python (\S+)", " ".join(commands))
    assert scripts == ["infra/cicd/lint_templates.py", "infra/aws_deploy.py"]
    assert all((REPO / script).is_file() for script in scripts)
