"""BatchScorer: chunked inference, quarantine, partial failures, thresholds, output records."""

from __future__ import annotations

import json

from fare_endpoint import FareEndpoint, parse_predictions, split_chunks
from scoring import BatchScorer
from sinks import FirehoseSink, split_batches
from streaming_factories import FakeFirehose, FakeSageMakerRuntime, kinesis_record, tlc_row
from taximl.schema import raw_trip_id
from taximl.thresholds import doc_to_json, fixed_doc
from threshold_source import ThresholdSource

GOLD, QUARANTINE = "gold", "quarantine"


class Provider:
    def __init__(self, items: dict[str, str]) -> None:
        self.items = items
        self.gets: list[str] = []

    def get(self, name: str, max_age: int = 5) -> str | None:
        self.gets.append(name)
        if name not in self.items:
            raise KeyError(name)
        return self.items[name]


def make_scorer(runtime: FakeSageMakerRuntime, firehose: FakeFirehose, *, max_rows: int = 5000,
                provider: Provider | None = None, mode: str = "auto") -> BatchScorer:
    return BatchScorer(
        endpoint=FareEndpoint(runtime, "ep", max_rows=max_rows),
        thresholds=ThresholdSource(provider, mode=mode, fixed_threshold=10.0),
        gold=FirehoseSink(firehose, GOLD, sleep=lambda s: None),
        quarantine=FirehoseSink(firehose, QUARANTINE, sleep=lambda s: None),
        clock=lambda: 1_700_000_100.0,
    )


def events(n: int, start: int = 0, **overrides) -> list[dict]:
    return [kinesis_record(tlc_row(i, **overrides), seq=i) for i in range(start, start + n)]


def test_one_invoke_endpoint_per_chunk_never_per_record(fake_runtime, fake_firehose) -> None:
    # GIVEN 250 valid records and chunks of at most 100 rows
    outcome = make_scorer(fake_runtime, fake_firehose, max_rows=100).score(events(250))
    # THEN three requests (100, 100, 50) and every trip scored into gold, in order
    assert fake_runtime.calls == [100, 100, 50]
    assert outcome.scored == 250 and outcome.failed_sequence_numbers == set()
    gold = fake_firehose.lines(GOLD)
    assert len(gold) == 250 and fake_firehose.calls == [(GOLD, 250)]
    assert all(d.endswith(b"\n") for d in fake_firehose.streams[GOLD])


def test_output_record_has_trip_prediction_and_decision(fake_runtime, fake_firehose) -> None:
    make_scorer(fake_runtime, fake_firehose).score(events(1))
    record = fake_firehose.lines(GOLD)[0]
    for key in ("trip_id", "pickup_datetime", "fare_amount", "predicted_fare", "residual",
                "anomaly_score", "is_outlier", "threshold_rule", "threshold", "model_version",
                "event_time", "processing_time", "feature_version"):
        assert key in record, key
    assert record["model_version"] == "mv-1" and record["threshold_rule"] == "fixed"
    assert record["residual"] == round(record["fare_amount"] - record["predicted_fare"], 4)
    assert record["event_time"].startswith("2023-11-14T22:13:20") and record["is_outlier"] is False


def test_malformed_records_go_to_quarantine_with_reasons(fake_runtime, fake_firehose) -> None:
    batch = [
        *events(3),
        kinesis_record(b"not json", seq=10),
        kinesis_record("%%%not-base64", seq=11),
        kinesis_record(b"[1, 2]", seq=12),
        kinesis_record({**tlc_row(13), "trip_distance": -1}, seq=13),
        kinesis_record({"trip_id": "abc", **tlc_row(14), "PULocationID": 0}, seq=14),
    ]
    outcome = make_scorer(fake_runtime, fake_firehose).score(batch)
    # THEN nothing is retried, the batch succeeds, and each bad record says why
    assert outcome.failed_sequence_numbers == set() and outcome.scored == 3
    quarantined = fake_firehose.lines(QUARANTINE)
    assert [q["reason"] for q in quarantined] == [
        "undecodable:json", "undecodable:base64", "undecodable:not_an_object",
        "negative_distance", "unknown_location:pu_location_id"]
    # the id is computed as the producer computes it, never the claimed "abc"
    assert quarantined[-1]["trip_id"] == raw_trip_id({**tlc_row(14), "PULocationID": 0})
    assert quarantined[-1]["record"]["PULocationID"] == 0
    assert quarantined[0]["raw"] == "not json" and quarantined[0]["record"] is None
    assert outcome.quarantine_reasons == {"undecodable": 3, "negative_distance": 1,
                                          "unknown_location": 1}


