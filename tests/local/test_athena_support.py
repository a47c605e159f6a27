"""Helpers for the Athena contract tests (no tests here): run a query, read results, make data."""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

import boto3
import pandas as pd

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def make_bucket(name: str | None = None) -> str:
    bucket = name or unique("athena-test-")
    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


def put(bucket: str, key: str, body: bytes | str) -> None:
    data = body.encode() if isinstance(body, str) else body
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)


def put_parquet(bucket: str, key: str, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    put(bucket, key, buffer.getvalue())


def keys(bucket: str, prefix: str = "") -> list[str]:
    found: list[str] = []
    for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix):
        found += [o["Key"] for o in page.get("Contents", [])]
    return found


def start(sql: str, output: str, database: str = "default", **extra: Any) -> str:
    request: dict[str, Any] = {"QueryString": sql,
                               "QueryExecutionContext": {"Database": database},
                               "ResultConfiguration": {"OutputLocation": output}, **extra}
    return boto3.client("athena").start_query_execution(**request)["QueryExecutionId"]


def wait(qid: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll GetQueryExecution until a terminal state (bounded)."""
    athena = boto3.client("athena")
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if execution["Status"]["State"] in TERMINAL:
            return execution
        if time.monotonic() > deadline:
            raise TimeoutError(f"query {qid} still {execution['Status']['State']}")
        time.sleep(0.05)


def run(sql: str, output: str, database: str = "default", expect: str = "SUCCEEDED"
        ) -> dict[str, Any]:
    """Start, wait, check the final state; returns the QueryExecution."""
    execution = wait(start(sql, output, database))
    state = execution["Status"]["State"]
    assert state == expect, f"{sql!r}: {state} {execution['Status'].get('StateChangeReason')}"
    return execution


def all_rows(qid: str, page_size: int = 1000) -> tuple[list[list[str | None]], list[dict]]:
    """Every row of GetQueryResults (paging through NextToken), values or None for NULL."""
    athena = boto3.client("athena")
    rows: list[list[str | None]] = []
    token = None
    columns: list[dict] = []
    for _ in range(10_000):
        kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": page_size}
        if token:
            kwargs["NextToken"] = token
        reply = athena.get_query_results(**kwargs)
        columns = reply["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        rows += [[d.get("VarCharValue") for d in r["Data"]] for r in reply["ResultSet"]["Rows"]]
        token = reply.get("NextToken")
        if not token:
            break
    return rows, columns


def query(sql: str, output: str, database: str = "default") -> list[list[str | None]]:
    """Data rows of a SELECT (the header row checked and dropped)."""
    execution = run(sql, output, database)
    rows, columns = all_rows(execution["QueryExecutionId"])
    assert rows[0] == [c["Name"] for c in columns]
    return rows[1:]


def failure(sql: str, output: str, database: str = "default") -> str:
    """StateChangeReason of a query that must fail."""
    return run(sql, output, database, expect="FAILED")["Status"]["StateChangeReason"]
