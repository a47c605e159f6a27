"""Entry point of the SageMaker Pipeline's processing steps (runs inside the processing image).

The pipeline (``pipeline_definition.py``) copies ``sagemaker/``, ``taximl/`` and ``infra/sql``
to ``/opt/ml/processing/input/code`` and runs:

- ``pipeline_step.py prepare``: the training-set CTAS, validation, features, time split;
  writes the CSV channels and the split trips (Parquet) as processing outputs;
- ``pipeline_step.py evaluate``: the report next to both baselines, the thresholds and the
  approval gate against the approved version; writes ``report.json`` (read by the condition
  step through a PropertyFile) and ``thresholds.json`` (copied to DynamoDB on deploy).

Settings come from the environment (``PROJECT_PREFIX`` and friends, set by the pipeline).
The processing image has boto3 but no SageMaker SDK: this file and what it imports never
import the SDK (``tests/batch/test_python310_compat.py`` runs them with the SDK hidden).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

BASE = Path(os.environ.get("SM_PROCESSING_BASE", "/opt/ml/processing"))


def prepare() -> None:
    import boto3

    import trainset
    from batch_s3 import read_parquet_prefix, s3_uri
    from taximl.config import Settings

    settings = Settings.from_env()
    run = os.environ["PIPELINE_RUN_ID"]
    location = s3_uri(settings.processed_bucket, f"training/pipeline-{run}/trips/")
    athena, s3 = boto3.client("athena"), boto3.client("s3")
    trainset.run_ctas(athena, settings, location,
                      from_month=os.environ.get("FROM_MONTH", "000001"),
                      to_month=os.environ.get("TO_MONTH", "999912"),
                      sample_fraction=float(os.environ.get("SAMPLE_FRACTION", "1.0")))
    data = trainset.prepare(read_parquet_prefix(s3, location))
    for name, part in data.parts().items():
        folder = BASE / "output" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.csv").write_bytes(trainset.channel_csv(part))
        trips = BASE / "output" / "trips"
        trips.mkdir(parents=True, exist_ok=True)
        part.trips.to_parquet(trips / f"{name}.parquet", index=False)


def latest_approved(sagemaker: Any, group: str) -> dict[str, Any] | None:
    """DescribeModelPackage of the group's newest Approved version, or None (boto3 only)."""
    from botocore.exceptions import ClientError

    try:
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=group, ModelPackageType="Versioned",
            ModelApprovalStatus="Approved", SortBy="CreationTime", SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return None  # no such group yet
        raise
    if not summaries:
        return None
    return sagemaker.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"])


def evaluate() -> None:
    import boto3
    import pandas as pd

    import trainset
    from taximl.config import Settings
    from taximl.features import FEATURE_VERSION
    from taximl.thresholds import DEFAULT_TARGET_FPR, doc_to_json
    from training_flow import assess, git_commit
    from xgb_training import load_archive

    settings = Settings.from_env()
    trips = BASE / "input" / "trips"
    data = trainset.TrainingData(
        **{name: trainset.part_of(pd.read_parquet(trips / f"{name}.parquet"))
           for name in trainset.SPLIT_NAMES},
        rejected={},
    )
    model_tar = next((BASE / "input" / "model").glob("*.tar.gz"))
    booster = load_archive(model_tar.read_bytes())
    current = latest_approved(boto3.client("sagemaker"), settings.model_package_group)
    result = assess(booster, data, boto3.client("s3"), current,
                    float(os.environ.get("APPROVAL_MARGIN", "0.01")),
                    float(os.environ.get("TARGET_FPR", DEFAULT_TARGET_FPR)),
                    settings.fixed_threshold)
    out = BASE / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    report = {
        **result.report,
        "feature_version": FEATURE_VERSION,
        "git_commit": os.environ.get("GIT_COMMIT") or git_commit(),
        "thresholds": {"test_flagged_rate": result.test_flagged_rate,
                       "global": result.thresholds["global"]},
        "gate": {"approve": result.decision.approve, "reason": result.decision.reason},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "thresholds.json").write_text(doc_to_json(result.thresholds))
    print(f"gate: {result.decision.reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SageMaker Pipeline processing step")
    parser.add_argument("step", choices=("prepare", "evaluate"))
    args = parser.parse_args(argv)
    from cli_logging import configure_cli_logging

    configure_cli_logging(quiet=False)
    {"prepare": prepare, "evaluate": evaluate}[args.step]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
