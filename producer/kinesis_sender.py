"""Batched, retrying writes to a Kinesis data stream (``PutRecords``).

- Batches stay within the PutRecords limits: 500 records and 5 MiB (data + partition keys).
- ``PutRecords`` can succeed while single records fail (``FailedRecordCount`` and a per-record
  ``ErrorCode``): only those records are sent again, with exponential backoff and full jitter
  (``ProvisionedThroughputExceededException`` means the shard is over 1 MB/s or 1,000 records/s).
- A batch is also sent when its oldest record has waited ``linger_s`` (like the KPL's
  ``RecordMaxBufferedTime``), so a slow, paced producer still delivers within a fraction of a
  second.
- With ``in_flight`` > 1, up to that many PutRecords calls run at once (like the KPL), so
  reading the file overlaps with the network. Batches may then land out of order across calls:
  keep ``in_flight=1`` when the order of a partition key matters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from taximl.batching import backoff_seconds

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
THROTTLED = "ProvisionedThroughputExceededException"
#: Whole-call errors worth retrying (anything else is a configuration problem: raise).
RETRYABLE_CALL_ERRORS = frozenset(
    {THROTTLED, "LimitExceededException", "InternalFailure", "ServiceUnavailable",
     "KMSThrottlingException", "ThrottlingException"}
)


class SendError(Exception):
    """When Kinesis rejects a call for a reason retrying cannot fix (no stream, no access)."""


@dataclass
class SendStats:
    """Counters of a sender's lifetime."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    calls: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)

    def merge(self, other: SendStats) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.calls += other.calls
        self.error_codes.update(other.error_codes)


class KinesisSender:
    """Buffer records and write them with PutRecords, retrying only the failed ones."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        max_records: int = MAX_BATCH_RECORDS,
        max_bytes: int = MAX_BATCH_BYTES,
        linger_s: float = 0.1,
        max_attempts: int = 10,
        base_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        in_flight: int = 1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= max_records <= MAX_BATCH_RECORDS:
            raise ValueError(f"max_records must be 1..{MAX_BATCH_RECORDS}")
        self.client = client
        self.stream_name = stream_name
        self.max_records = max_records
        self.max_bytes = min(max_bytes, MAX_BATCH_BYTES)
        self.linger_s = linger_s
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stats = SendStats()
        self._sleep = sleep
        self._clock = clock
        self._batch: list[dict[str, Any]] = []
        self._batch_bytes = 0
        self._oldest: float | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(in_flight, "putrecords") if in_flight > 1 else None
        self._slots = threading.BoundedSemaphore(max(1, in_flight))
        self._futures: list[Future[None]] = []

    @property
    def pending(self) -> int:
        """Records buffered and not yet sent."""
        return len(self._batch)

    def add(self, data: bytes, partition_key: str) -> None:
        """Buffer one record; sends the batch first when this record would overflow it."""
        size = len(data) + len(partition_key.encode("utf-8"))
        if size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {size} bytes is over the Kinesis limit of 1 MiB")
        if self._batch and (
            len(self._batch) >= self.max_records or self._batch_bytes + size > self.max_bytes
        ):
            self.flush()
        if not self._batch:
            self._oldest = self._clock()
        self._batch.append({"Data": data, "PartitionKey": partition_key})
        self._batch_bytes += size
        if len(self._batch) >= self.max_records:
            self.flush()

    def age(self) -> float:
        """Seconds the oldest buffered record has waited (0 when empty)."""
        return 0.0 if self._oldest is None else self._clock() - self._oldest

    def flush_if_due(self) -> None:
        """Send the batch when its oldest record has waited ``linger_s``."""
        if self._batch and self.age() >= self.linger_s:
            self.flush()

    def flush(self) -> None:
        """Send what is buffered; with ``in_flight`` > 1 the call may still be running."""
        batch, self._batch, self._batch_bytes, self._oldest = self._batch, [], 0, None
        self._raise_failed()
        if not batch:
            return
        if self._pool is None:
            self._put(batch)
            return
        self._slots.acquire()
        future = self._pool.submit(self._put, batch)
        future.add_done_callback(lambda f: self._slots.release())
        self._futures = [f for f in self._futures if not f.done()] + [future]

    def close(self) -> None:
        """Send what is buffered and wait for every call in flight (Ctrl-C included)."""
        self.flush()
        for future in self._futures:
            future.result()
        self._futures = []
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _raise_failed(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def _put(self, entries: list[dict[str, Any]]) -> None:
        stats = SendStats()
        try:
            self._put_with(entries, stats)
        finally:
            with self._lock:
                self.stats.merge(stats)

    def _put_with(self, entries: list[dict[str, Any]], stats: SendStats) -> None:
        pending = entries
        for attempt in range(self.max_attempts):
            if attempt:
                self._backoff(attempt)
            try:
                stats.calls += 1
                response = self.client.put_records(StreamName=self.stream_name, Records=pending)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CALL_ERRORS:
                    raise SendError(f"PutRecords to {self.stream_name} failed: {exc}") from exc
                stats.error_codes[code] += len(pending)
                stats.retried += len(pending)
                logger.warning("PutRecords throttled/failed (%s), retrying %d", code, len(pending))
                continue
            except BotoCoreError as exc:  # connection reset, timeout: the call may be retried
                stats.error_codes[type(exc).__name__] += len(pending)
                stats.retried += len(pending)
                logger.warning("PutRecords connection error (%s), retrying", exc)
                continue
            failed = [
                entry
                for entry, result in zip(pending, response["Records"], strict=True)
                if result.get("ErrorCode")
            ]
            for result in response["Records"]:
                if result.get("ErrorCode"):
                    stats.error_codes[result["ErrorCode"]] += 1
            stats.sent += len(pending) - len(failed)
            if not failed:
                return
            stats.retried += len(failed)
            logger.info("%d of %d records failed, retrying only those", len(failed), len(pending))
            pending = failed
        stats.retried -= len(pending)  # the last round was not retried
        stats.failed += len(pending)
        logger.error("gave up on %d records after %d attempts", len(pending), self.max_attempts)

    def _backoff(self, attempt: int) -> None:
        self._sleep(backoff_seconds(attempt, self.base_backoff_s, self.max_backoff_s))
