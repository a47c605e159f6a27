"""The producer takes the course template's command line next to the project's own form.

Template (step 5): ``python producer/producer.py --region $AWS_REGION --stream
$KINESIS_STREAM_NAME --csv data/sample_nyc_taxi.csv --rate 10``.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

import producer
from streaming_factories import tlc_row, write_csv
from test_producer_cli import read_all

TEMPLATE_STREAM = "taxi-trips-stream"


@pytest.fixture
def aws(monkeypatch):
    """moto in-process, no stream or region variables of the caller leaking in."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "STREAM_NAME",
                "KINESIS_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "PROJECT_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield


def _stream(region: str, name: str = TEMPLATE_STREAM, shards: int = 1):
    client = boto3.client("kinesis", region_name=region)
    client.create_stream(StreamName=name, ShardCount=shards)
    return client


def _records(client, name: str = TEMPLATE_STREAM) -> list[dict]:
    return read_all(client, name)


def test_template_command_sends_to_the_named_stream_in_the_named_region(aws, tmp_path):
    # GIVEN the template's stream in eu-west-1 only (none in the default us-east-1)
    client = _stream("eu-west-1")
    path = write_csv(tmp_path / "sample_nyc_taxi.csv", [tlc_row(i) for i in range(12)])
    summary = tmp_path / "summary.json"
    # WHEN the template's command runs (plus flags that keep the test short)
    code = producer.main(["--region", "eu-west-1", "--stream", TEMPLATE_STREAM,
                          "--csv", str(path), "--rate", "0", "--no-progress",
                          "--summary-json", str(summary)])
    # THEN every row is in that stream, once
    assert code == 0
    records = _records(client)
    assert len(records) == 12 and len({r["trip_id"] for r in records}) == 12
    assert json.loads(summary.read_text())["stream"] == TEMPLATE_STREAM


def test_template_variable_names_the_stream(aws, tmp_path, monkeypatch):
    # GIVEN only the template's variable KINESIS_STREAM_NAME (no --stream, no STREAM_NAME)
    monkeypatch.setenv("KINESIS_STREAM_NAME", "course-stream")
    client = _stream("us-east-1", "course-stream")
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(5)])
    # WHEN the producer runs with the positional file (the project's form)
    assert producer.main([str(path), "--rate", "0", "--no-progress"]) == 0
    # THEN the trips went to the stream the variable names
    assert len(_records(client, "course-stream")) == 5


def test_stream_is_an_option_of_its_own_not_an_abbreviation(aws):
    # --stream is the template's spelling of --stream-name; nothing else is guessed
    args = producer.parse_args(["--stream", "s1", "--region", "us-west-2"])
    assert (args.stream_name, args.region, args.source) == ("s1", "us-west-2",
                                                            producer.DEFAULT_INPUT)
    assert producer.parse_args(["--stream-name", "s2"]).stream_name == "s2"
    for abbreviation in (["--strea", "s"], ["--lim", "3"], ["--reg", "us-east-1"]):
        with pytest.raises(SystemExit):
            producer.parse_args(abbreviation)


def test_trip_file_positional_or_csv_but_not_two_different_ones(aws, capsys):
    assert producer.parse_args(["a.csv"]).source == "a.csv"
    assert producer.parse_args(["--csv", "b.csv"]).source == "b.csv"
    assert producer.parse_args(["c.csv", "--csv", "c.csv"]).source == "c.csv"
    with pytest.raises(SystemExit):
        producer.parse_args(["a.csv", "--csv", "b.csv"])
    assert "two trip files given" in capsys.readouterr().err


def test_conflicting_stream_variables_are_an_error_not_a_guess(aws, tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.setenv("STREAM_NAME", "one")
    monkeypatch.setenv("KINESIS_STREAM_NAME", "two")
    path = write_csv(tmp_path / "t.csv", [tlc_row(0)])
    assert producer.main([str(path), "--no-progress"]) == 2
    assert "disagree" in capsys.readouterr().err


@pytest.mark.stack
@pytest.mark.parametrize("limit", [1, 20, 499, 500, 501])
def test_limit_reads_exactly_that_many_rows(local_stack, tmp_path, limit):
    # GIVEN more rows than the limit, and a stream on the local stack's Kinesis (kinesalite:
    # moto's in-process Kinesis can lose a record to concurrent PutRecords calls, and the
    # producer sends batches in parallel)
    name = f"limit-{limit}-{uuid.uuid4().hex[:8]}"
    client = boto3.client("kinesis")
    client.create_stream(StreamName=name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=name,
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(limit + 40)])
    summary = tmp_path / "summary.json"
    # WHEN --limit N
    assert producer.main([str(path), "--stream", name, "--rate", "0",
                          "--limit", str(limit), "--no-progress",
                          "--summary-json", str(summary)]) == 0
    # THEN N rows were read and N records sent (not N + 1 read), each once
    stats = json.loads(summary.read_text())
    assert (stats["rows_read"], stats["sent"]) == (limit, limit)
    records = _records(client, name)
    assert len(records) == limit and len({r["trip_id"] for r in records}) == limit


def test_limit_must_be_positive(aws):
    for bad in ("0", "-3", "x"):
        with pytest.raises(SystemExit):
            producer.parse_args(["--limit", bad])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["--region", "--stream", "--csv", "--rate", "--stream-name",
                                 "--limit", "x", "-1", "10", "--strea", "--", ""]),
                max_size=7))
def test_any_argument_soup_parses_or_exits_cleanly(argv):
    # Bad command lines end in argparse's usage error (SystemExit 2), never in a traceback
    try:
        args = producer.parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 2
    else:
        assert isinstance(args.source, str) and args.source


def test_ctrl_c_while_pacing_counts_only_what_was_sent(aws, tmp_path, monkeypatch):
    # GIVEN a paced run (the template's --rate 10) stopped, as by Ctrl-C, during its 4th wait
    client = _stream("us-east-1")
    path = write_csv(tmp_path / "t.csv", [tlc_row(i) for i in range(30)]
                     + [tlc_row(99, fare_amount="abc")] + [tlc_row(i) for i in range(30, 40)])
    flag = producer._StopFlag()
    waits = []

    def fake_sleep(seconds, stop):
        waits.append(seconds)
        if len(waits) == 4:
            stop.stop = True

    monkeypatch.setattr(producer, "_sleep", fake_sleep)
    result = producer.run(path, stream_name=TEMPLATE_STREAM, client=client, rate=10,
                          progress=False, stop=flag)
    # THEN the trip read before the stop is not counted as read: read == valid == sent
    stats = result.to_json()
    assert result.interrupted
    assert stats["rows_read"] == stats["sent"] == stats["valid_sent"] == len(_records(client))
    assert stats["sent"] >= 1 and stats["invalid_reasons"] == {}
