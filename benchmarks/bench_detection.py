"""Benchmark of the outlier flag on a real month held out in time, with labelled anomalies.

    python benchmarks/bench_detection.py                  # seed 1630, then 5 seeds
    python benchmarks/bench_detection.py --seeds 1

The fare model is trained as ``bench_training.py`` trains it (2019-01..11 of
../shared/data/tlc/yellow-2018-2020/: fit, early stopping, then the calibration trips in time
order), the thresholds are calibrated on the calibration trips with the product's
:func:`taximl.thresholds.calibrate` (default target and materiality floor), and 2019-12, never
seen, gets 3 % labelled anomalies (``sagemaker/fare_anomalies.py``). Every trip the contract
accepts is decided with :func:`taximl.thresholds.decide`, exactly as the Lambda decides it
(the predictions come from the local xgboost instead of the endpoint: the SageMaker stand-in
serves the same booster). Targets: recall >= 0.97, flagged rate on the untouched trips <=
0.75 % (their natural anomalies included), precision >= 0.80. Other seeds draw other trips and
amounts: their spread shows how much the figures owe to the draw. Report and plots go to
``build/bench_detection/``. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_training
import detection
import evaluation
from evaluate_detection import labelled_month
from fare_anomalies import DEFAULT_RATE, DEFAULT_SEED
from results import result
from taximl.features import features_frame
from taximl.thresholds import calibrate
from xgb_training import predict

OUT = Path(__file__).resolve().parents[1] / "build" / "bench_detection"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="anomaly draws to summarise")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not bench_training.has_real_data():
        return 0
    model = bench_training.train_real(args.threads)
    calibration = model.parts["calibration"]
    doc = calibrate(calibration.label, predict(model.booster, calibration.features),
                    calibration.features.to_dict("records"), model_version="bench")
    month = bench_training.SHARED / bench_training.MONTHLY.format(bench_training.TEST_MONTH)
    print(f"model: {model.rounds} rounds; thresholds from {len(calibration):,} calibration trips "
          f"({calibration.trips['pickup_datetime'].min():%Y-%m-%d} .. "
          f"{calibration.trips['pickup_datetime'].max():%Y-%m-%d}): target "
          f"{doc['target_fpr']:.2%}, materiality {doc['materiality']}, "
          f"{len(doc['segments'])} segment entries, global {doc['global']}")
    runs = []
    for i in range(max(1, args.seeds)):
        seed = DEFAULT_SEED + i
        injection, valid, labels = labelled_month(month, DEFAULT_RATE, seed, None)
        features = features_frame(valid)
        decided = evaluation.decisions_frame(features, valid["fare_amount"].to_numpy(),
                                             predict(model.booster, features), doc)
        metrics = detection.detection_metrics(decided, labels)
        runs.append(metrics)
        if i == 0:
            print(f"\n2019-12: {len(valid):,} contract-valid trips, {metrics['labelled']} "
                  f"labelled anomalies (seed {seed}); immaterial draws left untouched: "
                  f"{injection.immaterial_draws}\n")
            print(detection.format_detection(metrics))
            result("recall_x", metrics["recall"]["recall"])
            result("untouched_flagged_pct", 100 * metrics["untouched"]["rate"])
            result("precision_x", metrics["precision"]["precision"])
            result("labelled_anomalies_count", metrics["labelled"])
            plots = detection.write_plots(decided, labels, doc, OUT,
                                          title="2019-12 held out: predicted vs actual")
            report = {"seed": seed, "detection": metrics, "anomalies": injection.summary(),
                      "flag_rate_by_segment": evaluation.flag_rates(decided, doc["target_fpr"]),
                      "threshold_document": doc}
            (OUT / "report.json").write_text(json.dumps(report, indent=2, default=str))
            print(f"\nreport and plots: {OUT / 'report.json'}, {', '.join(map(str, plots))}")
    if len(runs) > 1:
        def spread(values: list[float]) -> str:
            return (f"mean {statistics.mean(values):.4f}  min {min(values):.4f}  "
                    f"max {max(values):.4f}")

        last = DEFAULT_SEED + len(runs) - 1
        print(f"\nover {len(runs)} anomaly draws (seeds {DEFAULT_SEED}..{last}):")
        print(f"  recall                  {spread([r['recall']['recall'] for r in runs])}")
        print(f"  untouched flagged rate  {spread([r['untouched']['rate'] for r in runs])}")
        print(f"  precision               {spread([r['precision']['precision'] for r in runs])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
