"""Contract tests: Firehose DirectPut -> S3 (boto3 only; the same calls work against AWS)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from test_firehose_support import (
    create_s3_stream,
    list_keys,
    make_bucket,
    read_object,
    s3_destination,
    unique,
    wait_active,
    wait_keys,
)

pytestmark = pytest.mark.stack

SUFFIX = re.compile(
    r"(?P<stream>.+)-1-(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?P<ext>\.gz)?$"
)


@pytest.fixture
def firehose(local_stack):
    return boto3.client("firehose")


def _hour_paths(start: float, end: float, fmt: str) -> set[str]:
    return {datetime.fromtimestamp(t, tz=UTC).strftime(fmt) for t in (start, end)}


def test_create_describe_list_delete(firehose) -> None:
    # GIVEN a bucket and a new stream
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket, Prefix="gold/")
    # WHEN it is described and listed
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    names = firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]
    # THEN the shape is AWS's, with defaults filled in
    assert desc["DeliveryStreamStatus"] == "ACTIVE"
    assert desc["DeliveryStreamType"] == "DirectPut"
    assert desc["VersionId"] == "1"
    assert desc["DeliveryStreamARN"].endswith(f":deliverystream/{name}")
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert dest["CompressionFormat"] == "UNCOMPRESSED"
    assert dest["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 1}
    assert name in names
    # AND a second create with the same name is refused, delete removes it
    with pytest.raises(ClientError) as err:
        firehose.create_delivery_stream(
            DeliveryStreamName=name, ExtendedS3DestinationConfiguration=s3_destination(bucket)
        )
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    firehose.delete_delivery_stream(DeliveryStreamName=name)
    with pytest.raises(ClientError) as err:
        firehose.describe_delivery_stream(DeliveryStreamName=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_unknown_stream_raises_resource_not_found(firehose) -> None:
    with pytest.raises(firehose.exceptions.ResourceNotFoundException):
        firehose.put_record(DeliveryStreamName=unique("missing"), Record={"Data": b"x"})


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("gold/!{timestamp:yyyy}/", None),
        ("gold/!{firehose:error-output-type}/", "err/!{firehose:error-output-type}/"),
        ("gold/", "err/!{timestamp:yyyy}/"),
    ],
)
def test_invalid_prefixes_are_rejected(firehose, prefix: str, error_prefix: str | None) -> None:
    bucket = make_bucket()
    overrides = {"Prefix": prefix}
    if error_prefix:
        overrides["ErrorOutputPrefix"] = error_prefix
    with pytest.raises(firehose.exceptions.InvalidArgumentException):
        firehose.create_delivery_stream(
            DeliveryStreamName=unique("bad"),
            ExtendedS3DestinationConfiguration=s3_destination(bucket, **overrides),
        )


def test_default_prefix_naming_and_exact_bytes(firehose) -> None:
    # GIVEN a stream with no prefix
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket)
    records = [json.dumps({"trip_id": i, "fare": i * 1.5}).encode() + b"\n" for i in range(20)]
    records.append(b"no newline, raw bytes \x00\xff")
    # WHEN records are put and the 1 s interval passes
    start = time.time()
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    end = time.time()
    [key] = wait_keys(bucket, 1)
    # THEN one object under YYYY/MM/DD/HH/ with the AWS name, holding the records as put
    prefix, _, filename = key.rpartition("/")
    assert prefix + "/" in _hour_paths(start, end, "%Y/%m/%d/%H/")
    match = SUFFIX.match(filename)
    assert match and match["stream"] == name and match["ext"] is None
    assert read_object(bucket, key) == b"".join(records)


def test_custom_prefix_expressions_and_gzip(firehose) -> None:
    bucket = make_bucket()
    name = create_s3_stream(
        firehose, bucket,
        Prefix="gold/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
               "hour=!{timestamp:HH}/!{firehose:random-string}/",
        ErrorOutputPrefix="gold-errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
        CompressionFormat="GZIP",
    )
    start = time.time()
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b'{"a": 1}\n'})
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b'{"a": 2}\n'})
    end = time.time()
    [key] = wait_keys(bucket, 1)
    expected = _hour_paths(start, end, "gold/year=%Y/month=%m/day=%d/hour=%H/")
    assert any(key.startswith(p) for p in expected), key
    random_part, filename = key.split("/")[-2:]
    assert re.fullmatch(r"[A-Za-z0-9]{11}", random_part)
    match = SUFFIX.match(filename)
    assert match and match["ext"] == ".gz"
    assert gzip.decompress(read_object(bucket, key)) == b'{"a": 1}\n{"a": 2}\n'


def test_static_prefix_without_slash_is_concatenated(firehose) -> None:
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket, Prefix="gold")
    start = time.time()
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"x"})
    [key] = wait_keys(bucket, 1)
    assert any(key.startswith(p) for p in _hour_paths(start, time.time(), "gold%Y/%m/%d/%H/"))


def test_interval_buffering_groups_records_into_one_object(firehose) -> None:
    # GIVEN a 3 s interval and a 1 MiB size hint
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket,
                            BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 3})
    # WHEN three small batches arrive within a second
    start = time.monotonic()
    for i in range(3):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": f"{i}\n".encode()}])
    # THEN nothing is written before the interval, then one object with all of them
    time.sleep(max(0.0, start + 1.5 - time.monotonic()))
    listed_at = time.monotonic() - start
    keys_before_interval = list_keys(bucket)
    if listed_at < 2.9:  # a slow machine may have reached the interval already
        assert keys_before_interval == []
    [key] = wait_keys(bucket, 1, timeout=15)
    assert time.monotonic() - start >= 2.5
    assert read_object(bucket, key) == b"0\n1\n2\n"


def test_size_buffering_flushes_before_the_interval(firehose) -> None:
    # GIVEN a 1 MiB size hint and a long (60 s) interval
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket,
                            BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 60})
    record = b"r" * (100 * 1024 - 1) + b"\n"  # 100 KiB
    # WHEN 2.5 MiB arrive
    for _ in range(5):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": record}] * 5)
    # THEN two 1 MiB-sized objects are written long before 60 s; the rest waits
    keys = wait_keys(bucket, 2, timeout=15)
    sizes = [len(read_object(bucket, k)) for k in keys]
    assert sizes == [10 * len(record)] * 2
    time.sleep(1.0)
    assert len(list_keys(bucket)) == 2


def test_put_record_batch_limits(firehose) -> None:
    bucket = make_bucket()
    name = create_s3_stream(firehose, bucket)
    # more than 500 records: the whole call is rejected
    with pytest.raises(firehose.exceptions.InvalidArgumentException):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": b"x"}] * 501)
    # more than 4 MiB in one call: rejected
    big = b"b" * (900 * 1024)
    with pytest.raises(firehose.exceptions.InvalidArgumentException):
        firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": big}] * 5)
    # one record over 1,000 KiB: only that record fails
    oversized = b"o" * (1000 * 1024 + 1)
    result = firehose.put_record_batch(
        DeliveryStreamName=name,
        Records=[{"Data": b"ok-1\n"}, {"Data": oversized}, {"Data": b"ok-2\n"}],
    )
    assert result["FailedPutCount"] == 1
    ok1, bad, ok2 = result["RequestResponses"]
    assert "RecordId" in ok1 and "RecordId" in ok2 and "ErrorCode" not in ok1
    assert bad["ErrorCode"] and bad["ErrorMessage"] and "RecordId" not in bad
    # PutRecord with an oversized record is rejected
    with pytest.raises(firehose.exceptions.InvalidArgumentException):
        firehose.put_record(DeliveryStreamName=name, Record={"Data": oversized})
    [key] = wait_keys(bucket, 1)
    assert read_object(bucket, key) == b"ok-1\nok-2\n"


def test_aws_cli_talks_to_the_stand_in(firehose, local_stack) -> None:
    bucket = make_bucket()
    name = unique("cli")
    config = json.dumps(s3_destination(bucket, Prefix="cli/"))
    aws = [sys.executable, "-m", "awscli"]
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    created = subprocess.run(
        [*aws, "firehose", "create-delivery-stream", "--delivery-stream-name", name,
         "--extended-s3-destination-configuration", config],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )
    assert name in json.loads(created.stdout)["DeliveryStreamARN"]
    wait_active(firehose, name)
    listed = subprocess.run([*aws, "firehose", "list-delivery-streams", "--limit", "10000"],
                            capture_output=True, text=True, env=env, timeout=60, check=True)
    assert name in json.loads(listed.stdout)["DeliveryStreamNames"]
