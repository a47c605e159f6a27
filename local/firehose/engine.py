"""Delivery streams: the API operations, one flusher thread per sink, and persistence.

State under ``state_dir``: ``streams.json`` (the stream configurations) and
``buffers/<stream>/<sink>.journal`` (records accepted but not yet delivered). A sink flushes when
its buffer reaches ``SizeInMBs`` or when its oldest record is ``IntervalInSeconds`` old, whichever
comes first; :meth:`FirehoseEngine.close` flushes everything still buffered (a clean stop loses
nothing; what cannot be delivered stays in the journal for the next start).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from local.firehose import opensearch_sink, s3_sink
from local.firehose.buffer import Record, RecordBuffer
from local.firehose.config import SinkSpec, StreamConfig, parse_create
from local.firehose.errors import (
    InvalidArgumentError,
    ResourceInUseError,
    ResourceNotFoundError,
)

log = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
MAX_BACKOFF_S = 30.0


def _s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60)
    )


class SinkRunner:
    """Buffers one sink's records and delivers them from its own thread."""

    def __init__(self, engine: FirehoseEngine, stream: StreamConfig, spec: SinkSpec) -> None:
        self.engine = engine
        self.stream = stream
        self.spec = spec
        journal = engine.state_dir / "buffers" / stream.name / f"{spec.name}.journal"
        self.buffer = RecordBuffer(journal)
        self.stopping = threading.Event()
        self._search_client: Any = None
        self.thread = threading.Thread(
            target=self._run, name=f"firehose-{stream.name}-{spec.name}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def _due(self) -> float | None:
        """Seconds until the buffer must flush (<= 0: now); None when empty."""
        oldest = self.buffer.oldest_arrival_ms()
        if oldest is None:
            return None
        if self.buffer.size_bytes >= self.spec.hints.size_bytes:
            return 0.0
        return oldest / 1000 + self.spec.hints.interval_s - time.time()

    def _run(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            with self.buffer.cond:
                due = self._due()
                if due is None or due > 0:
                    self.buffer.cond.wait(timeout=min(due if due is not None else 1.0, 1.0))
                    continue
            batch = self.buffer.head(self.spec.hints.size_bytes)
            if self.deliver(batch, self.stopping):
                self.buffer.drop_head(len(batch))
                backoff = 0.5
            else:
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def deliver(self, batch: list[Record], stopping: threading.Event) -> bool:
        """Deliver ``batch``; True when done (including failed docs backed up to S3)."""
        try:
            if self.spec.kind == "s3":
                s3_sink.deliver_records(
                    self.engine.s3(), self.spec.s3, self.stream.name, self.stream.version_id, batch
                )
                return True
            if self._search_client is None:
                assert self.spec.search is not None
                self._search_client = opensearch_sink.make_client(self.spec.search)
            return opensearch_sink.deliver(
                self._search_client, self.engine.s3(), self.spec, self.stream.name,
                self.stream.version_id, batch, stopping,
            )
        except Exception:
            log.exception("delivery failed (stream %s, sink %s); will retry",
                          self.stream.name, self.spec.name)
            return False

    def stop(self, flush: bool) -> None:
        """Stop the thread; with ``flush`` deliver what is buffered (one attempt per batch)."""
        self.stopping.set()
        with self.buffer.cond:
            self.buffer.cond.notify_all()
        self.thread.join(timeout=120)
        if flush:
            while len(self.buffer):
                batch = self.buffer.head(self.spec.hints.size_bytes)
                if not self.deliver(batch, self.stopping):
                    log.warning("stop: %d records of %s/%s kept in the journal",
                                len(self.buffer), self.stream.name, self.spec.name)
                    break
                self.buffer.drop_head(len(batch))
        self.buffer.close()


class FirehoseEngine:
    """The Firehose API over persistent delivery streams."""

    def __init__(self, state_dir: Path, region: str = "us-east-1") -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.region = region
        self._lock = threading.RLock()
        self._s3: Any = None
        self._streams: dict[str, tuple[StreamConfig, dict[str, SinkRunner]]] = {}
        self._load()

    # -- persistence -------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "streams.json"

    def _load(self) -> None:
        if not self._state_file.exists():
            return
        for data in json.loads(self._state_file.read_text()):
            config = StreamConfig.from_json(data)
            self._streams[config.name] = (config, self._start_runners(config))
        log.info("loaded %d delivery streams from %s", len(self._streams), self._state_file)

    def _save(self) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps([c.to_json() for c, _ in self._streams.values()], indent=1))
        os.replace(tmp, self._state_file)

    def _start_runners(self, config: StreamConfig) -> dict[str, SinkRunner]:
        runners = {spec.name: SinkRunner(self, config, spec) for spec in config.sinks()}
        for runner in runners.values():
            runner.start()
        return runners

    def s3(self) -> Any:
        """The shared boto3 S3 client (endpoint from the environment)."""
        with self._lock:
            if self._s3 is None:
                self._s3 = _s3_client()
            return self._s3

    def close(self, flush: bool = True) -> None:
        """Stop every sink, flushing buffered records first (clean shutdown)."""
        with self._lock:
            runners = [r for _, rs in self._streams.values() for r in rs.values()]
        for runner in runners:
            runner.stopping.set()
        for runner in runners:
            runner.stop(flush=flush)

    def buffered(self, name: str) -> dict[str, int]:
        """Records currently buffered per sink (for diagnostics and /_health)."""
        _, runners = self._get(name)
        return {sink: len(r.buffer) for sink, r in runners.items()}

    # -- operations --------------------------------------------------------------------------
    def _get(self, name: str | None) -> tuple[StreamConfig, dict[str, SinkRunner]]:
        with self._lock:
            entry = self._streams.get(name or "")
        if entry is None:
            raise ResourceNotFoundError(
                f"Firehose {name} under account 123456789012 not found."
            )
        return entry

    def create_delivery_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        config = parse_create(request, self.region)
        with self._lock:
            if config.name in self._streams:
                raise ResourceInUseError(
                    f"Firehose {config.name} under accountId 123456789012 already exists"
                )
            self._streams[config.name] = (config, self._start_runners(config))
            self._save()
        return {"DeliveryStreamARN": config.arn}

    def describe_delivery_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        config, _ = self._get(request.get("DeliveryStreamName"))
        return {"DeliveryStreamDescription": config.describe()}

    def list_delivery_streams(self, request: dict[str, Any]) -> dict[str, Any]:
        limit = int(request.get("Limit", 10))
        if not 1 <= limit <= 10000:
            raise InvalidArgumentError("Limit must be between 1 and 10000")
        wanted = request.get("DeliveryStreamType")
        start = request.get("ExclusiveStartDeliveryStreamName") or ""
        with self._lock:
            names = sorted(
                name for name, (config, _) in self._streams.items()
                if name > start and (not wanted or config.stream_type == wanted)
            )
        return {"DeliveryStreamNames": names[:limit], "HasMoreDeliveryStreams": len(names) > limit}

    def delete_delivery_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("DeliveryStreamName")
        self._get(name)
        with self._lock:
            _, runners = self._streams.pop(name)  # type: ignore[arg-type]
            self._save()
        for runner in runners.values():
            runner.stop(flush=False)
            runner.buffer.destroy()
        return {}

    def list_tags_for_delivery_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        config, _ = self._get(request.get("DeliveryStreamName"))
        tags = [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]
        return {"Tags": tags, "HasMoreTags": False}

    def _accept(self, name: str | None, payloads: list[bytes]) -> list[dict[str, str]]:
        _, runners = self._get(name)
        now_ms = int(time.time() * 1000)
        accepted: list[Record] = []
        results: list[dict[str, str]] = []
        batch_id = uuid.uuid4().hex
        for position, data in enumerate(payloads):
            if len(data) > MAX_RECORD_BYTES:
                results.append({
                    "ErrorCode": "InvalidArgumentException",
                    "ErrorMessage": f"Record size {len(data)} bytes exceeds the limit of "
                                    f"{MAX_RECORD_BYTES} bytes (1,000 KiB).",
                })
                continue
            record = Record(f"{batch_id}{now_ms:x}{position:04d}", now_ms, data)
            accepted.append(record)
            results.append({"RecordId": record.record_id})
        for runner in runners.values():
            runner.buffer.append(accepted)
        return results

    def put_record(self, request: dict[str, Any]) -> dict[str, Any]:
        record = request.get("Record")
        if not isinstance(record, dict) or "Data" not in record:
            raise InvalidArgumentError("Record.Data is required")
        self._get(request.get("DeliveryStreamName"))
        data = _decode(record)
        if len(data) > MAX_RECORD_BYTES:
            raise InvalidArgumentError(
                f"Record size exceeds the limit of {MAX_RECORD_BYTES} bytes (1,000 KiB)."
            )
        result = self._accept(request.get("DeliveryStreamName"), [data])[0]
        return {"RecordId": result["RecordId"], "Encrypted": False}

    def put_record_batch(self, request: dict[str, Any]) -> dict[str, Any]:
        records = request.get("Records")
        if not isinstance(records, list) or not records:
            raise InvalidArgumentError("Records must contain between 1 and 500 records")
        self._get(request.get("DeliveryStreamName"))
        if len(records) > MAX_BATCH_RECORDS:
            raise InvalidArgumentError(
                f"1 validation error detected: Value at 'records' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_BATCH_RECORDS} "
                f"(got {len(records)})"
            )
        payloads = [_decode(r) for r in records]
        total = sum(len(p) for p in payloads)
        if total > MAX_BATCH_BYTES:
            raise InvalidArgumentError(
                f"Records size {total} bytes exceeds the PutRecordBatch limit of "
                f"{MAX_BATCH_BYTES} bytes (4 MiB)."
            )
        results = self._accept(request.get("DeliveryStreamName"), payloads)
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": results}


def _decode(record: dict[str, Any]) -> bytes:
    data = record.get("Data", "")
    if isinstance(data, bytes):
        return data
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArgumentError("Record.Data is not valid base64") from exc
