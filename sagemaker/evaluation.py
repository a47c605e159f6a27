"""Evaluation of a fare model on the test split, next to two baselines on the same rows.

- ``model``: the trained model (its ``model.tar.gz``, loaded with the ``xgboost`` package);
- ``meter_formula``: the TLC meter formula (:mod:`taximl.fares`, the ``meter_fare`` feature);
- ``course_template``: an XGBoost trained on the course template's features only (distance,
  passengers, pickup and dropoff zones, year, month) on the same training rows.

Metrics: RMSE, MAE, bias and residual quantiles (``actual - predicted``), overall and per
segment (rate code, airport trip, distance band, hour band: the same segments as the outlier
thresholds, :func:`taximl.thresholds.segment_of`). The report is a JSON document.

:func:`flag_rates` adds what the outlier thresholds do on the same test rows: the target
flagged rate next to the achieved one, overall, per segment value and per threshold entry,
each with a 95 % Wilson confidence interval.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from taximl.thresholds import SEGMENT_DIMENSIONS, decide, is_judged, segment_of
from xgb_training import predict, train_booster

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from trainset import Part

logger = logging.getLogger(__name__)

MODEL = "model"
METER = "meter_formula"
TEMPLATE = "course_template"
PREDICTORS = (MODEL, METER, TEMPLATE)
QUANTILES = (0.01, 0.05, 0.5, 0.95, 0.99)
MIN_SEGMENT_ROWS = 5
#: A version whose achieved flagged rate on test exceeds this multiple of the target is left
#: pending (see training_flow.gate_on_flag_rate).
FLAG_RATE_TOLERANCE = 1.5
Z_95 = 1.959963984540054

TEMPLATE_COLUMNS = ("trip_distance", "passenger_count", "pu_location_id", "do_location_id",
                    "year", "month")
#: The course template's XGBoost settings (small, fast).
TEMPLATE_HYPERPARAMETERS: dict[str, str] = {
    "objective": "reg:squarederror",
    "num_round": "100",
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.8",
    "tree_method": "hist",
    "seed": "42",
}


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """n, rmse, mae, bias and residual quantiles (``actual - predicted``), rounded to cents."""
    import numpy as np

    residual = np.asarray(actual, dtype="float64") - np.asarray(predicted, dtype="float64")
    if len(residual) == 0:
        return {"n": 0}
    abs_res = np.abs(residual)
    return {
        "n": len(residual),
        "rmse": round(float(np.sqrt(np.mean(residual**2))), 4),
        "mae": round(float(np.mean(abs_res)), 4),
        "bias": round(float(np.mean(residual)), 4),
        "residual_quantiles": {
            f"p{int(q * 100):02d}": round(float(np.quantile(residual, q)), 4) for q in QUANTILES
        },
        "abs_residual_p90": round(float(np.quantile(abs_res, 0.9)), 4),
        "abs_residual_p99": round(float(np.quantile(abs_res, 0.99)), 4),
    }


def segments_frame(features: pd.DataFrame) -> pd.DataFrame:
    """One column per segment dimension, computed with the thresholds' own segment_of."""
    import pandas as pd

    rows = features.to_dict("records")
    return pd.DataFrame([segment_of(row) for row in rows], index=features.index,
                        columns=list(SEGMENT_DIMENSIONS))


def template_matrix(trips: pd.DataFrame) -> np.ndarray:
    """The course template's features of validated trips."""
    import numpy as np

    pickup = trips["pickup_datetime"]
    columns = [
        trips["trip_distance"].to_numpy(dtype="float64"),
        trips["passenger_count"].to_numpy(dtype="float64", na_value=np.nan),
        trips["pu_location_id"].to_numpy(dtype="float64"),
        trips["do_location_id"].to_numpy(dtype="float64"),
        pickup.dt.year.to_numpy(dtype="float64"),
        pickup.dt.month.to_numpy(dtype="float64"),
    ]
    return np.column_stack(columns)


def template_baseline(train: Part, test: Part, nthread: int | None = None) -> np.ndarray:
    """Predictions of the course template's model (trained here on the same training rows)."""
    booster = train_booster(
        (template_matrix(train.trips), train.label), None, TEMPLATE_HYPERPARAMETERS, nthread
    )
    return predict(booster, template_matrix(test.trips))


