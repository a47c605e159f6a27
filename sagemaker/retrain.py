"""Step 8 locally: the retraining pipeline, on demand or on a schedule.

On AWS, retraining is the SageMaker Pipeline in ``infra/pipeline`` started by an EventBridge
schedule. The local stack runs no pipelines, so this script runs the same stages with the same
code (training set CTAS -> training job -> evaluation -> gated registration, then optionally
deploy when the new version was approved):

    python sagemaker/retrain.py --once [--deploy]
    python sagemaker/retrain.py --every 1h --max-runs 24 [--deploy]

Against AWS it does the same as one pipeline execution (useful to test before scheduling).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import release
from aws_clients import make_clients
from cli_logging import configure_cli_logging
from taximl.config import Settings
from taximl.errors import TaxiMLError
from training_flow import TrainOptions, train_and_register

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"1h"``, ``"7d"`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"interval like 90s, 30m, 1h or 7d, not {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def retrain_once(settings: Settings, clients, options: TrainOptions, deploy: bool) -> bool:
    """One pipeline execution; returns True when it produced an approved (and deployed) model."""
    result = train_and_register(settings, clients, options)
    rmse = result.report["overall"]["model"]["rmse"]
    print(f"retrain: version {result.version} {result.decision.status} "
          f"(test RMSE {rmse:.4f}): {result.decision.reason}")
    print(f"         report {result.report_uri}")
    if deploy and result.decision.approve:
        rel = release.deploy(settings, clients, version=result.version)
        before = rel.previous.variant if rel.previous else "(none)"
        print(f"         endpoint {rel.serving.endpoint}: {before} -> {rel.serving.variant}")
    return result.decision.approve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Retrain the fare model (local pipeline run).")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--once", action="store_true", help="one run now")
    when.add_argument("--every", type=parse_interval, help="run every interval (90s, 30m, 1h)")
    parser.add_argument("--max-runs", type=int, default=24, help="stop after N runs (--every)")
    parser.add_argument("--deploy", action="store_true", help="deploy approved versions")
    parser.add_argument("--sample-fraction", type=float, default=1.0)
    parser.add_argument("--margin", type=float, default=0.01)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    configure_cli_logging(args.quiet)
    settings = Settings.from_env()
    clients = make_clients(settings.region)
    options = TrainOptions(sample_fraction=args.sample_fraction, margin=args.margin,
                           progress=not args.quiet)
    runs = 1 if args.once else max(1, args.max_runs)
    failures = 0
    for run in range(1, runs + 1):
        started = time.monotonic()
        try:
            retrain_once(settings, clients, options, args.deploy)
        except TaxiMLError as exc:
            failures += 1
            print(f"retrain run {run} failed: {exc}", file=sys.stderr)
        if run < runs:
            wait = max(0.0, args.every - (time.monotonic() - started))
            print(f"next run ({run + 1}/{runs}) in {wait:.0f} s (Ctrl-C stops)")
            try:
                time.sleep(wait)
            except KeyboardInterrupt:
                print("stopped")
                break
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
