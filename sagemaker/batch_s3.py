"""Small S3 helpers of the batch scripts (boto3 only: endpoints come from the environment)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from taximl.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: Files Athena writes next to query output that are not data.
NOT_DATA_SUFFIXES = (".metadata", ".manifest", ".csv", ".txt", ".json", "_SUCCESS", "/")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/part`` -> ``("bucket", "key/part")``."""
    if not uri.startswith("s3://"):
        raise InvalidInputError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise InvalidInputError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key.lstrip('/')}"


def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """(key, size) of every object under a prefix."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"], int(item["Size"])


def put_bytes(s3: Any, uri: str, body: bytes, content_type: str | None = None) -> str:
    bucket, key = parse_s3_uri(uri)
    extra = {"ContentType": content_type} if content_type else {}
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    logger.info("wrote %s (%d bytes)", uri, len(body))
    return uri


def get_bytes(s3: Any, uri: str) -> bytes:
    bucket, key = parse_s3_uri(uri)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def read_parquet_prefix(s3: Any, uri: str) -> pd.DataFrame:
    """Every Parquet file under an S3 prefix (e.g. a CTAS folder) as one DataFrame.

    Athena names CTAS files without a ``.parquet`` suffix, so every object that is not a known
    metadata file is read; empty objects are skipped.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    bucket, prefix = parse_s3_uri(uri)
    tables = []
    for key, size in sorted(list_keys(s3, bucket, prefix)):
        name = key.rsplit("/", 1)[-1]
        if size == 0 or name.startswith((".", "_")) or key.endswith(NOT_DATA_SUFFIXES):
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        tables.append(pq.read_table(io.BytesIO(body)))
    if not tables:
        raise InvalidInputError(f"no Parquet data under {uri}")
    table = pa.concat_tables(tables, promote_options="default")
    logger.info("read %d rows from %d files under %s", table.num_rows, len(tables), uri)
    return table.to_pandas()


def bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True
