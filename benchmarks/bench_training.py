"""Benchmark of the fare model: quality on real TLC data and training time on 3 M rows.

    python benchmarks/bench_training.py                 # both parts
    python benchmarks/bench_training.py --quality-only
    python benchmarks/bench_training.py --speed-only --rows 3000000

Quality: train on ../shared/data/tlc/yellow-2018-2020/ 2019-01..2019-11, test on 2019-12
(targets: MAE < $0.35 and RMSE < $1.60 overall, RMSE < $0.95 on standard-rate trips), with the
same code path as the training job (shared contract, CTAS filters, shared features, the
documented hyperparameters), next to the meter formula and the course template's model.
Speed: ``data/generate.py`` rows (Parquet, cached in the temp dir), then each stage timed.
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker"))

import numpy as np
import pandas as pd

import trainset
from evaluation import METER, MODEL, TEMPLATE, evaluate, format_table, template_baseline
from taximl.io import read_trips
from taximl.validation import validate_frame
from xgb_training import HYPERPARAMETERS, predict, train_booster

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
MONTHLY = "tlc/yellow-2018-2020/yellow_tripdata_sample_2019-{:02d}.csv"


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    valid = validate_frame(frame).valid
    return valid[trainset.plausible_mask(valid)].reset_index(drop=True)


def quality(nthread: int) -> None:
    if not (SHARED / "tlc").is_dir():
        print(f"quality: skipped, no real samples at {SHARED}/tlc")
        return
    train_trips = clean(pd.concat([read_trips(SHARED / MONTHLY.format(m)) for m in range(1, 12)],
                                  ignore_index=True))
    test_trips = clean(read_trips(SHARED / MONTHLY.format(12)))
    split = trainset.time_split(train_trips, (0.9, 0.05, 0.05))
    fit_idx = split["train"]
    stop_idx = split["validation"].append(split["test"])
    fit = trainset.part_of(train_trips.loc[fit_idx])
    stop = trainset.part_of(train_trips.loc[stop_idx])
    test = trainset.part_of(test_trips)
    t0 = time.perf_counter()
    booster = train_booster((fit.features, fit.label), (stop.features, stop.label),
                            HYPERPARAMETERS, nthread)
    seconds = time.perf_counter() - t0
    full = trainset.part_of(train_trips)
    predictions = {
        MODEL: predict(booster, test.features),
        METER: test.features["meter_fare"].to_numpy(),
        TEMPLATE: template_baseline(full, test, nthread),
    }
    report = evaluate(test, predictions)
    print(f"\nquality: train 2019-01..11 ({len(fit)} fit + {len(stop)} early-stopping rows), "
          f"test 2019-12 ({len(test)} rows); {booster.num_boosted_rounds()} rounds in "
          f"{seconds:.1f} s")
    print(format_table(report))
    overall = report["overall"][MODEL]
    standard = report["segments"]["rate_code"]["1"][MODEL]
    print(f"\nRESULT overall  RMSE {overall['rmse']:.3f} (target < 1.60)  "
          f"MAE {overall['mae']:.3f} (target < 0.35)")
    print(f"RESULT standard RMSE {standard['rmse']:.3f} (target < 0.95)  "
          f"MAE {standard['mae']:.3f}")


def generated(rows: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"taxi-bench-{rows}.parquet"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "data" / "generate.py"), "--rows", str(rows),
                        "--out", str(path), "--quiet"], check=True)
        print(f"generated {rows} rows in {time.perf_counter() - t0:.1f} s -> {path}")
    return path


def speed(rows: int, nthread: int) -> None:
    path = generated(rows)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    frame = read_trips(path)
    times["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    valid = clean(frame)
    times["validate+filter"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data = trainset.prepare(valid)
    times["features+split"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    csv_bytes = len(trainset.channel_csv(data.train))
    times["train.csv"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    booster = train_booster((data.train.features, data.train.label),
                            (data.validation.features, data.validation.label),
                            HYPERPARAMETERS, nthread)
    times["training"] = time.perf_counter() - t0
    pred = predict(booster, data.test.features)
    rmse = float(np.sqrt(np.mean((data.test.label - pred) ** 2)))
    print(f"\nspeed: {rows} generated rows -> {len(valid)} clean, train {len(data.train)} rows "
          f"({csv_bytes / 1e6:.0f} MB CSV), {booster.num_boosted_rounds()} rounds, "
          f"{nthread} threads; test RMSE {rmse:.3f}")
    for name, seconds in times.items():
        print(f"  {name:<16}{seconds:8.1f} s")
    print(f"RESULT training time {times['training']:.1f} s (target < 120 s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--quality-only", action="store_true")
    part.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    if not args.speed_only:
        quality(args.threads)
    if not args.quality_only:
        speed(args.rows, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
