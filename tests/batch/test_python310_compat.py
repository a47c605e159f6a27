"""Code that runs inside SageMaker's XGBoost processing image must work on its Python (3.10)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINE_CODE = [REPO / "taximl", REPO / "sagemaker"]


def test_pipeline_code_needs_no_python_newer_than_3_10() -> None:
    # vermin reads the code and reports the minimum Python version each construct needs
    vermin = Path(sys.executable).with_name("vermin")
    out = subprocess.run(
        [str(vermin), "--no-tips", "--violations", "-t=3.10-", *map(str, PIPELINE_CODE)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _python310() -> str | None:
    """A working Python 3.10 interpreter (PATH or pyenv), or None."""
    candidates = [shutil.which("python3.10")]
    candidates += sorted(map(str, Path.home().glob(".pyenv/versions/3.10*/bin/python3.10")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 10)":
            return candidate
    return None


PYTHON310 = _python310()


@pytest.mark.skipif(PYTHON310 is None, reason="no Python 3.10 interpreter on this machine")
def test_shared_contract_runs_on_python_3_10() -> None:
    # GIVEN a real Python 3.10  WHEN the standard-library paths of taximl run
    script = (
        "from taximl.validation import validate_record\n"
        "from taximl.features import features_for_record, features_to_csv\n"
        "from taximl.thresholds import decide, fixed_doc\n"
        "trip = validate_record({'tpep_pickup_datetime': '2024-01-05 10:00:00+00:00',"
        " 'tpep_dropoff_datetime': '2024-01-05 10:12:00', 'trip_distance': 2.0,"
        " 'PULocationID': 132, 'DOLocationID': 236, 'fare_amount': 14.2}).trip\n"
        "features = features_for_record(trip)\n"
        "print(features_to_csv([features]))\n"
        "print(decide(30.0, 14.0, features, fixed_doc(10.0)).is_outlier)\n"
    )
    out = subprocess.run([str(PYTHON310), "-c", script], capture_output=True, text=True,
                         cwd=REPO, env={"PYTHONPATH": str(REPO)}, check=True).stdout.split()
    # THEN it computes the same features as this interpreter, and decides the same
    from taximl.features import features_for_record, features_to_csv
    from taximl.validation import validate_record

    trip = validate_record({"tpep_pickup_datetime": "2024-01-05 10:00:00+00:00",
                            "tpep_dropoff_datetime": "2024-01-05 10:12:00",
                            "trip_distance": 2.0, "PULocationID": 132, "DOLocationID": 236,
                            "fare_amount": 14.2}).trip
    assert out == [features_to_csv([features_for_record(trip)]), "True"]


HIDE_SDK = '''
import importlib.abc, sys
class HideSdk(importlib.abc.MetaPathFinder):
    """The processing image has no SageMaker SDK: any import of it fails here."""
    def find_spec(self, name, path=None, target=None):
        if name == "sagemaker" or name.startswith(("sagemaker.", "sagemaker_sdk")):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden: processing image)")
        return None
sys.meta_path.insert(0, HideSdk())
'''


def test_processing_steps_run_without_the_sagemaker_sdk() -> None:
    # GIVEN the SDK made unimportable, as in SageMaker's XGBoost processing image
    script = HIDE_SDK + (
        "import os, sys\n"
        "sys.path[:0] = [os.path.join(os.getcwd(), 'sagemaker'), os.getcwd()]\n"
        "import boto3\n"
        "from moto import mock_aws\n"
        # WHEN the entry script and everything its two steps import are loaded
        "import pipeline_step, trainset, batch_s3, training_flow, xgb_training, registry\n"
        "from taximl.thresholds import doc_to_json\n"
        "with mock_aws():\n"
        "    sm = boto3.client('sagemaker', region_name='us-east-1')\n"
        "    print(pipeline_step.latest_approved(sm, 'fare'))\n"
        "    sm.create_model_package_group(ModelPackageGroupName='fare')\n"
        "    spec = {'Containers': [{'Image': 'i', 'ModelDataUrl': 's3://m/1.tar.gz'}],\n"
        "            'SupportedContentTypes': ['text/csv'],\n"
        "            'SupportedResponseMIMETypes': ['text/csv']}\n"
        "    for status in ('Approved', 'Approved', 'PendingManualApproval'):\n"
        "        sm.create_model_package(ModelPackageGroupName='fare',\n"
        "            ModelApprovalStatus=status, InferenceSpecification=spec)\n"
        "    found = pipeline_step.latest_approved(sm, 'fare')\n"
        "    print(found['ModelPackageVersion'], registry.model_data_url(found))\n"
        "print(sorted(m for m in sys.modules if m.startswith('sagemaker')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                         text=True, timeout=300, env=env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # THEN the registry is read with boto3 alone: the newest Approved version is 2
    assert out.stdout.splitlines() == ["None", "2 s3://m/1.tar.gz", "[]"]