def test_endpoint_failure_retries_from_the_first_failed_record(fake_firehose) -> None:
    # GIVEN an endpoint that throttles the 2nd request of the batch
    runtime = FakeSageMakerRuntime()
    runtime.fail_calls = {2}
    batch = [*events(100), kinesis_record(b"junk", seq=150), *events(100, start=200)]
    outcome = make_scorer(runtime, fake_firehose, max_rows=60).score(batch)
    # THEN requests stop at the failure, only the first 60 trips are delivered, and every
    # record from trip 61 on (the junk one included) is reported for retry
    assert runtime.calls == [60, 60]
    assert outcome.scored == 60 and outcome.retry == 141
    assert len(fake_firehose.lines(GOLD)) == 60 and QUARANTINE not in fake_firehose.streams
    expected = {r["kinesis"]["sequenceNumber"] for r in batch[60:]}
    assert outcome.failed_sequence_numbers == expected
    assert "ThrottlingException" in outcome.retry_reason


def test_firehose_partial_failure_retries_only_failed_records(fake_runtime, fake_firehose) -> None:
    fake_firehose.reject = lambda stream, data, call: call == 1 and b'"vendor_id":2' in data
    outcome = make_scorer(fake_runtime, fake_firehose).score(events(10))
    assert outcome.failed_sequence_numbers == set()
    assert fake_firehose.calls == [(GOLD, 10), (GOLD, 5)]
    assert len(fake_firehose.lines(GOLD)) == 10


def test_firehose_failing_for_good_reports_records_for_retry(fake_runtime, fake_firehose) -> None:
    fake_firehose.reject = lambda stream, data, call: b'"pu_location_id":105' in data
    outcome = make_scorer(fake_runtime, fake_firehose).score(events(10))
    assert outcome.retry == 5  # record 5 and everything after it
    assert len(fake_firehose.calls) == 4  # 1 call + 3 retries of the one failing record


def test_retry_after_a_persistent_firehose_rejection_writes_no_duplicates(
    fake_runtime, fake_firehose
) -> None:
    # GIVEN record 5 of 10 is rejected by Firehose on every attempt, the rest are accepted
    fake_firehose.reject = lambda stream, data, call: b'"pu_location_id":105' in data
    scorer = make_scorer(fake_runtime, fake_firehose)
    first = scorer.score(events(10))
    assert first.retry == 5
    # WHEN the mapping retries from the first failed record (records 5..9 come again)
    fake_firehose.reject = lambda stream, data, call: False
    second = scorer.score(events(5, start=5))
    # THEN every trip is in gold exactly once
    assert second.retry == 0 and second.scored == 5
    trip_ids = [line["trip_id"] for line in fake_firehose.lines(GOLD)]
    assert len(trip_ids) == 10 and len(set(trip_ids)) == 10


def test_thresholds_come_from_the_document_of_the_variant(fake_firehose) -> None:
    # GIVEN a calibrated-like document for mv-7 and a model that under-predicts by $3
    doc = {"format": 1, "mode": "calibrated", "fixed_threshold": 10.0,
           "scored_rate_codes": [1], "global": {"abs": 2.0, "rel": 0.1}, "segments": {}}
    provider = Provider({"thresholds/mv-7": doc_to_json(doc)})
    runtime = FakeSageMakerRuntime(predict=lambda f: float(f[-1]) - 3.0, variant="mv-7")
    outcome = make_scorer(runtime, fake_firehose, provider=provider).score(events(5))
    gold = fake_firehose.lines(GOLD)
    assert provider.gets == ["thresholds/mv-7"]
    assert all(g["threshold_rule"] == "global" and g["model_version"] == "mv-7" for g in gold)
    assert outcome.outliers == sum(g["is_outlier"] for g in gold) > 0
    # WHEN the mode is forced to fixed THEN the course's $10 rule decides
    fixed = FakeFirehose()
    make_scorer(runtime, fixed, provider=provider, mode="fixed").score(events(5))
    assert {g["threshold_rule"] for g in fixed.lines(GOLD)} == {"fixed"}


