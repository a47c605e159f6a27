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


def test_unscored_rate_codes_use_the_fixed_rule_in_documents_of_format_1() -> None:
    decision = th.decide(60.0, 20.0, _features(rate=5.0), _doc())
    assert decision.rule == "fixed:rate_code=5" and decision.threshold == 10.0
    assert decision.is_outlier


def test_unscored_rate_codes_are_not_judged_when_the_document_says_so() -> None:
    # GIVEN a calibrated document that leaves unjudgeable trips alone (calibrate's default)
    doc = {**_doc(), "outside_domain": th.OUTSIDE_UNJUDGED}
    # WHEN a negotiated fare (rate code 5) and a trip with no rate code are decided
    negotiated = th.decide(150.0, 12.0, _features(rate=5.0), doc)
    missing = th.decide(34.47, 81.3, _features(rate=None), doc)
    # THEN neither is flagged, both say why, and no threshold or score is claimed
    assert negotiated == th.Decision(False, "unjudged:rate_code=5", 0.0, 0.0)
    assert missing == th.Decision(False, "unjudged:rate_code=na", 0.0, 0.0)
    assert not th.is_judged(negotiated)
    assert th.is_judged(th.decide(10.0, 7.0, _features(distance=0.5), doc))


_BASE_TRIP = {"tpep_pickup_datetime": "2024-03-05 10:00:00",
              "tpep_dropoff_datetime": "2024-03-05 10:15:00", "trip_distance": 3.0,
              "passenger_count": 1, "RatecodeID": 1, "PULocationID": 161, "DOLocationID": 236,
              "fare_amount": 15.0}


def _trip_features(**changes: object) -> dict:
    from taximl.validation import validate_record

    checked = validate_record({**_BASE_TRIP, **changes})
    assert checked.ok, checked.reason
    return features_for_record(checked.trip)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"tpep_dropoff_datetime": "2024-03-05 10:00:30"}, "duration"),
     ({"trip_distance": 30.0}, "speed"), ({"trip_distance": 0.0}, "distance")],
)
def test_trips_outside_the_training_domain(changes: dict, reason: str) -> None:
    # GIVEN a trip the training set would have filtered out (broken meter data)
    doc = {"mode": th.MODE_CALIBRATED, "fixed_threshold": 10.0,
           "global": {"abs": 1.0, "rel": 0.05}, "segments": {}}
    inside, outside = _trip_features(), _trip_features(**changes)
    # THEN the in-domain trip gets the calibrated rule; the other one the course's fixed rule
    # (format-1 documents) or no judgement at all (outside_domain = unjudged)
    assert th.decide(20.0, 15.0, inside, doc).rule == "global"
    fixed = th.decide(20.0, 15.0, outside, doc)
    assert fixed.rule == f"fixed:out_of_domain={reason}" and not fixed.is_outlier
    unjudged = th.decide(99.0, 15.0, outside, {**doc, "outside_domain": th.OUTSIDE_UNJUDGED})
    assert unjudged == th.Decision(False, f"unjudged:out_of_domain={reason}", 0.0, 0.0)


@pytest.mark.parametrize("passengers", [0, None])
def test_the_passenger_count_is_not_part_of_the_domain(passengers: object) -> None:
    # GIVEN a trip whose driver left the passenger count at 0 or empty (no fare depends on it)
    features = _trip_features(passenger_count=passengers)
    doc = {"mode": th.MODE_CALIBRATED, "fixed_threshold": 10.0,
           "outside_domain": th.OUTSIDE_UNJUDGED, "global": {"abs": 1.0, "rel": 0.05},
           "segments": {}}
    # THEN the calibrated thresholds judge it like any other trip
    assert th.outside_training_domain(features) is None
    assert th.decide(20.0, 15.0, features, doc) == th.Decision(True, "global", 1.0, 5.0)


def test_materiality_floor_of_the_document_applies_to_every_entry() -> None:
    # GIVEN entries tighter than the document's materiality floor ($2 and 10 %)
    doc = {**_doc(), "materiality": {"abs": 2.0, "rel": 0.10}}
    short = _features(distance=0.5)
    # THEN $1.90 off a $7 fare is not flagged (the entry alone would flag it), $2.10 is
    assert th.decide(7.0, 5.1, short, _doc()).is_outlier
    assert not th.decide(7.0, 5.1, short, doc).is_outlier
    assert th.decide(7.2, 5.1, short, doc).is_outlier
    # AND on a $70 JFK fare the floor is 10 % of the prediction: $7
    jfk = _features(distance=18, rate=2.0, airport=True)
    assert th.decide(76.9, 70.0, jfk, doc).threshold == pytest.approx(7.0)
    assert not th.decide(76.9, 70.0, jfk, doc).is_outlier


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


