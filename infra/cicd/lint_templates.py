"""Lint and scan every CloudFormation template of the project: cfn-lint and checkov, offline.

Usage::

    python infra/cicd/lint_templates.py            # both tools, every template; 1 = findings
    python infra/cicd/lint_templates.py --install  # only prepare checkov's own environment

A template is any ``*.yaml``/``*.yml`` under ``infra/`` with ``AWSTemplateFormatVersion``.
cfn-lint comes from the project's environment (``requirements-dev.txt``). checkov pins an older
boto3 than the project's, so it lives in its own virtualenv, made here from
``requirements-checkov.txt`` (``.venv/tools/checkov`` by default, ``CHECKOV_VENV`` to move it)
and remade when that file changes. Suppressions are written next to their resource in the
template (``Metadata: checkov: skip`` with a comment); none is global. checkov runs with its
update check and its platform mappings off: no network at scan time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements-checkov.txt"
DEFAULT_VENV = REPO / ".venv" / "tools" / "checkov"
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE",
               "LOG_LEVEL": "WARNING"}
INSTALL_TIMEOUT_S = 900
SCAN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Finding:
    """One problem a tool reported (or one suppression it honoured)."""

    tool: str
    template: str
    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {self.tool} {self.rule} {self.resource}: {self.message}"


def templates(root: Path = REPO) -> list[Path]:
    """Every CloudFormation template under ``infra/`` (sorted)."""
    found = [p for pattern in ("*.yaml", "*.yml") for p in (root / "infra").rglob(pattern)]
    return sorted(p for p in found
                  if "AWSTemplateFormatVersion" in p.read_text(encoding="utf-8"))


def _relative(path: Path | str) -> str:
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_absolute() and path.is_relative_to(REPO) \
        else str(path)


def cfn_lint(paths: list[Path]) -> list[Finding]:
    """cfn-lint (errors, warnings and informational findings) on ``paths``."""
    exe = Path(sys.executable).with_name("cfn-lint")
    command = [str(exe) if exe.exists() else (shutil.which("cfn-lint") or "cfn-lint"),
               "--format", "json", "--", *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S,
                            check=False)
    if result.returncode not in (0, 2, 4, 6, 8, 10, 12, 14) or not result.stdout.strip():
        if result.returncode == 0:
            return []
        raise RuntimeError(f"cfn-lint failed ({result.returncode}): {result.stderr[-2000:]}")
    return [Finding("cfn-lint", _relative(m["Filename"]), m["Rule"]["Id"],
                    "/".join(str(p) for p in m.get("Location", {}).get("Path", [])[:2]),
                    m["Message"])
            for m in json.loads(result.stdout)]


def _stamp(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest()


def ensure_checkov(venv_dir: Path | None = None, requirements: Path = REQUIREMENTS,
                   say: callable = print) -> Path:  # type: ignore[valid-type]
    """The checkov executable of its own virtualenv, (re)installed when the pins changed."""
    venv_dir = venv_dir or Path(os.environ.get("CHECKOV_VENV") or DEFAULT_VENV)
    exe = venv_dir / "bin" / "checkov"
    stamp = venv_dir / ".requirements.sha256"
    if exe.exists() and stamp.exists() and stamp.read_text().strip() == _stamp(requirements):
        return exe
    say(f"installing checkov from {_relative(requirements)} into {_relative(venv_dir)} "
        "(its own environment: it pins an older boto3)")
    if venv_dir.exists():
        shutil.rmtree(venv_dir)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [str(venv_dir / "bin" / "python"), "-m", "pip"]
    for step in (["install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
                 ["check"]):
        result = subprocess.run([*pip, *step], capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT_S, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip {step[0]} for checkov failed:\n{result.stdout[-2000:]}"
                               f"{result.stderr[-2000:]}")
    stamp.write_text(_stamp(requirements))
    return exe


@dataclass(frozen=True)
class CheckovReport:
    failed: list[Finding]
    skipped: list[Finding]


def checkov(paths: list[Path], exe: Path | None = None) -> CheckovReport:
    """checkov's CloudFormation checks on ``paths``: failures and honoured suppressions."""
    exe = exe or ensure_checkov()
    failed: list[Finding] = []
    skipped: list[Finding] = []
    for path in paths:
        result = subprocess.run(
            [str(exe), "--file", str(path), "--framework", "cloudformation", "--skip-download",
             "--output", "json", "--compact"],  # (--quiet would drop the skipped checks)
            capture_output=True, text=True, timeout=SCAN_TIMEOUT_S, check=False,
            env={**os.environ, **OFFLINE_ENV})
        if result.returncode not in (0, 1):
            raise RuntimeError(f"checkov failed on {path} ({result.returncode}): "
                               f"{result.stderr[-2000:]}")
        text = result.stdout.strip()
        reports = json.loads(text) if text.startswith(("{", "[")) else []
        for report in reports if isinstance(reports, list) else [reports]:
            results = report.get("results", {})
            for key, bucket in (("failed_checks", failed), ("skipped_checks", skipped)):
                bucket += [Finding("checkov", _relative(path), c["check_id"],
                                   c["resource"], c.get("check_name", ""))
                           for c in results.get(key, [])]
    return CheckovReport(failed, skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--install", action="store_true", help="only install checkov")
    parser.add_argument("paths", nargs="*", type=Path, help="templates (default: all)")
    args = parser.parse_args(argv)
    if args.install:
        print(f"checkov ready: {_relative(ensure_checkov())}")
        return 0
    paths = args.paths or templates()
    findings = cfn_lint(paths)
    report = checkov(paths)
    findings += report.failed
    print(f"{len(paths)} templates: " + ", ".join(_relative(p) for p in paths))
    for finding in findings:
        print(f"  {finding}")
    print(f"cfn-lint + checkov: {len(findings)} findings, {len(report.skipped)} suppressions "
          "(each in its resource's Metadata, with the reason)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
