"""End to end on the local stack: producer -> Kinesis -> Lambda -> endpoint -> Firehose -> S3 +
OpenSearch. Nothing of our own is mocked: the records go through the real services' stand-ins.
"""

from __future__ import annotations

import collections
import time

import boto3
import pandas as pd
import pytest

from e2e_helpers import generate, read_jsonl_objects, search_trip_ids, wait_for
from producer import run
from trip_source import SourceStats, iter_trips

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def produced(pipeline):
    """3,000 generated trips with ~4% labelled anomalies and ~3% malformed rows, sent once."""
    settings = pipeline["settings"]
    path = generate(pipeline["data"] / "trips.csv", rows=3000, seed=11, anomalies=0.04,
                    malformed=0.03)
    labels = pd.read_csv(path, usecols=["anomaly_label"])["anomaly_label"].fillna("").tolist()
    trips = list(iter_trips(path, SourceStats()))
    assert len(trips) == len(labels)
    result = run(path, stream_name=settings.stream_name, client=boto3.client("kinesis"),
                 rate=None, progress=False)
    assert result.send_stats.sent == 3000 and result.send_stats.failed == 0
    valid = {t.trip_id: label for t, label in zip(trips, labels, strict=True) if t.reason is None}
    invalid = {t.trip_id: t.reason for t in trips if t.reason is not None}
    bucket = settings.gold_bucket

    def gold() -> list[dict]:
        return read_jsonl_objects(bucket, "scored/")

    wait_for(lambda: {g["trip_id"] for g in gold()} >= set(valid), 120, "scored trips in S3")
    wait_for(lambda: len(read_jsonl_objects(bucket, "quarantine/")) >= len(invalid), 60,
             "quarantined records in S3")
    wait_for(lambda: sum(search_trip_ids(settings.opensearch_endpoint,
                                         settings.opensearch_index).values()) >= len(valid),
             60, "searchable documents")
    return {"valid": valid, "invalid": invalid, "gold": gold(),
            "quarantine": read_jsonl_objects(bucket, "quarantine/"), "settings": settings}


def test_every_valid_trip_is_in_gold_exactly_once(produced) -> None:
    counts = collections.Counter(g["trip_id"] for g in produced["gold"])
    assert set(counts) == set(produced["valid"])
    assert max(counts.values()) == 1
    record = produced["gold"][0]
    assert record["model_version"] == "mv-1" and record["threshold_mode"] == "calibrated"


def test_every_valid_trip_is_searchable_exactly_once(produced) -> None:
    settings = produced["settings"]
    ids = search_trip_ids(settings.opensearch_endpoint, settings.opensearch_index)
    assert set(ids) == set(produced["valid"]) and max(ids.values()) == 1


def test_injected_anomalies_are_flagged(produced) -> None:
    flagged = {g["trip_id"]: g["is_outlier"] for g in produced["gold"]}
    labels = produced["valid"]
    anomalies = [t for t, label in labels.items() if label]
    normal = [t for t, label in labels.items() if not label]
    recall = sum(flagged[t] for t in anomalies) / len(anomalies)
    false_positive_rate = sum(flagged[t] for t in normal) / len(normal)
    print(f"recall {recall:.2%} on {len(anomalies)} anomalies, FPR {false_positive_rate:.2%}")
    assert len(anomalies) > 50
    assert recall >= 0.7
    assert false_positive_rate <= 0.05


def test_malformed_records_are_in_quarantine_with_reasons(produced) -> None:
    reasons = {q["trip_id"]: q["reason"] for q in produced["quarantine"]}
    assert len(produced["quarantine"]) == len(produced["invalid"]) > 50
    assert reasons == produced["invalid"]
    assert all(q["record"] and q["event_time"] for q in produced["quarantine"])


def test_nothing_is_lost_when_the_endpoint_fails_for_a_while(pipeline, produced) -> None:
    # GIVEN the endpoint is deleted while a new run of trips arrives
    settings = pipeline["settings"]
    sm = boto3.client("sagemaker")
    config = sm.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointConfigName"]
    sm.delete_endpoint(EndpointName=settings.endpoint_name)
    path = generate(pipeline["data"] / "outage.csv", rows=1500, seed=13)
    trips = [t for t in iter_trips(path, SourceStats()) if t.reason is None]
    run(path, stream_name=settings.stream_name, client=boto3.client("kinesis"), rate=None,
        progress=False)
    before = {g["trip_id"] for g in read_jsonl_objects(settings.gold_bucket, "scored/")}
    wanted = {t.trip_id for t in trips} - before
    assert wanted, "the outage run must bring new trips"
    # WHEN the Lambda has been failing (and retried) for a few seconds
    time.sleep(6)
    gold_during = {g["trip_id"] for g in read_jsonl_objects(settings.gold_bucket, "scored/")}
    assert not (wanted & gold_during), "trips were scored while the endpoint was down"
    # THEN after the endpoint comes back every trip arrives, exactly once
    sm.create_endpoint(EndpointName=settings.endpoint_name, EndpointConfigName=config)
    wait_for(lambda: sm.describe_endpoint(EndpointName=settings.endpoint_name)
             ["EndpointStatus"] == "InService", 60, "endpoint back in service", 0.3)
    wait_for(lambda: wanted <= {g["trip_id"] for g in
                                read_jsonl_objects(settings.gold_bucket, "scored/")},
             120, "trips produced during the outage in gold")
    counts = collections.Counter(g["trip_id"] for g in
                                 read_jsonl_objects(settings.gold_bucket, "scored/"))
    assert max(counts[t] for t in wanted) == 1
