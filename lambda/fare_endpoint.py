"""Batched calls to the SageMaker endpoint: one InvokeEndpoint per chunk of rows, never per row.

The body is the built-in XGBoost ``text/csv`` contract (no header, no label, empty = missing)
made by the shared :func:`taximl.features.features_to_csv`; a chunk stays under
``max_rows`` and ``max_bytes`` (the real-time request limit is 6 MB). The response names the
production variant that answered (``InvokedProductionVariant``): the model version.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from taximl.batching import split_by_limits
from taximl.features import features_to_csv

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkResult:
    """Outcome of one InvokeEndpoint call for rows ``start..stop`` of the input."""

    start: int
    stop: int
    predictions: list[float] | None
    variant: str | None
    latency_ms: float
    error: str | None = None
    #: the model refused these rows (a 4xx from the container): retrying cannot help
    rejected: bool = False


def split_chunks(lines: Sequence[str], max_rows: int, max_bytes: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of CSV lines so that each request is within the limits."""
    return split_by_limits([len(line.encode("utf-8")) + 1 for line in lines], max_rows, max_bytes)


def parse_predictions(body: bytes | str) -> list[float]:
    """Scores from a ``text/csv`` response (comma- or newline-separated) or a JSON one."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    text = text.strip()
    if text.startswith("{"):
        import json

        return [float(p["score"]) for p in json.loads(text)["predictions"]]
    return [float(v) for v in text.replace("\n", ",").split(",") if v.strip()]


class FareEndpoint:
    """Predicts fares for feature rows through one SageMaker real-time endpoint."""

    def __init__(self, client: Any, endpoint_name: str, *, max_rows: int = 5_000,
                 max_bytes: int = 5_000_000) -> None:
        self.client = client
        self.endpoint_name = endpoint_name
        self.max_rows = max_rows
        self.max_bytes = max_bytes

    def predict(self, rows: Sequence[Mapping[str, float | None]]) -> list[ChunkResult]:
        """Call the endpoint chunk by chunk, in order; stops at the first failed chunk.

        Later rows are not sent after a failure: they will be retried with it anyway (the
        event source mapping restarts from the first failed record).
        """
        lines = [features_to_csv([row]) for row in rows]
        results: list[ChunkResult] = []
        for start, stop in split_chunks(lines, self.max_rows, self.max_bytes):
            results.extend(self._invoke_isolating(lines, start, stop))
            if results[-1].error is not None and not results[-1].rejected:
                break
        return results

    def _invoke_isolating(self, lines: Sequence[str], start: int, stop: int) -> list[ChunkResult]:
        """Invoke a chunk; when the model rejects it, bisect down to the rows it rejects.

        At most about ``2 * rows`` calls, and only for chunks the model refused (rare): the
        rows it accepts are scored, the ones it refuses alone come back ``rejected``.
        """
        result = self._invoke(lines, start, stop)
        if not result.rejected or stop - start == 1:
            return [result]
        middle = (start + stop) // 2
        left = self._invoke_isolating(lines, start, middle)
        if left[-1].error is not None and not left[-1].rejected:
            return left  # a transient failure: the rest is retried with it
        return left + self._invoke_isolating(lines, middle, stop)

    def _invoke(self, lines: Sequence[str], start: int, stop: int) -> ChunkResult:
        body = "\n".join(lines[start:stop]).encode("utf-8")
        began = time.perf_counter()
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.endpoint_name, ContentType="text/csv", Accept="text/csv",
                Body=body,
            )
            predictions = parse_predictions(response["Body"].read())
        except (ClientError, BotoCoreError, ValueError, KeyError) as exc:
            latency = (time.perf_counter() - began) * 1000
            logger.warning("InvokeEndpoint failed for %d rows: %s", stop - start, exc)
            return ChunkResult(
                start, stop, None, None, latency, error=_describe(exc), rejected=_rejected(exc)
            )
        latency = (time.perf_counter() - began) * 1000
        if len(predictions) != stop - start:
            message = f"endpoint returned {len(predictions)} scores for {stop - start} rows"
            logger.error(message)
            return ChunkResult(start, stop, None, None, latency, error=message)
        variant = response.get("InvokedProductionVariant") or "unknown"
        return ChunkResult(start, stop, predictions, variant, latency)


def _rejected(exc: Exception) -> bool:
    """A ``ModelError`` whose container answered 4xx: the input, not the service, is at fault."""
    if not isinstance(exc, ClientError):
        return False
    response = exc.response
    if response.get("Error", {}).get("Code") != "ModelError":
        return False
    status = response.get("OriginalStatusCode") or response.get("Error", {}).get(
        "OriginalStatusCode"
    )
    try:
        return 400 <= int(status) < 500
    except (TypeError, ValueError):
        return False


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
