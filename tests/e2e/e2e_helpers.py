"""End-to-end helpers: generate trips, read the gold prefix and the index, wait with a bound."""

from __future__ import annotations

import collections
import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

import polling

REPO = Path(__file__).resolve().parents[2]
E2E_POLL_S = 1.0
for extra in (REPO / "infra" / "streaming", REPO / "tests" / "e2e", REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def generate(out: Path, rows: int, seed: int, anomalies: float = 0.0,
             malformed: float = 0.0) -> Path:
    """Trips from the project's generator (``data/generate.py``)."""
    subprocess.run([sys.executable, str(REPO / "data" / "generate.py"), "--rows", str(rows),
                    "--seed", str(seed), "--anomalies", str(anomalies), "--malformed",
                    str(malformed), "--out", str(out)], check=True, capture_output=True)
    return out


def read_jsonl_objects(bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every JSON line of every object under ``prefix`` (GZIP or plain)."""
    s3 = boto3.client("s3")
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            out += [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    return out


def search_trip_ids(endpoint: str, index: str) -> collections.Counter[str]:
    """trip_id -> number of searchable documents."""
    from search_client import search_client

    client = search_client(endpoint, "us-east-1")
    client.indices.refresh(index=f"{index}-*")
    ids: collections.Counter[str] = collections.Counter()
    page = client.search(index=f"{index}-*", body={"query": {"match_all": {}}, "size": 1000,
                                                   "_source": ["trip_id"]}, scroll="1m")
    for _ in range(1000):
        hits = page["hits"]["hits"]
        if not hits:
            break
        ids.update(h["_source"]["trip_id"] for h in hits)
        page = client.scroll(scroll_id=page["_scroll_id"], scroll="1m")
    return ids


def wait_for(check: Callable[[], Any], timeout_s: float, what: str,
             interval_s: float = E2E_POLL_S) -> Any:
    """``polling.wait_for`` at the end-to-end pace (each check reads the whole gold prefix)."""
    return polling.wait_for(check, timeout_s, what, interval_s)


