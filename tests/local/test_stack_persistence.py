"""State of the local stack survives stop + start, and ``reset`` wipes it (boto3 + env only)."""

from __future__ import annotations

import json
import os
import time
import uuid

import boto3
import pytest

from local.settings import StackConfig
from local.stack import Stack

pytestmark = pytest.mark.stack

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"


def _opensearch():
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[os.environ["OPENSEARCH_ENDPOINT"]], timeout=30)


def _seed(tag: str) -> dict[str, str]:
    """Create one of everything; returns names/ids to look up after the restart."""
    bucket = f"persist-{tag}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(3 * 1024 * 1024) + b"end"
    s3.put_object(Bucket=bucket, Key="data/blob.bin", Body=body)

    ddb = boto3.client("dynamodb")
    table = f"params-{tag}"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    ddb.put_item(TableName=table, Item={"id": {"S": "thresholds/mv-1"},
                                        "value": {"S": json.dumps({"fixed": 10.0})}})

    glue = boto3.client("glue")
    database = f"db_{tag}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(DatabaseName=database, TableInput={
        "Name": "trips", "PartitionKeys": [{"Name": "month", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "fare_amount", "Type": "double"}],
                              "Location": f"s3://{bucket}/trips/"}})
    glue.create_partition(DatabaseName=database, TableName="trips", PartitionInput={
        "Values": ["2024-01"],
        "StorageDescriptor": {"Columns": [{"Name": "fare_amount", "Type": "double"}],
                              "Location": f"s3://{bucket}/trips/month=2024-01/"}})

    sm = boto3.client("sagemaker")
    model_url = f"s3://{bucket}/data/blob.bin"
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    sm.create_model(ModelName=f"m-{tag}", ExecutionRoleArn=ROLE_ARN,
                    PrimaryContainer={"Image": image, "ModelDataUrl": model_url})
    sm.create_endpoint_config(EndpointConfigName=f"ec-{tag}", ProductionVariants=[{
        "VariantName": "mv-1", "ModelName": f"m-{tag}", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=f"ep-{tag}", EndpointConfigName=f"ec-{tag}")
    sm.create_model_package_group(ModelPackageGroupName=f"g-{tag}")
    package_arn = sm.create_model_package(
        ModelPackageGroupName=f"g-{tag}", ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={"Containers": [{"Image": image, "ModelDataUrl": model_url}],
                                "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")

    boto3.client("ssm").put_parameter(Name=f"/taxi/{tag}", Value="v1", Type="String")
    boto3.client("iam").create_role(RoleName=f"role-{tag}", AssumeRolePolicyDocument="{}")
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"q-{tag}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="kept")

    kinesis = boto3.client("kinesis")
    stream = f"trips-{tag}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream,
                                             WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    result = kinesis.put_records(StreamName=stream, Records=[
        {"Data": json.dumps({"n": i}).encode(), "PartitionKey": str(i)} for i in range(50)])
    assert result["FailedRecordCount"] == 0

    client = _opensearch()
    index = f"fares-{tag}"
    client.indices.create(index=index, body={"mappings": {"properties": {
        "ts": {"type": "date"}, "zone": {"type": "keyword"}, "loc": {"type": "geo_point"}}}})
    docs = "".join(
        json.dumps({"index": {"_index": index, "_id": f"d{i}"}}) + "\n"
        + json.dumps({"ts": "2024-01-01T00:00:00Z", "zone": f"z{i % 3}",
                      "loc": {"lat": 40.7, "lon": -74.0}, "fare": i}) + "\n"
        for i in range(25))
    client.bulk(body=docs, refresh=True)
    return {"bucket": bucket, "body": body.hex(), "table": table, "database": database,
            "package_arn": package_arn, "queue_url": queue_url, "stream": stream,
            "index": index}


def _kinesis_records(stream: str) -> list[dict]:
    kinesis = boto3.client("kinesis")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out: list[dict] = []
    for _ in range(20):
        page = kinesis.get_records(ShardIterator=it, Limit=1000)
        out += [json.loads(r["Data"]) for r in page["Records"]]
        it = page.get("NextShardIterator")
        if not page["Records"] or not it:
            break
    return out


def test_state_survives_restart(local_stack):
    tag = uuid.uuid4().hex[:8]
    seeded = _seed(tag)
    sm = boto3.client("sagemaker")
    endpoint_before = sm.describe_endpoint(EndpointName=f"ep-{tag}")

    local_stack.restart()

    s3 = boto3.client("s3")
    got = s3.get_object(Bucket=seeded["bucket"], Key="data/blob.bin")["Body"].read()
    assert got.hex() == seeded["body"]

    item = boto3.client("dynamodb").get_item(TableName=seeded["table"],
                                             Key={"id": {"S": "thresholds/mv-1"}})["Item"]
    assert json.loads(item["value"]["S"]) == {"fixed": 10.0}

    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=seeded["database"], Name="trips")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["month"]
    partitions = glue.get_partitions(DatabaseName=seeded["database"],
                                     TableName="trips")["Partitions"]
    assert [p["Values"] for p in partitions] == [["2024-01"]]

    assert sm.describe_model(ModelName=f"m-{tag}")["PrimaryContainer"]["ModelDataUrl"]
    config = sm.describe_endpoint_config(EndpointConfigName=f"ec-{tag}")
    assert config["ProductionVariants"][0]["VariantName"] == "mv-1"
    endpoint = sm.describe_endpoint(EndpointName=f"ep-{tag}")
    assert endpoint["EndpointConfigName"] == f"ec-{tag}"
    assert endpoint["EndpointArn"] == endpoint_before["EndpointArn"]
    package = sm.describe_model_package(ModelPackageName=seeded["package_arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    packages = sm.list_model_packages(ModelPackageGroupName=f"g-{tag}")["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in packages] == [seeded["package_arn"]]

    assert boto3.client("ssm").get_parameter(Name=f"/taxi/{tag}")["Parameter"]["Value"] == "v1"
    assert boto3.client("iam").get_role(RoleName=f"role-{tag}")["Role"]["RoleName"]
    messages = boto3.client("sqs").receive_message(QueueUrl=seeded["queue_url"],
                                                   WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in messages] == ["kept"]

    assert _kinesis_records(seeded["stream"]) == [{"n": i} for i in range(50)]

    client = _opensearch()
    assert client.count(index=seeded["index"])["count"] == 25
    mapping = client.indices.get_mapping(index=seeded["index"])[seeded["index"]]["mappings"]
    assert mapping["properties"]["loc"]["type"] == "geo_point"
    assert mapping["properties"]["zone"]["type"] == "keyword"
    hits = client.search(index=seeded["index"], body={"query": {"term": {"zone": "z1"}}})
    assert hits["hits"]["total"]["value"] == 8


def test_snapshot_written_while_running(local_stack):
    """moto snapshots after writes (not only at stop): a crash loses seconds, not everything."""
    bucket = f"snap-{uuid.uuid4().hex[:8]}"
    snapshot = local_stack.state_dir / "data" / "moto" / "moto.pickle"
    before = snapshot.stat().st_mtime if snapshot.exists() else 0.0
    boto3.client("s3").create_bucket(Bucket=bucket)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if snapshot.exists() and snapshot.stat().st_mtime > before:
            break
        time.sleep(0.2)
    assert snapshot.exists() and snapshot.stat().st_mtime > before


@pytest.fixture()
def private_stack(tmp_path, local_stack):
    """A second, short-lived stack (own ports and state) for destructive tests."""
    base = local_stack.config.port_base + 20
    stack = Stack(StackConfig.from_env(base, tmp_path / "state"))
    try:
        yield stack
    finally:
        stack.stop()


def test_reset_wipes_state(private_stack):
    env = private_stack.env()
    private_stack.start()
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="to-be-wiped")
    kinesis = boto3.client("kinesis", endpoint_url=env["AWS_ENDPOINT_URL_KINESIS"])
    kinesis.create_stream(StreamName="wiped", ShardCount=1)
    private_stack.stop()
    assert (private_stack.config.state_dir / "data" / "moto" / "moto.pickle").exists()

    private_stack.reset()
    assert not (private_stack.config.state_dir / "data").exists()
    assert not private_stack.running()

    private_stack.start()
    assert s3.list_buckets()["Buckets"] == []
    assert kinesis.list_streams()["StreamNames"] == []
