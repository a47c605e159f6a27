"""OnFailure destinations of a Kinesis mapping: SQS/SNS get metadata, S3 gets it plus the records.

The metadata document is the one AWS sends (``requestContext``, ``responseContext``,
``version``, ``timestamp``, ``KinesisBatchInfo``). Clients come from the environment
(``AWS_ENDPOINT_URL`` points at moto locally).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

log = logging.getLogger(__name__)


def iso_ms(epoch_s: float) -> str:
    """``2019-11-14T00:38:04.835Z`` from epoch seconds."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def failure_record(*, function_arn: str, condition: str, invoke_count: int,
                   function_error: str | None, status_code: int, shard_id: str,
                   stream_arn: str, first: tuple[str, float], last: tuple[str, float],
                   batch_size: int) -> dict[str, Any]:
    """The invocation record AWS sends to an OnFailure destination for a Kinesis batch."""
    response: dict[str, Any] = {"statusCode": status_code, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = function_error
    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": function_arn,
                           "condition": condition, "approximateInvokeCount": invoke_count},
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_ms(datetime.now(UTC).timestamp()),
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first[0],
            "endSequenceNumber": last[0],
            "approximateArrivalOfFirstRecord": iso_ms(first[1]),
            "approximateArrivalOfLastRecord": iso_ms(last[1]),
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }


class Destinations:
    """Sends failure records; one boto3 client per service, created on first use."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._clients: dict[str, Any] = {}
        self._queue_urls: dict[str, str] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.session.Session().client(
                service, region_name=self.region)
        return self._clients[service]

    def send(self, destination_arn: str, record: dict[str, Any], event_json: str,
             mapping_uuid: str) -> None:
        """Deliver ``record`` (and for S3 the batch's event) to ``destination_arn``."""
        parts = destination_arn.split(":")
        service = parts[2] if len(parts) > 2 else ""
        if service == "sqs":
            url = self._queue_urls.get(destination_arn)
            if url is None:
                url = self._client("sqs").get_queue_url(
                    QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
                self._queue_urls[destination_arn] = url
            self._client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))
        elif service == "sns":
            self._client("sns").publish(TopicArn=destination_arn, Message=json.dumps(record))
        elif service == "s3":
            bucket = parts[5].split("/", 1)[0]
            now = datetime.now(UTC)
            shard = record["KinesisBatchInfo"]["shardId"]
            key = (f"aws/lambda/{mapping_uuid}/{shard}/{now:%Y/%m/%d}/"
                   f"{now:%Y-%m-%dT%H.%M.%S}-{uuid.uuid4()}")
            body = dict(record, payload=event_json)
            self._client("s3").put_object(Bucket=bucket, Key=key,
                                          Body=json.dumps(body).encode(),
                                          ContentType="application/json")
        else:
            raise ValueError(f"unsupported OnFailure destination {destination_arn}")
