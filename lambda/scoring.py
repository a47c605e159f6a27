"""Scoring of one Kinesis batch: decode, validate, predict in chunks, decide, deliver.

The batch is handled as a whole so that the endpoint sees one request per chunk (never one
per record) and Firehose one PutRecordBatch per 500 records. Outcomes per record:

- **scored**: written to the gold delivery stream (S3 + OpenSearch) with its prediction; its
  ``trip_id`` is always computed from the trip (:func:`taximl.schema.trip_id_for`), never read;
- **quarantined**: undecodable (not base64, not UTF-8, not JSON, nested too deep, over
  :data:`MAX_PAYLOAD_BYTES`, not an object) or invalid (:mod:`taximl.validation`); written with
  the reason and a bounded, escaped excerpt (:mod:`quarantine`) to the quarantine stream; never
  fails the batch. No payload makes :meth:`BatchScorer.score` raise;
- **quarantined** too: rows the model itself refuses (a 4xx ``ModelError``), isolated by
  bisecting the chunk, so one bad row cannot hold a shard back;
- **retry**: a transient failure (endpoint throttled, 5xx, missing; Firehose still failing after
  retries). The event source mapping restarts from the first such record, so every record from
  there on is reported as failed and nothing after it is delivered now: a record reaches the
  gold layer once, not once per retry. When Firehose accepted records *after* one it kept
  rejecting, the mapping still sends them again; the scorer remembers what each sink accepted
  (bounded, per warm container) and does not deliver those a second time. A retry that lands
  on a cold container sends them again: the index is idempotent by ``trip_id`` and gold readers
  read distinct trips (``infra/streaming/gold_distinct_trips.sql``).

Transient failures are first retried *inside* the invocation, with backoff, for up to
``patience_s`` seconds (:meth:`BatchScorer.score`): a short endpoint or Firehose outage then
costs no retry of the event source mapping, whose retry count is finite.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fare_endpoint import FareEndpoint
from quarantine import quarantine_document
from sinks import FirehoseSink
from taximl.batching import backoff_seconds
from taximl.features import FEATURE_VERSION, features_for_record
from taximl.schema import TRIP_FIELDS, TRIP_ID, raw_trip_id, trip_id_for
from taximl.thresholds import decide
from taximl.validation import validate_record
from threshold_source import ThresholdSource, ThresholdsUnavailableError

logger = logging.getLogger(__name__)

#: A trip is about 600 bytes of JSON; anything over this is refused before it is parsed.
MAX_PAYLOAD_BYTES = 32 * 1024
#: A trip is one flat object; JSON nested deeper than this is refused before it is parsed, so
#: the outcome never depends on the interpreter's recursion limit.
MAX_NESTING = 32
#: How many accepted records each scorer remembers, to skip them when a batch is retried.
DELIVERED_MEMORY = 100_000
#: Backoff between in-invocation retries of transient failures (equal jitter, doubling).
RETRY_BASE_S, RETRY_CAP_S = 0.5, 8.0


class RecentKeys:
    """A bounded set that forgets its oldest keys first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def add(self, key: Hashable) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)


@dataclass
class _Item:
    index: int
    sequence_number: str
    arrival: float
    trip: dict[str, Any] | None = None
    features: dict[str, float | None] | None = None
    reason: str | None = None
    payload: Any = None
    raw: bytes = b""
    output: bytes | None = None
    failed: str | None = None


@dataclass
class BatchOutcome:
    """What happened to a batch; ``failed_sequence_numbers`` go back as batchItemFailures."""

    records: int = 0
    scored: int = 0
    outliers: int = 0
    quarantined: int = 0
    retry: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    retry_reason: str | None = None
    endpoint_latency_ms: list[float] = field(default_factory=list)
    endpoint_calls: int = 0
    residuals: dict[str, list[float]] = field(default_factory=dict)
    failed_sequence_numbers: set[str] = field(default_factory=set)
    #: passes made inside this invocation after a transient failure
    retried_in_place: int = 0

    def then(self, later: BatchOutcome) -> BatchOutcome:
        """This outcome followed by ``later``, a new pass over the records this one left."""
        reasons = dict(self.quarantine_reasons)
        for key, count in later.quarantine_reasons.items():
            reasons[key] = reasons.get(key, 0) + count
        residuals = {k: list(v) for k, v in self.residuals.items()}
        for key, values in later.residuals.items():
            residuals.setdefault(key, []).extend(values)
        return BatchOutcome(
            records=self.records, scored=self.scored + later.scored,
            outliers=self.outliers + later.outliers,
            quarantined=self.quarantined + later.quarantined, retry=later.retry,
            quarantine_reasons=reasons, retry_reason=later.retry_reason,
            endpoint_latency_ms=self.endpoint_latency_ms + later.endpoint_latency_ms,
            endpoint_calls=self.endpoint_calls + later.endpoint_calls, residuals=residuals,
            failed_sequence_numbers=set(later.failed_sequence_numbers),
            retried_in_place=self.retried_in_place + 1,
        )

    def check_record(self, record: Any) -> None:
        """Powertools record handler: raise for a record that must be retried."""
        sequence = record.kinesis.sequence_number
        if sequence in self.failed_sequence_numbers:
            raise RetryLaterError(f"record {sequence} will be retried: {self.retry_reason}")


