"""Benchmark: twice the sustainable rate for 60 s through the local pipeline, and the recovery.

Usage::

    python benchmarks/bench_load.py [--seconds 60] [--factor 2] [--calibration 20000]

Starts its own local stack (``--port-base``, temporary state), deploys a model and the streaming
path (steps 3-5 as ``infra/streaming/deploy.py`` does, 2 shards, Firehose buffers of 1 s), then:

1. **sustainable rate**: puts a backlog of ``--calibration`` trips while the event source
   mapping is disabled, enables it and times how fast it finishes them (scored and delivered
   to Firehose): that rate, ``R``, is what the pipeline keeps up with on this machine;
2. **overload**: ``--factor`` x ``R`` events/s are put for ``--seconds`` (records prepared by
   the producer's own code beforehand, then paced ``PutRecords`` calls of 500, so the sending
   itself costs little CPU on a machine the stack shares), while a sampler records every
   0.5 s the mapping's iterator age (the stand-in's status, worst shard), the records
   finished, and the resident memory of every stack process (each with its children: the
   Lambda workers are counted in ``lambda``);
3. **recovery**: the time from the end of the overload until the backlog is gone (every record
   finished, iterator age back under 1 s);
4. **nothing dropped**: the valid trips sent must all be in gold (distinct ``trip_id`` in the
   S3 prefix) and in the index, and the on-failure destination must be empty.

Prints the figures, and ``RESULT`` lines for ``benchmarks/run_all.py``. Timing on a shared
2-core machine is pessimistic: the producer, the stack and the checks share the CPU.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "producer", REPO / "lambda", REPO / "infra" / "streaming",
              REPO / "tests", REPO / "tests" / "e2e", REPO / "viz", REPO / "data"):
    sys.path.insert(0, str(extra))

import boto3  # noqa: E402
import psutil  # noqa: E402

from results import result  # noqa: E402

#: What ``run_all.py --quick`` passes (a busy machine).
QUICK_ARGS = ["--seconds", "20", "--calibration", "10000", "--batch-size", "100"]
SAMPLE_S = 0.5
SHARDS = 2


@dataclass
class Sample:
    t: float
    iterator_age_ms: float
    done: int
    rss: dict[str, int]


class Sampler(threading.Thread):
    """Iterator age, records finished and RSS per stack process, every ``SAMPLE_S``."""

    def __init__(self, lambda_url: str, mapping: str, roots: dict[str, int]) -> None:
        super().__init__(daemon=True, name="load-sampler")
        self.lambda_url = lambda_url
        self.mapping = mapping
        self.roots = roots
        self.samples: list[Sample] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_S):
            self.samples.append(self.sample())

    def sample(self) -> Sample:
        age, done = mapping_progress(self.lambda_url, self.mapping)
        rss = {}
        for name, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                rss[name] = sum(p.memory_info().rss for p in (root, *root.children(True)))
            except psutil.Error:
                continue
        return Sample(time.time(), age, done, rss)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def mapping_progress(lambda_url: str, mapping: str) -> tuple[float, int]:
    """(iterator age of the worst shard in ms, records finished) of one mapping."""
    with urllib.request.urlopen(lambda_url + "/_status", timeout=10) as response:
        status = json.load(response)
    for entry in status["mappings"]:
        if entry["uuid"] == mapping:
            shards = entry["shards"].values()
            return (float(entry.get("iterator_age_ms") or 0),
                    sum(s["records_done"] + s["records_skipped"] for s in shards))
    return 0.0, 0


def set_enabled(lam: Any, mapping: str, enabled: bool) -> None:
    lam.update_event_source_mapping(UUID=mapping, Enabled=enabled)
    state = "Enabled" if enabled else "Disabled"
    wait_until(lambda: lam.get_event_source_mapping(UUID=mapping)["State"] == state, 60,
               f"the mapping {state}", 0.2)


def wait_until(check: Any, timeout_s: float, what: str, interval_s: float = 0.5) -> Any:
    """``polling.wait_for`` (the tests' bounded wait) with the benchmark's argument order."""
    from polling import wait_for

    return wait_for(check, timeout_s, what, interval_s)


def gold_trip_ids(bucket: str) -> set[str]:
    s3 = boto3.client("s3")
    ids: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="scored/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            ids.update(json.loads(line)["trip_id"] for line in body.splitlines() if line)
    return ids


def search_count(settings: Any) -> int:
    from search_client import search_client

    client = search_client(settings.opensearch_endpoint, settings.region)
    try:
        client.indices.refresh(index=f"{settings.opensearch_index}-*")
        return int(client.count(index=f"{settings.opensearch_index}-*")["count"])
    except Exception:  # the index does not exist yet
        return 0


def produce(path: Path, settings: Any, rate: float | None) -> Any:
    from producer import run

    return run(path, stream_name=settings.stream_name, client=boto3.client("kinesis"),
               rate=rate, progress=False)


def prepared_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """PutRecords entries of a trip file, made by the producer's code; and how many are valid."""
    from trip_source import SourceStats, iter_trips

    stats = SourceStats()
    entries = [{"Data": t.data, "PartitionKey": t.partition_key}
               for t in iter_trips(path, stats)]
    return entries, stats.valid


def paced_put(stream: str, entries: list[dict[str, Any]], rate: float) -> float:
    """Put ``entries`` at ``rate`` records/s (calls of 500, failed entries retried); seconds."""
    from taximl.batching import PUT_RECORDS_MAX, put_records

    kinesis = boto3.client("kinesis")
    started = time.monotonic()
    for i in range(0, len(entries), PUT_RECORDS_MAX):
        pause = started + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        put_records(kinesis, stream, entries[i:i + PUT_RECORDS_MAX])
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the overload")
    parser.add_argument("--factor", type=float, default=2.0, help="offered rate / sustainable")
    parser.add_argument("--calibration", type=int, default=20_000,
                        help="backlog size that measures the sustainable rate")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="mapping BatchSize (default: event-source-mapping.json's); smaller "
                             "batches lower the sustainable rate, so that twice it can be put "
                             "on a machine that runs Kinesis and the pipeline on the same cores")
    parser.add_argument("--port-base", type=int, default=6266)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    from local.temporary import temporary_stack

    print(f"starting the local stack on port base {args.port_base} ...", flush=True)
    with temporary_stack(args.port_base) as stack:
        return run(args, stack)