def evaluate(test: Part, predictions: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Overall and per-segment metrics of each predictor on the same test rows."""
    import numpy as np

    segments = segments_frame(test.features)
    report: dict[str, Any] = {
        "overall": {
            name: regression_metrics(test.label, pred) for name, pred in predictions.items()
        },
        "segments": {},
    }
    for dim in SEGMENT_DIMENSIONS:
        per_value: dict[str, Any] = {}
        for value in sorted(segments[dim].unique()):
            mask = (segments[dim] == value).to_numpy()
            if mask.sum() < MIN_SEGMENT_ROWS:
                continue
            per_value[str(value)] = {
                name: regression_metrics(test.label[mask], np.asarray(pred)[mask])
                for name, pred in predictions.items()
            }
        report["segments"][dim] = per_value
    return report


def beats_baselines(report: Mapping[str, Any], metric: str = "rmse") -> dict[str, bool]:
    """For each baseline: is the model's overall ``metric`` lower?"""
    overall = report["overall"]
    return {
        name: overall[MODEL][metric] < overall[name][metric]
        for name in overall
        if name != MODEL
    }


def format_table(report: Mapping[str, Any]) -> str:
    """The report as a text table: one row per (segment, value), RMSE / MAE of each predictor."""
    names = list(report["overall"])
    header = f"{'segment':<28}{'rows':>8}" + "".join(f"{n + ' rmse/mae':>26}" for n in names)
    lines = [header, "-" * len(header)]

    def row(label: str, metrics: Mapping[str, Any]) -> str:
        first = metrics[names[0]]
        cells = "".join(
            f"{metrics[n]['rmse']:>14.3f}/{metrics[n]['mae']:<11.3f}" if metrics[n]["n"] else
            f"{'-':>26}"
            for n in names
        )
        return f"{label:<28}{first['n']:>8}{cells}"

    lines.append(row("ALL", report["overall"]))
    for dim, values in report["segments"].items():
        for value, metrics in values.items():
            lines.append(row(f"{dim}={value}", metrics))
    return "\n".join(lines)


# --- flagged rates -----------------------------------------------------------------------------
def wilson_interval(flagged: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (sound near 0, unlike the normal one)."""
    if n <= 0:
        return (0.0, 1.0)
    p = flagged / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_entry(flagged: int, n: int) -> dict[str, Any]:
    """``{"trips", "flagged", "rate", "ci95"}`` of one group of trips."""
    low, high = wilson_interval(flagged, n)
    return {"trips": int(n), "flagged": int(flagged),
            "rate": round(flagged / n, 6) if n else None,
            "ci95": [round(low, 6), round(high, 6)]}


def decisions_frame(features: pd.DataFrame, actual: np.ndarray, predicted: np.ndarray,
                    doc: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trip: the segment, and what :func:`taximl.thresholds.decide` says under doc.

    The same call the Lambda makes for each trip (features as a mapping, the document as it is
    stored in DynamoDB).
    """
    import numpy as np
    import pandas as pd

    rows = features.to_dict("records")
    decisions = [decide(a, p, row, doc) for a, p, row in zip(actual, predicted, rows,
                                                               strict=True)]
    frame = pd.DataFrame([segment_of(row) for row in rows], index=features.index,
                         columns=list(SEGMENT_DIMENSIONS))
    frame["actual"] = np.asarray(actual, dtype="float64")
    frame["predicted"] = np.asarray(predicted, dtype="float64")
    frame["residual"] = frame["actual"] - frame["predicted"]
    frame["is_outlier"] = [d.is_outlier for d in decisions]
    frame["judged"] = [is_judged(d) for d in decisions]
    frame["rule"] = [d.rule for d in decisions]
    frame["threshold"] = [d.threshold for d in decisions]
    return frame


def flag_rates(decided: pd.DataFrame, target: float | None) -> dict[str, Any]:
    """Target vs achieved flagged rate among judged trips: overall, per segment, per entry."""
    judged = decided[decided["judged"]]
    report: dict[str, Any] = {
        "target": target,
        "tolerance": FLAG_RATE_TOLERANCE,
        "overall": rate_entry(int(judged["is_outlier"].sum()), len(judged)),
        "not_judged": int((~decided["judged"]).sum()),
        "not_judged_by_rule": {str(k): int(v) for k, v in
                               decided.loc[~decided["judged"], "rule"].value_counts().items()},
        "segments": {},
        "rules": {},
    }
    for dim in SEGMENT_DIMENSIONS:
        report["segments"][dim] = {
            str(value): rate_entry(int(group["is_outlier"].sum()), len(group))
            for value, group in judged.groupby(dim, sort=True)
        }
    for rule, group in judged.groupby("rule", sort=True):
        report["rules"][str(rule)] = rate_entry(int(group["is_outlier"].sum()), len(group))
    return report


def format_flag_rates(rates: Mapping[str, Any]) -> str:
    """The flag-rate report as a text table (target next to achieved, with the 95 % CI)."""
    target = rates.get("target")
    head = f"{'flagged by the thresholds':<40}{'trips':>8}{'flagged':>9}{'rate':>9}  95 % CI"
    lines = [head, "-" * (len(head) + 10)]

    def row(label: str, entry: Mapping[str, Any]) -> str:
        rate = entry["rate"]
        low, high = entry["ci95"]
        shown = f"{rate:.2%}" if rate is not None else "-"
        return (f"{label:<40}{entry['trips']:>8}{entry['flagged']:>9}{shown:>9}  "
                f"{low:.2%}-{high:.2%}")

    target_text = f" (target {target:.2%})" if target is not None else ""
    lines.append(row(f"ALL judged trips{target_text}", rates["overall"]))
    for dim, values in rates["segments"].items():
        for value, entry in values.items():
            lines.append(row(f"  {dim}={value}", entry))
    if rates.get("not_judged"):
        lines.append(f"{'not judged (no fare rule / broken meter data)':<40}"
                     f"{rates['not_judged']:>8}")
    return "\n".join(lines)
