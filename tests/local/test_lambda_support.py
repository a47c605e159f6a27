"""Helpers for the Lambda stand-in contract tests (no tests here).

A tiny recording function (stdlib only) is zipped from source in the test: each invocation
appends one JSON line (sequence numbers, partition keys, decoded data, request id) to the file
named by its ``RECORD_FILE`` env var; the record data and ``MODE`` steer what it returns.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

from polling import wait_for

ROLE = "arn:aws:iam::123456789012:role/lambda-test"
FAST = {"retry_backoff_ms": 50, "retry_backoff_max_ms": 200, "poll_interval_ms": 50,
        "min_record_age_s": 1, "shard_discovery_s": 1, "metrics_interval_s": 1}

RECORDER = '''
import base64, fcntl, json, os, time

COUNT = 0  # module state: reset by a fresh import


def _bump():
    path = os.environ["RECORD_FILE"] + ".n"
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        n = int(fh.read() or 0) + 1
        fh.seek(0)
        fh.truncate()
        fh.write(str(n))
    return n


def handler(event, context):
    global COUNT
    COUNT += 1
    recs = event.get("Records", [])
    datas = [base64.b64decode(r["kinesis"]["data"]).decode() for r in recs]
    n = _bump()
    line = {"n": n, "count": COUNT, "seqs": [r["kinesis"]["sequenceNumber"] for r in recs],
            "keys": [r["kinesis"]["partitionKey"] for r in recs], "datas": datas,
            "rid": context.aws_request_id, "t0": time.time(),
            "size": len(json.dumps(event))}
    if os.environ.get("KEEP_EVENT"):
        line["event"] = event
    mode = os.environ.get("MODE", "")
    if "slow" in datas or mode == "slow":
        time.sleep(float(os.environ.get("SLOW_S", "0.2")))
    line["t1"] = time.time()
    with open(os.environ["RECORD_FILE"], "a") as fh:
        fh.write(json.dumps(line) + "\\n")
    if n <= int(os.environ.get("FAIL_FIRST", "0")):
        raise RuntimeError("transient failure")
    if any(d.startswith("boom") for d in datas):
        raise ValueError("boom record")
    if "hang" in datas:
        time.sleep(60)
    failed = [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
              for r, d in zip(recs, datas) if d.startswith("bad")]
    if mode == "partial":
        return {"batchItemFailures": failed}
    if mode == "partial_first":
        return {"batchItemFailures": failed if n == 1 else []}
    if mode == "malformed_first":
        return {"batchItemFailures": [{"itemIdentifier": ""}] if n == 1 else []}
    if mode == "unknown_first":
        return {"batchItemFailures": [{"itemIdentifier": "1234"}] if n == 1 else []}
    if mode == "badkey_first":
        return {"batchItemFailures": [{"id": recs[0]["kinesis"]["sequenceNumber"]}]
                if n == 1 else None}
    if mode == "null":
        return {"batchItemFailures": None}
    if mode == "empty":
        return {"batchItemFailures": []}
    return {"n": len(recs)}
'''


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def set_tunables(endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(endpoint + "/_settings", data=json.dumps(values).encode(),
                                     method="PUT")
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.load(resp)


def service_status(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(endpoint + "/_status", timeout=5) as resp:
        return json.load(resp)


def read_calls(path: Path) -> list[dict[str, Any]]:
    """Invocations recorded so far; a line the function is still writing is not one yet."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


class Recorder:
    """A deployed recording function and the file its invocations are written to."""

    def __init__(self, lam: Any, tmp: Path, env: dict[str, str] | None = None,
                 timeout: int = 10) -> None:
        self.name = unique("rec")
        self.file = tmp / f"{self.name}.jsonl"
        variables = {"RECORD_FILE": str(self.file), **(env or {})}
        lam.create_function(FunctionName=self.name, Runtime="python3.11", Role=ROLE,
                            Handler="recorder.handler", Timeout=timeout,
                            Code={"ZipFile": make_zip({"recorder.py": RECORDER})},
                            Environment={"Variables": variables})
        lam.get_waiter("function_active_v2").wait(FunctionName=self.name,
                                                  WaiterConfig={"Delay": 1, "MaxAttempts": 10})

    def calls(self) -> list[dict[str, Any]]:
        return read_calls(self.file)

    def datas(self) -> list[str]:
        return [d for c in self.calls() for d in c["datas"]]


def new_stream(kinesis: Any, shards: int = 1) -> tuple[str, str]:
    name = unique("st")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"]
    return name, arn


def put(kinesis: Any, stream: str, datas: list[str], key: str = "k") -> list[str]:
    """Put records in order (one PutRecords, same key = same shard); their sequence numbers."""
    resp = kinesis.put_records(StreamName=stream, Records=[
        {"Data": d.encode(), "PartitionKey": key} for d in datas])
    assert resp["FailedRecordCount"] == 0
    return [r["SequenceNumber"] for r in resp["Records"]]


def wait_enabled(lam: Any, mapping_uuid: str, state: str = "Enabled") -> dict[str, Any]:
    return wait_for(lambda: (m := lam.get_event_source_mapping(UUID=mapping_uuid))["State"]
                    == state and m, timeout=15, what=f"mapping {state}")