def test_missing_threshold_document_falls_back_to_fixed(fake_runtime, fake_firehose) -> None:
    provider = Provider({"thresholds/mv-2": doc_to_json(fixed_doc(4.0))})
    make_scorer(fake_runtime, fake_firehose, provider=provider).score(events(2))
    assert {g["threshold"] for g in fake_firehose.lines(GOLD)} == {10.0}


class ThrottledProvider:
    """A DynamoDB provider whose reads fail the way Powertools wraps a throttled GetItem."""

    def get(self, name: str, max_age: int = 5) -> str:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}
        try:
            raise ClientError(error, "GetItem")
        except ClientError as exc:
            raise GetParameterError(str(exc)) from exc


def test_throttled_threshold_table_retries_instead_of_using_the_fixed_rule(
    fake_runtime, fake_firehose
) -> None:
    # GIVEN DynamoDB throttles the threshold read  WHEN a batch is scored
    outcome = make_scorer(fake_runtime, fake_firehose, provider=ThrottledProvider()).score(
        events(4)
    )
    # THEN nothing is judged by the wrong rule: every record goes back for retry
    assert outcome.retry == 4 and outcome.scored == 0
    assert outcome.retry_reason.startswith("thresholds:")
    assert fake_firehose.lines(GOLD) == []


def test_rows_the_model_refuses_are_quarantined_and_the_rest_scored(
    fake_runtime, fake_firehose
) -> None:
    # GIVEN a model that answers 400 to any request holding the row of zone 107
    fake_runtime.reject_line = lambda line: ",107," in line
    outcome = make_scorer(fake_runtime, fake_firehose).score(events(8))
    # THEN the chunk is bisected: 7 trips scored, the refused one quarantined, nothing retried
    assert outcome.retry == 0 and outcome.scored == 7 and outcome.quarantined == 1
    [bad] = fake_firehose.lines(QUARANTINE)
    assert bad["reason"].startswith("model_error:ModelError")
    assert len(fake_runtime.calls) <= 2 * 8


def test_chunk_and_batch_splitting_limits() -> None:
    lines = ["x" * 99] * 10  # 100 bytes each with the newline
    assert split_chunks(lines, max_rows=4, max_bytes=10_000) == [(0, 4), (4, 8), (8, 10)]
    assert split_chunks(lines, max_rows=100, max_bytes=350) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    records = [b"y" * 1000] * 1200
    assert split_batches(records) == [(0, 500), (500, 1000), (1000, 1200)]
    assert split_batches(records, max_bytes=3000) [:2] == [(0, 3), (3, 6)]
    assert parse_predictions(b"1.5,2\n3") == [1.5, 2.0, 3.0]
    assert parse_predictions(json.dumps({"predictions": [{"score": 4}]})) == [4.0]


def test_a_record_that_breaks_the_contract_is_quarantined_not_raised(fake_runtime,
                                                                     fake_firehose) -> None:
    # GIVEN a record that makes the shared feature code raise (a bug we did not foresee)
    import scoring

    original = scoring.features_for_record

    def broken(trip):
        if trip["pu_location_id"] == 101:
            raise ZeroDivisionError("boom")
        return original(trip)

    scoring.features_for_record = broken
    try:
        outcome = make_scorer(fake_runtime, fake_firehose).score(events(3))
    finally:
        scoring.features_for_record = original
    # THEN the batch succeeds and the record is in quarantine with the reason
    assert outcome.failed_sequence_numbers == set() and outcome.scored == 2
    assert [q["reason"] for q in fake_firehose.lines(QUARANTINE)] == [
        "unprocessable:ZeroDivisionError"]
