"""Factories for the streaming unit tests: TLC rows, Kinesis events, fake AWS clients."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any


def tlc_row(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid yellow-taxi row (official TLC column names) that differs by ``i``."""
    pickup = datetime(2024, 1, 15, 8, 0, 0) + timedelta(minutes=7 * i)
    distance = 1.0 + (i % 7) * 0.9
    fare = round(3.0 + 0.7 * (distance * 5 + 2), 2)
    row = {
        "VendorID": 1 + i % 2,
        "tpep_pickup_datetime": pickup.strftime("%Y-%m-%d %H:%M:%S"),
        "tpep_dropoff_datetime": (pickup + timedelta(minutes=6 + i % 9)).strftime(
            "%Y-%m-%d %H:%M:%S"),
        "passenger_count": 1 + i % 3,
        "trip_distance": distance,
        "RatecodeID": 1,
        "store_and_fwd_flag": "N",
        "PULocationID": 100 + i % 50,
        "DOLocationID": 150 + i % 60,
        "payment_type": 1,
        "fare_amount": fare,
        "extra": 1.0,
        "mta_tax": 0.5,
        "tip_amount": 2.0,
        "tolls_amount": 0.0,
        "improvement_surcharge": 1.0,
        "total_amount": fare + 4.5,
        "congestion_surcharge": 2.5,
        "Airport_fee": 0.0,
    }
    row.update(overrides)
    return row


def write_csv(path: Any, rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def kinesis_record(payload: bytes | dict[str, Any] | str, seq: int,
                   arrival: float = 1_700_000_000.0) -> dict[str, Any]:
    """One record of a Kinesis event as the event source mapping delivers it."""
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    data = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
    sequence = f"{49600000000000000000000000000000000000000000000000 + seq}"
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0", "partitionKey": f"pk-{seq}",
            "sequenceNumber": sequence,
            "data": data, "approximateArrivalTimestamp": arrival + seq / 1000,
        },
        "eventSource": "aws:kinesis", "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/trips",
    }


class FakeBody(io.BytesIO):
    pass


class FakeSageMakerRuntime:
    """Answers InvokeEndpoint with ``predict(features_row) -> fare``; can fail on demand."""

    def __init__(self, predict: Callable[[list[str]], float] | None = None,
                 variant: str = "mv-1") -> None:
        self.calls: list[int] = []
        self.variant = variant
        self.fail_calls: set[int] = set()
        self.reject_line: Callable[[str], bool] = lambda line: False  # the model's 400s
        self.predict = predict or (lambda fields: float(fields[-1]))  # meter_fare feature

    def invoke_endpoint(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        assert kwargs["ContentType"] == "text/csv"
        lines = kwargs["Body"].decode().split("\n")
        self.calls.append(len(lines))
        if len(self.calls) in self.fail_calls:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}},
                              "InvokeEndpoint")
        if any(self.reject_line(line) for line in lines):
            raise ClientError({"Error": {"Code": "ModelError", "Message": "bad row"},
                               "OriginalStatusCode": 400}, "InvokeEndpoint")
        scores = [self.predict(line.split(",")) for line in lines]
        return {"Body": FakeBody(",".join(repr(s) for s in scores).encode()),
                "InvokedProductionVariant": self.variant, "ContentType": "text/csv"}


class FakeFirehose:
    """Keeps PutRecordBatch records per stream; ``reject`` decides per record (first tries)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[bytes]] = {}
        self.calls: list[tuple[str, int]] = []
        self.reject: Callable[[str, bytes, int], bool] = lambda stream, data, call: False

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> Any:
        self.calls.append((DeliveryStreamName, len(Records)))
        assert len(Records) <= 500
        responses, failed = [], 0
        for record in Records:
            if self.reject(DeliveryStreamName, record["Data"], len(self.calls)):
                responses.append({"ErrorCode": "ServiceUnavailableException",
                                  "ErrorMessage": "busy"})
                failed += 1
            else:
                self.streams.setdefault(DeliveryStreamName, []).append(record["Data"])
                responses.append({"RecordId": "x"})
        return {"FailedPutCount": failed, "RequestResponses": responses}

    def lines(self, stream: str) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.streams.get(stream, [])]