class RetryLaterError(Exception):
    """When a record hit a transient failure; the event source mapping delivers it again."""


def iso_utc(epoch_s: float) -> str:
    """``2024-01-31T12:00:00.123Z`` from epoch seconds."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nesting_depth(text: str, limit: int = MAX_NESTING) -> int:
    """How deep arrays and objects nest in JSON ``text`` (strings skipped); stops past ``limit``.

    Only called when the text holds more than ``limit`` brackets at all, so a normal record
    costs one ``str.count`` per bracket kind.
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif ch in "]}":
            depth -= 1
    return deepest


def decode(data_b64: Any) -> tuple[Any, bytes, str | None]:
    """(JSON object, raw bytes, None) from a Kinesis record's ``data``, or (None, raw, reason).

    Never raises: bad base64, bad UTF-8, bad or non-standard JSON (``NaN``), nesting deeper than
    the parser's recursion limit, an oversized payload or a non-object all become a reason.
    """
    try:
        raw = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        text = data_b64 if isinstance(data_b64, str) else repr(data_b64)
        return None, text[: MAX_PAYLOAD_BYTES].encode("utf-8", "backslashreplace"), \
            "undecodable:base64"
    if len(raw) > MAX_PAYLOAD_BYTES:
        return None, raw, "oversized:payload"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, raw, "undecodable:utf8"
    if (text.count("[") + text.count("{") > MAX_NESTING
            and nesting_depth(text) > MAX_NESTING):
        return None, raw, "undecodable:too_deep"
    try:
        payload = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        return None, raw, "undecodable:too_deep"
    except ValueError:  # also integers over the 4,300-digit limit
        return None, raw, "undecodable:json"
    if not isinstance(payload, dict):
        return None, raw, "undecodable:not_an_object"
    return payload, raw, None


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _arrival(value: Any, clock: Callable[[], float]) -> float:
    """The record's arrival time (epoch seconds); now when the event lacks a usable one."""
    try:
        arrival = float(value)
    except (TypeError, ValueError):
        return clock()
    return arrival if 0 < arrival < 1e11 else clock()


