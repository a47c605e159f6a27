"""The fault proxy (local/faults.py) answers with AWS's error shapes and passes the rest through.

boto3 clients pointed at the proxy must raise exactly what they raise on AWS, and a partial
PutRecordBatch failure must look like Firehose's: the other records delivered, ``FailedPutCount``
and per-record ``ErrorCode``/``ErrorMessage`` for the refused ones.
"""

from __future__ import annotations

import gzip
import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.faults import FIREHOSE_UNAVAILABLE, SAGEMAKER_UNAVAILABLE, THROTTLING, FaultProxy
from polling import wait_for

pytestmark = pytest.mark.stack

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _runtime(url: str):
    return boto3.client("sagemaker-runtime", endpoint_url=url, config=NO_RETRIES)


def test_throttling_and_unavailable_have_the_sagemaker_runtime_shapes(local_stack) -> None:
    with FaultProxy(local_stack.endpoint("sagemaker-runtime")) as proxy:
        proxy.fail("InvokeEndpoint", THROTTLING, failing=1, period=2)
        proxy.fail("InvokeEndpoint", SAGEMAKER_UNAVAILABLE, times=1)
        client = _runtime(proxy.url)
        errors = []
        for _ in range(4):
            with pytest.raises(ClientError) as caught:
                client.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1,2",
                                       ContentType="text/csv")
            error = caught.value.response
            errors.append((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]))
    # THEN calls 1 and 3 are throttled, call 2 is the one 503, call 4 reaches the stand-in
    assert errors == [("ThrottlingException", 400), ("ServiceUnavailable", 503),
                      ("ThrottlingException", 400), ("ValidationError", 400)]
    assert proxy.calls["InvokeEndpoint"] == 4 and proxy.failed["InvokeEndpoint"] == 3


def test_partial_put_record_batch_failure_has_firehose_shape(local_stack, tmp_path) -> None:
    s3, firehose = boto3.client("s3"), boto3.client("firehose")
    bucket = "fault-proxy-contract"
    s3.create_bucket(Bucket=bucket)
    firehose.create_delivery_stream(
        DeliveryStreamName="fault-proxy-contract", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "out/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"IntervalInSeconds": 1, "SizeInMBs": 1}})
    with FaultProxy(local_stack.endpoint("firehose")) as proxy:
        proxy.reject_records(lambda data: b"bad" in data)
        proxy.fail("PutRecordBatch", FIREHOSE_UNAVAILABLE, times=1)
        client = boto3.client("firehose", endpoint_url=proxy.url, config=NO_RETRIES)
        records = [{"Data": f'{{"n": {i}, "tag": "{"bad" if i % 2 else "ok"}"}}\n'.encode()}
                   for i in range(6)]
        with pytest.raises(ClientError) as caught:
            client.put_record_batch(DeliveryStreamName="fault-proxy-contract", Records=records)
        assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"
        response = client.put_record_batch(DeliveryStreamName="fault-proxy-contract",
                                           Records=records)
    # THEN the odd records failed with Firehose's codes; the even ones reached S3
    assert response["FailedPutCount"] == 3
    codes = [r.get("ErrorCode") for r in response["RequestResponses"]]
    assert codes == [None, "ServiceUnavailableException"] * 3
    assert all(r["RecordId"] for r in response["RequestResponses"][::2])
    assert proxy.rejected_records == 3 and proxy.forwarded_records == 3

    def delivered() -> list[int]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/")
                .get("Contents", [])]
        lines = []
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            lines += [json.loads(line)["n"] for line in body.splitlines() if line]
        return sorted(lines)

    assert wait_for(lambda: delivered() == [0, 2, 4] and delivered(), 30, "the delivered records")
