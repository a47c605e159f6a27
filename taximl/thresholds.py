"""Outlier thresholds: which trips are flagged, and how the thresholds are calibrated.

A trip is an outlier when its fare is far from the model's prediction. How far is "far" is a
*threshold document* (JSON, stored in the DynamoDB parameters table as item
``id = thresholds/<variant>`` with the JSON text in ``value``, next to the model version it was
calibrated for). Two modes:

``fixed``
    the course template's rule: ``|actual - predicted| > fixed_threshold`` (default $10);
``calibrated``
    thresholds chosen on residuals the model never saw (the *calibration* split, after the
    training and early-stopping data in time) for a target flagged rate (default 0.5 %), per
    segment with a hierarchical back-off: the most specific segment
    ``rate_code|airport|distance_band|hour_band`` that had enough calibration rows (at least
    ``DEFAULT_MIN_EXCEEDANCES / target`` rows, so that its quantile rests on ~20 exceedances),
    else a coarser one, else the global thresholds. Each entry has an absolute threshold ``abs``
    (USD) and a relative one ``rel`` (fraction of the predicted fare); a trip is flagged when its
    error exceeds **both**, i.e. ``|r| > max(abs, rel * predicted)``.

    On top of that, a *materiality floor* (``materiality: {"abs": 2.0, "rel": 0.10}`` by
    default, configurable): no trip is flagged for a deviation of $2.00 or less, nor for one of
    10 % of the predicted fare or less, deviations a rider would not call a wrong fare (a few
    meter units of traffic; see docs/batch.md).

    Trips the model cannot judge are *not judged* (``rule = "unjudged:<why>"``, never flagged,
    ``threshold`` and ``score`` 0): rate codes without a fare rule (negotiated 5, group 6,
    unknown 99, missing) and trips outside the training set's domain (implausible distance,
    duration or speed: broken meter data). ``outside_domain: "fixed"`` judges them by the fixed
    rule instead (documents of format 1 behave that way).

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

DOC_FORMAT = 2
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
#: Default share of judged trips the calibrated thresholds flag (on unseen time).
DEFAULT_TARGET_FPR = 0.005
#: A segment gets its own thresholds only with at least this many expected exceedances
#: (``rows * target``); fewer rows make a tail quantile too noisy, so it backs off.
DEFAULT_MIN_EXCEEDANCES = 20
#: Materiality floor: a deviation must exceed both to be flagged (see the module docstring).
DEFAULT_MATERIALITY_ABS = 2.0
DEFAULT_MATERIALITY_REL = 0.10
#: What happens to trips the model cannot judge (see the module docstring).
OUTSIDE_UNJUDGED = "unjudged"
OUTSIDE_FIXED = "fixed"
#: Rate codes the training set keeps (see infra/sql/create_training_set.sql); the others have
#: no fare rule (negotiated, group, unknown), so no model can predict their fare.
DEFAULT_SCORED_RATE_CODES: tuple[int, ...] = (1, 2, 3, 4)
#: The trips the training set keeps (infra/sql/create_training_set.sql); outside them the
#: model extrapolates from broken meter data, so calibrated thresholds do not apply.
DOMAIN_MAX_DISTANCE_MILES = 100.0
DOMAIN_DURATION_MIN = (1.0, 180.0)
DOMAIN_MAX_SPEED_MPH = 80.0


@dataclass(frozen=True)
class Decision:
    """Outcome for one trip: flagged or not, which rule decided, the USD threshold, the score.

    ``score`` is the error divided by the threshold: above 1 means outlier. A trip that is
    not judged (``rule`` starting with ``unjudged:``) has ``threshold`` and ``score`` 0.
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
    why = None
    if segment["rate_code"] not in scored:
        why = f"rate_code={segment['rate_code']}"
    else:
        outside = outside_training_domain(features_or_trip)
        if outside is not None:
            why = f"out_of_domain={outside}"
    if why is not None:
        if doc.get("outside_domain", OUTSIDE_FIXED) == OUTSIDE_UNJUDGED:
            return Decision(is_outlier=False, rule=f"unjudged:{why}", threshold=0.0, score=0.0)
        return _decision(error, fixed, f"fixed:{why}")
    floor = doc.get("materiality") or {}
    entries = doc.get("segments", {})
    for key in segment_keys(segment):
        if key in entries:
            return _calibrated(error, predicted, entries[key], key, floor)
    return _calibrated(error, predicted, doc["global"], "global", floor)


def is_judged(decision: Decision) -> bool:
    """False for trips the document does not judge (``unjudged:<why>``)."""
    return not decision.rule.startswith(f"{OUTSIDE_UNJUDGED}:")


def outside_training_domain(features: Mapping[str, Any]) -> str | None:
    """Which training-set filter a trip's features fall outside of, or None (features only).

    Trips given without features (no ``duration_min``) are not checked. The passenger count is
    not part of the domain: no TLC rule charges per passenger, and drivers often leave it at 0.
    """
    if "duration_min" not in features:
        return None
    distance = features.get("trip_distance")
    if _missing(distance) or not 0 < float(distance) < DOMAIN_MAX_DISTANCE_MILES:
        return "distance"
    low, high = DOMAIN_DURATION_MIN
    if not low <= float(features["duration_min"]) <= high:
        return "duration"
    speed = features.get("speed_mph")
    if _missing(speed) or float(speed) > DOMAIN_MAX_SPEED_MPH:
        return "speed"
    return None


