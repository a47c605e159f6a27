"""The scoring Lambda configured only with the course template's three variables.

Template (step 4): ``--environment "Variables={SAGEMAKER_ENDPOINT=taxi-fare-xgb-endpoint,
FIREHOSE_STREAM=taxi-predictions-firehose,THRESHOLD=10}"`` and nothing else: no project
variable, no DynamoDB parameters table. The handler runs in-process against moto (Firehose ->
S3) with a botocore Stubber for the endpoint; the same configuration through the local Lambda
service is in ``test_course_template_commands.py``.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from streaming_factories import kinesis_record, tlc_row
from taximl import constants

TEMPLATE_ENV = {"SAGEMAKER_ENDPOINT": "course-endpoint", "FIREHOSE_STREAM": "course-firehose",
                "THRESHOLD": "7.5"}


class Context:
    function_name = "taxi-kinesis-infer"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:taxi-kinesis-infer"
    aws_request_id = "req-template"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def template_lambda(monkeypatch):
    """``lambda_function`` imported fresh with only the template's variables (and AWS's own)."""
    project_vars = {value for name, value in vars(constants).items() if name.startswith("ENV_")}
    for name in os.environ.keys() & (project_vars | set(constants.TEMPLATE_ALIASES.values())):
        monkeypatch.delenv(name)
    for name in [k for k in os.environ if k.startswith(("AWS_ENDPOINT_URL", "THRESHOLD"))]:
        monkeypatch.delenv(name)  # THRESHOLD_MODE too: the template does not set it
    aws_runtime = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_REGION": "us-east-1"}  # what the Lambda runtime itself sets
    for key, value in {**aws_runtime, **TEMPLATE_ENV}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="course-processed")
        boto3.client("firehose", region_name="us-east-1").create_delivery_stream(
            DeliveryStreamName="course-firehose", DeliveryStreamType="DirectPut",
            S3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/firehose",
                                        "BucketARN": "arn:aws:s3:::course-processed",
                                        "Prefix": "predictions/"})
        sys.modules.pop("lambda_function", None)
        module = importlib.import_module("lambda_function")
        yield module, s3
        sys.modules.pop("lambda_function", None)


def _endpoint_answers(module, scores: list[float]) -> Stubber:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    body = ",".join(str(s) for s in scores).encode()
    stubber.add_response(
        "invoke_endpoint",
        {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "text/csv",
         "InvokedProductionVariant": "mv-1"},
        # the endpoint named by SAGEMAKER_ENDPOINT is the one called
        {"EndpointName": "course-endpoint", "ContentType": "text/csv", "Accept": "text/csv",
         "Body": StubBodyAny()},
    )
    stubber.activate()
    module.scorer.endpoint.client = client
    return stubber


class StubBodyAny:
    """Matches any request body (the CSV features are tested elsewhere)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (bytes, str))


def _predictions(s3) -> list[dict]:
    rows = []
    for item in s3.list_objects_v2(Bucket="course-processed",
                                   Prefix="predictions/").get("Contents", []):
        body = s3.get_object(Bucket="course-processed", Key=item["Key"])["Body"].read()
        rows += [json.loads(line) for line in body.decode().splitlines() if line]
    return rows


def test_template_variables_name_the_endpoint_the_firehose_and_the_threshold(template_lambda):
    module, s3 = template_lambda
    # GIVEN the settings the handler resolved from the template's variables alone
    settings = module.settings
    assert (settings.endpoint_name, settings.gold_stream, settings.fixed_threshold) == (
        "course-endpoint", "course-firehose", 7.5)
    # WHEN a batch of four trips is scored, one predicted $8 off and one $7 off
    trips = [tlc_row(i) for i in range(4)]
    fares = [float(t["fare_amount"]) for t in trips]
    offsets = (0.0, 8.0, -7.0, 0.3)
    stubber = _endpoint_answers(module, [f + d for f, d in zip(fares, offsets, strict=True)])
    result = module.lambda_handler(
        {"Records": [kinesis_record(t, seq=i) for i, t in enumerate(trips)]}, Context())
    # THEN nothing is retried, every trip lands in the template's Firehose (its S3 prefix),
    # judged by THRESHOLD: no parameters table exists, so the fixed rule applies
    stubber.assert_no_pending_responses()
    assert result == {"batchItemFailures": []}
    rows = sorted(_predictions(s3), key=lambda r: r["pickup_datetime"])
    assert len(rows) == 4
    assert [r["threshold"] for r in rows] == [7.5] * 4
    assert [r["is_outlier"] for r in rows] == [False, True, False, False]
    assert [round(r["residual"], 2) for r in rows] == [0.0, -8.0, 7.0, -0.3]
