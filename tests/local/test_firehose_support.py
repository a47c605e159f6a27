"""Helpers shared by the Firehose contract tests (no tests here).

Everything goes through boto3 and the environment, so the same calls work against AWS.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3

from polling import wait_for

ROLE_ARN = "arn:aws:iam::123456789012:role/firehose-delivery"
DOMAIN_ARN = "arn:aws:es:us-east-1:123456789012:domain/taxi"
TRIP_ID_PIPELINE = {"processors": [
    {"set": {"field": "_id", "value": "{{{trip_id}}}", "ignore_empty_value": True}}]}


def index_with_trip_id_pipeline(search: Any, index: str, mappings: dict[str, Any] | None = None
                                ) -> str:
    """Create ``index`` whose ``index.default_pipeline`` sets ``_id`` from ``trip_id``."""
    pipeline = f"{index}-trip-id"
    search.ingest.put_pipeline(id=pipeline, body=TRIP_ID_PIPELINE)
    body: dict[str, Any] = {"settings": {"index": {"default_pipeline": pipeline}}}
    if mappings:
        body["mappings"] = mappings
    search.indices.create(index=index, body=body)
    return pipeline



def unique(prefix: str) -> str:
    """A short unique lowercase name (valid for buckets, streams and indices)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_bucket(name: str | None = None) -> str:
    bucket = name or unique("fh")
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def list_keys(bucket: str, prefix: str = "") -> list[str]:
    s3 = boto3.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def read_object(bucket: str, key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def wait_keys(bucket: str, count: int, prefix: str = "", timeout: float = 20.0) -> list[str]:
    """Wait until at least ``count`` objects exist under ``prefix``; returns their keys."""
    return wait_for(lambda: (k := list_keys(bucket, prefix)) and len(k) >= count and k,
                    timeout=timeout)


def wait_active(firehose: Any, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """Wait for the stream to be ACTIVE (immediate locally, about a minute on AWS)."""
    def status() -> dict[str, Any] | None:
        desc = firehose.describe_delivery_stream(DeliveryStreamName=name)
        desc = desc["DeliveryStreamDescription"]
        return desc if desc["DeliveryStreamStatus"] == "ACTIVE" else None

    return wait_for(status, timeout=timeout, interval=0.5)


def s3_destination(bucket: str, **overrides: Any) -> dict[str, Any]:
    """An ExtendedS3DestinationConfiguration with small buffers (1 MiB / 1 s)."""
    config: dict[str, Any] = {
        "RoleARN": ROLE_ARN,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
    }
    config.update(overrides)
    return config


def create_s3_stream(firehose: Any, bucket: str, **overrides: Any) -> str:
    name = unique("gold")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=s3_destination(bucket, **overrides),
    )
    wait_active(firehose, name)
    return name


def create_search_stream(
    firehose: Any, bucket: str, index: str, tags: dict[str, str] | None = None, **overrides: Any
) -> str:
    """An OpenSearch stream (1 s buffers, no retries) backing up to ``bucket``."""
    name = unique("live")
    config: dict[str, Any] = {
        "RoleARN": ROLE_ARN,
        "DomainARN": DOMAIN_ARN,
        "IndexName": index,
        "IndexRotationPeriod": "NoRotation",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
        "RetryOptions": {"DurationInSeconds": 0},
        "S3BackupMode": "FailedDocumentsOnly",
        "S3Configuration": {
            "RoleARN": ROLE_ARN,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "Prefix": "backup/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
        },
    }
    config.update(overrides)
    extra: dict[str, Any] = {}
    if tags:
        extra["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        AmazonopensearchserviceDestinationConfiguration=config,
        **extra,
    )
    wait_active(firehose, name)
    return name
