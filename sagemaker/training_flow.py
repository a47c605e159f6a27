"""The training run end to end: training set -> training job -> evaluation -> registry.

Used by ``train_register_deploy.py train`` and by ``retrain.py`` (the local stand-in of the
SageMaker Pipeline in ``infra/pipeline``): the same code runs against AWS and the local stack,
only the endpoint environment differs.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import evaluation
import registry
import threshold_params
import trainset
from batch_s3 import get_bytes, put_bytes, read_parquet_prefix, s3_uri
from taximl.config import Settings
from taximl.features import FEATURE_COLUMNS, FEATURE_VERSION
from taximl.thresholds import (
    DEFAULT_MATERIALITY_ABS,
    DEFAULT_MATERIALITY_REL,
    DEFAULT_TARGET_FPR,
    calibrate,
    doc_to_json,
    param_id,
)
from training_job import model_artifact, run_training_job, training_job_request
from xgb_training import HYPERPARAMETERS, load_archive, predict
from xgboost_image import DEFAULT_VERSION, image_uri

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TrainOptions:
    """Knobs of one training run (defaults are the documented ones)."""

    from_month: str = "000001"
    to_month: str = "999912"
    sample_fraction: float = 1.0
    trips_uri: str | None = None  # reuse an existing CTAS folder instead of running the CTAS
    role_arn: str | None = None
    instance_type: str = "ml.m5.xlarge"
    image_version: str = DEFAULT_VERSION
    hyperparameters: Mapping[str, str] = field(default_factory=lambda: dict(HYPERPARAMETERS))
    margin: float = registry.DEFAULT_MARGIN
    target_fpr: float = DEFAULT_TARGET_FPR
    materiality_abs: float = DEFAULT_MATERIALITY_ABS
    materiality_rel: float = DEFAULT_MATERIALITY_REL
    progress: bool = True


@dataclass(frozen=True)
class TrainResult:
    """What a run produced and where it is."""

    job_name: str
    trips_uri: str
    model_uri: str
    report_uri: str
    thresholds_uri: str
    report: dict[str, Any]
    decision: registry.GateDecision
    package_arn: str
    version: int
    threshold_param: str
    seconds: dict[str, float]


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
            text=True, timeout=10, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def job_name_for(settings: Settings, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    tail = f"-fare-{stamp}"
    return f"{settings.project_prefix[: 63 - len(tail)].rstrip('-')}{tail}"


def train_and_register(
    settings: Settings, clients: Any, options: TrainOptions = TrainOptions()
) -> TrainResult:
    """Run one training run; ``clients`` has ``s3, athena, sagemaker, iam, dynamodb``."""
    from execution_role import ensure_role

    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        seconds[name] = round(now - clock, 2)
        clock = now

    job_name = job_name_for(settings)
    run_uri = s3_uri(settings.processed_bucket, f"training/{job_name}")
    role_arn = ensure_role(clients.iam, settings, options.role_arn)

    # 1. training set (Athena CTAS)
    trips_uri = options.trips_uri or f"{run_uri}/trips/"
    if options.trips_uri is None:
        logger.info("[1/7] CTAS %s.%s -> %s", settings.glue_database,
                    settings.training_table, trips_uri)
        trainset.run_ctas(clients.athena, settings, trips_uri, from_month=options.from_month,
                          to_month=options.to_month, sample_fraction=options.sample_fraction)
    else:
        logger.info("[1/7] reusing the training set %s", trips_uri)
    lap("ctas")

    # 2. validate, features, time split, CSV channels
    data = trainset.prepare(read_parquet_prefix(clients.s3, trips_uri))
    sizes = {name: len(part) for name, part in data.parts().items()}
    logger.info("[2/7] splits by pickup time: %s (rejected by the contract: %s)", sizes,
                data.rejected or "none")
    channels = trainset.write_channels(clients.s3, f"{run_uri}/channels", data)
    lap("prepare")

    # 3. training job (built-in XGBoost)
    image = image_uri(settings.region, options.image_version)
    output_path = s3_uri(settings.models_bucket, "training-jobs/")
    request = training_job_request(
        job_name=job_name, image_uri=image, role_arn=role_arn, channels=channels,
        output_path=output_path, hyperparameters=options.hyperparameters,
        instance_type=options.instance_type,
        tags={"project": settings.project_prefix, "feature_version": FEATURE_VERSION},
    )
    logger.info("[3/7] training job %s (%s)", job_name, image)
    job = run_training_job(clients.sagemaker, request, progress=options.progress)
    model_uri = model_artifact(job)
    lap("training_job")

    # 4-6. evaluation next to the baselines, thresholds, approval gate
    logger.info("[4/7] evaluating %s on the test split, next to the baselines", job_name)
    booster = load_archive(get_bytes(clients.s3, model_uri))
    current = registry.latest_approved(clients.sagemaker, settings.model_package_group)
    result = assess(booster, data, clients.s3, current, options.margin, options.target_fpr,
                    settings.fixed_threshold, materiality_abs=options.materiality_abs,
                    materiality_rel=options.materiality_rel)
    report, doc, decision, test_fpr = (result.report, result.thresholds, result.decision,
                                       result.test_flagged_rate)
    low, high = report["flag_rate"]["overall"]["ci95"]
    logger.info("[5/7] thresholds calibrated on %d unseen trips for a %.2f%% flagged-rate target "
                "(test: %.2f%%, 95%% CI %.2f-%.2f%%)", len(data.calibration),
                100 * options.target_fpr, 100 * test_fpr, 100 * low, 100 * high)
    logger.info("%s", evaluation.format_flag_rates(report["flag_rate"]))
    logger.info("[6/7] approval gate: %s", decision.reason)
    lap("evaluation")

    base = f"{output_path}{job_name}/evaluation/"
    report_doc = {
        "job_name": job_name,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model_uri": model_uri,
        "image_uri": image,
        "training_data": trips_uri,
        "channels": channels,
        "feature_version": FEATURE_VERSION,
        "feature_columns": list(FEATURE_COLUMNS),
        "git_commit": git_commit(),
        "hyperparameters": dict(options.hyperparameters),
        "split_sizes": sizes,
        "split_time_ranges": {
            name: [str(part.trips["pickup_datetime"].min()),
                   str(part.trips["pickup_datetime"].max())]
            for name, part in data.parts().items()
        },
        "rejected_by_contract": data.rejected,
        "thresholds": {"target_fpr": options.target_fpr, "test_flagged_rate": round(test_fpr, 5),
                       "materiality": doc["materiality"], "segments": len(doc["segments"]),
                       "global": doc["global"]},
        "gate": {"approve": decision.approve, "reason": decision.reason},
        **report,
    }
    report_uri = put_bytes(clients.s3, f"{base}report.json",
                           json.dumps(report_doc, indent=2).encode(), "application/json")
    lap("report")

    # 7. register the version, store its thresholds
    overall = report["overall"][evaluation.MODEL]
    package = registry.register_version(
        clients.sagemaker,
        group=settings.model_package_group,
        image_uri=image,
        model_data_url=model_uri,
        report_uri=report_uri,
        metadata={
            "training_data": trips_uri,
            "training_job": job_name,
            "feature_version": FEATURE_VERSION,
            "git_commit": report_doc["git_commit"],
            "test_rmse": f"{overall['rmse']:.4f}",
            "test_mae": f"{overall['mae']:.4f}",
        },
        decision=decision,
        description=f"XGBoost fare model from {job_name}",
    )
    version = int(package["ModelPackageVersion"])
    doc["model_version"] = f"mv-{version}"
    thresholds_uri = put_bytes(clients.s3, f"{base}thresholds.json", doc_to_json(doc).encode(),
                               "application/json")
    threshold_params.ensure_table(clients.dynamodb, settings.params_table)
    threshold_params.put_doc(clients.dynamodb, settings.params_table, version, doc,
                             package["ModelPackageArn"])
    logger.info("[7/7] registered version %d (%s)", version, package["ModelApprovalStatus"])
    lap("register")
    return TrainResult(
        job_name=job_name, trips_uri=trips_uri, model_uri=model_uri, report_uri=report_uri,
        thresholds_uri=thresholds_uri, report=report_doc, decision=decision,
        package_arn=package["ModelPackageArn"], version=version,
        threshold_param=param_id(version), seconds=seconds,
    )


@dataclass(frozen=True)
class Assessment:
    """Evaluation report, calibrated thresholds and the approval decision of a model."""

    report: dict[str, Any]
    thresholds: dict[str, Any]
    decision: registry.GateDecision
    test_flagged_rate: float


def assess(
    booster: Any,
    data: trainset.TrainingData,
    s3: Any,
    current: Mapping[str, Any] | None,
    margin: float,
    target_fpr: float,
    fixed_threshold: float,
    *,
    materiality_abs: float = DEFAULT_MATERIALITY_ABS,
    materiality_rel: float = DEFAULT_MATERIALITY_REL,
) -> Assessment:
    """Test-split report next to both baselines, thresholds from the calibration split, gate.

    The thresholds come from residuals the model never saw (the calibration split, after the
    training and early-stopping trips in time); the report adds the flagged rate they achieve
    on the test split (after the calibration split), overall and per segment, with 95 %
    confidence intervals; the gate combines the RMSE comparison with that rate.
    """
    predictions = {
        evaluation.MODEL: predict(booster, data.test.features),
        evaluation.METER: data.test.features["meter_fare"].to_numpy(),
        evaluation.TEMPLATE: evaluation.template_baseline(data.train, data.test),
    }
    report = evaluation.evaluate(data.test, predictions)
    calibration_pred = predict(booster, data.calibration.features)
    doc = calibrate(data.calibration.label, calibration_pred,
                    data.calibration.features.to_dict("records"), target_fpr=target_fpr,
                    fixed_threshold=fixed_threshold, materiality_abs=materiality_abs,
                    materiality_rel=materiality_rel)
    decided = evaluation.decisions_frame(data.test.features, data.test.label,
                                         predictions[evaluation.MODEL], doc)
    rates = evaluation.flag_rates(decided, target_fpr)
    report["flag_rate"] = rates
    decision = gate_on_flag_rate(_gate(s3, current, data.test, report, margin), rates)
    return Assessment(report, doc, decision, float(rates["overall"]["rate"] or 0.0))


def gate_on_flag_rate(decision: registry.GateDecision, rates: Mapping[str, Any]
                      ) -> registry.GateDecision:
    """Leave the version pending when its thresholds flag more than 1.5 x the target on test.

    Combined with the RMSE gate's decision (:func:`registry.gate`): both must pass.
    """
    achieved, target = rates["overall"]["rate"], rates.get("target")
    if achieved is None or not target:
        return decision
    limit = evaluation.FLAG_RATE_TOLERANCE * float(target)
    if achieved <= limit:
        return decision
    low, high = rates["overall"]["ci95"]
    reason = (f"its thresholds flag {achieved:.2%} of the test trips (95% CI {low:.2%}-"
              f"{high:.2%}), more than {evaluation.FLAG_RATE_TOLERANCE:g} x the {target:.2%} "
              "target: review the report before approving")
    if decision.approve:
        return registry.GateDecision(False, f"{reason} (RMSE gate: {decision.reason})")
    return registry.GateDecision(False, f"{decision.reason}; also {reason}")


def _gate(
    s3: Any,
    current: Mapping[str, Any] | None,
    test: trainset.Part,
    report: Mapping[str, Any],
    margin: float,
) -> registry.GateDecision:
    import numpy as np

    overall = report["overall"]
    new_rmse = overall[evaluation.MODEL]["rmse"]
    meter_rmse = overall[evaluation.METER]["rmse"]
    if current is None:
        return registry.gate(new_rmse, current_rmse=None, current_version=None,
                             meter_rmse=meter_rmse, margin=margin)
    version = int(current["ModelPackageVersion"])
    meta = current.get("CustomerMetadataProperties", {})
    if meta.get("feature_version", FEATURE_VERSION) != FEATURE_VERSION:
        return registry.GateDecision(
            False,
            f"approved version {version} uses feature version {meta.get('feature_version')} "
            f"(this run: {FEATURE_VERSION}): compare the reports and approve by hand",
        )
    try:
        booster = load_archive(get_bytes(s3, registry.model_data_url(current)))
        pred = predict(booster, test.features)
    except Exception as exc:  # an unreadable artifact must not block registration
        return registry.GateDecision(
            False, f"could not score approved version {version} on the test rows ({exc})"
        )
    current_rmse = float(np.sqrt(np.mean((test.label - pred) ** 2)))
    return registry.gate(new_rmse, current_rmse=current_rmse, current_version=version,
                         meter_rmse=meter_rmse, margin=margin)
