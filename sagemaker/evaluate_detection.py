"""How well does the deployed model flag wrong fares? A real month, held out in time.

    python sagemaker/evaluate_detection.py
    python sagemaker/evaluate_detection.py --month data/cache/yellow_tripdata_2024-02.parquet

1. reads a real TLC month (default: the bundled sample's held-out month,
   ``data/real_sample/holdout/``) and checks that it starts after the deployed model's training
   data (from the model version's evaluation report; ``--allow-overlap`` to skip the check);
2. mixes in labelled fare anomalies of the kinds a fare audit looks for (``fare_anomalies.py``:
   padded fares, made-up surcharges, flat-rate abuse, undercharging; 3 % of the trips);
3. validates the trips with the streaming contract, asks the deployed endpoint for the
   expected fares (``InvokeEndpoint``, CSV chunks, as the Lambda does) and decides each trip
   with the same :func:`taximl.thresholds.decide` and the same threshold document (DynamoDB
   ``thresholds/<variant>`` of the variant that answered) as the Lambda;
4. prints recall per kind, the flagged rate on the untouched trips (their natural anomalies
   included) and precision, next to the targets, and writes ``report.json`` with two PNG plots
   (predicted vs actual; residuals with the thresholds per segment) to ``--out``.

Exit codes: 0 done (whatever the figures), 1 a step failed, 2 bad input or not held out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from botocore.exceptions import BotoCoreError, ClientError

import deployment
import detection
import evaluation
import fare_anomalies
import registry
import threshold_params
from aws_clients import make_clients
from batch_s3 import get_bytes
from cli_logging import configure_cli_logging
from taximl.config import Settings
from taximl.errors import InvalidInputError, PlatformError, TaxiMLError
from taximl.features import features_frame, features_to_csv
from taximl.io import read_raw
from taximl.thresholds import fixed_doc
from taximl.validation import validate_frame

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MONTH = REPO / "data" / "real_sample" / "holdout" / "yellow_tripdata_2019-12.parquet"
DEFAULT_OUT = REPO / "build" / "detection"
CHUNK_ROWS = 1_000


@dataclass
class Scored:
    """The month after the contract: features, labels, predictions and the variant."""

    trips: Any
    features: Any
    labels: list[str]
    predicted: Any
    variant: str


def labelled_month(path: Path, rate: float, seed: int, limit: int | None
                   ) -> tuple[fare_anomalies.Injection, Any, list[str]]:
    """The month with anomalies; its contract-valid trips and their labels (aligned)."""
    raw = read_raw(path)
    if limit is not None:
        raw = raw.iloc[:limit]
    injection = fare_anomalies.inject(raw, rate=rate, seed=seed)
    check = validate_frame(injection.trips)
    labels = [str(x) for x in
              injection.trips[fare_anomalies.LABEL_COLUMN].to_numpy()[check.valid_rows]]
    return injection, check.valid, labels


def training_end(clients: Any, settings: Settings, variant: str) -> str | None:
    """The last pickup time the serving model version learnt from or was tested on."""
    version = deployment.version_of_variant(variant)
    if version is None:
        return None
    try:
        package = registry.by_version(clients.sagemaker, settings.model_package_group, version)
        uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        report = json.loads(get_bytes(clients.s3, uri))
    except (TaxiMLError, KeyError, ValueError, ClientError, BotoCoreError):
        return None
    ends = [span[1] for span in report.get("split_time_ranges", {}).values() if span]
    return max(ends) if ends else None


def predict_endpoint(runtime: Any, endpoint: str, features: Any) -> tuple[Any, str]:
    """Expected fares from the endpoint, ``CHUNK_ROWS`` rows per InvokeEndpoint."""
    import numpy as np

    rows = features.to_dict("records")
    out: list[float] = []
    variants: set[str] = set()
    for start in range(0, len(rows), CHUNK_ROWS):
        body = features_to_csv(rows[start:start + CHUNK_ROWS])
        try:
            reply = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                            Accept="text/csv", Body=body.encode())
        except (ClientError, BotoCoreError) as exc:
            raise PlatformError(f"InvokeEndpoint {endpoint} failed: {exc}") from exc
        variants.add(reply.get("InvokedProductionVariant", ""))
        text = reply["Body"].read().decode().strip()
        out += [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]
    if len(out) != len(rows):
        raise PlatformError(f"the endpoint returned {len(out)} predictions for {len(rows)} rows")
    if len(variants) != 1:
        raise PlatformError(f"the endpoint answered with several variants {sorted(variants)}: "
                            "evaluate when one version serves all traffic")
    return np.asarray(out, dtype="float64"), variants.pop()


def threshold_doc(clients: Any, settings: Settings, variant: str) -> tuple[dict[str, Any], str]:
    """The variant's threshold document as the Lambda reads it (fixed rule when absent)."""
    try:
        doc = threshold_params.get_doc(clients.dynamodb, settings.params_table, variant)
    except (ClientError, BotoCoreError, ValueError):
        doc = None
    if doc is None:
        return fixed_doc(settings.fixed_threshold, variant), "fixed (no document stored)"
    return doc, f"DynamoDB {settings.params_table} thresholds/{variant} (mode {doc['mode']})"


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    clients = make_clients(settings.region)
    started = time.monotonic()
    injection, valid, labels = labelled_month(args.month, args.anomaly_rate, args.seed,
                                              args.limit)
    features = features_frame(valid)
    predicted, variant = predict_endpoint(clients.sagemaker_runtime, settings.endpoint_name,
                                          features)
    first_pickup = str(valid["pickup_datetime"].min())
    end = training_end(clients, settings, variant)
    if end is None:
        print(f"warning: could not read the training period of {variant}: cannot check that "
              f"{args.month.name} is held out in time")
    elif first_pickup <= end and not args.allow_overlap:
        raise InvalidInputError(
            f"{args.month.name} starts at {first_pickup}, before the end of {variant}'s "
            f"training data ({end}): not held out in time (--allow-overlap to evaluate anyway)")
    doc, doc_source = threshold_doc(clients, settings, variant)
    decided = evaluation.decisions_frame(features, valid["fare_amount"].to_numpy(dtype="float64"),
                                         predicted, doc)
    metrics = detection.detection_metrics(decided, labels)
    out: Path = args.out
    plots = detection.write_plots(decided, labels, doc, out,
                                  title=f"{args.month.name}: predicted vs actual ({variant})")
    report = {
        "month": str(args.month),
        "first_pickup": first_pickup,
        "model_variant": variant,
        "training_data_end": end,
        "endpoint": settings.endpoint_name,
        "thresholds": doc_source,
        "threshold_document": doc,
        "anomalies": {"rate": args.anomaly_rate, "seed": args.seed, **injection.summary()},
        "contract_rejected": len(injection.trips) - len(valid),
        "detection": metrics,
        "flag_rate_by_segment": evaluation.flag_rates(decided, doc.get("target_fpr")),
        "plots": [p.name for p in plots],
        "seconds": round(time.monotonic() - started, 1),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"month        : {args.month} ({len(injection.trips):,} rows, {len(valid):,} pass the "
          f"contract; first pickup {first_pickup})")
    print(f"model        : {variant} on {settings.endpoint_name} (training data until {end})")
    print(f"thresholds   : {doc_source}")
    print(f"anomalies    : {sum(injection.injected.values())} labelled "
          f"({args.anomaly_rate:.0%} of valid trips, seed {args.seed}); "
          f"immaterial draws left untouched: {injection.immaterial_draws}")
    print()
    print(detection.format_detection(metrics))
    print()
    print(f"report       : {out / 'report.json'}")
    print(f"plots        : {', '.join(str(p) for p in plots)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--month", type=Path, default=DEFAULT_MONTH,
                        help="a real TLC month (Parquet or CSV) the model was not trained on")
    parser.add_argument("--anomaly-rate", type=float, default=fare_anomalies.DEFAULT_RATE,
                        help="share of the valid trips given a labelled anomaly (0.03)")
    parser.add_argument("--seed", type=int, default=fare_anomalies.DEFAULT_SEED)
    parser.add_argument("--limit", type=int, help="only the first N rows of the month")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report and plots folder")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="evaluate even if the month is not after the training data")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    configure_cli_logging(args.quiet)
    try:
        return run(args)
    except InvalidInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (TaxiMLError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
