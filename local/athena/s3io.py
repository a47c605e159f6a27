"""S3 access from the environment: boto3 for listing/small objects, pyarrow for table data.

Environment variables
---------------------
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL
    S3 endpoint (pyarrow's ``S3FileSystem`` ignores them, so they are passed explicitly).
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION / AWS_DEFAULT_REGION
    Credentials and region.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlparse

import boto3
import pyarrow.fs as pafs

from local.athena.errors import QueryError


@dataclass(frozen=True)
class S3Object:
    """One object of a listing."""

    bucket: str
    key: str
    size: int

    @property
    def path(self) -> str:
        """``bucket/key`` as pyarrow's S3 filesystem wants it."""
        return f"{self.bucket}/{self.key}"


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); fails like Athena on other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("s3", "s3a", "s3n") or not parsed.netloc:
        raise QueryError("HIVE_INVALID_LOCATION", f"Invalid location: {uri}")
    return parsed.netloc, parsed.path.lstrip("/")


def dir_prefix(prefix: str) -> str:
    """A key prefix that ends with ``/`` (empty stays empty: the whole bucket)."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@lru_cache(maxsize=4)
def _client(service: str):
    return boto3.client(service, region_name=region())


def client(service: str):
    """A boto3 client that follows the endpoint environment (cached; clients are thread-safe)."""
    return _client(service)


@lru_cache(maxsize=1)
def filesystem() -> pafs.S3FileSystem:
    """pyarrow S3 filesystem pointed at the same endpoint boto3 uses."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict = {
        "region": region(),
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
        "session_token": os.environ.get("AWS_SESSION_TOKEN"),
    }
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "http")
    return pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def is_data_key(key: str, prefix: str) -> bool:
    """Athena skips folder markers and files whose name starts with ``_`` or ``.``."""
    if key.endswith("/") or key.endswith("_$folder$"):
        return False
    rest = key[len(prefix):]
    return not any(part.startswith(("_", ".")) for part in rest.split("/") if part)


def list_objects(uri: str) -> Iterator[S3Object]:
    """Data objects under ``uri`` (recursively, as Athena reads a location)."""
    bucket, prefix = split_uri(uri)
    prefix = dir_prefix(prefix)
    paginator = client("s3").get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if is_data_key(item["Key"], prefix):
                    yield S3Object(bucket, item["Key"], int(item["Size"]))
    except client("s3").exceptions.NoSuchBucket as exc:
        raise QueryError("HIVE_CANNOT_OPEN_SPLIT",
                         f"The specified bucket does not exist: {bucket}") from exc


def prefix_is_empty(uri: str) -> bool:
    """True when no object at all lives under ``uri``."""
    bucket, prefix = split_uri(uri)
    try:
        reply = client("s3").list_objects_v2(Bucket=bucket, Prefix=dir_prefix(prefix), MaxKeys=1)
    except client("s3").exceptions.NoSuchBucket:
        return True
    return not reply.get("Contents")


def upload_file(path: str, uri: str, content_type: str = "") -> None:
    """Upload a local file (boto3 switches to multipart for big files).

    pyarrow's S3 output streams are not used for writing: against moto their
    CompleteMultipartUpload fails ("error embedded in a 200 OK response").
    """
    bucket, key = split_uri(uri)
    extra = {"ContentType": content_type} if content_type else None
    client("s3").upload_file(path, bucket, key, ExtraArgs=extra)


def put_text(uri: str, body: str | bytes, content_type: str = "text/plain") -> None:
    """Write a small object."""
    bucket, key = split_uri(uri)
    data = body.encode() if isinstance(body, str) else body
    client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
