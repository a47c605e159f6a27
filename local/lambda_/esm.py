"""Kinesis event source mappings: a poller per mapping and shard, like Lambda's.

Per shard, a reader thread calls GetRecords and hands records to ``ParallelizationFactor``
lanes (chosen by a hash of the partition key, so each key keeps its order); each lane builds
batches (``BatchSize``, 6 MB, ``MaximumBatchingWindowInSeconds``) and delivers them with
:class:`.batch.BatchDelivery`. A progress tracker advances the shard's checkpoint over the
longest prefix of records that are done, so a restart never skips a record.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import settings
from .batch import BatchDelivery, Rec, Rules, Stopped
from .checkpoints import Checkpoint, CheckpointStore
from .destinations import Destinations
from .kinesis import KinesisClient, KinesisError
from .runner import InvokeResult

log = logging.getLogger(__name__)

MAX_PAYLOAD = 6 * 1024 * 1024 - 64 * 1024  # 6 MB invoke limit, minus the envelope


def stream_name_of(arn: str) -> str:
    """``arn:aws:kinesis:region:acct:stream/NAME`` -> NAME."""
    return arn.split(":", 5)[5].split("/", 1)[1]


class ShardPoller:
    """Reads one shard and delivers its records; ``stop()`` leaves a durable checkpoint."""

    def __init__(self, mapping: dict[str, Any], shard_id: str, rules: Rules,
                 checkpoints: CheckpointStore, invoke: Callable[[str, bytes], InvokeResult],
                 destinations: Destinations, initial_position: str,
                 wait_for: Callable[[], bool] | None = None) -> None:
        self.mapping = mapping
        self.shard_id = shard_id
        self.rules = rules
        self.checkpoints = checkpoints
        self.stream = stream_name_of(mapping["EventSourceArn"])
        self.batch_size = int(mapping["BatchSize"])
        self.window_s = float(mapping.get("MaximumBatchingWindowInSeconds") or 0)
        self.lanes_n = int(mapping.get("ParallelizationFactor") or 1)
        self.initial_position = initial_position
        self.wait_for = wait_for
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stats: dict[str, Any] = {
            "shard_id": shard_id, "checkpoint": None, "iterator_age_ms": 0,
            "batch_iterator_age_ms": 0,
            "millis_behind_latest": None, "records_read": 0, "records_done": 0,
            "records_skipped": 0, "invoked_records": 0, "invocations": 0, "errors": 0,
            "duration_ms_total": 0.0, "last_result": "No records processed", "finished": False}
        self.stats_lock = threading.Lock()
        self.buffers: list[deque[Rec]] = [deque() for _ in range(self.lanes_n)]
        self.buffer_since: list[float] = [0.0] * self.lanes_n
        self.tracker: deque[list[Any]] = deque()
        self.reader_done = False
        self.checkpoint = checkpoints.load(shard_id) or Checkpoint()
        self.stats["checkpoint"] = self.checkpoint.sequence_number
        self.stats["finished"] = self.checkpoint.finished
        region = mapping["EventSourceArn"].split(":")[3]
        self.region = region
        tail = json.dumps({"eventName": "aws:kinesis:record",
                           "invokeIdentityArn": mapping.get("_Role", ""),
                           "awsRegion": region,
                           "eventSourceARN": mapping["EventSourceArn"]})[1:]
        self._frag_mid = ('},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"'
                          + shard_id + ":")
        self._frag_tail = '",' + tail
        self.delivery = [BatchDelivery(rules, shard_id, invoke, destinations.send,
                                       self.stop_event, self.stats, self.stats_lock)
                         for _ in range(self.lanes_n)]
        self.threads: list[threading.Thread] = []

    # lifecycle
    def start(self) -> None:
        if self.checkpoint.finished:
            return
        name = f"esm-{self.rules.uuid[:8]}-{self.shard_id[-6:]}"
        self.threads = [threading.Thread(target=self._read_loop, name=name + "-r", daemon=True)]
        self.threads += [threading.Thread(target=self._lane_loop, args=(i,), daemon=True,
                                          name=f"{name}-l{i}") for i in range(self.lanes_n)]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        with self.cond:
            self.cond.notify_all()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._save_checkpoint()

    @property
    def finished(self) -> bool:
        return self.checkpoint.finished

    # reading
    def _iterator(self, client: KinesisClient, last_read: str | None) -> str:
        cp = self.checkpoint
        if last_read or cp.sequence_number:
            return client.shard_iterator(self.stream, self.shard_id, "AFTER_SEQUENCE_NUMBER",
                                         sequence_number=last_read or cp.sequence_number)
        if cp.start_timestamp is not None:
            return client.shard_iterator(self.stream, self.shard_id, "AT_TIMESTAMP",
                                         timestamp=cp.start_timestamp)
        position = self.initial_position
        if position == "AT_TIMESTAMP":
            return client.shard_iterator(self.stream, self.shard_id, "AT_TIMESTAMP",
                                         timestamp=float(self.mapping["StartingPositionTimestamp"]))
        if position == "LATEST":
            cp.start_timestamp = time.time()
            self._save_checkpoint()
        return client.shard_iterator(self.stream, self.shard_id, position)

    def _read_loop(self) -> None:
        try:
            self._read()
        except Stopped:
            pass
        except Exception:
            log.exception("poller %s/%s crashed", self.rules.uuid, self.shard_id)
        finally:
            with self.cond:
                self.reader_done = True
                self.cond.notify_all()

    def _pause(self, seconds: float) -> None:
        if self.stop_event.wait(seconds):
            raise Stopped

    def _read(self) -> None:
        if self.wait_for is not None:
            while not self.wait_for():
                self._pause(0.5)
        client = KinesisClient(region=self.region)
        limit = min(10000, max(self.batch_size, 5000))  # kinesalite is fastest ~5000
        cap = self.lanes_n * max(4 * self.batch_size, 2 * limit)
        last_read: str | None = None
        iterator: str | None = None
        failures = 0
        try:
            while not self.stop_event.is_set():
                with self.cond:
                    while (sum(map(len, self.buffers)) >= cap
                           and not self.stop_event.is_set()):
                        self.cond.wait(0.5)
                try:
                    if iterator is None:
                        iterator = self._iterator(client, last_read)
                    page = client.get_records(iterator, limit)
                    failures = 0
                except KinesisError as exc:
                    failures += 1
                    if exc.code == "ExpiredIteratorException":
                        iterator = None
                        continue
                    log.warning("poller %s/%s: %s", self.rules.uuid, self.shard_id, exc)
                    iterator = None if not exc.retryable else iterator
                    self._pause(min(5.0, 0.2 * 2 ** min(failures, 5)))
                    continue
                except OSError as exc:
                    failures += 1
                    log.warning("poller %s/%s: kinesis unreachable: %s", self.rules.uuid,
                                self.shard_id, exc)
                    iterator = None
                    self._pause(min(5.0, 0.2 * 2 ** min(failures, 5)))
                    continue
                records = page.get("Records") or []
                with self.stats_lock:
                    self.stats["millis_behind_latest"] = page.get("MillisBehindLatest")
                if records:
                    last_read = records[-1]["SequenceNumber"]
                    self._dispatch(records)
                iterator = page.get("NextShardIterator")
                if iterator is None:  # closed shard, everything read
                    self._finish_closed_shard()
                    return
                if not records and not page.get("MillisBehindLatest"):
                    with self.cond:
                        idle = not self.tracker
                    if idle:
                        with self.stats_lock:
                            self.stats["iterator_age_ms"] = 0
                    self._pause(settings.current().poll_interval_ms / 1000)
        finally:
            client.close()

    def _dispatch(self, records: list[dict[str, Any]]) -> None:
        mid, tail, n = self._frag_mid, self._frag_tail, self.lanes_n
        head = '{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":'
        dumps = json.dumps
        now = time.monotonic()
        recs: list[Rec] = []
        for r in records:
            seq = r["SequenceNumber"]
            key = r["PartitionKey"]
            arrival = r["ApproximateArrivalTimestamp"]
            frag = (head + dumps(key) + ',"sequenceNumber":"' + seq + '","data":"' + r["Data"]
                    + '","approximateArrivalTimestamp":' + repr(float(arrival)) + mid + seq
                    + tail)
            recs.append(Rec(frag, seq, key, float(arrival), [seq, False]))
        with self.cond:
            for rec in recs:
                self.tracker.append(rec.entry)
                lane = 0 if n == 1 else zlib.crc32(rec.key.encode()) % n
                if not self.buffers[lane]:
                    self.buffer_since[lane] = now
                self.buffers[lane].append(rec)
            self.cond.notify_all()
        with self.stats_lock:
            self.stats["records_read"] += len(recs)

    def _finish_closed_shard(self) -> None:
        with self.cond:
            self.reader_done = True
            self.cond.notify_all()
            while (self.tracker or any(self.buffers)) and not self.stop_event.is_set():
                self.cond.wait(0.5)
            if self.stop_event.is_set():
                return
        self.checkpoint.finished = True
        with self.stats_lock:
            self.stats["finished"] = True
        self._save_checkpoint()

    # delivering
    def _take_batch(self, lane: int) -> list[Rec] | None:
        buf = self.buffers[lane]
        with self.cond:
            while True:
                if self.stop_event.is_set():
                    return None
                if buf:
                    waited = time.monotonic() - self.buffer_since[lane]
                    if (len(buf) >= self.batch_size or waited >= self.window_s
                            or self.reader_done):
                        break
                    self.cond.wait(max(0.001, self.window_s - waited))
                else:
                    if self.reader_done:
                        return None
                    self.cond.wait(0.5)
            batch: list[Rec] = []
            size = 0
            while buf and len(batch) < self.batch_size:
                frag_len = len(buf[0].fragment) + 1
                if batch and size + frag_len > MAX_PAYLOAD:
                    break
                size += frag_len
                batch.append(buf.popleft())
            if buf:
                self.buffer_since[lane] = time.monotonic()
            self.cond.notify_all()  # the reader may be waiting for room
            return batch

    def _lane_loop(self, lane: int) -> None:
        delivery = self.delivery[lane]
        try:
            while True:
                batch = self._take_batch(lane)
                if batch is None:
                    return
                delivery.deliver(batch)
                self._advance()
        except Stopped:
            pass
        except Exception:
            log.exception("lane %s of %s/%s crashed", lane, self.rules.uuid, self.shard_id)

    def _advance(self) -> None:
        moved = None
        with self.cond:
            tracker = self.tracker
            while tracker and tracker[0][1]:
                moved = tracker.popleft()[0]
            if moved is not None:
                self.checkpoint.sequence_number = moved
            self.cond.notify_all()
        if moved is not None:
            with self.stats_lock:
                self.stats["checkpoint"] = moved
            self._save_checkpoint()

    def _save_checkpoint(self) -> None:
        with self.lock:
            snapshot = Checkpoint(self.checkpoint.sequence_number, self.checkpoint.finished,
                                  self.checkpoint.start_timestamp)
        self.checkpoints.save(self.shard_id, snapshot)

    def status(self) -> dict[str, Any]:
        with self.stats_lock:
            out = dict(self.stats)
        with self.lock:
            out["in_flight_records"] = len(self.tracker)
        return out


class MappingRunner:
    """All shard pollers of one enabled mapping, plus shard discovery."""

    def __init__(self, mapping: dict[str, Any], state_dir: Path,
                 invoke: Callable[[str, bytes], InvokeResult], destinations: Destinations,
                 role_of: Callable[[str], str]) -> None:
        self.mapping = dict(mapping)
        self.uuid = mapping["UUID"]
        fn = mapping["FunctionArn"].rsplit(":", 1)[-1]
        self.mapping["_Role"] = role_of(fn)
        on_failure = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination")
        self.rules = Rules(
            function_name=fn, function_arn=mapping["FunctionArn"],
            stream_arn=mapping["EventSourceArn"], uuid=self.uuid,
            max_retry=int(mapping.get("MaximumRetryAttempts", -1)),
            max_age_s=int(mapping.get("MaximumRecordAgeInSeconds", -1)),
            bisect=bool(mapping.get("BisectBatchOnFunctionError")),
            report_item_failures="ReportBatchItemFailures" in (
                mapping.get("FunctionResponseTypes") or []),
            on_failure=on_failure or None)
        self.checkpoints = CheckpointStore(state_dir / "esm" / self.uuid)
        self.invoke = invoke
        self.destinations = destinations
        self.pollers: dict[str, ShardPoller] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._discover_loop, daemon=True,
                                       name=f"esm-{self.uuid[:8]}")
        self._first_discovery = not self.checkpoints.all()
        self.error: str | None = None

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        for poller in list(self.pollers.values()):
            poller.stop()
        for poller in list(self.pollers.values()):
            poller.join(timeout)

    def _discover_loop(self) -> None:
        client = KinesisClient(region=self.mapping["EventSourceArn"].split(":")[3])
        stream = stream_name_of(self.mapping["EventSourceArn"])
        try:
            while not self.stop_event.is_set():
                try:
                    self._discover(client, stream)
                    self.error = None
                except (KinesisError, OSError) as exc:
                    self.error = str(exc)
                    log.warning("mapping %s: listing shards failed: %s", self.uuid, exc)
                    client.close()
                    if self.stop_event.wait(1.0):
                        return
                    continue
                if self.stop_event.wait(settings.current().shard_discovery_s):
                    return
        finally:
            client.close()

    def _discover(self, client: KinesisClient, stream: str) -> None:
        shards = client.list_shards(stream)
        known = {s["ShardId"] for s in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.pollers:
                continue
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
                       if p and p in known]
            position = (self.mapping.get("StartingPosition", "TRIM_HORIZON")
                        if self._first_discovery else "TRIM_HORIZON")
            poller = ShardPoller(self.mapping, shard_id, self.rules, self.checkpoints,
                                 self.invoke, self.destinations, position,
                                 wait_for=self._parents_done(parents) if parents else None)
            self.pollers[shard_id] = poller
            if not self.stop_event.is_set():
                poller.start()
        self._first_discovery = False

    def _parents_done(self, parents: list[str]) -> Callable[[], bool]:
        def done() -> bool:
            return all(self.pollers[p].finished for p in parents if p in self.pollers)
        return done

    def status(self) -> dict[str, Any]:
        shards = {sid: p.status() for sid, p in sorted(self.pollers.items())}
        return {"uuid": self.uuid, "function": self.rules.function_name,
                "stream": self.mapping["EventSourceArn"], "error": self.error,
                "iterator_age_ms": max((s["iterator_age_ms"] for s in shards.values()),
                                       default=0),
                "shards": shards}
