"""lambda/build_zip.py: the zip holds handler + taximl + Powertools, imports without the repo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import botocore

import build_zip


def test_zip_contents_sizes_and_isolated_import(tmp_path) -> None:
    out = tmp_path / "lambda.zip"
    sizes = build_zip.build(out)
    names = zipfile.ZipFile(out).namelist()
    assert "lambda_function.py" in names and "scoring.py" in names
    assert "taximl/features.py" in names and "aws_lambda_powertools/__init__.py" in names
    assert "build_zip.py" not in names
    assert not any(
        n.startswith(("boto3/", "botocore/", "xgboost", "numpy/", "pandas/")) for n in names
    )
    assert sizes["zipped"] < build_zip.MAX_ZIPPED and sizes["unzipped"] < build_zip.MAX_UNZIPPED
    # the handler imports from the unpacked zip plus what the Lambda runtime provides (boto3),
    # without the repository, pandas or numpy
    code = tmp_path / "code"
    zipfile.ZipFile(out).extractall(code)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for module in (boto3, botocore):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    site = Path(botocore.__file__).parents[1]
    for name in ("s3transfer", "jmespath", "dateutil", "urllib3", "six.py"):
        (runtime / name).symlink_to(site / name)
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import lambda_function; "
        "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules; print('ok')"
    )
    env = {
        "PATH": os.environ["PATH"],
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(code), str(runtime)],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_pins_are_read_and_checked() -> None:
    assert build_zip.read_pins() == {"aws-lambda-powertools": "3.37.0"}
    names = [
        build_zip._norm(d.metadata["Name"])
        for d in build_zip.resolve_installed(build_zip.read_pins())
    ]
    assert "aws-lambda-powertools" in names and "boto3" not in names
