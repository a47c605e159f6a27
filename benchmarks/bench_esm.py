"""Benchmark: how fast the local Kinesis -> Lambda event source mapping drains a stream.

A no-op handler, BatchSize 500, a 2-shard stream holding 100,000 records: prints records/s
drained (from CreateEventSourceMapping to the last checkpoint) and the overhead per invocation
(wall time per batch and shard minus the handler's own duration; plus the bare worker round trip).

    python benchmarks/bench_esm.py                 # starts a temporary stack (port base 4966)
    python benchmarks/bench_esm.py --use-env       # uses the stack in the environment (env.sh)
    python benchmarks/bench_esm.py --records 20000 # smaller run
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import result

#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--records", "20000"]
HANDLER = "def handler(event, context):\n    return None\n"


def make_zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("noop.py", source)
    return buf.getvalue()


def fill_stream(kinesis, stream: str, total: int, record_bytes: int) -> float:
    """Put ``total`` records (PutRecords of 500, 4 threads); returns seconds taken."""
    payload = json.dumps({"trip_id": "x" * max(0, record_bytes - 20)}).encode()
    chunks = [min(500, total - i) for i in range(0, total, 500)]

    def put(n: int) -> None:
        entries = [{"Data": payload, "PartitionKey": uuid.uuid4().hex} for _ in range(n)]
        for _ in range(10):
            resp = kinesis.put_records(StreamName=stream, Records=entries)
            if not resp["FailedRecordCount"]:
                return
            entries = [e for e, r in zip(entries, resp["Records"], strict=True)
                       if "ErrorCode" in r]
        raise RuntimeError("records still failing after 10 tries")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, chunks))
    return time.perf_counter() - t0


def status(endpoint: str) -> dict:
    with urllib.request.urlopen(endpoint + "/_status", timeout=10) as resp:
        return json.load(resp)


def read_ceiling(stream: str, total: int) -> float:
    """Records/s of reading every shard from TRIM_HORIZON in parallel, doing nothing else."""
    from local.lambda_.kinesis import KinesisClient

    shard_ids = [s["ShardId"] for s in KinesisClient().list_shards(stream)]

    def read(shard_id: str) -> int:
        client = KinesisClient()
        it = client.shard_iterator(stream, shard_id, "TRIM_HORIZON")
        n = 0
        for _ in range(10_000):
            page = client.get_records(it, 5000)
            n += len(page["Records"])
            it = page.get("NextShardIterator")
            if not page["Records"] or it is None:
                break
        return n

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(shard_ids)) as pool:
        n = sum(pool.map(read, shard_ids))
    return n / (time.perf_counter() - t0)


def worker_round_trip(n: int = 300) -> tuple[float, float]:
    """Bare Runner round trip for a 500-record event: (ms per invoke, handler ms)."""
    from local.lambda_.runner import FunctionSpec, Runner

    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "noop.py").write_text(HANDLER)
        runner = Runner()
        runner.configure(FunctionSpec("bench", "arn:aws:lambda:us-east-1:1:function:bench",
                                      "noop.handler", code, 128, 30, {}, "g", Path(tmp) / "l"))
        rec = {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k",
                           "sequenceNumber": "4" * 56, "data": base64.b64encode(b"x" * 150)
                           .decode(), "approximateArrivalTimestamp": 1.7e9},
               "eventSource": "aws:kinesis", "eventID": "shardId-000000000000:" + "4" * 56}
        payload = json.dumps({"Records": [rec] * 500}).encode()
        runner.invoke("bench", payload)  # cold start
        handler_ms = 0.0
        t0 = time.perf_counter()
        for _ in range(n):
            handler_ms += runner.invoke("bench", payload).duration_ms
        elapsed = (time.perf_counter() - t0) * 1000
        runner.shutdown()
        return elapsed / n, handler_ms / n


def run(records: int, batch_size: int, record_bytes: int, timeout: float) -> None:
    endpoint = os.environ["AWS_ENDPOINT_URL_LAMBDA"]
    kinesis = boto3.client("kinesis")
    lam = boto3.client("lambda")
    stream = f"bench-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"]
    put_s = fill_stream(kinesis, stream, records, record_bytes)
    print(f"filled {records} records of ~{record_bytes} B in {put_s:.1f} s "
          f"({records / put_s:,.0f} records/s put)")
    fn = f"bench-noop-{uuid.uuid4().hex[:6]}"
    lam.create_function(FunctionName=fn, Runtime="python3.11", Handler="noop.handler",
                        Role="arn:aws:iam::123456789012:role/bench",
                        Code={"ZipFile": make_zip(HANDLER)}, Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    t0 = time.perf_counter()
    mapping = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn,
                                              StartingPosition="TRIM_HORIZON",
                                              BatchSize=batch_size)
    done = 0
    shards: dict = {}
    while time.perf_counter() - t0 < timeout:
        mine = [m for m in status(endpoint)["mappings"] if m["uuid"] == mapping["UUID"]]
        shards = mine[0]["shards"] if mine else {}
        done = sum(s["records_done"] for s in shards.values())
        if done >= records:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - t0
    invocations = sum(s["invocations"] for s in shards.values())
    handler_ms = sum(s["duration_ms_total"] for s in shards.values())
    print(f"drained {done} records in {elapsed:.2f} s: {done / elapsed:,.0f} records/s "
          f"({invocations} invocations, BatchSize {batch_size}, {len(shards)} shards)")
    result("esm_records_per_s", done / elapsed)
    result("esm_records_per_s_per_shard", done / elapsed / max(1, len(shards)))
    if invocations:
        per_batch = elapsed * 1000 * len(shards) / invocations
        print(f"wall time per batch per shard {per_batch:.2f} ms, handler "
              f"{handler_ms / invocations:.3f} ms -> overhead per invocation "
              f"{per_batch - handler_ms / invocations:.2f} ms (GetRecords, event build, "
              f"worker round trip, checkpoint)")
        result("esm_overhead_per_invoke_ms", per_batch - handler_ms / invocations)
    ceiling = read_ceiling(stream, records)
    print(f"ceiling: plain GetRecords of both shards in parallel (no Lambda) "
          f"{ceiling:,.0f} records/s -> the mapping reaches {done / elapsed / ceiling:.0%} of it")
    result("getrecords_ceiling_records_per_s", ceiling)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    lam.delete_function(FunctionName=fn)
    kinesis.delete_stream(StreamName=stream)
    rt, hm = worker_round_trip()
    print(f"bare worker round trip with a 500-record event: {rt:.2f} ms per invoke "
          f"(handler {hm:.3f} ms)")
    result("worker_round_trip_ms", rt)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--record-bytes", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--use-env", action="store_true",
                        help="use the running stack from the environment (source env.sh)")
    parser.add_argument("--port-base", type=int, default=4966)
    args = parser.parse_args()
    from local.temporary import temporary_stack

    with contextlib.nullcontext() if args.use_env else temporary_stack(args.port_base):
        run(args.records, args.batch_size, args.record_bytes, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