def _calibrated(
    error: float, predicted: float, entry: Mapping[str, Any], rule: str,
    floor: Mapping[str, Any],
) -> Decision:
    base = max(float(predicted), MIN_FARE_FOR_RELATIVE)
    abs_threshold = max(float(entry["abs"]), float(floor.get("abs", 0.0)))
    rel_threshold = max(float(entry["rel"]), float(floor.get("rel", 0.0)))
    return _decision(error, max(abs_threshold, rel_threshold * base), rule)


def _decision(error: float, threshold: float, rule: str) -> Decision:
    score = error / threshold if threshold > 0 else math.inf
    return Decision(is_outlier=error > threshold, rule=rule, threshold=threshold, score=score)


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


# --- calibration -----------------------------------------------------------------------------
def min_rows_for(target_fpr: float, min_exceedances: int = DEFAULT_MIN_EXCEEDANCES) -> int:
    """Calibration rows a segment needs for its own thresholds: ``min_exceedances / target``."""
    return math.ceil(round(min_exceedances / target_fpr, 6))


def calibrate(
    actual: Sequence[float],
    predicted: Sequence[float],
    rows: Sequence[Mapping[str, Any]],
    *,
    target_fpr: float = DEFAULT_TARGET_FPR,
    model_version: str | None = None,
    fixed_threshold: float = 10.0,
    min_segment_rows: int | None = None,
    materiality_abs: float = DEFAULT_MATERIALITY_ABS,
    materiality_rel: float = DEFAULT_MATERIALITY_REL,
    scored_rate_codes: Sequence[int] = DEFAULT_SCORED_RATE_CODES,
    outside_domain: str = OUTSIDE_UNJUDGED,
) -> dict[str, Any]:
    """Thresholds for a target flagged rate, from residuals the model never saw.

    ``rows`` are the trips' features (or trips), aligned with ``actual`` and ``predicted``; they
    must come from data the model was neither fitted nor early-stopped on, ideally later in
    time (the calibration split): residuals of seen data are optimistic and the thresholds
    would then flag more than ``target_fpr`` of new trips. Every judged row counts, real
    anomalies of the history included (they are part of what the model will meet), so the
    achieved rate on new data of the same kind is at most ``target_fpr`` (split-conformal
    quantile ``ceil((n + 1)(1 - target)) / n``). In each segment with at least
    ``min_segment_rows`` rows (default :func:`min_rows_for`) the absolute and relative
    thresholds are scaled together so that ``target_fpr`` of its rows exceed both; then the
    materiality floor raises any threshold below it. Rows the document will not judge
    (unscored rate codes, outside the training domain) are left out and counted.
    """
    import numpy as np

    if not 0 < target_fpr < 0.5:
        raise ValueError("target_fpr must be in (0, 0.5)")
    if not len(actual) == len(predicted) == len(rows):
        raise ValueError("actual, predicted and rows must have the same length")
    if materiality_abs < 0 or materiality_rel < 0:
        raise ValueError("the materiality floor cannot be negative")
    if outside_domain not in (OUTSIDE_UNJUDGED, OUTSIDE_FIXED):
        raise ValueError(f"outside_domain must be {OUTSIDE_UNJUDGED!r} or {OUTSIDE_FIXED!r}")
    min_rows = min_rows_for(target_fpr) if min_segment_rows is None else int(min_segment_rows)
    actual_arr = np.asarray(actual, dtype="float64")
    pred_arr = np.asarray(predicted, dtype="float64")
    error = np.abs(actual_arr - pred_arr)
    relative = error / np.maximum(pred_arr, MIN_FARE_FOR_RELATIVE)
    scored = {str(code) for code in scored_rate_codes}
    segments_of = [segment_of(row) for row in rows]
    judged = np.array(
        [seg["rate_code"] in scored and outside_training_domain(row) is None
         for seg, row in zip(segments_of, rows, strict=True)],
        dtype=bool,
    )
    if not judged.any():
        raise ValueError("no calibration row has a scored rate code inside the training domain: "
                         "cannot calibrate")

    def fit(index: np.ndarray) -> dict[str, float | int]:
        err, rel = error[index], relative[index]
        n = len(err)
        level = min(1.0, math.ceil((n + 1) * (1.0 - target_fpr)) / n)
        abs0 = max(float(np.quantile(err, level)), 1e-6)
        rel0 = max(float(np.quantile(rel, level)), 1e-9)
        scale = float(np.quantile(np.minimum(err / abs0, rel / rel0), level))
        return {
            "abs": round(max(abs0 * scale, materiality_abs), 4),
            "rel": round(max(rel0 * scale, materiality_rel), 4),
            "abs_calibrated": round(abs0 * scale, 4),
            "rel_calibrated": round(rel0 * scale, 4),
            "n": n,
        }

    groups: dict[str, list[int]] = {}
    for i in np.flatnonzero(judged):
        for key in segment_keys(segments_of[i]):
            groups.setdefault(key, []).append(int(i))
    segments = {
        key: fit(np.asarray(index)) for key, index in sorted(groups.items())
        if len(index) >= min_rows
    }
    return {
        "format": DOC_FORMAT,
        "mode": MODE_CALIBRATED,
        "model_version": model_version,
        "fixed_threshold": float(fixed_threshold),
        "target_fpr": target_fpr,
        "min_segment_rows": min_rows,
        "materiality": {"abs": float(materiality_abs), "rel": float(materiality_rel)},
        "outside_domain": outside_domain,
        "scored_rate_codes": [int(c) for c in scored_rate_codes],
        "segment_dimensions": list(SEGMENT_DIMENSIONS),
        "calibration_rows": {"judged": int(judged.sum()), "not_judged": int((~judged).sum())},
        "global": fit(np.flatnonzero(judged)),
        "segments": segments,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


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
