"""Structured logs and CloudWatch embedded-metric-format (EMF) metrics of the scoring Lambda.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``TaxiFares``): ``Records``,
``Scored``, ``Outliers``, ``Quarantined``, ``RetriedRecords`` (handed back to the event source
mapping), ``RetriedInPlace`` (passes retried inside the invocation), ``EndpointLatency`` (ms,
one value per InvokeEndpoint call), ``EndpointCalls``, and ``MeanAbsResidual`` per
``ModelVersion``: the rolling mean of |actual - predicted| over the last ``ROLLING_WINDOW``
scored trips of that model version in this execution environment (a drift signal to alarm on).
"""

from __future__ import annotations

import os
from collections import deque

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from scoring import BatchOutcome

NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TaxiFares")
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "fare-scorer")
ROLLING_WINDOW = 1_000

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


class RollingMean:
    """Mean of the last ``window`` values, kept per key."""

    def __init__(self, window: int = ROLLING_WINDOW) -> None:
        self.window = window
        self._values: dict[str, deque[float]] = {}
        self._sums: dict[str, float] = {}

    def add(self, key: str, values: list[float]) -> float:
        queue = self._values.setdefault(key, deque(maxlen=self.window))
        total = self._sums.get(key, 0.0)
        for value in values:
            if len(queue) == queue.maxlen:
                total -= queue[0]
            queue.append(value)
            total += value
        self._sums[key] = total
        return total / len(queue) if queue else 0.0


residual_means = RollingMean()


def publish(outcome: BatchOutcome) -> None:
    """Add the batch's metrics (flushed by ``@metrics.log_metrics``) and log its summary."""
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=outcome.records)
    metrics.add_metric(name="Scored", unit=MetricUnit.Count, value=outcome.scored)
    metrics.add_metric(name="Outliers", unit=MetricUnit.Count, value=outcome.outliers)
    metrics.add_metric(name="Quarantined", unit=MetricUnit.Count, value=outcome.quarantined)
    metrics.add_metric(name="RetriedRecords", unit=MetricUnit.Count, value=outcome.retry)
    metrics.add_metric(name="RetriedInPlace", unit=MetricUnit.Count,
                       value=outcome.retried_in_place)
    metrics.add_metric(name="EndpointCalls", unit=MetricUnit.Count, value=outcome.endpoint_calls)
    for latency in outcome.endpoint_latency_ms[:100]:
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency)
    rolling = {}
    for variant, residuals in outcome.residuals.items():
        rolling[variant] = round(residual_means.add(variant, residuals), 4)
        with single_metric(name="MeanAbsResidual", unit=MetricUnit.Count,
                           value=rolling[variant], namespace=NAMESPACE) as metric:
            metric.add_dimension(name="ModelVersion", value=variant)
    log = logger.warning if outcome.retry else logger.info
    log(
        "batch scored",
        extra={
            "records": outcome.records, "scored": outcome.scored, "outliers": outcome.outliers,
            "quarantined": outcome.quarantined, "quarantine_reasons": outcome.quarantine_reasons,
            "retry": outcome.retry, "retry_reason": outcome.retry_reason,
            "retried_in_place": outcome.retried_in_place,
            "endpoint_calls": outcome.endpoint_calls,
            "mean_abs_residual": rolling,
        },
    )
