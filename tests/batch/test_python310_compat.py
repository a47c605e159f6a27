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
