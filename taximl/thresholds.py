"""Outlier thresholds: which trips are flagged, and how the thresholds are calibrated.

A trip is an outlier when its fare is far from the model's prediction. How far is "far" is a
*threshold document* (JSON, stored in the DynamoDB parameters table as item
``id = thresholds/<variant>`` with the JSON text in ``value``, next to the model version it was
calibrated for). Two modes:

``fixed``
    the course template's rule: ``|actual - predicted| > fixed_threshold`` (default $10);
``calibrated``
    thresholds chosen on the validation residuals of the model for a target false-positive rate
    (e.g. 1 %), per segment with a hierarchical back-off: the most specific segment
    ``rate_code|airport|distance_band|hour_band`` that had enough validation rows, else a
    coarser one, else the global thresholds. Each entry has an absolute threshold ``abs`` (USD)
    and a relative one ``rel`` (fraction of the predicted fare); a trip is flagged when its
    error exceeds **both**, i.e. ``|r| > max(abs, rel * predicted)``. Rate codes the model was
    not trained on (negotiated fares, unknown codes) fall back to the fixed rule.

:func:`decide` and :func:`segment_of` use the standard library only (the Lambda bundles this
module); :func:`calibrate` imports numpy lazily.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from taximl.features import AIRPORT_CODES, OVERNIGHT_HOURS, RUSH_HOURS

DOC_FORMAT = 1
MODE_FIXED = "fixed"
MODE_CALIBRATED = "calibrated"
PARAM_PREFIX = "thresholds/"
VARIANT_PREFIX = "mv-"

#: Segment dimensions, most important first (the back-off drops them from the right).
SEGMENT_DIMENSIONS: tuple[str, ...] = ("rate_code", "airport", "distance_band", "hour_band")
#: Distance band edges in miles: [0,1), [1,3), [3,10), [10, inf).
DISTANCE_BANDS: tuple[tuple[float, str], ...] = ((1.0, "0-1"), (3.0, "1-3"), (10.0, "3-10"))
DISTANCE_BAND_LAST = "10+"
#: Predicted fares below this are treated as this value in the relative rule.
MIN_FARE_FOR_RELATIVE = 3.0
DEFAULT_TARGET_FPR = 0.01
DEFAULT_MIN_SEGMENT_ROWS = 200
DEFAULT_MIN_ABS = 1.0
DEFAULT_MIN_REL = 0.05
#: Tukey "far out" fence (Q3 + k * IQR) applied to the errors before the quantile is taken:
#: historical data holds real anomalies, which would otherwise inflate every threshold.
DEFAULT_OUTLIER_FENCE = 3.0
#: Rate codes the training set keeps (see infra/sql/create_training_set.sql); others are
#: judged by the fixed rule because no model can predict a negotiated or unknown fare.
DEFAULT_SCORED_RATE_CODES: tuple[int, ...] = (1, 2, 3, 4)
#: The trips the training set keeps (infra/sql/create_training_set.sql); outside them the
#: model extrapolates, so the fixed rule decides instead of thresholds calibrated inside.
DOMAIN_MAX_DISTANCE_MILES = 100.0
DOMAIN_DURATION_MIN = (1.0, 180.0)
DOMAIN_MAX_SPEED_MPH = 80.0


@dataclass(frozen=True)
class Decision:
    """Outcome for one trip: flagged or not, which rule decided, the USD threshold, the score.

    ``score`` is the error divided by the threshold: above 1 means outlier.
    """

    is_outlier: bool
    rule: str
    threshold: float
    score: float


# --- names -----------------------------------------------------------------------------------
def variant_name(model_version: int | str) -> str:
    """Production variant name of a model package version: ``3 -> "mv-3"``."""
    text = str(model_version)
    return text if text.startswith(VARIANT_PREFIX) else f"{VARIANT_PREFIX}{text}"


def param_id(variant: int | str) -> str:
    """DynamoDB ``id`` of a variant's threshold document: ``"thresholds/mv-3"``."""
    return f"{PARAM_PREFIX}{variant_name(variant)}"


# --- segments --------------------------------------------------------------------------------
def segment_of(features_or_trip: Mapping[str, Any]) -> dict[str, str]:
    """Segment values of a trip, from its features (``features_for_record``) or the trip itself.

    Returns ``{"rate_code": "1", "airport": "yes", "distance_band": "3-10", "hour_band": "rush"}``.
    """
    row = features_or_trip
    rate = row.get("rate_code_id")
    rate_code = "na" if _missing(rate) else str(int(float(rate)))
    if "is_airport_trip" in row:
        airport = bool(row["is_airport_trip"])
    else:
        zones = (row.get("pu_location_id"), row.get("do_location_id"))
        airport = any(not _missing(z) and int(float(z)) in AIRPORT_CODES for z in zones)
    distance = float(row["trip_distance"])
    if "pickup_hour" in row:
        hour, dow = int(row["pickup_hour"]), int(row["pickup_dow"])
    else:
        pickup = row["pickup_datetime"]
        hour, dow = pickup.hour, pickup.weekday()
    return {
        "rate_code": rate_code,
        "airport": "yes" if airport else "no",
        "distance_band": distance_band(distance),
        "hour_band": hour_band(hour, dow),
    }


