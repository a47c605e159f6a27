"""Pure logic of the batch steps: image lookup, SQL files, splitting, channels, metrics, gate."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import athena_sql
import deployment
import evaluation
import registry
import trainset
import xgb_training
from taximl.errors import InvalidInputError
from taximl.features import FEATURE_COLUMNS
from taximl.io import read_trips
from xgboost_image import image_uri

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_nyc_taxi.csv"


# --- image lookup ------------------------------------------------------------------------
def test_builtin_xgboost_image_per_region() -> None:
    assert image_uri("us-east-1") == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert image_uri("eu-west-1", "1.5-1") == (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.5-1"
    )
    assert image_uri("cn-north-1").endswith(".amazonaws.com.cn/sagemaker-xgboost:1.7-1")
    with pytest.raises(ValueError, match="no SageMaker built-in XGBoost image"):
        image_uri("mars-north-1")


# --- SQL files -----------------------------------------------------------------------------
def test_course_csv_ddl_fix_stays_documented() -> None:
    sql = athena_sql.render_sql("raw_trips_csv_table", database="db", raw_table="raw_csv",
                                raw_bucket="bucket")
    assert "LazySimpleSerDe" in sql and "'field.delim' = ','" in sql
    assert "'skip.header.line.count' = '1'" in sql
    assert "separatorChar" not in sql and "--" not in sql  # comments stay in the file
    assert "LOCATION 's3://bucket/csv/yellow/'" in sql
    text = (athena_sql.SQL_DIR / "raw_trips_csv_table.sql").read_text()
    assert "'separatorChar' belongs to OpenCSVSerde" in text


@pytest.mark.parametrize("taxi_type", ["yellow", "green"])
def test_raw_parquet_ddl_matches_the_bronze_layout(taxi_type: str) -> None:
    # GIVEN the raw table DDL of a taxi type and the layout setup_datalake.py writes
    import bronze

    sql = athena_sql.render_sql(f"raw_{taxi_type}_table", database="db", raw_table="raw",
                                raw_bucket="bucket")
    body = sql[sql.index("(") + 1: sql.index("PARTITIONED BY")].rsplit(")", 1)[0]
    columns = [tuple(line.strip().rstrip(",").split()) for line in body.strip().splitlines()]
    # THEN the same columns, in the same order, with the same types
    assert [(n, t.lower()) for n, t in columns] == list(bronze.RAW_COLUMNS[taxi_type])
    assert f"CREATE EXTERNAL TABLE IF NOT EXISTS db.raw_{taxi_type}" in sql
    assert "STORED AS PARQUET" in sql and f"LOCATION 's3://bucket/trips/{taxi_type}/'" in sql
    assert "PARTITIONED BY (year STRING, month STRING)" in sql


def test_partition_ddl_points_at_the_taxi_type_folder() -> None:
    sql = athena_sql.render_sql("add_raw_partition", database="db", raw_table="raw",
                                raw_bucket="b", taxi_type="green", year="2024", month="02")
    assert sql.splitlines()[0] == "ALTER TABLE db.raw_green ADD IF NOT EXISTS"
    assert "LOCATION 's3://b/trips/green/year=2024/month=02/'" in sql


def test_ctas_unions_the_taxi_types_and_keeps_course_filters() -> None:
    sql = athena_sql.render_sql(
        "create_training_set", database="db", raw_table="raw", training_table="train",
        location="s3://p/training/x/trips/", from_month="202401", to_month="202412",
        sample_fraction="0.5",
    )
    assert "${" not in sql
    assert "external_location = 's3://p/training/x/trips/'" in sql
    assert "FROM db.raw_yellow" in sql and "FROM db.raw_green" in sql and "UNION ALL" in sql
    assert "'yellow' AS taxi_type" in sql and "'green' AS taxi_type" in sql
    for condition in ("fare_amount > 0", "trip_distance > 0", "rate_code_id IN (1, 2, 3, 4)",
                      "rand() < 0.5", "BETWEEN 60 AND 10800", "BETWEEN '202401' AND '202412'"):
        assert condition in sql
    assert "passenger_count > 0" not in sql  # no fare depends on it (see the SQL comment)
    with pytest.raises(InvalidInputError, match="placeholder"):
        athena_sql.render_sql("create_training_set", database="db")


# --- training set ------------------------------------------------------------------------
def _trips(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    pickup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n) * 600, unit="s")
    minutes = rng.uniform(3, 40, n)
    distance = np.round(minutes / 4, 2)
    return pd.DataFrame({
        "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + pd.to_timedelta(minutes, unit="m"),
        "passenger_count": 1.0,
        "trip_distance": distance,
        "RatecodeID": 1.0,
        "PULocationID": 161,
        "DOLocationID": 236,
        "fare_amount": np.round(3 + 3.5 * distance, 2),
    })


def test_time_split_orders_train_validation_calibration_test_in_time() -> None:
    trips = validate(_trips(200))
    splits = trainset.time_split(trips)
    assert [len(splits[k]) for k in trainset.SPLIT_NAMES] == [150, 10, 20, 20]
    pickup = trips["pickup_datetime"]
    for earlier, later in zip(trainset.SPLIT_NAMES, trainset.SPLIT_NAMES[1:], strict=False):
        assert pickup[splits[earlier]].max() < pickup[splits[later]].min()
    # a caller that tests on a later month of its own asks for no test split
    no_test = trainset.time_split(trips, (0.8, 0.1, 0.1, 0.0))
    assert [len(no_test[k]) for k in trainset.SPLIT_NAMES] == [160, 20, 20, 0]
    for bad in ((0.5, 0.5, 0.5), (0.7, 0.1, 0.1, 0.2), (0.9, 0.1, 0.0, 0.0)):
        with pytest.raises(InvalidInputError):
            trainset.time_split(trips, bad)


def validate(frame: pd.DataFrame) -> pd.DataFrame:
    from taximl.validation import validate_frame

    return validate_frame(frame).valid


def test_prepare_and_channel_csv_follow_the_builtin_xgboost_format() -> None:
    # GIVEN trips, one of them with a missing passenger count and one broken row
    frame = _trips(500)
    frame.loc[5, "passenger_count"] = np.nan
    frame.loc[7, "fare_amount"] = -4.0
    data = trainset.prepare(frame)
    # THEN the broken row is rejected with its reason and the splits cover the rest
    assert data.rejected == {"negative_fare": 1}
    assert sum(len(p) for p in data.parts().values()) == 499
    assert list(data.parts()) == ["train", "validation", "calibration", "test"]
    # AND the CSV has the label first, no header, one column per feature, empty = missing
    body = trainset.channel_csv(data.train).decode()
    lines = body.splitlines()
    assert len(lines) == len(data.train)
    assert all(len(line.split(",")) == 1 + len(FEATURE_COLUMNS) for line in lines)
    assert not re.search(r"[a-z_]", lines[0])  # no header
    parsed = pd.read_csv(io.StringIO(body), header=None)
    np.testing.assert_allclose(parsed[0].to_numpy(), data.train.label)
    assert parsed.isna().to_numpy().sum() == data.train.features.isna().to_numpy().sum()


def test_prepare_refuses_too_little_data() -> None:
    with pytest.raises(InvalidInputError, match="too few valid trips"):
        trainset.prepare(_trips(30))


@pytest.mark.skipif(not SAMPLE.exists(), reason="bundled sample not generated yet")
def test_plausibility_filter_on_the_bundled_sample() -> None:
    valid = validate(read_trips(SAMPLE))
    mask = trainset.plausible_mask(valid)
    kept = valid[mask]
    assert 0.7 < mask.mean() < 1.0
    assert kept["rate_code_id"].isin([1, 2, 3, 4]).all()
    assert (kept["fare_amount"] >= 2.5).all()


def test_plausibility_filter_keeps_trips_without_a_passenger_count() -> None:
    # GIVEN trips whose driver left the passenger count at 0 or empty
    trips = validate(_trips(10))
    trips.loc[0, "passenger_count"] = 0.0
    trips.loc[1, "passenger_count"] = np.nan
    trips.loc[2, "trip_distance"] = 0.0
    # THEN only the broken meter reading is out (the CTAS keeps the same trips)
    assert trainset.plausible_mask(trips).tolist() == [True, True, False] + [True] * 7


# --- local training twin -------------------------------------------------------------------
def test_xgb_args_match_the_container_semantics() -> None:
    args = xgb_training.xgb_args(xgb_training.HYPERPARAMETERS, nthread=2)
    assert args.num_round == 600 and args.early_stopping_rounds == 30
    assert args.params["max_depth"] == 8 and args.params["eta"] == 0.1
    assert args.params["objective"] == "reg:squarederror" and args.params["nthread"] == 2
    assert "num_round" not in args.params


def test_model_archive_round_trip_predicts_the_same() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (300, 3))
    y = 3 + 2 * x[:, 0]
    booster = xgb_training.train_booster(
        (x, y), None, {"objective": "reg:squarederror", "num_round": "20", "max_depth": "3"}
    )
    loaded = xgb_training.load_archive(xgb_training.model_archive(booster))
    np.testing.assert_allclose(xgb_training.predict(loaded, x), xgb_training.predict(booster, x))


# --- evaluation ----------------------------------------------------------------------------
def test_regression_metrics_values() -> None:
    m = evaluation.regression_metrics(np.array([10.0, 12.0, 8.0, 10.0]),
                                      np.array([10.0, 10.0, 10.0, 10.0]))
    assert m["n"] == 4 and m["rmse"] == pytest.approx(np.sqrt(2.0), abs=1e-4)
    assert m["mae"] == 1.0 and m["bias"] == 0.0
    assert m["residual_quantiles"]["p50"] == 0.0


def test_evaluate_reports_overall_and_segments_for_every_predictor() -> None:
    data = trainset.prepare(_trips(400))
    test = data.test
    perfect = test.label.copy()
    report = evaluation.evaluate(test, {"model": perfect, "meter_formula": perfect + 1.0})
    assert report["overall"]["model"]["rmse"] == 0.0
    assert report["overall"]["meter_formula"]["mae"] == 1.0
    assert set(report["segments"]) == {"rate_code", "airport", "distance_band", "hour_band"}
    assert report["segments"]["rate_code"]["1"]["model"]["n"] == len(test)
    assert evaluation.beats_baselines(report) == {"meter_formula": True}
    table = evaluation.format_table(report)
    assert table.splitlines()[2].startswith("ALL") and "rate_code=1" in table


def test_template_baseline_uses_the_course_features_only() -> None:
    data = trainset.prepare(_trips(400))
    matrix = evaluation.template_matrix(data.test.trips)
    assert matrix.shape == (len(data.test), len(evaluation.TEMPLATE_COLUMNS))
    pred = evaluation.template_baseline(data.train, data.test)
    assert pred.shape == (len(data.test),) and np.isfinite(pred).all()


# --- flagged rates ---------------------------------------------------------------------------
@pytest.mark.parametrize(("flagged", "n"), [(5, 1000), (0, 200), (37, 9429), (300, 300)])
def test_wilson_interval_matches_scipy(flagged: int, n: int) -> None:
    from scipy.stats import binomtest

    expected = binomtest(flagged, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = evaluation.wilson_interval(flagged, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_interval_of_nothing_is_everything() -> None:
    assert evaluation.wilson_interval(0, 0) == (0.0, 1.0)


def test_flag_rates_report_target_achieved_and_segments() -> None:
    # GIVEN a calibrated document and test rows: 2 of 200 standard trips off by $5, one
    # negotiated fare (not judged)
    from taximl.thresholds import OUTSIDE_UNJUDGED

    data = trainset.prepare(_trips(1000))
    test = data.test
    actual = test.label.copy()
    actual[:2] += 5.0
    features = test.features.copy()
    features.loc[features.index[-1], "rate_code_id"] = 5.0
    doc = {"format": 2, "mode": "calibrated", "fixed_threshold": 10.0, "target_fpr": 0.005,
           "outside_domain": OUTSIDE_UNJUDGED, "materiality": {"abs": 2.0, "rel": 0.1},
           "global": {"abs": 2.0, "rel": 0.1}, "segments": {}}
    decided = evaluation.decisions_frame(features, actual, test.label, doc)
    rates = evaluation.flag_rates(decided, 0.005)
    # THEN the overall rate is over judged trips, with its interval, next to the target
    assert rates["overall"]["trips"] == len(test) - 1 and rates["overall"]["flagged"] == 2
    assert rates["overall"]["rate"] == pytest.approx(2 / (len(test) - 1), abs=1e-6)
    assert rates["overall"]["ci95"][0] < rates["overall"]["rate"] < rates["overall"]["ci95"][1]
    assert rates["target"] == 0.005 and rates["not_judged"] == 1
    assert rates["not_judged_by_rule"] == {"unjudged:rate_code=5": 1}
    assert rates["segments"]["rate_code"]["1"]["flagged"] == 2
    assert rates["rules"]["global"]["trips"] == len(test) - 1
    assert "target 0.50%" in evaluation.format_flag_rates(rates)


# --- approval gate -------------------------------------------------------------------------
def test_gate_first_version_must_beat_the_meter_formula() -> None:
    ok = registry.gate(0.8, current_rmse=None, current_version=None, meter_rmse=2.5)
    assert ok.approve and ok.status == "Approved" and "meter formula" in ok.reason
    bad = registry.gate(3.0, current_rmse=None, current_version=None, meter_rmse=2.5)
    assert not bad.approve and bad.status == "PendingManualApproval"


def test_gate_needs_the_margin_over_the_approved_version() -> None:
    better = registry.gate(0.90, current_rmse=1.0, current_version=3, meter_rmse=2.5, margin=0.05)
    assert better.approve and "version 3" in better.reason
    close = registry.gate(0.97, current_rmse=1.0, current_version=3, meter_rmse=2.5, margin=0.05)
    assert not close.approve and "needs <= 0.9500" in close.reason


def _rates(rate: float) -> dict:
    return {"target": 0.005, "overall": {"rate": rate, "ci95": [rate / 2, rate * 2]}}


def test_flag_rate_gate_leaves_the_version_pending_above_one_and_a_half_targets() -> None:
    from training_flow import gate_on_flag_rate

    approved = registry.GateDecision(True, "first approved version: test RMSE 0.7 beats ...")
    # within 1.5 x the target: the RMSE decision stands
    assert gate_on_flag_rate(approved, _rates(0.0075)) is approved
    # above it: pending, with the achieved rate, its interval and the target in the reason
    pending = gate_on_flag_rate(approved, _rates(0.0080))
    assert not pending.approve and pending.status == "PendingManualApproval"
    assert "0.80% of the test trips" in pending.reason
    assert "1.5 x the 0.50% target" in pending.reason
    # a version the RMSE gate already refused keeps that reason first
    refused = registry.GateDecision(False, "test RMSE 3.0 does not beat the meter formula")
    both = gate_on_flag_rate(refused, _rates(0.02))
    assert not both.approve and both.reason.startswith("test RMSE 3.0") and "2.00%" in both.reason


# --- deployment naming ---------------------------------------------------------------------
def test_endpoint_config_names_the_variant_after_the_version() -> None:
    request = deployment.endpoint_config_request("cfg", "model", 7, deployment.ServingOptions())
    variant = request["ProductionVariants"][0]
    assert variant["VariantName"] == "mv-7"
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    serverless = deployment.ServingOptions(serverless_memory_mb=2048)
    variant = deployment.endpoint_config_request("c", "m", 7, serverless)["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant
    with pytest.raises(InvalidInputError):
        deployment.ServingOptions(serverless_memory_mb=1500).variant_config()


def test_resource_names_fit_sagemaker_limits() -> None:
    name = deployment.resource_name("x" * 80, 123, "20260101-000000")
    assert len(name) <= 63 and name.endswith("-mv-123-20260101-000000")
    assert deployment.version_of_variant("mv-12") == 12
    assert deployment.version_of_variant("AllTraffic") is None


def test_strip_comment_respects_quotes() -> None:
    assert athena_sql.strip_comment("a = 1 -- note") == "a = 1 "
    assert athena_sql.strip_comment("x = '--not a comment' -- yes") == "x = '--not a comment' "


def test_threshold_mode_round_trip_fixed_then_calibrated() -> None:
    # GIVEN a calibrated document that was once deployed in the course's fixed mode
    from release import thresholds_in_mode
    from taximl.thresholds import MODE_CALIBRATED, MODE_FIXED, with_mode

    calibrated = {"format": 1, "mode": MODE_CALIBRATED, "fixed_threshold": 10.0,
                  "global": {"abs": 2.0, "rel": 0.2, "n": 500}, "segments": {}}
    stored_fixed = thresholds_in_mode(calibrated, MODE_FIXED, 10.0, 3)
    assert stored_fixed["mode"] == MODE_FIXED and "global" in stored_fixed
    # WHEN the next deploy asks for calibrated thresholds THEN it gets them back
    back = thresholds_in_mode(stored_fixed, MODE_CALIBRATED, 10.0, 3)
    assert back == with_mode(calibrated, MODE_CALIBRATED)
    # and a version that was never calibrated falls back to the fixed rule
    assert thresholds_in_mode(None, MODE_CALIBRATED, 7.5, 4)["fixed_threshold"] == 7.5
