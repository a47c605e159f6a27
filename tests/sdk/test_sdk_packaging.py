"""The SageMaker SDK next to the repository's ``sagemaker/`` scripts folder.

The repository has a folder ``sagemaker/`` (scripts, no ``__init__.py``) that is on
``sys.path`` for the scripts, pytest and the demo; sagemaker-core installs ``sagemaker`` as a
pkgutil namespace package. These tests pin down that ``sagemaker.core`` is the SDK from every
entry point, that no script module hides an installed module and that importing the SDK
reaches no network and leaves the application's logging alone (``sagemaker_sdk.bind`` is
tested with the registry, in ``tests/batch/test_registry_and_pipeline.py``).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import sysconfig
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest

import sagemaker_sdk
import xgboost_image

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "sagemaker"
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()
GUARD = Path(__file__).resolve().parent / "loopback_only"


def _run(code: str, *, cwd: Path, path0: Path, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter whose ``sys.path[0]`` is ``path0``."""
    script = f"import sys; sys.path.insert(0, {str(path0)!r})\n{code}"
    out = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                         text=True, timeout=120, env=env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


WHERE = ("import json, sagemaker, sagemaker.core\n"
         "print(json.dumps([sagemaker.__file__, sagemaker.core.__file__]))")


def test_sagemaker_core_is_the_installed_sdk_in_pytest() -> None:
    import sagemaker.core

    import sagemaker

    assert Path(sagemaker.__file__).resolve().is_relative_to(SITE)
    assert Path(sagemaker.core.__file__).resolve().is_relative_to(SITE)


@pytest.mark.parametrize("path0", [SCRIPTS, REPO], ids=["script", "demo"])
def test_sagemaker_core_is_the_installed_sdk_from_scripts_and_demo(path0: Path) -> None:
    # a script has sagemaker/ first on sys.path; the demo has the repository root first
    package, core = json.loads(_run(WHERE, cwd=REPO, path0=path0))
    assert Path(package).resolve().is_relative_to(SITE)
    assert Path(core).resolve().is_relative_to(SITE)


def test_diagnostic_script_reports_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    out = subprocess.run([sys.executable, str(SCRIPTS / "sagemaker_sdk.py")], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True,
                         env={"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1"}).stdout
    lines = dict(line.split(":", 1) if ":" in line else (line, "") for line in out.splitlines())
    assert out.splitlines()[0] == f"sagemaker-core {version('sagemaker-core')}"
    assert Path(lines["sagemaker.core "].strip()).resolve().is_relative_to(SITE)
    assert lines["xgboost image  "].strip() == (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1 (eu-west-1)")


def test_no_script_module_hides_an_installed_or_standard_module() -> None:
    installed = set(packages_distributions())
    ours = {path.stem for path in SCRIPTS.glob("*.py")}
    assert ours, "no scripts found"
    assert not ours & installed, ours & installed
    assert not ours & set(sys.stdlib_module_names)
    # nor a subpackage of the SDK's namespace (sagemaker.core, sagemaker.lineage, ...)
    import sagemaker

    sdk_names = {p.stem for root in sagemaker.__path__ if Path(root).resolve() != SCRIPTS
                 for p in Path(root).iterdir()}
    assert "core" in sdk_names
    assert not ours & sdk_names, ours & sdk_names


def test_no_copied_image_account_table_remains() -> None:
    # ECR accounts come from the SDK only (image_uris.retrieve)
    for path in SCRIPTS.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\d{12}\.dkr\.ecr", text), path
        assert not re.search(r'"[a-z]{2}(-gov)?-[a-z]+-\d":\s*"\d{12}"', text), path


def test_image_uri_is_the_sdks_for_every_region() -> None:
    retrieve = sagemaker_sdk.image_uris().retrieve
    regions = json.loads((SITE / "sagemaker" / "core" / "image_uri_config" / "xgboost.json")
                         .read_text())["training"]["versions"]["1.7-1"]["registries"]
    assert len(regions) >= 30
    for region in regions:
        assert xgboost_image.image_uri(region) == retrieve("xgboost", region, "1.7-1")
    assert xgboost_image.image_uri("us-east-1") == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1")
    assert xgboost_image.image_uri("cn-north-1", xgboost_image.PROCESSING_VERSION) == (
        "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-xgboost:3.0-5")
    with pytest.raises(ValueError, match=r"Unsupported xgboost version: 0\.1"):
        xgboost_image.image_uri("us-east-1", "0.1")


def test_sdk_import_reaches_no_network_and_keeps_logging(tmp_path: Path) -> None:
    # GIVEN no credentials at all (botocore would then ask the EC2 metadata service) and a
    # socket guard that records every connection outside 127.0.0.0/8
    code = (
        "import logging, sys\n"
        "logging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "hook = sys.excepthook\n"
        "import sagemaker_sdk, xgboost_image\n"
        "print(xgboost_image.image_uri('us-east-1'))\n"
        "sagemaker_sdk.resources(); sagemaker_sdk.shapes()\n"
        "root = logging.getLogger()\n"
        "print(len(root.handlers), root.level, sys.excepthook is hook)\n"
        "import os; print(os.environ.get('AWS_EC2_METADATA_DISABLED'))\n"
    )
    log = tmp_path / "refused.log"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(GUARD), "AWS_REGION": "us-east-1",
           "LOOPBACK_ONLY_LOG": str(log), "LOOPBACK_ONLY_MARKER": str(tmp_path / "loaded")}
    out = _run(code, cwd=REPO, path0=SCRIPTS, env=env).splitlines()
    # THEN the image comes from the SDK's table, nothing left the machine, and the
    # application's root logger, excepthook and environment are as they were
    assert out == ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                   f"1 {logging.WARNING} True", "None"]
    assert (tmp_path / "loaded").exists() and not log.exists()


def test_loopback_guard_refuses_the_outside(tmp_path: Path) -> None:
    # the guard the tests rely on does refuse: a lookup and a connection outside loopback
    log = tmp_path / "refused.log"
    code = ("import socket\n"
            "for call in (lambda: socket.getaddrinfo('sagemaker.us-east-1.amazonaws.com', 443),"
            " lambda: socket.create_connection(('169.254.169.254', 80), timeout=1)):\n"
            "    try:\n        call()\n    except OSError as exc:\n        print(exc)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(GUARD), "LOOPBACK_ONLY_LOG": str(log)}
    out = _run(code, cwd=REPO, path0=SCRIPTS, env=env).splitlines()
    assert out == ["loopback_only: refused lookup sagemaker.us-east-1.amazonaws.com",
                   "loopback_only: refused connect 169.254.169.254:80"]
    assert log.read_text().splitlines() == [
        "lookup sagemaker.us-east-1.amazonaws.com", "connect 169.254.169.254:80"]


def test_requirements_pin_the_installed_sdk() -> None:
    pins = []
    for file in (REPO / "requirements.txt", SCRIPTS / "requirements.txt"):
        pins += re.findall(r"^sagemaker-core==(\S+)$", file.read_text(), flags=re.M)
    assert pins == [version("sagemaker-core")] * 2
    # the full SDK (MLflow, an older pyarrow) is not what the scripts need
    text = (SCRIPTS / "requirements.txt").read_text()
    assert not re.search(r"^sagemaker(\[.*\])?[=<>~]", text, flags=re.M)
