"""KinesisSender: PutRecords limits, retrying only failed records, linger."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from kinesis_sender import KinesisSender, SendError


class FakeKinesis:
    def __init__(self, fail: Any = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: list[bytes] = []
        self.fail = fail or (lambda call, i, entry: None)

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        assert len(Records) <= 500
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in Records) <= 5 * 1024 * 1024
        self.calls.append(Records)
        results = []
        for i, entry in enumerate(Records):
            code = self.fail(len(self.calls), i, entry)
            if code:
                results.append({"ErrorCode": code, "ErrorMessage": "x"})
            else:
                self.stored.append(entry["Data"])
                results.append({"SequenceNumber": str(len(self.stored)), "ShardId": "s"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_batches_never_exceed_500_records() -> None:
    # GIVEN a sender WHEN 1,234 small records are added and flushed
    client = FakeKinesis()
    sender = KinesisSender(client, "s", sleep=lambda s: None)
    for i in range(1234):
        sender.add(f"r{i}".encode(), "k")
    sender.flush()
    # THEN three calls of 500, 500, 234 sent everything in order
    assert [len(c) for c in client.calls] == [500, 500, 234]
    assert client.stored == [f"r{i}".encode() for i in range(1234)]
    assert sender.stats.sent == 1234 and sender.stats.failed == 0


def test_batches_never_exceed_5_mib() -> None:
    client = FakeKinesis()
    sender = KinesisSender(client, "s", sleep=lambda s: None)
    for _ in range(12):
        sender.add(b"x" * 900_000, "k")
    sender.flush()
    assert [len(c) for c in client.calls] == [5, 5, 2]


def test_only_failed_records_are_retried_with_backoff() -> None:
    # GIVEN a stream that throttles records 3 and 7 of the first call only
    def fail(call: int, i: int, entry: dict[str, Any]) -> str | None:
        return "ProvisionedThroughputExceededException" if call == 1 and i in (3, 7) else None

    client = FakeKinesis(fail)
    sleeps: list[float] = []
    sender = KinesisSender(client, "s", sleep=sleeps.append)
    for i in range(10):
        sender.add(f"r{i}".encode(), "k")
    sender.flush()
    # THEN the second call carries exactly the two failed records, after a backoff
    assert [e["Data"] for e in client.calls[1]] == [b"r3", b"r7"]
    assert len(sleeps) == 1 and sleeps[0] > 0
    assert sorted(client.stored) == sorted(f"r{i}".encode() for i in range(10))
    assert sender.stats.sent == 10 and sender.stats.retried == 2
    assert sender.stats.error_codes["ProvisionedThroughputExceededException"] == 2


def test_gives_up_after_max_attempts_and_counts_failed() -> None:
    client = FakeKinesis(lambda call, i, e: "InternalFailure" if i == 0 else None)
    sender = KinesisSender(client, "s", max_attempts=3, sleep=lambda s: None)
    sender.add(b"a", "k")
    sender.add(b"b", "k")
    sender.flush()
    assert len(client.calls) == 3
    assert sender.stats.sent == 1 and sender.stats.failed == 1 and sender.stats.retried == 2


def test_whole_call_throttling_is_retried() -> None:
    class Throttled(FakeKinesis):
        def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
            if not self.calls:
                self.calls.append(Records)
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                             "Message": "Rate exceeded"}}, "PutRecords")
            return super().put_records(StreamName, Records)

    client = Throttled()
    sender = KinesisSender(client, "s", sleep=lambda s: None)
    sender.add(b"a", "k")
    sender.flush()
    assert client.stored == [b"a"] and sender.stats.retried == 1


def test_missing_stream_is_not_retried() -> None:
    class Missing:
        calls = 0

        def put_records(self, **kwargs: Any) -> None:
            Missing.calls += 1
            raise ClientError({"Error": {"Code": "ResourceNotFoundException",
                                         "Message": "Stream s not found"}}, "PutRecords")

    sender = KinesisSender(Missing(), "s", sleep=lambda s: None)
    sender.add(b"a", "k")
    with pytest.raises(SendError, match="not found"):
        sender.flush()
    assert Missing.calls == 1


def test_oversized_record_is_refused() -> None:
    sender = KinesisSender(FakeKinesis(), "s")
    with pytest.raises(ValueError, match="1 MiB"):
        sender.add(b"x" * (1024 * 1024), "k")


def test_linger_sends_a_partial_batch() -> None:
    now = [0.0]
    client = FakeKinesis()
    sender = KinesisSender(client, "s", linger_s=0.1, clock=lambda: now[0])
    sender.add(b"a", "k")
    sender.flush_if_due()
    assert client.calls == []
    now[0] = 0.15
    sender.flush_if_due()
    assert len(client.calls) == 1 and sender.pending == 0


def test_concurrent_calls_send_everything_and_close_waits() -> None:
    # GIVEN up to 3 PutRecords calls in flight
    client = FakeKinesis()
    sender = KinesisSender(client, "s", max_records=10, in_flight=3, sleep=lambda s: None)
    for i in range(95):
        sender.add(f"r{i}".encode(), "k")
    sender.close()
    # THEN every record was sent once, and the counters add up across threads
    assert sorted(client.stored) == sorted(f"r{i}".encode() for i in range(95))
    assert sender.stats.sent == 95 and sender.stats.calls == 10
