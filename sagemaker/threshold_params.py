"""Threshold documents in the DynamoDB parameters table (what the Lambda reads).

Item shape (Powertools ``DynamoDBProvider(table, key_attr="id", value_attr="value")``):
``{"id": "thresholds/mv-3", "value": "<JSON document>", "model_version": "3",
"model_package_arn": "...", "updated_at": "..."}``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from taximl.thresholds import doc_from_json, doc_to_json, param_id, variant_name

logger = logging.getLogger(__name__)


def ensure_table(dynamodb: Any, table: str, timeout_s: float = 60.0) -> None:
    """Create the parameters table (key ``id``, on-demand) when it does not exist yet."""
    try:
        dynamodb.describe_table(TableName=table)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    deadline = time.monotonic() + timeout_s
    while dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"DynamoDB table {table} not ACTIVE after {timeout_s:.0f} s")
        time.sleep(1.0)
    logger.info("created parameters table %s", table)


def put_doc(
    dynamodb: Any, table: str, version: int | str, doc: dict[str, Any], package_arn: str = ""
) -> str:
    """Store ``doc`` as ``thresholds/mv-<version>``; returns the item id."""
    item_id = param_id(version)
    dynamodb.put_item(
        TableName=table,
        Item={
            "id": {"S": item_id},
            "value": {"S": doc_to_json(doc)},
            "model_version": {"S": variant_name(version)},
            "model_package_arn": {"S": package_arn or "-"},
            "updated_at": {"S": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
    )
    logger.info("stored %s in %s (mode %s)", item_id, table, doc.get("mode"))
    return item_id


def get_doc(dynamodb: Any, table: str, version: int | str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": param_id(version)}}).get("Item")
    return doc_from_json(item["value"]["S"]) if item else None