class BatchScorer:
    """Scores batches with an endpoint, threshold documents and two Firehose sinks."""

    def __init__(self, endpoint: FareEndpoint, thresholds: ThresholdSource,
                 gold: FirehoseSink, quarantine: FirehoseSink,
                 clock: Any = time.time, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.endpoint = endpoint
        self.thresholds = thresholds
        self.gold = gold
        self.quarantine = quarantine
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._delivered = RecentKeys(DELIVERED_MEMORY)

    def score(self, records: Sequence[Mapping[str, Any]], *,
              patience_s: float = 0.0) -> BatchOutcome:
        """Score ``records``; transient failures are retried here for up to ``patience_s``.

        Each new pass takes the records the previous one left (from the first failed record
        on); what a pass delivered is never sent again. Whatever still fails when patience runs
        out is in ``failed_sequence_numbers``, for the event source mapping to retry.
        """
        deadline = self._monotonic() + max(0.0, patience_s)
        outcome = self._score_once(records)
        attempt = 0
        while outcome.retry:
            attempt += 1
            pause = backoff_seconds(attempt, RETRY_BASE_S, RETRY_CAP_S)
            if self._monotonic() + pause > deadline:
                break
            logger.warning("%d records hit a transient failure (%s): retrying in %.1f s",
                           outcome.retry, outcome.retry_reason, pause)
            self._sleep(pause)
            outcome = outcome.then(self._score_once(records[len(records) - outcome.retry:]))
        return outcome

    def _score_once(self, records: Sequence[Mapping[str, Any]]) -> BatchOutcome:
        outcome = BatchOutcome(records=len(records))
        items = [self._prepare(i, record) for i, record in enumerate(records)]
        valid = [item for item in items if item.trip is not None]
        self._predict(valid, outcome)
        processed_at = iso_utc(self._clock())
        for item in items:
            if item.failed is None and item.trip is None:
                item.output = self._quarantine_record(item, processed_at)
        self._deliver(items, outcome)
        cut = next((item.index for item in items if item.failed is not None), len(items))
        for item in items[cut:]:
            outcome.failed_sequence_numbers.add(item.sequence_number)
        outcome.retry = len(items) - cut
        if outcome.retry:
            outcome.retry_reason = items[cut].failed
        for item in items[:cut]:
            if item.trip is None:
                outcome.quarantined += 1
                key = (item.reason or "unknown").split(":", 1)[0]
                outcome.quarantine_reasons[key] = outcome.quarantine_reasons.get(key, 0) + 1
            else:
                outcome.scored += 1
        return outcome

    # --- stages ----------------------------------------------------------------------------
    def _prepare(self, index: int, record: Mapping[str, Any]) -> _Item:
        kinesis = record["kinesis"]
        item = _Item(index, kinesis["sequenceNumber"],
                     _arrival(kinesis.get("approximateArrivalTimestamp"), self._clock))
        try:
            payload, item.raw, reason = decode(kinesis.get("data", ""))
            item.payload = payload
            if reason is not None:
                item.reason = reason
                return item
            check = validate_record(payload)
            if check.trip is None:
                item.reason = check.reason
                return item
            trip = {TRIP_ID: trip_id_for(check.trip), **check.trip}
            item.features = features_for_record(trip)
            item.trip = trip
        except Exception as exc:  # a record our contract did not foresee: never block the shard
            logger.exception("record %s could not be prepared", item.sequence_number)
            item.trip, item.features = None, None
            item.reason = f"unprocessable:{type(exc).__name__}"
        return item

    def _predict(self, valid: list[_Item], outcome: BatchOutcome) -> None:
        if not valid:
            return
        results = self.endpoint.predict([item.features for item in valid])  # type: ignore[misc]
        done = 0
        for result in results:
            outcome.endpoint_calls += 1
            outcome.endpoint_latency_ms.append(result.latency_ms)
            if result.rejected:  # the model refuses these rows: quarantine, never retry
                for item in valid[result.start:result.stop]:
                    item.trip, item.features = None, None
                    item.reason = f"model_error:{result.error}"[:200]
                done = result.stop
                continue
            if result.predictions is None:
                break
            try:
                doc = self.thresholds.doc_for(result.variant or "unknown")
            except ThresholdsUnavailableError as exc:
                for item in valid[done:]:
                    item.failed = f"thresholds: {exc}"
                return
            for item, predicted in zip(valid[result.start:result.stop], result.predictions,
                                       strict=True):
                item.output = self._scored_record(item, predicted, result.variant or "", doc,
                                                  outcome)
            done = result.stop
        error = results[-1].error if results and results[-1].error else "endpoint not called"
        for item in valid[done:]:
            item.failed = f"endpoint: {error}"

    def _scored_record(self, item: _Item, predicted: float, variant: str,
                       doc: Mapping[str, Any], outcome: BatchOutcome) -> bytes:
        trip = item.trip or {}
        actual = float(trip["fare_amount"])
        decision = decide(actual, predicted, item.features, doc)
        residual = actual - predicted
        outcome.residuals.setdefault(variant, []).append(abs(residual))
        if decision.is_outlier:
            outcome.outliers += 1
        out = {TRIP_ID: trip[TRIP_ID]}
        out.update({name: _json_value(trip.get(name)) for name in TRIP_FIELDS})
        out.update(
            predicted_fare=round(predicted, 4),
            residual=round(residual, 4),
            anomaly_score=round(decision.score, 4),
            is_outlier=decision.is_outlier,
            threshold_rule=decision.rule,
            threshold=round(decision.threshold, 4),
            threshold_mode=doc.get("mode"),
            meter_fare=round(item.features["meter_fare"], 4) if item.features else None,
            model_version=variant,
            feature_version=FEATURE_VERSION,
            event_time=iso_utc(item.arrival),
            processing_time=iso_utc(self._clock()),
        )
        return (json.dumps(out, separators=(",", ":")) + "\n").encode("utf-8")

    def _quarantine_record(self, item: _Item, processed_at: str) -> bytes:
        trip_id = None
        if isinstance(item.payload, dict):
            try:
                trip_id = raw_trip_id(item.payload)
            except Exception:  # the excerpt is still worth keeping
                logger.exception("no id for quarantined record %s", item.sequence_number)
        return quarantine_document(
            trip_id=trip_id, reason=item.reason or "unknown", payload=item.payload,
            raw=item.raw, sequence_number=item.sequence_number,
            event_time=iso_utc(item.arrival), processing_time=processed_at)

    @staticmethod
    def _delivery_key(sink: FirehoseSink, item: _Item) -> tuple[str, str]:
        """Scored trips are keyed by trip_id (gold is idempotent by trip), the rest by record."""
        trip_id = item.trip.get(TRIP_ID) if item.trip else None
        return sink.stream_name, str(trip_id or item.sequence_number)

    def _deliver(self, items: list[_Item], outcome: BatchOutcome) -> None:
        cut = next((item.index for item in items if item.failed is not None), len(items))
        for sink, want_trip in ((self.gold, True), (self.quarantine, False)):
            chosen, keys = [], set()
            for item in items[:cut]:
                key = self._delivery_key(sink, item)
                if (item.trip is not None) != want_trip or key in self._delivered or key in keys:
                    continue  # delivered before, or the same trip twice in this batch
                keys.add(key)
                chosen.append(item)
            if not chosen:
                continue
            delivered = sink.put([item.output or b"" for item in chosen])
            for item, ok in zip(chosen, delivered, strict=True):
                if ok:
                    self._delivered.add(self._delivery_key(sink, item))
                else:
                    item.failed = f"firehose: {sink.stream_name} did not accept the record"
            if not all(delivered):
                outcome.retry_reason = "firehose"
                cut = next(item.index for item, ok in zip(chosen, delivered, strict=True)
                           if not ok)
