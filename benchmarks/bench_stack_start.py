"""Seconds from ``start`` to every service healthy: cold (empty state) and warm (with state).

    .venv/bin/python benchmarks/bench_stack_start.py [--port-base 6066] [--s3-mb 50]

Uses its own port base and a temporary state dir; stops everything it started.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3

from local.settings import StackConfig
from local.stack import Stack
from results import result

#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--s3-mb", "10", "--records", "5000", "--docs", "1000"]


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _seed(env: dict[str, str], s3_mb: int, items: int, records: int, docs: int) -> None:
    def client(name: str, var: str = "AWS_ENDPOINT_URL"):  # type: ignore[no-untyped-def]
        return boto3.client(name, endpoint_url=env[var], region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    s3 = client("s3")
    s3.create_bucket(Bucket="bench")
    chunk = os.urandom(1024 * 1024)
    for i in range(s3_mb):
        s3.put_object(Bucket="bench", Key=f"blob/{i:04d}.bin", Body=chunk)
    ddb = client("dynamodb")
    ddb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    for start in range(0, items, 25):
        ddb.batch_write_item(RequestItems={"bench": [
            {"PutRequest": {"Item": {"id": {"S": f"k{i}"}, "v": {"N": str(i)}}}}
            for i in range(start, min(start + 25, items))]})
    kinesis = client("kinesis", "AWS_ENDPOINT_URL_KINESIS")
    kinesis.create_stream(StreamName="bench", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="bench",
                                             WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    for start in range(0, records, 500):
        kinesis.put_records(StreamName="bench", Records=[
            {"Data": json.dumps({"n": i}).encode(), "PartitionKey": str(i)}
            for i in range(start, min(start + 500, records))])
    from opensearchpy import OpenSearch, helpers

    search = OpenSearch(hosts=[env["OPENSEARCH_ENDPOINT"]], timeout=60)
    helpers.bulk(search, ({"_index": "bench", "_id": str(i), "fare": i, "zone": f"z{i % 50}"}
                          for i in range(docs)), chunk_size=1000, refresh=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-base", type=int, default=6066)
    parser.add_argument("--s3-mb", type=int, default=50, help="MiB of S3 objects for the warm run")
    parser.add_argument("--items", type=int, default=2000, help="DynamoDB items")
    parser.add_argument("--records", type=int, default=20000, help="Kinesis records")
    parser.add_argument("--docs", type=int, default=5000, help="OpenSearch documents")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        stack = Stack(StackConfig.from_env(args.port_base, Path(tmp) / "state"))
        try:
            services = ", ".join(s.name for s in stack.enabled())
            cold = _timed(stack.start)
            again = _timed(stack.start)
            _seed(stack.env(), args.s3_mb, args.items, args.records, args.docs)
            stop = _timed(stack.stop)
            warm = _timed(stack.start)
            restart = _timed(lambda: (stack.stop(), stack.start()))
        finally:
            stack.stop()
    print(f"services: {services}")
    print(f"cold start (empty state)            : {cold:6.2f} s")
    print(f"second start (already running)      : {again:6.2f} s")
    print(f"stop with state (snapshot + dump)   : {stop:6.2f} s")
    print(f"warm start with state               : {warm:6.2f} s   "
          f"({args.s3_mb} MiB S3, {args.items} DynamoDB items, {args.records} Kinesis records, "
          f"{args.docs} OpenSearch docs)")
    print(f"restart (stop + start) with state   : {restart:6.2f} s")
    for name, value in (("cold_start_s", cold), ("second_start_s", again), ("stop_s", stop),
                        ("warm_start_s", warm), ("restart_s", restart)):
        result(f"stack_{name}", value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
