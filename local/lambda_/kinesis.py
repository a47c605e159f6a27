"""A thin Kinesis JSON-protocol client for the pollers.

GetRecords answers already carry base64 data and epoch-second arrival times, which is what the
Lambda event needs: skipping botocore's parsing (base64 decode, datetime objects) keeps the
poller far from being the bottleneck. Requests are SigV4-signed with the environment's
credentials; the endpoint is ``AWS_ENDPOINT_URL_KINESIS`` (or ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import http.client
import json
import os
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

TARGET_PREFIX = "Kinesis_20131202."
RETRYABLE = {"ProvisionedThroughputExceededException", "LimitExceededException",
             "InternalFailure", "ServiceUnavailable", "KMSThrottlingException"}


class KinesisError(Exception):
    """When Kinesis answers with an error (``code`` is the AWS error type)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE or self.status >= 500


def endpoint_url(region: str) -> str:
    return (os.environ.get("AWS_ENDPOINT_URL_KINESIS") or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://kinesis.{region}.amazonaws.com")


class KinesisClient:
    """One HTTP connection (not thread-safe: one client per thread)."""

    def __init__(self, region: str | None = None, endpoint: str | None = None,
                 timeout: float = 30.0) -> None:
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get(
            "AWS_DEFAULT_REGION") or "us-east-1"
        self.url = endpoint or endpoint_url(self.region)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if self._https else 80)
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        creds = botocore.session.get_session().get_credentials()
        self._signer = SigV4Auth(creds, "kinesis", self.region) if creds else None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        return self._conn

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """Call ``operation``; raises KinesisError (API error) or OSError (transport)."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1",
                   "X-Amz-Target": TARGET_PREFIX + operation}
        if self._signer is not None:
            request = AWSRequest("POST", self.url + "/", data=data, headers=headers)
            self._signer.add_auth(request)
            headers = dict(request.headers.items())
        for attempt in (1, 2):  # one reconnect when a kept-alive connection was closed
            conn = self._connection()
            try:
                conn.request("POST", "/", body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        parsed = json.loads(raw) if raw else {}
        if resp.status >= 300:
            code = str(parsed.get("__type", "UnknownError")).rsplit("#", 1)[-1]
            raise KinesisError(code, str(parsed.get("message", parsed.get("Message", ""))),
                               resp.status)
        return parsed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # convenience wrappers
    def list_shards(self, stream_name: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        body: dict[str, Any] = {"StreamName": stream_name}
        for _ in range(1000):
            page = self.call("ListShards", body)
            shards.extend(page.get("Shards", []))
            token = page.get("NextToken")
            if not token:
                break
            body = {"NextToken": token}
        return shards

    def shard_iterator(self, stream_name: str, shard_id: str, kind: str,
                       sequence_number: str | None = None,
                       timestamp: float | None = None) -> str:
        body: dict[str, Any] = {"StreamName": stream_name, "ShardId": shard_id,
                                "ShardIteratorType": kind}
        if sequence_number is not None:
            body["StartingSequenceNumber"] = sequence_number
        if timestamp is not None:
            body["Timestamp"] = timestamp
        return self.call("GetShardIterator", body)["ShardIterator"]

    def get_records(self, iterator: str, limit: int) -> dict[str, Any]:
        return self.call("GetRecords", {"ShardIterator": iterator, "Limit": limit})

    def describe_summary(self, stream_name: str) -> dict[str, Any]:
        return self.call("DescribeStreamSummary",
                         {"StreamName": stream_name})["StreamDescriptionSummary"]
