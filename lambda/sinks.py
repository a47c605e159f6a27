"""Writes to Kinesis Data Firehose with PutRecordBatch, retrying only the records that failed.

Limits kept: 500 records and 4 MiB per call, 1,000 KiB per record. Firehose adds no newline,
so each JSON record ends with ``\\n`` (JSON lines in S3). ``put`` returns, per record, whether
it was delivered; the caller decides what to do with the rest (report them to the event source
mapping so they are retried).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from taximl.batching import backoff_seconds, split_by_limits

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024


def split_batches(records: Sequence[bytes], max_records: int = MAX_BATCH_RECORDS,
                  max_bytes: int = MAX_BATCH_BYTES) -> list[tuple[int, int]]:
    """(start, stop) ranges of records within the PutRecordBatch limits."""
    return split_by_limits([len(record) for record in records], max_records, max_bytes)


class FirehoseSink:
    """One delivery stream; ``put`` delivers records in order and reports which made it."""

    def __init__(self, client: Any, stream_name: str, *, max_attempts: int = 4,
                 base_backoff_s: float = 0.1, max_backoff_s: float = 2.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.retried = 0

    def put(self, records: Sequence[bytes]) -> list[bool]:
        """Deliver ``records``; returns a delivered flag per record (False = failed for good).

        Records over the per-record limit cannot ever be delivered: they are reported as not
        delivered at once (callers quarantine them instead). Stops at the first batch that
        still has failures after all attempts, so that what follows is not delivered out of order.
        """
        delivered = [False] * len(records)
        for start, stop in split_batches(records):
            indices = [i for i in range(start, stop) if len(records[i]) <= MAX_RECORD_BYTES]
            if not self._put_batch(records, indices, delivered):
                break
        return delivered

    def _put_batch(self, records: Sequence[bytes], indices: list[int],
                   delivered: list[bool]) -> bool:
        pending = indices
        for attempt in range(self.max_attempts):
            if attempt:
                self._sleep(backoff_seconds(attempt, self.base_backoff_s, self.max_backoff_s))
            if not pending:
                return True
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=self.stream_name,
                    Records=[{"Data": records[i]} for i in pending],
                )
            except (ClientError, BotoCoreError) as exc:
                logger.warning("PutRecordBatch to %s failed (attempt %d): %s",
                               self.stream_name, attempt + 1, exc)
                self.retried += len(pending)
                continue
            failed = []
            for i, result in zip(pending, response["RequestResponses"], strict=True):
                if result.get("ErrorCode"):
                    failed.append(i)
                else:
                    delivered[i] = True
            if not failed:
                return True
            logger.info("%d of %d records rejected by %s, retrying only those",
                        len(failed), len(pending), self.stream_name)
            self.retried += len(failed)
            pending = failed
        logger.error("%d records not delivered to %s after %d attempts",
                     len(pending), self.stream_name, self.max_attempts)
        return not pending