def run(args: argparse.Namespace, stack: Any) -> int:
    import deploy
    import e2e_model
    from e2e_helpers import generate
    from taximl.config import Settings

    state = stack.config.state_dir
    settings = Settings.namespaced("load", opensearch_endpoint=os.environ["OPENSEARCH_ENDPOINT"])
    data = state / "load-data"
    data.mkdir()
    e2e_model.deploy_quick_model(settings, generate(data / "train.csv", rows=20_000, seed=7))
    overrides = {"BatchSize": args.batch_size} if args.batch_size else None
    names = deploy.deploy_streaming(settings, buffer_seconds=1, shards=SHARDS, say=lambda m: None,
                                    mapping_overrides=overrides)
    lambda_url = stack.endpoint("lambda")
    mapping = names["mapping"]
    roots = {p.stem: json.loads(p.read_text())["pid"] for p in (state / "pids").glob("*.json")}
    roots["benchmark (producer, checks)"] = os.getpid()

    # 1. sustainable rate: drain a backlog put while the mapping was disabled
    lam = boto3.client("lambda")
    set_enabled(lam, mapping, False)
    calibration = generate(data / "calibration.csv", rows=args.calibration, seed=31)
    sent = produce(calibration, settings, None)
    total = sent.send_stats.sent
    set_enabled(lam, mapping, True)
    # timed from the first finished batch: the pollers' start-up is not throughput
    first = wait_until(lambda: (d := mapping_progress(lambda_url, mapping)[1]) and d,
                       args.timeout, "the first batch", 0.05)
    started = time.time()
    wait_until(lambda: mapping_progress(lambda_url, mapping)[1] >= total, args.timeout,
               "the calibration backlog", 0.05)
    sustainable = (total - first) / (time.time() - started)
    print(f"sustainable rate: {total - first:,} trips drained in "
          f"{(total - first) / sustainable:.1f} s after the first batch -> "
          f"{sustainable:,.0f} events/s ({sustainable / SHARDS:,.0f} per shard)", flush=True)

    # 2. overload for --seconds
    offered = args.factor * sustainable
    rows = int(offered * args.seconds)
    entries, load_valid = prepared_records(generate(data / "load.csv", rows=rows, seed=32))
    sampler = Sampler(lambda_url, mapping, roots)
    sampler.samples.append(sampler.sample())
    sampler.start()
    print(f"offering {offered:,.0f} events/s ({args.factor:g}x) for {args.seconds:g} s "
          f"({rows:,} trips) ...", flush=True)
    load_started = time.time()
    load_s = paced_put(settings.stream_name, entries, offered)
    load_ended = time.time()
    achieved = len(entries) / load_s
    total += len(entries)
    at_end = sampler.sample()

    # 3. recovery
    recovered = wait_until(
        lambda: (s := sampler.sample()).done >= total and s.iterator_age_ms < 1000 and s,
        args.timeout, "the backlog to drain", 0.25)
    recovery_s = recovered.t - load_ended
    sampler.stop()
    peak_age_s = max(s.iterator_age_ms for s in sampler.samples) / 1000

    # 4. nothing dropped
    valid = sent.source_stats.valid + load_valid
    gold = wait_until(lambda: (ids := gold_trip_ids(settings.gold_bucket)) and
                      len(ids) >= valid and ids, 300, "every valid trip in gold", 2.0)
    indexed = wait_until(lambda: (n := search_count(settings)) >= valid and n, 300,
                         "every valid trip in the index", 2.0)
    s3 = boto3.client("s3")
    failed = s3.list_objects_v2(Bucket=settings.gold_bucket, Prefix="aws/lambda/").get(
        "KeyCount", 0)
    dropped = valid - len(gold)

    print("\n=== load: twice the sustainable rate (local stack, shared 2-core machine) ===")
    print(f"sustainable rate        {sustainable:8,.0f} events/s (backlog of {args.calibration:,})")
    print(f"offered                 {offered:8,.0f} events/s for {args.seconds:g} s; put "
          f"{achieved:,.0f} events/s = {achieved / sustainable:.2f}x ({len(entries):,} trips in "
          f"{load_s:.1f} s)")
    print(f"iterator age            peak {peak_age_s:.1f} s; at the end of the load "
          f"{at_end.iterator_age_ms / 1000:.1f} s; back under 1 s {recovery_s:.1f} s after it")
    print(f"nothing dropped         {valid:,} valid trips sent, {len(gold):,} in gold, "
          f"{indexed:,} documents, {failed} on-failure objects")
    print("memory (RSS, MiB)       at start   peak    at the end")
    first, last = sampler.samples[0], recovered
    peaks: dict[str, int] = {}
    for s in sampler.samples:
        for name, value in s.rss.items():
            peaks[name] = max(peaks.get(name, 0), value)
    for name in sorted(peaks):
        print(f"  {name:<22}{first.rss.get(name, 0) / 2**20:8.0f} {peaks[name] / 2**20:7.0f} "
              f"{last.rss.get(name, 0) / 2**20:9.0f}")
    ages = ", ".join(f"{s.t - load_started:.0f}s:{s.iterator_age_ms / 1000:.1f}"
                     for s in sampler.samples[:: max(1, len(sampler.samples) // 12)])
    print(f"iterator age over time  {ages}")
    result("load_sustainable_events_per_s", sustainable)
    result("load_sustainable_records_per_s_per_shard", sustainable / SHARDS)
    result("load_offered_events_per_s", offered)
    result("load_achieved_factor_x", achieved / sustainable)
    result("load_achieved_put_events_per_s", achieved)
    result("load_duration_s", load_s)
    result("load_peak_iterator_age_s", peak_age_s)
    result("load_recovery_s", recovery_s)
    result("load_dropped_count", dropped)
    result("load_on_failure_count", failed)
    for name in sorted(peaks):
        if name in ("lambda", "firehose", "kinesis", "opensearch", "moto", "sagemaker-runtime"):
            result(f"load_peak_rss_{name.replace('-', '_')}_mib", peaks[name] / 2**20)
    return 0 if dropped == 0 and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
