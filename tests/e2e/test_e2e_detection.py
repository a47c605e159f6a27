"""The detection evaluation, through the streaming path: producer -> Kinesis -> Lambda -> gold.

A fare model trained on a real month of the bundled sample is served by the local endpoint;
the first 1,000 trips of the later, held-out month get 3 % labelled anomalies
(``fare_anomalies.py``) and are streamed by the producer. What the Lambda wrote to gold must be
exactly what ``sagemaker/evaluate_detection.py`` computes offline for the same trips (same
endpoint, same threshold document, same ``decide()``): trip by trip, and in the figures.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pandas as pd
import pytest

import detection
from e2e_helpers import read_jsonl_objects, wait_for
from evaluate_detection import labelled_month
from producer import run
from trip_source import SourceStats, iter_trips

pytestmark = [pytest.mark.stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HISTORY_MONTH = REPO / "data" / "real_sample" / "history" / "yellow_tripdata_2019-11.parquet"
HOLDOUT = REPO / "data" / "real_sample" / "holdout" / "yellow_tripdata_2019-12.parquet"
TRIPS, RATE, SEED = 1000, 0.03, 1630


@pytest.fixture(scope="module")
def streamed(local_stack, tmp_path_factory):
    """A real-data model and the streaming path under ``e2e-detect``; the labelled trips sent."""
    import deploy
    import e2e_model
    from taximl.config import Settings

    # its own index too: the index name is not derived from the prefix, and the streaming
    # tests count the documents of theirs
    settings = Settings.namespaced("e2e-detect", opensearch_index="e2e-detect-predictions",
                                   opensearch_endpoint=local_stack.env["OPENSEARCH_ENDPOINT"])
    variant = e2e_model.deploy_quick_model(settings, HISTORY_MONTH)
    deploy.deploy_streaming(settings, buffer_seconds=1, shards=2, say=lambda m: None)
    injection, _, _ = labelled_month(HOLDOUT, RATE, SEED, TRIPS)
    path = tmp_path_factory.mktemp("detect") / "holdout_with_anomalies.parquet"
    injection.trips.to_parquet(path, index=False)
    trips = list(iter_trips(path, SourceStats()))
    labels = injection.trips["anomaly_label"].tolist()
    result = run(path, stream_name=settings.stream_name, client=boto3.client("kinesis"),
                 rate=None, progress=False)
    assert result.send_stats.sent == TRIPS and result.send_stats.failed == 0
    valid = {t.trip_id: label for t, label in zip(trips, labels, strict=True)
             if t.reason is None}
    wait_for(lambda: {g["trip_id"] for g in read_jsonl_objects(settings.gold_bucket, "scored/")}
             >= set(valid), 120, "scored trips in S3")
    gold = {g["trip_id"]: g for g in read_jsonl_objects(settings.gold_bucket, "scored/")}
    return {"settings": settings, "variant": variant, "valid": valid, "gold": gold,
            "injection": injection, "trips": trips}


def test_gold_gives_the_figures_of_the_offline_evaluation(streamed, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:
    import evaluate_detection

    settings, valid, gold = streamed["settings"], streamed["valid"], streamed["gold"]
    # GIVEN the Lambda's decisions for every streamed trip
    ids = list(valid)
    decided = pd.DataFrame({
        "is_outlier": [gold[t]["is_outlier"] for t in ids],
        "judged": [not gold[t]["threshold_rule"].startswith("unjudged") for t in ids],
        "rule": [gold[t]["threshold_rule"] for t in ids],
    })
    streamed_metrics = detection.detection_metrics(decided, [valid[t] for t in ids])
    # WHEN the evaluation command scores the same trips offline against the same endpoint
    for key, value in settings.as_env().items():
        if value:
            monkeypatch.setenv(key, value)
    assert evaluate_detection.main(["--limit", str(TRIPS), "--seed", str(SEED),
                                    "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    # THEN the figures are identical: recall per kind, flags on untouched trips, precision
    assert report["model_variant"] == streamed["variant"] == "mv-1"
    assert report["detection"] == json.loads(json.dumps(streamed_metrics))
    assert report["detection"]["labelled"] == sum(bool(label) for label in valid.values()) == 30
    assert set(report["detection"]["kinds"]) == set(detection.KINDS)
    assert re.search(r"^recall +[0-9.]+  \(target >= 0.97", out, re.M)
    assert (tmp_path / "predicted_vs_actual.png").stat().st_size
    # AND every kind of anomaly was streamed, and most of them were caught by the Lambda
    assert streamed_metrics["recall"]["caught"] >= 25
    assert streamed_metrics["untouched"]["rate"] <= 0.02


def test_each_trip_is_decided_the_same_way_in_gold_and_offline(streamed) -> None:
    import evaluation
    from aws_clients import make_clients
    from evaluate_detection import predict_endpoint, threshold_doc
    from taximl.features import features_frame
    from taximl.validation import validate_frame

    settings, gold = streamed["settings"], streamed["gold"]
    clients = make_clients(settings.region)
    frame = streamed["injection"].trips.drop(columns=["anomaly_label", "original_fare_amount"])
    valid = validate_frame(frame).valid
    features = features_frame(valid)
    predicted, variant = predict_endpoint(clients.sagemaker_runtime, settings.endpoint_name,
                                          features)
    doc, _ = threshold_doc(clients, settings, variant)
    decided = evaluation.decisions_frame(features, valid["fare_amount"].to_numpy(), predicted,
                                         doc)
    ids = [t.trip_id for t in streamed["trips"] if t.reason is None]
    assert len(ids) == len(decided)
    for trip_id, (_, row) in zip(ids, decided.iterrows(), strict=True):
        record = gold[trip_id]
        assert record["is_outlier"] == row["is_outlier"], trip_id
        assert record["threshold_rule"] == row["rule"], trip_id
        assert record["predicted_fare"] == pytest.approx(row["predicted"], abs=1e-3)
