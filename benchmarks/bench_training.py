"""Benchmark of the fare model: quality on real TLC data and training time on 3 M rows.

    python benchmarks/bench_training.py                 # both parts
    python benchmarks/bench_training.py --quality-only [--rolling]
    python benchmarks/bench_training.py --speed-only --rows 3000000

Quality: train on ../shared/data/tlc/yellow-2018-2020/ 2019-01..2019-11, test on 2019-12
(targets: MAE < $0.35 and RMSE < $1.60 overall, RMSE < $0.95 on standard-rate trips), with the
same code path as the training job (shared contract, CTAS filters, shared features, the
documented hyperparameters, the time split into fit / early-stopping / calibration trips),
next to the meter formula and the course template's model, on two sets of 2019-12 rows:

- *in domain*: the trips the training set keeps, as defined before the calibration split
  existed (the CTAS filters with the course's ``passenger_count > 0``): 9,570 trips;
- *rate codes 1-4*: the trips with a fare rule (9,811), broken meter readings included;
- *all valid*: every trip the streaming contract accepts (9,931), negotiated fares (rate code 5)
  and fares without a rate code included, which no fare model can predict (the outlier flag does
  not judge them).

The model of the previous recipe (no calibration split: 90 % fit, 10 % early stopping, the
passenger filter) is trained and measured on the same rows, so "no worse than before" is a
printed comparison, not a quoted figure. Speed: ``data/generate.py`` rows (Parquet, cached in
the temp dir), then each stage timed. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd

import trainset
from evaluation import (
    METER,
    MODEL,
    TEMPLATE,
    evaluate,
    format_table,
    regression_metrics,
    template_baseline,
)
from results import result
from taximl.io import read_trips
from taximl.validation import validate_frame
from xgb_training import HYPERPARAMETERS, predict, train_booster

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))
MONTHLY = "tlc/yellow-2018-2020/yellow_tripdata_sample_2019-{:02d}.csv"
HISTORY_MONTHS = range(1, 12)
TEST_MONTH = 12
#: fit, early stopping, calibration (in time order); the test is the next month.
REAL_FRACTIONS = (0.85, 0.05, 0.10, 0.0)


@dataclass(frozen=True)
class RealModel:
    """The fare model trained on 2019-01..11 the way the training step trains it."""

    booster: object
    parts: dict[str, trainset.Part]
    rounds: int
    seconds: float


def has_real_data() -> bool:
    if (SHARED / "tlc").is_dir():
        return True
    print(f"skipped: no real samples at {SHARED}/tlc (set SHARED_DATA_DIR)")
    return False


def valid_month(month: int) -> pd.DataFrame:
    """One 2019 month of the shared samples, as the contract accepts it."""
    return validate_frame(read_trips(SHARED / MONTHLY.format(month))).valid


def history(passenger_filter: bool = False, months: range = HISTORY_MONTHS) -> pd.DataFrame:
    """2019-01..11, contract-valid and inside the training set's filters (the CTAS twin)."""
    valid = pd.concat([valid_month(m) for m in months], ignore_index=True)
    keep = trainset.plausible_mask(valid)
    if passenger_filter:
        keep &= (valid["passenger_count"] > 0).fillna(False)
    return valid[keep].reset_index(drop=True)


def train_real(nthread: int, months: range = HISTORY_MONTHS) -> RealModel:
    """Fit on the oldest trips, early-stop on the next ones; calibration trips are last."""
    trips = history(months=months)
    split = trainset.time_split(trips, REAL_FRACTIONS)
    parts = {name: trainset.part_of(trips.loc[index]) for name, index in split.items()
             if len(index)}
    t0 = time.perf_counter()
    booster = train_booster((parts["train"].features, parts["train"].label),
                            (parts["validation"].features, parts["validation"].label),
                            HYPERPARAMETERS, nthread)
    return RealModel(booster, parts, booster.num_boosted_rounds(), time.perf_counter() - t0)


def previous_recipe(nthread: int, months: range = HISTORY_MONTHS):
    """The model as trained before the calibration split: 90 % fit, 10 % early stopping."""
    trips = history(passenger_filter=True, months=months)
    order = trips["pickup_datetime"].sort_values(kind="mergesort").index
    cut = round(len(order) * 0.9)
    fit = trainset.part_of(trips.loc[order[:cut]])
    stop = trainset.part_of(trips.loc[order[cut:]])
    return train_booster((fit.features, fit.label), (stop.features, stop.label),
                         HYPERPARAMETERS, nthread)


