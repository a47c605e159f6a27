"""The producer end to end against an in-process Kinesis (moto): counts, ids, Ctrl-C flush."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

import producer
from streaming_factories import tlc_row, write_csv


@pytest.fixture
def kinesis(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("STREAM_NAME", "trips-test")
    with mock_aws():
        client = boto3.client("kinesis", region_name="us-east-1")
        client.create_stream(StreamName="trips-test", ShardCount=2)
        yield client


def read_all(client, stream: str = "trips-test") -> list[dict]:
    """Every record of every shard of ``stream``, decoded from JSON (bounded reads)."""
    out = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for _ in range(20):
            page = client.get_records(ShardIterator=it, Limit=10_000)
            out += [json.loads(r["Data"]) for r in page["Records"]]
            if not page["Records"]:
                break
            it = page["NextShardIterator"]
    return out


def test_cli_sends_every_row_once_and_prints_a_summary(kinesis, tmp_path, capsys) -> None:
    rows = [tlc_row(i) for i in range(30)] + [tlc_row(99, fare_amount="abc")]
    path = write_csv(tmp_path / "t.csv", rows)
    summary = tmp_path / "summary.json"
    code = producer.main([str(path), "--rate", "0", "--no-progress",
                          "--summary-json", str(summary)])
    assert code == 0
    records = read_all(kinesis)
    assert len(records) == 31 and len({r["trip_id"] for r in records}) == 31
    out = capsys.readouterr().out
    assert "sent             31 records" in out and "non_numeric:fare_amount: 1" in out
    stats = json.loads(summary.read_text())
    assert stats["valid_sent"] == 30 and stats["invalid_sent"] == 1 and stats["failed"] == 0


def test_limit_and_missing_file(kinesis, tmp_path, capsys) -> None:
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(30)])
    assert producer.main([str(path), "--rate", "0", "--limit", "7", "--no-progress"]) == 0
    assert len(read_all(kinesis)) == 7
    assert producer.main([str(tmp_path / "nope.csv")]) == 2


def test_stop_request_flushes_what_is_buffered(kinesis, tmp_path) -> None:
    # GIVEN a run at 2,000 events/s with a long linger, stopped (as by Ctrl-C) after 25 trips
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(200)])
    flag = producer._StopFlag()
    sent = []

    class Client:
        def put_records(self, **kwargs):
            sent.extend(kwargs["Records"])
            return kinesis.put_records(**kwargs)

    original = producer.KinesisSender.add

    def add(self, data, key):
        original(self, data, key)
        if self.pending + self.stats.sent >= 25:
            flag.stop = True

    producer.KinesisSender.add = add
    try:
        result = producer.run(path, stream_name="trips-test", client=Client(), rate=2000,
                              linger_ms=60_000, progress=False, stop=flag)
    finally:
        producer.KinesisSender.add = original
    # THEN the buffered trips were sent before returning, and the run says it was interrupted
    assert result.interrupted and result.send_stats.sent == 25 == len(sent)
    assert len(read_all(kinesis)) == 25
