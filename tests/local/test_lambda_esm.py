"""Contract tests: the local Kinesis event source mapping follows AWS's rules (aws-semantics.md).

Each test deploys the small recording function of ``test_lambda_support`` and maps a fresh
kinesalite stream to it; retries and polling are made fast through ``PUT /_settings``.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import time

import boto3
import pytest

from test_lambda_support import (
    FAST,
    ROLE,
    Recorder,
    new_stream,
    put,
    service_status,
    set_tunables,
    unique,
    wait_enabled,
    wait_for,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def fast(local_stack):
    endpoint = local_stack.endpoint("lambda")
    before = set_tunables(endpoint, {})
    set_tunables(endpoint, FAST)
    yield endpoint
    set_tunables(endpoint, {k: before[k] for k in FAST})


@pytest.fixture()
def aws(fast):
    """Lambda and Kinesis clients; mappings and streams a test made are deleted afterwards
    (kinesalite allows 10 shards per account)."""
    lam, kinesis = boto3.client("lambda"), boto3.client("kinesis")
    before = {m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    streams_before = set(kinesis.list_streams()["StreamNames"])
    yield lam, kinesis
    lam = boto3.client("lambda")
    kinesis = boto3.client("kinesis")
    for m in lam.list_event_source_mappings()["EventSourceMappings"]:
        if m["UUID"] not in before:
            with contextlib.suppress(lam.exceptions.ResourceInUseException):
                lam.delete_event_source_mapping(UUID=m["UUID"])
    for name in set(kinesis.list_streams()["StreamNames"]) - streams_before:
        kinesis.delete_stream(StreamName=name)


def mapping(lam, fn: str, arn: str, **kwargs) -> str:
    params = {"FunctionName": fn, "EventSourceArn": arn, "StartingPosition": "TRIM_HORIZON",
              "BatchSize": 100}
    params.update(kwargs)
    created = lam.create_event_source_mapping(**params)
    assert created["State"] == "Creating"
    return created["UUID"]


def sqs_queue() -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def sqs_messages(url: str, count: int, timeout: float = 20) -> list[dict]:
    sqs = boto3.client("sqs")
    got: list[dict] = []

    def poll():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     WaitTimeSeconds=0).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= count

    wait_for(poll, timeout, interval=0.2, what=f"{count} OnFailure messages")
    return got


def test_event_has_the_exact_kinesis_shape(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"KEEP_EVENT": "1"})
    stream, arn = new_stream(kinesis)
    seqs = put(kinesis, stream, ["a", "b"], key="pk-1")
    wait_enabled(lam, mapping(lam, rec.name, arn))
    calls = wait_for(rec.calls, what="an invocation")
    records = calls[0]["event"]["Records"]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == seqs
    first = records[0]
    assert set(first) == {"kinesis", "eventSource", "eventVersion", "eventID", "eventName",
                          "invokeIdentityArn", "awsRegion", "eventSourceARN"}
    assert set(first["kinesis"]) == {"kinesisSchemaVersion", "partitionKey", "sequenceNumber",
                                     "data", "approximateArrivalTimestamp"}
    assert first["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert first["kinesis"]["partitionKey"] == "pk-1"
    assert base64.b64decode(first["kinesis"]["data"]) == b"a"
    assert isinstance(first["kinesis"]["approximateArrivalTimestamp"], float)
    assert abs(first["kinesis"]["approximateArrivalTimestamp"] - time.time()) < 60
    assert first["eventSource"] == "aws:kinesis" and first["eventVersion"] == "1.0"
    assert first["eventName"] == "aws:kinesis:record"
    assert first["eventID"] == f"shardId-000000000000:{seqs[0]}"
    assert first["eventSourceARN"] == arn and first["awsRegion"] == "us-east-1"
    assert first["invokeIdentityArn"] == ROLE


def test_batch_size_is_honoured_and_order_kept(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    datas = [f"r{i}" for i in range(25)]
    put(kinesis, stream, datas)
    mapping(lam, rec.name, arn, BatchSize=10)
    wait_for(lambda: len(rec.datas()) >= 25, what="25 records")
    assert rec.datas() == datas
    assert [len(c["datas"]) for c in rec.calls()] == [10, 10, 5]


def test_batch_is_capped_at_6_mb(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    big = ["x" * 900_000 + str(i) for i in range(10)]  # ~1.2 MB each once base64-encoded
    for d in big:
        put(kinesis, stream, [d])
    mapping(lam, rec.name, arn, BatchSize=10000)
    wait_for(lambda: len(rec.datas()) >= 10, what="10 big records")
    calls = rec.calls()
    assert len(calls) > 1
    assert all(c["size"] <= 6 * 1024 * 1024 for c in calls)
    assert rec.datas() == big


def test_batching_window_gathers_records(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    wait_enabled(lam, mapping(lam, rec.name, arn, MaximumBatchingWindowInSeconds=2))
    t0 = time.time()
    for i in range(3):
        put(kinesis, stream, [f"w{i}"])
        time.sleep(0.2)
    wait_for(lambda: len(rec.datas()) >= 3, what="3 records")
    calls = rec.calls()
    assert len(calls) == 1 and calls[0]["datas"] == ["w0", "w1", "w2"]
    assert calls[0]["t0"] - t0 >= 1.5


def test_starting_positions_latest_and_at_timestamp(aws, fast, tmp_path):
    lam, kinesis = aws
    latest, at_ts = Recorder(lam, tmp_path), Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["old"])
    time.sleep(1.1)
    ts = time.time()
    time.sleep(0.1)
    put(kinesis, stream, ["middle"])
    latest_uuid = wait_enabled(lam, mapping(lam, latest.name, arn,
                                            StartingPosition="LATEST"))["UUID"]
    wait_enabled(lam, mapping(lam, at_ts.name, arn, StartingPosition="AT_TIMESTAMP",
                              StartingPositionTimestamp=ts))
    # LATEST means "after the poller's first read": wait for that read, however slow the machine
    wait_for(lambda: any(m["uuid"] == latest_uuid and m["shards"]
                         and all(s["millis_behind_latest"] is not None
                                 for s in m["shards"].values())
                         for m in service_status(fast)["mappings"]),
             what="the LATEST poller's first read")
    put(kinesis, stream, ["new"])
    wait_for(lambda: "new" in latest.datas() and "new" in at_ts.datas(), what="new record")
    assert latest.datas() == ["new"]
    assert at_ts.datas() == ["middle", "new"]


def test_parallelization_factor_keeps_order_per_partition_key(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": "slow", "SLOW_S": "0.3"})
    stream, arn = new_stream(kinesis)
    for i in range(6):
        for key in ("a", "b", "c", "d", "e", "f"):
            put(kinesis, stream, [f"{key}{i}"], key=key)
    mapping(lam, rec.name, arn, BatchSize=3, ParallelizationFactor=4)
    wait_for(lambda: len(rec.datas()) >= 36, what="36 records")
    calls = rec.calls()
    for key in "abcdef":
        seen = [d for c in sorted(calls, key=lambda c: c["t0"]) for d in c["datas"]
                if d[0] == key]
        assert seen == [f"{key}{i}" for i in range(6)]
    # batches of different lanes overlapped in time (concurrent invocations of one shard)
    spans = sorted((c["t0"], c["t1"]) for c in calls)
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_retries_then_on_failure_metadata_to_sqs(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    seqs = put(kinesis, stream, ["ok1", "boom", "ok2"])
    mapping(lam, rec.name, arn, BatchSize=3, MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    assert len(rec.calls()) == 3  # first attempt + 2 retries of the whole batch
    assert msg["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert msg["requestContext"]["approximateInvokeCount"] == 3
    assert msg["requestContext"]["functionArn"].endswith(f":function:{rec.name}")
    assert msg["responseContext"]["functionError"] == "Unhandled"
    info = msg["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["streamArn"] == arn
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (seqs[0], seqs[2])
    assert info["batchSize"] == 3
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    # the shard moved on
    put(kinesis, stream, ["after"])
    wait_for(lambda: "after" in rec.datas(), what="the next record")


def test_function_timeout_is_a_function_error(aws, tmp_path, local_stack):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, timeout=1)
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["hang"])
    mapping(lam, rec.name, arn, MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    assert msg["requestContext"]["condition"] == "RetryAttemptsExhausted"
    log = (local_stack.state_dir / "logs" / "lambda" / f"{rec.name}.log").read_text()
    assert "Task timed out after 1.00 seconds" in log


def test_transient_errors_are_retried_until_success(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"FAIL_FIRST": "2"})
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["x", "y"])
    mapping(lam, rec.name, arn)  # MaximumRetryAttempts -1: retry until it works
    wait_for(lambda: len(rec.calls()) >= 3, what="3 attempts")
    time.sleep(0.5)
    assert [c["datas"] for c in rec.calls()] == [["x", "y"]] * 3


def test_maximum_record_age_drops_old_records(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["boom"])
    mapping(lam, rec.name, arn, MaximumRecordAgeInSeconds=2,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    assert msg["requestContext"]["condition"] == "RecordAgeExceeded"
    put(kinesis, stream, ["fresh"])
    wait_for(lambda: "fresh" in rec.datas(), what="the next record")


def test_bisect_isolates_the_bad_record(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    datas = [f"ok{i}" for i in range(8)]
    datas[5] = "boom5"
    seqs = put(kinesis, stream, datas)
    mapping(lam, rec.name, arn, BatchSize=8, BisectBatchOnFunctionError=True,
            MaximumRetryAttempts=0,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    info = msg["KinesisBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == seqs[5]
    wait_for(lambda: all(d in rec.datas() for d in datas if d != "boom5"), what="good records")
    # split batches are not retries: with MaximumRetryAttempts 0 every good record ran once
    calls = [c["datas"] for c in rec.calls()]
    assert calls[0] == datas and calls[1] == datas[:4]


def test_partial_batch_response_checkpoints_before_lowest_failure(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": "partial_first"})
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["a", "bad1", "b", "bad2", "c"])
    mapping(lam, rec.name, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: len(rec.calls()) >= 2, what="the retry")
    time.sleep(0.3)
    assert [c["datas"] for c in rec.calls()] == [["a", "bad1", "b", "bad2", "c"],
                                                 ["bad1", "b", "bad2", "c"]]


@pytest.mark.parametrize("mode", ["malformed_first", "unknown_first", "badkey_first"])
def test_invalid_item_identifier_fails_the_whole_batch(aws, tmp_path, mode):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": mode})
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["a", "b", "c"])
    mapping(lam, rec.name, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: len(rec.calls()) >= 2, what="the retry")
    time.sleep(0.3)
    assert [c["datas"] for c in rec.calls()] == [["a", "b", "c"]] * 2


@pytest.mark.parametrize("mode", ["empty", "null"])
def test_empty_or_null_failure_list_is_success(aws, tmp_path, mode):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": mode})
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["a", "b"])
    mapping(lam, rec.name, arn, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(rec.calls, what="an invocation")
    put(kinesis, stream, ["c"])
    wait_for(lambda: "c" in rec.datas(), what="the next record")
    assert rec.datas() == ["a", "b", "c"]


def test_partial_response_with_bisect_splits_at_the_returned_sequence(aws, tmp_path):
    # GIVEN a function that reports every record from "bad" on as failed, bisect on
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": "partial"})
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    seqs = put(kinesis, stream, ["ok1", "ok2", "bad", "ok3"])
    mapping(lam, rec.name, arn, FunctionResponseTypes=["ReportBatchItemFailures"],
            BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    # THEN the batch is split at the returned sequence number (not halved), and that retry
    # counts: after 1 retry the rest of the batch goes to the OnFailure destination
    calls = [c["datas"] for c in rec.calls()]
    assert calls == [["ok1", "ok2", "bad", "ok3"], ["bad", "ok3"]]
    assert msg["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert msg["requestContext"]["approximateInvokeCount"] == 2
    assert msg["KinesisBatchInfo"]["startSequenceNumber"] == seqs[2]
    assert msg["KinesisBatchInfo"]["endSequenceNumber"] == seqs[3]
    assert msg["KinesisBatchInfo"]["batchSize"] == 2
    put(kinesis, stream, ["after"])
    wait_for(lambda: "after" in rec.datas(), what="the shard to move on")


def test_partial_failures_count_against_maximum_retry_attempts(aws, tmp_path):
    # GIVEN a record the function keeps reporting as failed (no bisect), 2 retries allowed
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path, env={"MODE": "partial"})
    url, queue_arn = sqs_queue()
    stream, arn = new_stream(kinesis)
    seqs = put(kinesis, stream, ["ok1", "bad", "ok2"])
    mapping(lam, rec.name, arn, FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    [msg] = sqs_messages(url, 1)
    # THEN it is tried 1 + 2 times from the failed record on, then given up (as on AWS: a
    # partial batch response is a failed invocation), and ok1 ran exactly once
    assert [c["datas"] for c in rec.calls()] == [["ok1", "bad", "ok2"]] + [["bad", "ok2"]] * 2
    assert msg["requestContext"]["approximateInvokeCount"] == 3
    assert msg["KinesisBatchInfo"]["startSequenceNumber"] == seqs[1]


def test_s3_on_failure_destination_gets_the_records(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    s3 = boto3.client("s3")
    bucket = unique("esm-failures")
    s3.create_bucket(Bucket=bucket)
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["boom-s3"])
    uuid_ = mapping(lam, rec.name, arn, MaximumRetryAttempts=0,
                    DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}})
    keys = wait_for(lambda: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get(
        "Contents", [])], what="the S3 failure object")
    assert keys[0].startswith(f"aws/lambda/{uuid_}/shardId-000000000000/")
    body = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert body["KinesisBatchInfo"]["batchSize"] == 1
    records = json.loads(body["payload"])["Records"]
    assert base64.b64decode(records[0]["kinesis"]["data"]) == b"boom-s3"


def test_disabled_mapping_does_not_poll_until_enabled(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["p", "q"])
    uuid_ = mapping(lam, rec.name, arn, Enabled=False)
    wait_enabled(lam, uuid_, "Disabled")
    time.sleep(0.5)
    assert rec.calls() == []
    updated = lam.update_event_source_mapping(UUID=uuid_, Enabled=True, BatchSize=1)
    assert updated["State"] == "Updating"
    wait_enabled(lam, uuid_)
    wait_for(lambda: len(rec.datas()) >= 2, what="2 records")
    assert [c["datas"] for c in rec.calls()] == [["p"], ["q"]]
    assert lam.get_event_source_mapping(UUID=uuid_)["BatchSize"] == 1
    assert uuid_ in [m["UUID"] for m in lam.list_event_source_mappings(
        FunctionName=rec.name)["EventSourceMappings"]]
    lam.delete_event_source_mapping(UUID=uuid_)
    wait_for(lambda: uuid_ not in [m["UUID"] for m in lam.list_event_source_mappings(
        EventSourceArn=arn)["EventSourceMappings"]], what="deletion")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=uuid_)


def test_mapping_parameters_are_validated(aws, tmp_path):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    _, arn = new_stream(kinesis)
    bad = [{"BatchSize": 10001}, {"ParallelizationFactor": 11},
           {"MaximumRetryAttempts": 10001}, {"MaximumBatchingWindowInSeconds": 301},
           {"StartingPosition": "AT_TIMESTAMP"},
           {"EventSourceArn": arn.replace(arn.rsplit("/", 1)[1], unique("nostream"))}]
    for extra in bad:
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            mapping(lam, rec.name, arn, **extra)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        mapping(lam, unique("nofn"), arn)
    wait_enabled(lam, mapping(lam, rec.name, arn))
    with pytest.raises(lam.exceptions.ResourceConflictException):
        mapping(lam, rec.name, arn)


def test_iterator_age_is_reported_and_published(aws, tmp_path, fast):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis)
    put(kinesis, stream, ["i1"])
    time.sleep(1.0)  # the record waits a second before the mapping exists
    uuid_ = mapping(lam, rec.name, arn)
    wait_for(rec.calls, what="an invocation")
    status = next(m for m in service_status(fast)["mappings"] if m["uuid"] == uuid_)
    shard = status["shards"]["shardId-000000000000"]
    assert shard["records_done"] == 1 and shard["checkpoint"]
    cloudwatch = boto3.client("cloudwatch")

    def iterator_age_points():
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="IteratorAge",
            Dimensions=[{"Name": "FunctionName", "Value": rec.name}],
            StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60,
            Statistics=["Maximum"])["Datapoints"]
        return points

    points = wait_for(iterator_age_points, timeout=20, interval=0.5, what="IteratorAge metric")
    assert max(p["Maximum"] for p in points) >= 900  # ms behind: at least the wait above


def test_checkpoints_survive_a_stack_restart(aws, tmp_path, local_stack, fast):
    lam, kinesis = aws
    rec = Recorder(lam, tmp_path)
    latest = Recorder(lam, tmp_path)
    stream, arn = new_stream(kinesis, shards=2)
    first = [f"a{i}" for i in range(10)]
    for i, d in enumerate(first):
        put(kinesis, stream, [d], key=f"k{i}")
    mapping(lam, rec.name, arn)
    wait_enabled(lam, mapping(lam, latest.name, arn, StartingPosition="LATEST"))
    wait_for(lambda: len(rec.datas()) >= 10, what="first 10 records")
    time.sleep(0.5)  # checkpoints written
    # WHEN the whole stack stops, records arrive, and it starts again
    local_stack.stop()
    local_stack.start()
    set_tunables(fast, FAST)
    kinesis = boto3.client("kinesis")
    second = [f"b{i}" for i in range(6)]
    for i, d in enumerate(second):
        put(kinesis, stream, [d], key=f"k{i}")
    # THEN each shard resumes where it stopped: nothing skipped, nothing done twice
    wait_for(lambda: len(rec.datas()) >= 16, what="the records put after the restart")
    wait_for(lambda: len(latest.datas()) >= 6, what="the LATEST mapping's records")
    time.sleep(0.5)
    assert sorted(rec.datas()) == sorted(first + second)
    assert sorted(latest.datas()) == sorted(second)