def test_rows(month: int = TEST_MONTH) -> dict[str, trainset.Part]:
    """2019-12 as the row sets of the module docstring."""
    valid = valid_month(month)
    in_domain = trainset.plausible_mask(valid) & (valid["passenger_count"] > 0).fillna(False)
    ruled = valid["rate_code_id"].isin(list(trainset.DEFAULT_SCORED_RATE_CODES)).fillna(False)
    return {"in domain": trainset.part_of(valid[in_domain].reset_index(drop=True)),
            "rate 1-4": trainset.part_of(valid[ruled].reset_index(drop=True)),
            "all valid": trainset.part_of(valid)}


def quality(nthread: int) -> None:
    if not has_real_data():
        return
    model = train_real(nthread)
    previous = previous_recipe(nthread)
    parts = model.parts
    print(f"\nquality: train 2019-01..11 ({len(parts['train'])} fit + "
          f"{len(parts['validation'])} early-stopping + {len(parts['calibration'])} calibration "
          f"trips), test 2019-12; {model.rounds} rounds in {model.seconds:.1f} s")
    results = {}
    for name, test in test_rows().items():
        predictions = {
            MODEL: predict(model.booster, test.features),
            METER: test.features["meter_fare"].to_numpy(),
            TEMPLATE: template_baseline(parts["train"], test, nthread),
        }
        report = evaluate(test, predictions)
        results[name] = (len(test), report, regression_metrics(
            test.label, predict(previous, test.features)))
        if name == "in domain":
            print(format_table(report))
    print()
    for name, (rows, report, before) in results.items():
        overall = report["overall"]
        print(f"{name:<10} ({rows:>5} trips) model RMSE {overall[MODEL]['rmse']:.3f} "
              f"MAE {overall[MODEL]['mae']:.3f} | previous recipe {before['rmse']:.3f} / "
              f"{before['mae']:.3f} | meter formula {overall[METER]['rmse']:.3f} / "
              f"{overall[METER]['mae']:.3f} | course template {overall[TEMPLATE]['rmse']:.3f} / "
              f"{overall[TEMPLATE]['mae']:.3f}")
        slug = name.replace(" ", "_").replace("-", "_")
        for label, metrics in (("model", overall[MODEL]), ("previous", before),
                               ("meter", overall[METER]), ("template", overall[TEMPLATE])):
            result(f"{slug}_{label}_rmse_usd", metrics["rmse"])
            result(f"{slug}_{label}_mae_usd", metrics["mae"])
        result(f"{slug}_trips_count", rows)
    standard = results["in domain"][1]["segments"]["rate_code"]["1"][MODEL]
    print(f"in domain standard-rate RMSE {standard['rmse']:.3f} (target < 0.95) "
          f"MAE {standard['mae']:.3f}")
    result("in_domain_standard_rate_model_rmse_usd", standard["rmse"])


def rolling(nthread: int, first: int = 6) -> None:
    """Each month from ``first`` to 12 tested after training on the months before it."""
    if not has_real_data():
        return
    print("\nrolling origin: month m tested after training on 2019-01..m-1 (in-domain trips)")
    print(f"{'month':<8}{'trips':>7}{'model rmse/mae':>18}{'previous rmse/mae':>20}")
    totals: list[tuple[float, float, float, float]] = []
    for month in range(first, TEST_MONTH + 1):
        months = range(1, month)
        model = train_real(nthread, months).booster
        previous = previous_recipe(nthread, months)
        test = test_rows(month)["in domain"]
        new = regression_metrics(test.label, predict(model, test.features))
        old = regression_metrics(test.label, predict(previous, test.features))
        totals.append((new["rmse"], new["mae"], old["rmse"], old["mae"]))
        print(f"2019-{month:02d}{len(test):>7}{new['rmse']:>11.3f}/{new['mae']:.3f}"
              f"{old['rmse']:>13.3f}/{old['mae']:.3f}")
    mean = [sum(t[i] for t in totals) / len(totals) for i in range(4)]
    print(f"rolling mean over {len(totals)} months: model RMSE {mean[0]:.3f} MAE "
          f"{mean[1]:.3f} | previous recipe RMSE {mean[2]:.3f} MAE {mean[3]:.3f}")
    for label, value in zip(("model_rmse", "model_mae", "previous_rmse", "previous_mae"), mean,
                            strict=True):
        result(f"rolling_{label}_usd", value)


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
    valid = validate_frame(frame).valid
    valid = valid[trainset.plausible_mask(valid)].reset_index(drop=True)
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
    print(f"training time {times['training']:.1f} s (target < 120 s)")
    result("training_s", times["training"])
    result("training_rows_count", len(data.train))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--quality-only", action="store_true")
    part.add_argument("--speed-only", action="store_true")
    parser.add_argument("--rolling", action="store_true",
                        help="also test 2019-06..12 one by one after the months before each")
    args = parser.parse_args()
    if not args.speed_only:
        quality(args.threads)
        if args.rolling:
            rolling(args.threads)
    if not args.quality_only:
        speed(args.rows, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
