"""Benchmark: 100,000 trips through the local streaming pipeline, and the naive design.

Usage::

    python benchmarks/bench_pipeline.py [--trips 100000] [--rate 0] [--naive-trips 3000]
    python benchmarks/bench_pipeline.py --rate 1000 --trips 30000 --naive-trips 0  # freshness
    python benchmarks/bench_pipeline.py --trips 60000 --naive-trips 0     # index throughput

Starts its own local stack (port base 6466, temporary state dir), deploys a model and the
streaming path (steps 3-5) configured for a live dashboard (``--buffer-seconds 0``: Firehose's
zero buffering, valid on AWS too; ``--batching-window 0``: the mapping invokes as soon as it has
records), runs the producer (as fast as it can, or at ``--rate``), and prints:

- sustained events/s end to end (first put -> last valid trip in the gold S3 prefix);
- p50/p99 latency event put (Kinesis arrival) -> gold object (first seen by a 0.25 s poller)
  and -> searchable document (matched by order of arrival);
- CPU seconds per process during the run and peak RSS (psutil), and how busy the machine was;
- the naive design on the same data and services: one InvokeEndpoint and one Firehose
  PutRecord per record, against our batch scorer (both in-process, same clients);
- on lines of their own, for the dashboard's freshness (issue targets on 2 cores: p99 < 3 s at
  ``--rate 1000``, >= 3,000 documents/s at full speed, both sinks on)::

      RESULT searchable_p99_s <x>        Kinesis put -> document searchable, p99
      RESULT searchable_docs_per_s <y>   first put -> last document searchable
      RESULT opensearch_peak_rss_mb_per_100k_docs <z>

``--rate`` sends at a steady rate (events/s; 0 = as fast as the producer can).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "producer", REPO / "lambda", REPO / "infra" / "streaming",
              REPO / "tests", REPO / "tests" / "e2e", REPO / "viz"):
    sys.path.insert(0, str(extra))

import boto3  # noqa: E402
import psutil  # noqa: E402


class ProcessSampler(threading.Thread):
    """CPU seconds (since :meth:`start`) and peak RSS of every process under each root's tree."""

    def __init__(self, roots: dict[str, int], interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.interval_s = interval_s
        self.cpu: dict[str, float] = {}
        self.peak_rss: dict[str, int] = {}
        self._seen: dict[tuple[str, int], float] = {}
        self._base: dict[tuple[str, int], float] = {}
        self.parts: dict[tuple[str, int], str] = {}  # child processes of another program
        self._stop = threading.Event()

    def start(self) -> None:
        self.sample()  # CPU spent before (stack start-up, deployment) is not the run's
        self._base = dict(self._seen)
        super().start()

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        children: dict[int, list[int]] = {}
        programs: dict[int, str] = {}
        for proc in psutil.process_iter(["ppid", "name"]):  # one scan of /proc for every tree
            children.setdefault(proc.info["ppid"] or 0, []).append(proc.pid)
            programs[proc.pid] = proc.info["name"] or ""
        for name, pid in self.roots.items():
            tree, todo = [], [pid]
            while todo:
                tree.append(todo.pop())
                todo.extend(children.get(tree[-1], []))
            procs = []
            for member in tree:
                try:
                    procs.append(psutil.Process(member))
                except psutil.Error:
                    continue
            rss = 0
            for proc in procs:
                try:
                    times = proc.cpu_times()
                    self._seen[(name, proc.pid)] = times.user + times.system
                    if programs.get(proc.pid) != programs.get(pid):  # e.g. osmem-server
                        self.parts[(name, proc.pid)] = programs.get(proc.pid, "?")
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
        totals: dict[str, float] = {}
        for key, seconds in self._seen.items():
            spent = seconds - self._base.get(key, 0.0)
            labels = [key[0]] + ([f"{key[0]}: {self.parts[key]}"] if key in self.parts else [])
            for label in labels:
                totals[label] = totals.get(label, 0.0) + spent
        self.cpu = totals

    def stop(self) -> None:
        self._stop.set()
        self.sample()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def watch_gold(bucket: str, wanted: int, timeout_s: float) -> tuple[dict[str, float],
                                                                     list[float], float]:
    """Poll the gold prefix; per trip_id the time its object was first seen, and arrivals."""
    s3 = boto3.client("s3")
    seen_keys: set[str] = set()
    first_seen: dict[str, float] = {}
    latencies: list[float] = []
    deadline = time.monotonic() + timeout_s
    while len(first_seen) < wanted and time.monotonic() < deadline:
        now = time.time()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                 Prefix="scored/"):
            for obj in page.get("Contents", []):
                if obj["Key"] in seen_keys:
                    continue
                seen_keys.add(obj["Key"])
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                if body[:2] == b"\x1f\x8b":
                    body = gzip.decompress(body)
                for trip_id, event_time in _ids_and_times(body):
                    if trip_id not in first_seen:
                        first_seen[trip_id] = now
                        latencies.append(now - _epoch(event_time))
        time.sleep(0.25)
    return first_seen, latencies, time.time()


