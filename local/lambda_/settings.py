"""Tunables of the Lambda stand-in (environment variable > default); runtime-changeable for tests.

Environment variables
---------------------
LOCAL_LAMBDA_RETRY_BACKOFF_MS
    First wait between retries of a failed batch (doubles each retry), default 500.
LOCAL_LAMBDA_RETRY_BACKOFF_MAX_MS
    Longest wait between retries, default 5000.
LOCAL_LAMBDA_POLL_INTERVAL_MS
    Wait after an empty GetRecords before polling the shard again, default 250 (AWS: ~1 s).
LOCAL_LAMBDA_MIN_RECORD_AGE_S
    Smallest MaximumRecordAgeInSeconds accepted (AWS: 60), default 60.
LOCAL_LAMBDA_SHARD_DISCOVERY_S
    How often a mapping lists the stream's shards, default 10.
LOCAL_LAMBDA_METRICS_INTERVAL_S
    How often metrics (IteratorAge, Invocations, Errors, Duration) go to CloudWatch, default 60.
LOCAL_LAMBDA_MAX_WORKERS
    Concurrent execution environments per function, default 20.
LOCAL_LAMBDA_CHECK_ROLE
    "1": CreateFunction checks that the role exists in IAM (moto), default "0".
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, fields, replace

ENV_PREFIX = "LOCAL_LAMBDA_"


@dataclass(frozen=True)
class Tunables:
    """Current tunables; read with :func:`current`, changed with :func:`update`."""

    retry_backoff_ms: int = 500
    retry_backoff_max_ms: int = 5000
    poll_interval_ms: int = 250
    min_record_age_s: int = 60
    shard_discovery_s: float = 10.0
    metrics_interval_s: float = 60.0
    max_workers: int = 20
    check_role: bool = False

    @classmethod
    def from_env(cls) -> Tunables:
        values = {}
        for f in fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.type, raw)
        return cls(**values)


def _parse(type_name: object, raw: str) -> object:
    name = getattr(type_name, "__name__", str(type_name))
    if name == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if name == "int":
        return int(raw)
    return float(raw)


_lock = threading.Lock()
_current = Tunables.from_env()


def current() -> Tunables:
    """The tunables in force now."""
    return _current


def update(changes: dict[str, object]) -> Tunables:
    """Change some tunables (used by tests through ``PUT /_settings``); unknown keys: KeyError."""
    global _current
    known = {f.name: f.type for f in fields(Tunables)}
    parsed = {}
    for key, value in changes.items():
        if key not in known:
            raise KeyError(key)
        parsed[key] = _parse(known[key], str(value))
    with _lock:
        _current = replace(_current, **parsed)
        return _current