def distance_band(miles: float) -> str:
    """``"0-1"``, ``"1-3"``, ``"3-10"`` or ``"10+"``."""
    for edge, name in DISTANCE_BANDS:
        if miles < edge:
            return name
    return DISTANCE_BAND_LAST


def hour_band(hour: int, dow: int) -> str:
    """``"overnight"`` (20-6h), ``"rush"`` (weekdays 16-20h) or ``"day"``."""
    if hour >= OVERNIGHT_HOURS[0] or hour < OVERNIGHT_HOURS[1]:
        return "overnight"
    if dow < 5 and RUSH_HOURS[0] <= hour < RUSH_HOURS[1]:
        return "rush"
    return "day"


def segment_keys(segment: Mapping[str, str]) -> list[str]:
    """Back-off keys, most specific first: ``"rate_code=1|airport=no|..."``, ..., ``"rate_code=1"``.
    """
    parts = [f"{dim}={segment[dim]}" for dim in SEGMENT_DIMENSIONS]
    return ["|".join(parts[:n]) for n in range(len(parts), 0, -1)]


# --- documents -------------------------------------------------------------------------------
def fixed_doc(threshold: float = 10.0, model_version: str | None = None) -> dict[str, Any]:
    """The course template's rule as a document: ``|actual - predicted| > threshold``."""
    return {
        "format": DOC_FORMAT,
        "mode": MODE_FIXED,
        "model_version": model_version,
        "fixed_threshold": float(threshold),
    }


def with_mode(doc: Mapping[str, Any], mode: str) -> dict[str, Any]:
    """A copy of ``doc`` switched to ``mode`` (a calibrated doc keeps its segments)."""
    if mode not in (MODE_FIXED, MODE_CALIBRATED):
        raise ValueError(f"unknown threshold mode {mode!r}")
    if mode == MODE_CALIBRATED and "global" not in doc:
        raise ValueError("this threshold document was never calibrated")
    return {**doc, "mode": mode}


def doc_to_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def doc_from_json(text: str | bytes) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("mode") not in (MODE_FIXED, MODE_CALIBRATED):
        raise ValueError("not a threshold document (missing or unknown 'mode')")
    return doc


# --- decision (standard library only) ---------------------------------------------------------
def decide(
    actual: float,
    predicted: float,
    features_or_trip: Mapping[str, Any] | None,
    doc: Mapping[str, Any] | None,
) -> Decision:
    """Is this fare an outlier under ``doc``? ``doc=None`` means the fixed $10 rule."""
    error = abs(float(actual) - float(predicted))
    doc = doc or fixed_doc()
    fixed = float(doc.get("fixed_threshold", 10.0))
    if doc.get("mode") == MODE_FIXED or features_or_trip is None:
        return _decision(error, fixed, "fixed")
    segment = segment_of(features_or_trip)
    scored = {str(code) for code in doc.get("scored_rate_codes", DEFAULT_SCORED_RATE_CODES)}
    if segment["rate_code"] not in scored:
        return _decision(error, fixed, f"fixed:rate_code={segment['rate_code']}")
    outside = outside_training_domain(features_or_trip)
    if outside is not None:
        return _decision(error, fixed, f"fixed:out_of_domain={outside}")
    entries = doc.get("segments", {})
    for key in segment_keys(segment):
        if key in entries:
            return _calibrated(error, predicted, entries[key], key)
    return _calibrated(error, predicted, doc["global"], "global")


def outside_training_domain(features: Mapping[str, Any]) -> str | None:
    """Which training-set filter a trip's features fall outside of, or None (features only).

    Trips given without features (no ``duration_min``) are not checked.
    """
    if "duration_min" not in features:
        return None
    distance = features.get("trip_distance")
    if _missing(distance) or not 0 < float(distance) < DOMAIN_MAX_DISTANCE_MILES:
        return "distance"
    passengers = features.get("passenger_count")
    if _missing(passengers) or float(passengers) <= 0:
        return "passengers"
    low, high = DOMAIN_DURATION_MIN
    if not low <= float(features["duration_min"]) <= high:
        return "duration"
    speed = features.get("speed_mph")
    if _missing(speed) or float(speed) > DOMAIN_MAX_SPEED_MPH:
        return "speed"
    return None


def _calibrated(error: float, predicted: float, entry: Mapping[str, Any], rule: str) -> Decision:
    base = max(float(predicted), MIN_FARE_FOR_RELATIVE)
    threshold = max(float(entry["abs"]), float(entry["rel"]) * base)
    return _decision(error, threshold, rule)


