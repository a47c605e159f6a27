"""Publishes mapping metrics to CloudWatch (namespace AWS/Lambda, dimension FunctionName).

IteratorAge (ms, age of the last record of the latest batch delivered in the period),
Invocations, Errors and Duration, once per ``LOCAL_LAMBDA_METRICS_INTERVAL_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3

from . import settings

log = logging.getLogger(__name__)


class MetricsPublisher:
    """Turns cumulative per-shard stats into per-period CloudWatch data points."""

    def __init__(self, snapshot: Callable[[], list[dict[str, Any]]], region: str) -> None:
        self.snapshot = snapshot
        self.region = region
        self._last: dict[tuple[str, str], dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lambda-metrics", daemon=True)
        self._client: Any = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.25):
            if time.monotonic() - last < settings.current().metrics_interval_s:
                continue
            last = time.monotonic()
            try:
                self.publish()
            except Exception as exc:  # moto down: the stand-in keeps working
                log.warning("publishing metrics failed: %s", exc)

    def collect(self) -> dict[str, list[dict[str, Any]]]:
        """Metric data per function for the period since the last call."""
        per_fn: dict[str, dict[str, float]] = {}
        for mapping in self.snapshot():
            fn = mapping["function"]
            agg = per_fn.setdefault(fn, {"Invocations": 0, "Errors": 0, "Duration": 0.0,
                                         "IteratorAge": -1})
            for shard_id, shard in mapping["shards"].items():
                key = (mapping["uuid"], shard_id)
                last = self._last.get(key, {"invocations": 0, "errors": 0,
                                            "duration_ms_total": 0.0})
                delta_inv = shard["invocations"] - last["invocations"]
                agg["Invocations"] += delta_inv
                agg["Errors"] += shard["errors"] - last["errors"]
                agg["Duration"] += shard["duration_ms_total"] - last["duration_ms_total"]
                if delta_inv:
                    agg["IteratorAge"] = max(agg["IteratorAge"], shard["batch_iterator_age_ms"])
                self._last[key] = {k: shard[k] for k in ("invocations", "errors",
                                                         "duration_ms_total")}
        now = datetime.now(UTC)
        out: dict[str, list[dict[str, Any]]] = {}
        for fn, agg in per_fn.items():
            dims = [{"Name": "FunctionName", "Value": fn}]
            data = [{"MetricName": "Invocations", "Dimensions": dims, "Timestamp": now,
                     "Value": agg["Invocations"], "Unit": "Count"},
                    {"MetricName": "Errors", "Dimensions": dims, "Timestamp": now,
                     "Value": agg["Errors"], "Unit": "Count"}]
            if agg["Invocations"]:
                data.append({"MetricName": "Duration", "Dimensions": dims, "Timestamp": now,
                             "Value": agg["Duration"] / agg["Invocations"],
                             "Unit": "Milliseconds"})
            if agg["IteratorAge"] >= 0:
                data.append({"MetricName": "IteratorAge", "Dimensions": dims, "Timestamp": now,
                             "Value": agg["IteratorAge"], "Unit": "Milliseconds"})
            out[fn] = data
        return out

    def publish(self) -> None:
        """Put the period's data points to CloudWatch (``AWS_ENDPOINT_URL`` -> moto)."""
        data = self.collect()
        if not data:
            return
        if self._client is None:
            self._client = boto3.session.Session().client("cloudwatch", region_name=self.region)
        for metric_data in data.values():
            self._client.put_metric_data(Namespace="AWS/Lambda", MetricData=metric_data)
