"""Model behaviour on real TLC data: the trained model beats both baselines.

Trained locally with the same code path as the training job (shared contract, the CTAS
filters' twin, shared features, the documented hyperparameters), on three months of the shared
2019 samples, tested on the following month.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import evaluation
import trainset
from taximl.io import read_trips
from taximl.validation import validate_frame
from xgb_training import HYPERPARAMETERS, predict, train_booster

MONTHLY = "tlc/yellow-2018-2020/yellow_tripdata_sample_2019-{:02d}.csv"


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    valid = validate_frame(frame).valid
    return valid[trainset.plausible_mask(valid)].reset_index(drop=True)


@pytest.mark.slow
def test_model_beats_meter_formula_and_course_template(shared_data_dir: Path) -> None:
    # GIVEN 2019-09..11 for training (time split for early stopping) and 2019-12 for test
    history = _clean(pd.concat(
        [read_trips(shared_data_dir / MONTHLY.format(m)) for m in (9, 10, 11)], ignore_index=True
    ))
    data = trainset.prepare(history, (0.85, 0.05, 0.05, 0.05))
    test = trainset.part_of(_clean(read_trips(shared_data_dir / MONTHLY.format(12))))
    # WHEN the model and the course template's model are trained on the same rows
    booster = train_booster((data.train.features, data.train.label),
                            (data.validation.features, data.validation.label), HYPERPARAMETERS)
    report = evaluation.evaluate(test, {
        evaluation.MODEL: predict(booster, test.features),
        evaluation.METER: test.features["meter_fare"].to_numpy(),
        evaluation.TEMPLATE: evaluation.template_baseline(data.train, test),
    })
    overall = report["overall"]
    # THEN the model beats both baselines on RMSE and MAE, overall and on standard-rate trips
    for metric in ("rmse", "mae"):
        assert evaluation.beats_baselines(report, metric) == {
            evaluation.METER: True, evaluation.TEMPLATE: True}
    standard = report["segments"]["rate_code"]["1"]
    assert standard["model"]["rmse"] < standard["meter_formula"]["rmse"]
    # AND the errors are in the range a fare model should reach (about $0.3 MAE on 2019 data)
    assert overall["model"]["mae"] < 0.6 and overall["model"]["rmse"] < 1.6
    assert abs(overall["model"]["bias"]) < 0.1


REAL_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "real_sample"


@pytest.mark.slow
def test_flags_on_the_bundled_held_out_month_meet_the_targets() -> None:
    # GIVEN the bundled real sample: six months of history, and a later month never trained on
    from detection import detection_metrics
    from evaluate_detection import labelled_month
    from taximl.features import features_frame
    from taximl.thresholds import calibrate

    history = _clean(pd.concat([read_trips(f) for f in sorted((REAL_SAMPLE / "history").iterdir())],
                               ignore_index=True))
    data = trainset.prepare(history)
    booster = train_booster((data.train.features, data.train.label),
                            (data.validation.features, data.validation.label), HYPERPARAMETERS)
    # WHEN the thresholds are calibrated on the calibration split (the training step's path)
    doc = calibrate(data.calibration.label, predict(booster, data.calibration.features),
                    data.calibration.features.to_dict("records"))
    decided = evaluation.decisions_frame(data.test.features, data.test.label,
                                         predict(booster, data.test.features), doc)
    rates = evaluation.flag_rates(decided, doc["target_fpr"])
    # AND the held-out month, with 3 % labelled anomalies, is decided trip by trip
    _, valid, labels = labelled_month(REAL_SAMPLE / "holdout" / "yellow_tripdata_2019-12.parquet",
                                      0.03, 1630, None)
    features = features_frame(valid)
    month = evaluation.decisions_frame(features, valid["fare_amount"].to_numpy(),
                                       predict(booster, features), doc)
    metrics = detection_metrics(month, labels)
    # THEN the test split stays within 1.5 x the target, and the month meets the targets
    assert rates["overall"]["rate"] <= 1.5 * doc["target_fpr"]
    assert metrics["labelled"] == 298
    assert {name: entry["met"] for name, entry in metrics["targets"].items()} == {
        "recall": True, "untouched_flagged_rate": True, "precision": True}