_TRIP_ID = re.compile(rb'"trip_id":"([^"]+)"')
_EVENT_TIME = re.compile(rb'"event_time":"([^"]+)"')


def _ids_and_times(body: bytes) -> list[tuple[str, str]]:
    """(trip_id, event_time) of every scored record of a gold object, without a JSON parse:
    the poller shares the 2 cores with the pipeline it measures, so it must stay cheap."""
    ids, times = _TRIP_ID.findall(body), _EVENT_TIME.findall(body)
    if len(ids) != len(times) or len(ids) != body.count(b"\n"):
        return [(r["trip_id"], r["event_time"]) for r in map(json.loads, body.splitlines())]
    return [(i.decode(), t.decode()) for i, t in zip(ids, times, strict=True)]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def watch_search(endpoint: str, index: str, wanted: int, timeout_s: float,
                 ) -> list[tuple[float, int]]:
    """(time, searchable count) samples until ``wanted`` documents are searchable."""
    from search_client import search_client

    client = search_client(endpoint, "us-east-1")
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            count = client.count(index=f"{index}-*")["count"]
        except Exception:  # the index does not exist yet
            count = 0
        samples.append((time.time(), count))
        if count >= wanted:
            break
        time.sleep(0.25)
    return samples


def search_latencies(samples: list[tuple[float, int]], arrivals: list[float]) -> list[float]:
    """k-th searchable document vs k-th arrival (order-of-arrival matching)."""
    arrivals = sorted(arrivals)
    out, k = [], 0
    for t, count in samples:
        while k < min(count, len(arrivals)):
            out.append(t - arrivals[k])
            k += 1
    return out


def compare_naive(settings: Any, path: Path, n: int) -> dict[str, float]:
    """Our batch scorer vs one InvokeEndpoint + one PutRecord per record, same records."""
    from fare_endpoint import FareEndpoint
    from scoring import BatchScorer
    from sinks import FirehoseSink
    from taximl.features import features_for_record, features_to_csv
    from taximl.validation import validate_record
    from threshold_source import ThresholdSource
    from trip_source import SourceStats, iter_trips

    firehose = boto3.client("firehose")
    runtime = boto3.client("sagemaker-runtime")
    sink_name = f"{settings.project_prefix}-naive"
    firehose.create_delivery_stream(
        DeliveryStreamName=sink_name, DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/bench-firehose",
            "BucketARN": f"arn:aws:s3:::{settings.gold_bucket}", "Prefix": "naive/",
            "BufferingHints": {"IntervalInSeconds": 1, "SizeInMBs": 5}})
    trips = [t for _, t in zip(range(n), iter_trips(path, SourceStats()), strict=False)]
    records = [{"kinesis": {"sequenceNumber": str(i), "approximateArrivalTimestamp": time.time(),
                            "data": base64.b64encode(t.data).decode()}}
               for i, t in enumerate(trips)]

    invoke_s = put_s = 0.0
    started = time.perf_counter()
    for record in records:  # the course template's handler, record by record
        payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
        check = validate_record(payload)
        if check.trip is None:
            continue
        body = features_to_csv([features_for_record(check.trip)])
        t0 = time.perf_counter()
        response = runtime.invoke_endpoint(EndpointName=settings.endpoint_name,
                                           ContentType="text/csv", Body=body)
        predicted = float(response["Body"].read())
        t1 = time.perf_counter()
        invoke_s += t1 - t0
        out = {**payload, "predicted_fare": predicted,
               "is_outlier": abs(check.trip["fare_amount"] - predicted) > 10}
        firehose.put_record(DeliveryStreamName=sink_name,
                            Record={"Data": json.dumps(out).encode() + b"\n"})
        put_s += time.perf_counter() - t1
    naive_s = time.perf_counter() - started

    scorer = BatchScorer(
        FareEndpoint(runtime, settings.endpoint_name),
        ThresholdSource(None, mode="fixed"),
        FirehoseSink(firehose, sink_name), FirehoseSink(firehose, sink_name))
    started = time.perf_counter()
    for i in range(0, len(records), 1000):
        scorer.score(records[i:i + 1000])
    batched_s = time.perf_counter() - started
    return {"records": len(records), "naive_per_s": len(records) / naive_s,
            "batched_per_s": len(records) / batched_s,
            "invoke_ms": invoke_s / len(records) * 1000, "put_ms": put_s / len(records) * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="producer events/s, steady (0: as fast as possible)")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--buffer-seconds", type=int, default=0,
                        help="Firehose buffering interval, both sinks (0-900; 0 = zero buffering, "
                             "as a live dashboard is configured on AWS too)")
    parser.add_argument("--batching-window", type=int, default=0,
                        help="the mapping's MaximumBatchingWindowInSeconds (default 0, AWS's "
                             "default; infra/streaming/event-source-mapping.json uses 1 s)")
    parser.add_argument("--naive-trips", type=int, default=3000)
    parser.add_argument("--port-base", type=int, default=6466)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)

    from local.temporary import temporary_stack

    print(f"starting the local stack on port base {args.port_base} ...")
    with temporary_stack(args.port_base) as stack:
        return _run(args, stack, stack.config.state_dir)


