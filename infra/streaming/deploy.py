"""Steps 3-5 in one idempotent command (what the demo and the end-to-end tests run).

Usage::

    python infra/streaming/deploy.py [--buffer-seconds 60] [--shards 2] [--rebuild-lambda]

Does exactly what the CLI commands of ``docs/streaming.md`` do, with the same rendered JSON
files (``infra/streaming/render.py``): Kinesis stream, gold bucket, Firehose role, the
OpenSearch index template, the gold (OpenSearch + S3 copy of every document) and quarantine
delivery streams, the Lambda role, the function (``lambda.zip``), its event source mapping, and
the iterator-age alarm (``iterator-age-alarm.json``) with its SNS topic. Resources that exist
are kept; the function's code and configuration and the mapping's failure-handling settings
are brought up to date, so it can be re-run after a change of those files.

Failure handling (``event-source-mapping.json``, ``lambda-function.json``; the numbers are
explained in ``docs/streaming.md``): ``ReportBatchItemFailures``, bisect on function errors,
``MaximumRetryAttempts`` 10, the S3 on-failure destination (which receives the records), a
120 s function timeout of which up to 60 s (``TRANSIENT_RETRY_S``) absorb a transient outage
inside one invocation, and an alarm when the function lags its stream by over 2 minutes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (REPO, HERE, REPO / "lambda", REPO / "viz", REPO / "infra" / "datalake"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import render  # noqa: E402
from taximl.config import Settings  # noqa: E402

logger = logging.getLogger(__name__)

FIREHOSE_POLICY = "firehose-delivery"
LAMBDA_POLICY = "fare-scorer"
#: Mapping settings UpdateEventSourceMapping can change (the rest is fixed at creation).
UPDATABLE_MAPPING_KEYS = (
    "BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
    "FunctionResponseTypes", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "DestinationConfig",
)


def _exists(call: Callable[[], Any], *codes: str) -> bool:
    try:
        call()
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in codes or "NotFound" in exc.response["Error"]["Code"]:
            return False
        raise


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")
        time.sleep(0.5)


def _role(iam: Any, name: str, trust: str, policy_name: str, policy: str) -> None:
    if not _exists(lambda: iam.get_role(RoleName=name), "NoSuchEntity"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=policy)


def deploy_streaming(
    settings: Settings | None = None,
    *,
    buffer_seconds: int = 60,
    shards: int = 2,
    zip_path: Path = REPO / "lambda.zip",
    rebuild_lambda: bool = True,
    mapping_overrides: dict[str, Any] | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, str]:
    """Create (or keep) every resource of steps 3-5; returns their names."""
    settings = settings or Settings.from_env()
    env = {**settings.as_env(), "FIREHOSE_BUFFER_SECONDS": str(buffer_seconds)}
    values = render.variables({**os.environ, **env})
    if not values.get("OPENSEARCH_ENDPOINT"):
        raise KeyError("set OPENSEARCH_ENDPOINT (the search domain's https endpoint on AWS)")
    out = REPO / "build" / "infra"
    render.render_all(out, values)

    def doc(folder: str, name: str) -> str:
        return (out / folder / name).read_text()

    region = settings.region
    kinesis = boto3.client("kinesis", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    iam = boto3.client("iam", region_name=region)
    firehose = boto3.client("firehose", region_name=region)
    lam = boto3.client("lambda", region_name=region)

    # --- step 3: stream, bucket, Firehose --------------------------------------------------
    if not _exists(lambda: kinesis.describe_stream_summary(StreamName=settings.stream_name)):
        kinesis.create_stream(StreamName=settings.stream_name, ShardCount=shards)
        say(f"created Kinesis stream {settings.stream_name} ({shards} shards)")
    _wait(lambda: kinesis.describe_stream_summary(StreamName=settings.stream_name)
          ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", "Kinesis stream")
    from setup_datalake import ensure_bucket  # versioned, encrypted, private: as in step 1

    if ensure_bucket(s3, settings.gold_bucket, region):
        say(f"created bucket s3://{settings.gold_bucket}")
    _role(iam, values["FIREHOSE_ROLE_NAME"], doc("iam", "firehose-trust.json"), FIREHOSE_POLICY,
          doc("iam", "firehose-policy.json"))
    import setup_index

    setup_index.apply_template(settings)
    for name in ("firehose-gold.json", "firehose-quarantine.json"):
        request = json.loads(doc("streaming", name))
        stream = request["DeliveryStreamName"]
        if not _exists(lambda s=stream: firehose.describe_delivery_stream(DeliveryStreamName=s)):
            firehose.create_delivery_stream(**request)
            say(f"created Firehose delivery stream {stream}")

    # --- step 4: Lambda ----------------------------------------------------------------------
    if rebuild_lambda or not zip_path.exists():
        import build_zip

        build_zip.build(zip_path)
    _role(iam, values["LAMBDA_ROLE_NAME"], doc("iam", "lambda-trust.json"), LAMBDA_POLICY,
          doc("iam", "lambda-policy.json"))
    function = json.loads(doc("streaming", "lambda-function.json"))
    name = function["FunctionName"]
    code = zip_path.read_bytes()
    if _exists(lambda: lam.get_function(FunctionName=name)):
        lam.update_function_code(FunctionName=name, ZipFile=code)
        _wait(lambda: lam.get_function_configuration(FunctionName=name)
              .get("LastUpdateStatus") in (None, "Successful"), "Lambda code update")
        lam.update_function_configuration(
            FunctionName=name, Environment=function["Environment"],
            Timeout=function["Timeout"], MemorySize=function["MemorySize"])
        say(f"updated Lambda function {name}")
    else:
        lam.create_function(**function, Code={"ZipFile": code})
        say(f"created Lambda function {name}")
    _wait(lambda: lam.get_function_configuration(FunctionName=name)["State"] == "Active",
          "Lambda function")

    # --- step 5: event source mapping --------------------------------------------------------
    mapping = {**json.loads(doc("streaming", "event-source-mapping.json")),
               **(mapping_overrides or {})}
    existing = lam.list_event_source_mappings(
        FunctionName=name, EventSourceArn=mapping["EventSourceArn"])["EventSourceMappings"]
    if existing:
        uuid = existing[0]["UUID"]
        changes = mapping_changes(existing[0], mapping)
        if changes:
            _wait(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
                  "event source mapping")
            lam.update_event_source_mapping(UUID=uuid, **changes)
            say(f"updated event source mapping {uuid}: {', '.join(sorted(changes))}")
    else:
        uuid = lam.create_event_source_mapping(**mapping)["UUID"]
        say(f"created event source mapping {uuid} (ReportBatchItemFailures, bisect, "
            f"{mapping['MaximumRetryAttempts']} retries, on-failure destination)")
    _wait(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled",
          "event source mapping")

    # --- alarm: the function falls behind its stream ---------------------------------------
    alarm = json.loads(doc("streaming", "iterator-age-alarm.json"))
    topic = _ensure_topic(boto3.client("sns", region_name=region), alarm["AlarmActions"][0])
    boto3.client("cloudwatch", region_name=region).put_metric_alarm(**alarm)
    say(f"alarm {alarm['AlarmName']} (IteratorAge > {alarm['Threshold'] / 1000:.0f} s) -> {topic}")
    return {"stream": settings.stream_name, "function": name, "mapping": uuid,
            "gold_stream": settings.gold_delivery_stream,
            "quarantine_stream": settings.quarantine_delivery_stream,
            "gold_bucket": settings.gold_bucket, "alarm": alarm["AlarmName"],
            "alarm_topic": topic}


def mapping_changes(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The updatable mapping settings whose wanted value differs from the current one."""
    changes = {}
    for key in UPDATABLE_MAPPING_KEYS:
        if key not in wanted:
            continue
        have, want = current.get(key), wanted[key]
        if key == "DestinationConfig":
            have = ((have or {}).get("OnFailure") or {}).get("Destination")
            want = ((want or {}).get("OnFailure") or {}).get("Destination")
        if have != want:
            changes[key] = wanted[key]
    return changes


def _ensure_topic(sns: Any, topic_arn: str) -> str:
    """Create the alarm's SNS topic (idempotent); subscribe an e-mail to it to be paged."""
    return str(sns.create_topic(Name=topic_arn.rsplit(":", 1)[-1])["TopicArn"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create the streaming path (steps 3-5).")
    parser.add_argument("--buffer-seconds", type=int, default=60,
                        help="Firehose buffering interval (default 60)")
    parser.add_argument("--shards", type=int, default=2, help="Kinesis shards (default 2)")
    parser.add_argument("--no-rebuild-lambda", action="store_true",
                        help="use the existing lambda.zip")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        names = deploy_streaming(buffer_seconds=args.buffer_seconds, shards=args.shards,
                                 rebuild_lambda=not args.no_rebuild_lambda)
    except (KeyError, TimeoutError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("Streaming path ready: " + ", ".join(f"{k}={v}" for k, v in names.items()))
    print("Next: python producer/producer.py data/sample_nyc_taxi.csv --rate 200")
    return 0


if __name__ == "__main__":
    sys.exit(main())
