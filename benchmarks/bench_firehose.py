"""Benchmark of the local Firehose stand-in: PutRecordBatch throughput and delivery delay.

Measures, with both destinations on (an extended S3 stream and an OpenSearch stream that also
backs up all documents to S3):

1. records/s accepted by PutRecordBatch (batches of 500 JSON records of ~400 bytes);
2. the time until every one of those records is searchable in OpenSearch (indexing drain);
3. the delay from a put to the object in S3 and to the document being searchable, with
   1 s buffering intervals (the smallest interval the tests use) and with 0 s.

Uses the stack named by the environment (``source .local-stack/env.sh``) when
``AWS_ENDPOINT_URL_FIREHOSE`` is set; otherwise starts a throw-away stack on port base 4866.

Run: ``.venv/bin/python benchmarks/bench_firehose.py [--batches 40]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PORT_BASE = 4866  # the throw-away stack, when no stack is in the environment
ROLE = "arn:aws:iam::123456789012:role/firehose-delivery"
DOMAIN = "arn:aws:es:us-east-1:123456789012:domain/taxi"


def trip_record(i: int, rng: random.Random) -> bytes:
    """A JSON trip of about 400 bytes, newline-terminated as the project's producer writes."""
    trip = {
        "trip_id": f"{uuid.UUID(int=rng.getrandbits(128))}",
        "vendor_id": rng.choice([1, 2]),
        "pickup_datetime": f"2024-01-15T08:{i % 60:02d}:{rng.randint(0, 59):02d}",
        "dropoff_datetime": f"2024-01-15T09:{i % 60:02d}:{rng.randint(0, 59):02d}",
        "passenger_count": rng.randint(1, 4),
        "trip_distance": round(rng.uniform(0.3, 25), 2),
        "pu_location_id": rng.randint(1, 263),
        "do_location_id": rng.randint(1, 263),
        "payment_type": rng.choice([1, 2]),
        "fare_amount": round(rng.uniform(3, 90), 2),
        "predicted_fare": round(rng.uniform(3, 90), 2),
        "residual": round(rng.uniform(-20, 20), 3),
        "is_outlier": rng.random() < 0.05,
        "rule": "segment-p99",
        "model_variant": "mv-12",
        "segment": "manhattan-peak",
    }
    return json.dumps(trip).encode() + b"\n"


def s3_config(bucket: str, prefix: str, size: int, interval: int) -> dict[str, Any]:
    return {
        "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": prefix,
        "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
    }


def create_pair(fh: Any, bucket: str, tag: str, size: int, interval: int) -> tuple[str, str, str]:
    """An S3 stream and an OpenSearch stream (AllDocuments backup); returns names + index."""
    s3_name, os_name, index = f"bench-s3-{tag}", f"bench-os-{tag}", f"bench-{tag}"
    fh.create_delivery_stream(
        DeliveryStreamName=s3_name,
        ExtendedS3DestinationConfiguration=s3_config(bucket, f"gold-{tag}/", size, interval),
    )
    fh.create_delivery_stream(
        DeliveryStreamName=os_name,
        AmazonopensearchserviceDestinationConfiguration={
            "RoleARN": ROLE, "DomainARN": DOMAIN, "IndexName": index,
            "IndexRotationPeriod": "NoRotation",
            "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval},
            "RetryOptions": {"DurationInSeconds": 0}, "S3BackupMode": "AllDocuments",
            "S3Configuration": s3_config(bucket, f"backup-{tag}/", size, interval),
        },
    )
    return s3_name, os_name, index


def count(search: Any, index: str) -> int:
    if not search.indices.exists(index=index):
        return 0
    search.indices.refresh(index=index)
    return int(search.count(index=index)["count"])


