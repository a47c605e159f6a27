"""Labelled fare anomalies (magnitudes from the TLC rules) and the detection figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detection
import evaluation
import fare_anomalies as fa
from taximl.thresholds import OUTSIDE_UNJUDGED


def tlc_trips(n: int = 400, year: int = 2019, lga_every: int = 4) -> pd.DataFrame:
    """Metered yellow trips as the TLC writes them; every ``lga_every``-th touches LaGuardia."""
    rng = np.random.default_rng(5)
    pickup = pd.Timestamp(f"{year}-06-03 07:00") + pd.to_timedelta(np.arange(n) * 9, unit="min")
    minutes = rng.uniform(6, 45, n)
    fare = np.round(rng.uniform(6, 48, n) * 2) / 2
    pu = np.where(np.arange(n) % lga_every == 0, fa.LGA, 161)
    return pd.DataFrame({
        "VendorID": 2, "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + pd.to_timedelta(minutes, unit="min"),
        "passenger_count": 1.0, "trip_distance": np.round(minutes / 4, 2), "RatecodeID": 1.0,
        "PULocationID": pu, "DOLocationID": 236, "payment_type": 1, "fare_amount": fare,
        "tip_amount": 1.0, "total_amount": fare + 4.3,
    })


def test_anomalies_follow_the_tlc_rules_of_the_trip_date() -> None:
    # GIVEN 2019 metered trips, plus a negotiated fare, a broken row and a JFK trip
    trips = tlc_trips()
    trips.loc[1, "RatecodeID"] = 5.0
    trips.loc[2, "fare_amount"] = -7.0  # the contract rejects it: never labelled
    trips.loc[3, ["PULocationID", "DOLocationID"]] = [fa.JFK, 236]
    # WHEN 10 % of the valid trips get an anomaly
    injection = fa.inject(trips, rate=0.10, seed=7)
    out = injection.trips
    labels = out[fa.LABEL_COLUMN]
    # THEN 40 valid trips (of 399) are labelled, 10 per kind, none of them the odd rows
    assert injection.valid_trips == 399 and injection.requested == dict.fromkeys(fa.KINDS, 10)
    assert labels.value_counts().to_dict() == {"": 360, **dict.fromkeys(fa.KINDS, 10)}
    assert labels[[1, 2]].tolist() == ["", ""]
    old, new = out[fa.ORIGINAL_FARE_COLUMN], out["fare_amount"]
    # padded: double the metered part above the $2.50 initial charge of 2019
    padded = labels == "padded_fare"
    assert np.allclose(new[padded], np.round(2.5 + 2 * (old[padded] - 2.5), 2))
    # undercharged: 30-70 % of the metered part
    under = labels == "undercharged"
    share = (new[under] - 2.5) / (old[under] - 2.5)
    assert share.between(0.3 - 1e-3, 0.7 + 1e-3).all()
    # flat-rate abuse: LaGuardia trips charged the 2019 JFK flat fare
    flat = labels == "flat_rate_abuse"
    assert (new[flat] == 52.0).all() and (out.loc[flat, "PULocationID"] == fa.LGA).all()
    # made-up surcharge: the Newark $17.50 or the JFK rush-hour $4.50, never the airport touched
    surcharge = labels == "made_up_surcharge"
    added = (new[surcharge] - old[surcharge]).round(2)
    assert set(added) <= {17.5, 4.5}
    assert not ((out.loc[surcharge, "PULocationID"] == fa.JFK) & (added == 4.5)).any()
    # the total moved with the fare, unlabelled trips are untouched
    changed = labels != ""
    assert np.allclose(out.loc[changed, "total_amount"] - trips.loc[changed, "total_amount"],
                       new[changed] - old[changed])
    assert out.loc[~changed, "fare_amount"].equals(trips.loc[~changed, "fare_amount"])
    assert out.loc[~changed, fa.ORIGINAL_FARE_COLUMN].isna().all()
    # every labelled change is material: more than $2 and more than 10 % of the fare
    assert ((new[changed] - old[changed]).abs() > np.maximum(2.0, 0.1 * old[changed])).all()


def test_2023_trips_get_the_2023_amounts() -> None:
    injection = fa.inject(tlc_trips(year=2024), rate=0.2, seed=3)
    out = injection.trips
    labels = out[fa.LABEL_COLUMN]
    old, new = out[fa.ORIGINAL_FARE_COLUMN], out["fare_amount"]
    assert (new[labels == "flat_rate_abuse"] == 70.0).all()
    surcharge = labels == "made_up_surcharge"
    assert set((new[surcharge] - old[surcharge]).round(2)) <= {20.0, 5.0}
    padded = labels == "padded_fare"
    assert np.allclose(new[padded], np.round(3.0 + 2 * (old[padded] - 3.0), 2))


def test_the_same_seed_gives_the_same_anomalies() -> None:
    trips = tlc_trips()
    first = fa.inject(trips, seed=11).trips
    assert first.equals(fa.inject(trips, seed=11).trips)
    assert not first[fa.LABEL_COLUMN].equals(fa.inject(trips, seed=12).trips[fa.LABEL_COLUMN])


def test_immaterial_draws_are_left_untouched_and_counted() -> None:
    # GIVEN short trips of $4.50: undercharging them can take at most $1.40 off
    trips = tlc_trips(200)
    trips["fare_amount"] = 4.5
    injection = fa.inject(trips, rate=0.04, seed=1, kinds=("undercharged", "padded_fare"))
    # THEN no undercharge is labelled (every draw was immaterial), padding ($2 more) neither,
    # and the counts say so
    assert injection.injected == {"undercharged": 0, "padded_fare": 0}
    assert injection.immaterial_draws == {"undercharged": 200, "padded_fare": 200}
    assert (injection.trips[fa.LABEL_COLUMN] == "").all()


def test_text_columns_stay_text() -> None:
    trips = tlc_trips(100).astype({"fare_amount": str, "total_amount": str})
    out = fa.inject(trips, rate=0.2, seed=2).trips
    labelled = out[fa.LABEL_COLUMN] != ""
    assert out.loc[labelled, "fare_amount"].map(type).eq(str).all()
    assert out.loc[labelled, "fare_amount"].str.match(r"^\d+\.\d\d$").all()


def test_bad_requests_are_refused() -> None:
    trips = tlc_trips(20)
    with pytest.raises(ValueError, match="rate"):
        fa.inject(trips, rate=0.6)
    with pytest.raises(ValueError, match="unknown anomaly kinds"):
        fa.inject(trips, kinds=("skimming",))
    with pytest.raises(ValueError, match="rate_code_id"):
        fa.inject(trips.drop(columns=["RatecodeID"]))


@settings(max_examples=40, deadline=None)
@given(fares=st.lists(st.floats(min_value=2.5, max_value=400, allow_nan=False), min_size=30,
                      max_size=60),
       seed=st.integers(0, 10_000))
def test_every_label_is_a_material_change_in_the_kind_direction(fares: list[float],
                                                                seed: int) -> None:
    trips = tlc_trips(len(fares))
    trips["fare_amount"] = np.round(fares, 2)
    out = fa.inject(trips, rate=0.3, seed=seed).trips
    labels = out[fa.LABEL_COLUMN]
    change = out["fare_amount"] - trips["fare_amount"]
    labelled = labels != ""
    assert (change[~labelled] == 0).all()
    assert (change.abs()[labelled] > np.maximum(2.0, 0.1 * trips["fare_amount"][labelled])).all()
    assert (change[labels == "undercharged"] < 0).all()
    assert (change[labels.isin(["padded_fare", "made_up_surcharge", "flat_rate_abuse"])] > 0).all()


# --- figures -------------------------------------------------------------------------------
def _decided(flags: list[bool], judged: list[bool] | None = None) -> pd.DataFrame:
    n = len(flags)
    return pd.DataFrame({"is_outlier": flags, "judged": judged or [True] * n,
                         "rule": ["global"] * n, "predicted": np.linspace(5, 50, n),
                         "actual": np.linspace(5, 50, n), "residual": 0.0})


def test_detection_metrics_count_exactly() -> None:
    # GIVEN 6 labelled trips (4 caught), 200 untouched (1 flagged, 2 not judged)
    labels = ["padded_fare"] * 3 + ["undercharged"] * 3 + [""] * 200
    flags = [True, True, True, True, False, False] + [True] + [False] * 199
    judged = [True] * 5 + [False] + [True] * 198 + [False, False]
    metrics = detection.detection_metrics(_decided(flags, judged), labels)
    assert metrics["kinds"]["padded_fare"] | {"ci95": None} == {
        "trips": 3, "caught": 3, "recall": 1.0, "ci95": None, "not_judged": 0}
    assert metrics["kinds"]["undercharged"]["caught"] == 1
    assert metrics["kinds"]["undercharged"]["not_judged"] == 1
    assert metrics["recall"]["recall"] == pytest.approx(4 / 6)
    assert metrics["untouched"]["flagged"] == 1 and metrics["untouched"]["trips"] == 200
    assert metrics["untouched_judged"]["trips"] == 198 and metrics["untouched_not_judged"] == 2
    assert metrics["precision"]["precision"] == pytest.approx(4 / 5)
    targets = metrics["targets"]
    assert targets["recall"]["met"] is False and targets["precision"]["met"] is True
    assert targets["untouched_flagged_rate"]["met"] is True  # 0.5 % <= 0.75 %
    text = detection.format_detection(metrics)
    assert "recall                             0.667  (target >= 0.97: NOT met)" in text
    assert "untouched_flagged_rate             0.50%  (target <= 0.75%: met)" in text
    with pytest.raises(ValueError):
        detection.detection_metrics(_decided([True]), ["", ""])


def test_plots_are_written(tmp_path: Path) -> None:
    doc = {"mode": "calibrated", "outside_domain": OUTSIDE_UNJUDGED,
           "materiality": {"abs": 2.0, "rel": 0.1}, "global": {"abs": 2.0, "rel": 0.1},
           "segments": {}}
    features = pd.DataFrame({"trip_distance": np.linspace(0.5, 12, 60), "pickup_hour": 10.0,
                             "pickup_dow": 2.0, "rate_code_id": 1.0, "is_airport_trip": 0.0})
    predicted = 3 + 2.5 * features["trip_distance"].to_numpy()
    actual = predicted.copy()
    actual[:3] += 15
    decided = evaluation.decisions_frame(features, actual, predicted, doc)
    paths = detection.write_plots(decided, ["padded_fare"] * 3 + [""] * 57, doc, tmp_path)
    assert [p.name for p in paths] == list(detection.PLOT_FILES)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert detection.threshold_curve(doc["global"], doc["materiality"], [5.0, 50.0]).tolist() \
        == [2.0, 5.0]
