"""How one Kinesis batch is delivered: retries, bisect, partial failures, age, OnFailure.

Rules (``aws-semantics.md``): a function error (exception, timeout, malformed partial response)
retries the whole batch; ``MaximumRetryAttempts`` (-1 = forever) bounds the retries,
``MaximumRecordAgeInSeconds`` (-1 = forever) drops records that grew too old;
``BisectBatchOnFunctionError`` splits a batch whose invocation failed in two before retrying (a
split is not a retry). With ``ReportBatchItemFailures`` the records before the lowest failed
sequence number are done and only the rest is retried (with bisect the batch is split there,
not halved): that retry *counts* against ``MaximumRetryAttempts`` like any other, so a record
the function keeps reporting as failed reaches the ``OnFailure`` destination after the same
number of attempts as one that crashes it. Records given up on go to the ``OnFailure``
destination. Until then the shard does not advance.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import settings
from .runner import InvokeResult, TooManyRequests

log = logging.getLogger(__name__)


class Rec(NamedTuple):
    """A record read from the shard: its event JSON fragment plus what the rules need."""

    fragment: str
    seq: str
    key: str
    arrival: float
    entry: list[Any]  # [seq, done] in the shard's progress tracker


class Stopped(Exception):
    """When the mapping is stopping in the middle of a batch (the batch is not checkpointed)."""


@dataclass(frozen=True)
class Rules:
    """The mapping settings that govern delivery."""

    function_name: str
    function_arn: str
    stream_arn: str
    uuid: str
    max_retry: int = -1
    max_age_s: int = -1
    bisect: bool = False
    report_item_failures: bool = False
    on_failure: str | None = None


def event_json(records: list[Rec] | tuple[Rec, ...]) -> str:
    return '{"Records":[' + ",".join(r.fragment for r in records) + "]}"


class Failure(NamedTuple):
    """Where a batch failed: retry from ``index``; ``reported`` by a valid partial response."""

    index: int
    reported: bool


def failed_index(result: InvokeResult, records: list[Rec], rules: Rules) -> Failure | None:
    """The first record to retry (None = all done); a function error fails the whole batch."""
    if not result.ok:
        return Failure(0, reported=False)
    if not rules.report_item_failures:
        return None
    try:
        response = json.loads(result.payload) if result.payload else None
    except ValueError:
        return None
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    if not isinstance(failures, list):
        return Failure(0, reported=False)
    index = {r.seq: i for i, r in enumerate(records)}
    lowest = None
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in index:
            # null, empty, wrong key or unknown sequence number: the whole batch failed
            return Failure(0, reported=False)
        lowest = index[ident] if lowest is None else min(lowest, index[ident])
    return Failure(lowest or 0, reported=True)


class BatchDelivery:
    """Delivers batches of one shard; updates ``stats`` (a dict shared with the status)."""

    def __init__(self, rules: Rules, shard_id: str,
                 invoke: Callable[[str, bytes], InvokeResult],
                 send_failure: Callable[[str, dict[str, Any], str, str], None],
                 stop: threading.Event, stats: dict[str, Any], lock: threading.Lock) -> None:
        self.rules = rules
        self.shard_id = shard_id
        self.invoke = invoke
        self.send_failure = send_failure
        self.stop = stop
        self.stats = stats
        self.lock = lock

    def deliver(self, batch: list[Rec]) -> None:
        """Process ``batch`` until every record is done; raises Stopped when stopping."""
        pending: deque[tuple[list[Rec], int]] = deque([(batch, 0)])
        while pending:
            if self.stop.is_set():
                raise Stopped
            records, attempts = pending.popleft()
            records = self._drop_expired(records, attempts)
            if not records:
                continue
            result = self._invoke(records)
            if result is None:  # throttled or function missing: retry, not counted
                self._sleep(attempts + 1)
                pending.appendleft((records, attempts))
                continue
            failure = failed_index(result, records, self.rules)
            if failure is None:
                self._done(records)
                continue
            self._count_error()
            if failure.index > 0:
                self._done(records[:failure.index])
            rest = records[failure.index:]
            if self.rules.bisect and not failure.reported and len(rest) > 1:
                half = len(rest) // 2  # a split is not a retry
                pending.appendleft((rest[half:], attempts))
                pending.appendleft((rest[:half], attempts))
                continue
            if 0 <= self.rules.max_retry <= attempts:
                self._give_up(rest, "RetryAttemptsExhausted", attempts + 1, result)
                continue
            self._sleep(attempts + 1)
            pending.appendleft((rest, attempts + 1))

    def _invoke(self, records: list[Rec]) -> InvokeResult | None:
        payload = event_json(records)
        age_ms = max(0.0, (time.time() - records[-1].arrival) * 1000.0)
        with self.lock:
            self.stats["iterator_age_ms"] = round(age_ms)
            self.stats["batch_iterator_age_ms"] = round(age_ms)
        try:
            result = self.invoke(self.rules.function_name, payload.encode())
        except (KeyError, TooManyRequests) as exc:
            log.warning("mapping %s: cannot invoke %s: %s", self.rules.uuid,
                        self.rules.function_name, exc)
            with self.lock:
                self.stats["last_result"] = "PROBLEM: Function not found or throttled"
            return None
        with self.lock:
            self.stats["invocations"] += 1
            self.stats["invoked_records"] += len(records)
            self.stats["duration_ms_total"] += result.duration_ms
            self.stats["last_result"] = "OK" if result.ok else "PROBLEM: Function call failed"
        return result

    def _count_error(self) -> None:
        with self.lock:
            self.stats["errors"] += 1

    def _done(self, records: list[Rec]) -> None:
        for r in records:
            r.entry[1] = True
        with self.lock:
            self.stats["records_done"] += len(records)

    def _drop_expired(self, records: list[Rec], attempts: int) -> list[Rec]:
        max_age = self.rules.max_age_s
        if max_age < 0:
            return records
        limit = time.time() - max_age
        n = 0
        while n < len(records) and records[n].arrival < limit:
            n += 1
        if n:
            self._give_up(records[:n], "RecordAgeExceeded", attempts, None)
        return records[n:]

    def _give_up(self, records: list[Rec], condition: str, invoke_count: int,
                 result: InvokeResult | None) -> None:
        from .destinations import failure_record

        if self.rules.on_failure:
            record = failure_record(
                function_arn=self.rules.function_arn, condition=condition,
                invoke_count=invoke_count,
                function_error=result.function_error if result else None,
                status_code=200 if result else 0, shard_id=self.shard_id,
                stream_arn=self.rules.stream_arn,
                first=(records[0].seq, records[0].arrival),
                last=(records[-1].seq, records[-1].arrival), batch_size=len(records))
            for attempt in range(1, 6):
                try:
                    self.send_failure(self.rules.on_failure, record, event_json(records),
                                      self.rules.uuid)
                    break
                except Exception as exc:  # destination down: retry a few times, then drop
                    log.warning("mapping %s: OnFailure delivery failed (%s/5): %s",
                                self.rules.uuid, attempt, exc)
                    self._sleep(attempt)
        log.info("mapping %s shard %s: %s records skipped (%s)", self.rules.uuid,
                 self.shard_id, len(records), condition)
        with self.lock:
            self.stats["records_skipped"] += len(records)
        self._done(records)
        with self.lock:
            self.stats["records_done"] -= len(records)

    def _sleep(self, attempt: int) -> None:
        tun = settings.current()
        delay = min(tun.retry_backoff_max_ms, tun.retry_backoff_ms * 2 ** (attempt - 1)) / 1000
        if self.stop.wait(max(0.0, delay)):
            raise Stopped