def _decision(error: float, threshold: float, rule: str) -> Decision:
    score = error / threshold if threshold > 0 else math.inf
    return Decision(is_outlier=error > threshold, rule=rule, threshold=threshold, score=score)


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


# --- calibration -----------------------------------------------------------------------------
def calibrate(
    actual: Sequence[float],
    predicted: Sequence[float],
    rows: Sequence[Mapping[str, Any]],
    *,
    target_fpr: float = DEFAULT_TARGET_FPR,
    model_version: str | None = None,
    fixed_threshold: float = 10.0,
    min_segment_rows: int = DEFAULT_MIN_SEGMENT_ROWS,
    min_abs: float = DEFAULT_MIN_ABS,
    min_rel: float = DEFAULT_MIN_REL,
    scored_rate_codes: Sequence[int] = DEFAULT_SCORED_RATE_CODES,
    outlier_fence: float | None = DEFAULT_OUTLIER_FENCE,
) -> dict[str, Any]:
    """Thresholds from validation residuals for a target false-positive rate.

    ``rows`` are the trips' features (or trips), aligned with ``actual`` and ``predicted``.
    Validation data is not guaranteed clean (real history contains inflated fares too), so rows
    whose absolute or relative error lies beyond the Tukey far-out fence ``Q3 + outlier_fence *
    IQR`` are treated as contamination and left out; the remaining rows are taken as normal and
    the share of them flagged is the false-positive rate. In each segment the absolute and
    relative thresholds are scaled together so that ``target_fpr`` of its normal rows exceed
    both (before the ``min_abs``/``min_rel`` floors). ``outlier_fence=None`` keeps every row.
    """
    import numpy as np

    if not 0 < target_fpr < 0.5:
        raise ValueError("target_fpr must be in (0, 0.5)")
    if not len(actual) == len(predicted) == len(rows):
        raise ValueError("actual, predicted and rows must have the same length")
    actual_arr = np.asarray(actual, dtype="float64")
    pred_arr = np.asarray(predicted, dtype="float64")
    error = np.abs(actual_arr - pred_arr)
    relative = error / np.maximum(pred_arr, MIN_FARE_FOR_RELATIVE)
    keys = [segment_keys(segment_of(row)) for row in rows]
    scored = {str(code) for code in scored_rate_codes}
    in_scope = np.array([k[-1].split("=", 1)[1] in scored for k in keys], dtype=bool)
    if not in_scope.any():
        raise ValueError("no validation row has a scored rate code: cannot calibrate")

    def far_out(values: np.ndarray) -> float:
        q1, q3 = np.quantile(values, [0.25, 0.75])
        return float(q3 + outlier_fence * (q3 - q1)) if outlier_fence is not None else np.inf

    def fit(mask: np.ndarray) -> dict[str, float | int]:
        err, rel = error[mask], relative[mask]
        normal = (err <= far_out(err)) | (rel <= far_out(rel))
        if normal.sum() >= max(10, int(0.5 * len(err))):
            err, rel = err[normal], rel[normal]
        q = 1.0 - target_fpr
        abs0 = max(float(np.quantile(err, q)), 1e-6)
        rel0 = max(float(np.quantile(rel, q)), 1e-9)
        score = np.minimum(err / abs0, rel / rel0)
        scale = float(np.quantile(score, q))
        return {
            "abs": round(max(abs0 * scale, min_abs), 4),
            "rel": round(max(rel0 * scale, min_rel), 4),
            "n": int(mask.sum()),
            "n_excluded": int(mask.sum()) - len(err),
        }

    groups: dict[str, list[int]] = {}
    for i, row_keys in enumerate(keys):
        if in_scope[i]:
            for key in row_keys:
                groups.setdefault(key, []).append(i)
    segments = {}
    for key in sorted(groups):
        index = groups[key]
        if len(index) >= min_segment_rows:
            mask = np.zeros(len(error), dtype=bool)
            mask[index] = True
            segments[key] = fit(mask)
    global_entry = fit(in_scope)
    doc: dict[str, Any] = {
        "format": DOC_FORMAT,
        "mode": MODE_CALIBRATED,
        "model_version": model_version,
        "fixed_threshold": float(fixed_threshold),
        "target_fpr": target_fpr,
        "outlier_fence": outlier_fence,
        "min_segment_rows": min_segment_rows,
        "scored_rate_codes": [int(c) for c in scored_rate_codes],
        "segment_dimensions": list(SEGMENT_DIMENSIONS),
        "global": global_entry,
        "segments": segments,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return doc


def flagged_rate(
    actual: Sequence[float],
    predicted: Sequence[float],
    rows: Sequence[Mapping[str, Any]],
    doc: Mapping[str, Any],
) -> float:
    """Share of rows :func:`decide` flags under ``doc`` (e.g. the false-positive rate on test)."""
    if not rows:
        return 0.0
    flagged = sum(
        decide(a, p, row, doc).is_outlier for a, p, row in zip(actual, predicted, rows, strict=True)
    )
    return flagged / len(rows)
