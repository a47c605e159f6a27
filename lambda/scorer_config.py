"""Settings of the scoring Lambda (environment variable > default), read once per cold start.

Environment variables
---------------------
ENDPOINT_NAME, GOLD_DELIVERY_STREAM, QUARANTINE_DELIVERY_STREAM, PARAMS_TABLE, FIXED_THRESHOLD
    resource names and the course's fixed threshold, via :class:`taximl.config.Settings`
    (each derives from ``PROJECT_PREFIX`` when unset).
THRESHOLD_MODE
    ``auto`` (default): the threshold document of the model version that made the prediction
    (DynamoDB item ``thresholds/<variant>``), the fixed threshold when there is none;
    ``fixed``: always the course's rule ``|actual - predicted| > FIXED_THRESHOLD``.
THRESHOLDS_MAX_AGE_S
    how long a threshold document is cached (default 60 s).
INFERENCE_MAX_ROWS, INFERENCE_MAX_BYTES
    size of one InvokeEndpoint request (defaults 5,000 rows and 5 MB, under the 6 MB limit).
FIREHOSE_MAX_ATTEMPTS
    PutRecordBatch attempts for records that keep failing (default 4).
TRANSIENT_RETRY_S
    how long one invocation keeps retrying records that hit a transient failure (endpoint
    throttled or down, Firehose or DynamoDB failing) before it hands them back to the event
    source mapping as ``batchItemFailures`` (default 60; never past the function's timeout
    minus the time one more pass may take). 0 hands them back at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from taximl.config import Settings

ENV_THRESHOLD_MODE = "THRESHOLD_MODE"
ENV_THRESHOLDS_MAX_AGE = "THRESHOLDS_MAX_AGE_S"
ENV_INFERENCE_MAX_ROWS = "INFERENCE_MAX_ROWS"
ENV_INFERENCE_MAX_BYTES = "INFERENCE_MAX_BYTES"
ENV_FIREHOSE_MAX_ATTEMPTS = "FIREHOSE_MAX_ATTEMPTS"
ENV_TRANSIENT_RETRY_S = "TRANSIENT_RETRY_S"

THRESHOLD_MODES = ("auto", "fixed")
#: SageMaker real-time request limit is 6 MB; keep a margin.
MAX_INFERENCE_BYTES = 5_000_000


@dataclass(frozen=True)
class ScorerSettings:
    """Everything the handler needs to know about its environment."""

    endpoint_name: str
    gold_stream: str
    quarantine_stream: str
    params_table: str
    region: str
    fixed_threshold: float
    threshold_mode: str = "auto"
    thresholds_max_age_s: int = 60
    inference_max_rows: int = 5_000
    inference_max_bytes: int = MAX_INFERENCE_BYTES
    firehose_max_attempts: int = 4
    transient_retry_s: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScorerSettings:
        env = os.environ if env is None else env
        base = Settings.from_env(env)
        mode = (env.get(ENV_THRESHOLD_MODE) or "auto").strip().lower()
        if mode not in THRESHOLD_MODES:
            raise ValueError(f"{ENV_THRESHOLD_MODE}={mode!r}: expected one of {THRESHOLD_MODES}")
        max_bytes = int(env.get(ENV_INFERENCE_MAX_BYTES) or MAX_INFERENCE_BYTES)
        return cls(
            endpoint_name=base.endpoint_name,
            gold_stream=base.gold_delivery_stream,
            quarantine_stream=base.quarantine_delivery_stream,
            params_table=base.params_table,
            region=base.region,
            fixed_threshold=base.fixed_threshold,
            threshold_mode=mode,
            thresholds_max_age_s=int(env.get(ENV_THRESHOLDS_MAX_AGE) or 60),
            inference_max_rows=int(env.get(ENV_INFERENCE_MAX_ROWS) or 5_000),
            inference_max_bytes=min(max_bytes, MAX_INFERENCE_BYTES),
            firehose_max_attempts=int(env.get(ENV_FIREHOSE_MAX_ATTEMPTS) or 4),
            transient_retry_s=max(0.0, float(env.get(ENV_TRANSIENT_RETRY_S) or 60.0)),
        )
