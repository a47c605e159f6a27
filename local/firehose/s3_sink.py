"""Write a flushed batch (or failed-record reports) to S3 as one object, named as AWS names it."""

from __future__ import annotations

import gzip
import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from local.firehose.buffer import Record
from local.firehose.config import S3Target
from local.firehose.prefixes import object_suffix, render_error_prefix, render_prefix

log = logging.getLogger(__name__)


def arrival_moment(arrival_ms: int, timezone: str = "UTC") -> datetime:
    """The arrival time as an aware datetime in ``timezone``."""
    moment = datetime.fromtimestamp(arrival_ms / 1000, tz=UTC)
    return moment if timezone == "UTC" else moment.astimezone(ZoneInfo(timezone))


def _body(target: S3Target, payload: bytes) -> bytes:
    return gzip.compress(payload, compresslevel=6) if target.compression == "GZIP" else payload


def put_object(s3: Any, target: S3Target, key: str, payload: bytes) -> str:
    """PUT ``payload`` (compressed as configured) at ``key``; returns the key."""
    s3.put_object(Bucket=target.bucket, Key=key, Body=_body(target, payload))
    return key


def deliver_records(
    s3: Any, target: S3Target, stream: str, version: str, records: list[Record]
) -> str:
    """Concatenate ``records`` exactly as put into one object; returns its key."""
    moment = arrival_moment(records[0].arrival_ms, target.timezone)
    key = render_prefix(target.prefix, moment) + object_suffix(
        stream, version, moment, target.extension
    )
    put_object(s3, target, key, b"".join(r.data for r in records))
    log.info("s3: %s records -> s3://%s/%s", len(records), target.bucket, key)
    return key


def deliver_errors(
    s3: Any,
    target: S3Target,
    stream: str,
    version: str,
    error_type: str,
    oldest_arrival_ms: int,
    lines: list[bytes],
) -> str:
    """Write failed-record JSON documents (one per line) under the error prefix."""
    moment = arrival_moment(oldest_arrival_ms, target.timezone)
    key = render_error_prefix(target.prefix, target.error_prefix, moment, error_type)
    key += object_suffix(stream, version, moment, target.extension)
    put_object(s3, target, key, b"".join(line + b"\n" for line in lines))
    log.info("s3: %s failed records -> s3://%s/%s", len(lines), target.bucket, key)
    return key
