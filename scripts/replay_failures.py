"""Put the records the event source mapping gave up on back into their stream, once.

Usage (after ``eval "$(python -m taximl.config)"``; locally also ``source .local-stack/env.sh``)::

    python scripts/replay_failures.py            # replay everything under aws/lambda/
    python scripts/replay_failures.py --dry-run  # only list what would be replayed

When a batch still fails after ``MaximumRetryAttempts`` (or outlives
``MaximumRecordAgeInSeconds``), Lambda writes an invocation record *with the batch's records*
to the S3 on-failure destination, ``s3://$GOLD_BUCKET/aws/lambda/<mapping>/<shard>/...``, and
the shard moves on. After the cause is fixed (the endpoint is back, a bug is deployed away),
this script puts those records back into the stream they came from, with their partition keys,
and moves each object it replayed to ``aws/lambda-replayed/`` so it is never replayed twice.
Replaying is safe: ``trip_id`` is computed from the trip, the index overwrites by ``trip_id`` and
gold is read as distinct trips.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from taximl.batching import put_records  # noqa: E402
from taximl.config import Settings  # noqa: E402

FAILED_PREFIX = "aws/lambda/"
REPLAYED_PREFIX = "aws/lambda-replayed/"


@dataclass
class ReplayResult:
    objects: int = 0
    records: int = 0


def failure_objects(s3: Any, bucket: str, prefix: str = FAILED_PREFIX) -> list[str]:
    """Keys of the on-failure records in ``bucket``, oldest first."""
    keys: list[tuple[Any, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [(obj["LastModified"], obj["Key"]) for obj in page.get("Contents", [])]
    return [key for _, key in sorted(keys)]


def records_of(document: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(stream name, Kinesis event records) of one on-failure record."""
    stream = document["KinesisBatchInfo"]["streamArn"].rsplit("/", 1)[-1]
    payload = document.get("payload")
    if payload is None:
        raise ValueError("the on-failure record has no payload: only an S3 destination keeps "
                         "the records (SQS and SNS get metadata only)")
    event = json.loads(payload) if isinstance(payload, str) else payload
    return stream, event["Records"]


def put_back(kinesis: Any, stream: str, records: list[dict[str, Any]]) -> None:
    """PutRecords the event records back, with their partition keys, in order."""
    import base64

    put_records(kinesis, stream, [{"Data": base64.b64decode(r["kinesis"]["data"]),
                                   "PartitionKey": r["kinesis"]["partitionKey"]}
                                  for r in records])


def replay(settings: Settings, *, dry_run: bool = False,
           say: Callable[[str], None] = print) -> ReplayResult:
    """Replay every on-failure record of the gold bucket; returns what was replayed."""
    import boto3

    s3 = boto3.client("s3", region_name=settings.region)
    kinesis = boto3.client("kinesis", region_name=settings.region)
    bucket = settings.gold_bucket
    result = ReplayResult()
    for key in failure_objects(s3, bucket):
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        stream, records = records_of(document)
        reason = document["requestContext"]["condition"]
        say(f"{'would replay' if dry_run else 'replaying'} {len(records)} records "
            f"({reason}) into {stream}: s3://{bucket}/{key}")
        if not dry_run:
            put_back(kinesis, stream, records)
            target = REPLAYED_PREFIX + key[len(FAILED_PREFIX):]
            s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
        result.objects += 1
        result.records += len(records)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list, do not replay")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    result = replay(settings, dry_run=args.dry_run)
    verb = "would be replayed" if args.dry_run else "replayed"
    print(f"{result.records} records from {result.objects} on-failure objects {verb} "
          f"(s3://{settings.gold_bucket}/{FAILED_PREFIX}).")
    if result.objects and not args.dry_run:
        print(f"Moved to s3://{settings.gold_bucket}/{REPLAYED_PREFIX}. Follow them with "
              "python viz/live_stats.py or in the gold layer.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