def _run(args: argparse.Namespace, stack: Any, state: Path) -> int:
    import deploy
    import e2e_model
    from e2e_helpers import generate
    from taximl.config import Settings

    settings = Settings.namespaced("bench",
                                   opensearch_endpoint=os.environ["OPENSEARCH_ENDPOINT"])
    data = state / "bench-data"
    data.mkdir()
    trips_csv = generate(data / "trips.csv", rows=args.trips, seed=21, anomalies=0.02)
    e2e_model.deploy_quick_model(settings, generate(data / "train.csv", rows=20_000, seed=7))
    overrides = {"MaximumBatchingWindowInSeconds": args.batching_window}
    deploy.deploy_streaming(settings, buffer_seconds=args.buffer_seconds, shards=args.shards,
                            mapping_overrides=overrides, say=lambda m: None)
    roots = {}
    for pid_file in (state / "pids").glob("*.json"):
        roots[pid_file.stem] = json.loads(pid_file.read_text())["pid"]
    summary = data / "producer.json"
    env = {**os.environ, **settings.as_env()}
    pace = f"{args.rate:,.0f} events/s" if args.rate else "full speed"
    print(f"producing {args.trips:,} trips ({args.shards} shards, {pace}) ...")
    producer = subprocess.Popen(
        [sys.executable, str(REPO / "producer" / "producer.py"), str(trips_csv), "--rate",
         f"{args.rate:g}",
         "--no-progress", "--summary-json", str(summary)], env=env, stdout=subprocess.DEVNULL)
    roots["producer"] = producer.pid
    sampler = ProcessSampler(roots)
    sampler.start()
    own_cpu = sum(psutil.Process().cpu_times()[:2])
    machine_before = psutil.cpu_times()
    search_samples: list[tuple[float, int]] = []
    searcher = threading.Thread(target=lambda: search_samples.extend(watch_search(
        settings.opensearch_endpoint, settings.opensearch_index, args.trips, args.timeout)),
        daemon=True)
    searcher.start()
    first_seen, latencies, _ = watch_gold(settings.gold_bucket, args.trips, args.timeout)
    producer.wait(timeout=60)
    searcher.join(timeout=args.timeout)
    sampler.stop()
    machine_after = psutil.cpu_times()
    produced = json.loads(summary.read_text())
    valid = produced["valid_sent"]
    gold_arrivals = _gold_arrivals(settings.gold_bucket)
    last_gold = max(first_seen.values()) if first_seen else 0.0
    e2e_s = last_gold - min(gold_arrivals)  # first put (Kinesis arrival) -> last trip in S3
    rate = len(first_seen) / e2e_s
    search_lat = search_latencies(search_samples, gold_arrivals)
    searchable = search_samples[-1][1] if search_samples else 0
    print("\n=== streaming pipeline (local stack, 2 cores) ===")
    print(f"trips produced          {produced['sent']:,} ({valid:,} valid) at "
          f"{produced['events_per_s']:,.0f} events/s by the producer")
    print(f"scored trips in gold    {len(first_seen):,} (distinct trip_id)")
    print(f"end-to-end throughput   {rate:,.0f} events/s sustained "
          f"({e2e_s:.1f} s from first put to last trip in S3)")
    print(f"latency put -> S3       p50 {percentile(latencies, .5):.2f} s, "
          f"p99 {percentile(latencies, .99):.2f} s (Firehose buffer {args.buffer_seconds} s, "
          "poll 0.25 s)")
    print(f"latency put -> search   p50 {percentile(search_lat, .5):.2f} s, "
          f"p99 {percentile(search_lat, .99):.2f} s ({searchable:,} docs searchable)")
    done_at = next((t for t, c in search_samples if c >= searchable), None)
    docs_per_s = searchable / (done_at - min(gold_arrivals)) if searchable and done_at else 0.0
    print(f"searchable throughput   {docs_per_s:,.0f} docs/s "
          "(first put to last document searchable)")
    print("process                 CPU s    peak RSS MB")
    for name in sorted(sampler.cpu):
        if ": " in name:  # a part of the line above, e.g. osmem-server under opensearch
            print(f"    of which {name.split(': ')[1]:<11}  {sampler.cpu[name]:7.1f}")
            continue
        print(f"  {name:<20}  {sampler.cpu[name]:7.1f}  "
              f"{sampler.peak_rss.get(name, 0) / 1e6:9.0f}")
    print(f"  {'(this benchmark)':<20}  {sum(psutil.Process().cpu_times()[:2]) - own_cpu:7.1f}"
          "           (its pollers of S3 and OpenSearch compete for the same cores)")
    idle = (machine_after.idle + machine_after.iowait) - (machine_before.idle
                                                          + machine_before.iowait)
    busy = sum(machine_after) - sum(machine_before) - idle
    print(f"machine CPU busy        {busy:.1f} of {busy + idle:.1f} core-seconds "
          f"({busy / max(busy + idle, 1e-9):.0%}) from the producer's start to the last poll")
    load = os.getloadavg()
    print(f"machine load average    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min, "
          f"{os.cpu_count()} cores)")
    rss_per_100k = sampler.peak_rss.get("opensearch", 0) / 1e6 / max(searchable, 1) * 100_000
    p99 = percentile(search_lat, .99)
    if args.rate == 1000:
        print(f"target                  p99 put -> searchable < 3 s at 1,000 events/s: "
              f"{'met' if p99 < 3 else 'NOT met'}")
    elif args.rate == 0:
        print(f"target                  >= 3,000 documents/s at full speed: "
              f"{'met' if docs_per_s >= 3000 else 'NOT met'} (why it does not fit 2 cores: "
              "local/README.md, section Rendimiento)")
    print(f"RESULT searchable_p99_s {p99:.2f}")
    print(f"RESULT searchable_docs_per_s {docs_per_s:.0f}")
    print(f"RESULT opensearch_peak_rss_mb_per_100k_docs {rss_per_100k:.0f}")
    if args.naive_trips <= 0:
        return 0
    naive = compare_naive(settings, trips_csv, args.naive_trips)
    print(f"\n=== naive design vs batched, same {naive['records']:,} records, same services ===")
    print(f"naive (1 InvokeEndpoint + 1 PutRecord per record)  {naive['naive_per_s']:8,.0f} /s"
          f"  ({naive['invoke_ms']:.1f} ms per InvokeEndpoint, {naive['put_ms']:.1f} ms per "
          "PutRecord)")
    print(f"batched (this project's scorer)                     {naive['batched_per_s']:8,.0f} /s")
    speedup = naive["batched_per_s"] / naive["naive_per_s"]
    print(f"speed-up                                            {speedup:8.1f}x")
    print(f"end-to-end pipeline vs naive handler                "
          f"{rate / naive['naive_per_s']:8.1f}x")
    return 0


def _gold_arrivals(bucket: str) -> list[float]:
    s3 = boto3.client("s3")
    arrivals = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="scored/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            for trip_id, event_time in _ids_and_times(body):
                if trip_id not in arrivals:
                    arrivals[trip_id] = _epoch(event_time)
    return sorted(arrivals.values())


if __name__ == "__main__":
    sys.exit(main())
