"""The Lambda handler with Powertools: partial batch response, DynamoDB thresholds, EMF metrics.

AWS is moto in-process (DynamoDB, Firehose -> S3) and a botocore Stubber for the endpoint.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
from dataclasses import replace

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from streaming_factories import kinesis_record, tlc_row
from taximl.thresholds import doc_to_json


class Context:
    function_name = "fare-scorer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fare-scorer"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def handler_env(monkeypatch):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_FIREHOSE", "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "THRESHOLD_MODE", "FIREHOSE_STREAM",
                "SAGEMAKER_ENDPOINT", "THRESHOLD", "ENDPOINT_NAME", "FIXED_THRESHOLD"):
        monkeypatch.delenv(var, raising=False)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "PROJECT_PREFIX": "unit",
           "GOLD_DELIVERY_STREAM": "unit-scored", "QUARANTINE_DELIVERY_STREAM": "unit-quarantine",
           "POWERTOOLS_METRICS_NAMESPACE": "TaxiFaresTest"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="unit-params", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        doc = {"format": 1, "mode": "calibrated", "fixed_threshold": 10.0,
               "scored_rate_codes": [1], "global": {"abs": 1.0, "rel": 0.05}, "segments": {}}
        ddb.put_item(TableName="unit-params", Item={"id": {"S": "thresholds/mv-3"},
                                                    "value": {"S": doc_to_json(doc)}})
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="unit-gold")
        firehose = boto3.client("firehose", region_name="us-east-1")
        for name, prefix in (("unit-scored", "scored/"), ("unit-quarantine", "quarantine/")):
            firehose.create_delivery_stream(
                DeliveryStreamName=name,
                ExtendedS3DestinationConfiguration={
                    "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                    "BucketARN": "arn:aws:s3:::unit-gold", "Prefix": prefix})
        sys.modules.pop("lambda_function", None)
        module = importlib.import_module("lambda_function")
        yield module, s3
        sys.modules.pop("lambda_function", None)


def _s3_lines(s3, prefix: str) -> list[dict]:
    out = []
    for obj in s3.list_objects_v2(Bucket="unit-gold", Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket="unit-gold", Key=obj["Key"])["Body"].read().decode()
        out += [json.loads(line) for line in body.splitlines() if line]
    return out


def _stub_endpoint(module, responses: list[str | Exception]) -> Stubber:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    for response in responses:
        if isinstance(response, Exception):
            stubber.add_client_error("invoke_endpoint", service_error_code="ModelError",
                                     http_status_code=424)
        else:
            body = StreamingBody(io.BytesIO(response.encode()), len(response))
            stubber.add_response("invoke_endpoint", {
                "Body": body, "ContentType": "text/csv", "InvokedProductionVariant": "mv-3"})
    stubber.activate()
    module.scorer.endpoint.client = client
    return stubber


def test_handler_scores_quarantines_and_reports_no_failures(handler_env, capsys, caplog) -> None:
    module, s3 = handler_env
    records = [kinesis_record(tlc_row(i), seq=i) for i in range(4)]
    records.append(kinesis_record(b"{broken", seq=9))
    # predictions: 3 close to the fare, one $8 off (an outlier under the calibrated document)
    fares = [json.loads(json.dumps(tlc_row(i)))["fare_amount"] for i in range(4)]
    scores = ",".join(str(f + d) for f, d in zip(fares, (0, 0.2, -0.1, 8), strict=True))
    stubber = _stub_endpoint(module, [scores])
    result = module.lambda_handler({"Records": records}, Context())
    stubber.assert_no_pending_responses()
    assert result == {"batchItemFailures": []}
    gold = _s3_lines(s3, "scored/")
    assert len(gold) == 4 and sum(g["is_outlier"] for g in gold) == 1
    assert {g["threshold_rule"] for g in gold} == {"global"}
    quarantine = _s3_lines(s3, "quarantine/")
    assert [q["reason"] for q in quarantine] == ["undecodable:json"]
    # EMF metrics and a structured log line were written to stdout
    out = capsys.readouterr().out
    blobs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    metric_names = {m["Name"] for b in blobs if "_aws" in b
                    for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Records", "Outliers", "Quarantined", "EndpointLatency",
            "MeanAbsResidual"} <= metric_names
    assert any(r.getMessage() == "batch scored" and getattr(r, "outliers", None) == 1
               for r in caplog.records)


def test_handler_reports_batch_item_failures_when_the_endpoint_fails(handler_env,
                                                                     monkeypatch) -> None:
    # GIVEN no patience for transient failures (TRANSIENT_RETRY_S=0)
    module, s3 = handler_env
    monkeypatch.setattr(module, "settings", replace(module.settings, transient_retry_s=0.0))
    records = [kinesis_record(tlc_row(i), seq=i) for i in range(3)]
    stubber = _stub_endpoint(module, [RuntimeError()])
    result = module.lambda_handler({"Records": records}, Context())
    # THEN one call, and every record goes back to the event source mapping
    stubber.assert_no_pending_responses()
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert failed == [r["kinesis"]["sequenceNumber"] for r in records]
    assert _s3_lines(s3, "scored/") == []


def test_a_short_endpoint_failure_is_retried_inside_the_invocation(handler_env) -> None:
    # GIVEN an endpoint that fails once, then answers, and the default patience
    module, s3 = handler_env
    records = [kinesis_record(tlc_row(i), seq=i) for i in range(3)]
    fares = [tlc_row(i)["fare_amount"] for i in range(3)]
    stubber = _stub_endpoint(module, [RuntimeError(), ",".join(map(str, fares))])
    result = module.lambda_handler({"Records": records}, Context())
    # THEN the batch succeeds without a retry of the event source mapping (no failures back)
    stubber.assert_no_pending_responses()
    assert result == {"batchItemFailures": []}
    gold = _s3_lines(s3, "scored/")
    assert len(gold) == 3 and len({g["trip_id"] for g in gold}) == 3


def test_patience_never_runs_into_the_function_timeout(handler_env) -> None:
    # GIVEN an invocation with less time left than one more pass needs
    module, _ = handler_env

    class Hurried(Context):
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return int(module.PASS_RESERVE_S * 1000) - 1

    records = [kinesis_record(tlc_row(i), seq=i) for i in range(2)]
    stubber = _stub_endpoint(module, [RuntimeError()])
    result = module.lambda_handler({"Records": records}, Hurried())
    # THEN the records are handed back at once, not retried past the deadline
    stubber.assert_no_pending_responses()
    assert len(result["batchItemFailures"]) == 2