def wait(check: Any, timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``check()`` is true (raises after ``timeout``)."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("benchmark wait timed out")
        time.sleep(interval)
    return time.perf_counter() - start


def throughput(fh: Any, search: Any, bucket: str, batches: int) -> None:
    rng = random.Random(7)
    payloads = [[{"Data": trip_record(i, rng)} for i in range(500)] for _ in range(batches)]
    size = statistics.mean(len(e["Data"]) for e in payloads[0])
    s3_name, os_name, index = create_pair(fh, bucket, "tp", size=5, interval=1)
    timings: dict[str, float] = {s3_name: 0.0, os_name: 0.0}
    started = time.perf_counter()
    for entries in payloads:
        for name in (s3_name, os_name):
            t0 = time.perf_counter()
            result = fh.put_record_batch(DeliveryStreamName=name, Records=entries)
            timings[name] += time.perf_counter() - t0
            assert result["FailedPutCount"] == 0
    total = time.perf_counter() - started
    n = batches * 500
    print(f"records: {n} per stream, {size:.0f} bytes each, batches of 500 (one client thread)")
    print(f"PutRecordBatch -> extended S3 stream:        {n / timings[s3_name]:8.0f} records/s")
    print(f"PutRecordBatch -> OpenSearch (+S3 backup):    {n / timings[os_name]:8.0f} records/s")
    print(f"both streams, sequential puts:                {2 * n / total:8.0f} records/s")
    drain = wait(lambda: count(search, index) >= n, timeout=900, interval=0.2)
    print(f"all {n} documents searchable {drain:.2f} s after the last put "
          f"(indexing ~{n / (total + drain):.0f} docs/s end to end)")


def object_count(s3: Any, bucket: str, prefix: str) -> int:
    return int(s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0))


def delays(fh: Any, s3: Any, search: Any, bucket: str, interval: int, rounds: int) -> None:
    tag = f"lat{interval}"
    s3_name, os_name, index = create_pair(fh, bucket, tag, size=1, interval=interval)
    rng = random.Random(interval)
    to_s3: list[float] = []
    to_search: list[float] = []
    for i in range(rounds):
        before = object_count(s3, bucket, f"gold-{tag}/")
        record = {"Data": trip_record(i, rng)}
        t0 = time.perf_counter()
        fh.put_record(DeliveryStreamName=s3_name, Record=record)
        fh.put_record(DeliveryStreamName=os_name, Record=record)
        s3_done: float | None = None
        search_done: float | None = None
        while s3_done is None or search_done is None:
            elapsed = time.perf_counter() - t0
            if elapsed > 30:
                raise TimeoutError("record not delivered within 30 s")
            if s3_done is None and object_count(s3, bucket, f"gold-{tag}/") > before:
                s3_done = elapsed
            if search_done is None and count(search, index) > i:
                search_done = elapsed
            time.sleep(0.01)
        to_s3.append(s3_done)
        to_search.append(search_done)
    print(f"IntervalInSeconds={interval}: put -> object in S3 median "
          f"{statistics.median(to_s3):.2f} s (max {max(to_s3):.2f}); put -> searchable median "
          f"{statistics.median(to_search):.2f} s (max {max(to_search):.2f}), {rounds} rounds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="batches of 500 per stream")
    parser.add_argument("--rounds", type=int, default=5, help="latency samples per setting")
    args = parser.parse_args()

    from local.temporary import temporary_stack

    use_env = bool(os.environ.get("AWS_ENDPOINT_URL_FIREHOSE"))
    if not use_env:
        print(f"starting a throw-away stack on port base {PORT_BASE}")
    with contextlib.nullcontext() if use_env else temporary_stack(PORT_BASE):
        import boto3
        from opensearchpy import OpenSearch

        fh, s3 = boto3.client("firehose"), boto3.client("s3")
        search = OpenSearch(hosts=[os.environ["OPENSEARCH_ENDPOINT"]], timeout=60)
        bucket = f"bench-firehose-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        throughput(fh, search, bucket, args.batches)
        for interval in (1, 0):
            delays(fh, s3, search, bucket, interval, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
