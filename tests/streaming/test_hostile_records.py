"""Property tests: hostile payloads never make the scorer or the handler raise, never reach gold.

Generated payloads (hostile_payloads.py) are mixed with good trips in one batch. Whatever they
hold: no exception escapes, every record is either scored or quarantined (nothing is retried:
these are not transient failures), every good trip is delivered exactly once, no text outside
the TLC dictionary reaches gold, and the quarantine records are bounded and inert.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hostile_payloads import HOSTILE_PAYLOADS, deep_nesting
from quarantine import MAX_RAW_CHARS, neutralise
from scoring import MAX_NESTING, BatchScorer, decode, nesting_depth
from sinks import FirehoseSink
from streaming_factories import FakeFirehose, FakeSageMakerRuntime, kinesis_record, tlc_row
from taximl.schema import TRIP_FIELDS, trip_id_for
from taximl.validation import validate_record

GOLD, QUARANTINE = "gold", "quarantine"
#: Largest quarantine line allowed (the documents are designed to stay near 10 KB).
MAX_QUARANTINE_LINE = 16 * 1024
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _scorer(runtime: FakeSageMakerRuntime, firehose: FakeFirehose) -> BatchScorer:
    from fare_endpoint import FareEndpoint
    from threshold_source import ThresholdSource

    return BatchScorer(
        endpoint=FareEndpoint(runtime, "ep"),
        thresholds=ThresholdSource(None, mode="fixed", fixed_threshold=10.0),
        gold=FirehoseSink(firehose, GOLD, sleep=lambda s: None),
        quarantine=FirehoseSink(firehose, QUARANTINE, sleep=lambda s: None),
        clock=lambda: 1_700_000_100.0, sleep=lambda s: None,
    )


def _batch(hostile: list[bytes], good: list[int], order: list[int]) -> tuple[list[dict], set]:
    """Kinesis records: hostile payloads and good trips interleaved by ``order``."""
    payloads: list[Any] = list(hostile) + [tlc_row(i) for i in good]
    arranged = [payloads[i] for i in order]
    records = [kinesis_record(p, seq=n) for n, p in enumerate(arranged)]
    good_ids = {trip_id_for(validate_record(tlc_row(i)).trip) for i in good}
    return records, good_ids


def _valid_ids(records: list[dict]) -> list[str]:
    """trip_id of each record that decodes and validates (what should be scored)."""
    ids = []
    for record in records:
        payload, _, reason = decode(record["kinesis"]["data"])
        check = validate_record(payload) if reason is None else None
        if check is not None and check.ok:
            ids.append(trip_id_for(check.trip))
    return ids


def _check_outputs(firehose: FakeFirehose, records: list[dict], good_ids: set) -> None:
    """Gold holds each valid trip once (a trip sent twice in a batch is one trip), the good ones
    among them; every other record has its own quarantine line, bounded and inert."""
    gold = firehose.lines(GOLD)
    quarantine_raw = firehose.streams.get(QUARANTINE, [])
    valid = _valid_ids(records)
    gold_ids = [g["trip_id"] for g in gold]
    assert sorted(gold_ids) == sorted(set(valid)), "each valid trip once in gold"
    assert good_ids <= set(gold_ids), "every good trip delivered"
    assert len(quarantine_raw) == len(records) - len(valid), "every other record quarantined"
    for g in gold:
        assert g["store_and_fwd_flag"] in (None, "Y", "N")
        assert g["taxi_type"] in ("yellow", "green")
        assert all(not isinstance(g[name], (list, dict)) for name in TRIP_FIELDS)
        assert len(g["trip_id"]) == 20 and int(g["trip_id"], 16) >= 0
        assert all(not isinstance(v, str) or len(v) <= 40 for v in g.values())
    for line in quarantine_raw:
        assert len(line) <= MAX_QUARANTINE_LINE
        assert not {b"<", b">", b"&"} & {line[i:i + 1] for i in range(len(line))}
        document = json.loads(line)
        assert document["reason"] and document["sequence_number"]
        assert (document["record"] is None) != (document["raw"] is None)


@PROPERTY
@given(hostile=st.lists(HOSTILE_PAYLOADS, min_size=1, max_size=6),
       good=st.sets(st.integers(0, 500), max_size=6), data=st.data())
def test_hostile_payloads_are_quarantined_and_good_trips_delivered_once(hostile, good,
                                                                        data) -> None:
    good = sorted(good)
    order = data.draw(st.permutations(range(len(hostile) + len(good))))
    records, good_ids = _batch(hostile, good, order)
    firehose = FakeFirehose()
    # WHEN the batch is scored (no exception may escape)
    outcome = _scorer(FakeSageMakerRuntime(), firehose).score(records, patience_s=5.0)
    # THEN nothing is handed back for retry, and the outputs hold
    assert outcome.retry == 0 and outcome.failed_sequence_numbers == set()
    assert outcome.scored + outcome.quarantined == len(records)
    _check_outputs(firehose, records, good_ids)


@PROPERTY
@given(hostile=st.lists(HOSTILE_PAYLOADS, min_size=1, max_size=4),
       good=st.sets(st.integers(0, 500), min_size=1, max_size=4))
def test_the_handler_answers_every_hostile_batch(handler_with_fakes, hostile, good) -> None:
    module, make = handler_with_fakes
    _, firehose = make()
    records, good_ids = _batch(hostile, sorted(good), list(range(len(hostile) + len(good))))
    # WHEN the real handler (Powertools batch processor) gets the batch
    result = module.lambda_handler({"Records": records}, _Context())
    # THEN it answers, reports no failure, and delivered each good trip once
    assert result == {"batchItemFailures": []}
    _check_outputs(firehose, records, good_ids)


@settings(max_examples=25, deadline=None)
@given(payload=deep_nesting(min_depth=MAX_NESTING + 1))
def test_deep_nesting_is_a_reason_not_a_recursion_error(payload: bytes) -> None:
    decoded, raw, reason = decode(base64.b64encode(payload).decode())
    assert decoded is None and raw == payload
    assert reason in ("undecodable:too_deep", "oversized:payload")


@pytest.mark.parametrize(("text", "depth"), [
    ('{"a": 1}', 1), ('{"a": [1, {"b": []}]}', 4), ('{"a": "[[[[{{{{"}', 1),
    ('{"a": "\\"[[["}', 1), ("[" * 100, MAX_NESTING + 1),
])
def test_nesting_depth_skips_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_a_flat_object_with_many_brackets_in_strings_is_still_parsed() -> None:
    payload = json.dumps({"note": "[" * 100}).encode()
    assert decode(base64.b64encode(payload).decode())[2] is None


@pytest.mark.parametrize(("data", "reason"), [
    (b'{"fare_amount": NaN}', "undecodable:json"),
    (b'{"fare_amount": ' + b"9" * 5000 + b"}", "undecodable:json"),
    (b"\xff\xfe", "undecodable:utf8"),
    (b"[1]", "undecodable:not_an_object"),
    (b'{"a": "' + b"x" * 40_000 + b'"}', "oversized:payload"),
])
def test_decode_reasons(data: bytes, reason: str) -> None:
    assert decode(base64.b64encode(data).decode())[2] == reason


def test_a_900_kb_hostile_flag_leaves_a_short_escaped_excerpt(fake_runtime, fake_firehose) -> None:
    # GIVEN a trip whose flag is 900 KB of markup (over the payload limit) and one whose flag is
    # a short script tag (a valid size: it is validated and refused by the dictionary)
    huge = {**tlc_row(1), "store_and_fwd_flag": "<script>" * 112_500}
    small = {**tlc_row(2), "store_and_fwd_flag": "<script>alert(1)</script>"}
    _scorer(fake_runtime, fake_firehose).score([kinesis_record(huge, seq=1),
                                                kinesis_record(small, seq=2)])
    first, second = fake_firehose.lines(QUARANTINE)
    # THEN the reasons say why, and what is kept is short and inert
    assert first["reason"] == "oversized:payload" and first["payload_bytes"] > 900_000
    assert first["truncated"] and len(first["raw"]) < 12 * MAX_RAW_CHARS
    assert first["raw"].startswith('{\\x22VendorID\\x22: 2')
    assert second["reason"] == "unknown_code:store_and_fwd_flag"
    assert second["record"]["store_and_fwd_flag"] == "\\x3cscript\\x3ealert(1)\\x3c/script\\x3e"
    assert second["record"]["PULocationID"] == 102 and second["truncated"] is False


def test_neutralise_escapes_markup_controls_and_bidi() -> None:
    assert neutralise("a<b>&\"'`\\", 50) == ("a\\x3cb\\x3e\\x26\\x22\\x27\\x60\\x5c", False)
    assert neutralise("\x1b[31m\u202e\U0001f600", 50)[0] == "\\x1b[31m\\u202e\\U0001f600"
    assert neutralise("x" * 10, 4) == ("xxxx...(10 chars)", True)


class _Context:
    function_name = "fare-scorer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fare-scorer"
    aws_request_id = "req-hostile"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


@pytest.fixture(scope="module")
def handler_with_fakes():
    """The real ``lambda_function`` module (fixed thresholds: no DynamoDB), its AWS clients
    replaced by fakes; ``make()`` gives a fresh scorer (empty delivery memory) per example."""
    import importlib
    import sys

    patch = pytest.MonkeyPatch()
    for key, value in {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "THRESHOLD_MODE": "fixed", "PROJECT_PREFIX": "hostile",
                       "POWERTOOLS_METRICS_NAMESPACE": "Hostile"}.items():
        patch.setenv(key, value)
    sys.modules.pop("lambda_function", None)
    module = importlib.import_module("lambda_function")

    def make() -> tuple[FakeSageMakerRuntime, FakeFirehose]:
        runtime, firehose = FakeSageMakerRuntime(), FakeFirehose()
        module.scorer = _scorer(runtime, firehose)
        return runtime, firehose

    yield module, make
    sys.modules.pop("lambda_function", None)
    patch.undo()
