"""Run one built-in-XGBoost training job: read channels from S3, train, upload model.tar.gz.

Runs as a child process of the moto server (``python -m local.sagemaker.training SPEC``) so a
long or crashing training never blocks moto's request threads. Progress goes to stdout as JSON
lines (``{"event": "status", ...}``, then one ``{"event": "result", ...}``); the control plane
turns them into ``SecondaryStatusTransitions`` and the final job state.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from local.sagemaker.errors import ChannelError, HyperparameterError
from local.sagemaker.hyperparameters import TrainingParams, validate
from local.sagemaker.spec import TrainingSpec, channel_config, split_s3_uri

logger = logging.getLogger(__name__)

MODEL_FILE = "xgboost-model"
CSV_TYPES = frozenset({"text/csv", "csv"})
LIBSVM_TYPES = frozenset({"text/libsvm", "libsvm", "text/x-libsvm"})
StatusCallback = Callable[[str, str], None]


@dataclass
class TrainingResult:
    """Outcome of a finished training run."""

    metrics: dict[str, float] = field(default_factory=dict)
    artifact_uri: str = ""
    best_iteration: int | None = None


def read_channel_objects(s3: Any, channel: Mapping[str, Any]) -> list[bytes]:
    """Bodies of every object of a channel (S3Prefix: all keys under the prefix, sorted)."""
    source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
    data_type = source.get("S3DataType", "S3Prefix")
    name = channel.get("ChannelName")
    if data_type != "S3Prefix":
        raise ChannelError(f"Channel {name}: S3DataType {data_type} is not supported locally")
    bucket, prefix = split_s3_uri(source.get("S3Uri", ""))
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    if not keys:
        raise ChannelError(f'No S3 objects found under S3 URL "s3://{bucket}/{prefix}"')
    return [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)]


def _csv_matrix(bodies: list[bytes], channel: str) -> xgb.DMatrix:
    frames = []
    for body in bodies:
        if not body.strip():
            continue
        try:
            frame = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float32)
        except (ValueError, pd.errors.ParserError) as exc:
            raise ChannelError(
                f"Channel {channel}: could not parse CSV (label first, no header): {exc}"
            ) from None
        frames.append(frame)
    if not frames:
        raise ChannelError(f"Channel {channel}: the objects are empty")
    data = pd.concat(frames, ignore_index=True)
    if data.shape[1] < 2:
        raise ChannelError(f"Channel {channel}: CSV needs the label plus at least one feature")
    if data[0].isna().any():
        raise ChannelError(f"Channel {channel}: the label (first column) has missing values")
    values = data.to_numpy(dtype=np.float32)
    return xgb.DMatrix(values[:, 1:], label=values[:, 0], missing=np.nan)


def _libsvm_matrix(bodies: list[bytes], channel: str) -> xgb.DMatrix:
    from local.sagemaker.serving import parse_libsvm

    labels: list[float] = []
    parts = []
    for body in bodies:
        if not body.strip():
            continue
        matrix, rows_labels = parse_libsvm(body, with_labels=True)
        parts.append(matrix)
        labels.extend(rows_labels)
    if not parts:
        raise ChannelError(f"Channel {channel}: the objects are empty")
    width = max(p.shape[1] for p in parts)
    padded = [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=np.nan) for p in parts]
    return xgb.DMatrix(np.vstack(padded), label=np.asarray(labels), missing=np.nan)


def load_channel(s3: Any, channel: Mapping[str, Any]) -> xgb.DMatrix:
    """Read a channel into a DMatrix according to its ContentType (default libsvm, like AWS)."""
    name = str(channel.get("ChannelName"))
    content_type = (channel.get("ContentType") or "libsvm").split(";")[0].strip().lower()
    bodies = read_channel_objects(s3, channel)
    if content_type in CSV_TYPES:
        return _csv_matrix(bodies, name)
    if content_type in LIBSVM_TYPES:
        try:
            return _libsvm_matrix(bodies, name)
        except ValueError as exc:
            raise ChannelError(f"Channel {name}: could not parse libsvm data: {exc}") from None
    raise ChannelError(
        f"Channel {name}: content type {content_type} is not supported "
        "(use text/csv or text/libsvm)"
    )


def _final_metrics(evals_result: Mapping[str, Any], index: int) -> dict[str, float]:
    metrics = {}
    for data_name, per_metric in evals_result.items():
        for metric, history in per_metric.items():
            if history:
                metrics[f"{data_name}:{metric}"] = float(history[min(index, len(history) - 1)])
    return metrics


def pack_model(booster: xgb.Booster) -> bytes:
    """``model.tar.gz`` bytes holding the booster as ``xgboost-model``."""
    raw = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(MODEL_FILE)
        info.size = len(raw)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def train(spec: TrainingSpec, s3: Any, on_status: StatusCallback | None = None) -> TrainingResult:
    """Run the job: validate, download channels, train, upload the artifact."""
    notify = on_status or (lambda status, message: None)
    has_validation = channel_config(spec.channels, "validation") is not None
    params: TrainingParams = validate(spec.hyperparameters, has_validation=has_validation)

    notify("Downloading", "Downloading input data")
    train_channel = channel_config(spec.channels, "train")
    if train_channel is None:
        raise ChannelError("Channel 'train' is required by the built-in XGBoost algorithm")
    dtrain = load_channel(s3, train_channel)
    evals = [(dtrain, "train")]
    validation_channel = channel_config(spec.channels, "validation")
    if validation_channel is not None:
        dvalid = load_channel(s3, validation_channel)
        if dvalid.num_col() != dtrain.num_col():
            raise ChannelError(
                f"Feature count mismatch: train has {dtrain.num_col()} features, "
                f"validation has {dvalid.num_col()}"
            )
        evals.append((dvalid, "validation"))

    notify("Training", "Training image download completed. Training in progress.")
    evals_result: dict[str, Any] = {}
    booster = xgb.train(
        params.params,
        dtrain,
        num_boost_round=params.num_round,
        evals=evals,
        evals_result=evals_result,
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    best = None
    last_index = booster.num_boosted_rounds() - 1
    if params.early_stopping_rounds is not None:
        best = int(booster.best_iteration)
        booster = booster[: best + 1]
        last_index = best

    notify("Uploading", "Uploading generated training model")
    bucket, key = split_s3_uri(spec.artifact_uri)
    s3.put_object(Bucket=bucket, Key=key, Body=pack_model(booster))
    return TrainingResult(
        metrics=_final_metrics(evals_result, last_index),
        artifact_uri=spec.artifact_uri,
        best_iteration=best,
    )


def failure_reason(exc: BaseException) -> str:
    """FailureReason text: ClientError for the caller's mistakes, AlgorithmError otherwise."""
    if isinstance(exc, HyperparameterError | ChannelError):
        return f"ClientError: {exc}"
    return f"AlgorithmError: {type(exc).__name__}: {exc}"


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Child-process entry point: run the job described by a JSON spec file."""
    parser = argparse.ArgumentParser(description="Run one local XGBoost training job.")
    parser.add_argument("spec", help="JSON file with the TrainingSpec fields")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with open(args.spec, encoding="utf-8") as handle:
        spec = TrainingSpec(**json.load(handle))

    import boto3

    s3 = boto3.client("s3", endpoint_url=spec.endpoint_url)
    try:
        result = train(spec, s3, lambda s, m: _emit({"event": "status", "status": s, "message": m}))
    except Exception as exc:
        logger.exception("training job %s failed", spec.name)
        _emit({"event": "result", "ok": False, "reason": failure_reason(exc)})
        return 1
    _emit(
        {
            "event": "result",
            "ok": True,
            "metrics": result.metrics,
            "artifact_uri": result.artifact_uri,
            "best_iteration": result.best_iteration,
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