def test_calibration_hits_the_target_flagged_rate() -> None:
    # GIVEN residuals the model never saw  WHEN calibrated for 2 % with no materiality floor
    actual, predicted, rows = _residual_rows(20_000)
    doc = th.calibrate(actual, predicted, rows, target_fpr=0.02, materiality_abs=0.0,
                       materiality_rel=0.0, model_version="mv-1")
    # THEN at most 2 % of those rows (split-conformal quantile) and about 2 % of fresh rows
    # from the same process are flagged
    assert 0.017 <= th.flagged_rate(actual, predicted, rows, doc) <= 0.02
    a2, p2, r2 = _residual_rows(20_000, seed=8)
    assert th.flagged_rate(a2, p2, r2, doc) == pytest.approx(0.02, abs=0.006)
    assert doc["model_version"] == "mv-1" and doc["mode"] == "calibrated"
    assert doc["format"] == 2 and doc["outside_domain"] == th.OUTSIDE_UNJUDGED
    assert doc["global"]["n"] == 20_000
    assert doc["min_segment_rows"] == th.min_rows_for(0.02) == 1000
    jfk_rows = sum(row["rate_code_id"] == 2.0 for row in rows)
    assert ("rate_code=2" in doc["segments"]) == (jfk_rows >= 1000)
    assert "rate_code=1|airport=no|distance_band=0-1" in doc["segments"]
    assert all(entry["n"] >= 1000 for entry in doc["segments"].values())
    assert th.doc_from_json(th.doc_to_json(doc))["segments"] == doc["segments"]


def test_segments_need_enough_rows_for_their_tail_quantile() -> None:
    # GIVEN 5,000 rows, about 250 of them JFK trips, and a 0.5 % target
    actual, predicted, rows = _residual_rows(5_000)
    doc = th.calibrate(actual, predicted, rows, target_fpr=0.005)
    # THEN a segment needs 20 / 0.005 = 4,000 rows: only the coarse ones get their own entry
    # and the JFK trips back off to their rate code's parent, the global entry
    assert doc["min_segment_rows"] == 4_000
    assert set(doc["segments"]) <= {"rate_code=1", "rate_code=1|airport=no"}
    jfk = _features(distance=18, rate=2.0, airport=True)
    assert th.decide(75.0, 70.0, jfk, doc).rule == "global"


def test_history_anomalies_are_part_of_the_calibration() -> None:
    # GIVEN calibration data where 3 % of the trips carry inflated fares (as real history does)
    actual, predicted, rows = _residual_rows(10_000)
    rng = random.Random(3)
    polluted = [a * rng.uniform(1.5, 3.0) if rng.random() < 0.03 else a for a in actual]
    # WHEN calibrated for 5 % (above the share of anomalies) with no floor
    doc = th.calibrate(polluted, predicted, rows, target_fpr=0.05, materiality_abs=0.0,
                       materiality_rel=0.0)
    # THEN no trimming happens: the rate on the same rows is the target, anomalies included,
    # so the achieved rate on new data like it cannot be optimistic
    assert 0.045 <= th.flagged_rate(polluted, predicted, rows, doc) <= 0.05
    assert "n_excluded" not in doc["global"] and "outlier_fence" not in doc


def test_calibration_floors_keep_perfectly_predicted_segments_sane() -> None:
    actual, predicted, rows = _residual_rows(5_000)
    doc = th.calibrate(actual, predicted, rows, target_fpr=0.01, min_segment_rows=100)
    jfk_entry = doc["segments"]["rate_code=2"]
    assert jfk_entry["abs"] == th.DEFAULT_MATERIALITY_ABS
    assert jfk_entry["abs_calibrated"] < 0.1  # what the JFK residuals alone would give
    # an inflated JFK fare is flagged, float noise and a few dollars are not
    jfk = _features(distance=18, rate=2.0, airport=True)
    assert th.decide(80.0, 70.0, jfk, doc).is_outlier
    assert not th.decide(70.01, 70.0, jfk, doc).is_outlier
    assert not th.decide(75.0, 70.0, jfk, doc).is_outlier  # 7 % of the fare: immaterial


def test_calibration_leaves_unjudged_rows_out() -> None:
    actual, predicted, rows = _residual_rows(2_000)
    negotiated = [_features(rate=5.0)] * 300
    doc = th.calibrate([*actual, *[200.0] * 300], [*predicted, *[10.0] * 300],
                       [*rows, *negotiated], target_fpr=0.01)
    assert doc["calibration_rows"] == {"judged": 2_000, "not_judged": 300}
    assert doc["global"]["n"] == 2_000


def test_calibration_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features()], target_fpr=0.7)
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0, 2.0], [_features()])
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features(rate=5.0)])
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features()], materiality_abs=-1.0)
    with pytest.raises(ValueError):
        th.calibrate([1.0], [1.0], [_features()], outside_domain="ignore")
