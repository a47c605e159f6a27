"""Threshold documents: segments, the fixed and calibrated rules, calibration for a target FPR."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime

import pytest

from taximl import thresholds as th
from taximl.features import features_for_record


def _features(distance: float = 2.0, hour: int = 12, dow: int = 2, rate: float | None = 1.0,
              airport: bool = False) -> dict:
    return {
        "trip_distance": distance,
        "pickup_hour": float(hour),
        "pickup_dow": float(dow),
        "rate_code_id": rate,
        "is_airport_trip": float(airport),
    }


def test_variant_and_param_names() -> None:
    assert th.variant_name(3) == "mv-3"
    assert th.variant_name("mv-3") == "mv-3"
    assert th.param_id(12) == "thresholds/mv-12"


def test_segment_of_features_and_of_trip_agree() -> None:
    # GIVEN a trip and its features  WHEN segmented  THEN both give the same segment
    trip = {
        "pickup_datetime": datetime(2023, 3, 1, 17, 5),  # Wednesday, rush hour
        "dropoff_datetime": datetime(2023, 3, 1, 17, 45),
        "trip_distance": 17.2,
        "pu_location_id": 132,
        "do_location_id": 230,
        "rate_code_id": 2,
        "passenger_count": 1.0,
    }
    from_trip = th.segment_of(trip)
    from_features = th.segment_of(features_for_record(trip))
    assert from_trip == from_features == {
        "rate_code": "2", "airport": "yes", "distance_band": "10+", "hour_band": "rush",
    }


@pytest.mark.parametrize(
    ("miles", "band"), [(0.0, "0-1"), (0.99, "0-1"), (1.0, "1-3"), (9.9, "3-10"), (10, "10+")]
)
def test_distance_bands(miles: float, band: str) -> None:
    assert th.distance_band(miles) == band


def test_hour_bands() -> None:
    assert th.hour_band(22, 2) == "overnight"
    assert th.hour_band(5, 6) == "overnight"
    assert th.hour_band(17, 4) == "rush"
    assert th.hour_band(17, 5) == "day"  # Saturday: no rush hour
    assert th.hour_band(12, 1) == "day"


def test_missing_rate_code_is_its_own_segment() -> None:
    assert th.segment_of(_features(rate=None))["rate_code"] == "na"
    assert th.segment_of(_features(rate=math.nan))["rate_code"] == "na"


def test_fixed_mode_is_the_course_rule() -> None:
    doc = th.fixed_doc(10.0)
    assert th.decide(30.0, 19.9, _features(), doc).is_outlier
    assert not th.decide(29.0, 19.5, _features(), doc).is_outlier
    decision = th.decide(25.0, 20.0, None, None)  # no doc at all: fixed $10
    assert decision == th.Decision(False, "fixed", 10.0, 0.5)


def _doc() -> dict:
    return {
        "format": 1,
        "mode": "calibrated",
        "fixed_threshold": 10.0,
        "scored_rate_codes": [1, 2, 3, 4],
        "global": {"abs": 3.0, "rel": 0.3, "n": 1000},
        "segments": {
            "rate_code=2": {"abs": 1.0, "rel": 0.05, "n": 300},
            "rate_code=1|airport=no|distance_band=0-1": {"abs": 1.5, "rel": 0.2, "n": 400},
        },
    }


def test_calibrated_rule_backs_off_to_the_most_specific_known_segment() -> None:
    doc = _doc()
    short = th.decide(10.0, 7.0, _features(distance=0.5), doc)
    assert short.rule == "rate_code=1|airport=no|distance_band=0-1"
    assert short.threshold == pytest.approx(1.5) and short.is_outlier
    jfk = th.decide(75.0, 70.0, _features(distance=18, rate=2.0, airport=True), doc)
    assert jfk.rule == "rate_code=2" and jfk.is_outlier  # 5 > max(1, 0.05 * 70)
    other = th.decide(25.0, 20.0, _features(distance=5.0), doc)
    assert other.rule == "global"
    assert other.threshold == pytest.approx(6.0)  # max(3, 0.3 * 20)
    assert not other.is_outlier and other.score == pytest.approx(5 / 6)


def test_unscored_rate_codes_use_the_fixed_rule() -> None:
    decision = th.decide(60.0, 20.0, _features(rate=5.0), _doc())
    assert decision.rule == "fixed:rate_code=5" and decision.threshold == 10.0
    assert decision.is_outlier


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"passenger_count": 0}, "passengers"), ({"tpep_dropoff_datetime": "2024-03-05 10:00:30"},
     "duration"), ({"trip_distance": 30.0}, "speed")],
)
def test_trips_outside_the_training_domain_use_the_fixed_rule(changes: dict, reason: str) -> None:
    # GIVEN a calibrated document and a trip the training set would have filtered out
    from taximl.validation import validate_record

    base = {"tpep_pickup_datetime": "2024-03-05 10:00:00",
            "tpep_dropoff_datetime": "2024-03-05 10:15:00", "trip_distance": 3.0,
            "passenger_count": 1, "RatecodeID": 1, "PULocationID": 161, "DOLocationID": 236,
            "fare_amount": 15.0}
    doc = {"mode": th.MODE_CALIBRATED, "fixed_threshold": 10.0,
           "global": {"abs": 1.0, "rel": 0.05}, "segments": {}}
    inside = features_for_record(validate_record(base).trip)
    outside = features_for_record(validate_record({**base, **changes}).trip)
    # THEN the in-domain trip gets the calibrated rule, the other the course's fixed rule
    assert th.decide(20.0, 15.0, inside, doc).rule == "global"
    decision = th.decide(20.0, 15.0, outside, doc)
    assert decision.rule == f"fixed:out_of_domain={reason}" and not decision.is_outlier


def test_doc_json_round_trip_and_mode_switch() -> None:
    doc = _doc()
    assert th.doc_from_json(th.doc_to_json(doc)) == doc
    fixed = th.with_mode(doc, "fixed")
    assert th.decide(25.0, 20.0, _features(distance=0.5), fixed).rule == "fixed"
    with pytest.raises(ValueError):
        th.doc_from_json(json.dumps({"value": 1}))
    with pytest.raises(ValueError):
        th.with_mode(th.fixed_doc(), "calibrated")


def _residual_rows(n: int, seed: int = 7) -> tuple[list[float], list[float], list[dict]]:
    rng = random.Random(seed)
    actual, predicted, rows = [], [], []
    for _ in range(n):
        distance = rng.choice([0.5, 2.0, 5.0, 15.0])
        hour = rng.randrange(24)
        rate = 2.0 if rng.random() < 0.05 else 1.0
        pred = 70.0 if rate == 2.0 else 3.0 + 3.5 * distance
        noise = rng.gauss(0, 0.02 if rate == 2.0 else 0.1 * pred ** 0.5)
        actual.append(pred + noise)
        predicted.append(pred)
        rows.append(_features(distance=distance, hour=hour, dow=rng.randrange(7), rate=rate,
                              airport=rate == 2.0))
    return actual, predicted, rows


def test_calibration_hits_the_target_false_positive_rate() -> None:
    # GIVEN normal validation residuals  WHEN calibrated for 2 % with no floors
    actual, predicted, rows = _residual_rows(20_000)
    doc = th.calibrate(actual, predicted, rows, target_fpr=0.02, min_abs=0.0, min_rel=0.0,
                       model_version="mv-1")
    # THEN about 2 % of those rows and of fresh rows from the same process are flagged
    assert th.flagged_rate(actual, predicted, rows, doc) == pytest.approx(0.02, abs=0.004)
    a2, p2, r2 = _residual_rows(20_000, seed=8)
    assert th.flagged_rate(a2, p2, r2, doc) == pytest.approx(0.02, abs=0.006)
    assert doc["model_version"] == "mv-1" and doc["mode"] == "calibrated"
    assert doc["global"]["n"] == 20_000
    assert "rate_code=2" in doc["segments"]
    assert all(entry["n"] >= 200 for entry in doc["segments"].values())
    assert th.doc_from_json(th.doc_to_json(doc))["segments"] == doc["segments"]


def test_anomalies_in_the_validation_data_do_not_inflate_the_thresholds() -> None:
    # GIVEN validation data where 3 % of the trips carry inflated fares (as real history does)
    actual, predicted, rows = _residual_rows(10_000)
    rng = random.Random(3)
    polluted = [a * rng.uniform(1.5, 3.0) if rng.random() < 0.03 else a for a in actual]
    clean_doc = th.calibrate(actual, predicted, rows, target_fpr=0.01)
    # WHEN calibrated with the default far-out fence, and with no fence at all
    robust = th.calibrate(polluted, predicted, rows, target_fpr=0.01)
    naive = th.calibrate(polluted, predicted, rows, target_fpr=0.01, outlier_fence=None)
    # THEN the robust thresholds stay close to the clean ones; the naive ones swallow the anomalies
    assert robust["global"]["n_excluded"] > 200
    assert robust["global"]["abs"] == pytest.approx(clean_doc["global"]["abs"], rel=0.25)
    assert naive["global"]["abs"] > 2 * robust["global"]["abs"]
    a2, p2, r2 = _residual_rows(10_000, seed=11)
    assert th.flagged_rate(a2, p2, r2, robust) < 0.02  # false positives on fresh normal trips


def test_calibration_floors_keep_perfectly_predicted_segments_sane() -> None:
    actual, predicted, rows = _residual_rows(5_000)
    doc = th.calibrate(actual, predicted, rows, target_fpr=0.01)
    assert doc["segments"]["rate_code=2"]["abs"] >= th.DEFAULT_MIN_ABS
    # an inflated JFK fare is flagged, float noise is not
    jfk = _features(distance=18, rate=2.0, airport=True)
    assert th.decide(75.0, 70.0, jfk, doc).is_outlier
    assert not th.decide(70.01, 70.0, jfk, doc).is_outlier


def test_calibration_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features()], target_fpr=0.7)
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0, 2.0], [_features()])
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features(rate=5.0)])
