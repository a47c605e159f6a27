"""The synthetic trip generator: determinism, fare rules, anomalies, malformed rows, outputs."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from generate import SAMPLE_ARGS, generate, generate_frame, iter_chunks, main
from synth_trips import ANOMALY_LABELS, LABEL_COLUMN, TRIP_COLUMNS, GenConfig, generate_chunk
from synth_zones import BOROUGH_CODES, congestion_zone_mask

REPO_ROOT = Path(__file__).resolve().parents[1]
AMOUNTS = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount",
           "improvement_surcharge", "congestion_surcharge", "Airport_fee"]


@pytest.fixture(scope="module")
def trips() -> pd.DataFrame:
    """20,000 clean trips over two weeks of 2024 (no anomalies)."""
    return generate_frame(GenConfig(rows=20_000, seed=11, start=date(2024, 3, 4), days=14))


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    """The same trips with 5 % anomalies."""
    cfg = GenConfig(rows=20_000, seed=11, start=date(2024, 3, 4), days=14, anomaly_rate=0.05)
    return generate_frame(cfg)


# --- determinism -----------------------------------------------------------------------------
def test_same_seed_same_trips_and_different_seed_differs() -> None:
    cfg = GenConfig(rows=3000, seed=5)
    a, b = generate_frame(cfg), generate_frame(cfg)
    pd.testing.assert_frame_equal(a, b)
    c = generate_frame(GenConfig(rows=3000, seed=6))
    assert not a["fare_amount"].equals(c["fare_amount"])


def test_trip_values_do_not_depend_on_chunking() -> None:
    cfg = GenConfig(rows=5000, seed=3, anomaly_rate=0.05, malformed_rate=0.05)
    whole = generate_chunk(cfg, 0, 5000)
    pieces = pd.concat(list(iter_chunks(cfg, chunk_rows=777)), ignore_index=True)
    pd.testing.assert_frame_equal(whole, pieces)
    # Any single trip can be regenerated on its own.
    one = generate_chunk(cfg, 4321, 1).reset_index(drop=True)
    pd.testing.assert_frame_equal(one, whole.iloc[[4321]].reset_index(drop=True))


def test_chunk_size_does_not_change_the_file(tmp_path: Path) -> None:
    cfg = GenConfig(rows=4000, seed=9, anomaly_rate=0.03)
    generate(cfg, tmp_path / "a.csv", chunk_rows=4000)
    generate(cfg, tmp_path / "b.csv", chunk_rows=333)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_committed_sample_is_reproduced_byte_for_byte(tmp_path: Path) -> None:
    """The bundled sample is exactly what the documented command produces."""
    args = list(SAMPLE_ARGS)
    out_at = args.index("--out") + 1
    assert args[out_at] == "data/sample_nyc_taxi.csv"
    args[out_at] = str(tmp_path / "sample.csv")
    subprocess.run([sys.executable, str(REPO_ROOT / "data" / "generate.py"), *args, "--quiet"],
                   check=True, timeout=120)
    committed = REPO_ROOT / "data" / "sample_nyc_taxi.csv"
    assert (tmp_path / "sample.csv").read_bytes() == committed.read_bytes(), (
        "data/sample_nyc_taxi.csv drifted from the generator: regenerate it with "
        "`python data/generate.py " + " ".join(SAMPLE_ARGS) + "`"
    )
    readme = (REPO_ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "python data/generate.py " + " ".join(SAMPLE_ARGS) in readme


def test_sample_has_tlc_columns_and_a_few_labelled_anomalies() -> None:
    df = pd.read_csv(REPO_ROOT / "data" / "sample_nyc_taxi.csv", keep_default_na=False)
    assert list(df.columns) == [*TRIP_COLUMNS, LABEL_COLUMN]
    assert 4000 <= len(df) <= 10_000
    labels = df[LABEL_COLUMN].value_counts()
    assert set(labels.index) == {"", *ANOMALY_LABELS}
    assert 0.01 <= 1 - labels[""] / len(df) <= 0.04


# --- time and place --------------------------------------------------------------------------
def test_pickups_sorted_within_period_and_hour_profile(trips: pd.DataFrame) -> None:
    pickup = trips["tpep_pickup_datetime"]
    assert pickup.is_monotonic_increasing
    assert pickup.min() >= pd.Timestamp("2024-03-04")
    assert pickup.max() < pd.Timestamp("2024-03-18")
    assert (trips["tpep_dropoff_datetime"] > pickup).all()
    by_hour = pickup.dt.hour.value_counts(normalize=True)
    assert by_hour[18] > 3 * by_hour[4]  # evening peak, early-morning trough


def test_zones_manhattan_heavy_and_airports_present(trips: pd.DataFrame) -> None:
    pu = trips["PULocationID"].to_numpy(dtype=int)
    do = trips["DOLocationID"].to_numpy(dtype=int)
    assert pu.min() >= 1 and max(pu.max(), do.max()) <= 263
    boroughs = np.array(list(BOROUGH_CODES))
    assert 0.8 <= (boroughs[pu - 1] == "M").mean() <= 0.95
    jfk = ((pu == 132) | (do == 132)).mean()
    assert 0.03 <= jfk <= 0.12
    rate = trips["RatecodeID"]
    assert 0.03 <= (rate == 2).mean() <= 0.06
    assert 0.85 <= (rate == 1).mean() <= 0.95
    assert {3.0, 4.0, 5.0, 99.0} <= set(rate.dropna().unique())
    assert 0.015 <= rate.isna().mean() <= 0.05
    assert trips["passenger_count"].isna().mean() == pytest.approx(rate.isna().mean())


def test_distance_heavy_right_tail(trips: pd.DataFrame) -> None:
    d = trips["trip_distance"]
    q50, q90, q99 = d.quantile([0.5, 0.9, 0.99])
    assert 1.3 <= q50 <= 2.5
    assert q90 > 3 * q50 and q99 > 8 * q50
    assert (d >= 0).all() and d.max() < 100


def test_slower_at_rush_hour_than_at_night(trips: pd.DataFrame) -> None:
    minutes = (trips["tpep_dropoff_datetime"] - trips["tpep_pickup_datetime"]).dt.total_seconds()
    speed = trips["trip_distance"] / (minutes / 3600)
    hour = trips["tpep_pickup_datetime"].dt.hour
    local = trips["trip_distance"].between(1, 3)
    rush = speed[local & hour.isin([17, 18])].median()
    night = speed[local & hour.isin([2, 3])].median()
    assert rush < 0.75 * night


# --- fare rules ------------------------------------------------------------------------------
def test_metered_fares_follow_the_meter_grid(trips: pd.DataFrame) -> None:
    std = trips[(trips["RatecodeID"] == 1) & (trips["payment_type"] != 0)]
    units = (std["fare_amount"] - 3.0) / 0.70
    assert np.allclose(units, units.round(), atol=1e-6)
    minutes = (std["tpep_dropoff_datetime"] - std["tpep_pickup_datetime"]).dt.total_seconds() / 60
    # Each unit is 1/5 mile (fast) or one minute (slow): never more than both together.
    assert (units <= 5 * std["trip_distance"] + minutes + 1e-6).all()
    assert (std["fare_amount"] >= 3.0).all()


def test_jfk_flat_fare_and_rush_hour_surcharge(trips: pd.DataFrame) -> None:
    jfk = trips[trips["RatecodeID"] == 2]
    assert len(jfk) > 300
    assert (jfk["fare_amount"] == 70.0).all()
    pickup = jfk["tpep_pickup_datetime"]
    rush = (pickup.dt.day_of_week < 5) & pickup.dt.hour.between(16, 19)
    assert (jfk.loc[rush, "extra"] == 5.0).all() and rush.any()
    assert (jfk.loc[~rush, "extra"] == 0.0).all()
    pu, do = jfk["PULocationID"], jfk["DOLocationID"]
    assert ((pu == 132) | (do == 132)).all()


def test_newark_trips(trips: pd.DataFrame) -> None:
    ewr = trips[trips["RatecodeID"] == 3]
    assert len(ewr) > 10
    assert (ewr["DOLocationID"] == 1).all()
    units = (ewr["fare_amount"] - 23.0) / 0.70  # $3 start + $20 Newark surcharge
    assert np.allclose(units, units.round(), atol=1e-6)
    assert (ewr["trip_distance"] > 10).all()


def test_surcharges(trips: pd.DataFrame) -> None:
    assert (trips["mta_tax"] == 0.5).all()
    assert (trips["improvement_surcharge"] == 1.0).all()
    known = trips[trips["payment_type"] != 0]
    pu, do = known["PULocationID"].to_numpy(int), known["DOLocationID"].to_numpy(int)
    manhattan = congestion_zone_mask(pu) | congestion_zone_mask(do)
    assert (known["congestion_surcharge"].to_numpy() == np.where(manhattan, 2.5, 0.0)).all()
    airport_pickup = np.isin(pu, (132, 138))
    assert (known["Airport_fee"].to_numpy() == np.where(airport_pickup, 1.75, 0.0)).all()
    pickup = known["tpep_pickup_datetime"]
    metered = known[(known["RatecodeID"] == 1)]
    hour = metered["tpep_pickup_datetime"].dt.hour
    weekday = metered["tpep_pickup_datetime"].dt.day_of_week < 5
    lga = (metered["PULocationID"] == 138) | (metered["DOLocationID"] == 138)
    expected = (np.where(weekday & hour.between(16, 19), 2.5, 0.0)
                + np.where((hour >= 20) | (hour < 6), 1.0, 0.0) + np.where(lga, 5.0, 0.0))
    assert np.allclose(metered["extra"], expected)
    assert pickup.notna().all()


def test_total_is_the_sum_and_tips_mostly_on_cards(trips: pd.DataFrame) -> None:
    total = trips[AMOUNTS].fillna(0).sum(axis=1).round(2)
    assert np.allclose(total, trips["total_amount"], atol=0.005)
    card = trips["payment_type"] == 1
    assert (trips.loc[trips["payment_type"].isin([2, 3, 4]), "tip_amount"] == 0).all()
    assert 0.85 <= (trips.loc[card, "tip_amount"] > 0).mean() <= 0.97
    assert 0.7 <= card.mean() <= 0.85
    tolls = trips["tolls_amount"]
    airport = trips["PULocationID"].isin([132, 138]) | trips["DOLocationID"].isin([132, 138])
    assert (tolls[airport] > 0).mean() > 3 * (tolls[~airport] > 0).mean()
    assert set(tolls.unique()) <= {0.0, 6.94, 13.38}


# --- anomalies -------------------------------------------------------------------------------
def test_anomaly_rate_and_kinds(labelled: pd.DataFrame) -> None:
    labels = labelled[LABEL_COLUMN]
    assert labels.isin(["", *ANOMALY_LABELS]).all()
    assert 0.04 <= (labels != "").mean() <= 0.06
    shares = labels[labels != ""].value_counts(normalize=True)
    assert shares["inflated_fare"] == pytest.approx(0.45, abs=0.08)
    assert shares["wrong_flat_fare"] == pytest.approx(0.20, abs=0.06)
    assert shares["undercharged"] == pytest.approx(0.35, abs=0.08)


def test_anomalies_change_only_the_labelled_fares(trips: pd.DataFrame,
                                                  labelled: pd.DataFrame) -> None:
    label = labelled[LABEL_COLUMN]
    normal = label == ""
    base = trips.drop(columns=[LABEL_COLUMN])
    pd.testing.assert_frame_equal(labelled.drop(columns=[LABEL_COLUMN])[normal], base[normal])
    before, after = trips["fare_amount"], labelled["fare_amount"]
    inflated, under = label == "inflated_fare", label == "undercharged"
    assert (after[inflated] >= before[inflated] * 1.5 - 0.01).all()
    assert (after[inflated] - before[inflated] >= 6).all()
    assert (after[under] <= before[under] * 0.6 + 0.01).all()
    wrong = labelled[label == "wrong_flat_fare"]
    assert (wrong["RatecodeID"] == 2).all()
    assert ((wrong["fare_amount"] - 70).abs() >= 15).all()
    # Totals stay consistent with the (anomalous) fare.
    total = labelled[AMOUNTS].fillna(0).sum(axis=1).round(2)
    assert np.allclose(total, labelled["total_amount"], atol=0.005)


# --- outputs and malformed rows ------------------------------------------------------------
def test_parquet_output_schema_and_row_groups(tmp_path: Path) -> None:
    cfg = GenConfig(rows=2500, seed=2, anomaly_rate=0.02, text_malformations=False)
    summary = generate(cfg, tmp_path / "t.parquet", chunk_rows=1000)
    pf = pq.ParquetFile(tmp_path / "t.parquet")
    assert pf.metadata.num_rows == 2500 == summary.rows
    assert pf.metadata.num_row_groups == 3
    assert pf.schema_arrow.names == [*TRIP_COLUMNS, LABEL_COLUMN]
    assert str(pf.schema_arrow.field("tpep_pickup_datetime").type) == "timestamp[us]"
    df = pd.read_parquet(tmp_path / "t.parquet")
    expected = generate_frame(cfg)
    assert np.array_equal(df["fare_amount"], expected["fare_amount"])
    assert summary.anomalies == (expected[LABEL_COLUMN] != "").sum()
    assert not (tmp_path / "t.parquet.tmp").exists()


def test_no_label_column_without_anomalies(tmp_path: Path) -> None:
    generate(GenConfig(rows=100), tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv").columns.tolist() == list(TRIP_COLUMNS)


def test_csv_malformed_rows_are_labelled(tmp_path: Path) -> None:
    cfg = GenConfig(rows=6000, seed=4, malformed_rate=0.1)
    generate(cfg, tmp_path / "m.csv")
    raw = pd.read_csv(tmp_path / "m.csv", dtype=str, keep_default_na=False)
    label = raw[LABEL_COLUMN]
    assert 0.08 <= label.str.startswith("malformed_").mean() <= 0.12
    text = label == "malformed_non_numeric"
    numeric = pd.to_numeric(raw["fare_amount"], errors="coerce").isna() & (raw["fare_amount"] != "")
    numeric |= pd.to_numeric(raw["trip_distance"], errors="coerce").isna() & (
        raw["trip_distance"] != "")
    assert text.any() and (numeric == text).all()


def test_cli_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.parquet"
    assert main(["--rows", "3000", "--anomalies", "0.05", "--malformed", "0.02",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 3,000 trips" in printed and str(out) in printed
    assert "anomalies:" in printed and "malformed rows:" in printed and "non_finite=" in printed


def test_cli_rejects_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rows", "10", "--out", str(tmp_path / "x.json")]) == 2
    assert "csv or .parquet" in capsys.readouterr().err


# --- the trip record contract ---------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_contract_accepts_trips_and_rejects_malformed_rows(tmp_path: Path, suffix: str) -> None:
    validation = pytest.importorskip("taximl.validation")
    cfg = GenConfig(rows=8000, seed=21, anomaly_rate=0.05, malformed_rate=0.08,
                    text_malformations=suffix == ".csv")
    path = tmp_path / f"t{suffix}"
    generate(cfg, path)
    if suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        df = pd.read_parquet(path)
    label = df[LABEL_COLUMN].fillna("")
    bad = label.str.startswith("malformed_")

    good = validation.validate_frame(df[~bad])
    assert len(good.rejected) == 0, good.reason_counts()
    assert len(good.valid) == (~bad).sum()
    assert LABEL_COLUMN not in good.valid.columns

    broken = validation.validate_frame(df[bad])
    assert len(broken.valid) == 0
    expected_prefix = {
        "malformed_missing_field": "missing_field:",
        "malformed_dropoff_before_pickup": "dropoff_not_after_pickup",
        "malformed_non_numeric": "non_numeric:",
        "malformed_non_finite": "non_finite:",
        "malformed_negative_distance": "negative_distance",
        "malformed_unknown_location": "unknown_location:",
    }
    for lab, reason in zip(label[bad], broken.rejected["reason"], strict=True):
        assert reason.startswith(expected_prefix[lab]), (lab, reason)

    # The single-record path (the Lambda's) agrees on a few rows.
    for record in df.head(200).to_dict(orient="records"):
        check = validation.validate_record(record)
        assert check.ok == (not str(record[LABEL_COLUMN] or "").startswith("malformed_"))
