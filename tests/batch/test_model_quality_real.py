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
    data = trainset.prepare(history, (0.9, 0.05, 0.05))
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
