"""Contract tests: Firehose -> OpenSearch (rotation, document ids, failed documents in S3).

Only boto3 and opensearch-py with the environment; the S3 backup checks read the objects the
way a student would on AWS.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import UTC, datetime

import boto3
import pytest

from test_firehose_support import (
    create_search_stream,
    index_with_trip_id_pipeline,
    make_bucket,
    read_object,
    unique,
    wait_for,
    wait_keys,
)

pytestmark = pytest.mark.stack


@pytest.fixture
def firehose(local_stack):
    return boto3.client("firehose")


@pytest.fixture
def search(local_stack):
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[os.environ["OPENSEARCH_ENDPOINT"]], timeout=30)


def _count(search, index: str) -> int:
    if not search.indices.exists(index=index):
        return 0
    search.indices.refresh(index=index)
    return int(search.count(index=index)["count"])


def _trip(i: int) -> bytes:
    return json.dumps({"trip_id": f"t-{i}", "fare_amount": 10.0 + i}).encode() + b"\n"


@pytest.mark.parametrize(
    ("rotation", "fmt"),
    [
        ("NoRotation", ""),
        ("OneHour", "-%Y-%m-%d-%H"),
        ("OneDay", "-%Y-%m-%d"),
        ("OneWeek", "-%G-w%V"),
        ("OneMonth", "-%Y-%m"),
    ],
)
def test_index_rotation_suffix(firehose, search, rotation: str, fmt: str) -> None:
    # GIVEN a stream with the rotation period
    bucket = make_bucket()
    index = unique("trips")
    name = create_search_stream(firehose, bucket, index, IndexRotationPeriod=rotation)
    # WHEN a record arrives
    arrived = datetime.now(tz=UTC)
    firehose.put_record(DeliveryStreamName=name, Record={"Data": _trip(1)})
    # THEN it is searchable in the index named after its arrival time
    expected = index + arrived.strftime(fmt)
    wait_for(lambda: _count(search, expected) == 1, timeout=20)


@pytest.mark.parametrize("id_format", ["FIREHOSE_DEFAULT", "NO_DOCUMENT_ID"])
def test_default_pipeline_setting_id_from_trip_id_makes_replays_idempotent(
        firehose, search, id_format: str) -> None:
    # GIVEN an index whose default pipeline sets _id from trip_id, whatever id Firehose sends
    bucket = make_bucket()
    index = unique("trips")
    index_with_trip_id_pipeline(search, index)
    name = create_search_stream(firehose, bucket, index,
                                DocumentIdOptions={"DefaultDocumentIdFormat": id_format})
    records = [{"Data": _trip(i)} for i in range(25)]
    # WHEN the same records are put twice (a replay)
    firehose.put_record_batch(DeliveryStreamName=name, Records=records)
    wait_for(lambda: _count(search, index) == 25, timeout=20)
    firehose.put_record_batch(DeliveryStreamName=name, Records=records)
    time.sleep(2.5)
    # THEN there are still 25 documents, with the trip ids as _id
    assert _count(search, index) == 25
    assert search.get(index=index, id="t-7")["_source"]["fare_amount"] == 17.0


def test_default_document_ids_duplicate_on_replay(firehose, search) -> None:
    bucket = make_bucket()
    index = unique("trips")
    name = create_search_stream(firehose, bucket, index,
                                DocumentIdOptions={"DefaultDocumentIdFormat": "NO_DOCUMENT_ID"})
    records = [{"Data": _trip(i)} for i in range(5)]
    firehose.put_record_batch(DeliveryStreamName=name, Records=records)
    firehose.put_record_batch(DeliveryStreamName=name, Records=records)
    wait_for(lambda: _count(search, index) == 10, timeout=20)


def test_failed_documents_are_backed_up_with_the_opensearch_error(firehose, search) -> None:
    # GIVEN an index whose mapping makes fare_amount a float
    bucket = make_bucket()
    index = unique("trips")
    index_with_trip_id_pipeline(search, index, {"properties": {
        "fare_amount": {"type": "float"}, "trip_id": {"type": "keyword"}}})
    name = create_search_stream(firehose, bucket, index)
    bad = json.dumps({"trip_id": "bad-1", "fare_amount": "not-a-number"}).encode()
    # WHEN good and bad documents are put
    put = firehose.put_record_batch(
        DeliveryStreamName=name,
        Records=[{"Data": _trip(1)}, {"Data": bad}, {"Data": _trip(2)}],
    )
    # THEN the good ones are indexed and the bad one lands in S3 under the error prefix
    wait_for(lambda: _count(search, index) == 2, timeout=20)
    [key] = wait_keys(bucket, 1, prefix="backup/AmazonOpenSearchService-failed/")
    lines = read_object(bucket, key).splitlines()
    assert len(lines) == 1
    failure = json.loads(lines[0])
    assert base64.b64decode(failure["rawData"]) == bad
    assert failure["errorCode"] == "400"
    assert "mapper_parsing_exception" in failure["errorMessage"]
    assert failure["esIndexName"] == index
    # the id Firehose sent (as on AWS), not the one the pipeline would have set
    assert failure["esDocumentId"] == put["RequestResponses"][1]["RecordId"]
    assert failure["attemptsMade"] >= 1
    assert failure["arrivalTimestamp"] <= failure["attemptEndingTimestamp"]


def test_error_output_prefix_expression_is_used_for_failed_documents(firehose) -> None:
    bucket = make_bucket()
    index = unique("trips")
    s3_config = {
        "RoleARN": "arn:aws:iam::123456789012:role/firehose-delivery",
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": "backup/!{timestamp:yyyy}/",
        "ErrorOutputPrefix": "failed/!{firehose:error-output-type}/!{timestamp:yyyy}/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
    }
    name = create_search_stream(firehose, bucket, index, S3Configuration=s3_config)
    firehose.put_record(DeliveryStreamName=name, Record={"Data": b"not json"})
    year = datetime.now(tz=UTC).year
    wait_keys(bucket, 1, prefix=f"failed/AmazonOpenSearchService-failed/{year}/")


def test_all_documents_backup_writes_every_record_to_s3(firehose, search) -> None:
    bucket = make_bucket()
    index = unique("trips")
    name = create_search_stream(firehose, bucket, index, S3BackupMode="AllDocuments")
    records = [_trip(i) for i in range(10)]
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    wait_for(lambda: _count(search, index) == 10, timeout=20)
    [key] = wait_keys(bucket, 1, prefix="backup/")
    assert read_object(bucket, key) == b"".join(records)
